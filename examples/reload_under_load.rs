//! Hot reload under load: every request answered, and every answer named
//! with the rule set that decided it, while the rules are reloaded again
//! and again, half the time with an invalid change.
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example reload_under_load -- --generate 100000 --connections 16
//! # correctness only, in debug:
//! cargo build && cargo run --example reload_under_load -- --bin target/debug/commroute
//! ```
//!
//! It starts `commroute serve` (the binary given by `--bin`, the release one
//! by default) on a copy of the shipped rules in a temporary folder, with
//! the glow example world or a generated one (`--generate CLIENTS`), and
//! keeps `--connections` client threads sending `POST /v1/inbound` over
//! keep-alive HTTP/1.1 connections. Meanwhile it performs `--reloads`
//! reloads in rounds of four: a valid edit, an invalid one, a valid one, an
//! invalid one. The valid edits switch between two rule sets: A (the
//! shipped rules) and B (the shipped rules with a first inbound rule,
//! `reload-check-b`, that decides every client message). So an answer
//! whose `rule_set` is A must name another rule than `reload-check-b`, and
//! one whose `rule_set` is B must name `reload-check-b`: any other answer
//! is mis-versioned. The invalid edits are a YAML syntax error and an
//! unknown fact, in turn. Rounds alternate between `POST /v1/reload` and
//! the file watcher (rewriting the file is the trigger); after each round
//! the checker confirms the service serves what it should (the target set
//! after a valid edit, the set before after an invalid one).
//!
//! It prints the requests sent, the answers that were not 200, the
//! mis-versioned ones, connection errors, the rounds whose outcome was
//! wrong and the service's own reload counts, and exits with 1 when any
//! of the first four is not zero.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

/// The first inbound rule of rule set B: it decides every client message.
const B_RULE: &str = "reload-check-b";
const B_INSERT: &str = "\nrules:\n  - id: reload-check-b\n    description: Decides every client message while rule set B serves.\n    when: always\n    lands_at: client.locations\n\n";
/// The invalid edits, in turn: a YAML syntax error, an unknown fact.
const INVALID: [(&str, &str); 2] = [
    ("policy: inbound", "policy: [inbound"),
    ("conversation.answering: campaign", "conversation.answerin: campaign"),
];
/// How long the service may take to start, to answer, or to reload.
const LIMIT: Duration = Duration::from_secs(30);

struct Options {
    bin: PathBuf,
    generate: Option<usize>,
    connections: usize,
    reloads: usize,
    workers: Option<usize>,
}

fn options() -> anyhow::Result<Option<Options>> {
    let mut o = Options {
        bin: PathBuf::from("target/release/commroute"),
        generate: None,
        connections: 16,
        reloads: 100,
        workers: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bin" => o.bin = PathBuf::from(value()?),
            "--generate" => o.generate = Some(value()?.replace('_', "").parse()?),
            "--connections" => o.connections = value()?.parse()?,
            "--reloads" => o.reloads = value()?.parse()?,
            "--workers" => o.workers = Some(value()?.parse()?),
            "-h" | "--help" => {
                println!(
                    "reload_under_load [--bin PATH] [--generate CLIENTS] [--connections N] [--reloads N] [--workers N]"
                );
                return Ok(None);
            }
            other => bail!("unknown argument `{other}`"),
        }
    }
    if o.connections == 0 {
        bail!("--connections must be at least 1");
    }
    Ok(Some(o))
}

fn main() -> anyhow::Result<()> {
    let Some(o) = options()? else { return Ok(()) };
    if !o.bin.is_file() {
        bail!(
            "no binary at `{}`: run `cargo build --release` first, or give --bin",
            o.bin.display()
        );
    }
    let temp = tempfile::tempdir()?;
    let dir = temp.path();
    let rules = dir.join("rules");
    std::fs::create_dir(&rules)?;
    for (name, text) in commroute::rules::SHIPPED {
        std::fs::write(rules.join(name), text)?;
    }
    let inbound = rules.join("inbound.yaml");
    let text_a = commroute::rules::SHIPPED[0].1.to_owned();
    assert_eq!(commroute::rules::SHIPPED[0].0, "inbound.yaml");
    let text_b = text_a.replacen("\nrules:\n", B_INSERT, 1);
    let set_a = digest_of(&rules)?;
    write_whole(&inbound, &text_b)?;
    let set_b = digest_of(&rules)?;
    write_whole(&inbound, &text_a)?;

    let (world, bodies) = match o.generate {
        None => (
            PathBuf::from("examples/glow-world.yaml"),
            [
                r#"{"client":"cleo","answering":"campaign@B"}"#,
                r#"{"client":"cleo","answering":"confirmation@A"}"#,
                r#"{"client":"gwen","answering":"reminder@C"}"#,
                r#"{"client":"cleo"}"#,
                r#"{"client":"cleo","staff":"sam","from":"A"}"#,
            ]
            .map(String::from)
            .to_vec(),
        ),
        Some(clients) => generated(dir, clients)?,
    };
    let world = std::fs::canonicalize(&world).with_context(|| format!("no world at `{}`", world.display()))?;

    let mut cmd = Command::new(&o.bin);
    cmd.arg("serve")
        .args(["--listen", "127.0.0.1:0", "--rules"])
        .arg(&rules)
        .arg("--world")
        .arg(&world)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(w) = o.workers {
        cmd.args(["--workers", &w.to_string()]);
    }
    let mut server = Server::start(cmd)?;
    let addr = server.addr;
    eprintln!(
        "serving on {addr}: rule set A {set_a}, B {set_b}; {} connections, {} request bodies",
        o.connections,
        bodies.len()
    );

    // The clients.
    let stop = Arc::new(AtomicBool::new(false));
    let bodies = Arc::new(bodies);
    let clients: Vec<_> = (0..o.connections)
        .map(|n| {
            let (stop, bodies, set_a, set_b) = (stop.clone(), bodies.clone(), set_a.clone(), set_b.clone());
            std::thread::spawn(move || client(addr, n, &stop, &bodies, &set_a, &set_b))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    // The reloads.
    let start = Instant::now();
    let mut wrong_rounds = Vec::new();
    let mut serving_b = false;
    let (mut by_request, mut by_watch) = (0, 0);
    for round in 0..o.reloads {
        let valid = round % 2 == 0;
        let by_post = (round / 4) % 2 == 0;
        let before = status(addr)?;
        let serving = if serving_b { &text_b } else { &text_a };
        let (text, expect_set) = if valid {
            serving_b = !serving_b;
            if serving_b {
                (text_b.clone(), &set_b)
            } else {
                (text_a.clone(), &set_a)
            }
        } else {
            let (from, to) = INVALID[(round / 2) % 2];
            (serving.replacen(from, to, 1), if serving_b { &set_b } else { &set_a })
        };
        write_whole(&inbound, &text)?;
        let outcome = if by_post {
            by_request += 1;
            let (code, v) = request(addr, "POST", "/v1/reload")?;
            let result = v["result"].as_str().unwrap_or("").to_owned();
            let expected = if valid { [200, 200] } else { [422, 422] };
            let fine = if valid {
                // The watcher, seeing the same write, may have applied it first.
                code == expected[0] && (result == "applied" || result == "unchanged")
            } else {
                code == expected[0] && result == "refused"
            };
            fine.then_some(()).ok_or(format!("POST /v1/reload answered {code} {v}"))
        } else {
            by_watch += 1;
            let before_refused = before["reloads"]["refused"].as_u64().unwrap_or(0);
            wait_status(addr, |st| {
                if valid {
                    st["rule_set"].as_str() == Some(expect_set)
                } else {
                    st["reloads"]["refused"].as_u64().unwrap_or(0) > before_refused
                }
            })
        };
        let after = status(addr)?;
        let served = after["rule_set"].as_str().unwrap_or("");
        match outcome {
            Ok(()) if served == expect_set => {}
            Ok(()) => wrong_rounds.push(format!("round {round}: serving {served}, expected {expect_set}")),
            Err(why) => wrong_rounds.push(format!("round {round}: {why}")),
        }
    }
    let reload_time = start.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for c in clients {
        total.add(c.join().expect("a client thread"));
    }
    let counts = status(addr)?["reloads"].clone();
    server.stop();

    let requests_per_s = total.requests as f64 / total.busy.as_secs_f64().max(1e-9);
    println!(
        "reloads: {} in {:.1} s ({} valid, {} invalid; {by_request} by POST /v1/reload, {by_watch} by the watcher)",
        o.reloads,
        reload_time.as_secs_f64(),
        o.reloads.div_ceil(2),
        o.reloads / 2
    );
    println!(
        "service's reload counts: applied {}, unchanged {}, refused {}",
        counts["applied"], counts["unchanged"], counts["refused"]
    );
    println!(
        "requests: {} over {} connections ({requests_per_s:.0}/s); answered by A {}, by B {}; slowest {:.1} ms",
        total.requests,
        o.connections,
        total.by_a,
        total.by_b,
        total.slowest.as_secs_f64() * 1000.0
    );
    println!(
        "failed: {} non-200, {} mis-versioned, {} connection errors; {} rounds with a wrong outcome",
        total.non_200,
        total.misversioned,
        total.errors,
        wrong_rounds.len()
    );
    for line in total.samples.iter().chain(&wrong_rounds).take(20) {
        println!("  {line}");
    }
    if total.non_200 + total.misversioned + total.errors + wrong_rounds.len() as u64 > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// The rule set's digest, as the service names it.
fn digest_of(rules: &Path) -> anyhow::Result<String> {
    let set = commroute::RuleSet::load_dir(rules).map_err(|d| anyhow::anyhow!("the rules do not load:\n{d}"))?;
    Ok(format!("{:016x}", set.digest()))
}

/// Writes a file whole, by renaming a finished file over it, so a reload
/// never reads it half written.
fn write_whole(path: &Path, text: &str) -> anyhow::Result<()> {
    let temp = path.with_extension("yaml.tmp");
    std::fs::write(&temp, text)?;
    std::fs::rename(&temp, path)?;
    Ok(())
}

/// A generated world of `clients` clients, and request bodies from its
/// client messages that answer a location's message.
fn generated(dir: &Path, clients: usize) -> anyhow::Result<(PathBuf, Vec<String>)> {
    let shape = commroute::generate::Shape {
        clients,
        ..commroute::generate::Shape::LARGE
    };
    let path = dir.join("world.yaml");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let model = commroute::generate::write_world(&shape, &mut w)?;
    w.into_inner().map_err(|e| e.into_error())?;
    let mut events = Vec::new();
    commroute::generate::write_events(&model, 20_000, shape.seed, &mut events)?;
    let mut bodies = Vec::new();
    for line in events.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let mut v: Value = serde_json::from_slice(line)?;
        let o = v.as_object_mut().context("an event line is an object")?;
        if o.get("type").and_then(Value::as_str) == Some("inbound") {
            o.remove("type");
            bodies.push(serde_json::to_string(&v)?);
        }
    }
    Ok((path, bodies))
}

/// The service under test; killed if the checker ends early.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(mut cmd: Command) -> anyhow::Result<Server> {
        let mut child = cmd.spawn().context("cannot start the service")?;
        let stderr = child.stderr.take().context("the service's stderr")?;
        let (tx, rx) = mpsc::channel();
        // Reads the service's stderr to the end, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("listening on http://") {
                        let addr = addr.trim().parse().context("the address the service gave")?;
                        return Ok(Server { child, addr });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    bail!("the service did not say where it listens within {LIMIT:?}");
                }
            }
        }
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + LIMIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What one client thread saw.
#[derive(Default)]
struct Tally {
    requests: u64,
    non_200: u64,
    misversioned: u64,
    errors: u64,
    by_a: u64,
    by_b: u64,
    slowest: Duration,
    /// The longest a client ran (the clients run side by side).
    busy: Duration,
    samples: Vec<String>,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.requests += o.requests;
        self.non_200 += o.non_200;
        self.misversioned += o.misversioned;
        self.errors += o.errors;
        self.by_a += o.by_a;
        self.by_b += o.by_b;
        self.slowest = self.slowest.max(o.slowest);
        self.busy = self.busy.max(o.busy);
        self.samples.extend(o.samples);
    }

    fn sample(&mut self, what: String) {
        if self.samples.len() < 5 {
            self.samples.push(what);
        }
    }
}

/// One client: keep-alive `POST /v1/inbound` until told to stop, checking
/// every answer's rule against its rule set.
fn client(addr: SocketAddr, n: usize, stop: &AtomicBool, bodies: &[String], set_a: &str, set_b: &str) -> Tally {
    let mut t = Tally::default();
    let start = Instant::now();
    let mut conn: Option<Conn> = None;
    let mut i = n;
    while !stop.load(Ordering::Relaxed) {
        let c = match &mut conn {
            Some(c) => c,
            None => match Conn::open(addr) {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    t.errors += 1;
                    t.sample(format!("cannot connect: {e}"));
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            },
        };
        let body = &bodies[i % bodies.len()];
        i += 1;
        let sent = Instant::now();
        let answer = c.call("POST", "/v1/inbound", body.as_bytes());
        t.slowest = t.slowest.max(sent.elapsed());
        t.requests += 1;
        let (code, reply) = match answer {
            Ok(a) => a,
            Err(e) => {
                t.errors += 1;
                t.sample(format!("request failed: {e}"));
                conn = None;
                continue;
            }
        };
        if code != 200 {
            t.non_200 += 1;
            t.sample(format!("{code}: {}", String::from_utf8_lossy(&reply)));
            continue;
        }
        let v: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
        let (set, rule) = (v["rule_set"].as_str(), v["rule"].as_str());
        let consistent = match (set, rule) {
            (Some(s), Some(r)) if s == set_a && r != B_RULE => {
                t.by_a += 1;
                true
            }
            (Some(s), Some(r)) if s == set_b && r == B_RULE => {
                t.by_b += 1;
                true
            }
            _ => false,
        };
        if !consistent {
            t.misversioned += 1;
            t.sample(format!("mis-versioned: {}", String::from_utf8_lossy(&reply).trim_end()));
        }
    }
    t.busy = start.elapsed();
    t
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    out: TcpStream,
    input: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let out = TcpStream::connect_timeout(&addr, LIMIT)?;
        out.set_read_timeout(Some(LIMIT))?;
        out.set_write_timeout(Some(LIMIT))?;
        out.set_nodelay(true)?;
        let input = BufReader::new(out.try_clone()?);
        Ok(Conn { out, input })
    }

    /// Sends one request and reads its answer: the status and the body.
    fn call(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        self.out.write_all(&req)?;
        let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let mut line = String::new();
        self.input.read_line(&mut line)?;
        let code: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| bad(&format!("not an HTTP status line: {line:?}")))?;
        let mut length = None;
        loop {
            line.clear();
            if self.input.read_line(&mut line)? == 0 {
                return Err(bad("the connection closed in the headers"));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let length = length.ok_or_else(|| bad("an answer without Content-Length"))?;
        let mut reply = vec![0; length];
        self.input.read_exact(&mut reply)?;
        Ok((code, reply))
    }
}

/// One request on a connection of its own; the status and the JSON body.
fn request(addr: SocketAddr, method: &str, path: &str) -> anyhow::Result<(u16, Value)> {
    let (code, body) = Conn::open(addr)?.call(method, path, b"")?;
    Ok((code, serde_json::from_slice(&body)?))
}

fn status(addr: SocketAddr) -> anyhow::Result<Value> {
    let (code, v) = request(addr, "GET", "/v1/status")?;
    if code != 200 {
        bail!("GET /v1/status answered {code}: {v}");
    }
    Ok(v)
}

/// Polls `/v1/status` until `done` holds, for at most [`LIMIT`].
fn wait_status(addr: SocketAddr, done: impl Fn(&Value) -> bool) -> Result<(), String> {
    let start = Instant::now();
    loop {
        match status(addr) {
            Ok(st) if done(&st) => return Ok(()),
            Ok(st) if start.elapsed() > LIMIT => {
                return Err(format!("the watcher's reload did not show within {LIMIT:?}: {st}"))
            }
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
