//! JSON Schemas for the files people edit, so an editor flags typos while
//! they type (yaml-language-server, VS Code, JetBrains).
//!
//! The shapes of world, scenario and rules files are described by small
//! schema-only types deriving [`schemars::JsonSchema`]; the loaders stay the
//! source of truth for errors (with `file:line:col`), the schemas only help
//! editors. Conditions and location expressions are built from the fact
//! catalogue ([`crate::rules::facts`]), one definition per policy, so a fact a policy
//! cannot read, an unknown test or a misspelt fact is flagged the same way the
//! loader would refuse it.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::rules::facts::{Fact, FactType, PolicyKind};

/// The kinds of file a schema exists for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `rules/inbound.yaml`, `rules/delivery.yaml`, `rules/outbound.yaml` (one schema for the three).
    Rules,
    /// A world file: the salon group's accounts, locations, staff and clients.
    World,
    /// A scenario file: cases with the outcome each must have.
    Scenario,
    /// Timeline files (world and ordered, identified events).
    Timeline,
}

// ---------------------------------------------------------------------------
// World files

/// A world file: the business's accounts, locations, staff and clients.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct WorldFile {
    accounts: Vec<AccountEntry>,
    locations: Vec<LocationEntry>,
    #[serde(default)]
    staff: Vec<StaffEntry>,
    clients: Vec<ClientEntry>,
}

/// An account; a global account is one another account names as `parent`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct AccountEntry {
    id: String,
    name: String,
    /// The parent (global) account of a child account.
    parent: Option<String>,
    /// ISO country used to read phone numbers (default `US`, inherited by child accounts).
    country: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct LocationEntry {
    id: String,
    name: String,
    account: String,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct StaffEntry {
    id: String,
    name: String,
    /// The locations they are associated with (at least one).
    #[schemars(length(min = 1))]
    locations: Vec<String>,
    /// One of their locations, or left out when not logged in.
    logged_in_at: Option<String>,
    /// Locations whose conversations they may read (default: their locations).
    communicator_access: Option<Vec<String>>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ClientEntry {
    id: String,
    name: String,
    account: String,
    #[schemars(length(min = 1))]
    locations: Vec<String>,
    /// One of their locations.
    last_appointment_at: Option<String>,
    /// As entered by staff; validity is decided with the account country's rules.
    phone: Option<String>,
    #[serde(default)]
    sms_opt_in: bool,
    email: Option<String>,
    #[serde(default)]
    email_opt_in: bool,
    /// The custom guest app is installed (push).
    #[serde(default)]
    guest_app: bool,
}

// ---------------------------------------------------------------------------
// Scenario files

/// A scenario file: a world and cases with their expected outcomes.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ScenarioFile {
    /// Quote the documented scenario here.
    description: Option<String>,
    world: WorldOrPath,
    #[schemars(length(min = 1))]
    cases: Vec<CaseEntry>,
}

/// The world inline, or a path relative to this file.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum WorldOrPath {
    Path(String),
    Inline(WorldFile),
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct CaseEntry {
    name: String,
    description: Option<String>,
    /// Staff to log in first: `{sam: B}`.
    login: Option<BTreeMap<String, String>>,
    /// Staff to log out first.
    logout: Option<Vec<String>>,
    /// Communicator access to set first: `{rita: [B]}`.
    access: Option<BTreeMap<String, Vec<String>>>,
    inbound: Option<InboundCase>,
    outbound: Option<OutboundCase>,
    expect: ExpectEntry,
}

/// A client's message: answering `KIND@LOCATION`, or a conversation `staff` started (`from`), or out of the blue.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct InboundCase {
    client: String,
    #[schemars(regex(pattern = r"^(confirmation|reminder|campaign|other)@.+$"))]
    answering: Option<String>,
    staff: Option<String>,
    from: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct OutboundCase {
    client: String,
    from_account: String,
    text: Option<String>,
}

/// What must come out; fields left out are not checked.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ExpectEntry {
    lands_at: Option<Vec<String>>,
    delivered_to: Option<Vec<String>>,
    channel: Option<ChannelName>,
    ghost_text: Option<String>,
    text: Option<String>,
    rule: Option<String>,
}

/// The channel that carries a staff message (`none`: sending is refused).
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum ChannelName {
    Push,
    Sms,
    Email,
    None,
}

// ---------------------------------------------------------------------------
// Rules files

#[derive(JsonSchema)]
#[allow(dead_code)]
enum InboundTag {
    #[serde(rename = "inbound")]
    Inbound,
}
#[derive(JsonSchema)]
#[allow(dead_code)]
enum DeliveryTag {
    #[serde(rename = "delivery")]
    Delivery,
}
#[derive(JsonSchema)]
#[allow(dead_code)]
enum OutboundTag {
    #[serde(rename = "outbound")]
    Outbound,
}

/// Limits for the Rhai scripts of this file (see the README for ceilings).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct LimitsEntry {
    max_operations: Option<u64>,
    max_call_levels: Option<u64>,
    max_expr_depth: Option<u64>,
    max_string_size: Option<u64>,
    max_array_size: Option<u64>,
    max_map_size: Option<u64>,
}

/// `inbound.yaml`: where a client's message lands; the first rule that applies decides.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct InboundFile {
    policy: InboundTag,
    description: Option<String>,
    limits: Option<LimitsEntry>,
    /// Whole-message SMS keywords that opt the client out of SMS.
    opt_out_keywords: Option<Vec<String>>,
    /// Whole-message SMS keywords that opt the client back in.
    opt_in_keywords: Option<Vec<String>>,
    rules: Vec<InboundRule>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct InboundRule {
    /// A stable id, unique across the three files.
    id: String,
    description: String,
    #[schemars(schema_with = "inbound_when")]
    when: Value,
    #[schemars(schema_with = "inbound_locations")]
    lands_at: Value,
}

/// `delivery.yaml`: who receives it live; every gate must hold, any grant admits.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct DeliveryFile {
    policy: DeliveryTag,
    description: Option<String>,
    limits: Option<LimitsEntry>,
    gates: Vec<DeliveryRule>,
    grants: Vec<DeliveryRule>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct DeliveryRule {
    id: String,
    description: String,
    #[schemars(schema_with = "delivery_when")]
    when: Value,
}

/// `outbound.yaml`: the channel (first match), then the final text (first match).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct OutboundFile {
    policy: OutboundTag,
    description: Option<String>,
    limits: Option<LimitsEntry>,
    rules: Vec<ChannelRule>,
    text: Vec<TextRule>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ChannelRule {
    id: String,
    description: String,
    #[schemars(schema_with = "outbound_when")]
    when: Value,
    channel: ChannelName,
    /// The compose box's text.
    ghost_text: String,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct TextRule {
    id: String,
    description: String,
    #[schemars(schema_with = "text_when")]
    when: Value,
    /// A template: `{text}` is what staff typed; `{sender.account_name}`, `{client.name}`.
    text: String,
}

fn schema_ref(name: &str) -> Schema {
    schemars::json_schema!({ "$ref": format!("#/$defs/{name}") })
}
fn inbound_when(_: &mut SchemaGenerator) -> Schema {
    schema_ref("InboundCondition")
}
fn delivery_when(_: &mut SchemaGenerator) -> Schema {
    schema_ref("DeliveryCondition")
}
fn outbound_when(_: &mut SchemaGenerator) -> Schema {
    schema_ref("OutboundCondition")
}
fn text_when(_: &mut SchemaGenerator) -> Schema {
    schema_ref("TextCondition")
}
fn inbound_locations(_: &mut SchemaGenerator) -> Schema {
    schema_ref("InboundLocations")
}

fn def_name(policy: PolicyKind) -> &'static str {
    match policy {
        PolicyKind::Inbound => "Inbound",
        PolicyKind::Delivery => "Delivery",
        PolicyKind::Outbound => "Outbound",
        PolicyKind::Text => "Text",
    }
}

fn one_key(key: &str, value: Value) -> Value {
    json!({
        "type": "object",
        "properties": { key: value },
        "required": [key],
        "additionalProperties": false
    })
}

/// `{test: operand}` objects: exactly one of the given tests.
fn one_of_tests(tests: Vec<(&str, Value)>) -> Value {
    json!({ "oneOf": tests.into_iter().map(|(k, v)| one_key(k, v)).collect::<Vec<_>>() })
}

/// The tests of one fact, by its type.
fn fact_test(f: Fact, policy: PolicyKind) -> Option<Value> {
    let info = f.info();
    let locations = json!({ "$ref": format!("#/$defs/{}Locations", def_name(policy)) });
    let same_as = |ty: FactType| {
        let names: Vec<&str> = Fact::ALL
            .iter()
            .filter(|g| g.readable_in(policy) && g.info().ty == ty)
            .map(|g| g.name())
            .collect();
        json!({ "enum": names })
    };
    let count = json!({ "type": "integer", "minimum": 0 });
    let test = match info.ty {
        FactType::Bool => json!({ "type": "boolean" }),
        FactType::Enum(words) => json!({ "anyOf": [
            { "enum": words },
            one_of_tests(vec![("one_of", json!({ "type": "array", "items": { "enum": words }, "minItems": 1 }))]),
        ]}),
        FactType::Location => json!({ "anyOf": [
            { "type": "string", "description": "a location id" },
            one_of_tests(vec![
                ("present", json!({ "type": "boolean" })),
                ("in", locations),
                ("same_as", same_as(FactType::Location)),
            ]),
        ]}),
        FactType::Account => json!({ "anyOf": [
            { "type": "string", "description": "an account id" },
            one_of_tests(vec![
                ("present", json!({ "type": "boolean" })),
                ("same_as", same_as(FactType::Account)),
            ]),
        ]}),
        FactType::LocationSet => one_of_tests(vec![
            ("count", count.clone()),
            ("count_at_least", count.clone()),
            ("count_at_most", count),
            ("shares_any_with", locations.clone()),
            ("shares_none_with", locations.clone()),
            ("contains", locations),
        ]),
        FactType::Text => return None,
    };
    let mut t = test;
    if let Value::Object(m) = &mut t {
        m.insert("description".into(), json!(format!("{} ({})", info.doc, info.example)));
    }
    Some(t)
}

/// `{Policy}Condition` and `{Policy}Locations` for one policy.
fn policy_defs(policy: PolicyKind, defs: &mut Map<String, Value>) {
    let name = def_name(policy);
    let cond = json!({ "$ref": format!("#/$defs/{name}Condition") });
    let locs = json!({ "$ref": format!("#/$defs/{name}Locations") });
    let mut fact_props = Map::new();
    for f in Fact::ALL.iter().filter(|f| f.readable_in(policy)) {
        if let Some(t) = fact_test(*f, policy) {
            fact_props.insert(f.name().into(), t);
        }
    }
    let list = json!({ "type": "array", "items": cond, "minItems": 1 });
    defs.insert(
        format!("{name}Condition"),
        json!({
            "description": format!("a condition of a {} rule", policy.name()),
            "anyOf": [
                { "const": "always", "description": "the catch-all" },
                list,
                one_key("all", list.clone()),
                one_key("any", list.clone()),
                one_key("not", cond.clone()),
                one_key("rhai", json!({ "type": "string", "description": "a Rhai expression giving true or false" })),
                {
                    "type": "object",
                    "description": "a test of one fact",
                    "properties": fact_props,
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": false
                },
            ]
        }),
    );
    let loc_facts: Vec<&str> = Fact::ALL
        .iter()
        .filter(|f| f.readable_in(policy) && matches!(f.info().ty, FactType::Location | FactType::LocationSet))
        .map(|f| f.name())
        .collect();
    defs.insert(
        format!("{name}Locations"),
        json!({
            "description": "a set of locations: a fact, a list of ids, an intersection or union, or a Rhai script",
            "anyOf": [
                { "enum": loc_facts },
                { "type": "array", "items": { "type": "string" } },
                one_key("intersection", json!({ "type": "array", "items": locs, "minItems": 1 })),
                one_key("union", json!({ "type": "array", "items": locs, "minItems": 1 })),
                one_key("rhai", json!({ "type": "string" })),
            ]
        }),
    );
}

fn rules_schema() -> Value {
    let mut generator = SchemaGenerator::default();
    let variants: Vec<Value> = [
        generator.subschema_for::<InboundFile>(),
        generator.subschema_for::<DeliveryFile>(),
        generator.subschema_for::<OutboundFile>(),
    ]
    .into_iter()
    .map(Value::from)
    .collect();
    let mut defs: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    for p in [
        PolicyKind::Inbound,
        PolicyKind::Delivery,
        PolicyKind::Outbound,
        PolicyKind::Text,
    ] {
        policy_defs(p, &mut defs);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "commroute rules file (inbound.yaml, delivery.yaml or outbound.yaml)",
        "oneOf": variants,
        "$defs": defs,
    })
}

/// One timeline event: `id`, `at`, `type` and the fields its type uses (the
/// loader checks which fields each type needs; the schema lists them all).
fn event_schema() -> Value {
    let text = json!({ "type": "string" });
    let yes_no = json!({ "type": "boolean" });
    json!({
        "type": "object",
        "properties": {
            "id": { "type": "string", "description": "unique in the timeline" },
            "at": { "type": "string", "description": "when it happened, e.g. 2026-03-03T10:00:00Z" },
            "type": { "enum": crate::replay::timeline::EVENT_TYPES },
            "staff": text, "client": text, "location": text, "from": text, "from_account": text,
            "text": text,
            "photos": { "type": "array", "items": { "type": "string" } },
            "via": { "enum": crate::replay::timeline::VIA_VALUES },
            "answering": { "type": "string", "description": "KIND@LOCATION, e.g. confirmation@A" },
            "message": { "type": "string", "description": "the id of the staff message a delivery report is about" },
            "status": {
                "enum": ["delivered", "failed", "booked", "completed"],
                "description": "`delivered` or `failed` (a delivery report); `booked` or `completed` (an appointment)"
            },
            "guest_app": yes_no, "phone": text, "sms_opt_in": yes_no, "email": text, "email_opt_in": yes_no
        },
        "required": ["id", "at", "type"],
        "additionalProperties": false,
        // Each type has its own statuses.
        "allOf": [
            {
                "if": { "properties": { "type": { "const": "delivery" } }, "required": ["type"] },
                "then": { "properties": { "status": { "enum": ["delivered", "failed"] } } }
            },
            {
                "if": { "properties": { "type": { "const": "appointment" } }, "required": ["type"] },
                "then": { "properties": { "status": { "enum": ["booked", "completed"] } } }
            }
        ]
    })
}

/// One check of a timeline scenario: what it looks at, and what it expects.
fn check_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": { "type": "string" },
            "event": { "type": "string" },
            "conversations": { "type": "string", "description": "a location id" },
            "in_store": { "type": "boolean" },
            "conversation": { "type": "string", "description": "a client id" },
            "usage": {
                "description": "the SMS and MMS usage of the whole timeline: write `usage: {}`",
                "anyOf": [{ "type": "object", "maxProperties": 0 }, { "type": "null" }]
            },
            "expect": { "type": "object" }
        },
        "required": ["name", "expect"],
        "additionalProperties": false
    })
}

/// Moves a generated schema's `$defs` into `defs`, so the schema can sit
/// inside another one while its `#/$defs/...` references still resolve.
fn hoist(mut schema: Value, defs: &mut serde_json::Map<String, Value>) -> Value {
    if let Value::Object(map) = &mut schema {
        map.remove("$schema");
        if let Some(Value::Object(d)) = map.remove("$defs") {
            defs.extend(d);
        }
    }
    schema
}

fn timeline_schema() -> Value {
    let mut defs = serde_json::Map::new();
    let world = hoist(Value::from(schemars::schema_for!(WorldOrPath)), &mut defs);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
        "title": "commroute timeline file",
        "description": "A world (inline or a path) and ordered events, each with a unique `id`; as a scenario, also `checks`.",
        "type": "object",
        "properties": {
            "description": { "type": "string" },
            "world": world,
            "events": { "type": "array", "items": event_schema() },
            "checks": { "type": "array", "items": check_schema() }
        },
        "required": ["world", "events"],
        "additionalProperties": false
    })
}

/// Scenario files hold `cases`, or a timeline with `events` and `checks`.
fn scenario_schema() -> Value {
    let mut defs = serde_json::Map::new();
    let cases = hoist(Value::from(schemars::schema_for!(ScenarioFile)), &mut defs);
    let mut timeline = hoist(timeline_schema(), &mut defs);
    timeline["required"] = json!(["world", "events", "checks"]);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
        "title": "commroute scenario file: cases, or a timeline with checks",
        "oneOf": [cases, timeline]
    })
}

/// The JSON Schema of a kind of file.
pub fn schema(kind: FileKind) -> Value {
    match kind {
        FileKind::Rules => rules_schema(),
        FileKind::World => Value::from(schemars::schema_for!(WorldFile)),
        FileKind::Scenario => scenario_schema(),
        FileKind::Timeline => timeline_schema(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_policy_condition_offers_exactly_the_facts_it_may_test() {
        let s = schema(FileKind::Rules);
        for p in [
            PolicyKind::Inbound,
            PolicyKind::Delivery,
            PolicyKind::Outbound,
            PolicyKind::Text,
        ] {
            let cond = &s["$defs"][format!("{}Condition", def_name(p))]["anyOf"];
            let facts = cond
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["description"] == "a test of one fact")
                .unwrap();
            let mut offered: Vec<&str> = facts["properties"]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            let mut expected: Vec<&str> = Fact::ALL
                .iter()
                .filter(|f| f.readable_in(p) && f.info().ty != FactType::Text)
                .map(|f| f.name())
                .collect();
            offered.sort_unstable();
            expected.sort_unstable();
            assert_eq!(offered, expected, "{}", p.name());
        }
    }

    #[test]
    fn every_rules_file_names_its_policy_and_refuses_unknown_keys() {
        let s = schema(FileKind::Rules);
        let variants = s["oneOf"].as_array().unwrap();
        assert_eq!(variants.len(), 3);
        for (v, policy) in variants.iter().zip(["inbound", "delivery", "outbound"]) {
            let name = v["$ref"].as_str().unwrap().trim_start_matches("#/$defs/");
            let def = &s["$defs"][name];
            assert_eq!(def["additionalProperties"], false, "{name}");
            let tag = def["properties"]["policy"]["$ref"]
                .as_str()
                .unwrap()
                .trim_start_matches("#/$defs/");
            assert_eq!(s["$defs"][tag]["enum"], serde_json::json!([policy]), "{name}");
        }
    }

    #[test]
    fn world_and_scenario_schemas_refuse_unknown_keys_and_require_ids() {
        let w = schema(FileKind::World);
        assert_eq!(w["additionalProperties"], false);
        let client = &w["$defs"]["ClientEntry"];
        assert_eq!(client["additionalProperties"], false);
        let required: Vec<&str> = client["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(required, ["id", "name", "account", "locations"]);
        let sc = schema(FileKind::Scenario);
        let expect = &sc["$defs"]["ExpectEntry"];
        assert!(
            expect.get("required").is_none(),
            "every expectation is optional: {expect}"
        );
        assert_eq!(
            sc["$defs"]["ChannelName"]["enum"],
            serde_json::json!(["push", "sms", "email", "none"])
        );
    }
}
