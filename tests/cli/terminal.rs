//! What reaches a person's terminal, through the real binary: data shown
//! escaped, short excerpts of huge values, a verdict for every file, no
//! silent results, and paths that are not files (devices, named pipes) named
//! for what they are without hanging. The property test over every printer
//! runs in-process (`src/cli/hostile_output.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::process;
use crate::support::run::Run;

const WORLD: &str = "examples/glow-world.yaml";
const SHIPPED_RULES_NOTE: &str =
    "note: using the shipped rules built into commroute (no ./rules here); pass --rules DIR to use your own\n";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary in `dir` with `args`, killing it and failing the test
/// after `limit`: for inputs that used to hang or take minutes. Output is
/// read while the child runs (`process::output_within`), so a chatty child
/// cannot stall on a full pipe.
fn within(limit: Duration, dir: &Path, args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String, Duration) {
    let start = Instant::now();
    let Output { status, stdout, stderr } = process::output_within(
        Command::new(env!("CARGO_BIN_EXE_commroute"))
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env("COLUMNS", "200"),
        None,
        limit,
    );
    (
        status.code(),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
        start.elapsed(),
    )
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

fn has_control(text: &str) -> bool {
    text.chars().any(|c| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}')
    })
}

/// A world whose ids and names carry terminal escape sequences.
const HOSTILE_WORLD: &str = r#"accounts:
  - {id: g, name: "Glow\e]0;owned\a"}
locations:
  - {id: "A\e[2J", name: "Down\ntown\u202e", account: g}
staff:
  - {id: "sam\x9b31m", name: "Sam\e[8m", locations: ["A\e[2J"], logged_in_at: "A\e[2J"}
clients:
  - {id: "cl\neo", name: "Cleo\e]8;;https://evil.example\e\\", account: g, locations: ["A\e[2J"], last_appointment_at: "A\e[2J"}
"#;

#[test]
fn escape_sequences_in_a_world_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.yaml"), HOSTILE_WORLD).unwrap();
    let world = dir.path().join("w.yaml");
    let (out, err) = Run::new(&[
        "route",
        "inbound",
        "--world",
        world.to_str().unwrap(),
        "--client",
        "cl\neo",
        "--answering",
        "campaign@A\u{1b}[2J",
        "--explain",
    ])
    .expect(0);
    assert!(!has_control(&out) && !has_control(&err), "{out:?}\n{err:?}");
    assert!(
        out.contains("lands at          A\\u{1b}[2J (Down\\ntown\\u{202e})\n"),
        "{out}"
    );
    assert!(
        out.contains("sam\\u{9b}31m (Sam\\u{1b}[8m, logged in at A\\u{1b}[2J)"),
        "{out}"
    );
    assert!(
        out.contains("the client's last appointment location is `A\\u{1b}[2J`"),
        "{out}"
    );
    // JSON stays exact: the same strings, escaped the JSON way.
    let (out, _) = Run::new(&[
        "route",
        "inbound",
        "--world",
        world.to_str().unwrap(),
        "--client",
        "cl\neo",
        "--answering",
        "campaign@A\u{1b}[2J",
        "--format",
        "json",
    ])
    .expect(0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["lands_at"], serde_json::json!(["A\u{1b}[2J"]));
    assert_eq!(v["delivered_to"], serde_json::json!(["sam\u{9b}31m"]));
    assert!(
        out.contains(r#""delivered_to":["sam\u009b31m"]"#),
        "C1 is escaped in JSON too: {out}"
    );
}

#[test]
fn escape_sequences_in_an_error_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let world = HOSTILE_WORLD.replace("last_appointment_at", "\"last\\e[2J\"");
    std::fs::write(dir.path().join("w.yaml"), world).unwrap();
    let (_, err) = Run::new(&["route", "inbound", "--world", "w.yaml", "--client", "x"])
        .in_dir(dir.path())
        .expect(2);
    assert!(!has_control(&err), "{err:?}");
    assert!(
        err.contains("error: client `cl\\neo`: unknown key `last\\u{1b}[2J` in a client"),
        "{err}"
    );
    // An unknown id typed on the command line, and a usage error quoting a value.
    let (_, err) = Run::new(&[
        "route",
        "inbound",
        "--world",
        WORLD,
        "--client",
        "x\u{1b}]0;t\u{7}\nerror: fake",
    ])
    .expect(2);
    assert_eq!(
        err,
        "error: --client: unknown client `x\\u{1b}]0;t\\u{7}\\nerror: fake`\n"
    );
    let (_, err) = Run::new(&[
        "route",
        "inbound",
        "--world",
        WORLD,
        "--client",
        "x",
        "--format",
        "\u{1b}[2J\njson",
    ])
    .expect(2);
    assert!(!has_control(&err), "{err:?}");
    assert!(
        err.starts_with("error: invalid value '\\u{1b}[2J\\njson' for '--format <FORMAT>'\n"),
        "{err}"
    );
}

#[test]
fn a_12_mb_unknown_id_is_quoted_as_an_excerpt_and_answered_at_once() {
    // Was 25 s and 1.9 GB (release), and the whole id echoed twice.
    let dir = tempfile::tempdir().unwrap();
    let id = "x".repeat(12 << 20);
    std::fs::write(
        dir.path().join("w.yaml"),
        format!(
            "accounts: [{{id: g, name: G}}]\nlocations: [{{id: A, name: Down, account: g}}]\nstaff: []\n\
             clients:\n  - {{id: cleo, name: C, account: g, locations: [{id}]}}\n"
        ),
    )
    .unwrap();
    let (code, _, err, _) = within(
        Duration::from_secs(60),
        dir.path(),
        &[
            os("route"),
            os("inbound"),
            os("--world"),
            os("w.yaml"),
            os("--client"),
            os("cleo"),
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.len() < 1000, "{} bytes of stderr", err.len());
    assert!(err.starts_with("note: using the shipped rules"), "{err}");
    assert!(
        err.contains("error: client `cleo`: unknown location `xxxxxxxx"),
        "{err}"
    );
    assert!(err.contains("xxxx…xxxx"), "{err}");
    assert!(err.contains("xxxx`\n  --> w.yaml:5:49\n"), "{err}");
}

#[test]
fn a_long_one_line_world_is_quoted_as_a_short_excerpt_with_the_caret_on_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let clients: Vec<String> = (0..20_000)
        .map(|i| format!("{{id: c{i}, name: C, account: g, locations: [A]}}"))
        .collect();
    let line = format!(
        "{{accounts: [{{id: g, name: G}}], locations: [{{id: A, name: Down, account: g}}], staff: [], clients: [{}, {{id: last, name: L, account: nope, locations: [A]}}]}}\n",
        clients.join(", ")
    );
    assert!(line.len() > 1_000_000);
    std::fs::write(dir.path().join("w.yaml"), &line).unwrap();
    let col = line.find("nope").unwrap() + 1;
    let rules = root().join("rules");
    let (_, err) = Run::new(&[
        "route",
        "inbound",
        "--world",
        "w.yaml",
        "--client",
        "c1",
        "--rules",
        rules.to_str().unwrap(),
    ])
    .in_dir(dir.path())
    .expect(2);
    assert!(err.len() < 800, "{} bytes:\n{err}", err.len());
    assert!(err.contains(&format!("--> w.yaml:1:{col}\n")), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let at = lines.iter().position(|l| l.ends_with('^')).unwrap();
    let (shown, caret) = (lines[at - 1], lines[at]);
    assert!(
        shown.starts_with("1 | …") && shown.ends_with("locations: [A]}]}"),
        "{shown}"
    );
    let under = shown.chars().nth(caret.chars().count() - 1);
    assert_eq!(under, Some('n'), "the caret is under `nope`:\n{shown}\n{caret}");
}

#[test]
fn outside_a_checkout_the_shipped_rules_are_named_on_stderr_and_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let world = root().join(WORLD);
    let args = [
        "route",
        "inbound",
        "--world",
        world.to_str().unwrap(),
        "--client",
        "nina",
        "--format",
        "json",
    ];
    let (out, err) = Run::new(&args).in_dir(dir.path()).expect(0);
    // Under --format json the note is a JSON object too.
    let note: serde_json::Value = serde_json::from_str(&err).expect("stderr is JSON only");
    assert_eq!(
        format!("note: {}\n", note["message"].as_str().unwrap()),
        SHIPPED_RULES_NOTE
    );
    assert_eq!(note["type"], "note");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("stdout is JSON only");
    assert_eq!(v["rules"], "shipped");
    // In a checkout, `./rules`, silently; `--rules DIR` names DIR.
    let (out, err) = Run::new(&args).expect(0);
    assert_eq!(err, "");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["rules"],
        "rules"
    );
    let rules = root().join("rules");
    let mut with_dir = args.to_vec();
    with_dir.extend(["--rules", rules.to_str().unwrap()]);
    let (out, err) = Run::new(&with_dir).in_dir(dir.path()).expect(0);
    assert_eq!(err, "");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["rules"],
        rules.to_str().unwrap()
    );
    // The summaries of the other commands that read rules say it too.
    let (out, err) = Run::new(&[
        "test",
        root().join("scenarios/outbound").to_str().unwrap(),
        "--format",
        "json",
    ])
    .in_dir(dir.path())
    .expect(0);
    assert_eq!(err, note.to_string() + "\n");
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(summary["rules"], "shipped");
}

/// A store with examples/day.jsonl replayed into it (locations A, B and C).
fn day_store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    Run::new(&["simulate", "examples/day.jsonl", "--quiet"])
        .db(&db)
        .expect(0);
    (dir, db)
}

#[test]
fn conversations_at_an_unknown_location_is_refused_not_reported_as_zero() {
    let (_dir, db) = day_store();
    let (out, err) = Run::new(&["conversations", "--location", "a"]).db(&db).expect(2);
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!(
            "error: no conversation in `{}` concerns location `a`; did you mean `A`?\n",
            db.display()
        )
    );
    let (_, err) = Run::new(&["conversations", "--location", "Q", "--format", "json"])
        .db(&db)
        .expect(2);
    let error: serde_json::Value = serde_json::from_str(&err).expect("stderr is JSON only");
    assert_eq!(error["type"], "error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .ends_with("concerns location `Q`; its conversations concern `A`, `B` or `C`"),
        "{err}"
    );
    let (out, _) = Run::new(&["conversations", "--location", "C"]).db(&db).expect(0);
    assert!(out.ends_with("1 conversation at C\n"), "{out}");
}

#[test]
fn check_photo_gives_a_verdict_for_every_file_then_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("bad.pdf");
    std::fs::write(&pdf, "%PDF-1.7\n").unwrap();
    let missing = dir.path().join("missing.png");
    let (out, err) = Run::new(&[
        "check-photo",
        "tests/photos/swatch.png",
        pdf.to_str().unwrap(),
        missing.to_str().unwrap(),
    ])
    .expect(2);
    assert_eq!(
        out,
        format!(
            "tests/photos/swatch.png: ok (png, 155 bytes)\n\
             {}: refused (pdf, 9 bytes)\n  Not a recognized image file\n  \
             Supported image types are 'jpeg', 'jpg', 'png', 'gif', 'pjpeg', and 'x-png'\n\
             {}: not checked: cannot read it: No such file or directory (os error 2)\n",
            pdf.display(),
            missing.display()
        )
    );
    assert_eq!(err, "error: 1 of 3 files could not be checked\n");
    let (out, _) = Run::new(&["check-photo", missing.to_str().unwrap(), "--format", "json"]).expect(2);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["error"], "cannot read it: No such file or directory (os error 2)");
}

#[test]
fn check_photo_on_a_device_says_it_is_a_device_not_a_photo_of_0_bytes() {
    let (out, err) = Run::new(&["check-photo", "/dev/zero"]).expect(2);
    assert_eq!(
        out,
        "/dev/zero: not checked: it is a character device, not a file; give the path of an image file\n"
    );
    assert_eq!(err, "error: 1 of 1 file could not be checked\n");
}

#[test]
fn check_photo_on_a_named_pipe_says_so_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("photo.png"));
    let (code, out, _, _) = within(
        Duration::from_secs(20),
        dir.path(),
        &[os("check-photo"), os("photo.png"), os("directory-less.gif")],
    );
    assert_eq!(code, Some(2));
    assert_eq!(
        out,
        "photo.png: not checked: it is a named pipe (FIFO), not a file; give the path of an image file\n\
         directory-less.gif: not checked: cannot read it: No such file or directory (os error 2)\n"
    );
}

#[test]
fn a_photo_in_a_timeline_that_is_a_named_pipe_stops_the_replay_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join(WORLD), dir.path().join("glow-world.yaml")).unwrap();
    mkfifo(&dir.path().join("pipe.png"));
    std::fs::write(
        dir.path().join("t.yaml"),
        "world: glow-world.yaml\nevents:\n  - {id: e1, at: 2026-03-02T09:00:00Z, type: staff_message, staff: sam, client: cleo, text: hi, photos: [pipe.png]}\n",
    )
    .unwrap();
    let rules = root().join("rules");
    let (code, _, err, _) = within(
        Duration::from_secs(20),
        dir.path(),
        &[os("simulate"), os("t.yaml"), os("--rules"), rules.as_os_str()],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot read the photo `pipe.png`: it is a named pipe (FIFO), not a file"),
        "{err}"
    );
}

#[test]
fn a_scenario_path_that_is_a_device_or_a_named_pipe_says_what_it_is_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("fifo.yaml"));
    let rules = root().join("rules");
    let (code, _, err, _) = within(
        Duration::from_secs(20),
        dir.path(),
        &[
            os("test"),
            os("fifo.yaml"),
            os("/dev/null"),
            os("--rules"),
            rules.as_os_str(),
        ],
    );
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        "error: this is a character device, not a scenario file\n  --> /dev/null\n  \
         = help: give scenario files (`.yaml`) or directories of them\n\n\
         error: this is a named pipe (FIFO), not a scenario file\n  --> fifo.yaml\n  \
         = help: give scenario files (`.yaml`) or directories of them\n\n2 problems found\n"
    );
    // Found in a directory, it is not opened either.
    std::fs::create_dir(dir.path().join("scenarios")).unwrap();
    mkfifo(&dir.path().join("scenarios/pipe.yaml"));
    let (code, _, err, _) = within(
        Duration::from_secs(20),
        dir.path(),
        &[os("test"), os("scenarios"), os("--rules"), rules.as_os_str()],
    );
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("error: this is a named pipe (FIFO), not a scenario file\n  --> scenarios/pipe.yaml\n"),
        "{err}"
    );
    // A path that does not exist is still said so.
    let (_, err) = Run::new(&["test", "no/such/dir"]).expect(2);
    assert!(
        err.starts_with("error: no such scenario file or directory\n  --> no/such/dir\n"),
        "{err}"
    );
}
