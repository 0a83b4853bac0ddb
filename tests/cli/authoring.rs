//! The rule-authoring commands as users run them: `analyze`, `diff`,
//! `coverage`, with their exit codes on the shipped rules and on altered copies.

use std::path::Path;

use crate::support::rules::copy_shipped_rules;
use std::process::Command;

use crate::support::process;
use crate::support::run::Run;

/// A copy of the shipped rules with `extra` inserted into inbound.yaml before rule `before`.
fn rules_with(extra: &str, before: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped_rules(dir.path());
    let text = std::fs::read_to_string("rules/inbound.yaml").unwrap();
    let at = text.find(&format!("  - id: {before}\n")).expect("rule");
    std::fs::write(
        dir.path().join("inbound.yaml"),
        format!("{}{extra}{}", &text[..at], &text[at..]),
    )
    .unwrap();
    dir
}

/// A rule that can never decide: every campaign reply is taken earlier.
const SHADOWED: &str = "  - id: late-campaign-reply
    description: Never reached, campaign replies are taken by the rules above.
    when:
      conversation.answering: campaign
    lands_at: conversation.answered_location

";

#[test]
fn coverage_min_100_passes_on_the_shipped_rules_and_scenarios() {
    let (out, _) = Run::new(&["coverage", "--min", "100"]).expect(0);
    assert!(out.contains("100.0% of rules and grants reached (18 of 18)"), "{out}");
    assert!(!out.contains("NOT REACHED"), "{out}");
}

#[test]
fn coverage_below_the_minimum_names_the_unreached_rule_and_exits_1() {
    let dir = rules_with(SHADOWED, "out-of-the-blue-with-history");
    let (out, err) = Run::new(&["coverage", "--rules", dir.path().to_str().unwrap(), "--min", "100"]).expect(1);
    assert!(out.contains("no case reaches: late-campaign-reply\n"), "{out}");
    assert!(out.contains("94.7% of rules and grants reached (18 of 19)"), "{out}");
    assert_eq!(err, "error: coverage 94.7% is below the minimum 100%\n");
    Run::new(&["coverage", "--rules", dir.path().to_str().unwrap(), "--min", "90"]).expect(0);
}

#[test]
fn analyze_is_clean_on_the_shipped_rules() {
    let (out, _) = Run::new(&["analyze"]).expect(0);
    assert!(
        out.ends_with(" shadowed rules, 0 gaps\n") && out.contains(", 0 shadowed rules"),
        "{out}"
    );
    let (csv, _) = Run::new(&["analyze", "--format", "csv"]).expect(0);
    assert!(csv.starts_with("policy,class,example,outcome,rule,text_rule,received_live_by,partial,gap\n"));
    assert!(csv.lines().count() > 300);
}

#[test]
fn analyze_names_a_shadowed_rule_and_the_rules_that_take_its_inputs() {
    let dir = rules_with(SHADOWED, "out-of-the-blue-with-history");
    let (out, _) = Run::new(&["analyze", "--rules", dir.path().to_str().unwrap()]).expect(1);
    assert!(
        out.contains("shadowed: inbound rule `late-campaign-reply` never decides: every input it matches is taken by `campaign-reply-with-history`, `reply-to-location-message`\n"),
        "{out}"
    );
    let (json, _) = Run::new(&["analyze", "--rules", dir.path().to_str().unwrap(), "--format", "json"]).expect(1);
    assert!(json
        .lines()
        .any(|l| l.contains("\"type\":\"shadowed\"") && l.contains("late-campaign-reply")));
}

#[test]
fn diff_of_identical_rules_reports_no_changes() {
    let (out, _) = Run::new(&["diff", "--base", "rules", "--deny-changes"]).expect(0);
    assert!(out.starts_with("no changes; compared "), "{out}");
}

#[test]
fn diff_deny_changes_exits_1_and_lists_the_changes() {
    let dir = rules_with(
        "  - id: campaigns-to-the-campaign
    description: Campaign replies go to the campaign's location.
    when:
      conversation.answering: campaign
    lands_at: conversation.answered_location

",
        "campaign-reply-with-history",
    );
    let head = dir.path().to_str().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        "{\"id\":\"e1\",\"type\":\"inbound\",\"client\":\"cleo\",\"answering\":\"campaign@B\"}\n",
    )
    .unwrap();
    let (out, _) = Run::new(&[
        "diff",
        "--base",
        "rules",
        "--head",
        head,
        "--world",
        "examples/glow-world.yaml",
        "--events",
        events.to_str().unwrap(),
        "--deny-changes",
        "--format",
        "json",
    ])
    .expect(1);
    let last = out.lines().last().unwrap();
    assert!(
        last.contains("\"events\":1") && last.contains("\"events_changed\":1"),
        "{last}"
    );
    assert!(out
        .lines()
        .filter(|l| l.contains("\"type\":\"change\""))
        .all(|l| l.contains("campaigns-to-the-campaign")));
    Run::new(&["diff", "--base", "rules", "--head", head]).expect(0);
}

#[test]
fn save_case_turns_decisions_into_passing_scenario_cases() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("confirmed/ops.yaml");
    let f = file.to_str().unwrap();
    let world = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/glow-world.yaml");
    let w = world.to_str().unwrap();
    let (_, err) = Run::new(&[
        "route",
        "inbound",
        "--world",
        w,
        "--client",
        "cleo",
        "--answering",
        "campaign@B",
        "--login",
        "sam@B",
        "--save-case",
        f,
    ])
    .expect(0);
    assert!(err.contains("saved case `cleo answers campaign@B`"), "{err}");
    Run::new(&[
        "route",
        "outbound",
        "--world",
        w,
        "--client",
        "gwen",
        "--from-account",
        "glow-uptown",
        "--text",
        "See you at 3pm!",
        "--save-case",
        f,
        "--name",
        "gwen gets a push with the child account's name",
    ])
    .expect(0);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("world: \"../"), "{text}");
    assert!(text.contains("login: {\"sam\": \"B\"}"), "{text}");
    assert!(text.contains("text: \"Glow Uptown: See you at 3pm!\""), "{text}");
    let (out, _) = Run::new(&["test", f]).expect(0);
    assert!(out.ends_with("2 passed, 0 failed\n"), "{out}");
    // The same name again is refused and the file is left as it was.
    let (_, err) = Run::new(&[
        "route",
        "inbound",
        "--world",
        w,
        "--client",
        "cleo",
        "--answering",
        "campaign@B",
        "--save-case",
        f,
    ])
    .expect(2);
    assert!(
        err.contains("already has a case named `cleo answers campaign@B`"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}

#[test]
fn test_format_junit_reports_each_case_and_its_failure() {
    let (xml, _) = Run::new(&["test", "--format", "junit", "scenarios/outbound"]).expect(0);
    assert!(
        xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"commroute scenarios\" tests=\"8\" skipped=\"0\" failures=\"0\" errors=\"0\" time=\""
        ),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 8);
    assert!(
        xml.contains("name=\"phone in national format is valid for the account&apos;s country\""),
        "{xml}"
    );
    assert!(xml.ends_with("</testsuites>\n"));

    let dir = rules_with(
        "  - id: campaigns-to-the-campaign
    description: Campaign replies go to the campaign's location.
    when:
      conversation.answering: campaign
    lands_at: conversation.answered_location

",
        "campaign-reply-with-history",
    );
    let (xml, _) = Run::new(&[
        "test",
        "--rules",
        dir.path().to_str().unwrap(),
        "--format",
        "junit",
        "scenarios/inbound/09-campaign-reply-goes-to-last-appointment.yaml",
    ])
    .expect(1);
    assert!(xml.contains("tests=\"3\" skipped=\"0\" failures=\"3\""), "{xml}");
    assert!(xml.contains("<failure message=\"lands_at: expected [B], got [A]; delivered_to: expected [bea], got [ana]; rule: expected campaign-reply-with-history, got campaigns-to-the-campaign\">"), "{xml}");
    assert!(
        xml.contains("campaigns-to-the-campaign applied: what the client is answering is `campaign`"),
        "{xml}"
    );
}

/// JUnit's `time` attributes, in seconds, are replaced so snapshots stay the same.
fn without_times(xml: &str) -> String {
    regex::Regex::new(r#"time="[0-9]+\.[0-9]{3}""#)
        .unwrap()
        .replace_all(xml, r#"time="[seconds]""#)
        .into_owned()
}

#[test]
fn test_format_junit_gives_every_case_and_suite_the_time_it_took() {
    let dir = rules_with(
        "  - id: campaigns-to-the-campaign
    description: Campaign replies go to the campaign's location.
    when:
      conversation.answering: campaign
    lands_at: conversation.answered_location

",
        "campaign-reply-with-history",
    );
    let (xml, _) = Run::new(&[
        "test",
        "--rules",
        dir.path().to_str().unwrap(),
        "--format",
        "junit",
        "scenarios/inbound/09-campaign-reply-goes-to-last-appointment.yaml",
        "scenarios/timelines/photos.yaml",
    ])
    .expect(1);
    // The report reads back as JUnit, with a time on the report, on each
    // suite and on each case; a suite took at least as long as its cases.
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!((report.tests, report.failures, report.errors), (9, 3, 0));
    assert!(report.time.is_some(), "{xml}");
    assert_eq!(report.test_suites.len(), 2);
    for suite in &report.test_suites {
        let suite_time = suite
            .time
            .unwrap_or_else(|| panic!("no time on suite {}", suite.name.as_str()));
        for case in &suite.test_cases {
            let t = case
                .time
                .unwrap_or_else(|| panic!("no time on case {}", case.name.as_str()));
            assert!(t <= suite_time, "{xml}");
        }
    }
    insta::assert_snapshot!(without_times(&xml));
}

#[test]
fn test_format_junit_keeps_its_xml_well_formed_whatever_a_case_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let world = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/glow-world.yaml");
    std::fs::write(
        dir.path().join("odd.yaml"),
        format!(
            "description: names XML cannot hold as they are\nworld: {}\ncases:\n  \
             - name: \"bell \\a escape \\e[31m non-character \\uFFFE <&> \\\"quoted\\\"\"\n    \
             outbound: {{client: paul, from_account: glow-uptown, text: hi}}\n    \
             expect: {{channel: push, ghost_text: Messages will be sent via push notification., rule: push}}\n",
            world.display()
        ),
    )
    .unwrap();
    let (xml, _) = Run::new(&["test", "--format", "junit", "odd.yaml"])
        .in_dir(dir.path())
        .expect(0);
    for bad in ['\u{7}', '\u{1b}', '\u{FFFE}'] {
        assert!(!xml.contains(bad), "{bad:?} in {xml}");
    }
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let case = &report.test_suites[0].test_cases[0];
    // The escape sequence goes whole, not only its escape character.
    assert_eq!(case.name.as_str(), "bell  escape  non-character  <&> \"quoted\"");
}

#[test]
fn test_watch_runs_again_when_a_rules_or_scenario_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    copy_shipped_rules(&dir.path().join("rules"));
    let scenario = dir.path().join("channels.yaml");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/outbound/channels.yaml");
    let world = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/glow-world.yaml");
    let text = std::fs::read_to_string(shipped).unwrap();
    let text = text.replace("../../examples/glow-world.yaml", world.to_str().unwrap());
    std::fs::write(&scenario, &text).unwrap();
    let mut watcher = process::Lines::spawn(
        Command::new(env!("CARGO_BIN_EXE_commroute"))
            .args(["test", "--watch", "channels.yaml"])
            .current_dir(dir.path()),
    );
    let limit = std::time::Duration::from_secs(60);
    // stdout and stderr are read on two threads, so only their own order is
    // kept: wait for one line of stderr, then for summaries on stdout.
    watcher.wait_for("watching the rules and scenario files", limit);
    // Break the push rule: the push cases now fail. The watcher was started
    // before the first run, so the write is seen at once.
    let path = dir.path().join("rules/outbound.yaml");
    let rules = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, rules.replace("    channel: push\n", "    channel: email\n")).unwrap();
    watcher.wait_for("5 passed, 3 failed", limit);
    // Save the scenario file the way many editors do: write a new file and
    // rename it over the old one. Its first case now expects email.
    let saved = dir.path().join("channels.yaml.new");
    let first = text.find("channel: push").unwrap();
    std::fs::write(
        &saved,
        format!(
            "{}channel: email{}",
            &text[..first],
            &text[first + "channel: push".len()..]
        ),
    )
    .unwrap();
    std::fs::rename(&saved, &scenario).unwrap();
    watcher.wait_for("6 passed, 2 failed", limit);
    // Dropping the watcher kills it.
}

#[test]
fn schema_prints_a_json_schema_for_each_kind_of_file() {
    for kind in ["rules", "world", "scenario", "timeline"] {
        let (out, _) = Run::new(&["schema", kind]).expect(0);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema", "{kind}");
    }
    let (_, err) = Run::new(&["schema", "rulez"]).expect(2);
    assert!(err.contains("invalid value 'rulez'"), "{err}");
}

#[test]
fn analyze_witness_prints_a_world_that_routes_to_the_same_rule() {
    let (out, _) = Run::new(&["analyze", "--witness", "100"]).expect(0);
    let rule = out.lines().nth(1).unwrap().split('`').nth(1).unwrap().to_owned();
    let command = out
        .lines()
        .nth(2)
        .unwrap()
        .split("then: commroute ")
        .nth(1)
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("witness.yaml");
    std::fs::write(&world, &out).unwrap();
    let args: Vec<String> = command
        .split(' ')
        .map(|a| {
            if a == "witness.yaml" {
                world.to_str().unwrap().to_owned()
            } else {
                a.to_owned()
            }
        })
        .chain(["--format".to_owned(), "json".to_owned()])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (json, _) = Run::new(&args).expect(0);
    assert!(json.contains(&format!("\"rule\":\"{rule}\"")), "{json}");
    let (_, err) = Run::new(&["analyze", "--witness", "100000"]).expect(2);
    assert!(err.contains("--witness 100000: the matrix has rows 1 to "), "{err}");
}

/// `analyze` is the CI step that fails on a gap as well as on a shadowed
/// rule: without the rule for staff conversations with no shared location,
/// such a conversation lands nowhere.
#[test]
fn analyze_exits_1_on_a_gap_so_ci_fails_on_a_message_that_lands_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped_rules(dir.path());
    let text = std::fs::read_to_string("rules/inbound.yaml").unwrap();
    let a = text.find("  - id: staff-conversation-no-shared-location\n").unwrap();
    let b = text
        .find("  - id: staff-conversation-multi-location-no-history\n")
        .unwrap();
    std::fs::write(dir.path().join("inbound.yaml"), format!("{}{}", &text[..a], &text[b..])).unwrap();
    let (out, _) = Run::new(&["analyze", "--rules", dir.path().to_str().unwrap()]).expect(1);
    assert!(
        out.lines()
            .any(|l| l.starts_with("gap: ") && l.contains("they share no location")),
        "{out}"
    );
    assert!(
        out.contains(" classes, 0 shadowed rules, ") && !out.ends_with(", 0 gaps\n"),
        "{out}"
    );
}
