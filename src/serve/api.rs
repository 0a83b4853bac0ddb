//! The HTTP endpoints: each reads its request into the library's types,
//! asks the library, and writes JSON. Nothing here decides anything.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorKind};
use super::live::Snapshot;
use super::App;
use crate::engine::event::EventError;
use crate::jsonl::{push_json_str, Direction, Names};
use crate::world::Facts;
use crate::{InboundRequest, OutboundRequest, World};

/// The JSON body of an answer, for tests (fails naming what it got).
#[cfg(test)]
pub(crate) async fn json_of(resp: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24).await.expect("a body");
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

/// A JSON response with status 200.
pub(crate) fn json_response(body: Vec<u8>) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub(crate) fn to_json(value: &impl Serialize) -> Vec<u8> {
    let mut v = serde_json::to_vec(value).expect("responses serialise");
    v.push(b'\n');
    v
}

/// The query of the decision endpoints: `?explain=true`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DecideQuery {
    pub(crate) explain: bool,
}

impl DecideQuery {
    pub(crate) fn parse(raw: Option<&str>) -> Result<DecideQuery, ApiError> {
        let mut q = DecideQuery::default();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, "true"));
            match key {
                "explain" => {
                    q.explain = match value {
                        "true" | "1" | "" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(ApiError::new(
                                ErrorKind::BadRequest,
                                format!("`explain={}` is not a yes or no", crate::text::shown(value)),
                            )
                            .field("?explain")
                            .valid("explain=true or explain=false"))
                        }
                    }
                }
                _ => {
                    return Err(ApiError::new(
                        ErrorKind::BadRequest,
                        format!("unknown query parameter `{}`", crate::text::shown(key)),
                    )
                    .field(format!("?{}", crate::text::shown(key)))
                    .valid("explain=true"))
                }
            }
        }
        Ok(q)
    }
}

/// `POST /v1/inbound`: a client's message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InboundBody {
    /// The event's id, repeated in the decision; the service numbers events without one.
    #[serde(default)]
    pub(crate) id: Option<String>,
    pub(crate) client: String,
    #[serde(default)]
    pub(crate) answering: Option<String>,
    #[serde(default)]
    pub(crate) staff: Option<String>,
    #[serde(default)]
    pub(crate) from: Option<String>,
    /// A world fragment for this decision only (see [`crate::world::Facts`]).
    #[serde(default)]
    pub(crate) facts: Option<Facts>,
}

/// `POST /v1/outbound`: a staff member's message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboundBody {
    #[serde(default)]
    pub(crate) id: Option<String>,
    pub(crate) client: String,
    pub(crate) from_account: String,
    #[serde(default)]
    pub(crate) text: String,
    /// A world fragment for this decision only (see [`crate::world::Facts`]).
    #[serde(default)]
    pub(crate) facts: Option<Facts>,
}

const INBOUND_SHAPE: &str = r#"an object: {"client": ID, "answering": "KIND@LOCATION"} or {"client": ID, "staff": ID, "from": LOCATION}, with an optional "id" and optional "facts" (the world file's sections)"#;
const OUTBOUND_SHAPE: &str = r#"an object: {"client": ID, "from_account": ID, "text": TEXT}, with an optional "id" and optional "facts" (the world file's sections)"#;

pub(crate) fn read_body<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| ApiError::from_json(e, shape))
}

/// The event's id as a JSON string: the request's, or the next number of this process.
fn id_json(app: &App, id: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    match id {
        Some(id) => push_json_str(&mut out, id),
        None => {
            let n = app.next_id.fetch_add(1, Ordering::Relaxed);
            push_json_str(&mut out, &format!("{}-{n}", app.boot));
        }
    }
    out
}

/// The world a request is decided in: the loaded one, or the loaded one
/// with the request's facts (and the decision line's names for it).
pub(crate) fn decision_world<'a>(
    snap: &'a Snapshot,
    facts: Option<&Facts>,
    client: &str,
) -> Result<(Cow<'a, World>, Option<Names>), ApiError> {
    match facts {
        None => Ok((Cow::Borrowed(&snap.world), None)),
        Some(f) => {
            let world = snap.world.with_facts(f, client).map_err(ApiError::from_facts)?;
            let names = matches!(world, Cow::Owned(_)).then(|| snap.names.for_world(&snap.rules, &world));
            Ok((world, names))
        }
    }
}

/// An event whose ids do not fit its world. Without a world file, an
/// unknown id says which section of `facts` should carry it.
pub(crate) fn event_error(app: &App, e: EventError) -> ApiError {
    let unknown = e.message.starts_with("unknown ");
    let (what, section) = match e.field {
        "client" => ("client", "clients"),
        "staff" => ("staff member", "staff"),
        "from" | "answering" => ("location", "locations"),
        _ => ("account", "accounts"),
    };
    let err = ApiError::from_event(e);
    if unknown && app.sources.world.is_none() {
        err.valid(format!(
            "this service has no world file: send the {what} in `facts.{section}`"
        ))
    } else {
        err
    }
}

#[derive(Serialize)]
struct Explained<'a, R: Serialize> {
    id: serde_json::Value,
    r#type: &'static str,
    version: &'static str,
    #[serde(flatten)]
    report: &'a R,
    /// The trace in the words of `route --explain`, by policy.
    explanation: Vec<crate::engine::explain::ExplainSection>,
    rule_set: &'a str,
    world_version: &'a str,
}

pub(crate) async fn inbound(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = DecideQuery::parse(q.as_deref())?;
    let req: InboundBody = read_body(&body, INBOUND_SHAPE)?;
    let snap = app.live.current();
    let (world, names) = decision_world(&snap, req.facts.as_ref(), &req.client)?;
    let request = InboundRequest {
        client: req.client,
        answering: req.answering,
        staff: req.staff,
        from: req.from,
    };
    let ev = request.resolve(&world).map_err(|e| event_error(&app, e))?;
    let id = id_json(&app, req.id.as_deref());
    let decided = if q.explain {
        snap.rules.explain_inbound(&world, &ev)
    } else {
        snap.rules.route_inbound(&world, &ev)
    };
    let d = decided.map_err(|e| ApiError::new(ErrorKind::Undecided, e.to_string()))?;
    let line = if q.explain {
        let report = d.report(&snap.rules, &world);
        to_json(&Explained {
            id: serde_json::from_slice(&id).expect("an id is a JSON string"),
            r#type: "inbound",
            version: env!("CARGO_PKG_VERSION"),
            report: &report,
            explanation: crate::engine::explain::explanation(&report.trace),
            rule_set: &snap.rule_set,
            world_version: &snap.world_version,
        })
    } else {
        let mut line = Vec::with_capacity(160);
        names.as_ref().unwrap_or(&snap.names).write_inbound(&mut line, &id, &d);
        line
    };
    // The log holds the plain decision, with or without `explain`.
    let plain = if q.explain && app.log.is_some() {
        let mut plain = Vec::with_capacity(160);
        names.as_ref().unwrap_or(&snap.names).write_inbound(&mut plain, &id, &d);
        plain
    } else {
        Vec::new()
    };
    let decision = if q.explain { &plain } else { &line };
    super::log::record(&app, &snap, Direction::Inbound, d.rule, &id, &body, decision).await;
    Ok(json_response(line))
}

pub(crate) async fn outbound(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q = DecideQuery::parse(q.as_deref())?;
    let req: OutboundBody = read_body(&body, OUTBOUND_SHAPE)?;
    let snap = app.live.current();
    let (world, names) = decision_world(&snap, req.facts.as_ref(), &req.client)?;
    let request = OutboundRequest {
        client: req.client,
        from_account: req.from_account,
        text: req.text,
    };
    let ev = request.resolve(&world).map_err(|e| event_error(&app, e))?;
    let id = id_json(&app, req.id.as_deref());
    let decided = if q.explain {
        snap.rules.explain_outbound(&world, &ev)
    } else {
        snap.rules.route_outbound(&world, &ev)
    };
    let d = decided.map_err(|e| ApiError::new(ErrorKind::Undecided, e.to_string()))?;
    let line = if q.explain {
        let report = d.report(&snap.rules);
        to_json(&Explained {
            id: serde_json::from_slice(&id).expect("an id is a JSON string"),
            r#type: "outbound",
            version: env!("CARGO_PKG_VERSION"),
            report: &report,
            explanation: crate::engine::explain::explanation(&report.trace),
            rule_set: &snap.rule_set,
            world_version: &snap.world_version,
        })
    } else {
        let mut line = Vec::with_capacity(200);
        names.as_ref().unwrap_or(&snap.names).write_outbound(&mut line, &id, &d);
        line
    };
    let plain = if q.explain && app.log.is_some() {
        let mut plain = Vec::with_capacity(200);
        names
            .as_ref()
            .unwrap_or(&snap.names)
            .write_outbound(&mut plain, &id, &d);
        plain
    } else {
        Vec::new()
    };
    let decision = if q.explain { &plain } else { &line };
    super::log::record(&app, &snap, Direction::Outbound, d.rule, &id, &body, decision).await;
    Ok(json_response(line))
}

/// One rule as `GET /v1/rules` lists it.
#[derive(Serialize)]
struct RuleEntry<'a> {
    policy: &'static str,
    id: &'a str,
    description: &'a str,
    file: String,
    line: usize,
}

/// `GET /v1/rules`: every rule, in the order the policies apply them.
pub(crate) async fn rules(State(app): State<Arc<App>>) -> Response {
    let snap = app.live.current();
    let r = &snap.rules;
    let entry = |policy: &'static str, file: &std::path::Path, id: &'_ str, description: &'_ str, line: usize| {
        (
            policy,
            file.display().to_string(),
            id.to_owned(),
            description.to_owned(),
            line,
        )
    };
    let mut all = Vec::new();
    all.extend(
        r.inbound
            .rules
            .rules
            .iter()
            .map(|x| entry("inbound", &r.inbound.file.path, &x.id, &x.description, x.pos.line)),
    );
    all.extend(
        r.delivery
            .gates
            .iter()
            .chain(&r.delivery.grants)
            .map(|x| entry("delivery", &r.delivery.file.path, &x.id, &x.description, x.pos.line)),
    );
    all.extend(
        r.outbound
            .rules
            .rules
            .iter()
            .map(|x| entry("outbound", &r.outbound.file.path, &x.id, &x.description, x.pos.line)),
    );
    all.extend(
        r.outbound
            .text
            .rules
            .iter()
            .map(|x| entry("text", &r.outbound.file.path, &x.id, &x.description, x.pos.line)),
    );
    let rules: Vec<RuleEntry> = all
        .iter()
        .map(|(policy, file, id, description, line)| RuleEntry {
            policy,
            id,
            description,
            file: file.clone(),
            line: *line,
        })
        .collect();
    #[derive(Serialize)]
    struct Rules<'a> {
        r#type: &'static str,
        version: &'static str,
        rule_set: &'a str,
        rules: Vec<RuleEntry<'a>>,
    }
    json_response(to_json(&Rules {
        r#type: "rules",
        version: env!("CARGO_PKG_VERSION"),
        rule_set: &snap.rule_set,
        rules,
    }))
}

/// `GET /v1/status`: what is loaded and since when.
pub(crate) async fn status(State(app): State<Arc<App>>) -> Response {
    // The versions serving, the counts and the last reload, as of one moment.
    let (last_reload, reloads, snap) = app.reloads.seen_with(&app.live);
    #[derive(Serialize)]
    struct Status<'a> {
        r#type: &'static str,
        version: &'static str,
        rule_set: &'a str,
        world_version: &'a str,
        rules: String,
        world: Option<String>,
        loaded_at: String,
        /// The last reload's result, `null` before the first.
        last_reload: Option<&'a super::Report>,
        /// How many reloads ended each way.
        reloads: super::Counts,
    }
    json_response(to_json(&Status {
        r#type: "status",
        version: env!("CARGO_PKG_VERSION"),
        rule_set: &snap.rule_set,
        world_version: &snap.world_version,
        rules: app
            .sources
            .rules
            .as_ref()
            .map_or_else(|| "shipped".to_owned(), |d| d.display().to_string()),
        world: app.sources.world.as_ref().map(|p| p.display().to_string()),
        loaded_at: snap.loaded_at.to_string(),
        last_reload: last_reload.as_deref(),
        reloads,
    }))
}

/// `GET /healthz`: the process answers.
pub(crate) async fn healthz() -> Response {
    json_response(b"{\"status\":\"ok\"}\n".to_vec())
}

/// `GET /readyz`: a rule set is loaded and the service takes requests.
pub(crate) async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.ready.load(Ordering::Acquire) {
        json_response(b"{\"status\":\"ready\"}\n".to_vec())
    } else {
        ApiError::new(ErrorKind::Unavailable, "the service is shutting down").into_response()
    }
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "no such endpoint").valid(
        "POST /v1/inbound, /v1/outbound, /v1/batch, /v1/reload, /v1/case, /v1/rules/check; GET /v1/rules, /v1/status, /v1/world, /v1/clients, /v1/analyze, /v1/inbox/..., /v1/openapi.json, /metrics, /healthz, /readyz; GET or PUT /v1/rules/files; the pages /, /rules, /matrix, /inbox",
    )
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorKind::MethodNotAllowed, "this endpoint does not take this method")
        .valid("POST for /v1/inbound, /v1/outbound, /v1/batch, /v1/reload, /v1/case and /v1/rules/check; GET or PUT for /v1/rules/files; GET for the others")
}
