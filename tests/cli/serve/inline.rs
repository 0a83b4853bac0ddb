//! Inline facts: requests that carry the client's and the staff's fields
//! instead of (or on top of) the loaded world's ids.

use std::path::Path;

use super::server::Server;

/// Cleo as the glow world holds her, written as inline facts.
const CLEO: &str = r#"{"id":"cleo","name":"Cleo Park","account":"glow-downtown","locations":["A","B"],"last_appointment_at":"A","phone":"+1 650 253 0000","sms_opt_in":true,"email":"cleo@example.com","email_opt_in":true}"#;

/// The glow world's accounts and locations, as inline facts.
const GLOW_PLACES: &str = r#""accounts":[{"id":"glow-group","name":"Glow Group","country":"US"},{"id":"glow-downtown","name":"Glow Downtown","parent":"glow-group"}],"locations":[{"id":"A","name":"Downtown","account":"glow-downtown"},{"id":"B","name":"Midtown","account":"glow-downtown"}]"#;

fn decision(v: &serde_json::Value) -> (serde_json::Value, serde_json::Value, serde_json::Value) {
    (v["lands_at"].clone(), v["delivered_to"].clone(), v["rule"].clone())
}

#[test]
fn a_client_sent_inline_gets_the_same_decision_as_the_loaded_id() {
    let s = Server::glow();
    for answering in ["campaign@B", "confirmation@A", "reminder@B"] {
        let by_id = s.post(
            "/v1/inbound",
            &format!(r#"{{"id":"e1","client":"cleo","answering":"{answering}"}}"#),
        );
        let inline = s.post(
            "/v1/inbound",
            &format!(r#"{{"id":"e1","client":"cleo","answering":"{answering}","facts":{{"clients":[{CLEO}]}}}}"#),
        );
        assert_eq!(by_id.status, 200, "{}", by_id.body);
        assert_eq!(inline.status, 200, "{}", inline.body);
        assert_eq!(decision(&by_id.json()), decision(&inline.json()), "{answering}");
        assert_eq!(by_id.json()["rule_set"], inline.json()["rule_set"]);
    }
    let by_id = s
        .post(
            "/v1/outbound",
            r#"{"client":"cleo","from_account":"glow-downtown","text":"See you at 3"}"#,
        )
        .json();
    let inline = s
        .post(
            "/v1/outbound",
            &format!(r#"{{"client":"cleo","from_account":"glow-downtown","text":"See you at 3","facts":{{"clients":[{CLEO}]}}}}"#),
        )
        .json();
    assert_eq!(by_id["channel"], "sms");
    assert_eq!(
        (&inline["channel"], &inline["text"]),
        (&by_id["channel"], &by_id["text"])
    );
}

#[test]
fn the_inline_client_is_the_one_decided_not_the_loaded_one() {
    let s = Server::glow();
    // The loaded Cleo has a valid phone and opted in: SMS. Sent inline
    // without a phone and with the guest app, she gets a push instead.
    let inline = r#"{"id":"cleo","name":"Cleo Park","account":"glow-downtown","locations":["A","B"],"guest_app":true}"#;
    let v = s
        .post(
            "/v1/outbound",
            &format!(
                r#"{{"client":"cleo","from_account":"glow-downtown","text":"hi","facts":{{"clients":[{inline}]}}}}"#
            ),
        )
        .json();
    assert_eq!(v["channel"], "push", "{v}");
}

#[test]
fn staff_sent_inline_change_who_receives_it_live() {
    let s = Server::glow();
    let loaded = s
        .post("/v1/inbound", r#"{"client":"cleo","answering":"campaign@B"}"#)
        .json();
    assert_eq!(loaded["delivered_to"], serde_json::json!(["sam"]));
    // Sam logged out, Omar logged in at A: Omar receives it live instead.
    let staff = r#"[{"id":"sam","name":"Sam Reyes","locations":["A","B"]},{"id":"omar","name":"Omar Haddad","locations":["A","B"],"logged_in_at":"A","communicator_access":["A"]}]"#;
    let r = s.post(
        "/v1/inbound",
        &format!(r#"{{"client":"cleo","answering":"campaign@B","facts":{{"staff":{staff}}}}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["lands_at"], loaded["lands_at"]);
    assert_eq!(v["delivered_to"], serde_json::json!(["omar"]), "{v}");
}

#[test]
fn serve_without_a_world_decides_on_facts_alone_and_asks_for_facts_for_an_unknown_id() {
    let s = Server::start(Path::new(env!("CARGO_MANIFEST_DIR")), &[]);
    let staff = r#""staff":[{"id":"sam","name":"Sam Reyes","locations":["A","B"],"logged_in_at":"A"}]"#;
    let r = s.post(
        "/v1/inbound",
        &format!(r#"{{"id":"w1","client":"cleo","answering":"campaign@B","facts":{{{GLOW_PLACES},{staff},"clients":[{CLEO}]}}}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["lands_at"], serde_json::json!(["A"]));
    assert_eq!(v["delivered_to"], serde_json::json!(["sam"]));
    assert_eq!(v["rule"], "campaign-reply-with-history");
    assert_eq!(v["world_version"], "none");

    // No facts: the empty world knows no client, and the error says to send it.
    let r = s.post("/v1/inbound", r#"{"client":"cleo","answering":"campaign@B"}"#);
    assert_eq!(r.status, 422, "{}", r.body);
    let v = r.json();
    assert_eq!(v["error"], "invalid_field");
    assert_eq!(v["field"], "client");
    assert_eq!(v["message"], "unknown client `cleo`");
    assert_eq!(
        v["valid"],
        "this service has no world file: send the client in `facts.clients`"
    );

    // Facts given, but not the client the request names.
    let r = s.post(
        "/v1/inbound",
        &format!(r#"{{"client":"nina","facts":{{{GLOW_PLACES},"clients":[{CLEO}]}}}}"#),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["field"], "client");
    assert!(
        r.json()["valid"].as_str().unwrap().contains("`facts.clients`"),
        "{}",
        r.body
    );
}

/// `(status, field, message, valid)` of an error answer.
fn error_of(s: &Server, body: &str) -> (u16, String, String, String) {
    let r = s.post("/v1/inbound", body);
    let v = r.json();
    assert_eq!(v["type"], "error", "{}", r.body);
    let text = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    (r.status, text("field"), text("message"), text("valid"))
}

#[test]
fn an_unknown_location_in_inline_facts_is_a_422_at_its_exact_path() {
    let s = Server::glow();
    let client = r#"{"id":"cleo","name":"Cleo","account":"glow-downtown","locations":["A","Q"]}"#;
    let (status, field, message, valid) =
        error_of(&s, &format!(r#"{{"client":"cleo","facts":{{"clients":[{client}]}}}}"#));
    assert_eq!(status, 422);
    assert_eq!(field, "facts.clients[0].locations[1]");
    assert_eq!(message, "unknown location `Q`");
    assert_eq!(valid, "known locations: `A`, `B` or `C`");
}

#[test]
fn logged_in_at_outside_the_staff_members_locations_is_a_422() {
    let s = Server::glow();
    let staff = r#"[{"id":"sam","name":"Sam","locations":["A"],"logged_in_at":"B"}]"#;
    let (status, field, message, valid) = error_of(&s, &format!(r#"{{"client":"cleo","facts":{{"staff":{staff}}}}}"#));
    assert_eq!(status, 422);
    assert_eq!(field, "facts.staff[0].logged_in_at");
    assert_eq!(message, "`logged_in_at: B` is not one of the staff member's locations");
    assert_eq!(valid, "a staff member logs in at one of their own locations: `A`");
}

#[test]
fn a_wrong_type_in_inline_facts_is_a_400_at_its_path() {
    let s = Server::glow();
    let client = r#"{"id":"cleo","name":"Cleo","account":"glow-downtown","locations":"A"}"#;
    let (status, field, message, _) = error_of(&s, &format!(r#"{{"client":"cleo","facts":{{"clients":[{client}]}}}}"#));
    assert_eq!(status, 400);
    assert_eq!(field, "facts.clients[0].locations");
    assert!(
        message.starts_with("invalid type: string \"A\", expected a sequence"),
        "{message}"
    );
}

#[test]
fn an_unknown_field_in_inline_facts_is_a_400_naming_the_valid_fields() {
    let s = Server::glow();
    let client = r#"{"id":"cleo","name":"Cleo","account":"glow-downtown","locations":["A"],"colour":"red"}"#;
    let (status, field, message, _) = error_of(&s, &format!(r#"{{"client":"cleo","facts":{{"clients":[{client}]}}}}"#));
    assert_eq!(status, 400);
    assert_eq!(field, "facts.clients[0].colour");
    assert!(
        message.starts_with("unknown field `colour`, expected one of `id`, `name`"),
        "{message}"
    );
    let (status, field, message, _) = error_of(&s, r#"{"client":"cleo","facts":{"customers":[]}}"#);
    assert_eq!(status, 400);
    assert_eq!(field, "facts.customers");
    assert!(
        message.starts_with("unknown field `customers`, expected one of `accounts`, `locations`, `staff`, `clients`"),
        "{message}"
    );
}

#[test]
fn several_problems_in_inline_facts_answer_the_first_and_count_the_rest() {
    let s = Server::glow();
    let client =
        r#"{"id":"cleo","name":"Cleo","account":"glow-downtwn","locations":["Q","A"],"last_appointment_at":"Z"}"#;
    let (status, field, message, valid) =
        error_of(&s, &format!(r#"{{"client":"cleo","facts":{{"clients":[{client}]}}}}"#));
    assert_eq!(status, 422);
    assert_eq!(field, "facts.clients[0].account");
    assert_eq!(message, "unknown account `glow-downtwn` (and 2 more problems)");
    assert_eq!(valid, "did you mean `glow-downtown`?");
}

#[test]
fn explain_with_inline_facts_traces_the_decision_in_their_world() {
    let s = Server::glow();
    let staff = r#"[{"id":"sam","name":"Sam Reyes","locations":["A","B"]},{"id":"omar","name":"Omar Haddad","locations":["A","B"],"logged_in_at":"A"}]"#;
    let r = s.post(
        "/v1/inbound?explain=true",
        &format!(r#"{{"client":"cleo","answering":"campaign@B","facts":{{"staff":{staff}}}}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["delivered_to"], serde_json::json!(["omar"]), "{v}");
    assert!(v["trace"].as_array().is_some_and(|t| !t.is_empty()), "{v}");
}
