//! The rules editor's API over HTTP: `GET /v1/rules/files`,
//! `POST /v1/rules/check` (problems in the words of `commroute check`, or
//! the impact of a valid edit) and `PUT /v1/rules/files` (only with
//! `--allow-edit`: 403 without, 422 for an invalid edit, 409 for a stale
//! one).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::server::{fits, Server, LIMIT};
use crate::support::rules::{campaign_rule_moved_down, repo, rules_copy};
use crate::support::run::Run;

/// `PUT path` with `body` as JSON: status and JSON answer.
pub fn put(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    send(server, "PUT", path, &body.to_string())
}

/// `method path` with a raw body: status and JSON answer.
pub fn send(server: &Server, method: &str, path: &str, body: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(LIMIT))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}{path}", server.base);
    let result = match method {
        "PUT" => agent.put(&url).header("content-type", "application/json").send(body),
        _ => agent.post(&url).header("content-type", "application/json").send(body),
    };
    let mut resp = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
    )
}

fn shipped(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules").join(name)).unwrap()
}

#[test]
fn the_files_are_served_as_read_with_whether_saving_is_allowed() {
    let (dir, _rules) = rules_copy();
    let s = Server::over_rules_copy(dir.path(), &[]);
    let files = s.get("/v1/rules/files").json();
    assert_eq!(files["type"], "rules_files");
    assert_eq!(files["source"], "directory");
    assert_eq!(files["serving"], true);
    assert_eq!(files["allow_edit"], false);
    assert!(files["save_refused"].as_str().unwrap().contains("--allow-edit"));
    let names: Vec<&str> = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["inbound.yaml", "delivery.yaml", "outbound.yaml"]);
    assert_eq!(files["files"][0]["path"], "rules/inbound.yaml");
    assert_eq!(files["files"][1]["text"].as_str().unwrap(), shipped("delivery.yaml"));
    assert_eq!(files["rule_set"], s.get("/v1/status").json()["rule_set"]);
}

#[test]
fn bodies_that_are_not_an_edit_are_400_naming_the_field() {
    let (dir, _rules) = rules_copy();
    let s = Server::over_rules_copy(dir.path(), &["--allow-edit"]);
    for (body, field) in [
        ("", None),
        ("not json", None),
        ("[]", None),
        (r#"{"files": {"nope.yaml": "x"}}"#, Some("files.nope.yaml")),
        (r#"{"files": {"inbound.yaml": 3}}"#, Some("files.inbound.yaml")),
        (r#"{"files": {}, "extra": 1}"#, Some("extra")),
        (r#"{"files": "inbound.yaml"}"#, Some("files")),
    ] {
        for method in ["POST", "PUT"] {
            let path = if method == "POST" {
                "/v1/rules/check"
            } else {
                "/v1/rules/files"
            };
            let (status, answer) = send(&s, method, path, body);
            assert_eq!(
                (status, answer["error"].as_str()),
                (400, Some("bad_request")),
                "{method} {body}: {answer}"
            );
            assert_eq!(answer["field"].as_str(), field, "{method} {body}: {answer}");
            assert!(answer["valid"].as_str().unwrap().contains("inbound.yaml"), "{answer}");
        }
    }
    // A body over the limit is refused before it is read.
    let big = json!({"files": {"inbound.yaml": "#".repeat(70 * 1024)}}).to_string();
    let (status, answer) = send(&s, "POST", "/v1/rules/check", &big);
    assert_eq!((status, answer["error"].as_str()), (413, Some("too_large")));
}

#[test]
fn an_invalid_edit_is_answered_with_every_problem_in_the_words_of_check() {
    let (dir, rules) = rules_copy();
    let s = Server::over_rules_copy(dir.path(), &["--no-watch"]);
    let broken = shipped("inbound.yaml").replace("conversation.answering: campaign", "conversation.answerin: campaign");
    let delivery = shipped("delivery.yaml").replacen("policy: delivery", "policy: deliver", 1);
    let answer = s
        .post(
            "/v1/rules/check",
            &json!({"files": {"inbound.yaml": broken, "delivery.yaml": delivery}}).to_string(),
        )
        .json();
    assert_eq!(answer["valid"], false);
    assert!(answer["impact"].is_null());
    let d = answer["diagnostics"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{answer}");
    assert_eq!(d[0]["name"], "delivery.yaml");
    assert_eq!(d[1]["name"], "inbound.yaml");
    assert_eq!((d[1]["line"].clone(), d[1]["column"].clone()), (json!(66), json!(11)));
    assert_eq!(d[1]["rule"], "campaign-reply-with-history");
    assert_eq!(d[1]["help"], "did you mean `conversation.answering`?");
    // The same files checked by the command line: the same text.
    std::fs::write(rules.join("inbound.yaml"), &broken).unwrap();
    std::fs::write(rules.join("delivery.yaml"), &delivery).unwrap();
    let (_, check) = Run::new(&["check", "--rules", "rules"]).in_dir(dir.path()).expect(1);
    assert_eq!(answer["text"].as_str().unwrap(), check);
}

#[test]
fn a_valid_edit_answers_the_failing_scenario_cases_and_the_changed_classes() {
    let (dir, _rules) = rules_copy();
    let s = Server::over_rules_copy(dir.path(), &[]);
    let answer = s
        .post(
            "/v1/rules/check",
            &json!({"files": {"inbound.yaml": campaign_rule_moved_down()}}).to_string(),
        )
        .json();
    assert_eq!(answer["valid"], true, "{answer}");
    assert_ne!(answer["edited_rule_set"], answer["rule_set"]);
    let impact = &answer["impact"];
    let cases = impact["scenarios"]["failing"].as_array().unwrap();
    assert_eq!(cases.len(), 3, "{cases:?}");
    for c in cases {
        assert!(c["file"]
            .as_str()
            .unwrap()
            .ends_with("09-campaign-reply-goes-to-last-appointment.yaml"));
        assert_eq!(c["failing_before"], false);
        assert_eq!(c["rule"], "reply-to-location-message");
        assert!(c["text"].as_str().unwrap().contains("expected"), "{c}");
    }
    assert_eq!(
        cases[0]["name"],
        "lands at B, received by B's staff and not by the campaign's location"
    );
    assert_eq!(cases[0]["line"], 20);
    assert!(cases[0]["mismatches"]
        .as_array()
        .unwrap()
        .contains(&json!({"field": "lands_at", "expected": "[B]", "actual": "[A]"})));
    assert_eq!(impact["scenarios"]["failing_before"], 0);
    let changes = impact["matrix"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 8);
    assert!(changes.iter().all(|c| c["kind"] == "class"
        && c["old_rule"] == "campaign-reply-with-history"
        && c["new_rule"] == "reply-to-location-message"));
    assert_eq!(changes[0]["old_outcome"], "lands at [B]");
    assert_eq!(changes[0]["new_outcome"], "lands at [A]");
    assert_eq!(
        changes[0]["example"],
        "client at [A, B] (last appointment B), answers a campaign from A"
    );
    assert!(impact["recorded"].is_null(), "no decision log");
    // The unedited rules change nothing.
    let same = s.post("/v1/rules/check", r#"{"files": {}}"#).json();
    assert_eq!(same["valid"], true);
    assert_eq!(same["impact"]["matrix"]["changes"], json!([]));
    assert_eq!(same["impact"]["scenarios"]["failing"], json!([]));
}

#[test]
fn with_a_decision_log_each_changed_class_counts_the_recorded_decisions_it_touches() {
    let (dir, _rules) = rules_copy();
    let log = dir.path().join("decisions.jsonl");
    let s = Server::over_rules_copy(dir.path(), &["--decision-log", log.to_str().unwrap()]);
    // Cleo (A and B, last appointment A) answers campaigns: from B twice
    // (the edit moves those to B), from A once (it stays at A, decided by
    // another rule); and Paul (C only) writes out of the blue (untouched).
    for body in [
        r#"{"client": "cleo", "answering": "campaign@B"}"#,
        r#"{"client": "cleo", "answering": "campaign@B"}"#,
        r#"{"client": "cleo", "answering": "campaign@A"}"#,
        r#"{"client": "paul"}"#,
    ] {
        let d = s.post("/v1/inbound", body);
        assert_eq!(d.status, 200, "{}", d.body);
    }
    let body = json!({"files": {"inbound.yaml": campaign_rule_moved_down()}}).to_string();
    let deadline = Instant::now() + LIMIT;
    let answer = loop {
        let a = s.post("/v1/rules/check", &body).json();
        if a["impact"]["recorded"]["events"] == 4 {
            break a;
        }
        assert!(Instant::now() < deadline, "the decision log's lines were not read: {a}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let recorded = &answer["impact"]["recorded"];
    assert_eq!(recorded["changed"], 3, "{recorded}");
    assert_eq!(recorded["skipped"], 0);
    assert_eq!(
        recorded["unexplained"],
        json!([]),
        "changed classes account for every change"
    );
    let changes = answer["impact"]["matrix"]["changes"].as_array().unwrap();
    let touched: Vec<(u64, u64)> = changes
        .iter()
        .map(|c| (c["events"].as_u64().unwrap(), c["events_of_class"].as_u64().unwrap()))
        .filter(|(_, all)| *all > 0)
        .collect();
    // Two classes: campaign replies from B (2 decisions, now landing
    // elsewhere) and from A (1, decided by another rule).
    assert_eq!(touched.iter().map(|(n, _)| n).sum::<u64>(), 3, "{changes:?}");
    assert_eq!(touched.len(), 2, "{touched:?}");
}

#[test]
fn saving_is_403_without_allow_edit_and_with_the_shipped_rules() {
    let (dir, rules) = rules_copy();
    let s = Server::over_rules_copy(dir.path(), &[]);
    let (status, answer) = put(
        &s,
        "/v1/rules/files",
        &json!({"files": {"inbound.yaml": campaign_rule_moved_down()}}),
    );
    assert_eq!((status, answer["error"].as_str()), (403, Some("forbidden")), "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("--allow-edit"));
    assert!(answer["valid"].as_str().unwrap().contains("--allow-edit"));
    assert_eq!(
        std::fs::read_to_string(rules.join("inbound.yaml")).unwrap(),
        shipped("inbound.yaml")
    );
    drop(s);

    // No rules directory: the service serves the rules built into it.
    let empty = tempfile::tempdir().unwrap();
    let world = repo("examples/glow-world.yaml");
    let s = Server::start(empty.path(), &["--world", &world, "--allow-edit"]);
    let files = s.get("/v1/rules/files").json();
    assert_eq!(files["source"], "shipped");
    assert_eq!(files["files"][0]["path"], "<shipped>/rules/inbound.yaml");
    let (status, answer) = put(&s, "/v1/rules/files", &json!({"files": {}}));
    assert_eq!((status, answer["error"].as_str()), (403, Some("forbidden")), "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("no rules directory"),
        "{answer}"
    );
    assert!(answer["valid"].as_str().unwrap().contains("--rules DIR"), "{answer}");
}

#[test]
fn an_invalid_save_is_422_with_the_problems_and_writes_nothing() {
    let (dir, rules) = rules_copy();
    let s = Server::over_rules_copy(dir.path(), &["--allow-edit"]);
    let before = s.get("/v1/status").json()["rule_set"].clone();
    let broken = shipped("inbound.yaml").replace("lands_at: client.locations\n", "lands_at: client.location\n");
    let (status, answer) = put(
        &s,
        "/v1/rules/files",
        &json!({"files": {"inbound.yaml": broken, "outbound.yaml": "# emptied\n"}}),
    );
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["type"], "rules_save");
    assert_eq!(answer["written"], json!([]));
    assert!(answer["diagnostics"].as_array().unwrap().len() >= 2, "{answer}");
    assert!(answer["diagnostics"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("error: "));
    for f in ["inbound.yaml", "outbound.yaml"] {
        assert_eq!(
            std::fs::read_to_string(rules.join(f)).unwrap(),
            shipped(f),
            "{f} untouched"
        );
    }
    assert_eq!(s.get("/v1/status").json()["rule_set"], before);
}

#[test]
fn a_valid_save_writes_the_changed_file_and_answers_once_it_serves() {
    let (dir, rules) = rules_copy();
    let s = Server::over_rules_copy(dir.path(), &["--allow-edit", "--no-watch"]);
    let before = s.get("/v1/status").json()["rule_set"].as_str().unwrap().to_owned();
    // A stale base is a conflict: nothing is written.
    let (status, answer) = put(
        &s,
        "/v1/rules/files",
        &json!({"files": {"inbound.yaml": campaign_rule_moved_down()}, "base_rule_set": "0000000000000000"}),
    );
    assert_eq!((status, answer["error"].as_str()), (409, Some("conflict")), "{answer}");
    assert_eq!(
        std::fs::read_to_string(rules.join("inbound.yaml")).unwrap(),
        shipped("inbound.yaml")
    );

    let (status, answer) = put(
        &s,
        "/v1/rules/files",
        &json!({"files": {"inbound.yaml": campaign_rule_moved_down(), "delivery.yaml": shipped("delivery.yaml")}, "base_rule_set": before}),
    );
    assert_eq!(status, 200, "{answer}");
    fits(&s, "RulesSave", &answer);
    assert_eq!(
        answer["written"],
        json!(["inbound.yaml"]),
        "an unchanged file is not written"
    );
    assert_eq!(answer["result"], "applied");
    assert_eq!(
        std::fs::read_to_string(rules.join("inbound.yaml")).unwrap(),
        campaign_rule_moved_down()
    );
    let leftovers: Vec<_> = std::fs::read_dir(&rules)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 3, "no temporary file left: {leftovers:?}");
    // Live as soon as answered (--no-watch: the save's own reload).
    let status = s.get("/v1/status").json();
    // The status after a save once named a trigger its schema lacked.
    fits(&s, "Status", &status);
    assert_eq!(status["rule_set"], answer["rule_set"]);
    assert_eq!(status["last_reload"]["trigger"], "edit");
    let d = s
        .post("/v1/inbound", r#"{"client": "cleo", "answering": "campaign@B"}"#)
        .json();
    assert_eq!(
        (d["lands_at"].clone(), d["rule"].clone()),
        (json!(["B"]), json!("reply-to-location-message"))
    );
}
