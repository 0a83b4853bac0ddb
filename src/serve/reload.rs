//! Hot reload: reading the rules and the world again while requests are
//! served, and swapping them in only when they are valid.
//!
//! Three things ask for a reload: the file watcher, SIGHUP and
//! `POST /v1/reload`. Each asking takes a ticket. One reload runs at a
//! time, on a thread of its own (never on a request's task); a ticket taken
//! while a reload runs is covered by the next one, so a burst of tickets
//! costs one more load, not one each. A reload ends in one of three ways:
//! `applied` (new versions, swapped in for every request that starts from
//! then on), `unchanged` (the same digests: nothing is swapped) or
//! `refused` (problems: the old rules and world keep serving, and the
//! problems are kept for `/v1/status` and logged).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorKind};
use super::live::{Live, Snapshot, Sources};
use super::App;
use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::text;
use crate::watch::{Watch, WatchError, WatchOptions};

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The file watcher saw a rules file or the world file change.
    Watch,
    /// The process received SIGHUP.
    Signal,
    /// A client called `POST /v1/reload`.
    Request,
    /// The playground's rules page saved the rules files (`--allow-edit`).
    Edit,
}

/// How a reload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rules or the world changed and are valid: they now serve.
    Applied,
    /// The files load to the same digests as those serving: nothing swapped.
    Unchanged,
    /// The files have problems: the old rules and world keep serving.
    Refused,
}

impl Outcome {
    /// The name in JSON and in the metrics' `result` label.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Unchanged => "unchanged",
            Outcome::Refused => "refused",
        }
    }
}

/// One problem of a refused reload, in the words and fields of
/// `commroute check --format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file, as the service was told it.
    pub file: String,
    /// The line, from 1; `null` when the problem is about the whole file.
    pub line: Option<usize>,
    /// The column, from 1; `null` with the line.
    pub column: Option<usize>,
    /// The rule the problem is in, when it is about one.
    pub rule: Option<String>,
    /// What the problem is about, e.g. "rule `push`".
    pub subject: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What would be valid, or how to fix it.
    pub help: Option<String>,
}

impl Problem {
    pub(crate) fn of(d: &Diagnostic) -> Problem {
        let at = d.pos.line > 0;
        let rule = d.rule_id().map(str::to_owned);
        Problem {
            file: d.path.display().to_string(),
            line: at.then_some(d.pos.line),
            column: at.then_some(d.pos.col),
            rule,
            subject: d.subject.clone(),
            message: text::brief(&d.message).into_owned(),
            help: d.help.clone(),
        }
    }

    /// `file:line:col: subject: message (help)`, control characters escaped:
    /// one log line.
    fn log_line(&self) -> String {
        let mut s = self.file.clone();
        if let (Some(line), Some(col)) = (self.line, self.column) {
            s.push_str(&format!(":{line}:{col}"));
        }
        s.push_str(": ");
        if let Some(subject) = &self.subject {
            s.push_str(subject);
            s.push_str(": ");
        }
        s.push_str(&self.message);
        if let Some(help) = &self.help {
            s.push_str(&format!(" (help: {help})"));
        }
        text::shown(&s).into_owned()
    }
}

/// The result of one reload: `/v1/status` shows the last one as
/// `last_reload`, and `POST /v1/reload` answers with it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the reload ended (RFC 3339, UTC).
    pub at: String,
    /// How it ended.
    pub result: Outcome,
    /// What asked for it (the first asking it covers).
    pub trigger: Trigger,
    /// The rule set serving after it.
    pub rule_set: String,
    /// The world serving after it.
    pub world_version: String,
    /// Every problem that refused it; empty unless refused.
    pub diagnostics: Vec<Problem>,
}

/// How many reloads ended each way since the service started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    /// Reloads that swapped in new versions.
    pub applied: u64,
    /// Reloads that found the same versions.
    pub unchanged: u64,
    /// Reloads refused for problems.
    pub refused: u64,
}

/// Reads and validates the rules and the world, given the snapshot serving
/// now: [`Snapshot::load_after`], or a stand-in in tests.
type Loader = fn(&Sources, Option<&Snapshot>) -> Result<Snapshot, Diagnostics>;

/// The tickets: how many were taken, which the running reload covers, and
/// whether a reload thread runs.
#[derive(Debug, Default)]
struct Tickets {
    /// The last ticket taken.
    taken: u64,
    /// The last ticket a started reload covers.
    started: u64,
    /// What asked first since the last reload started.
    first: Option<Trigger>,
    /// Whether a reload thread is running (it takes every ticket left
    /// before it ends).
    running: bool,
}

/// What the last finished reload covered.
#[derive(Debug, Clone, Default)]
struct Done {
    /// Every ticket up to this one has had its reload.
    covered: u64,
    last: Option<Arc<Report>>,
}

/// The service's one reloader, kept on [`App`] as `reloads`.
pub(crate) struct Reloader {
    /// Reloads that swapped in new versions (the metric `result="applied"`).
    pub(crate) applied: AtomicU64,
    /// Reloads that found the same versions (`result="unchanged"`).
    pub(crate) unchanged: AtomicU64,
    /// Reloads refused for problems (`result="refused"`).
    pub(crate) refused: AtomicU64,
    tickets: Mutex<Tickets>,
    done: tokio::sync::watch::Sender<Done>,
    /// How a reload loads the files (tests put a loader there that holds
    /// a reload until they let it go).
    pub(crate) load: Loader,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("counts", &self.counts())
            .field("tickets", &self.tickets)
            .finish()
    }
}

impl Default for Reloader {
    fn default() -> Self {
        Reloader {
            applied: AtomicU64::new(0),
            unchanged: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            tickets: Mutex::new(Tickets::default()),
            done: tokio::sync::watch::Sender::new(Done::default()),
            load: Snapshot::load_after,
        }
    }
}

impl Reloader {
    /// How many reloads ended each way so far.
    pub(crate) fn counts(&self) -> Counts {
        Counts {
            applied: self.applied.load(Ordering::Relaxed),
            unchanged: self.unchanged.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    /// Publishes a finished reload covering every ticket up to `ticket`,
    /// counted in the same step so the counts and the last report agree.
    ///
    /// An applied reload's snapshot is put in `live` in the same step, so
    /// whoever reads the counts, the last report and the snapshot serving
    /// together ([`Reloader::seen_with`]) never sees the new versions with
    /// the counts of before.
    fn finish(&self, ticket: u64, report: Report, next: Option<Snapshot>, live: &Live) -> Arc<Report> {
        let counter = match report.result {
            Outcome::Applied => &self.applied,
            Outcome::Unchanged => &self.unchanged,
            Outcome::Refused => &self.refused,
        };
        let report = Arc::new(report);
        self.done.send_modify(|d| {
            if let Some(next) = next {
                live.replace(next);
            }
            counter.fetch_add(1, Ordering::Relaxed);
            d.covered = d.covered.max(ticket);
            d.last = Some(report.clone());
        });
        report
    }

    /// The last finished reload, the counts (which include it) and the
    /// snapshot serving, as of one moment.
    pub(crate) fn seen_with(&self, live: &Live) -> (Option<Arc<Report>>, Counts, Arc<Snapshot>) {
        let done = self.done.borrow();
        (done.last.clone(), self.counts(), live.current())
    }

    fn tickets(&self) -> std::sync::MutexGuard<'_, Tickets> {
        self.tickets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Asks for a reload and returns its ticket; [`wait`] for it to be done.
/// Never blocks on a load: the load runs on the reload thread, started here
/// if none runs.
pub(crate) fn ask(app: &Arc<App>, why: Trigger) -> u64 {
    let ticket;
    {
        let mut t = app.reloads.tickets();
        t.taken += 1;
        ticket = t.taken;
        t.first.get_or_insert(why);
        if t.running {
            return ticket;
        }
        t.running = true;
    }
    let worker = app.clone();
    let spawned = std::thread::Builder::new()
        .name("reload".into())
        .spawn(move || work(&worker));
    if let Err(e) = spawned {
        // No thread to be had: reload here rather than leave the ticket waiting.
        tracing::warn!("cannot start a reload thread ({e}); reloading on the caller's thread");
        work(app);
    }
    ticket
}

/// Waits until the reload covering `ticket` is done; its report. (`None`
/// cannot happen while the service runs: the reloader lives on `App`, and
/// a covered ticket always has a report.)
pub(crate) async fn wait(app: &App, ticket: u64) -> Option<Arc<Report>> {
    let mut rx = app.reloads.done.subscribe();
    let done = rx.wait_for(|d| d.covered >= ticket).await.ok()?;
    done.last.clone()
}

/// The reload thread: reloads until no ticket is left.
fn work(app: &App) {
    loop {
        let (ticket, why) = {
            let mut t = app.reloads.tickets();
            if t.started == t.taken {
                t.running = false;
                return;
            }
            t.started = t.taken;
            (t.taken, t.first.take().unwrap_or(Trigger::Request))
        };
        reload(app, why, ticket);
    }
}

/// One reload, covering every ticket up to `ticket`: loads and validates
/// everything, swaps only a valid change, counts and publishes the outcome
/// with the swap (see [`Reloader::finish`]), logs it.
fn reload(app: &App, why: Trigger, ticket: u64) -> Arc<Report> {
    let r = &app.reloads;
    let serving = app.live.current();
    let loaded = catch_unwind(AssertUnwindSafe(|| (r.load)(&app.sources, Some(&serving)))).unwrap_or_else(|_| {
        let file = app.sources.rules.clone().unwrap_or_else(|| PathBuf::from("rules"));
        Err(Diagnostic::new(
            file,
            Pos::default(),
            "loading the rules and the world failed unexpectedly",
        )
        .into())
    });
    let mut swap = None;
    let (result, rule_set, world_version, diagnostics) = match loaded {
        Ok(next) if next.rule_set == serving.rule_set && next.world_version == serving.world_version => {
            (Outcome::Unchanged, next.rule_set, next.world_version, Vec::new())
        }
        Ok(next) => {
            let versions = (next.rule_set.clone(), next.world_version.clone());
            swap = Some(next);
            (Outcome::Applied, versions.0, versions.1, Vec::new())
        }
        Err(diags) => {
            let problems = diags.0.iter().map(Problem::of).collect();
            (
                Outcome::Refused,
                serving.rule_set.clone(),
                serving.world_version.clone(),
                problems,
            )
        }
    };
    let report = Report {
        at: jiff::Timestamp::now().to_string(),
        result,
        trigger: why,
        rule_set,
        world_version,
        diagnostics,
    };
    let report = app.reloads.finish(ticket, report, swap, &app.live);
    log(&report);
    report
}

/// Logs a reload's outcome; a refused one with every problem as
/// `file:line:col: message`.
fn log(report: &Report) {
    let trigger = match report.trigger {
        Trigger::Watch => "watch",
        Trigger::Signal => "signal",
        Trigger::Request => "request",
        Trigger::Edit => "edit",
    };
    let (rule_set, world_version) = (&report.rule_set, &report.world_version);
    match report.result {
        Outcome::Applied => tracing::info!(
            trigger,
            rule_set,
            world_version,
            "reload applied: now serving rule set {rule_set} and world {world_version}"
        ),
        Outcome::Unchanged => tracing::info!(
            trigger,
            rule_set,
            world_version,
            "reload unchanged: rule set {rule_set} and world {world_version} already serve"
        ),
        Outcome::Refused => {
            let n = report.diagnostics.len();
            let noun = if n == 1 { "problem" } else { "problems" };
            tracing::warn!(
                trigger,
                rule_set,
                world_version,
                "reload refused ({n} {noun}): still serving rule set {rule_set} and world {world_version}"
            );
            for p in &report.diagnostics {
                tracing::warn!(trigger, "reload refused: {}", p.log_line());
            }
        }
    }
}

/// Watches the three rules files and the world file, asking for a reload
/// after each burst of changes. `None` when there is nothing to watch (the
/// shipped rules and no world file).
pub(crate) fn watch(app: &Arc<App>) -> Result<Option<Watch>, WatchError> {
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Some(dir) = &app.sources.rules {
        paths.extend(crate::rules::FILES.iter().map(|f| dir.join(f)));
    }
    paths.extend(app.sources.world.iter().cloned());
    if paths.is_empty() {
        return Ok(None);
    }
    let for_changes = app.clone();
    let w = Watch::start(&paths, WatchOptions::default(), move |changed| {
        let names: Vec<String> = changed
            .iter()
            .map(|p| text::shown(&p.display().to_string()).into_owned())
            .collect();
        tracing::info!("changed: {}; reloading", names.join(", "));
        ask(&for_changes, Trigger::Watch);
    })?;
    if w.polling() {
        tracing::warn!("watching the rules and world files by polling: this file system gives no change events");
    } else {
        tracing::info!("watching the rules and world files for changes");
    }
    Ok(Some(w))
}

/// `POST /v1/reload` takes no arguments: an empty body or `{}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArguments {}

/// The body of `POST /v1/reload`'s answer.
#[derive(Serialize)]
struct Answer<'a> {
    r#type: &'static str,
    version: &'static str,
    #[serde(flatten)]
    report: &'a Report,
}

/// What `POST /v1/reload` answers when the reload is still loading as the
/// request's time runs out.
#[derive(Serialize)]
struct Running {
    r#type: &'static str,
    version: &'static str,
    result: &'static str,
    message: &'static str,
}

/// `POST /v1/reload`: reloads now and answers when done: 200 when applied
/// or unchanged, 422 with the problems when refused. A reload that takes
/// longer than the request may (a large world read again on a busy
/// machine) is answered 202: it goes on, and `/v1/status` shows its result.
pub(crate) async fn post(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    if let Some(key) = q.as_deref().and_then(|q| q.split('&').find(|p| !p.is_empty())) {
        let key = key.split_once('=').map_or(key, |(k, _)| k);
        return Err(ApiError::new(
            ErrorKind::BadRequest,
            format!("unknown query parameter `{}`", text::shown(key)),
        )
        .field(format!("?{}", text::shown(key)))
        .valid("no query parameters"));
    }
    if !body.iter().all(u8::is_ascii_whitespace) {
        let _: NoArguments = super::api::read_body(&body, "an empty body, or `{}`: a reload takes no arguments")?;
    }
    let ticket = ask(&app, Trigger::Request);
    let Ok(report) = tokio::time::timeout(app.reload_wait, wait(&app, ticket)).await else {
        let mut body = serde_json::to_vec(&Running {
            r#type: "reload",
            version: env!("CARGO_PKG_VERSION"),
            result: "running",
            message: "the reload is still loading; GET /v1/status shows its result when it is done",
        })
        .expect("a reload's progress serialises");
        body.push(b'\n');
        let mut resp = super::api::json_response(body);
        *resp.status_mut() = StatusCode::ACCEPTED;
        return Ok(resp);
    };
    let report = report.ok_or_else(|| {
        ApiError::new(
            ErrorKind::Unavailable,
            "the reloader has stopped: the service is shutting down",
        )
    })?;
    let status = match report.result {
        Outcome::Applied | Outcome::Unchanged => StatusCode::OK,
        Outcome::Refused => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let mut body = serde_json::to_vec(&Answer {
        r#type: "reload",
        version: env!("CARGO_PKG_VERSION"),
        report: &report,
    })
    .expect("a reload report serialises");
    body.push(b'\n');
    let mut resp = super::api::json_response(body);
    *resp.status_mut() = status;
    Ok(resp.into_response())
}

/// A gate a test's stand-in loader waits at, so that a reload lasts until
/// the test opens it (each test keeps its own: tests run at once).
#[cfg(test)]
pub(crate) struct Gate {
    open: Mutex<bool>,
    opened: std::sync::Condvar,
}

#[cfg(test)]
impl Gate {
    pub(crate) const fn new() -> Gate {
        Gate {
            open: Mutex::new(false),
            opened: std::sync::Condvar::new(),
        }
    }

    /// Waits until the gate is open, or `limit` has passed.
    pub(crate) fn pass(&self, limit: std::time::Duration) {
        let start = std::time::Instant::now();
        let mut open = self.open.lock().unwrap();
        while !*open && start.elapsed() < limit {
            open = self
                .opened
                .wait_timeout(open, std::time::Duration::from_millis(50))
                .unwrap()
                .0;
        }
    }

    pub(crate) fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::Config;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::time::{Duration, Instant};

    /// How long any wait in these tests may take.
    const LIMIT: Duration = Duration::from_secs(20);

    fn app_over(sources: Sources) -> Arc<App> {
        let config = Config {
            sources,
            ..Config::default()
        };
        let first = Snapshot::load(&config.sources).expect("the first snapshot loads");
        crate::serve::app(&config, first, None)
    }

    /// A copy of the shipped rules in a folder of its own.
    fn rules_copy() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in crate::rules::SHIPPED {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    /// One reload on this thread, counted and published as the reload thread does.
    fn reloaded(app: &App, why: Trigger) -> Arc<Report> {
        reload(app, why, u64::MAX)
    }

    fn edit(dir: &tempfile::TempDir, from: &str, to: &str) {
        let path = dir.path().join("inbound.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "`{from}` is in inbound.yaml");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }

    #[test]
    fn a_rules_edit_keeps_the_loaded_world_and_a_world_edit_loads_it_again() {
        let dir = rules_copy();
        let world_file = dir.path().join("world.yaml");
        let glow = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/glow-world.yaml")).unwrap();
        std::fs::write(&world_file, &glow).unwrap();
        let app = app_over(Sources {
            rules: Some(dir.path().to_path_buf()),
            world: Some(world_file.clone()),
        });
        let first = app.live.current();

        edit(&dir, "id: campaign-reply-with-history", "id: campaign-reply-edited");
        assert_eq!(reloaded(&app, Trigger::Watch).result, Outcome::Applied);
        let second = app.live.current();
        assert_ne!(second.rule_set, first.rule_set);
        assert!(
            Arc::ptr_eq(&first.world, &second.world),
            "the world file did not change: its loaded world is shared, not read again"
        );
        // The same text with a byte-order mark is the same world.
        std::fs::write(&world_file, format!("\u{feff}{glow}")).unwrap();
        assert_eq!(reloaded(&app, Trigger::Watch).result, Outcome::Unchanged);
        assert!(Arc::ptr_eq(&first.world, &app.live.current().world));

        std::fs::write(&world_file, format!("{glow}\n# edited\n")).unwrap();
        assert_eq!(reloaded(&app, Trigger::Watch).result, Outcome::Applied);
        let third = app.live.current();
        assert_eq!(third.rule_set, second.rule_set);
        assert_ne!(third.world_version, second.world_version);
        assert!(
            !Arc::ptr_eq(&second.world, &third.world),
            "the world file changed: it is read again"
        );
    }

    #[test]
    fn an_unchanged_reload_swaps_nothing_an_applied_one_swaps_and_a_refused_one_keeps_the_old() {
        let dir = rules_copy();
        let app = app_over(Sources {
            rules: Some(dir.path().to_path_buf()),
            world: None,
        });
        let first = app.live.current();

        let r = reloaded(&app, Trigger::Request);
        assert_eq!(
            (r.result, r.rule_set.as_str()),
            (Outcome::Unchanged, first.rule_set.as_str())
        );
        assert!(
            Arc::ptr_eq(&first, &app.live.current()),
            "unchanged: the same snapshot serves"
        );

        edit(&dir, "id: campaign-reply-with-history", "id: campaign-reply-edited");
        let r = reloaded(&app, Trigger::Watch);
        let second = app.live.current();
        assert_eq!(r.result, Outcome::Applied);
        assert_ne!(second.rule_set, first.rule_set);
        assert_eq!(r.rule_set, second.rule_set);
        assert!(r.diagnostics.is_empty());

        edit(
            &dir,
            "conversation.answering: campaign",
            "conversation.answerin: campaign",
        );
        let r = reloaded(&app, Trigger::Signal);
        assert_eq!(r.result, Outcome::Refused);
        assert!(
            Arc::ptr_eq(&second, &app.live.current()),
            "refused: the old snapshot serves"
        );
        assert_eq!(
            r.rule_set, second.rule_set,
            "a refused reload names the versions still serving"
        );
        assert_eq!(r.diagnostics.len(), 1);
        let p = &r.diagnostics[0];
        assert_eq!((p.line, p.column), (Some(66), Some(11)));
        assert_eq!(p.file, dir.path().join("inbound.yaml").display().to_string());
        assert_eq!(p.message, "unknown fact `conversation.answerin`");
        assert_eq!(p.help.as_deref(), Some("did you mean `conversation.answering`?"));
        assert_eq!(p.rule.as_deref(), Some("campaign-reply-edited"));
        assert_eq!(
            app.reloads.counts(),
            Counts {
                applied: 1,
                unchanged: 1,
                refused: 1
            }
        );
    }

    /// A writer the log goes to in a test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_refused_reload_logs_every_problem_as_file_line_col_and_message() {
        let dir = rules_copy();
        let app = app_over(Sources {
            rules: Some(dir.path().to_path_buf()),
            world: None,
        });
        edit(
            &dir,
            "conversation.answering: campaign",
            "conversation.answerin: campaign",
        );
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || reload(&app, Trigger::Watch, u64::MAX));
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        let file = dir.path().join("inbound.yaml").display().to_string();
        assert!(
            text.contains("reload refused (1 problem): still serving rule set"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "{file}:66:11: rule `campaign-reply-with-history`: unknown fact `conversation.answerin` (help: did you mean `conversation.answering`?)"
            )),
            "{text}"
        );
    }

    #[test]
    fn control_characters_in_a_problem_are_escaped_in_its_log_line() {
        let d =
            Diagnostic::new("r/in\u{1b}[2J.yaml", Pos::new(3, 4), "unknown key `a\u{7}b`").subject("rule `x\u{9b}`");
        let line = Problem::of(&d).log_line();
        assert_eq!(line, "r/in\\u{1b}[2J.yaml:3:4: rule `x\\u{9b}`: unknown key `a\\u{7}b`");
    }

    // The stand-in loader of the test below: it holds its first load until
    // the test opens the gate, and notes calls that overlap.
    static GATE: Gate = Gate::new();
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static INSIDE: AtomicUsize = AtomicUsize::new(0);
    static OVERLAPPED: AtomicBool = AtomicBool::new(false);

    fn gated_load(sources: &Sources, previous: Option<&Snapshot>) -> Result<Snapshot, Diagnostics> {
        if INSIDE.fetch_add(1, Ordering::SeqCst) != 0 {
            OVERLAPPED.store(true, Ordering::SeqCst);
        }
        CALLS.fetch_add(1, Ordering::SeqCst);
        GATE.pass(LIMIT);
        let loaded = Snapshot::load_after(sources, previous);
        INSIDE.fetch_sub(1, Ordering::SeqCst);
        loaded
    }

    #[test]
    fn asks_during_a_reload_coalesce_into_one_more_reload_and_never_run_two_at_once() {
        let mut app = app_over(Sources::default());
        Arc::get_mut(&mut app).expect("a new app").reloads.load = gated_load;
        let first = ask(&app, Trigger::Watch);
        assert_eq!(first, 1);
        let start = Instant::now();
        while CALLS.load(Ordering::SeqCst) == 0 {
            assert!(start.elapsed() < LIMIT, "the first reload did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        // While the first load is held: nineteen more asks, from four threads.
        assert_eq!(ask(&app, Trigger::Request), 2);
        let askers: Vec<_> = (0..4)
            .map(|_| {
                let app = app.clone();
                std::thread::spawn(move || (0..18 / 4 + 1).map(|_| ask(&app, Trigger::Signal)).max())
            })
            .collect();
        let last = askers.into_iter().filter_map(|t| t.join().unwrap()).max().unwrap();
        assert_eq!(last, 2 + 4 * 5);
        GATE.open();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let (report_first, report_last) = runtime.block_on(async {
            tokio::time::timeout(LIMIT, async { (wait(&app, first).await, wait(&app, last).await) })
                .await
                .expect("the reloads end")
        });
        assert_eq!(
            CALLS.load(Ordering::SeqCst),
            2,
            "one load for the first ask, one for the rest"
        );
        assert!(!OVERLAPPED.load(Ordering::SeqCst), "two loads ran at once");
        let report_last = report_last.expect("a report");
        assert_eq!(
            report_last.trigger,
            Trigger::Request,
            "the first ask the second reload covers"
        );
        assert_eq!(report_last.result, Outcome::Unchanged);
        assert!(report_first.is_some());
        assert_eq!(app.reloads.counts().unchanged, 2);
        // The thread ends once it finds no ticket left after its last report.
        let start = Instant::now();
        while app.reloads.tickets().running {
            assert!(start.elapsed() < LIMIT, "the reload thread did not end");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            ask(&app, Trigger::Request),
            last + 1,
            "a later ask starts a thread again"
        );
    }

    /// A reload held until the test lets it go (its own gate: tests run at once).
    static SLOW: Gate = Gate::new();

    fn slow_load(sources: &Sources, previous: Option<&Snapshot>) -> Result<Snapshot, Diagnostics> {
        SLOW.pass(LIMIT);
        Snapshot::load_after(sources, previous)
    }

    #[test]
    fn a_reload_slower_than_the_request_may_take_is_answered_202_and_still_finishes() {
        use axum::response::IntoResponse;
        let mut app = app_over(Sources::default());
        {
            let a = Arc::get_mut(&mut app).expect("a new app");
            a.reloads.load = slow_load;
            a.reload_wait = Duration::from_millis(50);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let resp = runtime
            .block_on(async {
                tokio::time::timeout(LIMIT, post(State(app.clone()), RawQuery(None), Bytes::new()))
                    .await
                    .expect("the request is answered within its time")
            })
            .map(IntoResponse::into_response)
            .unwrap_or_else(|e| panic!("an error answer: {e:?}"));
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        let v = runtime.block_on(crate::serve::api::json_of(resp));
        assert_eq!(
            (v["type"].as_str(), v["result"].as_str()),
            (Some("reload"), Some("running"))
        );
        assert!(v["message"].as_str().unwrap().contains("/v1/status"));
        // Let the load go: the reload finishes and /v1/status's counts show it.
        SLOW.open();
        let report = runtime
            .block_on(async { tokio::time::timeout(LIMIT, wait(&app, 1)).await })
            .expect("the reload ends")
            .expect("a report");
        assert_eq!(report.result, Outcome::Unchanged);
        assert_eq!(app.reloads.counts().unchanged, 1);
    }
}
