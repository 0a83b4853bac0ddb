//! The playground's lookup endpoints over HTTP: `GET /v1/world`,
//! `GET /v1/clients`, `POST /v1/case` and `GET /v1/analyze`, and the
//! explanation a decision carries with `?explain=true`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};

use super::server::Server;

fn commroute(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_commroute"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("commroute runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn ids(v: &Value) -> Vec<&str> {
    v["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect()
}

/// The glow world's staff, as `/v1/world` lists them (and `facts.staff` takes them).
fn glow_staff(s: &Server) -> Vec<Value> {
    s.get("/v1/world").json()["staff"].as_array().unwrap().clone()
}

#[test]
fn the_world_lists_what_a_question_can_name() {
    let s = Server::glow();
    let r = s.get("/v1/world");
    assert_eq!(r.status, 200);
    let w = r.json();
    assert_eq!(w["type"], "world");
    assert_eq!(w["clients"], 7);
    assert_eq!(w["kinds"], json!(["confirmation", "reminder", "campaign", "other"]));
    let locations: Vec<&str> = w["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(locations, ["Downtown", "Midtown", "Uptown"]);
    let omar = w["staff"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "omar")
        .unwrap();
    assert_eq!(
        omar,
        &json!({"id": "omar", "name": "Omar Haddad", "locations": ["A", "B"], "logged_in_at": null, "communicator_access": ["A"]})
    );
    assert_eq!(w["can_save_cases"], false, "no --allow-edit");
}

#[test]
fn clients_are_found_by_name_id_or_location_exact_id_first() {
    let s = Server::glow();
    // "o": every client has an `o` in the name, id or a location's name.
    let all = s.get("/v1/clients?q=O&limit=3").json();
    assert_eq!(all["total"], 7);
    assert_eq!(
        ids(&all),
        ["otto", "cleo", "eve"],
        "prefix matches (Otto) before the rest, by name"
    );
    // A location by name finds its clients.
    let uptown = s.get("/v1/clients?q=uptown").json();
    assert_eq!(ids(&uptown), ["eve", "gwen", "paul"]);
    let cleo = s.get("/v1/clients?q=cleo").json();
    assert_eq!(
        cleo["clients"][0],
        json!({"id": "cleo", "name": "Cleo Park", "account": "glow-downtown", "locations": ["A", "B"],
               "last_appointment_at": "A", "guest_app": false, "phone": "+1 650 253 0000", "phone_valid": true,
               "sms_opt_in": true, "email": "cleo@example.com", "email_valid": true, "email_opt_in": true})
    );
    let ivan = s.get("/v1/clients?q=555-0100").json();
    assert_eq!(ivan["total"], 0, "phones are not searched");
    let ivan = s.get("/v1/clients?q=IVAN").json();
    assert_eq!(ivan["clients"][0]["phone_valid"], false);
    // URL-encoded text.
    assert_eq!(ids(&s.get("/v1/clients?q=cleo%20park").json()), ["cleo"]);
}

#[test]
fn the_clients_limit_is_bounded_and_mistakes_name_their_field() {
    let s = Server::glow();
    assert_eq!(s.get("/v1/clients").json()["clients"].as_array().unwrap().len(), 7);
    for bad in ["0", "101", "ten"] {
        let r = s.get(&format!("/v1/clients?limit={bad}"));
        assert_eq!(r.status, 400, "{bad}");
        let e = r.json();
        assert_eq!(e["field"], "?limit");
        assert_eq!(e["valid"], "limit=1 to limit=100 (default 20)");
    }
    let r = s.get("/v1/clients?name=cleo");
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"].as_str().unwrap().contains("unknown field `name`"),
        "{}",
        r.body
    );
}

#[test]
fn the_explanation_is_the_cli_explain_text_by_policy() {
    let s = Server::glow();
    let d = s
        .post(
            "/v1/inbound?explain=true",
            r#"{"client":"cleo","answering":"campaign@B"}"#,
        )
        .json();
    let (ok, cli) = commroute(
        root(),
        &[
            "route",
            "inbound",
            "--world",
            "examples/glow-world.yaml",
            "--client",
            "cleo",
            "--answering",
            "campaign@B",
            "--explain",
        ],
    );
    assert!(ok, "{cli}");
    let mut text = String::new();
    for section in d["explanation"].as_array().unwrap() {
        text.push_str(&format!("\n{}:\n", section["heading"].as_str().unwrap()));
        for line in section["lines"].as_array().unwrap() {
            text.push_str(&format!("  {}\n", line["text"].as_str().unwrap()));
        }
    }
    assert!(cli.ends_with(&text), "the CLI:\n{cli}\nthe service:\n{text}");
    let applied: Vec<bool> = d["explanation"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["applied"].as_bool().unwrap())
        .collect();
    assert_eq!(applied, [false, false, false, false, true]);
    // Without explain, no explanation.
    let plain = s.post("/v1/inbound", r#"{"client":"cleo"}"#).json();
    assert!(plain.get("explanation").is_none());
}

#[test]
fn a_decision_becomes_the_case_save_case_would_append() {
    let s = Server::glow();
    // Sam logged out; Omar logged in at A with access to A and B.
    let mut staff = glow_staff(&s);
    for m in staff.iter_mut() {
        if m["id"] == "sam" {
            m["logged_in_at"] = Value::Null;
        }
        if m["id"] == "omar" {
            m["logged_in_at"] = json!("A");
            m["communicator_access"] = json!(["A", "B"]);
        }
    }
    let body = json!({"inbound": {"client": "cleo", "answering": "campaign@B", "facts": {"staff": staff}}});
    let r = s.post("/v1/case", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let c = r.json();
    assert_eq!(c["name"], "cleo answers campaign@B");
    assert_eq!(
        c["yaml"],
        "  - name: \"cleo answers campaign@B\"\n    logout: [\"sam\"]\n    login: {\"omar\": \"A\"}\n    access: {\"omar\": [\"A\", \"B\"]}\n    \
         inbound: {client: \"cleo\", answering: \"campaign@B\"}\n    \
         expect: {lands_at: [\"A\"], delivered_to: [\"omar\"], rule: \"campaign-reply-with-history\"}\n"
    );
    assert!(c["scenario"].as_str().unwrap().ends_with(c["yaml"].as_str().unwrap()));
    assert_eq!(c["saved"], Value::Null);
    // The same as the CLI's --save-case, logins included (the CLI cannot change access).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.yaml");
    let (ok, out) = commroute(
        root(),
        &[
            "route",
            "inbound",
            "--world",
            "examples/glow-world.yaml",
            "--client",
            "nina",
            "--staff",
            "rita",
            "--logout",
            "rita",
            "--save-case",
            file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    let saved = std::fs::read_to_string(&file).unwrap();
    let mut staff = glow_staff(&s);
    for m in staff.iter_mut().filter(|m| m["id"] == "rita") {
        m["logged_in_at"] = Value::Null;
    }
    let c = s
        .post(
            "/v1/case",
            &json!({"inbound": {"client": "nina", "staff": "rita", "facts": {"staff": staff}}}).to_string(),
        )
        .json();
    let cli_case = &saved[saved.find("  - name:").unwrap()..];
    assert_eq!(c["yaml"], cli_case);
    // Outbound.
    let c = s
        .post(
            "/v1/case",
            r#"{"outbound": {"client": "gwen", "from_account": "glow-uptown", "text": "Hi"}, "name": "push to gwen"}"#,
        )
        .json();
    assert_eq!(
        c["yaml"],
        "  - name: \"push to gwen\"\n    outbound: {client: \"gwen\", from_account: \"glow-uptown\", text: \"Hi\"}\n    \
         expect: {channel: \"push\", ghost_text: \"Messages will be sent via push notification.\", text: \"Glow Uptown: Hi\", rule: \"push\"}\n"
    );
}

#[test]
fn a_case_refuses_what_a_scenario_cannot_say_naming_the_field() {
    let s = Server::glow();
    let cases = [
        (json!({}), 400, None),
        (
            json!({"inbound": {"client": "cleo"}, "outbound": {"client": "cleo", "from_account": "glow-downtown"}}),
            400,
            None,
        ),
        (json!({"inbound": {"client": "zed"}}), 422, Some("inbound.client")),
        (
            json!({"inbound": {"client": "cleo", "facts": {"clients": []}}}),
            422,
            Some("inbound.facts"),
        ),
        (
            json!({"inbound": {"client": "cleo", "facts": {"staff": [{"id": "sam", "name": "S", "locations": ["A", "B"]}]}}}),
            422,
            Some("inbound.facts.staff"),
        ),
        (
            json!({"inbound": {"client": "cleo", "facts": {"staff": [{"id": "zoe", "name": "Z", "locations": ["A"]}]}}}),
            422,
            Some("inbound.facts.staff[0].id"),
        ),
        (
            json!({"outbound": {"client": "cleo", "from_account": "glow-downtown", "facts": {}}}),
            422,
            Some("outbound.facts"),
        ),
        (json!({"inbound": {"client": "cleo"}, "save": true}), 422, Some("save")),
        (
            json!({"inbound": {"client": "cleo"}, "path": "/etc/passwd"}),
            400,
            Some("path"),
        ),
    ];
    for (body, status, field) in cases {
        let r = s.post("/v1/case", &body.to_string());
        assert_eq!(r.status, status, "{body}: {}", r.body);
        let e = r.json();
        assert_eq!(e["type"], "error");
        assert_eq!(e["field"].as_str(), field, "{body}: {}", r.body);
        if field != Some("inbound.client") {
            assert!(e["valid"].is_string(), "{body}: says what is valid: {}", r.body);
        }
    }
}

#[test]
fn with_allow_edit_a_case_is_appended_to_the_scenarios_playground_file_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scenarios")).unwrap();
    std::fs::copy(root().join("examples/glow-world.yaml"), dir.path().join("world.yaml")).unwrap();
    let s = Server::start(dir.path(), &["--world", "world.yaml", "--allow-edit", "--no-watch"]);
    assert_eq!(s.get("/v1/world").json()["can_save_cases"], true);
    let first = s.post(
        "/v1/case",
        r#"{"inbound": {"client": "cleo", "answering": "campaign@B"}, "save": true}"#,
    );
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first.json()["saved"],
        json!({"file": "scenarios/playground.yaml", "line": 5})
    );
    let again = s.post(
        "/v1/case",
        r#"{"inbound": {"client": "cleo", "answering": "campaign@B"}, "save": true}"#,
    );
    assert_eq!(again.status, 422);
    assert!(again.json()["message"]
        .as_str()
        .unwrap()
        .contains("already has a case named"));
    let second = s.post(
        "/v1/case",
        r#"{"outbound": {"client": "paul", "from_account": "glow-uptown"}, "save": true}"#,
    );
    assert_eq!(second.json()["saved"]["line"], 8);
    let text = std::fs::read_to_string(dir.path().join("scenarios/playground.yaml")).unwrap();
    assert!(text.contains("world: \"../world.yaml\""), "{text}");
    let (ok, out) = commroute(dir.path(), &["test", "scenarios/playground.yaml"]);
    assert!(ok, "the saved cases pass: {out}\n{text}");
}

#[test]
fn analyze_answers_what_the_cli_analyzes() {
    let s = Server::glow();
    let a = s.get("/v1/analyze").json();
    let (_, cli) = commroute(root(), &["analyze", "--format", "json"]);
    let lines: Vec<Value> = cli.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = lines.iter().find(|l| l["type"] == "summary").unwrap();
    assert_eq!(a["summary"]["classes"], summary["classes"]);
    assert_eq!(a["summary"]["shadowed"], summary["shadowed"]);
    assert_eq!(a["summary"]["gaps"], summary["gaps"]);
    let cli_rows: Vec<&Value> = lines.iter().filter(|l| l["type"] == "class").collect();
    assert_eq!(a["classes"].as_array().unwrap().len(), cli_rows.len());
    for (i, (row, cli_row)) in a["classes"].as_array().unwrap().iter().zip(&cli_rows).enumerate() {
        assert_eq!(row["n"], i + 1);
        for key in ["policy", "class", "description", "example", "outcome", "rule", "live"] {
            assert_eq!(row[key], cli_row[key], "row {}: {key}", i + 1);
        }
    }
    let redundant = lines.iter().filter(|l| l["type"] == "redundant").count();
    assert_eq!(a["redundant"].as_array().unwrap().len(), redundant);
    // The second answer is the same (computed once per rule set).
    assert_eq!(s.get("/v1/analyze").json(), a);
}

/// Type-ahead on the 100,000-client world: the figure is printed, not asserted.
#[test]
fn type_ahead_on_a_hundred_thousand_clients() {
    use commroute::generate::{write_world, Shape};
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = Vec::new();
    write_world(&Shape::LARGE, &mut yaml).unwrap();
    std::fs::write(dir.path().join("world.yaml"), &yaml).unwrap();
    let s = Server::start(dir.path(), &["--world", "world.yaml", "--no-watch"]);
    assert_eq!(s.get("/v1/world").json()["clients"], 100_000);
    let mut took = Vec::new();
    for q in ["a", "an", "ann", "mar", "c-1", "c-12345", "zzzz", "", "son", "lo"] {
        for _ in 0..3 {
            let t = Instant::now();
            let r = s.get(&format!("/v1/clients?q={q}&limit=20"));
            took.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(r.status, 200);
            let v = r.json();
            assert!(v["clients"].as_array().unwrap().len() <= 20);
        }
    }
    took.sort_by(|a, b| a.partial_cmp(b).unwrap());
    eprintln!(
        "clients type-ahead over 100,000 clients: median {:.1} ms, max {:.1} ms over {} requests",
        took[took.len() / 2],
        took[took.len() - 1],
        took.len()
    );
}
