//! Nothing is lost and nothing is saved twice: a replay killed with SIGKILL in
//! the middle resumes on the next run, and the database ends identical to
//! one written by an uninterrupted run. Replaying a finished timeline again
//! changes nothing.

use std::path::Path;
use std::process::Command;

use commroute::replay::store::Store;

use crate::support::process;

const EVENTS: usize = 40_000;

/// A timeline over the example world that exercises every kind of write:
/// messages both ways, delivery reports (failed SMS, failed pushes that fall
/// back), opt-out keywords, refused sends, logins and appointments.
fn write_timeline(dir: &Path) {
    std::fs::copy("examples/glow-world.yaml", dir.join("world.yaml")).unwrap();
    let mut t = String::from("{\"type\":\"world\",\"path\":\"world.yaml\"}\n");
    let clients = ["cleo", "nina", "paul", "gwen", "ivan"];
    let senders = [
        ("sam", "A", "cleo"),
        ("rita", "B", "nina"),
        ("uma", "C", "paul"),
        ("uma", "C", "gwen"),
        ("sam", "A", "ivan"),
        ("sam", "A", "otto"),
    ];
    let mut last_staff: Option<usize> = None;
    for i in 0..EVENTS {
        // One event a second from midnight: 40,000 events fit in the day.
        let at = format!("2026-03-01T{:02}:{:02}:{:02}Z", i / 3600, (i / 60) % 60, i % 60);
        let line = match i % 10 {
            0..=3 => {
                let c = clients[i % clients.len()];
                let text = match i % 97 {
                    0 => "STOP",
                    1 => "start",
                    _ => "Can I come in at 4?",
                };
                format!(r#"{{"id":"e{i}","at":"{at}","type":"client_message","client":"{c}","text":"{text}"}}"#)
            }
            4..=6 => {
                // Each block of ten events has its own sender, in turn.
                let (s, from, c) = senders[(i / 10) % senders.len()];
                last_staff = Some(i);
                format!(
                    r#"{{"id":"e{i}","at":"{at}","type":"staff_message","staff":"{s}","from":"{from}","client":"{c}","text":"See you soon, {c}! 😊"}}"#
                )
            }
            7 | 8 => match last_staff.take() {
                Some(m) => {
                    let status = if (i / 10) % 4 == 1 { "delivered" } else { "failed" };
                    format!(r#"{{"id":"e{i}","at":"{at}","type":"delivery","message":"e{m}","status":"{status}"}}"#)
                }
                None => format!(
                    r#"{{"id":"e{i}","at":"{at}","type":"appointment","client":"cleo","location":"B","status":"completed"}}"#
                ),
            },
            _ => {
                if i % 20 == 9 {
                    format!(r#"{{"id":"e{i}","at":"{at}","type":"logout","staff":"rita"}}"#)
                } else {
                    format!(r#"{{"id":"e{i}","at":"{at}","type":"login","staff":"rita","location":"B"}}"#)
                }
            }
        };
        t.push_str(&line);
        t.push('\n');
    }
    std::fs::write(dir.join("timeline.jsonl"), t).unwrap();
}

fn simulate(dir: &Path, db: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_commroute"));
    cmd.args([
        "simulate",
        "timeline.jsonl",
        "--db",
        db,
        "--format",
        "json",
        "--batch",
        "500",
    ])
    .arg("--rules")
    .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
    .current_dir(dir);
    cmd
}

fn dump(path: &Path) -> String {
    Store::open_read_only(path).unwrap().dump().unwrap()
}

fn recorded(path: &Path) -> i64 {
    Store::open_read_only(path).unwrap().last_seq().unwrap()
}

#[test]
fn a_replay_killed_with_sigkill_resumes_and_ends_identical_to_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    write_timeline(dir.path());

    // The reference: one uninterrupted run.
    let out = process::output_within(&mut simulate(dir.path(), "whole.db"), None, process::DEADLINE);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let whole = dump(&dir.path().join("whole.db"));
    assert!(
        whole.contains("Message failed to deliver"),
        "the timeline exercises failed SMS"
    );
    // Text columns are dumped quoted, so the JSON of a second attempt reads `\"n\":2`.
    assert!(whole.contains(r#"\"n\":2"#), "the timeline exercises push fallbacks");

    // The same timeline, killed with SIGKILL once a few batches were printed.
    let mut run = process::Lines::spawn_stdout(&mut simulate(dir.path(), "killed.db"));
    let mut printed = 0;
    while printed < 3_000 {
        run.next_within(process::DEADLINE)
            .expect("the run prints events before it ends");
        printed += 1;
    }
    run.child.kill().unwrap(); // SIGKILL on Unix: no chance to commit or clean up
    run.child.wait().unwrap();
    let at_kill = recorded(&dir.path().join("killed.db"));
    assert!(
        at_kill >= printed as i64,
        "an event is printed only after its commit: {printed} printed, {at_kill} saved"
    );
    assert!(
        (at_kill as usize) < EVENTS,
        "the run was killed in the middle ({at_kill} of {EVENTS} events saved)"
    );

    // The next run resumes: the saved events are skipped, the rest applied.
    let out = process::output_within(&mut simulate(dir.path(), "killed.db"), None, process::DEADLINE);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["events"], EVENTS as i64);
    assert_eq!(summary["already_recorded"], at_kill);
    assert_eq!(summary["applied"], EVENTS as i64 - at_kill);
    assert_eq!(
        dump(&dir.path().join("killed.db")),
        whole,
        "the resumed database differs"
    );

    // Replaying a finished timeline again saves nothing twice.
    let out = process::output_within(&mut simulate(dir.path(), "whole.db"), None, process::DEADLINE);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["applied"], 0);
    assert_eq!(summary["already_recorded"], EVENTS as i64);
    assert_eq!(
        dump(&dir.path().join("whole.db")),
        whole,
        "a second replay changed the database"
    );
}
