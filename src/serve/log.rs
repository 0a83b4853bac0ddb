//! The decision log (`--decision-log FILE`): one JSON line per decision,
//! appended off the request path.
//!
//! A line is the event as received, with its id (the request's or the one
//! the service gave it) and its `type` first, then the request's own fields
//! unchanged, then `at` (when it was decided, RFC 3339 UTC), `rule_set`,
//! `world_version` and `decision` (the decision answer; the lines of a
//! batch share the `at` of their chunk):
//!
//! ```json
//! {"id":"e1","type":"inbound","client":"cleo","answering":"campaign@B","at":"2026-12-02T08:00:00.123Z","rule_set":"5655545e697ed476","world_version":"4324a64850a0f29f","decision":{"id":"e1",...}}
//! ```
//!
//! Requests hand their lines to a writer thread through a queue bounded by
//! bytes ([`BUDGET`]). When the queue is full the request waits for room:
//! backpressure, never a lost line. Each wait is counted
//! (`commroute_decision_log_waits_total`). The writer appends what has
//! queued up in one write; a failed write is logged and counted, with the
//! lines it lost. On shutdown the queue is drained, the file flushed and
//! synced ([`DecisionLog::finish`]).

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{self, Write};
use std::path::Path;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use super::live::Snapshot;
use super::App;
use crate::jsonl::{push_json_str, Direction};

/// The most bytes of log lines waiting for the writer; a request that would
/// go over it waits.
pub(crate) const BUDGET: usize = 8 * 1024 * 1024;

/// The writer writes once this much has queued up, even while more comes.
const WRITE_AT: usize = 1024 * 1024;

/// How long shutdown waits for the log to be written and synced.
const FINISH_WITHIN: Duration = Duration::from_secs(30);

enum Msg {
    /// Whole lines, how many, and the room they hold in the queue.
    Lines(Vec<u8>, u64, OwnedSemaphorePermit),
    /// Write and sync everything before this, then answer.
    Sync(oneshot::Sender<()>),
}

#[derive(Debug, Default)]
struct Stats {
    lines: AtomicU64,
    waits: AtomicU64,
    errors: AtomicU64,
    lost: AtomicU64,
}

/// The decision log's counts, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Lines written.
    pub(crate) lines: u64,
    /// Decisions that waited for room in the queue.
    pub(crate) waits: u64,
    /// Failed writes and syncs.
    pub(crate) errors: u64,
    /// Lines lost to failed writes.
    pub(crate) lost: u64,
}

/// The open decision log: where requests send their lines.
#[derive(Debug)]
pub(crate) struct DecisionLog {
    tx: mpsc::UnboundedSender<Msg>,
    room: Arc<Semaphore>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Lines(_, n, _) => write!(f, "Lines({n})"),
            Msg::Sync(_) => f.write_str("Sync"),
        }
    }
}

impl DecisionLog {
    /// Opens `path` for appending (creating it) and starts the writer thread.
    pub(crate) fn open(path: &Path) -> io::Result<DecisionLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let writer_stats = stats.clone();
        std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || write_loop(file, rx, &writer_stats))?;
        Ok(DecisionLog {
            tx,
            room: Arc::new(Semaphore::new(BUDGET)),
            stats,
        })
    }

    /// The counts so far.
    pub(crate) fn counts(&self) -> Counts {
        Counts {
            lines: self.stats.lines.load(Ordering::Relaxed),
            waits: self.stats.waits.load(Ordering::Relaxed),
            errors: self.stats.errors.load(Ordering::Relaxed),
            lost: self.stats.lost.load(Ordering::Relaxed),
        }
    }

    fn permits(bytes: &[u8]) -> u32 {
        // A run of lines larger than the whole budget takes all of it.
        bytes.len().clamp(1, BUDGET) as u32
    }

    /// Queues `lines` (`n` whole lines), waiting for room when the queue is full.
    pub(crate) async fn send(&self, lines: Vec<u8>, n: u64) {
        let want = DecisionLog::permits(&lines);
        let permit = match self.room.clone().try_acquire_many_owned(want) {
            Ok(p) => p,
            Err(_) => {
                self.stats.waits.fetch_add(1, Ordering::Relaxed);
                match self.room.clone().acquire_many_owned(want).await {
                    Ok(p) => p,
                    Err(_) => return,
                }
            }
        };
        self.queue(lines, n, permit);
    }

    /// [`DecisionLog::send`] for a thread outside the async runtime (the
    /// batch pipeline's): blocks while the queue is full.
    pub(crate) fn send_blocking(&self, lines: Vec<u8>, n: u64) {
        let want = DecisionLog::permits(&lines);
        let permit = match self.room.clone().try_acquire_many_owned(want) {
            Ok(p) => p,
            Err(_) => {
                self.stats.waits.fetch_add(1, Ordering::Relaxed);
                match block_on(self.room.clone().acquire_many_owned(want)) {
                    Ok(p) => p,
                    Err(_) => return,
                }
            }
        };
        self.queue(lines, n, permit);
    }

    fn queue(&self, lines: Vec<u8>, n: u64, permit: OwnedSemaphorePermit) {
        if self.tx.send(Msg::Lines(lines, n, permit)).is_err() {
            // Only when the writer thread is gone, which it is not while the
            // service runs; say so rather than lose the lines silently.
            self.stats.lost.fetch_add(n, Ordering::Relaxed);
            tracing::warn!(lines = n, "the decision log's writer has stopped: lines lost");
        }
    }

    /// Writes every line queued so far, flushes and syncs the file; at
    /// shutdown, once the last request is answered.
    pub(crate) async fn finish(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Sync(ack)).is_err() {
            return;
        }
        if tokio::time::timeout(FINISH_WITHIN, done).await.is_err() {
            tracing::warn!("the decision log was not synced within {FINISH_WITHIN:?}");
        }
    }
}

/// Waits for `f` on this thread (no runtime needed: the semaphore's future
/// only needs a waker).
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let mut f = pin!(f);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// The writer thread: takes everything queued, appends it in one write,
/// and goes back to wait. Ends when every sender is gone.
fn write_loop(mut file: File, mut rx: mpsc::UnboundedReceiver<Msg>, stats: &Stats) {
    let mut buf: Vec<u8> = Vec::with_capacity(WRITE_AT + 64 * 1024);
    let mut lines = 0u64;
    let mut permits = Vec::new();
    let mut failing = false;
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        let mut taken = 0usize;
        while let Some(msg) = next {
            taken += 1;
            match msg {
                Msg::Lines(bytes, n, permit) => {
                    buf.extend_from_slice(&bytes);
                    lines += n;
                    permits.push(permit);
                    if buf.len() >= WRITE_AT {
                        write_out(&mut file, &mut buf, &mut lines, stats, &mut failing);
                        permits.clear();
                    }
                }
                Msg::Sync(ack) => {
                    write_out(&mut file, &mut buf, &mut lines, stats, &mut failing);
                    permits.clear();
                    sync(&file, stats);
                    let _ = ack.send(());
                }
            }
            next = rx.try_recv().ok();
        }
        write_out(&mut file, &mut buf, &mut lines, stats, &mut failing);
        permits.clear();
        // Under a steady trickle of requests, waking for every line would
        // cost a wake-up per request; a pause of a millisecond lets lines
        // gather into one write. The queue holds far more than a
        // millisecond of requests, so nobody waits for it.
        if taken < 64 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    write_out(&mut file, &mut buf, &mut lines, stats, &mut failing);
    sync(&file, stats);
}

fn write_out(file: &mut File, buf: &mut Vec<u8>, lines: &mut u64, stats: &Stats, failing: &mut bool) {
    if buf.is_empty() {
        return;
    }
    match file.write_all(buf) {
        Ok(()) => {
            stats.lines.fetch_add(*lines, Ordering::Relaxed);
            if *failing {
                tracing::info!("the decision log is written again");
                *failing = false;
            }
        }
        Err(e) => {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            stats.lost.fetch_add(*lines, Ordering::Relaxed);
            // Once per run of failures, not once per write.
            if !*failing {
                tracing::warn!(error = %e, lines = *lines, "cannot write the decision log: lines lost, counted in commroute_decision_log_lost_lines_total");
                *failing = true;
            }
        }
    }
    buf.clear();
    *lines = 0;
}

fn sync(file: &File, stats: &Stats) {
    if let Err(e) = file.sync_all() {
        stats.errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(error = %e, "cannot sync the decision log");
    }
}

/// The time of a decision as the log writes it: RFC 3339, UTC, milliseconds.
pub(crate) fn now() -> String {
    format!("{:.3}", jiff::Timestamp::now())
}

/// Appends the log line of one decision to `out`.
///
/// `event` is the JSON object received (a request body or an event line);
/// `id_json` is the id to write when the event has none; `decision` is the
/// decision answer (its newline is dropped).
pub(crate) fn push_line(
    out: &mut Vec<u8>,
    event: &[u8],
    id_json: &[u8],
    direction: Direction,
    at: &str,
    snap: &Snapshot,
    decision: &[u8],
) {
    if let Some(head) = fast_head(event) {
        // Already `{"id":..,"type":..` on one line: copied as it came.
        out.extend_from_slice(head);
    } else {
        let fields = Fields::read(event);
        out.extend_from_slice(b"{\"id\":");
        match fields.iter().find(|(k, _)| *k == "id") {
            Some((_, v)) => push_compact(out, v.get().as_bytes()),
            None => out.extend_from_slice(id_json),
        }
        out.extend_from_slice(b",\"type\":");
        out.extend_from_slice(match direction {
            Direction::Inbound => b"\"inbound\"",
            Direction::Outbound => b"\"outbound\"",
        });
        let added = |k: &str| OWN_FIELDS.iter().any(|f| &f[1..f.len() - 1] == k.as_bytes());
        for (key, value) in fields.iter().filter(|(k, _)| *k != "id" && *k != "type" && !added(k)) {
            out.push(b',');
            push_json_str(out, key);
            out.push(b':');
            push_compact(out, value.get().as_bytes());
        }
    }
    out.extend_from_slice(b",\"at\":\"");
    out.extend_from_slice(at.as_bytes());
    out.extend_from_slice(b"\",\"rule_set\":");
    push_json_str(out, &snap.rule_set);
    out.extend_from_slice(b",\"world_version\":");
    push_json_str(out, &snap.world_version);
    out.extend_from_slice(b",\"decision\":");
    out.extend_from_slice(decision.strip_suffix(b"\n").unwrap_or(decision));
    out.extend_from_slice(b"}\n");
}

/// The fields the log adds after the event's own; an event's own copies
/// of them are left out.
const OWN_FIELDS: [&[u8]; 4] = [b"\"at\"", b"\"rule_set\"", b"\"world_version\"", b"\"decision\""];

/// When `event` is one line starting `{"id":"..","type":"..",` (as event
/// lines usually do), everything before its closing brace.
fn fast_head(event: &[u8]) -> Option<&[u8]> {
    let rest = event.strip_prefix(b"{\"id\":\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    let rest = rest[end..].strip_prefix(b"\",\"type\":\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    if !matches!(rest.get(end + 1), Some(b',' | b'}')) || event.iter().any(|&b| b == b'\n' || b == b'\r') {
        return None;
    }
    // An event that carries a decision of its own (a log line sent again)
    // is rewritten without it.
    if OWN_FIELDS.iter().any(|key| event.windows(key.len()).any(|w| w == *key)) {
        return None;
    }
    let trimmed = event.trim_ascii_end();
    trimmed.strip_suffix(b"}")
}

/// Appends a raw JSON value without the whitespace between its tokens, so
/// that a pretty-printed request still makes one line.
fn push_compact(out: &mut Vec<u8>, raw: &[u8]) {
    let mut in_string = false;
    let mut escaped = false;
    for &b in raw {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
        }
    }
}

/// The fields of a JSON object, in order, values as written.
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'a> Fields<'a> {
    /// The fields of `event`; none when it is not a JSON object (it always
    /// is: the request was read from it already).
    fn read(event: &'a [u8]) -> Fields<'a> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<(String, &'de RawValue)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some((k, raw)) = map.next_entry::<String, &'de RawValue>()? {
                    v.push((k, raw));
                }
                Ok(v)
            }
        }
        let mut de = serde_json::Deserializer::from_slice(event);
        Fields(de.deserialize_map(V).unwrap_or_default())
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &&'a RawValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// Counts a decision of an endpoint and logs it: `body` is the request as
/// received, `id_json` its id, `decision` the plain decision answer.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record(
    app: &App,
    snap: &Snapshot,
    direction: Direction,
    rule: usize,
    id_json: &[u8],
    body: &[u8],
    decision: &[u8],
) {
    app.metrics.decided(snap, direction, rule);
    if let Some(log) = &app.log {
        let mut line = Vec::with_capacity(body.len() + decision.len() + 128);
        push_line(&mut line, body, id_json, direction, &now(), snap, decision);
        log.send(line, 1).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> Snapshot {
        Snapshot::load(&super::super::Sources::default()).expect("the shipped rules load")
    }

    fn line(event: &str, id: &str) -> serde_json::Value {
        let s = snap();
        let mut out = Vec::new();
        push_line(
            &mut out,
            event.as_bytes(),
            id.as_bytes(),
            Direction::Inbound,
            "2026-12-02T08:00:00.123Z",
            &s,
            b"{\"id\":\"e1\",\"type\":\"inbound\"}\n",
        );
        assert!(out.ends_with(b"}\n"));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        serde_json::from_slice(&out).expect("a log line is JSON")
    }

    #[test]
    fn a_request_body_becomes_id_type_fields_at_versions_decision_in_that_order() {
        let v = line(
            "{\n  \"client\": \"cleo\",\n  \"answering\": \"campaign@B\",\n  \"facts\": {\"clients\": [ {\"id\": \"a b\"} ]}\n}",
            "\"BOOT-1\"",
        );
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "id",
                "type",
                "client",
                "answering",
                "facts",
                "at",
                "rule_set",
                "world_version",
                "decision"
            ]
        );
        assert_eq!(v["id"], "BOOT-1");
        assert_eq!(v["facts"]["clients"][0]["id"], "a b", "spaces inside strings are kept");
        assert_eq!(v["decision"]["id"], "e1");
        assert_eq!(v["at"], "2026-12-02T08:00:00.123Z");
    }

    #[test]
    fn the_requests_own_id_wins_and_an_event_line_is_copied_as_it_came() {
        let v = line(r#"{"answering":"campaign@B","id":"e7","client":"cleo"}"#, "\"BOOT-1\"");
        assert_eq!(v["id"], "e7");
        let s = snap();
        let mut out = Vec::new();
        let event = r#"{"id":"e1","type":"inbound","client":"cleo"}"#;
        push_line(&mut out, event.as_bytes(), b"null", Direction::Inbound, "T", &s, b"{}");
        assert!(
            out.starts_with(br#"{"id":"e1","type":"inbound","client":"cleo","at":"T","rule_set":""#),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn a_logged_line_sent_again_is_logged_with_its_new_decision_only() {
        let s = snap();
        let old = r#"{"id":"e1","type":"inbound","client":"cleo","at":"old","rule_set":"old","world_version":"old","decision":{"rule":"old"}}"#;
        let mut out = Vec::new();
        push_line(
            &mut out,
            old.as_bytes(),
            b"null",
            Direction::Inbound,
            "new",
            &s,
            b"{\"rule\":\"new\"}\n",
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("\"decision\"").count(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["id", "type", "client", "at", "rule_set", "world_version", "decision"]
        );
        assert_eq!((&v["at"], &v["decision"]["rule"]), (&"new".into(), &"new".into()));
        assert_eq!(v["rule_set"], s.rule_set);
    }

    #[test]
    fn now_is_rfc3339_utc_with_milliseconds() {
        let at = now();
        assert_eq!(at.len(), "2026-12-02T08:00:00.123Z".len(), "{at}");
        assert!(at.ends_with('Z') && at.as_bytes()[19] == b'.', "{at}");
    }
}
