//! The inbox's API (`/v1/inbox/...`): the conversation store of `--db`
//! read like `commroute conversations`, errors naming the query parameter,
//! and the event stream: a change after a replay in another process
//! commits, and a prompt shutdown while a stream is open.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::server::{fits, Server, LIMIT};
use crate::support::process::{output_within, wait_within, DEADLINE};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A timeline of the repository's `scenarios/timelines/`.
pub fn timeline(name: &str) -> PathBuf {
    root().join("scenarios/timelines").join(name)
}

/// Runs `commroute simulate TIMELINE --db DB` to its end, in another process.
pub fn simulate(timeline: &Path, db: &Path) {
    let out = output_within(
        Command::new(env!("CARGO_BIN_EXE_commroute"))
            .arg("simulate")
            .arg(timeline)
            .arg("--db")
            .arg(db),
        None,
        DEADLINE,
    );
    assert!(
        out.status.success(),
        "simulate {} failed: {}",
        timeline.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The glow world, the shipped rules and `--db DB`.
pub fn with_db(db: &Path) -> Server {
    with_db_and(db, &[])
}

/// As [`with_db`], and `--token-file` with the token `s3cret` (written
/// beside the store as `token`).
pub fn with_db_and_token(db: &Path) -> Server {
    let token = db.with_file_name("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    with_db_and(db, &["--token-file", token.to_str().expect("a UTF-8 path")])
}

fn with_db_and(db: &Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "--world",
        "examples/glow-world.yaml",
        "--db",
        db.to_str().expect("a UTF-8 path"),
    ];
    args.extend_from_slice(extra);
    Server::start(root(), &args)
}

#[test]
fn without_db_the_inbox_answers_404_saying_to_start_with_it() {
    let s = Server::glow();
    for path in [
        "/v1/inbox/locations",
        "/v1/inbox/conversations?location=A",
        "/v1/inbox/conversation?client=cleo",
        "/v1/inbox/events",
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        let v = r.json();
        fits(&s, "Error", &v);
        assert_eq!(v["error"], "not_found", "{path}");
        assert_eq!(
            v["message"],
            "the inbox shows a conversation store, and this service was started without one"
        );
        assert!(v["valid"].as_str().unwrap().contains("--db FILE"), "{v}");
    }
}

#[test]
fn the_inbox_lists_a_locations_conversations_like_the_cli_and_names_the_field_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    simulate(&timeline("store-screen-shows-10-of-12.yaml"), &db);
    let s = with_db(&db);

    let v = s.get("/v1/inbox/locations").json();
    fits(&s, "InboxLocations", &v);
    assert_eq!(v["type"], "inbox_locations");
    assert_eq!(v["store"], "ready");
    assert_eq!(v["in_store_limit"], 10);
    assert_eq!(
        v["locations"],
        serde_json::json!([{"id": "A", "name": "Downtown", "conversations": 12, "unread": 12}]),
        "A's name comes from the service's world"
    );

    // The store's screen: the 10 most recent, in the CLI's order and words.
    let v = s.get("/v1/inbox/conversations?location=A&view=store").json();
    fits(&s, "InboxConversations", &v);
    let clients: Vec<&str> = v["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client"].as_str().unwrap())
        .collect();
    assert_eq!(
        clients,
        ["c01", "c03", "c12", "c11", "c10", "c09", "c08", "c07", "c06", "c05"]
    );
    assert_eq!((v["shown"].as_u64(), v["total"].as_u64()), (Some(10), Some(12)));
    assert_eq!(
        v["summary"],
        "10 of 12 conversations at A (the store's screen shows at most 10)"
    );
    assert_eq!(v["conversations"][1]["unread"], 2);
    // The full list.
    let v = s.get("/v1/inbox/conversations?location=A&view=all").json();
    assert_eq!((v["shown"].as_u64(), v["total"].as_u64()), (Some(12), Some(12)));
    assert_eq!(v["summary"], "12 conversations at A");

    // An unknown location: 404 at `?location`, with the CLI's hint.
    let r = s.get("/v1/inbox/conversations?location=a");
    assert_eq!(r.status, 404, "{}", r.body);
    let e = r.json();
    fits(&s, "Error", &e);
    assert_eq!(e["field"], "?location");
    assert_eq!(
        e["message"],
        "no conversation in the store concerns location `a`; did you mean `A`?"
    );
    assert_eq!(e["valid"], "one of `A`");
    let e = s.get("/v1/inbox/conversations?location=Zed").json();
    assert_eq!(
        e["message"],
        "no conversation in the store concerns location `Zed`; its conversations concern `A`"
    );
    // A missing location, an unknown view, an unknown parameter.
    for (path, field) in [
        ("/v1/inbox/conversations", "?location"),
        ("/v1/inbox/conversations?location=A&view=some", "?view"),
        ("/v1/inbox/conversations?location=A&sort=old", "?sort"),
        ("/v1/inbox/conversation", "?client"),
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(r.json()["field"], field, "{path}");
    }

    // One conversation, every message; an unknown client names the field.
    let v = s.get("/v1/inbox/conversation?client=c01").json();
    assert_eq!(v["type"], "inbox_conversation");
    assert_eq!(v["started"], "the client, out of the blue");
    assert_eq!(v["messages"].as_array().unwrap().len(), 2);
    assert_eq!(v["messages"][1]["text"], "Yes, 11am works");
    assert_eq!(v["messages"][1]["attempts"][0]["channel"], "sms");
    let r = s.get("/v1/inbox/conversation?client=c1");
    assert_eq!(r.status, 404);
    let e = r.json();
    assert_eq!(e["field"], "?client");
    assert_eq!(
        e["message"],
        "client `c1` has no conversation in the store; did you mean `c01`?"
    );
    // No answer names the store's file.
    for path in ["/v1/inbox/locations", "/v1/inbox/conversations?location=Q"] {
        let body = s.get(path).body;
        assert!(!body.contains("store.db"), "{path}: {body}");
    }
}

#[test]
fn a_conversation_shows_attempts_failure_notices_and_who_heard_the_audio_cue() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    simulate(&timeline("full-day-two-locations.yaml"), &db);
    let s = with_db(&db);
    // Nina's long SMS failed: the notice, and rita (live at B) heard the cue.
    let v = s.get("/v1/inbox/conversation?client=nina").json();
    fits(&s, "InboxConversation", &v);
    let m = &v["messages"][1];
    assert_eq!(m["status"], "failed", "{v}");
    assert_eq!(m["notices"][0]["text"], "Message failed to deliver");
    assert_eq!(m["notices"][0]["audio_cue_to"], serde_json::json!(["rita"]));
    assert_eq!(m["notices"][0]["cue"], "audio cue for rita");
    // Paul's push failed, then SMS: two attempts; staff started it.
    let v = s.get("/v1/inbox/conversation?client=paul").json();
    fits(&s, "InboxConversation", &v);
    assert_eq!(v["started"], "staff: sam from A");
    let attempts: Vec<String> = v["messages"][1]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {}", a["channel"].as_str().unwrap(), a["status"].as_str().unwrap()))
        .collect();
    assert_eq!(attempts, ["push failed", "sms sent"], "{v}");
}

/// An open `GET /v1/inbox/events` on a raw connection.
struct Stream {
    t: TcpStream,
    seen: String,
}

impl Stream {
    fn open(s: &Server) -> Stream {
        let addr = s.base.strip_prefix("http://").unwrap();
        let mut t = TcpStream::connect(addr).unwrap();
        t.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        t.write_all(
            format!("GET /v1/inbox/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").as_bytes(),
        )
        .unwrap();
        Stream { t, seen: String::new() }
    }

    /// Reads until what was read holds `what` (after `from`); `None` when the
    /// stream ended first. Fails the test past `limit`.
    fn until(&mut self, from: usize, what: &str, limit: Duration) -> Option<usize> {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(i) = self.seen[from..].find(what) {
                return Some(from + i);
            }
            assert!(
                Instant::now() < deadline,
                "no `{what}` on the event stream within {limit:?}; it sent: {:?}",
                self.seen
            );
            match self.t.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => return None,
            }
        }
    }
}

#[test]
fn the_event_stream_sends_a_change_after_a_replay_in_another_process_commits() {
    let dir = tempfile::tempdir().unwrap();
    // No store yet: the service waits for one.
    let db = dir.path().join("later.db");
    let s = with_db(&db);
    let mut events = Stream::open(&s);
    let open = events.until(0, "event: open", LIMIT).expect("an open event");
    assert!(events.seen.starts_with("HTTP/1.1 200"), "{}", events.seen);
    assert!(events
        .seen
        .to_ascii_lowercase()
        .contains("content-type: text/event-stream"));
    assert!(events.seen.contains("\"store\":\"empty\""), "{}", events.seen);
    // Nothing changes: no event for a while (two and a half looks).
    std::thread::sleep(Duration::from_millis(500));
    let _ = events.until(open, "\n\n", Duration::from_secs(1));
    let quiet = events.seen.len();
    std::thread::sleep(Duration::from_millis(500));
    let mut buf = [0u8; 1024];
    if let Ok(n) = events.t.read(&mut buf) {
        events.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(
        !events.seen[quiet..].contains("event: change"),
        "a change without a write: {}",
        events.seen
    );

    let wrote = Instant::now();
    simulate(&timeline("failed-sms-notice-and-cue.yaml"), &db);
    let done = wrote.elapsed();
    let at = events
        .until(open, "event: change", Duration::from_secs(5))
        .expect("a change event");
    eprintln!(
        "inbox events: change seen {} ms after the replay started (the replay took {} ms)",
        wrote.elapsed().as_millis(),
        done.as_millis()
    );
    assert!(events.seen[at..].contains("\"store\":\"ready\""), "{}", events.seen);
}

#[test]
fn shutdown_ends_an_open_event_stream_and_finishes_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    simulate(&timeline("failed-sms-notice-and-cue.yaml"), &db);
    let mut s = with_db(&db);
    let mut events = Stream::open(&s);
    events.until(0, "event: open", LIMIT).expect("an open event");
    let pid = s.lines.child.id().to_string();
    let start = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // The stream ends (the connection closes) ...
    assert!(events.until(0, "never sent", LIMIT).is_none(), "the stream did not end");
    // ... and the service exits well within its 11 s grace for requests in flight.
    let status = wait_within(&mut s.lines.child, LIMIT, "commroute serve after SIGTERM");
    let took = start.elapsed();
    eprintln!(
        "inbox events: shutdown with an open event stream took {} ms",
        took.as_millis()
    );
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_secs(3),
        "shutdown took {took:?} with an event stream open"
    );
}

#[test]
fn the_event_stream_needs_the_token_like_every_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let s = with_db_and_token(&db);
    let r = s.get("/v1/inbox/events");
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["field"], "Authorization");
    // With it, the stream opens.
    let addr = s.base.strip_prefix("http://").unwrap();
    let mut t = TcpStream::connect(addr).unwrap();
    t.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    t.write_all(
        format!("GET /v1/inbox/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer s3cret\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut events = Stream { t, seen: String::new() };
    events.until(0, "event: open", LIMIT).expect("an open event");
    assert!(events.seen.starts_with("HTTP/1.1 200"), "{}", events.seen);
}
