//! `commroute simulate` and the commands that read its store, as users run
//! them: tables, JSON, CSV, exit codes and the messages people see.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::support::run::Run;

/// What stderr starts with where there is no `./rules` (the temporary
/// directories some tests run in): the shipped rules are used, and said so.
const SHIPPED_RULES_NOTE: &str =
    "note: using the shipped rules built into commroute (no ./rules here); pass --rules DIR to use your own\n";

/// stderr without the note that the shipped rules are used (the commands
/// run in a folder with no `rules/`).
fn no_note(err: &str) -> &str {
    err.strip_prefix(SHIPPED_RULES_NOTE).unwrap_or(err)
}

/// Stderr under `--format json` (one JSON object per message) written the
/// way it reads without: every field of each object checked against the
/// text people see.
fn as_text(err: &str) -> String {
    let mut notes = String::new();
    let mut errors = Vec::new();
    for line in err.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{line}");
        let s = |k: &str| v[k].as_str().map(str::to_owned);
        match v["type"].as_str() {
            Some("note") => notes.push_str(&format!("note: {}\n", s("message").unwrap())),
            Some("error") => {
                let mut e = String::from("error: ");
                if let Some(subject) = s("subject") {
                    e.push_str(&format!("{subject}: "));
                }
                e.push_str(&format!(
                    "{}\n  --> {}:{}:{}\n",
                    s("message").unwrap(),
                    s("file").unwrap(),
                    v["line"],
                    v["column"]
                ));
                if let Some(help) = s("help") {
                    e.push_str(&format!("  = help: {help}\n"));
                }
                errors.push(e);
            }
            _ => panic!("{line}"),
        }
    }
    let n = errors.len();
    format!(
        "{notes}{}\n{n} problem{} found\n",
        errors.join("\n"),
        if n == 1 { "" } else { "s" }
    )
}

/// A fresh database with a timeline replayed into it.
fn replayed(timeline: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    Run::new(&["simulate", timeline, "--quiet"]).db(&db).expect(0);
    (dir, db)
}

#[test]
fn simulate_prints_each_event_after_its_commit_as_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("day.db");
    let (out, err) = Run::new(&["simulate", "examples/day.jsonl"]).db(&db).expect(0);
    let out = out.replace(&db.display().to_string(), "[db]");
    insta::assert_snapshot!(out);
    assert!(err.starts_with("replayed 12 events in "), "{err}");
}

#[test]
fn simulate_json_is_one_event_per_line_then_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = Run::new(&["simulate", "examples/day.jsonl", "--format", "json"])
        .db(&dir.path().join("d.db"))
        .expect(0);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 13);
    assert!(lines[..12].iter().all(|l| l["type"] == "event"));
    assert_eq!(lines[2]["id"], "d3");
    assert_eq!(lines[2]["notices"], serde_json::json!(["Message failed to deliver"]));
    assert_eq!(lines[2]["audio_cue"], serde_json::json!(["sam"]));
    assert_eq!(lines[6]["channel"], "none");
    assert_eq!(lines[12]["type"], "summary");
    assert_eq!(lines[12]["applied"], 12);
}

#[test]
fn simulate_writes_commroute_db_in_the_working_directory_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let timeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/day.jsonl");
    let (out, _) = Run::new(&["simulate", timeline.to_str().unwrap(), "--quiet"])
        .in_dir(dir.path())
        .expect(0);
    assert_eq!(
        out,
        "12 events: 12 applied, 0 already recorded; saved in commroute.db\n"
    );
    assert!(dir.path().join("commroute.db").is_file());
    let (out, _) = Run::new(&["conversations", "--location", "C"])
        .in_dir(dir.path())
        .expect(0);
    assert!(out.ends_with("1 conversation at C\n"), "{out}");
}

#[test]
fn a_bad_line_stops_the_replay_there_keeping_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("examples/glow-world.yaml", dir.path().join("glow-world.yaml")).unwrap();
    let day = std::fs::read_to_string("examples/day.jsonl").unwrap();
    let broken = day.replace(r#""message":"d4""#, r#""message":"d44""#);
    std::fs::write(dir.path().join("day.jsonl"), broken).unwrap();
    let (out, err) = Run::new(&["simulate", "day.jsonl", "--format", "json"])
        .in_dir(dir.path())
        .expect(2);
    assert_eq!(
        out.lines().count(),
        4,
        "the four events before the bad one are saved and printed:\n{out}"
    );
    assert_eq!(
        as_text(&err),
        format!(
            "{SHIPPED_RULES_NOTE}error: event `d5`: no staff message was saved by an event `d44`\n  \
             --> day.jsonl:6:1\n  \
             = help: a delivery report names the `id` of an earlier `staff_message` event that was sent\n\n\
             1 problem found\n"
        )
    );
    // Fixing the line and running again resumes after the four saved events.
    std::fs::write(dir.path().join("day.jsonl"), day).unwrap();
    let (out, _) = Run::new(&["simulate", "day.jsonl", "--quiet"])
        .in_dir(dir.path())
        .expect(0);
    assert_eq!(out, "12 events: 8 applied, 4 already recorded; saved in commroute.db\n");
}

#[test]
fn an_unknown_id_in_a_json_line_names_the_line_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("examples/glow-world.yaml", dir.path().join("glow-world.yaml")).unwrap();
    std::fs::write(
        dir.path().join("t.jsonl"),
        "{\"type\":\"world\",\"path\":\"glow-world.yaml\"}\n\
         {\"id\":\"x1\",\"at\":\"2026-03-02T09:00:00Z\",\"type\":\"client_message\",\"client\":\"cloe\",\"text\":\"hi\"}\n",
    )
    .unwrap();
    let (_, err) = Run::new(&["simulate", "t.jsonl"]).in_dir(dir.path()).expect(2);
    assert_eq!(
        err,
        format!(
            "{SHIPPED_RULES_NOTE}error: event `x1`, field `client`: unknown client `cloe`\n  --> t.jsonl:2:73\n  = help: did you mean `cleo`?\n\n1 problem found\n"
        )
    );
}

#[test]
fn the_store_screen_shows_10_of_12_conversations_most_recent_first() {
    let (_dir, db) = replayed("scenarios/timelines/store-screen-shows-10-of-12.yaml");
    let (out, _) = Run::new(&["conversations", "--location", "A", "--in-store"])
        .db(&db)
        .expect(0);
    insta::assert_snapshot!(out);
    let (out, _) = Run::new(&["conversations", "--location", "A", "--format", "json"])
        .db(&db)
        .expect(0);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 13);
    assert_eq!(
        lines[12],
        serde_json::json!({"type": "summary", "version": env!("CARGO_PKG_VERSION"), "location": "A", "shown": 12, "total": 12})
    );
}

#[test]
fn conversation_shows_the_history_with_notices_and_attempts() {
    let (_dir, db) = replayed("scenarios/timelines/failed-sms-notice-and-cue.yaml");
    let (out, _) = Run::new(&["conversation", "--client", "cleo"]).db(&db).expect(0);
    insta::assert_snapshot!("failed_sms", out);
    let (_dir, db) = replayed("scenarios/timelines/push-failure-fallback.yaml");
    let (out, _) = Run::new(&["conversation", "--client", "gwen"]).db(&db).expect(0);
    insta::assert_snapshot!("push_fallback", out);
    let (_, err) = Run::new(&["conversation", "--client", "nna"]).db(&db).expect(2);
    assert!(err.starts_with("error: client `nna` has no conversation in "), "{err}");
}

#[test]
fn usage_by_account_and_location_as_table_json_and_csv() {
    let (_dir, db) = replayed("scenarios/timelines/full-day-two-locations.yaml");
    let (out, _) = Run::new(&["usage"]).db(&db).expect(0);
    insta::assert_snapshot!("table", out);
    let (out, _) = Run::new(&["usage", "--by", "location", "--format", "csv"])
        .db(&db)
        .expect(0);
    assert_eq!(
        out,
        "month,location,sms_inbound,sms_outbound,sms_messages,sms_segments,mms_messages\n\
         2026-03,A,3,3,6,6,0\n\
         2026-03,B,1,1,2,3,0\n"
    );
    let (out, _) = Run::new(&["usage", "--by", "account", "--format", "json", "--month", "2026-03"])
        .db(&db)
        .expect(0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["account"], "lumen");
    assert_eq!((v["sms_messages"].as_i64(), v["segments"].as_i64()), (Some(8), Some(9)));
    let (out, _) = Run::new(&["usage", "--by", "location", "--format", "markdown"])
        .db(&db)
        .expect(0);
    assert_eq!(
        out,
        "## SMS and MMS usage\n\nIn 1 month: 9 SMS segments and 0 MMS messages, by location.\n\n\
         | month | location | SMS in | SMS out | SMS messages | SMS segments | MMS messages |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n\
         | 2026-03 | A | 3 | 3 | 6 | 6 | 0 |\n\
         | 2026-03 | B | 1 | 1 | 2 | 3 | 0 |\n"
    );
    let (out, _) = Run::new(&["usage", "--month", "2026-04"]).db(&db).expect(0);
    assert_eq!(out, "no SMS or MMS usage\n");
    let (_, err) = Run::new(&["usage", "--month", "March"]).db(&db).expect(2);
    assert_eq!(err, "error: --month `March`: write a month as YYYY-MM, e.g. 2026-03\n");
}

#[test]
fn reading_commands_need_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let (_, err) = Run::new(&["usage"]).in_dir(dir.path()).expect(2);
    assert_eq!(
        err,
        "error: no database at `commroute.db`; replay a timeline into it first with `commroute simulate TIMELINE --db commroute.db`\n"
    );
}

#[test]
fn a_json_lines_timeline_may_hold_its_world_inline() {
    let dir = tempfile::tempdir().unwrap();
    let world = serde_json::json!({
        "accounts": [{"id": "glow", "name": "Glow Salons"}],
        "locations": [{"id": "A", "name": "Downtown", "account": "glow"}],
        "staff": [{"id": "sam", "name": "Sam Reyes", "locations": ["A"], "logged_in_at": "A"}],
        "clients": [{"id": "cleo", "name": "Cleo Park", "account": "glow", "locations": ["A"],
                     "phone": "(650) 253-0000", "sms_opt_in": true}]
    });
    let text = format!(
        "{}\n{}\n",
        serde_json::json!({"type": "world", "world": world}),
        r#"{"id":"i1","at":"2026-03-02T09:00:00Z","type":"client_message","client":"cleo","text":"Hello"}"#
    );
    std::fs::write(dir.path().join("t.jsonl"), text).unwrap();
    let (out, _) = Run::new(&["simulate", "t.jsonl", "--format", "json"])
        .in_dir(dir.path())
        .expect(0);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["lands_at"], serde_json::json!(["A"]));
    assert_eq!(first["live"], serde_json::json!(["sam"]));
}

/// The events every duplicate case starts from (day.jsonl's first five):
/// a client message, two staff messages, two delivery reports.
const PREFIX: [&str; 5] = [
    r#"{"id":"d1","at":"2026-03-02T09:00:00Z","type":"client_message","client":"cleo","answering":"confirmation@A","text":"C"}"#,
    r#"{"id":"d2","at":"2026-03-02T09:01:00Z","type":"staff_message","staff":"sam","client":"cleo","text":"Thanks Cleo, see you at 3pm!"}"#,
    r#"{"id":"d3","at":"2026-03-02T09:01:30Z","type":"delivery","message":"d2","status":"failed"}"#,
    r#"{"id":"d4","at":"2026-03-02T09:30:00Z","type":"staff_message","staff":"uma","client":"gwen","text":"See you at 3pm!"}"#,
    r#"{"id":"d5","at":"2026-03-02T09:30:20Z","type":"delivery","message":"d4","status":"delivered"}"#,
];

/// A JSON Lines timeline: the world, a blank line (so lines and positions
/// differ), the prefix, then `last` with the id `id`.
fn timeline_with(dir: &Path, id: &str, last: &str) -> String {
    let mut t = String::from("{\"type\":\"world\",\"path\":\"glow-world.yaml\"}\n\n");
    for line in PREFIX {
        t.push_str(line);
        t.push('\n');
    }
    t.push_str(&format!(r#"{{"id":"{id}","at":"2026-03-02T11:00:00Z",{last}}}"#));
    t.push('\n');
    std::fs::write(dir.join("t.jsonl"), &t).unwrap();
    t
}

fn dump(db: &Path) -> String {
    commroute::replay::store::Store::open_read_only(db)
        .unwrap()
        .dump()
        .unwrap()
}

#[test]
fn a_duplicate_id_of_every_event_type_is_refused_in_a_json_lines_timeline() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("examples/glow-world.yaml", dir.path().join("glow-world.yaml")).unwrap();
    // The store after the prefix alone: what a refused duplicate must leave.
    std::fs::write(
        dir.path().join("prefix.jsonl"),
        format!(
            "{{\"type\":\"world\",\"path\":\"glow-world.yaml\"}}\n\n{}\n",
            PREFIX.join("\n")
        ),
    )
    .unwrap();
    Run::new(&["simulate", "prefix.jsonl", "--db", "prefix.db", "--quiet"])
        .in_dir(dir.path())
        .expect(0);
    let prefix = dump(&dir.path().join("prefix.db"));
    // Every type of event, each reusing the id of one of the prefix's events
    // (`first`, from 1), which sits at line `first + 2` of the file.
    let cases = [
        (r#""type":"login","staff":"sam","location":"A""#, 1),
        (r#""type":"logout","staff":"sam""#, 2),
        (
            r#""type":"staff_message","staff":"sam","client":"cleo","text":"Again""#,
            2,
        ),
        (
            r#""type":"staff_message","staff":"sam","client":"cleo","text":"Again""#,
            1,
        ),
        (r#""type":"client_message","client":"cleo","text":"Hi again""#, 3),
        (r#""type":"delivery","message":"d4","status":"failed""#, 4),
        (
            r#""type":"appointment","client":"otto","location":"B","status":"booked""#,
            5,
        ),
        (r#""type":"contact","client":"otto","email_opt_in":true"#, 1),
    ];
    for (i, (last, first)) in cases.into_iter().enumerate() {
        let db = format!("case{i}.db");
        // With an id of its own the event is applied: only the id is wrong.
        timeline_with(dir.path(), "fresh", last);
        Run::new(&["simulate", "t.jsonl", "--db", &format!("fresh{i}.db"), "--quiet"])
            .in_dir(dir.path())
            .expect(0);

        let id = format!("d{first}");
        timeline_with(dir.path(), &id, last);
        let (out, err) = Run::new(&["simulate", "t.jsonl", "--db", &db, "--format", "json"])
            .in_dir(dir.path())
            .expect(2);
        assert_eq!(
            as_text(&err),
            format!(
                "{SHIPPED_RULES_NOTE}error: event `{id}`: duplicate event id `{id}`\n  \
                 --> t.jsonl:8:1\n  \
                 = help: the same id is used at line {} (event {first} of the timeline); every event needs its own id\n\n\
                 1 problem found\n",
                first + 2
            ),
            "case {last}"
        );
        assert_eq!(out.lines().count(), 5, "the five events before it are printed: {out}");
        assert_eq!(
            dump(&dir.path().join(&db)),
            prefix,
            "case {last}: the store holds the events before the duplicate and nothing of it"
        );

        // With the id corrected, the next run applies the event and nothing else;
        // a run after that writes nothing.
        timeline_with(dir.path(), "fixed", last);
        let (out, _) = Run::new(&["simulate", "t.jsonl", "--db", &db, "--quiet"])
            .in_dir(dir.path())
            .expect(0);
        assert_eq!(out, format!("6 events: 1 applied, 5 already recorded; saved in {db}\n"));
        let done = dump(&dir.path().join(&db));
        let (out, _) = Run::new(&["simulate", "t.jsonl", "--db", &db, "--quiet"])
            .in_dir(dir.path())
            .expect(0);
        assert_eq!(out, format!("6 events: 0 applied, 6 already recorded; saved in {db}\n"));
        assert_eq!(
            dump(&dir.path().join(&db)),
            done,
            "case {last}: a second replay changed the store"
        );
    }
}

#[test]
fn another_timeline_replayed_into_a_database_is_refused_at_the_first_position_that_differs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("examples/glow-world.yaml", dir.path().join("glow-world.yaml")).unwrap();
    timeline_with(dir.path(), "d6", r#""type":"logout","staff":"sam""#);
    Run::new(&["simulate", "t.jsonl", "--db", "t.db", "--quiet"])
        .in_dir(dir.path())
        .expect(0);
    let before = dump(&dir.path().join("t.db"));
    // The same events, but the third has another id (and the second's id
    // moved to the sixth position): position 3 holds `d3` in the store.
    let text = std::fs::read_to_string(dir.path().join("t.jsonl")).unwrap();
    std::fs::write(dir.path().join("t.jsonl"), text.replace(r#""id":"d3""#, r#""id":"x3""#)).unwrap();
    let (_, err) = Run::new(&["simulate", "t.jsonl", "--db", "t.db", "--quiet"])
        .in_dir(dir.path())
        .expect(2);
    assert!(
        err.contains("the database holds event `d3` at position 3 of the timeline, this timeline has `x3`"),
        "{err}"
    );
    assert!(err.contains("--> t.jsonl:5:1"), "{err}");
    assert_eq!(dump(&dir.path().join("t.db")), before, "nothing was written");
}

// ---------------------------------------------------------------------------
// The store under concurrent, foreign, edited and read-only use

/// Waits for a child to end; one that runs longer than `secs` seconds is
/// killed and fails the test (its output must fit a pipe: use `--quiet`).
fn finish(mut child: Child, what: &str, secs: u64) -> Output {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match child.try_wait().unwrap() {
            Some(_) => return child.wait_with_output().unwrap(),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not end within {secs} s; it was killed");
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// `commroute ARGS` in `dir`, started and not waited for.
fn start(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_commroute"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A folder with the example world and `day.jsonl` (12 events).
fn day_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("examples/glow-world.yaml", dir.path().join("glow-world.yaml")).unwrap();
    std::fs::copy("examples/day.jsonl", dir.path().join("day.jsonl")).unwrap();
    dir
}

/// The file's bytes and modification time.
fn state(path: &Path) -> (Vec<u8>, SystemTime) {
    (
        std::fs::read(path).unwrap(),
        std::fs::metadata(path).unwrap().modified().unwrap(),
    )
}

/// The names in a folder, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn two_replays_started_together_50_times_never_lose_or_alter_a_row() {
    let dir = day_dir();
    let d = dir.path();
    Run::new(&["simulate", "day.jsonl", "--db", "clean.db", "--quiet"])
        .in_dir(d)
        .expect(0);
    let clean = dump(&d.join("clean.db"));
    let mut refused = 0;
    for i in 0..50 {
        let db = format!("run{i}.db");
        let args = ["simulate", "day.jsonl", "--db", db.as_str(), "--quiet"];
        let (a, b) = (start(d, &args), start(d, &args));
        let pids = [a.id(), b.id()];
        let outs = [finish(a, "the first replay", 60), finish(b, "the second replay", 60)];
        let mut applied = Vec::new();
        for (n, out) in outs.iter().enumerate() {
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout),
                no_note(&String::from_utf8_lossy(&out.stderr)).to_owned(),
            );
            match out.status.code() {
                Some(0) => applied.push(stdout.into_owned()),
                Some(2) => {
                    // Refused at once, naming the other process when it
                    // had written itself into the lock file yet.
                    refused += 1;
                    let other = pids[1 - n];
                    let named = format!("error: another replay (pid {other}, started at 20");
                    let end = format!(" holds `{db}`; wait for it to finish\n");
                    assert!(
                        (stderr.starts_with(&named) || stderr == format!("error: another replay{end}"))
                            && stderr.ends_with(&end),
                        "run {i}: refused with another message:\n{stderr}"
                    );
                    assert_eq!(stdout, "", "run {i}: a refused replay prints nothing");
                }
                code => panic!("run {i}: exit {code:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"),
            }
        }
        applied.sort();
        let expected = [
            format!("12 events: 0 applied, 12 already recorded; saved in {db}\n"),
            format!("12 events: 12 applied, 0 already recorded; saved in {db}\n"),
        ];
        match applied.len() {
            1 => assert_eq!(applied[0], expected[1], "run {i}"),
            2 => assert_eq!(applied, expected, "run {i}: the later one resumed"),
            _ => panic!("run {i}: both replays were refused"),
        }
        assert_eq!(
            dump(&d.join(&db)),
            clean,
            "run {i}: the database differs from a clean run's"
        );
        assert!(
            !d.join(format!("{db}.lock")).exists(),
            "run {i}: the lock file was left behind"
        );
    }
    assert!(
        refused > 0,
        "in 50 runs the two replays never overlapped, so this test showed nothing"
    );
}

#[test]
fn a_database_locked_by_another_program_says_so_and_what_to_do_printing_sqlite_s_words_once() {
    let dir = day_dir();
    let d = dir.path();
    // Another program holds a write transaction on a new, empty database.
    let other = rusqlite::Connection::open(d.join("t.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE; CREATE TABLE mine (x)").unwrap();
    let out = finish(
        start(d, &["simulate", "day.jsonl", "--db", "t.db", "--quiet"]),
        "a replay of a locked database",
        60,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        no_note(&String::from_utf8_lossy(&out.stderr)),
        "error: the database `t.db` is locked: another program holds a lock on it (database is locked), \
         such as an `sqlite3` shell with a transaction open; wait for it to finish or close it, then run again\n"
    );
    other.execute_batch("ROLLBACK").unwrap();
    drop(other);
    Run::new(&["simulate", "day.jsonl", "--db", "t.db", "--quiet"])
        .in_dir(d)
        .expect(0);
}

#[test]
fn an_sqlite_error_is_printed_once() {
    let (dir, db) = replayed("scenarios/timelines/full-day-two-locations.yaml");
    // A store cut short: its tables point at pages the file no longer has.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(4 * 8192)
        .unwrap();
    let message = "error: cannot open the database `t.db`: database disk image is malformed\n";
    for args in [
        &["usage", "--db", "t.db"][..],
        &["conversation", "--client", "cleo", "--db", "t.db"],
        &[
            "simulate",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/day.jsonl"),
            "--db",
            "t.db",
            "--quiet",
        ],
    ] {
        let (_, err) = Run::new(args).in_dir(dir.path()).expect(2);
        assert_eq!(no_note(&err), message, "{args:?}");
    }
}

#[test]
fn a_folder_given_as_the_database_is_named_as_one() {
    let dir = day_dir();
    std::fs::create_dir(dir.path().join("a-folder")).unwrap();
    for args in [
        &["simulate", "day.jsonl", "--db", "a-folder", "--quiet"][..],
        &["usage", "--db", "a-folder"],
    ] {
        let (_, err) = Run::new(args).in_dir(dir.path()).expect(2);
        assert_eq!(
            no_note(&err),
            "error: `a-folder` is a folder, not a database; give `--db` a file\n",
            "{args:?}"
        );
    }
    assert_eq!(listing(dir.path()), ["a-folder", "day.jsonl", "glow-world.yaml"]);
}

#[test]
fn a_foreign_sqlite_database_is_refused_before_anything_is_written() {
    let dir = day_dir();
    let d = dir.path();
    let db = d.join("crm.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE people (id INTEGER, name TEXT); INSERT INTO people VALUES (1, 'Ada');")
        .unwrap();
    drop(conn);
    let before = (state(&db), listing(d));
    let message = "error: `crm.db` is an SQLite database but not a conversation store (it has the table `people`); \
                   `--db` takes a store written by `commroute simulate`, or a new file for `simulate` to create\n";
    let (out, err) = Run::new(&["simulate", "day.jsonl", "--db", "crm.db"])
        .in_dir(d)
        .expect(2);
    assert_eq!((out.as_str(), no_note(&err)), ("", message));
    for args in [
        &["usage", "--db", "crm.db"][..],
        &["conversations", "--location", "A", "--db", "crm.db"],
        &["conversation", "--client", "cleo", "--db", "crm.db"],
    ] {
        let (_, err) = Run::new(args).in_dir(d).expect(2);
        assert_eq!(no_note(&err), message, "{args:?}");
    }
    assert!(before == (state(&db), listing(d)), "the database or its folder changed");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let dir = day_dir();
    let d = dir.path();
    std::fs::write(d.join("notes.txt"), "remember the milk\n".repeat(200)).unwrap();
    let before = (state(&d.join("notes.txt")), listing(d));
    let message = "error: `notes.txt` is not an SQLite database, so not a conversation store; \
                   `--db` takes a store written by `commroute simulate`, or a new file for `simulate` to create\n";
    let (_, err) = Run::new(&["simulate", "day.jsonl", "--db", "notes.txt"])
        .in_dir(d)
        .expect(2);
    assert_eq!(no_note(&err), message);
    let (_, err) = Run::new(&["usage", "--db", "notes.txt"]).in_dir(d).expect(2);
    assert_eq!(no_note(&err), message);
    assert!(
        before == (state(&d.join("notes.txt")), listing(d)),
        "the file or its folder changed"
    );
}

#[test]
fn a_store_of_another_schema_version_is_refused_before_anything_is_written() {
    let dir = day_dir();
    let d = dir.path();
    // An older store: its `meta` says version 4 and it lacks today's tables.
    let conn = rusqlite::Connection::open(d.join("old.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema', '4');",
    )
    .unwrap();
    drop(conn);
    let before = (state(&d.join("old.db")), listing(d));
    let message = "error: the database `old.db` has schema version 4, this commroute reads and writes version 6; \
                   replay the timeline into a new `--db`\n";
    let (_, err) = Run::new(&["simulate", "day.jsonl", "--db", "old.db"])
        .in_dir(d)
        .expect(2);
    assert_eq!(no_note(&err), message);
    let (_, err) = Run::new(&["usage", "--db", "old.db"]).in_dir(d).expect(2);
    assert_eq!(no_note(&err), message);
    assert!(
        before == (state(&d.join("old.db")), listing(d)),
        "the database or its folder changed"
    );
}

#[test]
fn an_edited_event_is_refused_on_resume_naming_the_event_and_the_field() {
    let dir = day_dir();
    let d = dir.path();
    Run::new(&["simulate", "day.jsonl", "--db", "t.db", "--quiet"])
        .in_dir(d)
        .expect(0);
    let saved = dump(&d.join("t.db"));
    let day = std::fs::read_to_string(d.join("day.jsonl")).unwrap();
    let help = "  = help: replay a timeline into the database it was first replayed into, as it was then, or use a new `--db`\n\n1 problem found\n";
    for (edited, line, message) in [
        (
            day.replace("see you at 3pm!", "see you at 4pm!"),
            3,
            "error: event `d2`: it changed since the database recorded it at position 2: its `text` differs\n",
        ),
        (
            day.replace(
                r#""id":"d5","at":"2026-03-02T09:30:20Z","type":"delivery","message":"d4","status":"delivered""#,
                r#""id":"d5","at":"2026-03-02T09:30:25Z","type":"delivery","message":"d4","status":"failed""#,
            ),
            6,
            "error: event `d5`: it changed since the database recorded it at position 5: its `at` \
             (`2026-03-02T09:30:20Z` when recorded, `2026-03-02T09:30:25Z` now) and `status` differ\n",
        ),
        (
            day.replace(
                r#""client":"cleo","answering":"confirmation@A","text":"C""#,
                r#""client":"cleo","text":"C""#,
            ),
            2,
            "error: event `d1`: it changed since the database recorded it at position 1: its `answering` differs\n",
        ),
    ] {
        assert_ne!(edited, day);
        std::fs::write(d.join("day.jsonl"), &edited).unwrap();
        let (out, err) = Run::new(&["simulate", "day.jsonl", "--db", "t.db", "--format", "json"])
            .in_dir(d)
            .expect(2);
        assert_eq!(
            no_note(&as_text(&err)),
            format!("{message}  --> day.jsonl:{line}:1\n{help}")
        );
        // The events before it are already recorded (the lines say so); nothing is written.
        assert_eq!(out.lines().count(), line - 2, "{out}");
        assert_eq!(dump(&d.join("t.db")), saved, "a refused replay changed the database");
    }
    // Spelling out a default is not an edit.
    std::fs::write(
        d.join("day.jsonl"),
        day.replace(
            r#""answering":"confirmation@A","text":"C""#,
            r#""answering":"confirmation@A","text":"C","via":"sms""#,
        ),
    )
    .unwrap();
    let (out, _) = Run::new(&["simulate", "day.jsonl", "--db", "t.db", "--quiet"])
        .in_dir(d)
        .expect(0);
    assert_eq!(out, "12 events: 0 applied, 12 already recorded; saved in t.db\n");
}

#[test]
fn impossible_dates_in_a_json_lines_timeline_are_refused_naming_the_event_and_the_field() {
    let dir = day_dir();
    let d = dir.path();
    for (at, why) in [
        ("2026-02-30T09:00:00Z", "February 2026 has 28 days"),
        ("2026-04-31T09:00:00Z", "April 2026 has 30 days"),
        ("2025-02-29T09:00:00Z", "February 2025 has 28 days"),
    ] {
        std::fs::write(
            d.join("t.jsonl"),
            format!(
                "{{\"type\":\"world\",\"path\":\"glow-world.yaml\"}}\n\
                 {{\"id\":\"x1\",\"at\":\"{at}\",\"type\":\"logout\",\"staff\":\"sam\"}}\n"
            ),
        )
        .unwrap();
        let (_, err) = Run::new(&["simulate", "t.jsonl", "--db", "t.db"]).in_dir(d).expect(2);
        assert_eq!(
            no_note(&err),
            format!(
                "error: event `x1`, field `at`: `{at}` is not a real date: {why}\n  --> t.jsonl:2:17\n  \
                 = help: write times as `2026-03-02T09:15:00Z` (RFC 3339, UTC, to the second)\n\n1 problem found\n"
            )
        );
    }
    let (_, err) = Run::new(&["usage", "--month", "2026-13"]).in_dir(d).expect(2);
    assert_eq!(
        err,
        "error: --month `2026-13`: there is no month 13; write a month as YYYY-MM, e.g. 2026-03\n"
    );
}

/// Sets a path's Unix permission bits.
#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
#[test]
fn the_reading_commands_never_write_and_read_a_store_in_a_read_only_file_and_folder() {
    use std::os::unix::fs::MetadataExt;
    let (dir, db) = replayed("scenarios/timelines/full-day-two-locations.yaml");
    let d = dir.path().to_path_buf();
    let commands: [&[&str]; 4] = [
        &["usage", "--db", "t.db"],
        &["usage", "--by", "location", "--month", "2026-03", "--db", "t.db"],
        &["conversations", "--location", "A", "--db", "t.db"],
        &["conversation", "--client", "cleo", "--db", "t.db"],
    ];
    // What they print, from a copy elsewhere.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(&db, copy.path().join("t.db")).unwrap();
    let expected: Vec<String> = commands
        .iter()
        .map(|args| Run::new(args).in_dir(copy.path()).expect(0).0)
        .collect();
    assert!(expected[3].contains("cleo"), "{}", expected[3]);

    let before = (state(&db), listing(&d));
    assert_eq!(before.1, ["t.db"], "the replay left only the database");
    chmod(&db, 0o444);
    chmod(&d, 0o555);
    // Root writes whatever the permission bits say. As root, run the
    // commands as `nobody` too, for whom the bits hold: that is what a
    // read-only file and folder are to a reader.
    let root = std::fs::metadata(&db).unwrap().uid() == 0 && std::env::var_os("HOME").is_some();
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let mut as_nobody = 0;
    if root {
        match setpriv {
            Some(setpriv) => {
                for (args, want) in commands.iter().zip(&expected) {
                    let child = Command::new(setpriv)
                        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                        .arg(env!("CARGO_BIN_EXE_commroute"))
                        .args(*args)
                        .current_dir(&d)
                        .env("NO_COLOR", "1")
                        .env("COLUMNS", "200")
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap();
                    let out = finish(child, "a reading command run as nobody", 60);
                    assert!(
                        out.status.success(),
                        "{args:?} as nobody: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    assert_eq!(&String::from_utf8_lossy(&out.stdout), want, "{args:?} as nobody");
                    as_nobody += 1;
                }
                assert!(
                    before == (state(&db), listing(&d)),
                    "a reader run as nobody changed the folder"
                );
            }
            None => eprintln!("no setpriv: the commands run as root only, where permission bits stop nothing"),
        }
    }
    for (args, want) in commands.iter().zip(&expected) {
        let (out, _) = Run::new(args).in_dir(&d).expect(0);
        assert_eq!(&out, want, "{args:?}");
    }
    chmod(&d, 0o755);
    chmod(&db, 0o644);
    // A write would have gone to the database or, in WAL mode, to its log.
    assert!(state(&db) == before.0, "a reading command changed the database file");
    let wal = d.join("t.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "a reading command wrote to the log"
    );
    if root && setpriv.is_some() {
        assert_eq!(as_nobody, commands.len());
    }
}
