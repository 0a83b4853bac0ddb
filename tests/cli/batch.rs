//! Batch routing: order across threads, error lines, exit codes, and
//! streaming input larger than anything held in memory at once.

use std::io::{self, Read};
use std::process::Command;

use commroute::jsonl::batch::{self, Options};

use crate::support::process;
use commroute::diag::Source;
use commroute::generate::{write_events, write_world, Shape};
use commroute::{EventLine, RuleSet, World};

fn glow() -> World {
    World::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/glow-world.yaml"
    )))
    .unwrap()
}

fn run(world: &World, input: &str, threads: usize) -> (Vec<serde_json::Value>, batch::BatchSummary) {
    let mut out = Vec::new();
    let summary = batch::run(
        &RuleSet::shipped(),
        world,
        input.as_bytes(),
        &mut out,
        Options { threads },
    )
    .unwrap();
    let lines = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, summary)
}

#[test]
fn output_keeps_input_order_across_threads() {
    // Enough lines for many chunks per worker.
    let world = glow();
    let kinds = [
        r#""type":"inbound","client":"cleo","answering":"confirmation@A""#,
        r#""type":"outbound","client":"gwen","from_account":"glow-uptown","text":"See you"#,
        r#""type":"inbound","client":"nina""#,
    ];
    let mut input = String::new();
    for i in 0..30_000 {
        let k = kinds[i % 3];
        let close = if i % 3 == 1 { "\"}" } else { "}" };
        input.push_str(&format!("{{\"id\":\"e{i}\",{k}{close}\n"));
    }
    for threads in [1, 2, 3] {
        let (lines, summary) = run(&world, &input, threads);
        assert_eq!(lines.len(), 30_000);
        assert_eq!(summary.errors, 0);
        assert_eq!((summary.inbound, summary.outbound), (20_000, 10_000));
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["id"], format!("e{i}"), "threads {threads}");
        }
    }
}

#[test]
fn decisions_match_single_routing() {
    let world = glow();
    let rules = RuleSet::shipped();
    let input = "{\"id\":\"a\",\"type\":\"inbound\",\"client\":\"cleo\",\"staff\":\"sam\",\"from\":\"B\"}\n\
                 {\"type\":\"outbound\",\"id\":\"b\",\"client\":\"gwen\",\"from_account\":\"glow-uptown\",\"text\":\"caf\\u00e9 \\\"ok\\\"\"}\n";
    let (lines, _) = run(&world, input, 2);
    for (line, value) in input.lines().zip(&lines) {
        match serde_json::from_str::<EventLine>(line).unwrap() {
            EventLine::Inbound { id, request, .. } => {
                let d = rules.route_inbound(&world, &request.resolve(&world).unwrap()).unwrap();
                let r = d.report(&rules, &world);
                assert_eq!(value["id"], id);
                assert_eq!(value["type"], "inbound");
                assert_eq!(value["lands_at"], serde_json::json!(r.lands_at));
                assert_eq!(value["delivered_to"], serde_json::json!(r.delivered_to));
                assert_eq!(value["rule"], r.rule);
            }
            EventLine::Outbound { id, request, .. } => {
                let d = rules.route_outbound(&world, &request.resolve(&world).unwrap()).unwrap();
                let r = d.report(&rules);
                assert_eq!(value["id"], id);
                assert_eq!(value["channel"], r.channel.name());
                assert_eq!(value["text"], r.text);
                assert_eq!(value["text"], "Glow Uptown: café \"ok\"");
                assert_eq!(value["ghost_text"], r.ghost_text);
                assert_eq!(value["rule"], r.rule);
                assert_eq!(value["text_rule"], r.text_rule);
            }
        }
    }
}

#[test]
fn bad_lines_become_error_lines_with_their_id_and_the_run_goes_on() {
    let world = glow();
    let input = concat!(
        "{\"id\":\"ok1\",\"type\":\"inbound\",\"client\":\"cleo\"}\n",
        "{\"id\":\"who\",\"type\":\"inbound\",\"client\":\"zed\"}\n",
        "\n",
        "not json at all\n",
        "{\"id\":\"kind\",\"type\":\"sideways\",\"client\":\"cleo\"}\n",
        "{\"id\":\"acct\",\"type\":\"outbound\",\"client\":\"cleo\",\"from_account\":\"nope\"}\n",
        "{\"id\":\"ok2\",\"type\":\"outbound\",\"client\":\"cleo\",\"from_account\":\"glow-downtown\"}",
    );
    let (lines, summary) = run(&world, input, 2);
    let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap_or("null")).collect();
    assert_eq!(ids, ["ok1", "who", "null", "kind", "acct", "ok2"]);
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["inbound", "error", "error", "error", "error", "outbound"]);
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[1]["error"], "client: unknown client `zed`");
    assert_eq!(lines[2]["line"], 4);
    assert_eq!(lines[4]["line"], 6);
    assert_eq!(lines[4]["error"], "from_account: unknown account `nope`");
    assert_eq!((summary.decided(), summary.errors, summary.blank), (2, 4, 1));
}

#[test]
fn an_overlong_line_is_an_error_and_memory_stays_bounded() {
    let world = glow();
    let mut input = String::from("{\"id\":\"a\",\"type\":\"inbound\",\"client\":\"cleo\"}\n");
    input.push_str(&format!(
        "{{\"id\":\"big\",\"type\":\"outbound\",\"client\":\"cleo\",\"from_account\":\"glow-downtown\",\"text\":\"{}\"}}\n",
        "x".repeat(commroute::jsonl::MAX_LINE + 10)
    ));
    input.push_str("{\"id\":\"b\",\"type\":\"inbound\",\"client\":\"nina\"}\n");
    let (lines, summary) = run(&world, &input, 2);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[1]["type"], "error");
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[2]["id"], "b");
    assert_eq!(summary.errors, 1);
}

/// Events generated on the fly, never held whole: the reader pulls them as
/// the workers need them.
struct Generated {
    buf: Vec<u8>,
    pos: usize,
    next: u64,
    total: u64,
    model: commroute::generate::Model,
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.next == self.total {
                return Ok(0);
            }
            self.buf.clear();
            self.pos = 0;
            let n = 1_000.min(self.total - self.next);
            // Different seeds per block; ids restart per block, order is what matters here.
            write_events(&self.model, n, self.next, &mut self.buf)?;
            self.next += n;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Counts what is written without keeping it.
struct Counting {
    lines: u64,
    errors: u64,
}

impl io::Write for Counting {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.lines += b.iter().filter(|&&c| c == b'\n').count() as u64;
        let pattern = b"\"type\":\"error\"";
        self.errors += b.windows(pattern.len()).filter(|w| w == pattern).count() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_large_generated_stream_is_routed_without_loading_it_whole() {
    let mut yaml = Vec::new();
    let model = write_world(&Shape::SMALL, &mut yaml).unwrap();
    let world = World::parse(Source::new("gen.yaml", String::from_utf8(yaml).unwrap())).unwrap();
    let total = 50_000;
    let input = Generated {
        buf: Vec::new(),
        pos: 0,
        next: 0,
        total,
        model,
    };
    let mut out = Counting { lines: 0, errors: 0 };
    let summary = batch::run(&RuleSet::shipped(), &world, input, &mut out, Options { threads: 2 }).unwrap();
    assert_eq!(summary.decided(), total);
    assert_eq!(summary.errors, 0);
    assert_eq!(out.lines, total);
    assert_eq!(out.errors, 0);
}

#[test]
fn the_command_exits_1_when_a_line_failed_and_summarises_on_stderr() {
    let bin = env!("CARGO_BIN_EXE_commroute");
    let run = |input: &str| {
        let out = process::output_within(
            Command::new(bin)
                .args(["route", "batch", "--world", "examples/glow-world.yaml"])
                .current_dir(env!("CARGO_MANIFEST_DIR")),
            Some(input.as_bytes().to_vec()),
            process::DEADLINE,
        );
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let good = "{\"id\":\"e1\",\"type\":\"inbound\",\"client\":\"cleo\",\"answering\":\"confirmation@A\"}\n";
    let (code, out, err) = run(good);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "{\"id\":\"e1\",\"type\":\"inbound\",\"version\":\"0.1.0\",\"lands_at\":[\"A\"],\"delivered_to\":[\"sam\"],\"rule\":\"reply-to-location-message\"}\n"
    );
    assert!(
        err.starts_with("1 decisions (1 inbound, 0 outbound), 0 errors in "),
        "{err}"
    );
    let (code, out, err) = run(&format!(
        "{good}{{\"id\":\"e2\",\"type\":\"inbound\",\"client\":\"zed\"}}\n"
    ));
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(out.lines().count(), 2);
    assert!(err.contains(", 1 error in "), "{err}");
}

#[test]
fn a_missing_input_file_is_a_usage_error() {
    let out = process::output_within(
        Command::new(env!("CARGO_BIN_EXE_commroute"))
            .args([
                "route",
                "batch",
                "--world",
                "examples/glow-world.yaml",
                "--input",
                "no/such/events.jsonl",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR")),
        None,
        process::DEADLINE,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: cannot read `no/such/events.jsonl`"), "{err}");
}

#[test]
fn a_line_with_no_end_in_sight_is_skipped_in_constant_memory() {
    // Longer than MAX_LINE before its newline arrives: the reader skips it.
    let world = glow();
    let mut input =
        String::from("{\"id\":\"a\",\"type\":\"inbound\",\"client\":\"cleo\"}\n{\"id\":\"huge\",\"text\":\"");
    input.push_str(&"y".repeat(3 * commroute::jsonl::MAX_LINE));
    input.push_str("\"}\n{\"id\":\"b\",\"type\":\"inbound\",\"client\":\"nina\"}\n");
    let (lines, summary) = run(&world, &input, 2);
    let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap_or("null")).collect();
    assert_eq!(ids, ["a", "null", "b"]);
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(summary.errors, 1);
}

/// The fast path (used by batch) skips gates the world's indexes guarantee;
/// it must decide exactly what the explaining path decides, which checks
/// every gate for every staff member.
#[test]
fn the_fast_path_decides_like_the_explaining_path() {
    let mut yaml = Vec::new();
    let model = write_world(&Shape::SMALL, &mut yaml).unwrap();
    let mut world = World::parse(Source::new("gen.yaml", String::from_utf8(yaml).unwrap())).unwrap();
    let mut events = Vec::new();
    write_events(&model, 3_000, 3, &mut events).unwrap();
    let rules = RuleSet::shipped();
    for round in 0..2 {
        if round == 1 {
            // Log a third of the staff out and the rest in somewhere.
            for s in 0..world.staff.len() as u32 {
                let at = (s % 3 != 0).then(|| world.staff[s as usize].locations.as_slice()[0]);
                world.set_login(s, at);
            }
        }
        for line in String::from_utf8(events.clone()).unwrap().lines() {
            if let EventLine::Inbound { request, .. } = serde_json::from_str(line).unwrap() {
                let ev = request.resolve(&world).unwrap();
                let fast = rules.route_inbound(&world, &ev).unwrap();
                let slow = rules.explain_inbound(&world, &ev).unwrap();
                assert_eq!(
                    (&fast.lands_at, &fast.delivered_to, fast.rule),
                    (&slow.lands_at, &slow.delivered_to, slow.rule),
                    "{line}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// One reader for `route batch` and `diff --events`

/// What a command made of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Accepted,
    Refused,
    Skipped,
}

/// An event line of exactly `len` bytes (before its line end), with `id`.
fn event_of_len(id: &str, len: usize) -> Vec<u8> {
    let head = format!(
        "{{\"id\":\"{id}\",\"type\":\"outbound\",\"client\":\"cleo\",\"from_account\":\"glow-downtown\",\"text\":\""
    );
    let mut line = head.into_bytes();
    line.resize(len - 2, b'x');
    line.extend_from_slice(b"\"}");
    assert_eq!(line.len(), len);
    line
}

/// The lines `route batch` refused (by number) and the ids it decided, with
/// the number of lines it skipped.
fn batch_outcome(world: &World, input: &[u8]) -> (Vec<u64>, Vec<String>, u64) {
    let mut out = Vec::new();
    let summary = batch::run(&RuleSet::shipped(), world, input, &mut out, Options { threads: 2 }).unwrap();
    let mut refused = Vec::new();
    let mut decided = Vec::new();
    for line in String::from_utf8(out).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "error" {
            refused.push(v["line"].as_u64().unwrap());
        } else {
            decided.push(v["id"].as_str().unwrap().to_owned());
        }
    }
    (refused, decided, summary.blank)
}

/// The lines `diff --events` refused (by number), or the lines it accepted.
fn diff_outcome(world: &World, input: &[u8]) -> Result<Vec<usize>, Vec<usize>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, input).unwrap();
    match commroute::authoring::impact::read_recorded_events(&path, world) {
        Ok(recorded) => Ok(recorded.iter().map(|r| r.line).collect()),
        Err(diags) => Err(diags.0.iter().map(|d| d.pos.line).collect()),
    }
}

/// `route batch` read its own event lines, `diff --events` others, with
/// different line limits and comment rules; both now go through one reader.
/// Each tricky line sits between two good ones, and both commands must
/// accept, refuse or skip it alike, at the same line number.
#[test]
fn batch_and_diff_accept_and_refuse_exactly_the_same_lines() {
    use commroute::jsonl::MAX_LINE;
    use Fate::*;
    let world = glow();
    let good = |id: &str| format!("{{\"id\":\"{id}\",\"type\":\"inbound\",\"client\":\"cleo\"}}").into_bytes();
    let mut at_limit_crlf = event_of_len("t", MAX_LINE);
    at_limit_crlf.push(b'\r');
    let bad_utf8 = b"{\"id\":\"t\",\"type\":\"inbound\",\"client\":\"cl\xff\xfeeo\"}".to_vec();
    let corpus: Vec<(&str, Vec<u8>, Fate)> = vec![
        ("a plain event", good("t"), Accepted),
        ("exactly at the limit", event_of_len("t", MAX_LINE), Accepted),
        ("at the limit, then \\r\\n", at_limit_crlf, Accepted),
        ("too long by one byte", event_of_len("t", MAX_LINE + 1), Refused),
        ("far too long", event_of_len("t", 3 * MAX_LINE), Refused),
        ("invalid UTF-8", bad_utf8, Refused),
        ("a comment", b"# recorded on Monday".to_vec(), Skipped),
        ("an indented comment", b"  \t# note".to_vec(), Skipped),
        ("a comment that is not UTF-8", b"# \xff".to_vec(), Skipped),
        ("blank", Vec::new(), Skipped),
        ("spaces and tabs", b" \t  ".to_vec(), Skipped),
        ("a lone \\r", b"\r".to_vec(), Skipped),
        ("a non-breaking space", "\u{a0}".as_bytes().to_vec(), Refused),
        ("an event ending in \\r", [good("t"), b"\r".to_vec()].concat(), Accepted),
        ("bad JSON", b"{\"id\":".to_vec(), Refused),
        ("not an object", b"[\"t\"]".to_vec(), Refused),
        // Both take an unknown field, as they always did: `deny_unknown_fields`
        // does not reach through the event type's tag.
        (
            "an unknown field",
            b"{\"id\":\"t\",\"type\":\"inbound\",\"client\":\"cleo\",\"extra\":\"x\"}".to_vec(),
            Accepted,
        ),
        ("an unknown kind", b"{\"id\":\"t\",\"type\":\"sideways\",\"client\":\"cleo\"}".to_vec(), Refused),
        ("an unknown client", b"{\"id\":\"t\",\"type\":\"inbound\",\"client\":\"zed\"}".to_vec(), Refused),
        ("trailing garbage", [good("t"), b" trailing".to_vec()].concat(), Refused),
        ("a second object", [good("t"), good("u")].concat(), Refused),
        (
            "escaped control characters",
            b"{\"id\":\"t\",\"type\":\"outbound\",\"client\":\"cleo\",\"from_account\":\"glow-downtown\",\"text\":\"\\u001b[31m\\u0000\"}".to_vec(),
            Accepted,
        ),
        (
            "raw control characters",
            b"{\"id\":\"t\",\"type\":\"outbound\",\"client\":\"cleo\",\"from_account\":\"glow-downtown\",\"text\":\"\x1b[31m\"}".to_vec(),
            Refused,
        ),
        ("a NUL byte", b"\0".to_vec(), Refused),
        ("escapes in the id", b"{\"id\":\"t\\u0041\",\"type\":\"inbound\",\"client\":\"cleo\"}".to_vec(), Accepted),
        ("a null answer", b"{\"id\":\"t\",\"type\":\"inbound\",\"client\":\"cleo\",\"answering\":null}".to_vec(), Accepted),
    ];
    for (what, line, expected) in &corpus {
        // Line 1 and 3 are good; the last line has no final newline.
        for final_newline in [true, false] {
            let mut input = [good("g1"), b"\n".to_vec(), line.clone(), b"\n".to_vec(), good("g3")].concat();
            if final_newline {
                input.push(b'\n');
            }
            let (refused, decided, blank) = batch_outcome(&world, &input);
            let batch = match (refused.as_slice(), decided.len(), blank) {
                ([2], 2, 0) => Refused,
                ([], 3, 0) => Accepted,
                ([], 2, 1) => Skipped,
                other => panic!("{what}: route batch refused lines {other:?}"),
            };
            let diff = match diff_outcome(&world, &input) {
                Err(lines) if lines == [2] => Refused,
                Ok(lines) if lines == [1, 2, 3] => Accepted,
                Ok(lines) if lines == [1, 3] => Skipped,
                other => panic!("{what}: diff --events gave {other:?}"),
            };
            assert_eq!((batch, diff), (*expected, *expected), "{what}");
            // The tricky line itself with no newline after it, last in the input.
            let input = [good("g1"), b"\n".to_vec(), line.clone()].concat();
            let refused = batch_outcome(&world, &input).0;
            let diff_refused = diff_outcome(&world, &input).err().unwrap_or_default();
            assert_eq!(
                refused,
                diff_refused.iter().map(|&l| l as u64).collect::<Vec<_>>(),
                "{what} last"
            );
        }
    }
    // All of them in one input: the same lines refused, at the same numbers.
    let mut input = Vec::new();
    for (_, line, _) in &corpus {
        input.extend_from_slice(line);
        input.push(b'\n');
    }
    let expected: Vec<u64> = (1..)
        .zip(&corpus)
        .filter(|(_, (_, _, fate))| *fate == Refused)
        .map(|(n, _)| n)
        .collect();
    let (refused, decided, blank) = batch_outcome(&world, &input);
    assert_eq!(refused, expected);
    assert_eq!(blank as usize, corpus.iter().filter(|c| c.2 == Skipped).count());
    assert_eq!(decided.len(), corpus.iter().filter(|c| c.2 == Accepted).count());
    let diff_refused = diff_outcome(&world, &input).unwrap_err();
    assert_eq!(diff_refused.iter().map(|&l| l as u64).collect::<Vec<_>>(), expected);
}

#[test]
fn lines_with_facts_are_decided_in_their_own_world_and_bad_facts_become_error_lines() {
    let world = glow();
    let staff = r#"[{"id":"sam","name":"Sam Reyes","locations":["A","B"]},{"id":"omar","name":"Omar Haddad","locations":["A","B"],"logged_in_at":"A"}]"#;
    let bad_client = r#"{"id":"cleo","name":"Cleo","account":"glow-downtown","locations":["A","Q"]}"#;
    let input = format!(
        "{{\"id\":\"f1\",\"type\":\"inbound\",\"client\":\"cleo\",\"answering\":\"campaign@B\",\"facts\":{{\"staff\":{staff}}}}}\n\
         {{\"id\":\"f2\",\"type\":\"inbound\",\"client\":\"cleo\",\"answering\":\"campaign@B\"}}\n\
         {{\"id\":\"f3\",\"type\":\"inbound\",\"client\":\"cleo\",\"facts\":{{\"clients\":[{bad_client}]}}}}\n\
         {{\"id\":\"f4\",\"type\":\"inbound\",\"client\":\"cleo\",\"facts\":{{\"customers\":[]}}}}\n"
    );
    for threads in [1, 2] {
        let (lines, summary) = run(&world, &input, threads);
        assert_eq!((summary.inbound, summary.errors), (2, 2), "{lines:?}");
        assert_eq!(lines[0]["id"], "f1");
        assert_eq!(lines[0]["delivered_to"], serde_json::json!(["omar"]));
        assert_eq!(lines[1]["delivered_to"], serde_json::json!(["sam"]));
        assert_eq!(lines[0]["lands_at"], lines[1]["lands_at"]);
        assert_eq!(lines[2]["id"], "f3");
        assert_eq!(lines[2]["type"], "error");
        assert_eq!(lines[2]["line"], 3);
        assert_eq!(
            lines[2]["error"],
            "facts.clients[0].locations[1]: unknown location `Q`; known locations: `A`, `B` or `C`"
        );
        assert_eq!(lines[3]["id"], "f4");
        assert!(
            lines[3]["error"]
                .as_str()
                .unwrap()
                .starts_with("not an event line: unknown field `customers`, expected one of `accounts`"),
            "{}",
            lines[3]
        );
    }
}

#[test]
fn decision_log_lines_are_read_as_they_are() {
    // Lines in the decision log's format: the event, then when, the
    // versions and the decision made then (read and ignored: decided again).
    let world = glow();
    let input = concat!(
        r#"{"id":"e1","type":"inbound","client":"cleo","answering":"campaign@B","at":"2026-12-02T08:00:00.123Z","rule_set":"5655545e697ed476","world_version":"4324a64850a0f29f","decision":{"id":"e1","type":"inbound","version":"0.1.0","lands_at":["B"],"delivered_to":[],"rule":"an-older-rule","rule_set":"5655545e697ed476","world_version":"4324a64850a0f29f"}}"#,
        "\n",
        r#"{"id":"e2","type":"outbound","client":"cleo","from_account":"glow-downtown","text":"See you","facts":{"clients":[{"id":"cleo","name":"Cleo","account":"glow-downtown","locations":["A"],"guest_app":true}]},"at":"2026-12-02T08:00:01Z","rule_set":"5655545e697ed476","world_version":"none","decision":{"id":"e2","type":"outbound","version":"0.1.0","channel":"push","rule_set":"5655545e697ed476","world_version":"none"}}"#,
        "\n",
    );
    let (lines, summary) = run(&world, input, 2);
    assert_eq!(
        (summary.inbound, summary.outbound, summary.errors),
        (1, 1, 0),
        "{lines:?}"
    );
    assert_eq!(lines[0]["id"], "e1");
    assert_eq!(lines[0]["lands_at"], serde_json::json!(["A"]));
    assert_eq!(lines[0]["rule"], "campaign-reply-with-history");
    assert_eq!(lines[1]["id"], "e2");
    assert_eq!(
        lines[1]["channel"], "push",
        "decided with the logged facts: {}",
        lines[1]
    );
}
