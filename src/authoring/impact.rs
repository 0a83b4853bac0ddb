//! The impact of a rules change: every input whose outcome differs between a
//! base and a head rule set.
//!
//! Both rule sets are evaluated on the same inputs: every class of the
//! decision matrix (built for the facts either of them reads, see
//! [`crate::authoring::analysis`]), every scenario case, and optionally a file of
//! recorded events. Recorded events are also sorted into matrix classes, so a
//! change of a class says how many real events it touches. The base can be a
//! directory or a git revision ([`load_revision`] reads `rules/` through
//! `git show`, without touching the working tree).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::authoring::analysis::{self, Analysis, Classes, InboundClass, OutboundClass, Row};
use crate::diag::{Diagnostic, Diagnostics, Pos, Source};
use crate::jsonl::{EventLine, EventLines, LineError, LineProblem};
use crate::progress::{self, Progress};
use crate::rules::{RuleSet, FILES};
use crate::scenario::{self, Actual, ScenarioFile};
use crate::world::World;

/// One input whose outcome changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `class` (a matrix row), `case` (a scenario case) or `event` (a recorded event).
    pub kind: &'static str,
    /// The policy whose outcome changed: `inbound` or `outbound`.
    pub policy: &'static str,
    /// The class in words, `file:line › case`, or the event id.
    pub input: String,
    /// A concrete witness of the class with its ids (empty for cases and events).
    pub example: String,
    /// The outcome under the base rules, in words.
    pub old_outcome: String,
    /// The outcome under the head rules, in words.
    pub new_outcome: String,
    /// The rule that decided under the base rules (with the text rule, if any).
    pub old_rule: String,
    /// The rule that decided under the head rules (with the text rule, if any).
    pub new_rule: String,
    /// Who receives a message of the class live under the base rules, by
    /// kind of recipient and grant, when that changed (classes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_live: Option<String>,
    /// Who receives it live under the head rules, when that changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_live: Option<String>,
    /// Recorded events of this class whose own decision changed: the
    /// logged decisions the change touches (classes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<usize>,
    /// Recorded events of this class, changed or not (classes only). An
    /// event of a changed class can keep its decision: a class counts what
    /// any event of it may meet (who is logged in, say), one event only its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_of_class: Option<usize>,
}

/// What was compared and what changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Impact {
    /// Every input whose outcome differs: classes, then scenario cases, then
    /// recorded events that no changed class accounts for.
    pub changes: Vec<Change>,
    /// How many matrix classes were compared.
    pub classes: usize,
    /// How many scenario cases were compared.
    pub cases: usize,
    /// How many recorded events were compared.
    pub events: usize,
    /// Recorded events whose own outcome changed.
    pub events_changed: usize,
}

impl Impact {
    /// Whether the change leaves every compared outcome as it was.
    pub fn is_unchanged(&self) -> bool {
        self.changes.is_empty()
    }
}

/// A recorded event, resolved against the world, with its line.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The event's line in its file, from 1.
    pub line: usize,
    /// The event as read from that line.
    pub event: EventLine,
}

/// Reads a JSON Lines file of recorded events for `diff --events`, streamed
/// through [`EventLines`] (the framing and parser of `route batch`: blank
/// lines and `#` comments skipped, one line limit), and checks each against
/// the world, reporting every bad line with its line and column.
pub fn read_recorded_events(path: &Path, world: &World) -> Result<Vec<Recorded>, Diagnostics> {
    read_recorded_events_with(path, world, &Progress::new())
}

/// [`read_recorded_events`], adding the bytes and lines read to `progress`
/// every [`progress::EVERY`] lines.
pub fn read_recorded_events_with(
    path: &Path,
    world: &World,
    progress: &Progress,
) -> Result<Vec<Recorded>, Diagnostics> {
    let (file, _) = Source::open(path)?;
    read_recorded_events_from(path, std::io::BufReader::with_capacity(1 << 16, file), world, progress)
}

/// Reads recorded events from a stream (standard input, say) as
/// [`read_recorded_events`] reads a file; `path` names it in messages. The
/// bytes and lines read are added to `progress` every [`progress::EVERY`] lines.
pub fn read_recorded_events_from(
    path: &Path,
    reader: impl std::io::BufRead,
    world: &World,
    progress: &Progress,
) -> Result<Vec<Recorded>, Diagnostics> {
    let mut out = Vec::new();
    let mut diags = Diagnostics::default();
    let mut lines = EventLines::new(reader);
    let (mut counted, mut reported) = (0u64, 0u64);
    while let Some(read) = lines.next() {
        counted += 1;
        if counted % progress::EVERY == 0 {
            let bytes = lines.bytes_read();
            progress.add(bytes - reported, progress::EVERY);
            reported = bytes;
        }
        let (line, event) = match read {
            Ok(read) => read,
            Err(LineError::Line {
                line,
                problem: LineProblem::Json { message, column },
            }) => {
                diags.push(Diagnostic::new(
                    path,
                    Pos::new(line, column.max(1)),
                    format!("not an event: {message}"),
                ));
                continue;
            }
            Err(LineError::Line { line, problem }) => {
                diags.push(Diagnostic::new(path, Pos::new(line, 1), problem.to_string()));
                continue;
            }
            Err(LineError::Io(e)) => {
                diags.push(Diagnostic::new(
                    path,
                    Pos::default(),
                    format!("cannot read the file: {e}"),
                ));
                break;
            }
        };
        let here = match event.world(world) {
            Ok(here) => here,
            Err(e) => {
                let p = e.first();
                let mut d = Diagnostic::new(path, Pos::new(line, 1), p.message.clone()).subject(format!(
                    "event `{}`, field `{}`",
                    event.id(),
                    p.path
                ));
                if let Some(v) = &p.valid {
                    d = d.help(v.clone());
                }
                diags.push(d);
                continue;
            }
        };
        let resolved = match &event {
            EventLine::Inbound { request, .. } => request.resolve(&here).map(|_| ()),
            EventLine::Outbound { request, .. } => request.resolve(&here).map(|_| ()),
        };
        drop(here);
        match resolved {
            Ok(()) => out.push(Recorded { line, event }),
            Err(e) => diags.push(Diagnostic::new(path, Pos::new(line, 1), e.message).subject(format!(
                "event `{}`, field `{}`",
                event.id(),
                e.field
            ))),
        }
    }
    progress.add(lines.bytes_read() - reported, counted % progress::EVERY);
    diags.into_result(out)
}

/// The rules in `dir` as they were at a git revision, read with `git show`
/// run inside `dir` (so `dir` may be relative or absolute, in any repository).
pub fn load_revision(rev: &str, dir: &Path) -> Result<RuleSet, Diagnostics> {
    let mut sources = Vec::new();
    let mut diags = Diagnostics::default();
    for f in FILES {
        let shown = PathBuf::from(format!("{rev}:{}", dir.join(f).display()));
        let spec = format!("{rev}:./{f}");
        match git_show(dir, &spec) {
            Ok(Shown::File(bytes)) => match String::from_utf8(bytes) {
                Ok(text) => sources.push(Source::new(shown, text)),
                Err(_) => diags.push(Diagnostic::new(
                    shown,
                    Pos::default(),
                    "the file is not valid UTF-8 text",
                )),
            },
            Ok(Shown::TooLarge) => diags.push(Diagnostic::new(
                shown,
                Pos::default(),
                format!(
                    "the file is larger than {} MiB, the most commroute reads",
                    crate::diag::MAX_FILE_SIZE >> 20
                ),
            )),
            Ok(Shown::Refused(stderr)) => diags.push(Diagnostic::new(
                &shown,
                Pos::default(),
                format!(
                    "git cannot show `{}`: {}",
                    shown.display(),
                    stderr.trim().to_lowercase()
                ),
            )),
            Err(e) => diags.push(Diagnostic::new(shown, Pos::default(), format!("cannot run git: {e}"))),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let [i, d, o]: [Source; 3] = sources.try_into().expect("three files were read");
    RuleSet::parse(i, d, o)
}

/// What `git show` gave for one file.
enum Shown {
    File(Vec<u8>),
    TooLarge,
    /// git said no (an unknown revision or path), with what it said.
    Refused(String),
}

/// `git show SPEC` in `dir`, reading at most [`crate::diag::MAX_FILE_SIZE`]
/// bytes of the file and 64 KiB of git's complaint, like every other input.
fn git_show(dir: &Path, spec: &str) -> std::io::Result<Shown> {
    use std::io::Read;
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["show", spec])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let complaint = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut text);
        // Keep reading what is left, so that git never waits to write it.
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        String::from_utf8_lossy(&text).into_owned()
    });
    let mut bytes = Vec::new();
    let limit = crate::diag::MAX_FILE_SIZE;
    let read = child
        .stdout
        .take()
        .expect("stdout is piped")
        .take(limit + 1)
        .read_to_end(&mut bytes);
    if read.is_ok() && bytes.len() as u64 > limit {
        let _ = child.kill();
        let _ = child.wait();
        return Ok(Shown::TooLarge);
    }
    let status = child.wait()?;
    read?;
    let complaint = complaint.join().unwrap_or_default();
    Ok(if status.success() {
        Shown::File(bytes)
    } else {
        Shown::Refused(complaint)
    })
}

/// `--base`: a directory of rules, or else a git revision.
pub fn load_base(base: &str, head_dir: &Path) -> Result<RuleSet, Diagnostics> {
    let p = Path::new(base);
    if p.is_dir() {
        RuleSet::load_dir(p)
    } else {
        load_revision(base, head_dir)
    }
}

fn live_text(row: &Row) -> String {
    let who: Vec<String> = row
        .live
        .iter()
        .filter_map(|c| c.grant.as_ref().map(|g| format!("{} ({g})", c.recipient)))
        .collect();
    if who.is_empty() {
        "nobody live".into()
    } else {
        who.join("; ")
    }
}

fn rule_of(row: &Row) -> String {
    match &row.text_rule {
        Some(t) => format!("{} + {t}", row.rule),
        None => row.rule.clone(),
    }
}

/// Compares two rule sets on the matrix, the scenario files and recorded events.
pub fn compare(
    base: &RuleSet,
    head: &RuleSet,
    scenarios: &[ScenarioFile],
    recorded: Option<(&World, &[Recorded])>,
) -> Impact {
    compare_with(base, head, scenarios, recorded, &Progress::new())
}

/// [`compare`], adding the recorded events compared to `progress` every
/// [`progress::EVERY`] events.
pub fn compare_with(
    base: &RuleSet,
    head: &RuleSet,
    scenarios: &[ScenarioFile],
    recorded: Option<(&World, &[Recorded])>,
    progress: &Progress,
) -> Impact {
    let classes = Classes::for_rules(&[base, head]);
    let old = analysis::analyze(base, &classes);
    compare_prepared(base, &Prepared { classes, old }, head, scenarios, recorded, progress)
}

/// The base's side of the matrix, made once and reused for every head it
/// is compared with (the playground compares each edit with the rules
/// serving): building the classes' witnesses and analysing the base are
/// two thirds of a comparison.
pub struct Prepared {
    /// The classes, for the facts the base and the heads read.
    pub classes: Classes,
    /// The base's decision matrix over them.
    pub old: Analysis,
}

impl Prepared {
    /// The classes for `base` and `head` and the base's analysis.
    pub fn new(base: &RuleSet, head: &RuleSet) -> Prepared {
        let classes = Classes::for_rules(&[base, head]);
        let old = analysis::analyze(base, &classes);
        Prepared { classes, old }
    }

    /// Whether these classes tell apart everything `base` and `head` read,
    /// so that [`compare_prepared`] may use them for `head`.
    pub fn fits(&self, base: &RuleSet, head: &RuleSet) -> bool {
        self.classes.dims == analysis::Dims::of(&[base, head])
    }
}

/// [`compare_with`] with the base's side made beforehand ([`Prepared::new`]
/// for this `base`, and [`Prepared::fits`] `head`); the same result.
pub fn compare_prepared(
    base: &RuleSet,
    prepared: &Prepared,
    head: &RuleSet,
    scenarios: &[ScenarioFile],
    recorded: Option<(&World, &[Recorded])>,
    progress: &Progress,
) -> Impact {
    let classes = &prepared.classes;
    let old = &prepared.old;
    let new = analysis::analyze(head, classes);
    let mut impact = Impact {
        classes: old.rows.len(),
        ..Default::default()
    };

    let (per_class, event_changes) = match recorded {
        Some((world, events)) => {
            impact.events = events.len();
            recorded_changes(base, head, classes, world, events, &mut impact, progress)
        }
        None => Default::default(),
    };
    let changed_classes = class_changes(old, &new, &per_class, recorded.is_some(), &mut impact);
    case_changes(base, head, scenarios, &mut impact);

    // Events whose change no matrix class explains (rules with Rhai or literal ids).
    for (class, c) in event_changes {
        if !changed_classes.contains(&class) {
            impact.changes.push(c);
        }
    }
    impact
}

/// How many recorded events fall in a class, and how many of them changed.
#[derive(Debug, Clone, Copy, Default)]
struct ClassEvents {
    all: usize,
    changed: usize,
}

/// Decides every recorded event with both rule sets: how many events fall in
/// each class (`policy/class`) and how many of those changed, and the events
/// whose own outcome changed.
fn recorded_changes(
    base: &RuleSet,
    head: &RuleSet,
    classes: &Classes,
    world: &World,
    events: &[Recorded],
    impact: &mut Impact,
    progress: &Progress,
) -> (BTreeMap<String, ClassEvents>, Vec<(String, Change)>) {
    let mut per_class: BTreeMap<String, ClassEvents> = BTreeMap::new();
    let mut event_changes = Vec::new();
    for (i, r) in events.iter().enumerate() {
        if i as u64 % progress::EVERY == progress::EVERY - 1 {
            progress.add(0, progress::EVERY);
        }
        // An event with facts is decided in the world they make for it.
        let here = r.event.world(world).expect("events were checked when read");
        let world: &World = &here;
        let (key, old_o, new_o, policy) = match &r.event {
            EventLine::Inbound { request, .. } => {
                let ev = request.resolve(world).expect("events were resolved when read");
                let key = analysis::key(&InboundClass::of(world, &ev, &classes.dims));
                let show = |rules: &RuleSet| match rules.route_inbound(world, &ev) {
                    Ok(d) => {
                        let r = d.report(rules, world);
                        (
                            format!(
                                "lands at [{}]; live: [{}]",
                                r.lands_at.join(", "),
                                r.delivered_to.join(", ")
                            ),
                            r.rule,
                        )
                    }
                    Err(e) => (format!("error: {e}"), e.rule),
                };
                (key, show(base), show(head), "inbound")
            }
            EventLine::Outbound { request, .. } => {
                let ev = request.resolve(world).expect("events were resolved when read");
                let key = analysis::key(&OutboundClass::of(world, &ev));
                let show = |rules: &RuleSet| match rules.route_outbound(world, &ev) {
                    Ok(d) => {
                        let r = d.report(rules);
                        (
                            format!("{}, text `{}`", r.channel, r.text),
                            format!("{} + {}", r.rule, r.text_rule),
                        )
                    }
                    Err(e) => (format!("error: {e}"), e.rule),
                };
                (key, show(base), show(head), "outbound")
            }
        };
        let counts = per_class.entry(format!("{policy}/{key}")).or_default();
        counts.all += 1;
        if old_o != new_o {
            counts.changed += 1;
            impact.events_changed += 1;
            event_changes.push((
                format!("{policy}/{key}"),
                Change {
                    kind: "event",
                    policy,
                    input: format!("event `{}` (line {})", r.event.id(), r.line),
                    example: String::new(),
                    old_outcome: old_o.0,
                    new_outcome: new_o.0,
                    old_rule: old_o.1,
                    new_rule: new_o.1,
                    old_live: None,
                    new_live: None,
                    events: None,
                    events_of_class: None,
                },
            ));
        }
    }
    (per_class, event_changes)
}

/// The classes of the decision matrix whose outcome or rule changed; returns
/// their keys (`policy/class`).
fn class_changes(
    old: &Analysis,
    new: &Analysis,
    per_class: &BTreeMap<String, ClassEvents>,
    with_events: bool,
    impact: &mut Impact,
) -> std::collections::BTreeSet<String> {
    let mut changed_classes = std::collections::BTreeSet::new();
    for (o, n) in old.rows.iter().zip(&new.rows) {
        debug_assert_eq!(o.class, n.class);
        let same_live = o.live == n.live;
        if o.outcome == n.outcome && o.rule == n.rule && o.text_rule == n.text_rule && same_live {
            continue;
        }
        let class_key = format!("{}/{}", o.policy, o.class);
        changed_classes.insert(class_key.clone());
        impact.changes.push(Change {
            kind: "class",
            policy: o.policy,
            input: o.description.clone(),
            example: o.example.clone(),
            old_outcome: o.outcome.clone(),
            new_outcome: n.outcome.clone(),
            old_rule: rule_of(o),
            new_rule: rule_of(n),
            old_live: (!same_live).then(|| live_text(o)),
            new_live: (!same_live).then(|| live_text(n)),
            events: with_events.then(|| per_class.get(&class_key).map_or(0, |n| n.changed)),
            events_of_class: with_events.then(|| per_class.get(&class_key).map_or(0, |n| n.all)),
        });
    }
    changed_classes
}

/// The scenario cases whose outcome or rule changed.
fn case_changes(base: &RuleSet, head: &RuleSet, scenarios: &[ScenarioFile], impact: &mut Impact) {
    for file in scenarios {
        for case in &file.cases {
            impact.cases += 1;
            let a = scenario::run_case(case, base);
            let b = scenario::run_case(case, head);
            let (old_o, old_r) = case_outcome(&a.actual);
            let (new_o, new_r) = case_outcome(&b.actual);
            if old_o != new_o || old_r != new_r {
                impact.changes.push(Change {
                    kind: "case",
                    policy: if matches!(a.actual, Actual::Outbound(_)) {
                        "outbound"
                    } else {
                        "inbound"
                    },
                    input: format!("{}:{} › {}", file.path.display(), case.pos.line, case.name),
                    example: String::new(),
                    old_outcome: old_o,
                    new_outcome: new_o,
                    old_rule: old_r,
                    new_rule: new_r,
                    old_live: None,
                    new_live: None,
                    events: None,
                    events_of_class: None,
                });
            }
        }
    }
}

fn case_outcome(a: &Actual) -> (String, String) {
    match a {
        Actual::Inbound(r) => (
            format!(
                "lands at [{}]; live: [{}]",
                r.lands_at.join(", "),
                r.delivered_to.join(", ")
            ),
            r.rule.clone(),
        ),
        Actual::Outbound(r) => (
            format!("{}, text `{}`", r.channel, r.text),
            format!("{} + {}", r.rule, r.text_rule),
        ),
        Actual::Error { error } => (format!("error: {error}"), "-".into()),
        // A timeline scenario's check: the fields it read.
        Actual::Check(seen) => (
            seen.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join("; "),
            "-".into(),
        ),
    }
}
