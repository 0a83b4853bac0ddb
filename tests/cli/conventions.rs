//! The conventions of command-line tools: `-` for stdin, shell completions,
//! manual pages, `--version`, examples in `--help`, `--color` and JSON
//! errors with a `version` in every JSON object.

use std::path::Path;

use crate::support::process::{output_within, DEADLINE};
use crate::support::rules::copy_shipped_rules;
use crate::support::run::Run;

const WORLD: &str = "examples/glow-world.yaml";
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Every line of `text` as JSON.
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The shipped rules with one campaign rule changed, so scenario #9 fails.
fn failing_rules() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped_rules(dir.path());
    let file = dir.path().join("inbound.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let changed = text.replace(
        "        - client.last_appointment: {present: true}",
        "        - client.last_appointment: {present: false}",
    );
    assert_ne!(changed, text);
    std::fs::write(&file, changed).unwrap();
    dir
}

/// Rules whose inbound file has problems (five of them).
fn broken_rules() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped_rules(dir.path());
    std::fs::copy(
        "tests/bad_input/rules/inbound-type-mismatches.yaml",
        dir.path().join("inbound.yaml"),
    )
    .unwrap();
    dir
}

// ---- `-` for stdin -------------------------------------------------------

mod stdin {
    use super::*;

    #[test]
    fn a_world_read_from_stdin_routes_as_the_same_file_does() {
        let args = |world: &str| {
            [
                "route",
                "inbound",
                "--world",
                world,
                "--client",
                "cleo",
                "--answering",
                "campaign@B",
                "--format",
                "json",
            ]
            .map(str::to_owned)
        };
        let from_file = Run::new(&args(WORLD).each_ref().map(String::as_str)).expect(0).0;
        let from_stdin = Run::new(&args("-").each_ref().map(String::as_str))
            .stdin(read(WORLD))
            .expect(0)
            .0;
        assert_eq!(from_stdin, from_file);
        assert!(from_file.contains("\"lands_at\":[\"A\"]"), "{from_file}");
    }

    #[test]
    fn a_bad_world_on_stdin_is_named_stdin_with_its_line_and_column() {
        let world = read(WORLD).replace(
            "{id: A, name: Downtown, account: glow-downtown}",
            "{id: A, name: Downtown, acount: x}",
        );
        let (_, err) = Run::new(&["route", "inbound", "--world", "-", "--client", "cleo"])
            .stdin(world)
            .expect(2);
        assert!(err.contains("--> <stdin>:16:"), "{err}");
        assert!(err.contains("acount"), "{err}");
    }

    #[test]
    fn route_batch_takes_the_world_from_stdin_when_the_events_are_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join("events.jsonl");
        std::fs::write(
            &events,
            "{\"id\":\"e1\",\"type\":\"inbound\",\"client\":\"cleo\",\"answering\":\"campaign@B\"}\n",
        )
        .unwrap();
        let (out, _) = Run::new(&["route", "batch", "--world", "-", "--input", events.to_str().unwrap()])
            .stdin(read(WORLD))
            .expect(0);
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["id"], "e1");
        assert_eq!(lines[0]["lands_at"], serde_json::json!(["A"]));
    }

    /// A JSON Lines timeline on stdin, told from YAML by its first `{`; the
    /// world file its first line names is relative to the working directory.
    #[test]
    fn a_jsonl_timeline_on_stdin_is_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let timeline = read("examples/day.jsonl").replace(
            "{\"type\":\"world\",\"path\":\"glow-world.yaml\"}",
            "{\"type\":\"world\",\"path\":\"examples/glow-world.yaml\"}",
        );
        let db = dir.path().join("t.db");
        let (out, _) = Run::new(&["simulate", "-", "--format", "json", "--db", db.to_str().unwrap()])
            .stdin(timeline)
            .expect(0);
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 13, "{out}");
        assert_eq!(lines[0]["type"], "event");
        assert_eq!(lines[12]["type"], "summary");
        assert_eq!(lines[12]["events"], 12);
    }

    #[test]
    fn a_yaml_timeline_on_stdin_is_replayed_sniffed_or_told() {
        let timeline = read("scenarios/timelines/push-failure-fallback.yaml").replace(
            "world: ../../examples/glow-world.yaml",
            "world: examples/glow-world.yaml",
        );
        for extra in [&[][..], &["--timeline-format", "yaml"][..]] {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("t.db");
            let mut args = vec!["simulate", "-", "--db", db.to_str().unwrap(), "--format", "json"];
            args.extend_from_slice(extra);
            let (out, _) = Run::new(&args).stdin(timeline.clone()).expect(0);
            let lines = json_lines(&out);
            assert_eq!(lines.last().unwrap()["type"], "summary", "{out}");
            assert!(lines.last().unwrap()["events"].as_u64().unwrap() > 0, "{out}");
        }
    }

    #[test]
    fn a_timeline_on_stdin_in_the_wrong_format_is_named_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let (_, err) = Run::new(&[
            "simulate",
            "-",
            "--timeline-format",
            "jsonl",
            "--db",
            db.to_str().unwrap(),
        ])
        .stdin("world: examples/glow-world.yaml\nevents: []\n")
        .expect(2);
        assert!(err.contains("--> <stdin>:1:1"), "{err}");
    }

    #[test]
    fn a_scenario_file_on_stdin_is_run() {
        let scenario = read("scenarios/outbound/channels.yaml")
            .replace("../../examples/glow-world.yaml", "examples/glow-world.yaml");
        let (out, _) = Run::new(&["test", "-", "--format", "json"]).stdin(scenario).expect(0);
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 9, "{out}");
        assert_eq!(lines[0]["file"], "<stdin>");
        assert_eq!(lines[8]["passed"], 8);
    }

    #[test]
    fn a_broken_scenario_on_stdin_is_named_stdin_with_its_line_and_column() {
        let (_, err) = Run::new(&["test", "-"])
            .stdin("world: examples/glow-world.yaml\ncases:\n  - name: x\n    inbund: {client: cleo}\n")
            .expect(2);
        assert!(err.contains("--> <stdin>:4:5"), "{err}");
    }

    #[test]
    fn a_photo_on_stdin_is_checked() {
        let png = std::fs::read("scenarios/timelines/photos/new-color.png").unwrap();
        let (out, _) = Run::new(&["check-photo", "-"]).stdin(png.clone()).expect(0);
        assert_eq!(out, format!("<stdin>: ok (png, {} bytes)\n", png.len()));
        let (out, _) = Run::new(&["check-photo", "-"]).stdin("%PDF-1.7\n").expect(1);
        assert!(out.starts_with("<stdin>: refused (pdf, 9 bytes)\n"), "{out}");
    }

    #[test]
    fn recorded_events_on_stdin_are_compared_and_their_errors_named_stdin() {
        let events = "{\"id\":\"e1\",\"type\":\"inbound\",\"client\":\"cleo\",\"answering\":\"campaign@B\"}\n";
        let (out, _) = Run::new(&["diff", "--base", "rules", "--world", WORLD, "--events", "-"])
            .stdin(events)
            .expect(0);
        assert!(out.contains("1 recorded events (0 changed)"), "{out}");
        let (_, err) = Run::new(&["diff", "--base", "rules", "--world", WORLD, "--events", "-"])
            .stdin(format!(
                "{events}{{\"id\":\"e2\",\"type\":\"inbound\",\"client\":\"zed\"}}\n"
            ))
            .expect(2);
        assert!(err.contains("--> <stdin>:2:1"), "{err}");
    }

    #[test]
    fn only_one_argument_may_read_stdin() {
        let (out, err) = Run::new(&["route", "batch", "--world", "-"]).stdin("").expect(2);
        assert_eq!(out, "");
        assert_eq!(
            err,
            "error: only one argument can read stdin, but --world and --input are both `-`; give one of them a file (--input is `-` unless given)\n"
        );
        let (_, err) = Run::new(&["test", "-", "-"]).stdin("").expect(2);
        assert!(
            err.contains("but PATH is `-` twice; give one of them as a file"),
            "{err}"
        );
        let (_, err) = Run::new(&["diff", "--base", "rules", "--world", "-", "--events", "-"])
            .stdin("")
            .expect(2);
        assert!(err.contains("but --world and --events are both `-`"), "{err}");
    }

    #[test]
    fn a_case_is_not_saved_for_a_world_read_from_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let case = dir.path().join("case.yaml");
        let (_, err) = Run::new(&[
            "route",
            "inbound",
            "--world",
            "-",
            "--client",
            "cleo",
            "--save-case",
            case.to_str().unwrap(),
        ])
        .stdin(read(WORLD))
        .expect(2);
        assert!(err.starts_with("error: --save-case needs the world as a file"), "{err}");
        assert!(!case.exists());
    }

    #[test]
    fn watch_refuses_stdin() {
        let (_, err) = Run::new(&["test", "-", "--watch"]).stdin("").expect(2);
        assert!(err.contains("--watch cannot watch stdin"), "{err}");
    }
}

// ---- completions, manual pages, version, help ---------------------------

const SUBCOMMANDS: &[&str] = &[
    "check",
    "test",
    "route",
    "simulate",
    "conversations",
    "conversation",
    "usage",
    "check-photo",
    "analyze",
    "diff",
    "coverage",
    "schema",
    "completions",
    "man",
    "serve",
];

#[test]
fn completions_are_generated_for_every_shell_and_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (script, err) = Run::new(&["completions", shell]).expect(0);
        assert_eq!(err, "", "{shell}");
        for sub in SUBCOMMANDS.iter().chain(&["inbound", "outbound", "batch"]) {
            assert!(script.contains(sub), "{shell} completions do not name `{sub}`");
        }
        assert!(script.contains("--world"), "{shell}");
    }
    let (_, err) = Run::new(&["completions", "tcsh"]).expect(2);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
}

#[test]
fn the_bash_completion_script_is_valid_bash() {
    let bash = Path::new("/bin/bash");
    if !bash.exists() {
        eprintln!("no bash here: the syntax check is skipped");
        return;
    }
    let (script, _) = Run::new(&["completions", "bash"]).expect(0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("commroute.bash");
    std::fs::write(&file, script).unwrap();
    let mut cmd = std::process::Command::new(bash);
    cmd.arg("-n").arg(&file);
    let out = output_within(&mut cmd, None, DEADLINE);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn man_writes_one_page_per_command_with_the_usual_sections() {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = Run::new(&["man", "--out", dir.path().to_str().unwrap()]).expect(0);
    assert_eq!(out, "");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut expected: Vec<String> = SUBCOMMANDS
        .iter()
        .map(|s| format!("commroute-{s}.1"))
        .chain(
            [
                "commroute.1",
                "commroute-route-inbound.1",
                "commroute-route-outbound.1",
                "commroute-route-batch.1",
            ]
            .map(String::from),
        )
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    assert!(err.contains(&format!("wrote {} manual pages", expected.len())), "{err}");
    for name in &names {
        let page = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{name}");
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS"] {
            assert!(page.contains(&format!(".SH {section}")), "{name} has no {section}");
        }
    }
}

#[test]
fn man_prints_one_commands_page_to_stdout() {
    let (page, _) = Run::new(&["man", "route", "inbound"]).expect(0);
    assert!(page.contains(".TH commroute-route-inbound 1"), "{page}");
    assert!(page.contains("Where a client\\*(Aqs message lands"), "{page}");
    assert!(page.contains("\\-\\-answering"), "{page}");
    let (top, _) = Run::new(&["man"]).expect(0);
    assert!(top.contains(".TH commroute 1"), "{top}");
    let (_, err) = Run::new(&["man", "route", "sideways"]).expect(2);
    assert!(
        err.starts_with("error: no command `route sideways`; pages exist for `check`"),
        "{err}"
    );
}

#[test]
fn version_names_the_rules_format() {
    let (out, _) = Run::new(&["--version"]).expect(0);
    assert_eq!(
        out,
        format!(
            "commroute {VERSION} (rules format {})\n",
            commroute::RULES_FORMAT_VERSION
        )
    );
}

#[test]
fn diff_help_gives_the_head_default_once() {
    let (out, _) = Run::new(&["diff", "--help"]).expect(0);
    assert_eq!(out.matches("[default: rules]").count(), 1, "{out}");
    assert!(out.contains("Examples:\n  commroute diff --base main\n"), "{out}");
}

// ---- colour ---------------------------------------------------------------

/// Whether `text` holds an escape sequence.
fn coloured(text: &str) -> bool {
    text.contains('\u{1b}')
}

#[test]
fn color_always_colours_pass_fail_and_the_summary() {
    let rules = failing_rules();
    let (out, _) = Run::new(&[
        "test",
        "scenarios/inbound/09-campaign-reply-goes-to-last-appointment.yaml",
        "--rules",
        rules.path().to_str().unwrap(),
        "--color",
        "always",
    ])
    .expect(1);
    let green = "\u{1b}[32m";
    let red = "\u{1b}[1m\u{1b}[31m";
    let reset = "\u{1b}[0m";
    // Piped, the table is compact: each row starts with its result.
    assert_eq!(
        out.matches(&format!("\n{red}FAIL{reset}    reply-to-location-message  "))
            .count(),
        3,
        "{out:?}"
    );
    assert!(
        out.contains(&format!("\n{red}FAIL{reset} scenarios/inbound/09")),
        "{out:?}"
    );
    assert!(out.ends_with(&format!("{red}0 passed, 3 failed{reset}\n")), "{out:?}");
    let (out, _) = Run::new(&["test", "scenarios/outbound", "--color", "always"]).expect(0);
    assert_eq!(out.matches(&format!("\n{green}pass{reset}    ")).count(), 8, "{out:?}");
    assert!(out.ends_with(&format!("{green}8 passed, 0 failed{reset}\n")), "{out:?}");
}

#[test]
fn color_always_colours_error_labels_on_stderr() {
    let rules = broken_rules();
    let (_, err) = Run::new(&["check", "--rules", rules.path().to_str().unwrap(), "--color", "always"]).expect(1);
    assert!(err.starts_with("\u{1b}[1m\u{1b}[31merror:\u{1b}[0m "), "{err:?}");
    assert_eq!(err.matches("error:").count(), 5, "{err:?}");
    assert_eq!(err.matches("\u{1b}[1m\u{1b}[31merror:").count(), 5, "{err:?}");
    // A usage error too, before the arguments are known.
    let (_, err) = Run::new(&["route", "inbound", "--color", "always"]).expect(2);
    assert!(err.starts_with("\u{1b}[1m\u{1b}[31merror:\u{1b}[0m "), "{err:?}");
}

#[test]
fn no_colour_with_never_no_color_or_a_pipe() {
    let rules = failing_rules();
    let rules = rules.path().to_str().unwrap();
    let case = "scenarios/inbound/09-campaign-reply-goes-to-last-appointment.yaml";
    let runs = [
        // Run sets NO_COLOR=1.
        Run::new(&["test", case, "--rules", rules, "--color", "never"]).env_remove("NO_COLOR"),
        Run::new(&["test", case, "--rules", rules]),
        Run::new(&["test", case, "--rules", rules]).env_remove("NO_COLOR"),
        Run::new(&["test", case, "--rules", rules, "--color", "auto"]).env_remove("NO_COLOR"),
    ];
    for run in runs {
        let (out, err) = run.expect(1);
        assert!(out.contains("FAIL"), "{out}");
        assert!(!coloured(&out) && !coloured(&err), "{out:?}\n{err:?}");
    }
    let broken = broken_rules();
    let (_, err) = Run::new(&["check", "--rules", broken.path().to_str().unwrap()])
        .env_remove("NO_COLOR")
        .expect(1);
    assert!(err.starts_with("error: ") && !coloured(&err), "{err:?}");
}

#[test]
fn json_is_never_coloured() {
    let rules = failing_rules();
    let (out, _) = Run::new(&[
        "test",
        "scenarios/inbound/09-campaign-reply-goes-to-last-appointment.yaml",
        "--rules",
        rules.path().to_str().unwrap(),
        "--format",
        "json",
        "--color",
        "always",
    ])
    .expect(1);
    assert!(!coloured(&out), "{out:?}");
    json_lines(&out);
}

// ---- JSON errors and versions ----------------------------------------------

#[test]
fn under_format_json_each_problem_is_a_json_object_on_stderr() {
    let rules = broken_rules();
    let (out, err) = Run::new(&["check", "--rules", rules.path().to_str().unwrap(), "--format", "json"]).expect(1);
    assert_eq!(out, "");
    let errors = json_lines(&err);
    assert_eq!(errors.len(), 5, "{err}");
    let inbound = rules.path().join("inbound.yaml").display().to_string();
    for e in &errors {
        assert_eq!(e["type"], "error");
        assert_eq!(e["version"], VERSION);
        assert_eq!(e["file"], inbound.as_str());
        assert!(e["line"].as_u64().unwrap() > 0, "{e}");
        assert!(e["column"].as_u64().unwrap() > 0, "{e}");
        assert!(!e["message"].as_str().unwrap().is_empty(), "{e}");
    }
    let at_8_36 = errors.iter().find(|e| e["line"] == 8 && e["column"] == 36).expect(&err);
    assert!(at_8_36["rule"].is_string(), "{at_8_36}");
    assert_eq!(
        at_8_36["subject"],
        format!("rule `{}`", at_8_36["rule"].as_str().unwrap()).as_str()
    );
}

#[test]
fn under_format_json_errors_without_a_file_are_json_too() {
    // An error about an argument.
    let (out, err) = Run::new(&[
        "route", "inbound", "--world", WORLD, "--client", "zed", "--format", "json",
    ])
    .expect(2);
    assert_eq!(out, "");
    let lines = json_lines(&err);
    assert_eq!(lines.len(), 1, "{err}");
    assert_eq!(lines[0]["type"], "error");
    assert_eq!(lines[0]["version"], VERSION);
    assert_eq!(lines[0]["file"], serde_json::Value::Null);
    assert!(lines[0]["message"].as_str().unwrap().starts_with("--client: "), "{err}");
    // A usage error, which clap finds.
    let (_, err) = Run::new(&["route", "inbound", "--world", WORLD, "--format", "json"]).expect(2);
    let lines = json_lines(&err);
    assert_eq!(lines.len(), 1, "{err}");
    assert_eq!(lines[0]["type"], "error");
    assert_eq!(
        lines[0]["message"], "the following required arguments were not provided: --client <ID>",
        "{err}"
    );
    assert!(
        lines[0]["help"]
            .as_str()
            .unwrap()
            .starts_with("Usage: commroute route inbound"),
        "{err}"
    );
    // A note, such as the shipped rules' one.
    let dir = tempfile::tempdir().unwrap();
    let world = Path::new(env!("CARGO_MANIFEST_DIR")).join(WORLD);
    let (out, err) = Run::new(&[
        "route",
        "inbound",
        "--world",
        world.to_str().unwrap(),
        "--client",
        "cleo",
        "--format",
        "json",
    ])
    .in_dir(dir.path())
    .expect(0);
    json_lines(&out);
    let notes = json_lines(&err);
    assert_eq!(notes.len(), 1, "{err}");
    assert_eq!(notes[0]["type"], "note");
    assert!(
        notes[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("using the shipped rules"),
        "{err}"
    );
}

#[test]
fn every_json_line_carries_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let db = db.to_str().unwrap();
    let runs: Vec<Vec<&str>> = vec![
        vec![
            "route", "inbound", "--world", WORLD, "--client", "cleo", "--format", "json",
        ],
        vec![
            "route",
            "outbound",
            "--world",
            WORLD,
            "--client",
            "cleo",
            "--from-account",
            "glow-downtown",
            "--format",
            "json",
        ],
        vec!["test", "scenarios/outbound", "--format", "json"],
        vec!["coverage", "--format", "json"],
        vec!["analyze", "--format", "json"],
        vec!["diff", "--base", "rules", "--format", "json"],
        vec!["check", "--format", "json"],
        vec![
            "check-photo",
            "scenarios/timelines/photos/new-color.png",
            "--format",
            "json",
        ],
        vec!["simulate", "examples/day.jsonl", "--db", db, "--format", "json"],
        vec!["conversations", "--db", db, "--location", "A", "--format", "json"],
        vec!["conversation", "--db", db, "--client", "cleo", "--format", "json"],
        vec!["usage", "--db", db, "--format", "json"],
    ];
    for args in runs {
        let run = Run::new(&args);
        let (out, _) = run.expect(0);
        let lines = json_lines(&out);
        assert!(!lines.is_empty(), "{args:?}");
        for l in lines {
            assert_eq!(l["version"], VERSION, "{args:?}: {l}");
            let keys: Vec<&String> = l.as_object().unwrap().keys().take(2).collect();
            assert_eq!(keys, ["type", "version"], "{args:?}: {l}");
        }
    }
}
