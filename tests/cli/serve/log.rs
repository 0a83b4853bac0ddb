//! `--decision-log FILE`: one line per decision in the shared format,
//! written through on SIGTERM, readable as event lines.

use std::path::Path;

use super::server::Server;
use crate::support::run::Run;

fn start(log: &Path) -> Server {
    Server::start(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            "--world",
            "examples/glow-world.yaml",
            "--decision-log",
            log.to_str().unwrap(),
        ],
    )
}

fn read_log(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("the decision log exists")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn keys(v: &serde_json::Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn the_decision_log_has_one_line_per_decision_in_the_shared_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    std::fs::write(&path, "").unwrap();
    let s = start(&path);
    let status = s.get("/v1/status").json();
    let a = s.post("/v1/inbound", r#"{"id":"e1","client":"cleo","answering":"campaign@B"}"#);
    // Pretty-printed, without an id, fields in another order.
    let b = s.post(
        "/v1/inbound",
        "{\n  \"answering\": \"confirmation@A\",\n  \"client\": \"cleo\"\n}",
    );
    let c = s.post(
        "/v1/outbound",
        r#"{"id":"e3","client":"cleo","from_account":"glow-downtown","text":"See you \"soon\""}"#,
    );
    let d = s.post(
        "/v1/inbound?explain=true",
        r#"{"id":"e4","client":"cleo","answering":"campaign@B"}"#,
    );
    assert_eq!(s.post("/v1/inbound", r#"{"client":"nobody"}"#).status, 422);
    assert_eq!(s.terminate().code(), Some(0));

    let lines = read_log(&path);
    assert_eq!(lines.len(), 4, "one line per decision, none for the error: {lines:#?}");
    let rule_set = status["rule_set"].as_str().unwrap();
    let world_version = status["world_version"].as_str().unwrap();
    for l in &lines {
        assert_eq!(l["rule_set"], rule_set);
        assert_eq!(l["world_version"], world_version);
        let at = l["at"].as_str().expect("an `at`");
        assert!(at.len() == 24 && at.ends_with('Z') && at.starts_with("20"), "{at}");
        assert_eq!(l["decision"]["id"], l["id"], "{l}");
    }
    assert_eq!(
        keys(&lines[0]),
        [
            "id",
            "type",
            "client",
            "answering",
            "at",
            "rule_set",
            "world_version",
            "decision"
        ]
    );
    assert_eq!(lines[0]["id"], "e1");
    assert_eq!(lines[0]["type"], "inbound");
    assert_eq!(lines[0]["answering"], "campaign@B");
    assert_eq!(lines[0]["decision"], a.json(), "the decision is the answer");

    assert_eq!(
        keys(&lines[1]),
        [
            "id",
            "type",
            "answering",
            "client",
            "at",
            "rule_set",
            "world_version",
            "decision"
        ]
    );
    assert_eq!(lines[1]["id"], b.json()["id"], "the id the service gave");
    assert_eq!(lines[1]["decision"], b.json());

    assert_eq!(lines[2]["type"], "outbound");
    assert_eq!(lines[2]["text"], "See you \"soon\"");
    assert_eq!(lines[2]["from_account"], "glow-downtown");
    assert_eq!(lines[2]["decision"], c.json());

    // With explain, the log keeps the plain decision, without the trace.
    let explained = d.json();
    assert!(explained["trace"].is_array());
    assert_eq!(lines[3]["decision"]["rule"], explained["rule"]);
    assert!(lines[3]["decision"].get("trace").is_none());
    assert_eq!(lines[3]["decision"]["rule_set"], rule_set);
}

#[test]
fn sigterm_writes_every_answered_decision_to_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new").with_extension("jsonl");
    let s = start(&path);
    for i in 0..300 {
        let r = s.post(
            "/v1/inbound",
            &format!(r#"{{"id":"n{i}","client":"cleo","answering":"campaign@B"}}"#),
        );
        assert_eq!(r.status, 200);
    }
    let answer = super::batch::post_batch(
        &s,
        (0..200)
            .map(|i| format!("{{\"id\":\"b{i}\",\"type\":\"inbound\",\"client\":\"nina\"}}\n"))
            .collect::<String>()
            .as_bytes(),
    );
    assert_eq!(answer.lines().count(), 200);
    // Straight after the last answer: nothing may still sit in a buffer.
    assert_eq!(s.terminate().code(), Some(0));
    let lines = read_log(&path);
    assert_eq!(lines.len(), 500);
    let ids: Vec<String> = lines.iter().map(|l| l["id"].as_str().unwrap().to_owned()).collect();
    let want: Vec<String> = (0..300)
        .map(|i| format!("n{i}"))
        .chain((0..200).map(|i| format!("b{i}")))
        .collect();
    assert_eq!(ids, want, "in the order answered, batch lines in input order");
    assert_eq!(
        keys(&lines[300]),
        ["id", "type", "client", "at", "rule_set", "world_version", "decision"]
    );
    assert_eq!(lines[300]["decision"]["rule_set"], lines[300]["rule_set"]);
}

#[test]
fn the_log_is_appended_to_and_counted_in_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
    let s = start(&path);
    for _ in 0..3 {
        assert_eq!(s.post("/v1/inbound", r#"{"client":"nina"}"#).status, 200);
    }
    // The writer gathers lines for up to a millisecond or so: wait for them.
    let deadline = std::time::Instant::now() + super::server::LIMIT;
    loop {
        let m = super::metrics::scrape(&s);
        let written = super::metrics::value(&m, "commroute_decision_log_lines_total", &[]);
        if written == 3.0 {
            assert_eq!(
                super::metrics::value(&m, "commroute_decision_log_errors_total", &[]),
                0.0
            );
            assert_eq!(
                super::metrics::value(&m, "commroute_decision_log_lost_lines_total", &[]),
                0.0
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "only {written} lines written");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(s.terminate().code(), Some(0));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("{\"earlier\":true}\n"), "appended, not truncated");
    assert_eq!(text.lines().count(), 4);
}

#[test]
fn a_decision_log_that_cannot_be_opened_stops_the_start_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("log.jsonl");
    let (_, err) = Run::new(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--world",
        "examples/glow-world.yaml",
        "--decision-log",
        path.to_str().unwrap(),
    ])
    .expect(2);
    assert!(err.contains("cannot open the decision log"), "{err}");
    assert!(err.contains("missing-dir"), "{err}");
}

/// The log's lines are event lines plus `at`, `rule_set`, `world_version`
/// and `decision`. Without those four, `route batch` reads them today and
/// decides each as the service did; reading whole log lines is the event
/// reader's part (it then ignores the four).
#[test]
fn log_lines_less_the_added_fields_are_event_lines_route_batch_decides_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let s = start(&path);
    let bodies = [
        r#"{"id":"e1","client":"cleo","answering":"campaign@B"}"#,
        r#"{"client":"cleo","staff":"sam","from":"A"}"#,
        r#"{"id":"e3","client":"nina"}"#,
    ];
    for b in bodies {
        assert_eq!(s.post("/v1/inbound", b).status, 200);
    }
    let out = s.post(
        "/v1/outbound",
        r#"{"id":"e4","client":"gwen","from_account":"glow-uptown","text":"See you"}"#,
    );
    assert_eq!(out.status, 200);
    assert_eq!(s.terminate().code(), Some(0));
    let lines = read_log(&path);
    assert_eq!(lines.len(), 4);
    let mut events = String::new();
    for l in &lines {
        let mut event = l.as_object().unwrap().clone();
        for added in ["at", "rule_set", "world_version", "decision"] {
            assert!(event.remove(added).is_some(), "{added} in {l}");
        }
        events.push_str(&serde_json::to_string(&event).unwrap());
        events.push('\n');
    }
    let (decided, _) = Run::new(&["route", "batch", "--world", "examples/glow-world.yaml"])
        .stdin(events)
        .expect(0);
    let decided: Vec<serde_json::Value> = decided.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(decided.len(), 4);
    for (l, d) in lines.iter().zip(&decided) {
        let mut logged = l["decision"].clone();
        let o = logged.as_object_mut().unwrap();
        o.remove("rule_set");
        o.remove("world_version");
        assert_eq!(&logged, d, "route batch decides a logged event as the service did");
    }
}

#[test]
#[cfg(target_os = "linux")]
fn a_failing_disk_loses_lines_counted_in_the_metrics_never_a_request() {
    // Every write to /dev/full fails with "no space left on device".
    let s = start(Path::new("/dev/full"));
    for _ in 0..5 {
        assert_eq!(s.post("/v1/inbound", r#"{"client":"nina"}"#).status, 200);
    }
    let deadline = std::time::Instant::now() + super::server::LIMIT;
    loop {
        let m = super::metrics::scrape(&s);
        let lost = super::metrics::value(&m, "commroute_decision_log_lost_lines_total", &[]);
        if lost == 5.0 {
            assert!(super::metrics::value(&m, "commroute_decision_log_errors_total", &[]) >= 1.0);
            assert_eq!(
                super::metrics::value(&m, "commroute_decision_log_lines_total", &[]),
                0.0
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{lost} lines counted lost");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(s.terminate().code(), Some(0));
}

/// A log nobody drains (a named pipe not yet read) fills the queue: the
/// batch waits, the waits are counted, and once the log drains every
/// decision is in it.
#[test]
#[cfg(target_os = "linux")]
fn a_full_log_queue_makes_requests_wait_and_loses_nothing() {
    use std::io::BufRead;
    use std::sync::mpsc;

    const LINES: usize = 60_000;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("log.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    // The reader opens the pipe (the service's open waits for it), then
    // reads nothing until told.
    let (go, wait_for_go) = mpsc::channel::<()>();
    let reader_fifo = fifo.clone();
    let reader = std::thread::spawn(move || {
        let f = std::fs::File::open(&reader_fifo).expect("open the pipe");
        wait_for_go
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("told to read");
        let mut ids = Vec::new();
        for line in std::io::BufReader::new(f).lines() {
            let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            ids.push(v["id"].as_str().unwrap().to_owned());
        }
        ids
    });
    let s = start(&fifo);
    let body: String = (0..LINES)
        .map(|i| format!("{{\"id\":\"q{i}\",\"type\":\"inbound\",\"client\":\"cleo\",\"answering\":\"campaign@B\"}}\n"))
        .collect();
    let base = s.base.clone();
    let batch = std::thread::spawn(move || super::batch::post_batch_to(&base, body.as_bytes()).lines().count());
    let deadline = std::time::Instant::now() + super::server::LIMIT;
    loop {
        let waits = super::metrics::value(&super::metrics::scrape(&s), "commroute_decision_log_waits_total", &[]);
        if waits >= 1.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the batch never waited for the log"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!batch.is_finished(), "the batch waits while the log is full");
    go.send(()).unwrap();
    let answered =
        crate::support::process::within(super::server::LIMIT, "the batch after the log drained", move || {
            batch.join().unwrap()
        });
    assert_eq!(answered, LINES);
    let m = super::metrics::scrape(&s);
    assert_eq!(
        super::metrics::value(&m, "commroute_decision_log_lost_lines_total", &[]),
        0.0
    );
    assert_eq!(s.terminate().code(), Some(0));
    let ids = crate::support::process::within(super::server::LIMIT, "reading the log", move || reader.join().unwrap());
    assert_eq!(ids.len(), LINES, "every decision logged");
    assert!(ids.iter().enumerate().all(|(i, id)| *id == format!("q{i}")), "in order");
}

/// The loop the service closes: decisions logged by the running service, a
/// rule edit, and `diff --events` on the log as it is, which must count
/// exactly the logged decisions the edit changes (found here by deciding the
/// same log again with `route batch` under the edited rules).
#[test]
fn the_services_log_read_by_diff_events_counts_exactly_the_decisions_a_rule_edit_changes() {
    let dir = tempfile::tempdir().unwrap();
    for side in ["base", "head"] {
        std::fs::create_dir(dir.path().join(side)).unwrap();
        crate::support::rules::copy_shipped_rules(&dir.path().join(side));
    }
    let world = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/glow-world.yaml");
    let world = world.to_str().unwrap();
    let log = dir.path().join("decisions.jsonl");
    let s = Server::start(
        dir.path(),
        &[
            "--rules",
            "base",
            "--world",
            world,
            "--decision-log",
            log.to_str().unwrap(),
        ],
    );
    let inline_cleo = r#"{"clients":[{"id":"cleo","name":"Cleo","account":"glow-downtown","locations":["A","B"],"last_appointment_at":"B"}]}"#;
    let requests = [
        (
            "/v1/inbound",
            r#"{"client":"cleo","answering":"campaign@B"}"#.to_owned(),
        ),
        (
            "/v1/inbound",
            r#"{"client":"cleo","answering":"campaign@A"}"#.to_owned(),
        ),
        (
            "/v1/inbound",
            r#"{"client":"cleo","answering":"confirmation@A"}"#.to_owned(),
        ),
        (
            "/v1/inbound",
            r#"{"client":"gwen","answering":"campaign@A"}"#.to_owned(),
        ),
        ("/v1/inbound", r#"{"client":"paul"}"#.to_owned()),
        (
            "/v1/inbound",
            r#"{"client":"cleo","staff":"sam","from":"B"}"#.to_owned(),
        ),
        (
            "/v1/outbound",
            r#"{"client":"cleo","from_account":"glow-downtown","text":"See you"}"#.to_owned(),
        ),
        (
            "/v1/inbound",
            format!(r#"{{"client":"cleo","answering":"campaign@A","facts":{inline_cleo}}}"#),
        ),
    ];
    for (path, body) in &requests {
        let r = s.post(path, body);
        assert_eq!(r.status, 200, "{path} {body}: {}", r.body);
    }
    assert_eq!(s.terminate().code(), Some(0));
    let logged = read_log(&log);
    assert_eq!(logged.len(), requests.len());

    // The edit: the campaign rule moved below the rule for other replies.
    crate::support::rules::move_campaign_rule_down(&dir.path().join("head"));

    // Which logged decisions the edit changes, one by one.
    let (out, _) = Run::new(&[
        "route",
        "batch",
        "--rules",
        "head",
        "--world",
        world,
        "--input",
        "decisions.jsonl",
    ])
    .in_dir(dir.path())
    .expect(0);
    let redecided: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(redecided.len(), logged.len());
    let fields = [
        "lands_at",
        "delivered_to",
        "rule",
        "channel",
        "ghost_text",
        "text",
        "text_rule",
    ];
    let changed = logged
        .iter()
        .zip(&redecided)
        .filter(|(l, r)| fields.iter().any(|f| l["decision"][f] != r[f]))
        .count();
    assert_eq!(
        changed, 4,
        "the edit moves the campaign replies away from the last appointment's location"
    );

    let (out, _) = Run::new(&[
        "diff",
        "--base",
        "base",
        "--head",
        "head",
        "--world",
        world,
        "--events",
        "decisions.jsonl",
        "--format",
        "json",
    ])
    .in_dir(dir.path())
    .expect(0);
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary", "{out}");
    assert_eq!(summary["events"], requests.len(), "{out}");
    assert_eq!(summary["events_changed"], changed, "{out}");
}

/// An explained decision with inline staff was logged with the loaded
/// world's names: the staff member at the same index (`omar`), not `zed`.
#[test]
fn an_explained_decision_with_inline_staff_is_logged_with_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let s = start(&path);
    let body = r#"{"id":"x1","client":"cleo","answering":"campaign@B","facts":{"staff":[{"id":"zed","name":"Zed","locations":["A","B"],"logged_in_at":"A"}]}}"#;
    let r = s.post("/v1/inbound?explain=true", body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["delivered_to"], serde_json::json!(["zed"]));
    assert_eq!(s.terminate().code(), Some(0));
    let logged = read_log(&path);
    assert_eq!(logged.len(), 1);
    assert_eq!(
        logged[0]["decision"]["delivered_to"],
        serde_json::json!(["zed"]),
        "{}",
        logged[0]
    );
}
