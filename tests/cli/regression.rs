//! Regression tests, each named after the problem it pins (as ripgrep's
//! `tests/regression.rs`): how commroute reads its inputs. Every input is
//! opened once, read whole or refused, and bounded as it is read.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use commroute::replay::timeline::YamlTimeline;
use commroute::scenario::ScenarioFile;
use commroute::World;

use crate::support::process;
use crate::support::rules;
use crate::support::run::Run;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn glow_world() -> String {
    std::fs::read_to_string(root().join("examples/glow-world.yaml")).unwrap()
}

/// The summary line of `simulate --format json`.
fn simulate_summary(dir: &Path, timeline: &str) -> serde_json::Value {
    let (out, _) = Run::new(&["simulate", timeline, "--format", "json", "--db", "t.db"])
        .in_dir(dir)
        .expect(0);
    serde_json::from_str(out.lines().last().unwrap()).unwrap()
}

// ---------------------------------------------------------------------------
// A world file opened twice hung on a pipe

#[cfg(unix)]
#[test]
fn route_inbound_with_a_world_from_a_fifo_never_waits_for_a_second_writer() {
    // The old reader opened the path, saw a pipe, closed it and opened it
    // again; once the writer had written and gone, the second open waited
    // forever (about one run in twenty). Thirty runs, each with a deadline.
    let world = glow_world();
    for _ in 0..30 {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("world.yaml");
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let writer = {
            let (fifo, world) = (fifo.clone(), world.clone());
            std::thread::spawn(move || std::fs::write(fifo, world))
        };
        let out = process::output_within(
            Command::new(env!("CARGO_BIN_EXE_commroute"))
                .args(["route", "inbound", "--world"])
                .arg(&fifo)
                .args(["--client", "cleo", "--answering", "campaign@B", "--format", "json"])
                .current_dir(root()),
            None,
            Duration::from_secs(30),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("\"lands_at\":[\"A\"]"), "{stdout}");
        writer.join().unwrap().unwrap();
    }
}

// ---------------------------------------------------------------------------
// A NUL byte ended every YAML file silently

#[test]
fn a_nul_byte_in_a_rules_file_is_refused_not_taken_for_its_end() {
    // The parser took the NUL for the end of the file: the grants after it
    // disappeared and `check` said the rules were fine.
    let dir = tempfile::tempdir().unwrap();
    rules::copy_shipped_rules(dir.path());
    let path = dir.path().join("delivery.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text.find("  - id: started-the-conversation").unwrap();
    std::fs::write(&path, format!("{}\0{}", &text[..at], &text[at..])).unwrap();
    let line = text[..at].lines().count() + 1;
    let (_, err) = Run::new(&["check", "--rules", dir.path().to_str().unwrap()]).expect(1);
    assert!(
        err.contains("the control character U+0000 (NUL), which YAML does not allow"),
        "{err}"
    );
    assert!(err.contains(&format!("delivery.yaml:{line}:1")), "{err}");
}

#[test]
fn a_nul_byte_in_a_scenario_file_is_refused_not_taken_for_its_end() {
    // One of four cases ran, and `test` said "1 passed".
    let text = std::fs::read_to_string(root().join("scenarios/inbound/01-client-replies-staff-at-both-locations.yaml"))
        .unwrap();
    let second = text.match_indices("  - name:").nth(1).unwrap().0;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("01.yaml");
    std::fs::write(&path, format!("{}\0{}", &text[..second], &text[second..])).unwrap();
    let err = ScenarioFile::load(&path).unwrap_err().to_string();
    assert!(err.contains("U+0000 (NUL)"), "{err}");
    let (out, err) = Run::new(&["test", path.to_str().unwrap()]).expect(2);
    assert!(!out.contains("1 passed"), "{out}");
    assert!(err.contains("U+0000 (NUL)"), "{err}");
}

#[test]
fn a_nul_byte_in_a_world_or_a_yaml_timeline_is_refused_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let world = glow_world();
    let at = world.find("  - id: rita").unwrap();
    let path = dir.path().join("world.yaml");
    std::fs::write(&path, format!("{}\0{}", &world[..at], &world[at..])).unwrap();
    let err = World::load(&path).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    assert_eq!(err.0[0].pos.line, world[..at].lines().count() + 1);
    assert!(err.0[0].message.contains("U+0000 (NUL)"), "{err}");

    let timeline = format!(
        "world: {}\nevents:\n  - {{id: e1, at: 2026-03-02T09:00:00Z, type: login, staff: sam, location: A}}\n\0  - {{id: e2, at: 2026-03-02T09:01:00Z, type: logout, staff: sam}}\n",
        root().join("examples/glow-world.yaml").display()
    );
    let path = dir.path().join("t.yaml");
    std::fs::write(&path, timeline).unwrap();
    let err = YamlTimeline::load(&path).unwrap_err().to_string();
    assert!(err.contains("t.yaml:4:1") && err.contains("U+0000 (NUL)"), "{err}");
}

#[test]
fn escape_and_other_controls_are_refused_like_nul() {
    for (c, name) in [
        ('\u{1b}', "U+001B (ESC)"),
        ('\u{7f}', "U+007F (DEL)"),
        ('\u{9b}', "U+009B"),
    ] {
        let text = format!("accounts: []\nlocations: []\nstaff: []\nclients: []\n# {c}[2J\n");
        let err = World::parse(commroute::Source::new("w.yaml", text))
            .unwrap_err()
            .to_string();
        assert!(err.contains(name) && err.contains("w.yaml:5:3"), "{err}");
    }
    // Written as escapes in double quotes, they are text like any other.
    let text = "accounts: [{id: a, name: \"A\\e[1mB\"}]\nlocations: []\nstaff: []\nclients: []\n";
    World::parse(commroute::Source::new("w.yaml", text)).unwrap();
}

// ---------------------------------------------------------------------------
// A byte-order mark was read as part of the first key or line

#[test]
fn a_byte_order_mark_is_accepted_in_every_kind_of_file() {
    const BOM: &str = "\u{feff}";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A world, a rules directory, a scenario, and both kinds of timeline.
    std::fs::write(d.join("world.yaml"), format!("{BOM}{}", glow_world())).unwrap();
    World::load(&d.join("world.yaml")).unwrap();
    std::fs::create_dir(d.join("rules")).unwrap();
    rules::copy_shipped_rules(&d.join("rules"));
    for f in ["inbound.yaml", "delivery.yaml", "outbound.yaml"] {
        let p = d.join("rules").join(f);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("{BOM}{text}")).unwrap();
    }
    Run::new(&["check", "--rules", d.join("rules").to_str().unwrap()]).expect(0);
    let scenario = std::fs::read_to_string(root().join("scenarios/outbound/channels.yaml")).unwrap();
    let scenario = scenario.replace("../../examples/glow-world.yaml", "world.yaml");
    std::fs::write(d.join("channels.yaml"), format!("{BOM}{scenario}")).unwrap();
    let (out, _) = Run::new(&["test", "channels.yaml"]).in_dir(d).expect(0);
    assert!(out.contains(" passed, 0 failed"), "{out}");
    std::fs::write(
        d.join("t.yaml"),
        format!("{BOM}world: world.yaml\nevents:\n  - {{id: e1, at: 2026-03-02T09:00:00Z, type: login, staff: sam, location: A}}\n"),
    )
    .unwrap();
    assert_eq!(simulate_summary(d, "t.yaml")["applied"], 1);
    std::fs::write(
        d.join("t.jsonl"),
        format!("{BOM}{{\"type\":\"world\",\"path\":\"world.yaml\"}}\n{{\"id\":\"e1\",\"at\":\"2026-03-02T09:00:00Z\",\"type\":\"login\",\"staff\":\"sam\",\"location\":\"A\"}}\n"),
    )
    .unwrap();
    std::fs::remove_file(d.join("t.db")).unwrap();
    assert_eq!(simulate_summary(d, "t.jsonl")["applied"], 1);
    // Event lines: route batch on stdin, and diff --events.
    let line = "{\"id\":\"e1\",\"type\":\"inbound\",\"client\":\"cleo\",\"answering\":\"confirmation@A\"}\n";
    let (out, _) = Run::new(&["route", "batch", "--world", "world.yaml"])
        .in_dir(d)
        .stdin(format!("{BOM}{line}"))
        .expect(0);
    assert!(out.contains("\"lands_at\":[\"A\"]"), "{out}");
    std::fs::write(d.join("events.jsonl"), format!("{BOM}{line}")).unwrap();
    let world = World::load(&d.join("world.yaml")).unwrap();
    assert_eq!(
        commroute::authoring::impact::read_recorded_events(&d.join("events.jsonl"), &world)
            .unwrap()
            .len(),
        1
    );
}

// ---------------------------------------------------------------------------
// Unbounded reads

#[cfg(unix)]
#[test]
fn a_jsonl_timeline_that_is_an_endless_device_is_refused_after_32_mib() {
    // Its world line was read without a limit: 7 GB in ten seconds.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("t.jsonl")).unwrap();
    let (_, err) = Run::new(&["simulate", "t.jsonl", "--db", "t.db"])
        .in_dir(dir.path())
        .expect(2);
    assert!(
        err.contains("the first line is longer than 32 MiB, the most a world may take"),
        "{err}"
    );
}

#[test]
fn an_inline_world_is_read_from_its_line_and_its_problems_point_into_it() {
    // The world was copied through a JSON value and a pretty-printed text
    // (a 13.7 MB line took 1 GB); it is now parsed from the line as written.
    let dir = tempfile::tempdir().unwrap();
    let line = r#"{"type":"world","world":{"accounts":[{"id":"g","name":"G"}],"locations":[{"id":"A","name":"Downtown","account":"nope"}],"staff":[],"clients":[]}}"#;
    std::fs::write(dir.path().join("t.jsonl"), format!("{line}\n")).unwrap();
    let (_, err) = Run::new(&["simulate", "t.jsonl", "--db", "t.db"])
        .in_dir(dir.path())
        .expect(2);
    let col = line.find("\"nope\"").unwrap() + 1;
    assert!(err.contains(&format!("t.jsonl:1:{col}")), "{err}");
    assert!(err.contains("unknown account `nope`"), "{err}");
}

// ---------------------------------------------------------------------------
// A file named as a world was quoted whatever it held

#[test]
fn a_timeline_naming_a_file_that_is_not_yaml_never_quotes_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("secret.txt"),
        "root:x:0:0:hunter2-secret-token:/root:/bin/bash\n",
    )
    .unwrap();
    std::fs::copy(root().join("tests/photos/swatch.png"), d.join("photo.png")).unwrap();
    for (name, says) in [
        (
            "secret.txt",
            "the file is not YAML of `key: value` lines: its top level is not a mapping",
        ),
        ("photo.png", "the file is binary, not text"),
    ] {
        std::fs::write(
            d.join("t.jsonl"),
            format!("{{\"type\":\"world\",\"path\":\"{name}\"}}\n"),
        )
        .unwrap();
        let (_, err) = Run::new(&["simulate", "t.jsonl", "--db", "t.db"]).in_dir(d).expect(2);
        assert!(err.contains(says), "{err}");
        assert!(
            !err.contains("hunter2") && !err.contains("PNG") && !err.contains(" | "),
            "{err}"
        );
    }
}

// ---------------------------------------------------------------------------
// A second YAML document was ignored

#[test]
fn a_second_yaml_document_is_refused_not_ignored() {
    let text = "accounts: []\nlocations: []\nstaff: []\n---\nclients: []\n";
    let err = World::parse(commroute::Source::new("w.yaml", text))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("w.yaml:4:1") && err.contains("a second YAML document"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// Brackets in plain text were counted as nesting (issue 16)

#[test]
fn seventy_unquoted_messages_with_a_bracket_emoticon_replay_in_full() {
    // `Sorry :-[ we are late`, written unquoted as PyYAML writes it: the
    // 65th such line was "the file nests deeper than 64 levels".
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("world.yaml"), glow_world()).unwrap();
    let mut t = String::from("world: world.yaml\nevents:\n");
    for i in 0..70 {
        t.push_str(&format!(
            "- id: m{i}\n  at: 2026-03-02T09:{:02}:{:02}Z\n  type: staff_message\n  staff: sam\n  client: cleo\n  text: Sorry :-[ we are late\n",
            i / 60,
            i % 60
        ));
    }
    std::fs::write(dir.path().join("t.yaml"), t).unwrap();
    let summary = simulate_summary(dir.path(), "t.yaml");
    assert_eq!(summary["applied"], 70, "{summary}");
}

#[test]
fn seventy_locations_named_with_an_open_bracket_load_and_route() {
    // `Store [1` … `Store [70`, unquoted, as spreadsheet exports write them.
    let mut w = String::from("accounts:\n- id: g\n  name: G\nlocations:\n");
    for i in 1..=70 {
        w.push_str(&format!("- id: L{i}\n  name: Store [{i}\n  account: g\n"));
    }
    w.push_str("staff:\n- id: sam\n  name: Sam\n  locations: [L1]\n  logged_in_at: L1\nclients:\n- id: cleo\n  name: Cleo\n  account: g\n  locations: [L70, L1]\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("world.yaml"), w).unwrap();
    let world = World::load(&dir.path().join("world.yaml")).unwrap();
    assert_eq!(world.locations.len(), 70);
    let (out, _) = Run::new(&[
        "route",
        "inbound",
        "--world",
        "world.yaml",
        "--client",
        "cleo",
        "--answering",
        "confirmation@L70",
        "--format",
        "json",
    ])
    .in_dir(dir.path())
    .expect(0);
    assert!(out.contains("\"lands_at\":[\"L70\"]"), "{out}");
}

#[test]
fn a_nul_byte_in_an_event_line_is_an_error_for_that_line() {
    // JSON forbids raw control characters: the line is refused, not cut.
    let line_ok = "{\"id\":\"e1\",\"type\":\"inbound\",\"client\":\"cleo\",\"answering\":\"confirmation@A\"}\n";
    let line_nul = "{\"id\":\"e2\",\"type\":\"inbound\",\"client\":\"cl\0eo\"}\n";
    let (out, _) = Run::new(&["route", "batch", "--world", "examples/glow-world.yaml"])
        .stdin(format!("{line_ok}{line_nul}{line_ok}"))
        .expect(1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].contains("\"type\":\"error\"") && lines[1].contains("\"line\":2"),
        "{out}"
    );
    assert!(lines[2].contains("\"lands_at\":[\"A\"]"), "{out}");
}

// ---------------------------------------------------------------------------
// February 31st was taken for a time (the old shape check let any day 01-31 through)

#[test]
fn february_31st_is_refused_in_every_kind_of_timeline_naming_the_place_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(root().join("examples/glow-world.yaml"), d.join("glow-world.yaml")).unwrap();
    let why = "field `at`: `2026-02-31T10:00:00Z` is not a real date: February 2026 has 28 days";
    let help = "= help: write times as `2026-03-02T09:15:00Z` (RFC 3339, UTC, to the second)";
    std::fs::write(
        d.join("t.yaml"),
        "world: glow-world.yaml\nevents:\n  - {id: e1, at: 2026-02-28T09:00:00Z, type: login, staff: sam, location: A}\n  \
         - {id: e2, at: 2026-02-31T10:00:00Z, type: logout, staff: sam}\n",
    )
    .unwrap();
    let (_, err) = Run::new(&["simulate", "t.yaml", "--db", "y.db"]).in_dir(d).expect(2);
    assert!(
        err.contains(&format!("error: event `e2`, {why}\n  --> t.yaml:4:14\n")),
        "{err}"
    );
    assert!(err.contains(help), "{err}");
    // A JSON Lines timeline points at the value in its line.
    std::fs::write(
        d.join("t.jsonl"),
        "{\"type\":\"world\",\"path\":\"glow-world.yaml\"}\n\
         {\"id\":\"e1\",\"at\":\"2026-02-31T10:00:00Z\",\"type\":\"logout\",\"staff\":\"sam\"}\n",
    )
    .unwrap();
    let (_, err) = Run::new(&["simulate", "t.jsonl", "--db", "j.db"]).in_dir(d).expect(2);
    assert!(
        err.contains(&format!("error: event `e1`, {why}\n  --> t.jsonl:2:17\n")),
        "{err}"
    );
    assert!(err.contains(help), "{err}");
}
