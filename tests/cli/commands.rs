//! The `commroute` command as users run it: exit codes, tables, JSON and the
//! messages people see. Each test is a few lines thanks to [`Run`].

use std::path::Path;

use crate::support::rules::copy_shipped_rules;

use crate::support::run::Run;

const WORLD: &str = "examples/glow-world.yaml";

/// A copy of the shipped rules in a temporary directory, with `from`
/// replaced by `to` in one of the files (which must contain it).
fn rules_with(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped_rules(dir.path());
    let text = std::fs::read_to_string(Path::new("rules").join(file)).unwrap();
    let changed = text.replace(from, to);
    assert_ne!(changed, text, "`{from}` is not in {file}");
    std::fs::write(dir.path().join(file), changed).unwrap();
    dir
}

#[test]
fn check_passes_on_the_shipped_rules() {
    let (out, _) = Run::new(&["check"]).expect(0);
    assert_eq!(
        out,
        "ok: rules: 9 inbound rules, 2 delivery gates and 3 grants, 4 outbound rules, 2 text rules\n"
    );
}

#[test]
fn check_reports_every_problem_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped_rules(dir.path());
    std::fs::copy(
        "tests/bad_input/rules/inbound-type-mismatches.yaml",
        dir.path().join("inbound.yaml"),
    )
    .unwrap();
    let (out, err) = Run::new(&["check", "--rules", dir.path().to_str().unwrap()]).expect(1);
    assert_eq!(out, "");
    assert!(err.ends_with("5 problems found\n"), "{err}");
    assert!(err.contains("inbound.yaml:8:36"), "{err}");
}

#[test]
fn test_runs_every_shipped_scenario() {
    let (out, _) = Run::new(&["test"]).expect(0);
    assert!(out.ends_with("\n88 passed, 0 failed\n"), "{out}");
    assert_eq!(
        out.matches("│ pass ").count() + out.matches("┆ pass ").count(),
        88,
        "{out}"
    );
}

#[test]
fn test_filter_selects_cases_by_name_or_file() {
    let (out, _) = Run::new(&["test", "--filter", "09-campaign"]).expect(0);
    assert!(out.ends_with("3 passed, 0 failed\n"), "{out}");
    let (_, err) = Run::new(&["test", "--filter", "no such case"]).expect(2);
    assert_eq!(err, "error: no scenario case matches `no such case`\n");
}

#[test]
fn a_failing_case_shows_expected_and_actual_side_by_side_with_the_trace() {
    // Campaign replies go to the campaign's location: scenario #9 must fail.
    let dir = rules_with(
        "inbound.yaml",
        "        - conversation.answering: campaign\n        - client.last_appointment: {present: true}",
        "        - conversation.answering: campaign\n        - client.last_appointment: {present: false}",
    );
    let (out, _) = Run::new(&[
        "test",
        "scenarios/inbound/09-campaign-reply-goes-to-last-appointment.yaml",
        "--rules",
        dir.path().to_str().unwrap(),
    ])
    .expect(1);
    insta::assert_snapshot!(out);
}

#[test]
fn test_json_is_one_object_per_line() {
    let (out, _) = Run::new(&["test", "--format", "json", "scenarios/outbound"]).expect(0);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 9);
    assert_eq!(lines[0]["type"], "case");
    assert_eq!(lines[0]["file"], "scenarios/outbound/channels.yaml");
    assert_eq!(
        lines[8],
        serde_json::json!({"type": "summary", "passed": 8, "failed": 0, "broken_files": 0, "rules": "rules"})
    );
}

#[test]
fn route_inbound_explains_where_a_reply_lands() {
    let (out, _) = Run::new(&[
        "route",
        "inbound",
        "--world",
        WORLD,
        "--client",
        "cleo",
        "--answering",
        "campaign@B",
        "--explain",
    ])
    .expect(0);
    insta::assert_snapshot!(out);
}

#[test]
fn route_inbound_json_has_the_documented_fields() {
    let (out, _) = Run::new(&[
        "route", "inbound", "--world", WORLD, "--client", "cleo", "--staff", "rita", "--login", "omar@B", "--logout",
        "sam", "--format", "json",
    ])
    .expect(0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["type"], "inbound");
    assert_eq!(v["lands_at"], serde_json::json!(["B"]));
    assert_eq!(v["delivered_to"], serde_json::json!(["rita"]));
    assert_eq!(v["rule"], "staff-conversation-shared-locations");
    assert_eq!(v["trace"], serde_json::json!([]), "no trace without --explain");
}

#[test]
fn route_outbound_names_the_child_account_on_a_global_push() {
    let (out, _) = Run::new(&[
        "route",
        "outbound",
        "--world",
        WORLD,
        "--client",
        "gwen",
        "--from-account",
        "glow-uptown",
        "--text",
        "See you at 3pm!",
        "--format",
        "json",
    ])
    .expect(0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["channel"], "push");
    assert_eq!(v["ghost_text"], "Messages will be sent via push notification.");
    assert_eq!(v["text"], "Glow Uptown: See you at 3pm!");
    assert_eq!(v["rule"], "push");
}

#[test]
fn route_outbound_table_for_an_unreachable_client() {
    let (out, _) = Run::new(&[
        "route",
        "outbound",
        "--world",
        WORLD,
        "--client",
        "otto",
        "--from-account",
        "glow-downtown",
        "--explain",
    ])
    .expect(0);
    insta::assert_snapshot!(out);
}

#[test]
fn input_errors_exit_2_with_one_clear_message() {
    let (_, err) = Run::new(&["route", "inbound", "--world", WORLD, "--client", "cloe"]).expect(2);
    assert_eq!(err, "error: --client: unknown client `cloe`; did you mean `cleo`?\n");
    let (_, err) = Run::new(&[
        "route", "inbound", "--world", WORLD, "--client", "cleo", "--staff", "omar",
    ])
    .expect(2);
    assert_eq!(
        err,
        "error: --from: staff member `omar` has several locations (A, B) and is not logged in: say which one they started the conversation from\n"
    );
    let (_, err) = Run::new(&[
        "route", "inbound", "--world", WORLD, "--client", "cleo", "--login", "rita@A",
    ])
    .expect(2);
    assert_eq!(
        err,
        "error: --login `rita@A`: `rita` is not associated with `A` (their locations: B)\n"
    );
    let (_, err) = Run::new(&["route", "inbound", "--world", "no/such/world.yaml", "--client", "cleo"]).expect(2);
    assert!(err.starts_with("error: cannot read the file: "), "{err}");
    assert!(err.contains("--> no/such/world.yaml\n"), "{err}");
    let (_, err) = Run::new(&[
        "route",
        "inbound",
        "--world",
        "tests/bad_input/world/duplicate-ids.yaml",
        "--client",
        "cleo",
    ])
    .expect(2);
    assert!(err.ends_with("2 problems found\n"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let (_, err) = Run::new(&[]).expect(2);
    assert!(err.contains("Usage: commroute [OPTIONS] <COMMAND>"), "{err}");
    let (_, err) = Run::new(&[
        "route",
        "inbound",
        "--world",
        WORLD,
        "--client",
        "cleo",
        "--staff",
        "sam",
        "--answering",
        "confirmation@A",
    ])
    .expect(2);
    assert!(err.contains("cannot be used with"), "{err}");
    Run::new(&["--help"]).expect(0);
}

#[test]
fn works_from_any_folder_with_the_shipped_rules() {
    let dir = tempfile::tempdir().unwrap();
    let world = Path::new(env!("CARGO_MANIFEST_DIR")).join(WORLD);
    let (out, _) = Run::new(&[
        "route",
        "inbound",
        "--world",
        world.to_str().unwrap(),
        "--client",
        "nina",
        "--format",
        "json",
    ])
    .in_dir(dir.path())
    .expect(0);
    assert!(out.contains("\"rule\":\"out-of-the-blue-one-location\""), "{out}");
    let (out, _) = Run::new(&["check"]).in_dir(dir.path()).expect(0);
    assert!(out.starts_with("ok: the shipped rules:"), "{out}");
}

/// A copy of the shipped rules whose catch-all text rule is the given `text:` value.
fn rules_with_text(text: &str) -> tempfile::TempDir {
    rules_with(
        "outbound.yaml",
        "    when: always\n    text: \"{text}\"",
        &format!("    when: always\n    text: {text}"),
    )
}

#[test]
fn a_text_outcome_may_be_a_rhai_script() {
    let dir = rules_with_text(r#"{rhai: "message.text.to_upper() + ` (` + message.channel + `)`"}"#);
    let rules = dir.path().to_str().unwrap();
    let (out, _) = Run::new(&[
        "route",
        "outbound",
        "--world",
        WORLD,
        "--client",
        "cleo",
        "--from-account",
        "glow-downtown",
        "--text",
        "see you",
        "--rules",
        rules,
        "--format",
        "json",
    ])
    .expect(0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["text"], "SEE YOU (sms)");
    assert_eq!(v["text_rule"], "as-typed");
}

#[test]
fn a_text_script_that_gives_no_string_fails_naming_the_rule() {
    let dir = rules_with_text(r#"{rhai: "message.text.len()"}"#);
    let rules = dir.path().to_str().unwrap();
    let (_, err) = Run::new(&[
        "route",
        "outbound",
        "--world",
        WORLD,
        "--client",
        "cleo",
        "--from-account",
        "glow-downtown",
        "--text",
        "hi",
        "--rules",
        rules,
    ])
    .expect(2);
    assert!(err.contains("rule `as-typed`"), "{err}");
    assert!(
        err.contains("the script gave a i64, but a message text must be a string"),
        "{err}"
    );
}

#[test]
fn a_text_script_with_an_unknown_property_is_refused_at_load() {
    let dir = rules_with_text(r#"{rhai: "message.txt"}"#);
    let (_, err) = Run::new(&["check", "--rules", dir.path().to_str().unwrap()]).expect(1);
    assert!(err.contains("unknown property `message.txt`"), "{err}");
    assert!(err.contains("did you mean `message.text`?"), "{err}");
}

/// A copy of the shipped rules with the `sms` rule's outcome replaced.
fn rules_with_sms_outcome(channel: &str, ghost_text: &str) -> tempfile::TempDir {
    rules_with(
        "outbound.yaml",
        "    channel: sms\n    ghost_text: Messages will be sent via SMS.",
        &format!("    channel: {channel}\n    ghost_text: {ghost_text}"),
    )
}

#[test]
fn a_channel_and_ghost_text_may_be_rhai_scripts() {
    let dir = rules_with_sms_outcome(
        r#"{rhai: "if client.locations.len() > 1 { `sms` } else { `email` }"}"#,
        r#"{rhai: "if client.locations.len() > 1 { `Messages will be sent via SMS.` } else { `Messages will be sent via email.` }"}"#,
    );
    let rules = dir.path().to_str().unwrap();
    let route = |client: &str| {
        let (out, _) = Run::new(&[
            "route",
            "outbound",
            "--world",
            WORLD,
            "--client",
            client,
            "--from-account",
            "glow-downtown",
            "--rules",
            rules,
            "--format",
            "json",
        ])
        .expect(0);
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()
    };
    // Cleo has two locations: the script keeps SMS; Nina has one: email.
    let cleo = route("cleo");
    assert_eq!(
        (cleo["channel"].as_str(), cleo["ghost_text"].as_str()),
        (Some("sms"), Some("Messages will be sent via SMS."))
    );
    let nina = route("nina");
    assert_eq!(
        (nina["channel"].as_str(), nina["ghost_text"].as_str()),
        (Some("email"), Some("Messages will be sent via email."))
    );
    assert_eq!(nina["rule"], "sms");
}

#[test]
fn a_channel_script_that_names_no_channel_fails_naming_the_rule() {
    let dir = rules_with_sms_outcome(r#"{rhai: "`fax`"}"#, "Messages will be sent via SMS.");
    let (_, err) = Run::new(&[
        "route",
        "outbound",
        "--world",
        WORLD,
        "--client",
        "cleo",
        "--from-account",
        "glow-downtown",
        "--rules",
        dir.path().to_str().unwrap(),
    ])
    .expect(2);
    assert!(err.contains("rule `sms`"), "{err}");
    assert!(
        err.contains("the script gave `fax`, but a channel is `push`, `sms`, `email` or `none`"),
        "{err}"
    );
}
