//! The decision endpoints and the read-only ones, against the glow world.

use super::server::Server;

#[test]
fn inbound_decides_as_route_inbound_and_names_the_versions() {
    let s = Server::glow();
    let r = s.post("/v1/inbound", r#"{"id":"e1","client":"cleo","answering":"campaign@B"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, "application/json");
    let v = r.json();
    assert_eq!(v["id"], "e1");
    assert_eq!(v["type"], "inbound");
    assert_eq!(v["lands_at"], serde_json::json!(["A"]));
    assert_eq!(v["delivered_to"], serde_json::json!(["sam"]));
    assert_eq!(v["rule"], "campaign-reply-with-history");
    assert_eq!(v["rule_set"].as_str().unwrap().len(), 16);
    assert_eq!(v["world_version"].as_str().unwrap().len(), 16);
    let status = s.get("/v1/status").json();
    assert_eq!(status["rule_set"], v["rule_set"]);
}

#[test]
fn outbound_gives_the_channel_ghost_text_and_final_text() {
    let s = Server::glow();
    let v = s
        .post(
            "/v1/outbound",
            r#"{"client":"cleo","from_account":"glow-downtown","text":"See you at 3"}"#,
        )
        .json();
    assert_eq!(v["channel"], "sms");
    assert_eq!(v["ghost_text"], "Messages will be sent via SMS.");
    assert_eq!(v["text"], "See you at 3");
    assert!(
        v["id"].as_str().is_some_and(|id| !id.is_empty()),
        "an event without an id is numbered: {v}"
    );
}

#[test]
fn explain_adds_the_trace_of_every_rule_considered() {
    let s = Server::glow();
    let v = s
        .post(
            "/v1/inbound?explain=true",
            r#"{"client":"cleo","answering":"campaign@B"}"#,
        )
        .json();
    let trace = v["trace"].as_array().expect("a trace");
    assert!(trace
        .iter()
        .any(|l| l["applied"] == false && l["failed"]["reason"].is_string()));
    assert!(trace
        .iter()
        .any(|l| l["rule"] == "campaign-reply-with-history" && l["applied"] == true));
}

#[test]
fn an_unknown_client_is_a_422_naming_the_field_and_the_closest_id() {
    let s = Server::glow();
    let r = s.post("/v1/inbound", r#"{"client":"cleoo","answering":"campaign@B"}"#);
    assert_eq!(r.status, 422);
    let v = r.json();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"], "invalid_field");
    assert_eq!(v["field"], "client");
    assert_eq!(v["message"], "unknown client `cleoo`; did you mean `cleo`?");
}

#[test]
fn a_body_of_the_wrong_shape_is_a_400_naming_the_field_and_what_is_valid() {
    let s = Server::glow();
    let r = s.post("/v1/inbound", r#"{"client":3}"#);
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["error"], "bad_request");
    assert_eq!(v["field"], "client");
    assert!(v["valid"].as_str().unwrap().contains("answering"), "{v}");
    let r = s.post("/v1/inbound", r#"{"client":"cleo","answring":"campaign@B"}"#);
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `answring`"),
        "{}",
        r.body
    );
}

#[test]
fn unknown_paths_and_methods_are_json_errors() {
    let s = Server::glow();
    let r = s.get("/v1/nope");
    assert_eq!((r.status, r.json()["error"].as_str().unwrap()), (404, "not_found"));
    let r = s.get("/v1/inbound");
    assert_eq!(
        (r.status, r.json()["error"].as_str().unwrap()),
        (405, "method_not_allowed")
    );
}

#[test]
fn rules_lists_every_rule_with_its_file_and_line() {
    let s = Server::glow();
    let v = s.get("/v1/rules").json();
    let rules = v["rules"].as_array().unwrap();
    let campaign = rules
        .iter()
        .find(|r| r["id"] == "campaign-reply-with-history")
        .expect("the campaign rule is listed");
    assert_eq!(campaign["policy"], "inbound");
    assert_eq!(campaign["file"], "rules/inbound.yaml");
    assert!(campaign["line"].as_u64().unwrap() > 1);
    assert!(rules.iter().any(|r| r["policy"] == "delivery"));
    assert!(rules.iter().any(|r| r["policy"] == "text"));
}

#[test]
fn health_and_readiness_answer() {
    let s = Server::glow();
    assert_eq!(s.get("/healthz").status, 200);
    assert_eq!(s.get("/readyz").json()["status"], "ready");
}

#[test]
fn sigterm_stops_the_service_with_exit_0() {
    let s = Server::glow();
    assert_eq!(s.get("/healthz").status, 200);
    let status = s.terminate();
    assert_eq!(status.code(), Some(0), "{status:?}");
}
