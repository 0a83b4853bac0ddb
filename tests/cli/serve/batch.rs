//! `POST /v1/batch`: the same lines as `route batch` (plus the versions), in
//! order, streamed both ways in bounded memory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use super::server::{Server, LIMIT};
use crate::support::process;

/// The status line and headers of an answer (names in lower case).
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Sends `chunks` as a chunked `POST /v1/batch` body on a thread of its own
/// while this thread reads the chunked answer, handing each piece of it to
/// `on_data`: client and server both stream, as `curl` does. Every read and
/// write has a deadline.
pub fn stream_batch(
    base: &str,
    chunks: impl Iterator<Item = Vec<u8>> + Send + 'static,
    mut on_data: impl FnMut(&[u8]),
) -> Head {
    let addr = base.strip_prefix("http://").expect("an http address");
    let conn = TcpStream::connect(addr).expect("connect to the service");
    conn.set_read_timeout(Some(LIMIT)).unwrap();
    conn.set_write_timeout(Some(LIMIT)).unwrap();
    let mut w = conn.try_clone().unwrap();
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        w.write_all(
            b"POST /v1/batch HTTP/1.1\r\nhost: test\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        )?;
        for chunk in chunks.filter(|c| !c.is_empty()) {
            write!(w, "{:x}\r\n", chunk.len())?;
            w.write_all(&chunk)?;
            w.write_all(b"\r\n")?;
        }
        w.write_all(b"0\r\n\r\n")?;
        w.flush()
    });
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    r.read_line(&mut line).expect("a status line");
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).expect("a header line");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':').expect("a header");
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let head = Head { status, headers };
    assert_eq!(head.header("transfer-encoding"), Some("chunked"), "{head:?}");
    let mut buf = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).expect("a chunk size");
        let size = usize::from_str_radix(line.trim_end(), 16).unwrap_or_else(|_| panic!("not a chunk size: {line:?}"));
        if size == 0 {
            break;
        }
        buf.resize(size, 0);
        r.read_exact(&mut buf).expect("a whole chunk");
        on_data(&buf);
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf).expect("the chunk's end");
        assert_eq!(&crlf, b"\r\n");
    }
    sender
        .join()
        .expect("the sender does not panic")
        .expect("the body was sent");
    head
}

/// `POST /v1/batch` with `body`; the answer's body.
pub fn post_batch(s: &Server, body: &[u8]) -> String {
    post_batch_to(&s.base, body)
}

/// [`post_batch`] to the service at `base` (`http://127.0.0.1:PORT`).
pub fn post_batch_to(base: &str, body: &[u8]) -> String {
    let chunks: Vec<Vec<u8>> = body.chunks(16 * 1024).map(<[u8]>::to_vec).collect();
    let mut out = Vec::new();
    let head = stream_batch(base, chunks.into_iter(), |d| out.extend_from_slice(d));
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("content-type"), Some("application/x-ndjson"));
    String::from_utf8(out).expect("UTF-8")
}

const EVENTS: &str = r#"{"id":"e1","type":"inbound","client":"cleo","answering":"campaign@B"}
{"id":"e2","type":"outbound","client":"gwen","from_account":"glow-uptown","text":"See you at 3pm!"}

# a comment line
{"id":"e3","type":"inbound","client":"nina"}
{"type":"inbound","id":"e4","client":"cleo","staff":"sam","from":"A"}
{"id":"e5","type":"inbound","client":"nobody"}
not json at all
{"id":"e\"6","type":"inbound","client":"cleo","answering":"confirmation@A"}
{"id":"e7","type":"outbound","client":"cleo","from_account":"glow-downtown","text":"line\nbreak"}
"#;

#[test]
fn batch_answers_are_route_batchs_lines_with_the_versions_in_order() {
    let s = Server::glow();
    let status = s.get("/v1/status").json();
    let expected = process::output_within(
        std::process::Command::new(env!("CARGO_BIN_EXE_commroute"))
            .args(["route", "batch", "--world", "examples/glow-world.yaml"])
            .current_dir(env!("CARGO_MANIFEST_DIR")),
        Some(EVENTS.as_bytes().to_vec()),
        process::DEADLINE,
    );
    let expected = String::from_utf8(expected.stdout).unwrap();
    let got = post_batch(&s, EVENTS.as_bytes());
    assert_eq!(got.lines().count(), 8, "{got}");
    assert_eq!(expected.lines().count(), 8, "{expected}");
    for (want, got) in expected.lines().zip(got.lines()) {
        let mut want: serde_json::Value = serde_json::from_str(want).unwrap();
        let got: serde_json::Value = serde_json::from_str(got).unwrap();
        if want["type"] != "error" {
            want["rule_set"] = status["rule_set"].clone();
            want["world_version"] = status["world_version"].clone();
        }
        assert_eq!(got, want);
        // Field order too: the versions come last.
        let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
        let want_keys: Vec<&String> = want.as_object().unwrap().keys().collect();
        assert_eq!(keys, want_keys);
    }
}

#[test]
fn an_empty_batch_gets_an_empty_answer() {
    let s = Server::glow();
    assert_eq!(post_batch(&s, b""), "");
}

/// The highest resident set size of process `pid` so far, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("procfs");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
#[cfg(target_os = "linux")]
fn a_200000_line_body_streams_through_every_decision_in_order_in_bounded_memory() {
    const LINES: usize = 200_000;
    let s = Server::glow();
    // Warm up: the first batch starts the threads and allocator pools.
    assert_eq!(post_batch(&s, EVENTS.as_bytes()).lines().count(), 8);
    let pid = s.lines.child.id();
    let before = peak_rss_kib(pid);
    // Generated as it is sent: about 20 MB in, 40 MB out, neither held whole.
    let kinds = [
        r#""type":"inbound","client":"cleo","answering":"campaign@B"}"#,
        r#""type":"outbound","client":"gwen","from_account":"glow-uptown","text":"See you at 3pm, bring the voucher please!"}"#,
        r#""type":"inbound","client":"nina"}"#,
    ];
    let chunks = (0..LINES).step_by(500).map(move |start| {
        let mut chunk = Vec::with_capacity(500 * 120);
        for i in start..(start + 500).min(LINES) {
            chunk.extend_from_slice(format!("{{\"id\":\"line-{i:06}\",{}\n", kinds[i % 3]).as_bytes());
        }
        chunk
    });
    let mut sent_bytes = 0usize;
    let mut next = 0usize;
    let mut carry = Vec::new();
    let head = stream_batch(&s.base, chunks, |data| {
        sent_bytes += data.len();
        carry.extend_from_slice(data);
        let end = carry.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        for line in carry[..end].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(line).expect("a JSON line");
            assert_eq!(v["id"], format!("line-{next:06}"), "in input order");
            assert!(v["rule"].is_string() && v["rule_set"].is_string(), "a decision: {v}");
            next += 1;
        }
        carry.drain(..end);
    });
    assert_eq!(head.status, 200);
    assert_eq!(next, LINES, "every line decided");
    assert!(carry.is_empty());
    let grew_kib = peak_rss_kib(pid).saturating_sub(before);
    assert!(
        grew_kib < 16 * 1024,
        "the service's peak memory grew by {grew_kib} KiB for a {} KiB answer: not bounded",
        sent_bytes / 1024
    );
}
