//! Scenario files: documented behaviour as executable fixtures, and the one
//! runner shared by `commroute test` and `cargo test`.
//!
//! A scenario file holds a world (inline, or a path relative to the file) and
//! either cases or a timeline. A case may change who is logged in where and
//! what a staff member may read, then gives one event (inbound or outbound)
//! and what must come out. A timeline scenario gives `events:` replayed in
//! order through the simulator and `checks:` on what they left behind (see
//! [`timeline_checks`]). Everything is checked against the world when the file
//! loads, so running a case only evaluates rules.

pub mod fixture;
pub mod junit;

pub mod timeline_checks;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::Node;
use serde::Serialize;

use crate::diag::{one_of, Diagnostic, Diagnostics, Pos, Source};
use crate::engine::decision::{InboundReport, OutboundReport};
use crate::engine::event::{Inbound, InboundRequest, Outbound, OutboundRequest};
use crate::rules::facts::{Channel, CHANNEL_VALUES};
use crate::rules::RuleSet;
use crate::world::locset::LocSet;
use crate::world::World;
use crate::yaml::{self, Doc, Str};

/// A loaded scenario file.
#[derive(Debug, Clone)]
pub struct ScenarioFile {
    pub path: PathBuf,
    pub description: String,
    /// The world as written, or the path it was read from.
    pub world_ref: WorldRef,
    pub cases: Vec<Case>,
    /// The events and checks of a timeline scenario (then `cases` is empty).
    pub timeline: Option<timeline_checks::TimelineSpec>,
}

#[derive(Debug, Clone)]
pub enum WorldRef {
    Inline,
    Path(String),
}

/// One case, resolved against its world.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub pos: Pos,
    /// The world after the case's `login`, `logout` and `access` changes.
    pub world: Arc<World>,
    pub event: CaseEvent,
    pub expect: Expect,
}

#[derive(Debug, Clone)]
pub enum CaseEvent {
    Inbound(InboundRequest, Inbound),
    Outbound(OutboundRequest, Outbound),
}

/// What a case expects; fields left out are not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Expect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lands_at: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_to: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ghost_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// What a case produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Actual {
    Inbound(InboundReport),
    Outbound(OutboundReport),
    /// A rule could not be evaluated.
    Error {
        error: String,
    },
    /// What a timeline check read, field by field.
    Check(std::collections::BTreeMap<String, String>),
}

/// One expected field that came out differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub field: &'static str,
    pub expected: String,
    pub actual: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseReport {
    pub name: String,
    #[serde(skip)]
    pub line: usize,
    pub passed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<Mismatch>,
    pub actual: Actual,
    /// For a failing timeline check: the trace of the decisions behind what
    /// it read (a case's trace is in `actual`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
}

impl CaseReport {
    /// The deciding rule, when there is one.
    pub fn rule(&self) -> &str {
        match &self.actual {
            Actual::Inbound(r) => &r.rule,
            Actual::Outbound(r) => &r.rule,
            Actual::Error { .. } | Actual::Check(_) => "-",
        }
    }

    /// Expected and actual side by side, then the trace in plain words;
    /// values from the files are shown escaped ([`crate::text::shown`]).
    pub fn failure_text(&self) -> String {
        use crate::text::shown;
        let mut out = String::new();
        let width = self
            .mismatches
            .iter()
            .map(|m| shown(&m.expected).len())
            .max()
            .unwrap_or(8)
            .max(8);
        out.push_str(&format!("    {:<14} {:<width$}   actual\n", "", "expected"));
        for m in &self.mismatches {
            let (expected, actual) = (shown(&m.expected), shown(&m.actual));
            out.push_str(&format!("    {:<14} {:<width$}   {actual}\n", m.field, expected));
        }
        match &self.actual {
            Actual::Error { error } => out.push_str(&format!("    error: {}\n", shown(error))),
            Actual::Check(_) if self.why.is_empty() => {}
            Actual::Check(_) => {
                out.push_str("    why:\n");
                for line in &self.why {
                    out.push_str(&format!("      {}\n", shown(line)));
                }
            }
            Actual::Inbound(InboundReport { trace, .. }) | Actual::Outbound(OutboundReport { trace, .. }) => {
                out.push_str("    why:\n");
                for line in trace {
                    out.push_str(&format!("      {}\n", shown(&line.sentence())));
                }
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub cases: Vec<CaseReport>,
    /// For a timeline scenario: every event's report, the conversations and
    /// the usage it left behind.
    #[serde(skip)]
    pub timeline: Option<timeline_checks::TimelineOutcome>,
}

impl FileReport {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed).count()
    }
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
}

// ---------------------------------------------------------------------------
// Running

impl ScenarioFile {
    pub fn load(path: &Path) -> Result<ScenarioFile, Diagnostics> {
        ScenarioFile::parse(Source::read(path)?)
    }

    /// Loads a scenario file to run against `rules`: as [`ScenarioFile::load`],
    /// and every rule a case expects must be one of theirs that can decide
    /// that kind of case. A typo there would otherwise be an ordinary failing
    /// case, which reads as a rules regression.
    pub fn load_for(path: &Path, rules: &RuleSet) -> Result<ScenarioFile, Diagnostics> {
        ScenarioFile::parse_with(Source::read(path)?, Some(rules))
    }

    /// Runs every case (or those whose name contains `filter`) against `rules`.
    pub fn run(&self, rules: &RuleSet, filter: Option<&str>) -> FileReport {
        if let Some(spec) = &self.timeline {
            let (cases, outcome) = timeline_checks::run(spec, &self.path, rules, filter);
            return FileReport {
                path: self.path.clone(),
                cases,
                timeline: outcome,
            };
        }
        let cases = self
            .cases
            .iter()
            .filter(|c| filter.is_none_or(|f| c.name.contains(f) || self.path.to_string_lossy().contains(f)))
            .map(|c| run_case(c, rules))
            .collect();
        FileReport {
            path: self.path.clone(),
            cases,
            timeline: None,
        }
    }
}

/// Loads and runs one scenario file: the function behind `commroute test`
/// and the `cargo test` scenario harness.
pub fn run_file(path: &Path, rules: &RuleSet, filter: Option<&str>) -> Result<FileReport, Diagnostics> {
    Ok(ScenarioFile::load_for(path, rules)?.run(rules, filter))
}

pub fn run_case(case: &Case, rules: &RuleSet) -> CaseReport {
    let world = &case.world;
    let e = &case.expect;
    let mut mismatches = Vec::new();
    let mut check = |field: &'static str, expected: Option<String>, actual: String| {
        if let Some(expected) = expected {
            if expected != actual {
                mismatches.push(Mismatch {
                    field,
                    expected,
                    actual,
                });
            }
        }
    };
    let list = |v: &[String]| format!("[{}]", v.join(", "));
    let actual = match &case.event {
        CaseEvent::Inbound(_, ev) => match rules.explain_inbound(world, ev) {
            Ok(d) => {
                let r = d.report(rules, world);
                check("lands_at", e.lands_at.as_deref().map(list), list(&r.lands_at));
                check(
                    "delivered_to",
                    e.delivered_to.as_deref().map(list),
                    list(&r.delivered_to),
                );
                check("rule", e.rule.clone(), r.rule.clone());
                Actual::Inbound(r)
            }
            Err(err) => Actual::Error { error: err.to_string() },
        },
        CaseEvent::Outbound(_, ev) => match rules.explain_outbound(world, ev) {
            Ok(d) => {
                let r = d.report(rules);
                check("channel", e.channel.map(|c| c.to_string()), r.channel.to_string());
                check("ghost_text", e.ghost_text.clone(), r.ghost_text.clone());
                check("text", e.text.clone(), r.text.clone());
                check("rule", e.rule.clone(), r.rule.clone());
                Actual::Outbound(r)
            }
            Err(err) => Actual::Error { error: err.to_string() },
        },
    };
    let passed = mismatches.is_empty() && !matches!(actual, Actual::Error { .. });
    CaseReport {
        name: case.name.clone(),
        line: case.pos.line,
        passed,
        mismatches,
        actual,
        why: Vec::new(),
    }
}

/// The scenario files under the given paths (files as given, directories
/// searched recursively for `*.yaml`), sorted so runs are deterministic.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostics> {
    let mut out = Vec::new();
    let mut diags = Diagnostics::default();
    let mut seen = HashSet::new();
    for p in paths {
        // Metadata, not opening: a named pipe must not block the run.
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut out, &mut diags, &mut seen, 0),
            Ok(m) if m.is_file() => out.push(p.clone()),
            Ok(m) => diags.push(not_a_scenario_file(p, &m)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                diags.push(Diagnostic::new(p, Pos::default(), "no such scenario file or directory"))
            }
            Err(e) => diags.push(Diagnostic::new(p, Pos::default(), format!("cannot read it: {e}"))),
        }
    }
    out.sort();
    out.dedup();
    diags.into_result(out)
}

/// A path given or found as a scenario file that is a device, a named pipe
/// or a socket: said what it is, and never opened.
fn not_a_scenario_file(path: &Path, meta: &std::fs::Metadata) -> Diagnostic {
    let what = crate::diag::not_a_file(meta).unwrap_or("not a regular file");
    Diagnostic::new(path, Pos::default(), format!("this is {what}, not a scenario file"))
        .help("give scenario files (`.yaml`) or directories of them")
}

/// Collects `*.yaml` files under `dir`. Each directory is entered once, by
/// its real path, so a symlink back to a parent is reported instead of
/// walked (two such links would otherwise make the walk exponential).
fn unreadable_dir(dir: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::new(dir, Pos::default(), format!("cannot read the directory: {e}"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, diags: &mut Diagnostics, seen: &mut HashSet<PathBuf>, depth: usize) {
    if depth > 32 {
        diags.push(Diagnostic::new(
            dir,
            Pos::default(),
            "directories nest more than 32 levels deep",
        ));
        return;
    }
    let real = match std::fs::canonicalize(dir) {
        Ok(real) => real,
        Err(e) => {
            diags.push(unreadable_dir(dir, &e));
            return;
        }
    };
    if seen.contains(&real) {
        // Reached again: a loop when it is one of the directories being
        // walked; otherwise a second link to a directory already read.
        let inside = dir
            .parent()
            .and_then(|p| std::fs::canonicalize(p).ok())
            .is_some_and(|p| p.starts_with(&real));
        if inside {
            diags.push(
                Diagnostic::new(
                    dir,
                    Pos::default(),
                    format!("a symlink loop: this leads back to `{}`", real.display()),
                )
                .help("remove the link, or point it outside the scenario directories"),
            );
        }
        return;
    }
    seen.insert(real);
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(unreadable_dir(dir, &e));
            return;
        }
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out, diags, seen, depth + 1);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            match std::fs::metadata(&path) {
                Ok(m) if !m.is_file() => diags.push(not_a_scenario_file(&path, &m)),
                _ => out.push(path),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Loading

const TOP_KEYS: &[&str] = &["description", "world", "cases", "events", "checks"];
const CASE_KEYS: &[&str] = &[
    "name",
    "description",
    "login",
    "logout",
    "access",
    "inbound",
    "outbound",
    "expect",
];
const INBOUND_KEYS: &[&str] = &["client", "answering", "staff", "from"];
const OUTBOUND_KEYS: &[&str] = &["client", "from_account", "text"];
const EXPECT_INBOUND: &[&str] = &["lands_at", "delivered_to", "rule"];
const EXPECT_OUTBOUND: &[&str] = &["channel", "ghost_text", "text", "rule"];

impl ScenarioFile {
    /// Parses a scenario file, checking every id against its world (rule
    /// ids are checked by [`ScenarioFile::load_for`]).
    pub fn parse(source: Source) -> Result<ScenarioFile, Diagnostics> {
        ScenarioFile::parse_with(source, None)
    }

    fn parse_with(source: Source, rules: Option<&RuleSet>) -> Result<ScenarioFile, Diagnostics> {
        let path = source.path.clone();
        let (mut doc, node) = Doc::parse(source)?;
        let Some(top) = doc.mapping(&node, "a scenario file", None) else {
            return Err(doc.diags);
        };
        doc.check_keys(top, TOP_KEYS, "a scenario file", None);
        let description = yaml::get(top, "description")
            .and_then(|n| doc.string(n, "`description`", None))
            .map(|s| s.value)
            .unwrap_or_default();
        let (world, world_ref) = match yaml::get(top, "world") {
            // Misspelt: reported once, as an unknown key.
            None if yaml::misspelt(top, "world", TOP_KEYS).is_some() => (None, WorldRef::Inline),
            None => {
                doc.error(
                    Pos::new(1, 1),
                    None,
                    "the scenario has no `world`",
                    Some("give `world:` inline, or a path to a world file relative to this file".into()),
                );
                (None, WorldRef::Inline)
            }
            Some(Node::Scalar(s)) => {
                let rel = s.as_str().to_owned();
                let full = path.parent().unwrap_or(Path::new(".")).join(&rel);
                match World::load(&full) {
                    Ok(w) => (Some(w), WorldRef::Path(rel)),
                    Err(e) => {
                        let pos = Pos::of(s.span());
                        if full.exists() {
                            // Problems inside the world file keep their own locations.
                            doc.diags.extend(e);
                        } else {
                            doc.error(
                                pos,
                                None,
                                format!("cannot read the world file `{rel}`"),
                                Some(format!("the path is relative to this file: {}", full.display())),
                            );
                        }
                        (None, WorldRef::Path(rel))
                    }
                }
            }
            Some(n) => (World::from_node(&mut doc, n), WorldRef::Inline),
        };
        let mut cases = Vec::new();
        let mut spec = None;
        if let Some(events) = yaml::get(top, "events") {
            if let Some(k) = yaml::key_pos(top, "cases") {
                doc.error(
                    k,
                    None,
                    "a scenario has either `cases` or `events`, not both",
                    Some("put the timeline in a file of its own".into()),
                );
            }
            if let Some(world) = world {
                let evs = timeline_checks::read_scenario_events(&mut doc, events, &world, &path);
                let checks = match yaml::get(top, "checks") {
                    Some(n) => timeline_checks::read_checks(&mut doc, n, &world, &evs),
                    None if yaml::misspelt(top, "checks", TOP_KEYS).is_some() => Vec::new(),
                    None => {
                        doc.error(
                            Pos::new(1, 1),
                            None,
                            "the timeline scenario has no `checks`",
                            Some("add `checks:` saying what the events must leave behind".into()),
                        );
                        Vec::new()
                    }
                };
                spec = Some(timeline_checks::TimelineSpec {
                    world,
                    events: evs,
                    checks,
                });
            }
            doc.finish(())?;
            return Ok(ScenarioFile {
                path,
                description,
                world_ref,
                cases,
                timeline: spec,
            });
        }
        // A misspelt `events` is reported once, as an unknown key.
        let misspelt_events = yaml::misspelt(top, "events", TOP_KEYS).is_some();
        if let Some(k) = yaml::key_pos(top, "checks").filter(|_| !misspelt_events) {
            doc.error(
                k,
                None,
                "`checks` belong to a timeline scenario, which has `events`",
                None,
            );
        }
        match yaml::get(top, "cases") {
            None if misspelt_events || yaml::misspelt(top, "cases", TOP_KEYS).is_some() => {}
            None => doc.error(
                Pos::new(1, 1),
                None,
                "the scenario has no `cases`",
                Some("add `cases:` with at least one case".into()),
            ),
            Some(n) => {
                if let (Some(seq), Some(world)) = (doc.sequence(n, "`cases`", None), world.as_ref()) {
                    let world = Arc::new(world.clone());
                    let mut names: Vec<Str> = Vec::new();
                    for item in seq.iter() {
                        if let Some(case) = read_case(&mut doc, item, &world, rules) {
                            if let Some(prev) = names.iter().find(|n| n.value == case.name) {
                                doc.error(
                                    case.pos,
                                    Some(&format!("case `{}`", case.name)),
                                    format!("duplicate case name `{}`", case.name),
                                    Some(format!(
                                        "the same name is used at line {}; names identify cases in reports",
                                        prev.pos.line
                                    )),
                                );
                            }
                            names.push(Str {
                                value: case.name.clone(),
                                pos: case.pos,
                            });
                            cases.push(case);
                        }
                    }
                }
            }
        }
        doc.finish(())?;
        Ok(ScenarioFile {
            path,
            description,
            world_ref,
            cases,
            timeline: None,
        })
    }
}

fn read_case(doc: &mut Doc, node: &Node, base: &Arc<World>, rules: Option<&RuleSet>) -> Option<Case> {
    let m = doc.mapping(node, "each case", None)?;
    let pos = Pos::of(m.span());
    // A misspelt `name` (reported below as an unknown key) still names the case.
    let name = yaml::get(m, "name").or_else(|| yaml::misspelt(m, "name", CASE_KEYS));
    let Some(name) = name.and_then(|n| doc.string(n, "`name`", None)) else {
        doc.error(
            pos,
            None,
            "this case has no `name`",
            Some("give each case a short `name` saying what it shows".into()),
        );
        return None;
    };
    let subject = format!("case `{}`", name.value);
    let subj = Some(subject.as_str());
    doc.check_keys(m, CASE_KEYS, "a case", subj);
    let before = doc.diags.len();

    // Changes to the world for this case.
    let mut world: Option<World> = None;
    fn w<'a>(world: &'a mut Option<World>, base: &World) -> &'a mut World {
        world.get_or_insert_with(|| base.clone())
    }
    if let Some(n) = yaml::get(m, "logout") {
        for s in doc.strings(n, "`logout`", subj).unwrap_or_default() {
            if let Some(ix) = staff_ref(doc, base, &s, subj) {
                w(&mut world, base).set_login(ix, None);
            }
        }
    }
    if let Some(n) = yaml::get(m, "login") {
        if let Some(map) = doc.mapping(n, "`login`", subj) {
            for (k, v) in map.iter() {
                let sid = yaml::str_of(k);
                let Some(ix) = staff_ref(doc, base, &sid, subj) else {
                    continue;
                };
                let Some(loc) = doc.string(v, "the location in `login`", subj) else {
                    continue;
                };
                let Some(l) = loc_ref(doc, base, &loc, subj) else {
                    continue;
                };
                let staff = &base.staff[ix as usize];
                if !staff.locations.contains(l) {
                    doc.error(
                        loc.pos,
                        subj,
                        format!(
                            "staff member `{}` cannot log in at `{}`: it is not one of their locations",
                            sid.value, loc.value
                        ),
                        Some(format!("their locations: {}", one_of(&base.loc_ids(&staff.locations)))),
                    );
                    continue;
                }
                w(&mut world, base).set_login(ix, Some(l));
            }
        }
    }
    if let Some(n) = yaml::get(m, "access") {
        if let Some(map) = doc.mapping(n, "`access`", subj) {
            for (k, v) in map.iter() {
                let sid = yaml::str_of(k);
                let Some(ix) = staff_ref(doc, base, &sid, subj) else {
                    continue;
                };
                let locs = doc.strings(v, "the locations in `access`", subj).unwrap_or_default();
                let set: LocSet = locs.iter().filter_map(|l| loc_ref(doc, base, l, subj)).collect();
                w(&mut world, base).set_access(ix, set);
            }
        }
    }
    let world = world.map(Arc::new).unwrap_or_else(|| base.clone());

    let one_event = "a case has exactly one event: `inbound` or `outbound`";
    let example = "`inbound: {client: cleo, answering: confirmation@A}` or `outbound: {client: cleo, from_account: glow-downtown}`";
    let event = match (yaml::get(m, "inbound"), yaml::get(m, "outbound")) {
        (Some(n), None) => read_inbound(doc, n, &world, subj),
        (None, Some(n)) => read_outbound(doc, n, &world, subj),
        (Some(_), Some(n)) => {
            doc.error(Pos::of(n.span()), subj, one_event, Some(example.into()));
            None
        }
        (None, None) => {
            // A misspelt event is reported once, as an unknown key.
            let misspelt = ["inbound", "outbound"]
                .iter()
                .any(|k| yaml::misspelt(m, k, CASE_KEYS).is_some());
            if !misspelt {
                doc.error(pos, subj, one_event, Some(example.into()));
            }
            None
        }
    };
    // The kind of event is what the case says, even when the event itself is wrong.
    let kind = match (yaml::get(m, "inbound"), yaml::get(m, "outbound")) {
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        _ => None,
    };
    let expect = match yaml::get(m, "expect") {
        Some(n) => kind.and_then(|inbound| read_expect(doc, n, inbound, &world, rules, subj)),
        None if yaml::misspelt(m, "expect", CASE_KEYS).is_some() => None,
        None => {
            doc.error(pos, subj, "the case has no `expect`", Some("say what must come out, e.g. `expect: {lands_at: [A], delivered_to: [sam], rule: reply-to-location-message}`".into()));
            None
        }
    };
    if doc.diags.len() > before {
        return None;
    }
    Some(Case {
        name: name.value,
        pos,
        world,
        event: event?,
        expect: expect?,
    })
}

fn staff_ref(doc: &mut Doc, world: &World, id: &Str, subj: Option<&str>) -> Option<u32> {
    let known = world.staff.iter().map(|s| s.id.as_str());
    reference(
        doc,
        world.staff_member(&id.value),
        id,
        subj,
        ("staff member", "staff"),
        known,
    )
}

fn loc_ref(doc: &mut Doc, world: &World, id: &Str, subj: Option<&str>) -> Option<u16> {
    let known = world.locations.iter().map(|l| l.id.as_str());
    reference(
        doc,
        world.location(&id.value),
        id,
        subj,
        ("location", "locations"),
        known,
    )
}

fn client_ref(doc: &mut Doc, world: &World, id: &Str, subj: Option<&str>) -> Option<u32> {
    let known = world.clients.iter().map(|c| c.id.as_str());
    reference(doc, world.client(&id.value), id, subj, ("client", "clients"), known)
}

/// A looked-up reference, or an error naming it with the closest known id
/// (or listing the known ids when none is close).
fn reference<'w, T>(
    doc: &mut Doc,
    found: Option<T>,
    id: &Str,
    subj: Option<&str>,
    (what, plural): (&str, &str),
    known: impl Iterator<Item = &'w str>,
) -> Option<T> {
    if found.is_none() {
        let known: Vec<&str> = known.collect();
        let help = match crate::diag::did_you_mean(&id.value, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("the world's {plural}: {}", one_of(&known)),
        };
        doc.error(id.pos, subj, format!("unknown {what} `{}`", id.value), Some(help));
    }
    found
}

/// The string fields of an event mapping that are present, with positions.
fn fields(doc: &mut Doc, m: &MarkedMappingNode, keys: &[&'static str], subj: Option<&str>) -> Vec<(&'static str, Str)> {
    let mut out = Vec::new();
    for key in keys {
        if let Some(s) = yaml::get(m, key).and_then(|n| doc.string(n, &format!("`{key}`"), subj)) {
            out.push((*key, s));
        }
    }
    out
}

fn read_inbound(doc: &mut Doc, node: &Node, world: &World, subj: Option<&str>) -> Option<CaseEvent> {
    let m = doc.mapping(node, "`inbound`", subj)?;
    doc.check_keys(m, INBOUND_KEYS, "`inbound`", subj);
    let f = fields(doc, m, INBOUND_KEYS, subj);
    let get = |k: &str| f.iter().find(|(n, _)| *n == k).map(|(_, s)| s.clone());
    let Some(client) = get("client") else {
        doc.error(
            Pos::of(m.span()),
            subj,
            "`inbound` has no `client`",
            Some("name the client who writes: `client: cleo`".into()),
        );
        return None;
    };
    let req = InboundRequest {
        client: client.value.clone(),
        answering: get("answering").map(|s| s.value),
        staff: get("staff").map(|s| s.value),
        from: get("from").map(|s| s.value),
    };
    match req.resolve(world) {
        Ok(ev) => Some(CaseEvent::Inbound(req, ev)),
        Err(e) => {
            let pos = get(e.field).map(|s| s.pos).unwrap_or(Pos::of(m.span()));
            doc.error(pos, subj, format!("`{}`: {}", e.field, e.message), None);
            None
        }
    }
}

fn read_outbound(doc: &mut Doc, node: &Node, world: &World, subj: Option<&str>) -> Option<CaseEvent> {
    let m = doc.mapping(node, "`outbound`", subj)?;
    doc.check_keys(m, OUTBOUND_KEYS, "`outbound`", subj);
    let f = fields(doc, m, OUTBOUND_KEYS, subj);
    let get = |k: &str| f.iter().find(|(n, _)| *n == k).map(|(_, s)| s.clone());
    let (Some(client), Some(account)) = (get("client"), get("from_account")) else {
        doc.error(
            Pos::of(m.span()),
            subj,
            "`outbound` needs `client` and `from_account`",
            Some("e.g. `outbound: {client: cleo, from_account: glow-downtown, text: See you}`".into()),
        );
        return None;
    };
    let req = OutboundRequest {
        client: client.value,
        from_account: account.value,
        text: get("text").map(|s| s.value).unwrap_or_default(),
    };
    match req.resolve(world) {
        Ok(ev) => Some(CaseEvent::Outbound(req, ev)),
        Err(e) => {
            let pos = get(e.field).map(|s| s.pos).unwrap_or(Pos::of(m.span()));
            doc.error(pos, subj, format!("`{}`: {}", e.field, e.message), None);
            None
        }
    }
}

/// Reads a case's `expect`; every location and staff id it names is checked
/// against the world, and the rule against `rules` when they are given.
fn read_expect(
    doc: &mut Doc,
    node: &Node,
    inbound: bool,
    world: &World,
    rules: Option<&RuleSet>,
    subj: Option<&str>,
) -> Option<Expect> {
    let m = doc.mapping(node, "`expect`", subj)?;
    let keys = if inbound { EXPECT_INBOUND } else { EXPECT_OUTBOUND };
    doc.check_keys(
        m,
        keys,
        if inbound {
            "`expect` of an inbound case"
        } else {
            "`expect` of an outbound case"
        },
        subj,
    );
    let mut e = Expect::default();
    let ids = |doc: &mut Doc, k: &str| -> Option<Vec<String>> {
        let n = yaml::get(m, k)?;
        if let Node::Scalar(s) = n {
            if s.as_str().is_empty() {
                return Some(Vec::new());
            }
        }
        let items = doc.strings(n, &format!("`{k}`"), subj)?;
        for id in &items {
            if k == "lands_at" {
                loc_ref(doc, world, id, subj);
            } else {
                staff_ref(doc, world, id, subj);
            }
        }
        let mut v: Vec<String> = items.into_iter().map(|s| s.value).collect();
        v.sort();
        Some(v)
    };
    let text = |doc: &mut Doc, k: &str| {
        yaml::get(m, k)
            .and_then(|n| doc.string(n, &format!("`{k}`"), subj))
            .map(|s| s.value)
    };
    let rule = yaml::get(m, "rule").and_then(|n| doc.string(n, "`rule`", subj));
    if let (Some(rule), Some(rules)) = (&rule, rules) {
        rule_ref(doc, rules, rule, inbound, subj);
    }
    e.rule = rule.map(|r| r.value);
    if inbound {
        e.lands_at = ids(doc, "lands_at");
        e.delivered_to = ids(doc, "delivered_to");
        for (k, present) in [
            ("lands_at", e.lands_at.is_some()),
            ("delivered_to", e.delivered_to.is_some()),
            ("rule", e.rule.is_some()),
        ] {
            if !present {
                doc.error(
                    Pos::of(m.span()),
                    subj,
                    format!("`expect` has no `{k}`"),
                    Some("an inbound case states `lands_at`, `delivered_to` (`[]` for nobody) and `rule`".into()),
                );
            }
        }
    } else {
        if let Some(c) = yaml::get(m, "channel").and_then(|n| doc.string(n, "`channel`", subj)) {
            match Channel::parse(&c.value) {
                Some(ch) => e.channel = Some(ch),
                None => doc.error(
                    c.pos,
                    subj,
                    format!("`{}` is not a channel", c.value),
                    Some(format!("a channel is {}", one_of(CHANNEL_VALUES))),
                ),
            }
        }
        e.ghost_text = text(doc, "ghost_text");
        e.text = text(doc, "text");
        for (k, present) in [
            ("channel", yaml::get(m, "channel").is_some()),
            ("ghost_text", e.ghost_text.is_some()),
            ("rule", e.rule.is_some()),
        ] {
            if !present {
                doc.error(
                    Pos::of(m.span()),
                    subj,
                    format!("`expect` has no `{k}`"),
                    Some(
                        "an outbound case states `channel`, `ghost_text` and `rule` (and `text` when it matters)"
                            .into(),
                    ),
                );
            }
        }
    }
    Some(e)
}

/// Checks that a case's expected rule is one that decides that kind of
/// case: an inbound rule for an inbound case, an outbound channel rule for
/// an outbound one.
fn rule_ref(doc: &mut Doc, rules: &RuleSet, id: &Str, inbound: bool, subj: Option<&str>) {
    let (known, what): (Vec<&str>, _) = match inbound {
        true => (
            rules.inbound.rules.rules.iter().map(|r| r.id.as_str()).collect(),
            "inbound",
        ),
        false => (
            rules.outbound.rules.rules.iter().map(|r| r.id.as_str()).collect(),
            "outbound",
        ),
    };
    if known.contains(&id.value.as_str()) {
        return;
    }
    let message = match rules.rule_ids().into_iter().find(|(_, r)| *r == id.value) {
        Some((policy, _)) => format!(
            "`{}` is a {} rule, which does not decide an {what} case",
            id.value,
            policy.name()
        ),
        None => format!("unknown rule `{}`", id.value),
    };
    let help = match crate::diag::did_you_mean(&id.value, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("the {what} rules are {}", one_of(&known)),
    };
    doc.error(id.pos, subj, message, Some(help));
}
