//! The rules editor's API: the three rules files as they are served
//! (`GET /v1/rules/files`), an edit checked and its impact measured before
//! anything is saved (`POST /v1/rules/check`), and saving
//! (`PUT /v1/rules/files`, only with `--allow-edit`).
//!
//! Everything here calls what the command line calls: the edited texts are
//! parsed by [`RuleSet::parse`] (the problems are those of `commroute
//! check`, rendered by the same `Display`), the documented scenarios are
//! run as `commroute test` runs them ([`ScenarioFile::run`]), and the
//! changed classes of the decision matrix and the recorded decisions they
//! touch come from [`impact::compare`], what `commroute diff --events`
//! shows. What does not depend on the edit (the scenario files loaded and
//! their results under the live rules, the decision log's events read and
//! resolved) is kept between requests, so that an edit is answered fast.
//! The work of one check is bounded: the body limit applies, the decision
//! log's most recent [`LOG_WINDOW`] bytes are compared, one check runs at a
//! time, on a blocking thread.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::authoring::impact::{self, Change, Prepared, Recorded};
use crate::diag::{Diagnostics, Source};
use crate::progress::Progress;
use crate::rules::{RuleSet, FILES, SHIPPED};
use crate::scenario::{Actual, Mismatch, ScenarioFile, Suite};
use crate::serve::api::{json_response, read_body};
use crate::serve::error::{ApiError, ErrorKind};
use crate::serve::live::Snapshot;
use crate::serve::reload::{self, Outcome, Problem, Trigger};
use crate::serve::App;
use crate::text;
use crate::World;

/// The decision log's last this many bytes are compared for each edit
/// (about ten thousand decisions): the most recent ones, so that a long
/// log keeps every check quick.
pub(crate) const LOG_WINDOW: u64 = 4 * 1024 * 1024;

/// How long saving waits at most for the reload that makes the saved files
/// live (less when the service's request timeout is shorter).
const RELOAD_WITHIN: Duration = Duration::from_secs(8);

/// This file's routes, with the state they keep between requests.
pub(crate) fn routes() -> Router<Arc<App>> {
    let state = Arc::new(EditState::default());
    Router::new()
        .route("/v1/rules/files", get(files).put(save))
        .route("/v1/rules/check", post(check))
        .layer(Extension(state))
}

/// What the editor keeps between requests of one service.
pub(crate) struct EditState {
    /// The scenario files, loaded, and how they fare under the live rules.
    suite: Mutex<Option<Arc<Baseline>>>,
    /// The decision log's recent events, read and resolved.
    events: Mutex<Option<Arc<LogEvents>>>,
    /// The matrix's classes and the live rules' analysis over them, for
    /// the live rule set named.
    matrix: Mutex<Option<(String, Arc<Prepared>)>>,
    /// One check or save at a time: each is a few tens of milliseconds of
    /// CPU, and anyone with the token may send many.
    work: Arc<tokio::sync::Semaphore>,
    /// One save at a time.
    saving: tokio::sync::Mutex<()>,
}

impl Default for EditState {
    fn default() -> Self {
        EditState {
            suite: Mutex::default(),
            events: Mutex::default(),
            matrix: Mutex::default(),
            work: Arc::new(tokio::sync::Semaphore::new(1)),
            saving: tokio::sync::Mutex::default(),
        }
    }
}

/// The scenario files loaded once per live rule set, with which of their
/// cases pass under it.
struct Baseline {
    /// The live rule set it was made for.
    rule_set: String,
    files: Vec<ScenarioFile>,
    broken: Diagnostics,
    /// `(file, line, name)` of every case that fails under the live rules.
    failing: std::collections::HashSet<(PathBuf, usize, String)>,
    cases: usize,
}

/// The decision log's recent events, read against one world.
struct LogEvents {
    world_version: String,
    /// The log's length when read.
    len: u64,
    modified: Option<std::time::SystemTime>,
    events: Vec<Recorded>,
    /// Lines that are not events of this world (written under another one,
    /// or cut), left out.
    skipped: usize,
    /// Whether the log is longer than the window read.
    windowed: bool,
}

/// The three files a request may carry; a file left out is the live one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditedFiles {
    #[serde(rename = "inbound.yaml", default)]
    inbound: Option<String>,
    #[serde(rename = "delivery.yaml", default)]
    delivery: Option<String>,
    #[serde(rename = "outbound.yaml", default)]
    outbound: Option<String>,
}

impl EditedFiles {
    fn get(&self, i: usize) -> Option<&String> {
        [&self.inbound, &self.delivery, &self.outbound][i].as_ref()
    }
}

/// The body of `POST /v1/rules/check` and `PUT /v1/rules/files`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    #[serde(default)]
    files: EditedFiles,
    /// The rule set the edit started from: saving refuses (409) when
    /// another has gone live since.
    #[serde(default)]
    base_rule_set: Option<String>,
}

const EDIT_SHAPE: &str = r#"an object: {"files": {"inbound.yaml": TEXT, "delivery.yaml": TEXT, "outbound.yaml": TEXT}} (a file left out is the one serving), with an optional "base_rule_set""#;

fn read_edit(body: &[u8]) -> Result<EditBody, ApiError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(ApiError::new(ErrorKind::BadRequest, "the body is empty").valid(EDIT_SHAPE)),
        // serde would read a struct from an array too.
        Some(b'{') => read_body(body, EDIT_SHAPE),
        Some(_) => Err(ApiError::new(ErrorKind::BadRequest, "the body is not a JSON object").valid(EDIT_SHAPE)),
    }
}

/// Where the service reads the rules file `name` from, as diagnostics name it.
fn path_of(app: &App, name: &str) -> PathBuf {
    match &app.sources.rules {
        Some(dir) => dir.join(name),
        None => PathBuf::from(format!("<shipped>/rules/{name}")),
    }
}

/// The text of every rules file where the service reads them: the rules
/// directory's files, or the shipped texts.
fn served_texts(app: &App) -> Result<[String; 3], ApiError> {
    let Some(dir) = &app.sources.rules else {
        return Ok(SHIPPED.map(|(_, t)| t.to_owned()));
    };
    let mut out: [String; 3] = Default::default();
    for (i, name) in FILES.iter().enumerate() {
        out[i] = Source::read(&dir.join(name))
            .map(|s| s.text.to_string())
            .map_err(|d| unreadable(&d))?;
    }
    Ok(out)
}

fn unreadable(d: &Diagnostics) -> ApiError {
    let first =
        d.0.first()
            .map(|d| format!("{}: {}", d.location(), d.message))
            .unwrap_or_default();
    ApiError::new(
        ErrorKind::Unavailable,
        format!("cannot read the rules file being served: {first}"),
    )
    .valid("a readable rules directory (the service's --rules)")
}

/// The sources to parse: the edited texts, the others as served.
fn sources_of(app: &App, edit: &EditedFiles) -> Result<[Source; 3], ApiError> {
    let served = if (0..3).all(|i| edit.get(i).is_some()) {
        None
    } else {
        Some(served_texts(app)?)
    };
    let mut out = Vec::with_capacity(3);
    for (i, name) in FILES.iter().enumerate() {
        let path = path_of(app, name);
        let text = match (edit.get(i), &served) {
            (Some(t), _) => t.clone(),
            (None, Some(s)) => s[i].clone(),
            (None, None) => unreachable!("every file was given"),
        };
        out.push((path, text));
    }
    // Read as a file would be (a byte order mark dropped, binary refused),
    // so the problems are those `commroute check` finds in the saved file.
    let mut sources = Vec::with_capacity(3);
    let mut diags = Diagnostics::default();
    for (path, text) in out {
        match Source::from_reader(&path, &mut text.as_bytes()) {
            Ok(s) => sources.push(s),
            Err(d) => {
                diags.extend(d);
                sources.push(Source::new(path, ""));
            }
        }
    }
    if !diags.is_empty() {
        return Err(ApiError::new(ErrorKind::InvalidField, diags.0[0].message.clone()).field("files"));
    }
    Ok(sources.try_into().expect("three sources"))
}

/// One problem, as `commroute check --format json` writes it, with the
/// text `commroute check` prints for it.
#[derive(Debug, Serialize)]
struct Shown {
    #[serde(flatten)]
    problem: Problem,
    /// Which of the three files (`inbound.yaml`...), when it is one of them.
    name: Option<&'static str>,
    /// The problem as `commroute check` prints it (with its source line
    /// and caret).
    text: String,
}

fn shown(d: &Diagnostics, app: &App) -> Vec<Shown> {
    d.0.iter()
        .map(|one| Shown {
            problem: Problem::of(one),
            name: FILES.iter().copied().find(|n| one.path == path_of(app, n)),
            text: one.to_string(),
        })
        .collect()
}

/// `GET /v1/rules/files`: the three files as served, and whether saving is allowed.
async fn files(State(app): State<Arc<App>>, Extension(state): Extension<Arc<EditState>>) -> Result<Response, ApiError> {
    state.warm(&app);
    let snap = app.live.current();
    let texts = served_texts(&app)?;
    // The files on disk may have changed since they were loaded (an edit
    // being reloaded, or refused): say so.
    let on_disk = RuleSet::digest_of_texts([&texts[0], &texts[1], &texts[2]]);
    #[derive(Serialize)]
    struct File<'a> {
        name: &'a str,
        path: String,
        text: &'a str,
    }
    #[derive(Serialize)]
    struct Files<'a> {
        r#type: &'static str,
        version: &'static str,
        rule_set: &'a str,
        /// `directory` or `shipped`.
        source: &'static str,
        /// Whether the files are those serving (else they changed on disk since).
        serving: bool,
        allow_edit: bool,
        /// Why saving is refused, when it is.
        save_refused: Option<String>,
        files: Vec<File<'a>>,
    }
    let files = FILES
        .iter()
        .zip(&texts)
        .map(|(name, text)| File {
            name,
            path: path_of(&app, name).display().to_string(),
            text,
        })
        .collect();
    let body = Files {
        r#type: "rules_files",
        version: env!("CARGO_PKG_VERSION"),
        rule_set: &snap.rule_set,
        source: if app.sources.rules.is_some() {
            "directory"
        } else {
            "shipped"
        },
        serving: format!("{on_disk:016x}") == snap.rule_set,
        allow_edit: app.allow_edit,
        save_refused: save_refusal(&app).map(|e| e.message),
        files,
    };
    Ok(json_response(to_json(&body)))
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    let mut v = serde_json::to_vec(value).expect("answers serialise");
    v.push(b'\n');
    v
}

/// Why this service may not save, if it may not.
fn save_refusal(app: &App) -> Option<ApiError> {
    if !app.allow_edit {
        return Some(
            ApiError::new(
                ErrorKind::Forbidden,
                "saving the rules is turned off: the service was started without --allow-edit",
            )
            .valid("start `commroute serve` with --allow-edit to save from the playground; meanwhile, download the edited files"),
        );
    }
    if app.sources.rules.is_none() {
        return Some(
            ApiError::new(
                ErrorKind::Forbidden,
                "the service serves the rules built into commroute: there is no rules directory to save to",
            )
            .valid("start `commroute serve --rules DIR --allow-edit` with a directory holding a copy of the rules"),
        );
    }
    None
}

/// `POST /v1/rules/check`: the edit's problems, or, when it is valid, its impact.
async fn check(
    State(app): State<Arc<App>>,
    Extension(state): Extension<Arc<EditState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let edit = read_edit(&body)?;
    let permit = state.permit().await?;
    let answer = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        checked(&app, &state, &edit.files)
    })
    .await
    .map_err(|_| ApiError::new(ErrorKind::Internal, "the check failed; the failure is logged"))??;
    Ok(json_response(to_json(&answer)))
}

impl EditState {
    async fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        self.work
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::new(ErrorKind::Unavailable, "the service is shutting down"))
    }
}

/// The answer of a check.
#[derive(Debug, Serialize)]
struct Checked {
    r#type: &'static str,
    version: &'static str,
    /// The rule set serving, which the impact is measured against.
    rule_set: String,
    /// Whether the edited rules load.
    valid: bool,
    /// The edited rules' digest (what `rule_set` would be once saved), when valid.
    edited_rule_set: Option<String>,
    /// Every problem, in file and position order.
    diagnostics: Vec<Shown>,
    /// The problems as `commroute check` prints them, the count included.
    text: String,
    /// When valid: what the edit changes.
    impact: Option<ImpactAnswer>,
}

#[derive(Debug, Serialize)]
struct ImpactAnswer {
    /// The documented scenarios run with the edited rules.
    scenarios: Option<ScenarioImpact>,
    /// The classes of the decision matrix whose outcome changes.
    matrix: MatrixImpact,
    /// The decision log's recorded decisions, when the service keeps one.
    recorded: Option<RecordedImpact>,
    /// Where the time went, in milliseconds.
    timings_ms: Timings,
}

#[derive(Debug, Default, Serialize)]
struct Timings {
    /// Reading and compiling the edited rules.
    parse: f64,
    /// Running the scenarios with them (loading the files and running them
    /// with the live rules too, the first time after a reload).
    scenarios: f64,
    /// Reading the decision log's new lines.
    events: f64,
    /// The matrix's classes and the live rules' analysis (once per live
    /// rule set, unless the edit reads facts the live rules do not).
    prepare: f64,
    /// The edited rules' analysis, compared with the live one, and the
    /// recorded decisions decided with both.
    matrix: f64,
    total: f64,
}

#[derive(Debug, Serialize)]
struct ScenarioImpact {
    /// The scenario directory, as the service was told it.
    from: String,
    /// Cases run (timeline checks included).
    cases: usize,
    /// Cases that fail under the live rules.
    failing_before: usize,
    /// Every case that fails with the edited rules.
    failing: Vec<FailingCase>,
    /// Problems of scenario files that do not load (they are not run).
    broken: Vec<Problem>,
}

#[derive(Debug, Serialize)]
struct FailingCase {
    file: String,
    line: usize,
    name: String,
    /// Whether it fails under the live rules too.
    failing_before: bool,
    /// Each expected field that came out differently.
    mismatches: Vec<Mismatch>,
    /// The error, when a rule could not be evaluated.
    error: Option<String>,
    /// The deciding rule with the edited rules.
    rule: String,
    /// What `commroute test` prints for it: expected and actual, and why.
    text: String,
}

#[derive(Debug, Serialize)]
struct MatrixImpact {
    /// Classes compared.
    classes: usize,
    /// Every changed class: old outcome and rule, new outcome and rule, a witness.
    changes: Vec<Change>,
}

#[derive(Debug, Serialize)]
struct RecordedImpact {
    /// Recorded decisions compared (the most recent of the log).
    events: usize,
    /// Of them, those the edit decides differently.
    changed: usize,
    /// Lines of the window read that are not events of the served world,
    /// left out.
    skipped: usize,
    /// Whether only the log's most recent part was compared.
    windowed: bool,
    /// Changed events that no changed class accounts for.
    unexplained: Vec<Change>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

fn checked(app: &App, state: &EditState, edit: &EditedFiles) -> Result<Checked, ApiError> {
    let started = Instant::now();
    let snap = app.live.current();
    let [i, d, o] = sources_of(app, edit)?;
    let parsed = RuleSet::parse(i, d, o);
    let parse_time = started.elapsed();
    let mut answer = Checked {
        r#type: "rules_check",
        version: env!("CARGO_PKG_VERSION"),
        rule_set: snap.rule_set.clone(),
        valid: parsed.is_ok(),
        edited_rule_set: None,
        diagnostics: Vec::new(),
        text: String::new(),
        impact: None,
    };
    let head = match parsed {
        Ok(head) => head,
        Err(diags) => {
            answer.diagnostics = shown(&diags, app);
            answer.text = format!("{diags}\n");
            return Ok(answer);
        }
    };
    answer.edited_rule_set = Some(format!("{:016x}", head.digest()));
    let mut t = Timings {
        parse: ms(parse_time),
        ..Timings::default()
    };
    let at = Instant::now();
    let scenarios = state.scenarios(app, &snap).map(|b| b.impact(app, &head));
    t.scenarios = ms(at.elapsed());
    let at = Instant::now();
    let events = state.log_events(app, &snap);
    t.events = ms(at.elapsed());
    let at = Instant::now();
    let prepared = state.prepared(&snap, &head);
    t.prepare = ms(at.elapsed());
    let at = Instant::now();
    let recorded = events.as_ref().map(|e| (&*snap.world, e.events.as_slice()));
    let result = impact::compare_prepared(&snap.rules, &prepared, &head, &[], recorded, &Progress::new());
    t.matrix = ms(at.elapsed());
    t.total = ms(started.elapsed());
    let (classes, unexplained): (Vec<Change>, Vec<Change>) =
        result.changes.into_iter().partition(|c| c.kind == "class");
    answer.impact = Some(ImpactAnswer {
        scenarios,
        matrix: MatrixImpact {
            classes: result.classes,
            changes: classes,
        },
        recorded: events.map(|e| RecordedImpact {
            events: result.events,
            changed: result.events_changed,
            skipped: e.skipped,
            windowed: e.windowed,
            unexplained,
        }),
        timings_ms: t,
    });
    Ok(answer)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EditState {
    /// The classes of the matrix and the live rules' analysis, made again
    /// when another rule set goes live or `head` reads facts they do not
    /// tell apart.
    fn prepared(&self, snap: &Snapshot, head: &RuleSet) -> Arc<Prepared> {
        let mut slot = lock(&self.matrix);
        if let Some((_, p)) = slot
            .as_ref()
            .filter(|(rs, p)| *rs == snap.rule_set && p.fits(&snap.rules, head))
        {
            return p.clone();
        }
        let p = Arc::new(Prepared::new(&snap.rules, head));
        *slot = Some((snap.rule_set.clone(), p.clone()));
        p
    }

    /// Makes what every check of the live rules needs (the scenarios'
    /// results and the matrix's), while the page loads, unless a check runs.
    fn warm(self: &Arc<Self>, app: &Arc<App>) {
        let Ok(permit) = self.work.clone().try_acquire_owned() else {
            return;
        };
        let (state, app) = (self.clone(), app.clone());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let snap = app.live.current();
            state.scenarios(&app, &snap);
            state.prepared(&snap, &snap.rules);
            state.log_events(&app, &snap);
        });
    }

    /// The scenario files and their results under the live rules, loaded
    /// again when another rule set goes live. `None` without scenarios.
    fn scenarios(&self, app: &App, snap: &Snapshot) -> Option<Arc<Baseline>> {
        let dir = app.scenarios.as_ref()?;
        let mut slot = lock(&self.suite);
        if let Some(b) = slot.as_ref().filter(|b| b.rule_set == snap.rule_set) {
            return Some(b.clone());
        }
        // Loaded without the rules: a case expecting a rule the edit
        // renames is then a failing case, not a file that does not load.
        let (files, broken) = match Suite::load(std::slice::from_ref(dir), None) {
            Ok(s) => (s.files, s.broken),
            Err(d) => (Vec::new(), d),
        };
        let mut failing = std::collections::HashSet::new();
        let mut cases = 0;
        for f in &files {
            for c in f.run(&snap.rules, None).cases {
                cases += 1;
                if !c.passed {
                    failing.insert((f.path.clone(), c.line, c.name));
                }
            }
        }
        let b = Arc::new(Baseline {
            rule_set: snap.rule_set.clone(),
            files,
            broken,
            failing,
            cases,
        });
        *slot = Some(b.clone());
        Some(b)
    }

    /// The decision log's most recent events resolved against the served
    /// world, read again when the log grows or another world goes live.
    /// `None` without a decision log (or when it cannot be read yet).
    fn log_events(&self, app: &App, snap: &Snapshot) -> Option<Arc<LogEvents>> {
        let path = app.decision_log.as_ref()?;
        let meta = std::fs::metadata(path).ok()?;
        let (len, modified) = (meta.len(), meta.modified().ok());
        let mut slot = lock(&self.events);
        if let Some(e) = slot
            .as_ref()
            .filter(|e| e.world_version == snap.world_version && e.len == len && e.modified == modified)
        {
            return Some(e.clone());
        }
        let read = read_log(path, len, &snap.world).ok()?;
        let e = Arc::new(LogEvents {
            world_version: snap.world_version.clone(),
            len,
            modified,
            events: read.0,
            skipped: read.1,
            windowed: len > LOG_WINDOW,
        });
        *slot = Some(e.clone());
        Some(e)
    }
}

impl Baseline {
    /// Runs every scenario with `head`: the cases that fail.
    fn impact(&self, app: &App, head: &RuleSet) -> ScenarioImpact {
        let mut failing = Vec::new();
        let mut cases = 0;
        for f in &self.files {
            for c in f.run(head, None).cases {
                cases += 1;
                if c.passed {
                    continue;
                }
                let key = (f.path.clone(), c.line, c.name.clone());
                failing.push(FailingCase {
                    file: f.path.display().to_string(),
                    line: c.line,
                    failing_before: self.failing.contains(&key),
                    mismatches: c.mismatches.clone(),
                    error: match &c.actual {
                        Actual::Error { error } => Some(error.clone()),
                        _ => None,
                    },
                    rule: c.rule().to_owned(),
                    text: c.failure_text(),
                    name: c.name,
                });
            }
        }
        ScenarioImpact {
            from: app
                .scenarios
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            cases: cases.max(self.cases),
            failing_before: self.failing.len(),
            failing,
            broken: self.broken.0.iter().map(Problem::of).collect(),
        }
    }
}

/// Reads the decision log's last [`LOG_WINDOW`] bytes (up to `len`, whole
/// lines only) as recorded events of `world`, through the reader of
/// `diff --events`. Lines that are not events of this world (decided under
/// another, say) are left out and counted.
fn read_log(path: &Path, len: u64, world: &World) -> std::io::Result<(Vec<Recorded>, usize)> {
    let mut file = std::fs::File::open(path)?;
    let start = len.saturating_sub(LOG_WINDOW);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity((len - start) as usize);
    file.take(len - start).read_to_end(&mut bytes)?;
    // Whole lines only: from after the first newline when the window cuts
    // a line, up to the last newline (a line being written is left out).
    let from = if start > 0 {
        bytes.iter().position(|b| *b == b'\n').map_or(bytes.len(), |i| i + 1)
    } else {
        0
    };
    let to = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1).max(from);
    let mut window = bytes[from..to].to_vec();
    let progress = Progress::new();
    match impact::read_recorded_events_from(path, &window[..], world, &progress) {
        Ok(events) => Ok((events, 0)),
        Err(diags) => {
            // Blank the lines that are not events of this world (blank lines
            // are skipped, so the others keep their line numbers) and read
            // again.
            let bad: std::collections::HashSet<usize> = diags.0.iter().map(|d| d.pos.line).collect();
            let mut out = Vec::with_capacity(window.len());
            for (line, piece) in (1..).zip(window.split_inclusive(|b| *b == b'\n')) {
                if bad.contains(&line) {
                    out.push(b'\n');
                } else {
                    out.extend_from_slice(piece);
                }
            }
            window = out;
            let events = impact::read_recorded_events_from(path, &window[..], world, &progress).unwrap_or_default();
            Ok((events, bad.len()))
        }
    }
}

/// The answer of a save.
#[derive(Debug, Serialize)]
struct Saved {
    r#type: &'static str,
    version: &'static str,
    /// The files written (those that changed).
    written: Vec<&'static str>,
    /// How the reload after writing ended: `applied`, `unchanged` or
    /// `refused`; `running` when it outlasted the request's time (the
    /// files are written; `GET /v1/status` shows how it ends); none when
    /// nothing was written.
    result: Option<&'static str>,
    /// The rule set serving when answered: the saved one once the reload
    /// ended, or, while it runs (`running`), the one before.
    rule_set: String,
    /// The problems, when the edit was refused (nothing was written) or
    /// the reload was.
    diagnostics: Vec<Shown>,
}

/// `PUT /v1/rules/files`: validates the edit in full, writes each changed
/// file atomically, reloads, and answers once the saved rules serve, or
/// with 202 `running` when the reload outlasts the request's time.
async fn save(
    State(app): State<Arc<App>>,
    Extension(state): Extension<Arc<EditState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // The answer must leave before the service's request timeout (408),
    // which would hide that the files were written.
    let answer_by = tokio::time::Instant::now() + app.reload_wait.min(RELOAD_WITHIN);
    if let Some(refusal) = save_refusal(&app) {
        return Err(refusal);
    }
    let edit = read_edit(&body)?;
    let _one = state.saving.lock().await;
    let live = app.live.current();
    if let Some(base) = &edit.base_rule_set {
        if *base != live.rule_set {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                format!(
                    "the rules changed while you edited: the edit started from rule set `{}`, rule set `{}` serves now",
                    text::shown(base),
                    live.rule_set
                ),
            )
            .field("base_rule_set")
            .valid(
                "load the rules again (your edit can be downloaded first), or leave `base_rule_set` out to overwrite",
            ));
        }
    }
    let permit = state.permit().await?;
    let worker = app.clone();
    let written = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        write_valid(&worker, &edit.files)
    })
    .await
    .map_err(|_| ApiError::new(ErrorKind::Internal, "saving failed; the failure is logged"))??;
    let written = match written {
        Ok(written) => written,
        Err(diags) => {
            let mut resp = json_response(to_json(&Saved {
                r#type: "rules_save",
                version: env!("CARGO_PKG_VERSION"),
                written: Vec::new(),
                result: None,
                rule_set: live.rule_set.clone(),
                diagnostics: shown(&diags, &app),
            }));
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            resp.extensions_mut().insert(ErrorKind::InvalidField);
            return Ok(resp);
        }
    };
    let ticket = reload::ask(&app, Trigger::Edit);
    let Ok(report) = tokio::time::timeout_at(answer_by, reload::wait(&app, ticket)).await else {
        let mut resp = json_response(to_json(&Saved {
            r#type: "rules_save",
            version: env!("CARGO_PKG_VERSION"),
            written,
            result: Some("running"),
            rule_set: live.rule_set.clone(),
            diagnostics: Vec::new(),
        }));
        *resp.status_mut() = StatusCode::ACCEPTED;
        return Ok(resp);
    };
    let report = report.ok_or_else(|| {
        ApiError::new(
            ErrorKind::Unavailable,
            "the files were written, but the reloader has stopped: the service is shutting down",
        )
        .valid("the saved files serve when the service starts again")
    })?;
    let refused = report.result == Outcome::Refused;
    let mut resp = json_response(to_json(&Saved {
        r#type: "rules_save",
        version: env!("CARGO_PKG_VERSION"),
        written,
        result: Some(report.result.name()),
        rule_set: report.rule_set.clone(),
        diagnostics: report
            .diagnostics
            .iter()
            .map(|p| Shown {
                problem: p.clone(),
                name: None,
                text: format!("{}: {}", p.file, p.message),
            })
            .collect(),
    }));
    if refused {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        resp.extensions_mut().insert(ErrorKind::InvalidField);
    }
    Ok(resp)
}

/// Validates the edited set in full, then writes each file whose text
/// changed: `Ok(Err(problems))` when the set is invalid (nothing written).
#[allow(clippy::type_complexity)]
fn write_valid(app: &App, edit: &EditedFiles) -> Result<Result<Vec<&'static str>, Diagnostics>, ApiError> {
    let dir = app.sources.rules.as_ref().expect("checked before");
    let sources = sources_of(app, edit)?;
    let texts: Vec<Arc<str>> = sources.iter().map(|s| s.text.clone()).collect();
    let [i, d, o] = sources;
    if let Err(diags) = RuleSet::parse(i, d, o) {
        return Ok(Err(diags));
    }
    let served = served_texts(app)?;
    let mut written = Vec::new();
    for (k, name) in FILES.iter().enumerate() {
        if edit.get(k).is_none() || *texts[k] == *served[k] {
            continue;
        }
        write_atomically(&dir.join(name), texts[k].as_bytes()).map_err(|e| {
            ApiError::new(
                ErrorKind::Internal,
                format!("cannot write the rules file `{name}`: {e}"),
            )
            .valid("a rules directory the service may write to")
        })?;
        written.push(*name);
    }
    Ok(Ok(written))
}

/// Writes `bytes` to a new file beside `path`, syncs it, gives it `path`'s
/// permissions and renames it over `path`: a reader (the reloader, an
/// editor) sees the old file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("rules");
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}-{n}.saving", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Keys of the per-request caches, for tests.
#[cfg(test)]
fn cached_suite(state: &EditState) -> Option<String> {
    lock(&state.suite).as_ref().map(|b| b.rule_set.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::{Config, Sources};

    fn app_over(rules: Option<PathBuf>, scenarios: bool) -> Arc<App> {
        let config = Config {
            sources: Sources {
                rules,
                world: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/glow-world.yaml").into()),
            },
            scenarios: scenarios.then(|| concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios").into()),
            ..Config::default()
        };
        let first = Snapshot::load(&config.sources).expect("the first snapshot loads");
        crate::serve::app(&config, first, None)
    }

    fn campaign_rule_moved_down() -> String {
        let t = SHIPPED[0].1;
        let a = t.find("  - id: campaign-reply-with-history\n").unwrap();
        let b = t.find("  - id: reply-to-location-message\n").unwrap();
        let c = t.find("  - id: out-of-the-blue-with-history\n").unwrap();
        format!("{}{}{}{}", &t[..a], &t[b..c], &t[a..b], &t[c..])
    }

    #[test]
    fn an_invalid_edit_answers_the_problems_in_the_words_of_check() {
        let app = app_over(None, false);
        let state = EditState::default();
        let edit = EditedFiles {
            inbound: Some(
                SHIPPED[0]
                    .1
                    .replace("conversation.answering: campaign", "conversation.answerin: campaign"),
            ),
            ..Default::default()
        };
        let a = checked(&app, &state, &edit).unwrap();
        assert!(!a.valid);
        assert_eq!(a.diagnostics.len(), 1);
        let d = &a.diagnostics[0];
        assert_eq!((d.problem.line, d.problem.column), (Some(66), Some(11)));
        assert_eq!(d.name, Some("inbound.yaml"));
        assert_eq!(d.problem.file, "<shipped>/rules/inbound.yaml");
        assert!(d.text.starts_with("error: rule `campaign-reply-with-history`: unknown fact `conversation.answerin`\n  --> <shipped>/rules/inbound.yaml:66:11\n"), "{}", d.text);
        assert!(a.text.ends_with("\n1 problem found\n"), "{}", a.text);
        assert!(a.impact.is_none());
    }

    #[test]
    fn a_valid_edit_that_moves_the_campaign_rule_down_fails_scenario_9_and_changes_classes() {
        let app = app_over(None, true);
        let state = EditState::default();
        let edit = EditedFiles {
            inbound: Some(campaign_rule_moved_down()),
            ..Default::default()
        };
        let a = checked(&app, &state, &edit).unwrap();
        assert!(a.valid, "{}", a.text);
        let impact = a.impact.unwrap();
        let s = impact.scenarios.unwrap();
        let nine: Vec<_> = s.failing.iter().filter(|c| c.file.contains("09-campaign")).collect();
        assert_eq!(nine.len(), 3, "{:?}", s.failing);
        assert!(nine.iter().all(|c| !c.failing_before));
        let m = &nine[0].mismatches;
        assert!(
            m.iter()
                .any(|m| m.field == "lands_at" && m.expected == "[B]" && m.actual == "[A]"),
            "{m:?}"
        );
        assert_eq!(s.failing_before, 0);
        assert!(impact
            .matrix
            .changes
            .iter()
            .any(|c| c.old_rule == "campaign-reply-with-history"
                && c.new_rule == "reply-to-location-message"
                && c.old_outcome != c.new_outcome));
        assert_eq!(
            cached_suite(&state).as_deref(),
            Some(app.live.current().rule_set.as_str())
        );
        // The same edit again: the suite is not loaded again.
        let again = checked(&app, &state, &edit).unwrap();
        assert_eq!(again.impact.unwrap().matrix.changes.len(), impact.matrix.changes.len());
    }

    #[test]
    fn the_unedited_rules_change_nothing() {
        let app = app_over(None, true);
        let a = checked(&app, &EditState::default(), &EditedFiles::default()).unwrap();
        assert!(a.valid);
        let i = a.impact.unwrap();
        assert!(i.matrix.changes.is_empty());
        assert!(i.scenarios.unwrap().failing.is_empty());
        assert_eq!(a.edited_rule_set.as_deref(), Some(a.rule_set.as_str()));
    }

    #[test]
    fn recorded_decisions_of_another_world_are_left_out_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log.jsonl");
        std::fs::write(
            &log,
            "{\"type\":\"inbound\",\"id\":\"a\",\"client\":\"cleo\",\"answering\":\"campaign@A\"}\n\
             {\"type\":\"inbound\",\"id\":\"b\",\"client\":\"nobody-here\",\"answering\":\"campaign@A\"}\n\
             {\"type\":\"inbound\",\"id\":\"c\",\"client\":\"cleo\"}\n\
             {\"type\":\"inbound\",\"id\":\"d\",\"cli",
        )
        .unwrap();
        let snap = app_over(None, false).live.current();
        let (events, skipped) = read_log(&log, std::fs::metadata(&log).unwrap().len(), &snap.world).unwrap();
        assert_eq!(skipped, 1 + usize::from(events.len() < 2));
        assert!(events.iter().all(|e| e.event.id() != "b"));
        assert!(
            events.iter().all(|e| e.event.id() != "d"),
            "a line being written is left out"
        );
    }

    /// A reload held until the test lets it go.
    static HELD: reload::Gate = reload::Gate::new();
    const LIMIT: Duration = Duration::from_secs(20);

    fn held_load(sources: &crate::serve::Sources, previous: Option<&Snapshot>) -> Result<Snapshot, Diagnostics> {
        HELD.pass(LIMIT);
        Snapshot::load_after(sources, previous)
    }

    /// A save whose reload outlasts the request's time used to wait 8 s
    /// whatever the service's `--timeout-ms`, so a shorter timeout answered
    /// 408 although the files were written. It now answers 202 `running`
    /// within the request's time, naming the files it wrote.
    #[test]
    fn a_save_whose_reload_outlasts_the_request_is_202_running_with_the_files_written() {
        use axum::response::IntoResponse;
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in SHIPPED {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let mut app = app_over(Some(dir.path().to_owned()), false);
        {
            let a = Arc::get_mut(&mut app).expect("a new app");
            a.allow_edit = true;
            a.reloads.load = held_load;
            a.reload_wait = Duration::from_millis(100);
        }
        let before = app.live.current().rule_set.clone();
        let edited = campaign_rule_moved_down();
        let body = serde_json::json!({"files": {"inbound.yaml": edited}}).to_string();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .unwrap();
        let started = Instant::now();
        let resp = runtime
            .block_on(async {
                tokio::time::timeout(
                    LIMIT,
                    save(
                        State(app.clone()),
                        Extension(Arc::new(EditState::default())),
                        Bytes::from(body),
                    ),
                )
                .await
                .expect("the save is answered within its time")
            })
            .map(IntoResponse::into_response)
            .unwrap_or_else(|e| panic!("an error answer: {e:?}"));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "answered after {:?}, not within the request's time",
            started.elapsed()
        );
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        let v = runtime.block_on(crate::serve::api::json_of(resp));
        assert_eq!(
            (v["type"].as_str(), v["result"].as_str(), v["rule_set"].as_str()),
            (Some("rules_save"), Some("running"), Some(before.as_str())),
            "{v}"
        );
        assert_eq!(v["written"], serde_json::json!(["inbound.yaml"]));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("inbound.yaml")).unwrap(),
            edited,
            "the file is written before the answer"
        );
        // Let the reload go: the saved rules then serve.
        HELD.open();
        let start = Instant::now();
        while app.live.current().rule_set == before {
            assert!(start.elapsed() < LIMIT, "the saved rules never served");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(app.reloads.counts().applied, 1);
    }

    #[test]
    fn saving_writes_atomically_and_keeps_the_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbound.yaml");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn every_route_here_is_in_the_openapi_document() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
        let source = include_str!("edit.rs");
        for piece in source.split(".route(\"").skip(1).take(2) {
            let (path, rest) = piece.split_once('"').unwrap();
            let handlers = rest.split_once(")\n").map_or(rest, |(h, _)| h);
            for method in ["get", "post", "put"] {
                if handlers.contains(&format!("{method}(")) {
                    assert!(doc["paths"][path][method].is_object(), "{method} {path}");
                }
            }
        }
    }
}
