//! Progress bars on long work: drawn on a terminal's stderr, never into a
//! pipe or a file, and never with `--quiet`.
//!
//! Each long run here outlasts the quarter of a second after which a bar
//! appears: its input is held open for a second by `sh` (`sleep`).

use std::path::Path;
use std::process::Command;

use crate::support::process::{output_within, DEADLINE};
use crate::support::run::Run;

const BIN: &str = env!("CARGO_BIN_EXE_commroute");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Three events of the example world, as `route batch` reads them.
const EVENTS: &str = concat!(
    "{\"id\":\"e1\",\"type\":\"inbound\",\"client\":\"cleo\",\"answering\":\"confirmation@A\"}\n",
    "{\"id\":\"e2\",\"type\":\"inbound\",\"client\":\"nina\"}\n",
    "{\"id\":\"e3\",\"type\":\"outbound\",\"client\":\"gwen\",\"from_account\":\"glow-uptown\",\"text\":\"Hi\"}\n",
);

/// Runs a shell script in the crate root with `$BIN` set to the binary;
/// returns the exit code, stdout and stderr.
fn sh(script: &str, envs: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .current_dir(ROOT)
        .env("BIN", BIN)
        .env("NO_COLOR", "1")
        .envs(envs.iter().copied());
    let out = output_within(&mut cmd, None, DEADLINE);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What a bar would leave in text: carriage returns, escape sequences, or
/// the bar's own words.
fn has_progress_bytes(text: &str) -> bool {
    text.contains('\r') || text.contains('\u{1b}') || text.contains("routing ") || text.contains("replaying ")
}

fn events_file(dir: &Path) -> String {
    let path = dir.join("events.jsonl");
    std::fs::write(&path, EVENTS).unwrap();
    path.display().to_string()
}

#[test]
fn batch_over_a_pipe_writes_no_progress_bytes_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let events = events_file(dir.path());
    let (code, out, err) = sh(
        &format!("(cat '{events}'; sleep 1) | \"$BIN\" route batch --world examples/glow-world.yaml"),
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(!has_progress_bytes(&err), "{err:?}");
    assert!(
        err.starts_with("3 decisions (2 inbound, 1 outbound), 0 errors in ") && err.lines().count() == 1,
        "stderr holds the summary alone: {err:?}"
    );
}

#[test]
fn simulate_with_stderr_piped_writes_no_progress_bytes() {
    // A timeline from a named pipe, written slowly: a replay that lasts.
    let dir = tempfile::tempdir().unwrap();
    let world = Path::new(ROOT).join("examples/glow-world.yaml");
    let day = std::fs::read_to_string(Path::new(ROOT).join("examples/day.jsonl")).unwrap();
    let body: String = day.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let source = dir.path().join("source.jsonl");
    std::fs::write(
        &source,
        format!("{{\"type\":\"world\",\"path\":\"{}\"}}\n{body}", world.display()),
    )
    .unwrap();
    let d = dir.path().display();
    let (code, out, err) = sh(
        &format!(
            "mkfifo '{d}/t.jsonl' && ((cat '{d}/source.jsonl'; sleep 1) > '{d}/t.jsonl' &) && \"$BIN\" simulate '{d}/t.jsonl' --db '{d}/t.db'"
        ),
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.ends_with(&format!(
            "12 events: 12 applied, 0 already recorded; saved in {d}/t.db\n"
        )),
        "{out}"
    );
    assert!(!has_progress_bytes(&err), "{err:?}");
    assert!(
        err.starts_with("replayed 12 events in ") && err.lines().count() == 1,
        "{err:?}"
    );
}

#[test]
fn coverage_and_diff_events_with_stderr_piped_write_nothing_else_to_it() {
    let (_, err) = Run::new(&["coverage", "--min", "100"]).expect(0);
    assert_eq!(err, "");
    let dir = tempfile::tempdir().unwrap();
    let events = events_file(dir.path());
    let (out, err) = Run::new(&[
        "diff",
        "--base",
        "rules",
        "--world",
        "examples/glow-world.yaml",
        "--events",
        &events,
    ])
    .expect(0);
    assert!(out.contains("3 recorded events (0 changed)"), "{out}");
    assert_eq!(err, "");
}

/// A terminal's stderr gets the bar (through a pseudo-terminal made by
/// `script`, from util-linux), and `--quiet` takes it away.
#[test]
fn a_terminal_gets_a_progress_bar_unless_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let events = events_file(dir.path());
    let run = |quiet: &str| {
        let inner = format!(
            "(cat '{events}'; sleep 1) | \"$BIN\" {quiet} route batch --world examples/glow-world.yaml --output /dev/null"
        );
        let (code, out, err) = sh(
            &format!("script -qec '{}' /dev/null", inner.replace('\'', "'\\''")),
            &[("TERM", "xterm")],
        );
        assert_eq!(code, Some(0), "{out}{err}");
        out
    };
    let shown = run("");
    assert!(shown.contains("routing "), "{shown:?}");
    assert!(shown.contains(" events ("), "a count and a rate: {shown:?}");
    assert!(shown.contains("3 decisions (2 inbound, 1 outbound)"), "{shown:?}");
    let quiet = run("--quiet");
    assert!(!quiet.contains("routing "), "{quiet:?}");
    assert!(quiet.contains("3 decisions (2 inbound, 1 outbound)"), "{quiet:?}");
}
