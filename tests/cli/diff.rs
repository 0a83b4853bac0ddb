//! `commroute diff`: an unchanged rule set reports nothing; a change lists
//! exactly the classes, scenario cases and recorded events it alters.

use std::path::{Path, PathBuf};

use commroute::authoring::analysis::{Classes, Place};
use commroute::authoring::impact::{self, Recorded};
use commroute::scenario::{self, ScenarioFile, Suite};
use commroute::{EventLine, InboundRequest, RuleSet, Source, World};

use crate::support::process;
use crate::support::run::Run;

fn shipped() -> RuleSet {
    RuleSet::load_dir(Path::new("rules")).unwrap()
}

fn scenarios() -> Vec<ScenarioFile> {
    let suite = Suite::load(&[PathBuf::from(scenario::DEFAULT_DIR)], None).unwrap();
    assert!(suite.broken.is_empty(), "{}", suite.broken);
    suite.files
}

/// The shipped rules with `reply-to-location-message` moved above
/// `campaign-reply-with-history`: campaign replies go to the campaign's location.
fn campaign_rule_moved_down() -> RuleSet {
    let read = |f: &str| std::fs::read_to_string(format!("rules/{f}")).unwrap();
    let t = read("inbound.yaml");
    let a = t.find("  - id: campaign-reply-with-history\n").unwrap();
    let b = t.find("  - id: reply-to-location-message\n").unwrap();
    let c = t.find("  - id: out-of-the-blue-with-history\n").unwrap();
    let moved = format!("{}{}{}{}", &t[..a], &t[b..c], &t[a..b], &t[c..]);
    RuleSet::parse(
        Source::new("head/inbound.yaml", moved),
        Source::new("head/delivery.yaml", read("delivery.yaml")),
        Source::new("head/outbound.yaml", read("outbound.yaml")),
    )
    .unwrap()
}

fn event(id: &str, answering: &str) -> Recorded {
    Recorded {
        line: 1,
        event: EventLine::Inbound {
            id: id.into(),
            request: InboundRequest {
                client: "cleo".into(),
                answering: Some(answering.into()),
                ..Default::default()
            },
            facts: None,
        },
    }
}

#[test]
fn an_unchanged_rule_set_reports_no_changes() {
    let world = World::load(Path::new("examples/glow-world.yaml")).unwrap();
    let events = [event("e1", "campaign@B"), event("e2", "confirmation@A")];
    let i = impact::compare(&shipped(), &shipped(), &scenarios(), Some((&world, &events)));
    assert!(i.is_unchanged(), "{:#?}", i.changes);
    assert!(
        i.classes > 300 && i.cases > 40,
        "{} classes, {} cases",
        i.classes,
        i.cases
    );
    assert_eq!((i.events, i.events_changed), (2, 0));
}

#[test]
fn moving_the_campaign_rule_down_changes_exactly_the_campaign_replies_with_history() {
    let base = shipped();
    let head = campaign_rule_moved_down();
    let world = World::load(Path::new("examples/glow-world.yaml")).unwrap();
    // Cleo (last appointment A) answers campaigns from B and from A, and a confirmation.
    let events = [
        event("from-b", "campaign@B"),
        event("from-a", "campaign@A"),
        event("confirmation", "confirmation@A"),
    ];
    let i = impact::compare(&base, &head, &scenarios(), Some((&world, &events)));

    // Exactly the classes where a client with a last appointment answers a campaign.
    let classes = Classes::for_rules(&[&base, &head]);
    let mut expected: Vec<String> = classes
        .inbound_classes()
        .filter(|c| !c.started_by_staff && c.answering.name() == "campaign" && c.last != Place::None)
        .map(|c| c.describe())
        .collect();
    let mut changed: Vec<String> = i
        .changes
        .iter()
        .filter(|c| c.kind == "class")
        .map(|c| c.input.clone())
        .collect();
    expected.sort();
    changed.sort();
    assert_eq!(changed, expected);
    for c in i.changes.iter().filter(|c| c.kind == "class") {
        assert_eq!(
            (c.old_rule.as_str(), c.new_rule.as_str()),
            ("campaign-reply-with-history", "reply-to-location-message")
        );
    }

    // The two campaign events fall in changed classes; the confirmation does not.
    let touched: usize = i.changes.iter().filter_map(|c| c.events).sum();
    assert_eq!(touched, 2);
    // Both change their deciding rule (from A, Cleo's last appointment, it still lands at A).
    assert_eq!(i.events_changed, 2);

    // Scenario #9's three cases change, nothing else.
    let cases: Vec<&str> = i
        .changes
        .iter()
        .filter(|c| c.kind == "case")
        .map(|c| c.input.as_str())
        .collect();
    assert_eq!(cases.len(), 3, "{cases:#?}");
    assert!(cases
        .iter()
        .all(|c| c.contains("09-campaign-reply-goes-to-last-appointment.yaml")));
}

#[test]
fn the_base_can_be_a_git_revision() {
    // The rules at HEAD parse through git; a revision that does not exist is an error naming it.
    // git runs in a child process: give it a deadline.
    process::within(process::DEADLINE, "`git show`", || {
        if std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            impact::load_revision("HEAD", Path::new("rules")).unwrap();
            let err = impact::load_revision("no-such-revision", Path::new("rules"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("`no-such-revision:rules/inbound.yaml`"), "{err}");
        }
    });
}

#[test]
fn a_bad_event_line_names_its_line_and_column() {
    let world = World::load(Path::new("examples/glow-world.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    std::fs::write(
        &path,
        "{\"id\":\"e1\",\"type\":\"inbound\",\"client\":\"cleo\"}\n\n{\"id\":\"e2\",\"type\":\"inbound\",\"client\":\"nobody\"}\n{\"id\":\n",
    )
    .unwrap();
    let err = impact::read_recorded_events(&path, &world).unwrap_err().to_string();
    assert!(err.contains("events.jsonl:3:1"), "{err}");
    assert!(err.contains("`nobody`"), "{err}");
    assert!(err.contains("events.jsonl:4:"), "{err}");
}

/// Runs git in `dir`, under a deadline, and checks that it succeeded.
fn git(dir: &Path, args: &[&str]) {
    let out = process::output_within(
        std::process::Command::new("git")
            .args([
                "-c",
                "user.name=Rules Editor",
                "-c",
                "user.email=rules@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir),
        None,
        process::DEADLINE,
    );
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A rules repository (no scenarios) whose last commit moves exactly three
/// classes of conversation: a message out of the blue from a client with a
/// history lands at all the client's locations too, not only the last
/// appointment's (two classes: two locations, three or more), and one from a
/// one-location client without history is sent to its last appointment,
/// which it does not have (one class, now a gap).
fn repo_whose_last_commit_moves_three_classes() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    crate::support::rules::copy_shipped_rules(&rules);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "rules"]);
    git(dir.path(), &["commit", "-q", "-m", "the shipped rules"]);
    let path = rules.join("inbound.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let edits = [
        (
            "      client.last_appointment: {present: true}\n    lands_at: client.last_appointment\n\n  - id: out-of-the-blue-one",
            "      client.last_appointment: {present: true}\n    lands_at: {union: [client.last_appointment, client.locations]}\n\n  - id: out-of-the-blue-one",
        ),
        (
            "      client.locations: {count: 1}\n    lands_at: client.locations\n",
            "      client.locations: {count: 1}\n    lands_at: client.last_appointment\n",
        ),
    ];
    let mut changed = text.clone();
    for (from, to) in edits {
        assert!(changed.contains(from), "{from}");
        changed = changed.replacen(from, to, 1);
    }
    std::fs::write(&path, changed).unwrap();
    git(
        dir.path(),
        &["commit", "-q", "-am", "out of the blue: every location of the client"],
    );
    dir
}

#[test]
fn diff_of_a_commit_moving_three_classes_is_at_most_a_dozen_lines_piped() {
    let repo = repo_whose_last_commit_moves_three_classes();
    let (out, _) = Run::new(&["diff", "--base", "HEAD~1"]).in_dir(repo.path()).expect(0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() <= 12, "{} lines:\n{out}", lines.len());
    // A header, one line per class, the summary; no box drawing, no witness.
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0].starts_with("policy   input "), "{out}");
    assert!(
        lines[1..4]
            .iter()
            .all(|l| l.starts_with("inbound  ") && l.contains(" → ")),
        "{out}"
    );
    assert_eq!(
        lines[4],
        "3 changes; compared 418 classes, 0 scenario cases, 0 recorded events (0 changed)"
    );
    assert!(!out.contains('│') && !out.contains('┆'), "{out}");
    assert!(!out.contains("client at ["), "the witness only on request: {out}");
    assert!(!lines[0].contains("events"), "no --events, no events column: {out}");
    assert_eq!(
        out.matches("out-of-the-blue-with-history (unchanged)").count(),
        2,
        "{out}"
    );
    assert!(out.contains("lands at [A] → lands at [A, B]"), "{out}");
    insta::assert_snapshot!("diff_three_classes_piped", out);

    let (md, _) = Run::new(&["diff", "--base", "HEAD~1", "--format", "markdown"])
        .in_dir(repo.path())
        .expect(0);
    assert!(
        md.contains("\nThis change moves where 3 kinds of conversation land.\n"),
        "{md}"
    );
    insta::assert_snapshot!("diff_three_classes_markdown", md);

    // The witness on request: each class's example input, and who receives it live.
    let (out, _) = Run::new(&["diff", "--base", "HEAD~1", "--witness"])
        .in_dir(repo.path())
        .expect(0);
    assert!(out.lines().next().unwrap().contains("  example  "), "{out}");
    assert_eq!(out.matches("client at [").count(), 3, "{out}");
}

/// Decides `events` with `rules` as `route batch` does: one decision line each.
fn batch_decisions(rules: &RuleSet, world: &World, events: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    commroute::jsonl::batch::run(
        rules,
        world,
        events.as_bytes(),
        &mut out,
        commroute::jsonl::batch::Options { threads: 1 },
    )
    .unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn diff_on_a_decision_log_counts_exactly_the_logged_decisions_a_rule_edit_changes() {
    let world_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/glow-world.yaml");
    let world = World::load(&world_path).unwrap();
    let inline_cleo = r#"{"clients":[{"id":"cleo","name":"Cleo","account":"glow-downtown","locations":["A","B"],"last_appointment_at":"B"}]}"#;
    let events = [
        r#"{"id":"e1","type":"inbound","client":"cleo","answering":"campaign@B"}"#.to_owned(),
        r#"{"id":"e2","type":"inbound","client":"cleo","answering":"campaign@A"}"#.to_owned(),
        r#"{"id":"e3","type":"inbound","client":"cleo","answering":"confirmation@A"}"#.to_owned(),
        r#"{"id":"e4","type":"inbound","client":"gwen","answering":"campaign@A"}"#.to_owned(),
        r#"{"id":"e5","type":"inbound","client":"paul"}"#.to_owned(),
        r#"{"id":"e6","type":"outbound","client":"cleo","from_account":"glow-downtown","text":"See you"}"#.to_owned(),
        format!(r#"{{"id":"e7","type":"inbound","client":"cleo","answering":"campaign@A","facts":{inline_cleo}}}"#),
        r#"{"id":"e8","type":"inbound","client":"cleo","answering":"campaign@B"}"#.to_owned(),
    ];
    let input: String = events.iter().map(|e| format!("{e}\n")).collect();

    // The decision log, as the service writes it with the shipped rules.
    let base = shipped();
    let logged = batch_decisions(&base, &world, &input);
    assert!(logged.iter().all(|d| d["type"] != "error"), "{logged:?}");
    let mut log = String::new();
    for (event, decision) in events.iter().zip(&logged) {
        let mut line: serde_json::Map<String, serde_json::Value> = serde_json::from_str(event).unwrap();
        let mut decision = decision.clone();
        decision["rule_set"] = "5655545e697ed476".into();
        decision["world_version"] = "4324a64850a0f29f".into();
        line.insert("at".into(), "2026-12-02T08:00:00.123Z".into());
        line.insert("rule_set".into(), "5655545e697ed476".into());
        line.insert("world_version".into(), "4324a64850a0f29f".into());
        line.insert("decision".into(), decision);
        log.push_str(&serde_json::to_string(&line).unwrap());
        log.push('\n');
    }

    // The rule edit, and the decisions it changes, counted one by one.
    let head = campaign_rule_moved_down();
    let redecided = batch_decisions(&head, &world, &input);
    let changed: Vec<&str> = logged
        .iter()
        .zip(&redecided)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed,
        ["e1", "e2", "e4", "e7", "e8"],
        "the edit moves campaign replies only"
    );

    let dir = tempfile::tempdir().unwrap();
    for side in ["base", "head"] {
        std::fs::create_dir(dir.path().join(side)).unwrap();
        crate::support::rules::copy_shipped_rules(&dir.path().join(side));
    }
    crate::support::rules::move_campaign_rule_down(&dir.path().join("head"));
    std::fs::write(dir.path().join("decisions.jsonl"), &log).unwrap();

    let world_arg = world_path.to_str().unwrap();
    let (out, _) = Run::new(&[
        "diff",
        "--base",
        "base",
        "--head",
        "head",
        "--world",
        world_arg,
        "--events",
        "decisions.jsonl",
        "--format",
        "json",
    ])
    .in_dir(dir.path())
    .expect(0);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary", "{out}");
    assert_eq!(summary["events"], 8);
    assert_eq!(summary["events_changed"], 5);
    // Every changed decision is counted once: under its changed class, or
    // listed on its own when no changed class explains it.
    let changes = &lines[..lines.len() - 1];
    let by_class: u64 = changes
        .iter()
        .filter(|c| c["kind"] == "class")
        .map(|c| c["events"].as_u64().unwrap())
        .sum();
    let on_their_own = changes.iter().filter(|c| c["kind"] == "event").count() as u64;
    assert_eq!(by_class + on_their_own, 5, "{out}");
    for c in changes.iter().filter(|c| c["kind"] == "class") {
        assert!(c["events"].as_u64() <= c["events_of_class"].as_u64(), "{c}");
    }
    // Campaign replies from a location other than the last appointment's
    // (e1, e8, e4, and e7 with its inline client) are one changed class; Cleo
    // answering from her last appointment's location (e2) another.
    let mut touched: Vec<u64> = changes
        .iter()
        .filter(|c| c["kind"] == "class" && c["events"] != 0)
        .map(|c| c["events"].as_u64().unwrap())
        .collect();
    touched.sort();
    assert_eq!(touched, [1, 4], "{out}");

    // The human report says it per changed class too.
    let (human, _) = Run::new(&[
        "diff",
        "--base",
        "base",
        "--head",
        "head",
        "--world",
        world_arg,
        "--events",
        "decisions.jsonl",
    ])
    .in_dir(dir.path())
    .expect(0);
    assert!(human.contains("8 recorded events (5 changed)"), "{human}");
}

#[test]
fn recorded_events_with_facts_that_do_not_fit_name_the_line_and_the_path() {
    let world = World::load(Path::new("examples/glow-world.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let good = r#"{"id":"e1","type":"inbound","client":"cleo","facts":{"staff":[{"id":"sam","name":"Sam","locations":["A"]}]}}"#;
    let bad = r#"{"id":"e2","type":"inbound","client":"cleo","facts":{"staff":[{"id":"sam","name":"Sam","locations":["A","Z"]}]}}"#;
    std::fs::write(&path, format!("{good}\n{bad}\n")).unwrap();
    let diags = impact::read_recorded_events(&path, &world).unwrap_err();
    assert_eq!(diags.len(), 1, "{diags}");
    let d = &diags.0[0];
    assert_eq!(d.pos.line, 2);
    assert_eq!(
        d.subject.as_deref(),
        Some("event `e2`, field `facts.staff[0].locations[1]`")
    );
    assert_eq!(d.message, "unknown location `Z`");
    assert_eq!(d.help.as_deref(), Some("known locations: `A`, `B` or `C`"));
}
