//! Operations: the bearer token, body limits, timeouts, content types, the
//! JSON log, `--workers`, and graceful shutdown. Requests that a client
//! library would not send (trickled bodies, lying lengths) are written by
//! hand on a TCP stream, every read and write with a deadline.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::server::{Server, LIMIT};
use crate::support::process::{output_within, wait_within, DEADLINE};

const GLOW: &str = "examples/glow-world.yaml";
const CLEO: &str = r#"{"id":"e1","client":"cleo","answering":"campaign@B"}"#;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The glow world, the shipped rules, and `args`.
fn glow_with(args: &[&str]) -> Server {
    let mut all = vec!["--world", GLOW];
    all.extend_from_slice(args);
    Server::start(root(), &all)
}

/// An answer read off a raw connection.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

fn connect(s: &Server) -> TcpStream {
    let addr = s.base.strip_prefix("http://").expect("an http address");
    let t = TcpStream::connect(addr).unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    t.set_read_timeout(Some(LIMIT)).unwrap();
    t.set_write_timeout(Some(LIMIT)).unwrap();
    t
}

/// Reads one answer (a `100 Continue` too): its head, then its body by
/// `Content-Length`, or to the end of the stream.
fn read_answer(t: &mut TcpStream) -> Raw {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = t.read(&mut chunk).unwrap_or_else(|e| panic!("reading the answer: {e}"));
        assert!(
            n > 0,
            "the connection closed before an answer: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = buf[head_end + 4..].to_vec();
    if status != 100 {
        let length = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse::<usize>().expect("a length"));
        loop {
            if length.is_some_and(|l| body.len() >= l) {
                break;
            }
            let n = t.read(&mut chunk).unwrap_or_else(|e| panic!("reading the body: {e}"));
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Raw {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// One request on a new connection, closed after its answer.
fn request(s: &Server, method: &str, path: &str, headers: &[&str], body: &str) -> Raw {
    let mut t = connect(s);
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    t.write_all(req.as_bytes()).unwrap();
    read_answer(&mut t)
}

fn assert_error(r: &Raw, status: u16, kind: &str) -> serde_json::Value {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
    let v = r.json();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"], kind, "{v}");
    v
}

fn token_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("token");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_endpoint_but_health_needs_the_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(dir.path(), "  s3cret-token  \nnot the token\n");
    let s = glow_with(&["--token-file", file.to_str().unwrap()]);
    let json = "Content-Type: application/json";

    let r = request(&s, "POST", "/v1/inbound", &[json], CLEO);
    let v = assert_error(&r, 401, "unauthorized");
    assert_eq!(v["message"], "this endpoint needs a bearer token");
    assert!(
        v["valid"].as_str().unwrap().contains("Authorization: Bearer TOKEN"),
        "{v}"
    );
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"), "{r:?}");
    // Unknown paths and read-only endpoints too: nothing is told without it.
    assert_error(&request(&s, "GET", "/v1/status", &[], ""), 401, "unauthorized");
    assert_error(&request(&s, "GET", "/v1/nope", &[], ""), 401, "unauthorized");

    let r = request(
        &s,
        "POST",
        "/v1/inbound",
        &[json, "Authorization: Bearer s3cret-tokeN"],
        CLEO,
    );
    let v = assert_error(&r, 401, "unauthorized");
    assert_eq!(v["message"], "the bearer token is not the service's");
    assert!(r.header("www-authenticate").unwrap().contains("invalid_token"), "{r:?}");
    let r = request(
        &s,
        "POST",
        "/v1/inbound",
        &[json, "Authorization: Basic czNjcmV0"],
        CLEO,
    );
    assert_eq!(
        assert_error(&r, 401, "unauthorized")["message"],
        "the Authorization header is not `Bearer TOKEN`"
    );
    // The second line of the file is not a token.
    let r = request(&s, "GET", "/v1/rules", &["Authorization: Bearer not the token"], "");
    assert_error(&r, 401, "unauthorized");

    // The first line, trimmed; the scheme in any case.
    let r = request(
        &s,
        "POST",
        "/v1/inbound",
        &[json, "Authorization: Bearer s3cret-token"],
        CLEO,
    );
    assert_eq!(
        (r.status, &r.json()["rule"]),
        (200, &serde_json::json!("campaign-reply-with-history"))
    );
    let r = request(&s, "GET", "/v1/status", &["authorization: bearer s3cret-token"], "");
    assert_eq!(r.status, 200, "{r:?}");

    assert_eq!(request(&s, "GET", "/healthz", &[], "").status, 200);
    assert_eq!(request(&s, "GET", "/readyz", &[], "").status, 200);
}

#[test]
fn a_missing_empty_or_control_character_token_file_is_a_startup_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-token");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "  \nsecond\n").unwrap();
    let control = dir.path().join("control");
    std::fs::write(&control, "abc\u{1b}[31mdef\n").unwrap();
    for (file, says) in [
        (&missing, "cannot read the token file"),
        (&empty, "has no token"),
        (&control, "has a control character at character 4"),
    ] {
        let out = output_within(
            Command::new(env!("CARGO_BIN_EXE_commroute"))
                .current_dir(root())
                .args(["serve", "--listen", "127.0.0.1:0", "--world", GLOW, "--token-file"])
                .arg(file),
            None,
            DEADLINE,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(stderr.contains(&file.display().to_string()), "{stderr}");
        assert!(!stderr.contains('\u{1b}'), "the token is never echoed raw: {stderr}");
        assert!(!stderr.contains("listening on"), "{stderr}");
    }
}

#[test]
fn zero_workers_is_refused_and_one_worker_serves() {
    let out = output_within(
        Command::new(env!("CARGO_BIN_EXE_commroute")).current_dir(root()).args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "0",
        ]),
        None,
        DEADLINE,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--workers") && stderr.contains("0 is not in 1..=1024"),
        "{stderr}"
    );

    let s = glow_with(&["--workers", "1"]);
    assert_eq!(
        s.post("/v1/inbound", CLEO).json()["rule"],
        "campaign-reply-with-history"
    );
}

#[test]
fn a_body_over_the_limit_is_a_413_naming_the_limit() {
    let s = glow_with(&["--max-body", "1024"]);
    // A declared length over the limit is refused before the body is read.
    let mut t = connect(&s);
    t.write_all(
        b"POST /v1/inbound HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n",
    )
    .unwrap();
    let v = assert_error(&read_answer(&mut t), 413, "too_large");
    assert_eq!(v["message"], "the body is larger than the limit of 1024 bytes");
    assert!(v["valid"].as_str().unwrap().contains("--max-body"), "{v}");

    // A chunked body has no declared length: it is refused once it passes
    // the limit (the last chunk is never sent).
    let padded = format!("{CLEO}{}", " ".repeat(1025 - CLEO.len()));
    let mut t = connect(&s);
    t.write_all(
        format!(
            "POST /v1/inbound HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{padded}\r\n",
            padded.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let v = assert_error(&read_answer(&mut t), 413, "too_large");
    assert_eq!(v["message"], "the body is larger than the limit of 1024 bytes");

    // At the limit is fine.
    let at_limit = format!("{CLEO}{}", " ".repeat(1024 - CLEO.len()));
    let r = request(&s, "POST", "/v1/inbound", &[], &at_limit);
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn a_body_trickled_past_the_timeout_is_a_408() {
    let s = glow_with(&["--timeout-ms", "300"]);
    let mut t = connect(&s);
    let start = Instant::now();
    t.write_all(
        format!(
            "POST /v1/inbound HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{}",
            CLEO.len(),
            &CLEO[..10]
        )
        .as_bytes(),
    )
    .unwrap();
    // The rest never comes: the service answers when the time is up.
    let v = assert_error(&read_answer(&mut t), 408, "timeout");
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        v["message"],
        "the request took longer than 300 ms, reading its body included"
    );
    assert!(v["valid"].as_str().unwrap().contains("--timeout-ms"), "{v}");
    // A prompt request is untouched.
    assert_eq!(s.post("/v1/inbound", CLEO).status, 200);
}

#[test]
fn a_body_with_a_content_type_that_is_not_json_is_a_415_but_none_or_curl_d_is_read() {
    let s = Server::glow();
    let r = request(&s, "POST", "/v1/inbound", &["Content-Type: application/xml"], CLEO);
    let v = assert_error(&r, 415, "unsupported_media_type");
    assert_eq!(v["message"], "the body's content type `application/xml` is not JSON");
    assert_eq!(v["field"], "Content-Type");
    let r = request(
        &s,
        "POST",
        "/v1/inbound",
        &["Content-Type: multipart/form-data; boundary=x"],
        CLEO,
    );
    assert_error(&r, 415, "unsupported_media_type");
    for ok in [
        &[][..],
        &["Content-Type: application/x-www-form-urlencoded"][..],
        &["Content-Type: application/json; charset=utf-8"][..],
    ] {
        let r = request(&s, "POST", "/v1/inbound", ok, CLEO);
        assert_eq!(r.status, 200, "{ok:?}: {r:?}");
    }
    // An unknown path stays a 404 whatever it was sent.
    let r = request(&s, "POST", "/v1/nope", &["Content-Type: application/xml"], CLEO);
    assert_error(&r, 404, "not_found");
}

/// Every line after startup, once the process has ended.
fn rest_of_log(mut s: Server) -> (Option<i32>, Vec<String>) {
    let pid = s.lines.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = wait_within(&mut s.lines.child, LIMIT, "commroute serve after SIGTERM");
    let mut lines = Vec::new();
    while let Some(line) = s.lines.next_within(LIMIT) {
        lines.push(line);
    }
    (status.code(), lines)
}

#[test]
fn json_logs_are_one_json_object_a_line_with_a_line_per_request_and_no_body() {
    let s = glow_with(&["--log-format", "json", "--log-level", "debug"]);
    assert_eq!(s.post("/v1/inbound", CLEO).status, 200);
    assert_eq!(s.get("/v1/n%1bope").status, 404);
    let (code, lines) = rest_of_log(s);
    assert_eq!(code, Some(0));
    let logged: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {l}")))
        .collect();
    let requests: Vec<&serde_json::Value> = logged.iter().filter(|v| v["message"] == "request").collect();
    let inbound = requests
        .iter()
        .find(|v| v["route"] == "/v1/inbound")
        .unwrap_or_else(|| panic!("no request line for /v1/inbound: {lines:#?}"));
    assert_eq!(inbound["method"], "POST");
    assert_eq!(inbound["status"], 200);
    assert_eq!(inbound["level"], "DEBUG");
    assert!(inbound["latency_us"].is_u64(), "{inbound}");
    let missing = requests
        .iter()
        .find(|v| v["status"] == 404)
        .unwrap_or_else(|| panic!("no request line for the 404: {lines:#?}"));
    assert_eq!(missing["error"], "not_found");
    assert!(
        missing["route"].as_str().unwrap().starts_with("(none: /v1/n"),
        "{missing}"
    );
    assert!(
        lines.iter().all(|l| !l.contains("cleo")),
        "no body in the log: {lines:#?}"
    );
    assert!(logged.iter().any(|v| v["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("shutdown: no new connections"))));
    assert!(logged
        .iter()
        .any(|v| v["message"].as_str().is_some_and(|m| m.starts_with("stopped"))));
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_its_body_and_get_its_answer() {
    let s = glow_with(&["--timeout-ms", "60000"]);
    let mut t = connect(&s);
    t.write_all(
        format!(
            "POST /v1/inbound HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            CLEO.len()
        )
        .as_bytes(),
    )
    .unwrap();
    // `100 Continue` comes when the endpoint starts reading the body: the
    // request is in flight.
    assert_eq!(read_answer(&mut t).status, 100);
    t.write_all(&CLEO.as_bytes()[..20]).unwrap();

    let pid = s.lines.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // Shutdown has begun once new connections are refused.
    let addr = s.base.strip_prefix("http://").unwrap().to_owned();
    let start = Instant::now();
    while TcpStream::connect(&addr).is_ok() {
        assert!(
            start.elapsed() < LIMIT,
            "the service still takes connections after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    t.write_all(&CLEO.as_bytes()[20..]).unwrap();
    let r = read_answer(&mut t);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["rule"], "campaign-reply-with-history");
    let mut s = s;
    let status = wait_within(&mut s.lines.child, LIMIT, "commroute serve after SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn readyz_answers_503_while_draining_after_sigterm_and_requests_are_still_decided() {
    let s = glow_with(&["--drain-ms", "5000"]);
    assert_eq!(s.get("/readyz").status, 200);
    let pid = s.lines.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let start = Instant::now();
    let r = loop {
        let r = request(&s, "GET", "/readyz", &[], "");
        if r.status != 200 {
            break r;
        }
        assert!(start.elapsed() < LIMIT, "/readyz still ready after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    let v = assert_error(&r, 503, "unavailable");
    assert_eq!(v["message"], "the service is shutting down");
    assert_eq!(s.post("/v1/inbound", CLEO).status, 200);
    let mut s = s;
    let status = wait_within(&mut s.lines.child, LIMIT, "commroute serve draining after SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_client_that_never_finishes_its_headers_cannot_hold_shutdown_up_past_the_timeout() {
    // SIGTERM may come before the service has accepted the connection
    // (then there is nothing to cut): up to three tries to see the cut.
    for attempt in 1..=3 {
        let s = glow_with(&["--timeout-ms", "500"]);
        let mut t = connect(&s);
        // Headers that never end, on a connection that stays open until the
        // end of the try. The pause lets the service accept it and read them.
        t.write_all(b"POST /v1/inbound HTTP/1.1\r\nHost: test\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let (code, lines) = rest_of_log(s);
        assert_eq!(code, Some(0), "{lines:#?}");
        drop(t);
        if lines
            .iter()
            .any(|l| l.contains("stopped with connections still open after the grace period"))
        {
            return;
        }
        assert!(attempt < 3, "the half-sent request was never cut: {lines:#?}");
    }
}
