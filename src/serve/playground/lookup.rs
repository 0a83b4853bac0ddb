//! "Where does it land" and the decision matrix: what the pages `/` and
//! `/matrix` ask beyond the decision endpoints.
//!
//! - `GET /v1/world`: what a question can name (accounts, locations, staff
//!   with their logins and access, the kinds of message a client answers,
//!   how many clients), from the live snapshot's world.
//! - `GET /v1/clients?q=TEXT&limit=N`: type-ahead over the world's clients by
//!   id, name or location, in a fixed order (the exact id, then prefixes,
//!   then the rest, each by name then id).
//! - `POST /v1/case`: a decision as the scenario case `route --save-case`
//!   appends (its YAML, and a whole scenario file holding it); with
//!   `--allow-edit` and `"save": true`, appended to `playground.yaml` of the
//!   `--scenarios` directory (never a path the request names).
//! - `GET /v1/analyze`: the decision matrix and its findings, as
//!   `commroute analyze --format json` has them, computed once per rule set.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::authoring::analysis::{self, Classes, Gap, Row, Shadowed};
use crate::scenario::fixture::{self, SavedCase};
use crate::scenario::login::StaffLogin;
use crate::serve::api::{decision_world, event_error, json_response, read_body, to_json, InboundBody, OutboundBody};
use crate::serve::error::{ApiError, ErrorKind};
use crate::serve::live::Snapshot;
use crate::serve::App;
use crate::world::locset::LocSet;
use crate::world::NewStaff;
use crate::world::{ClientIdx, World};
use crate::{InboundRequest, OutboundRequest};

/// This file's routes.
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/world", get(world))
        .route("/v1/clients", get(clients))
        .route("/v1/case", post(case))
        .route("/v1/analyze", get(analyze))
}

/// The file of the `--scenarios` directory that saved cases are appended to.
pub(crate) const SAVED_CASES: &str = "playground.yaml";

// ---------------------------------------------------------------------------
// GET /v1/world

#[derive(Serialize)]
struct WorldAnswer<'a> {
    r#type: &'static str,
    version: &'static str,
    rule_set: &'a str,
    world_version: &'a str,
    /// Whether the service was started with a world file.
    has_world: bool,
    accounts: Vec<AccountEntry<'a>>,
    locations: Vec<LocationEntry<'a>>,
    staff: Vec<StaffEntry<'a>>,
    /// The kinds of location message a client answers (`KIND@LOCATION`).
    kinds: Vec<&'static str>,
    clients: usize,
    /// Whether `POST /v1/case` may write (`--allow-edit` and a scenarios directory).
    can_save_cases: bool,
}

#[derive(Serialize)]
struct AccountEntry<'a> {
    id: &'a str,
    name: &'a str,
    parent: Option<&'a str>,
}

#[derive(Serialize)]
struct LocationEntry<'a> {
    id: &'a str,
    name: &'a str,
    account: &'a str,
}

/// A staff member as a world file writes them: `facts.staff` takes this back.
#[derive(Serialize)]
struct StaffEntry<'a> {
    id: &'a str,
    name: &'a str,
    locations: Vec<String>,
    logged_in_at: Option<&'a str>,
    communicator_access: Vec<String>,
}

async fn world(State(app): State<Arc<App>>) -> Response {
    let snap = app.live.current();
    let w = &snap.world;
    let answer = WorldAnswer {
        r#type: "world",
        version: env!("CARGO_PKG_VERSION"),
        rule_set: &snap.rule_set,
        world_version: &snap.world_version,
        has_world: app.sources.world.is_some(),
        accounts: w
            .accounts
            .iter()
            .map(|a| AccountEntry {
                id: &a.id,
                name: &a.name,
                parent: a.parent.map(|p| w.accounts[p as usize].id.as_str()),
            })
            .collect(),
        locations: w
            .locations
            .iter()
            .map(|l| LocationEntry {
                id: &l.id,
                name: &l.name,
                account: &w.accounts[l.account as usize].id,
            })
            .collect(),
        staff: w
            .staff
            .iter()
            .map(|s| StaffEntry {
                id: &s.id,
                name: &s.name,
                locations: w.loc_ids(&s.locations),
                logged_in_at: s.logged_in_at.map(|l| w.loc_id(l)),
                communicator_access: w.loc_ids(&s.access),
            })
            .collect(),
        kinds: crate::rules::facts::ANSWERING_VALUES
            .iter()
            .copied()
            .filter(|k| *k != "nothing")
            .collect(),
        clients: w.clients.len(),
        can_save_cases: app.allow_edit && app.scenarios.is_some() && app.sources.world.is_some(),
    };
    json_response(to_json(&answer))
}

// ---------------------------------------------------------------------------
// GET /v1/clients

/// How many clients `/v1/clients` answers without `limit`, and at most.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    limit: Option<String>,
}

#[derive(Serialize)]
struct ClientsAnswer<'a> {
    r#type: &'static str,
    version: &'static str,
    query: &'a str,
    /// How many clients match in all (`clients` holds at most `limit`).
    total: usize,
    clients: Vec<ClientHit<'a>>,
}

/// One client, with the facts the outbound question reads.
#[derive(Serialize)]
struct ClientHit<'a> {
    id: &'a str,
    name: &'a str,
    account: &'a str,
    locations: Vec<String>,
    last_appointment_at: Option<&'a str>,
    guest_app: bool,
    phone: Option<&'a str>,
    phone_valid: bool,
    sms_opt_in: bool,
    email: Option<&'a str>,
    email_valid: bool,
    email_opt_in: bool,
}

fn client_hit(w: &World, c: ClientIdx) -> ClientHit<'_> {
    let client = &w.clients[c as usize];
    let contact = w.contact(c);
    ClientHit {
        id: &client.id,
        name: &client.name,
        account: &w.accounts[client.account as usize].id,
        locations: w.loc_ids(&client.locations),
        last_appointment_at: client.last_appointment.map(|l| w.loc_id(l)),
        guest_app: client.guest_app,
        phone: client.phone.as_deref(),
        phone_valid: contact.phone_valid(),
        sms_opt_in: client.sms_opt_in,
        email: client.email.as_deref(),
        email_valid: contact.email_valid,
        email_opt_in: client.email_opt_in,
    }
}

/// A query, folded once: `hay` contains it, ignoring case.
struct Needle {
    lower: String,
    ascii: bool,
}

impl Needle {
    fn new(q: &str) -> Needle {
        Needle {
            lower: q.to_lowercase(),
            ascii: q.is_ascii(),
        }
    }

    fn is_empty(&self) -> bool {
        self.lower.is_empty()
    }

    /// Whether `hay` contains the query, ignoring case. An ASCII query is
    /// compared byte by byte without allocating (a non-ASCII byte of `hay`
    /// never equals an ASCII one); any other folds `hay` first.
    fn in_(&self, hay: &str) -> bool {
        if self.ascii {
            let n = self.lower.as_bytes();
            hay.len() >= n.len() && hay.as_bytes().windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
        } else {
            hay.to_lowercase().contains(&self.lower)
        }
    }

    fn starts(&self, hay: &str) -> bool {
        if self.ascii {
            let n = self.lower.as_bytes();
            hay.len() >= n.len() && hay.as_bytes()[..n.len()].eq_ignore_ascii_case(n)
        } else {
            hay.to_lowercase().starts_with(&self.lower)
        }
    }

    fn is(&self, hay: &str) -> bool {
        if self.ascii {
            hay.eq_ignore_ascii_case(&self.lower)
        } else {
            hay.to_lowercase() == self.lower
        }
    }
}

/// The clients matching `q` (id, name, or a location's id or name,
/// ignoring case), the first `limit` in order: the exact id, then ids or
/// names starting with `q`, then the others, each by name then id. The
/// total number of matches too.
pub(crate) fn search(w: &World, q: &str, limit: usize) -> (usize, Vec<ClientIdx>) {
    let needle = Needle::new(q.trim());
    let locs: LocSet = LocSet::from_unsorted(
        w.locations
            .iter()
            .enumerate()
            .filter(|(_, l)| !needle.is_empty() && (needle.is(&l.id) || needle.in_(&l.name)))
            .map(|(i, _)| i as crate::world::locset::Loc),
    );
    let mut found: Vec<(u8, ClientIdx)> = Vec::new();
    for (i, c) in w.clients.iter().enumerate() {
        let tier = if needle.is_empty() {
            2
        } else if needle.is(&c.id) {
            0
        } else if needle.starts(&c.id) || needle.starts(&c.name) {
            1
        } else if needle.in_(&c.id) || needle.in_(&c.name) || c.locations.intersects(&locs) {
            2
        } else {
            continue;
        };
        found.push((tier, i as ClientIdx));
    }
    let total = found.len();
    let order = |a: &(u8, ClientIdx), b: &(u8, ClientIdx)| {
        let (ca, cb) = (&w.clients[a.1 as usize], &w.clients[b.1 as usize]);
        a.0.cmp(&b.0)
            .then_with(|| ca.name.cmp(&cb.name))
            .then_with(|| ca.id.cmp(&cb.id))
    };
    if limit == 0 {
        return (total, Vec::new());
    }
    if found.len() > limit {
        found.select_nth_unstable_by(limit - 1, order);
        found.truncate(limit);
    }
    found.sort_unstable_by(order);
    (total, found.into_iter().map(|(_, c)| c).collect())
}

async fn clients(
    State(app): State<Arc<App>>,
    query: Result<Query<ClientsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query
        .map_err(|e| ApiError::new(ErrorKind::BadRequest, e.body_text()).valid("?q=TEXT&limit=N (both optional)"))?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::new(
                    ErrorKind::BadRequest,
                    format!(
                        "`limit={}` is not a number from 1 to {MAX_LIMIT}",
                        crate::text::shown(s)
                    ),
                )
                .field("?limit")
                .valid(format!("limit=1 to limit={MAX_LIMIT} (default {DEFAULT_LIMIT})")))
            }
        },
    };
    let snap = app.live.current();
    let w = &snap.world;
    let (total, found) = search(w, &query.q, limit);
    let answer = ClientsAnswer {
        r#type: "clients",
        version: env!("CARGO_PKG_VERSION"),
        query: &query.q,
        total,
        clients: found.into_iter().map(|c| client_hit(w, c)).collect(),
    };
    Ok(json_response(to_json(&answer)))
}

// ---------------------------------------------------------------------------
// POST /v1/case

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseBody {
    /// The case's name; by default, after the event (as `--save-case`).
    #[serde(default)]
    name: Option<String>,
    /// Append it to the scenarios directory's `playground.yaml` (`--allow-edit` only).
    #[serde(default)]
    save: bool,
    #[serde(default)]
    inbound: Option<InboundBody>,
    #[serde(default)]
    outbound: Option<OutboundBody>,
}

const CASE_SHAPE: &str = r#"an object: {"inbound": BODY OF POST /v1/inbound} or {"outbound": BODY OF POST /v1/outbound}, with an optional "name" and "save": true (with --allow-edit)"#;

#[derive(Serialize)]
struct CaseAnswer<'a> {
    r#type: &'static str,
    version: &'static str,
    name: &'a str,
    /// The case, as `--save-case` appends it under `cases:`.
    yaml: String,
    /// A whole scenario file holding only this case.
    scenario: String,
    /// Where it was saved (with `"save": true`), else `null`.
    saved: Option<Saved>,
    rule_set: &'a str,
    world_version: &'a str,
}

#[derive(Serialize)]
struct Saved {
    file: String,
    line: usize,
}

/// A staff section for a case: what differs from the loaded world as
/// `logout`, `login` and `access` changes. Anything else (staff added,
/// removed, or working elsewhere) a scenario case cannot say.
struct StaffChanges {
    login: Vec<StaffLogin>,
    logout: Vec<String>,
    access: Vec<(String, Vec<String>)>,
}

fn staff_changes(w: &World, staff: &[NewStaff]) -> Result<StaffChanges, ApiError> {
    let cannot = |path: String, message: String| {
        ApiError::new(ErrorKind::InvalidField, message)
            .field(path)
            .valid("a saved case changes only logins and communicator access of the world's staff: send every staff member of the world, with their own locations")
    };
    let mut changes = StaffChanges {
        login: vec![],
        logout: vec![],
        access: vec![],
    };
    let set_of = |ids: &[String], path: &str| -> Result<LocSet, ApiError> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| {
                w.location(id).ok_or_else(|| {
                    ApiError::new(
                        ErrorKind::InvalidField,
                        format!("unknown location `{}`", crate::text::shown(id)),
                    )
                    .field(format!("{path}[{i}]"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(LocSet::from_unsorted)
    };
    for (i, s) in staff.iter().enumerate() {
        let path = format!("inbound.facts.staff[{i}]");
        let Some(ix) = w.staff_member(&s.id) else {
            return Err(cannot(
                format!("{path}.id"),
                format!("`{}` is not a staff member of the world", crate::text::shown(&s.id)),
            ));
        };
        let loaded = &w.staff[ix as usize];
        let locations = set_of(&s.locations, &format!("{path}.locations"))?;
        if locations != loaded.locations {
            return Err(cannot(
                format!("{path}.locations"),
                format!("`{}` works at other locations in the world", crate::text::shown(&s.id)),
            ));
        }
        let at = match &s.logged_in_at {
            None => None,
            Some(l) => Some(set_of(std::slice::from_ref(l), &format!("{path}.logged_in_at"))?),
        };
        let loaded_at = loaded.logged_in_at.map(LocSet::one);
        if at != loaded_at {
            match &s.logged_in_at {
                None => changes.logout.push(s.id.clone()),
                Some(l) => changes.login.push(StaffLogin {
                    staff: s.id.clone(),
                    location: l.clone(),
                }),
            }
        }
        let access = match &s.access {
            None => locations,
            Some(ids) => set_of(ids, &format!("{path}.communicator_access"))?,
        };
        if access != loaded.access {
            changes.access.push((s.id.clone(), w.loc_ids(&access)));
        }
    }
    if let Some(missing) = w.staff.iter().find(|m| !staff.iter().any(|s| s.id == m.id)) {
        return Err(cannot(
            "inbound.facts.staff".into(),
            format!("`{}` of the world is missing", crate::text::shown(&missing.id)),
        ));
    }
    Ok(changes)
}

async fn case(State(app): State<Arc<App>>, body: Bytes) -> Result<Response, ApiError> {
    let req: CaseBody = read_body(&body, CASE_SHAPE)?;
    let snap = app.live.current();
    let case = match (req.inbound, req.outbound) {
        (Some(b), None) => inbound_case(&app, &snap, req.name, b)?,
        (None, Some(b)) => outbound_case(&app, &snap, req.name, b)?,
        _ => {
            return Err(
                ApiError::new(ErrorKind::BadRequest, "a case is one inbound or one outbound event").valid(CASE_SHAPE),
            )
        }
    };
    let Some(world_file) = &app.sources.world else {
        return Err(ApiError::new(
            ErrorKind::InvalidField,
            "this service has no world file: a scenario case names the world it runs in",
        )
        .valid("start the service with --world FILE"));
    };
    let dir = app.scenarios.clone().unwrap_or_else(|| PathBuf::from("."));
    let yaml = case.yaml();
    let scenario = format!("{}{yaml}", fixture::new_file(&dir, world_file));
    let saved = if req.save {
        Some(save(&app, &dir, world_file, &case)?)
    } else {
        None
    };
    Ok(json_response(to_json(&CaseAnswer {
        r#type: "case",
        version: env!("CARGO_PKG_VERSION"),
        name: &case.name,
        yaml,
        scenario,
        saved,
        rule_set: &snap.rule_set,
        world_version: &snap.world_version,
    })))
}

/// Appends `case` to the scenarios directory's [`SAVED_CASES`], with `--allow-edit` only.
fn save(app: &App, dir: &Path, world_file: &Path, case: &SavedCase) -> Result<Saved, ApiError> {
    if !app.allow_edit || app.scenarios.is_none() {
        return Err(ApiError::new(
            ErrorKind::InvalidField,
            "this service may not write scenario files",
        )
        .field("save")
        .valid("start the service with --allow-edit and a scenarios directory (--scenarios DIR), or copy the case's YAML"));
    }
    let path = dir.join(SAVED_CASES);
    // One save at a time: each reads the file, appends and writes it whole.
    static SAVING: Mutex<()> = Mutex::new(());
    let _one = SAVING.lock().unwrap_or_else(|e| e.into_inner());
    let line = fixture::save_case(&path, world_file, case).map_err(|d| {
        let first =
            d.0.first()
                .map_or_else(|| "cannot save the case".to_owned(), |d| d.message.clone());
        ApiError::new(ErrorKind::InvalidField, first)
            .field("name")
            .valid("a name no case of the file has yet")
    })?;
    Ok(Saved {
        file: path.display().to_string(),
        line,
    })
}

fn inbound_case(app: &App, snap: &Snapshot, name: Option<String>, b: InboundBody) -> Result<SavedCase, ApiError> {
    let facts = b.facts.unwrap_or_default();
    if facts.accounts.is_some() || facts.locations.is_some() || facts.clients.is_some() {
        return Err(ApiError::new(
            ErrorKind::InvalidField,
            "a saved case runs in the world file: only `facts.staff` (logins and access) can be saved with it",
        )
        .field("inbound.facts")
        .valid("leave out `accounts`, `locations` and `clients`"));
    }
    let changes = match &facts.staff {
        Some(staff) => staff_changes(&snap.world, staff)?,
        None => StaffChanges {
            login: vec![],
            logout: vec![],
            access: vec![],
        },
    };
    let facts = (!facts.is_empty()).then_some(facts);
    let (world, _) = decision_world(snap, facts.as_ref(), &b.client).map_err(prefixed("inbound"))?;
    let request = InboundRequest {
        client: b.client,
        answering: b.answering,
        staff: b.staff,
        from: b.from,
    };
    let ev = request
        .resolve(&world)
        .map_err(|e| prefixed("inbound")(event_error(app, e)))?;
    let d = snap
        .rules
        .route_inbound(&world, &ev)
        .map_err(|e| ApiError::new(ErrorKind::Undecided, e.to_string()))?;
    let report = d.report(&snap.rules, &world);
    Ok(SavedCase::inbound(name, changes.login, changes.logout, &request, &report).with_access(changes.access))
}

fn outbound_case(app: &App, snap: &Snapshot, name: Option<String>, b: OutboundBody) -> Result<SavedCase, ApiError> {
    if b.facts.is_some() {
        return Err(ApiError::new(
            ErrorKind::InvalidField,
            "a saved outbound case runs in the world file as it is",
        )
        .field("outbound.facts")
        .valid("leave out `facts`"));
    }
    let world: Cow<'_, World> = Cow::Borrowed(&snap.world);
    let request = OutboundRequest {
        client: b.client,
        from_account: b.from_account,
        text: b.text,
    };
    let ev = request
        .resolve(&world)
        .map_err(|e| prefixed("outbound")(event_error(app, e)))?;
    let d = snap
        .rules
        .route_outbound(&world, &ev)
        .map_err(|e| ApiError::new(ErrorKind::Undecided, e.to_string()))?;
    let report = d.report(&snap.rules);
    Ok(SavedCase::outbound(name, &request, &report))
}

/// An error about a field of the event, its path under `inbound` or `outbound`.
fn prefixed(event: &'static str) -> impl Fn(ApiError) -> ApiError {
    move |mut e| {
        e.field = Some(match e.field.take() {
            Some(f) => format!("{event}.{f}"),
            None => event.to_owned(),
        });
        e
    }
}

// ---------------------------------------------------------------------------
// GET /v1/analyze

#[derive(Serialize)]
struct AnalyzeAnswer<'a> {
    r#type: &'static str,
    version: &'static str,
    rule_set: &'a str,
    classes: Vec<ClassRow<'a>>,
    shadowed: &'a [Shadowed],
    gaps: &'a [Gap],
    redundant: &'a [Shadowed],
    summary: Summary,
}

/// A row of the matrix, numbered as `analyze` numbers it, with who receives
/// it live in the words of `analyze --format csv`.
#[derive(Serialize)]
struct ClassRow<'a> {
    n: usize,
    #[serde(flatten)]
    row: &'a Row,
    received_live_by: Vec<String>,
}

#[derive(Serialize)]
struct Summary {
    classes: usize,
    shadowed: usize,
    gaps: usize,
}

async fn analyze(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let snap = app.live.current();
    let cached = {
        let last = app.analyzed.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref()
            .filter(|(set, _)| *set == snap.rule_set)
            .map(|(_, body)| body.clone())
    };
    if let Some(body) = cached {
        return Ok(json_response(body.as_ref().clone()));
    }
    let worked = snap.clone();
    let body = tokio::task::spawn_blocking(move || analysis_json(&worked))
        .await
        .map_err(|_| ApiError::new(ErrorKind::Internal, "the analysis failed"))?;
    let body = Arc::new(body);
    *app.analyzed.lock().unwrap_or_else(|e| e.into_inner()) = Some((snap.rule_set.clone(), body.clone()));
    Ok(json_response(body.as_ref().clone()))
}

fn analysis_json(snap: &Snapshot) -> Vec<u8> {
    let classes = Classes::for_rules(&[&snap.rules]);
    let a = analysis::analyze(&snap.rules, &classes);
    to_json(&AnalyzeAnswer {
        r#type: "analysis",
        version: env!("CARGO_PKG_VERSION"),
        rule_set: &snap.rule_set,
        classes: a
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| ClassRow {
                n: i + 1,
                row,
                received_live_by: row.received_live_by(),
            })
            .collect(),
        shadowed: &a.shadowed,
        gaps: &a.gaps,
        redundant: &a.redundant,
        summary: Summary {
            classes: a.rows.len(),
            shadowed: a.shadowed.len(),
            gaps: a.gaps.len(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::NewClient;

    fn world(names: &[(&str, &str, &[&str])]) -> World {
        let mut b = World::builder();
        b.account(crate::world::NewAccount::new("acme", "Acme"))
            .location(crate::world::NewLocation::new("A", "Downtown", "acme"))
            .location(crate::world::NewLocation::new("B", "Midtown", "acme"));
        for (id, name, locs) in names {
            b.client(NewClient::new(*id, *name, "acme", locs.iter().copied()));
        }
        b.build().expect("a world")
    }

    fn ids(w: &World, found: &[ClientIdx]) -> Vec<String> {
        found.iter().map(|c| w.clients[*c as usize].id.to_string()).collect()
    }

    #[test]
    fn the_exact_id_comes_first_then_prefixes_then_the_rest_each_by_name() {
        let w = world(&[
            ("ana", "Zed Ana", &["A"]),
            ("x1", "Anabel Quin", &["A"]),
            ("x2", "Diana Ross", &["B"]),
            ("x3", "Ana Bell", &["B"]),
            ("x4", "Bob", &["B"]),
        ]);
        let (total, found) = search(&w, "ANA", 10);
        assert_eq!(total, 4);
        assert_eq!(ids(&w, &found), ["ana", "x3", "x1", "x2"]);
        // Bounded: the first of the same order.
        let (total, found) = search(&w, "ana", 2);
        assert_eq!((total, ids(&w, &found)), (4, vec!["ana".to_owned(), "x3".to_owned()]));
    }

    #[test]
    fn a_location_by_id_or_name_finds_its_clients() {
        let w = world(&[
            ("c1", "One", &["A"]),
            ("c2", "Two", &["B"]),
            ("c3", "Three", &["A", "B"]),
        ]);
        assert_eq!(ids(&w, &search(&w, "midtown", 10).1), ["c3", "c2"]);
        assert_eq!(ids(&w, &search(&w, "b", 10).1), ["c3", "c2"]);
        // An empty query lists every client by name.
        assert_eq!(search(&w, "", 10).0, 3);
        assert_eq!(ids(&w, &search(&w, "  ", 10).1), ["c1", "c3", "c2"]);
    }

    #[test]
    fn non_ascii_queries_ignore_case_too() {
        let w = world(&[("c1", "Élodie Ärger", &["A"]), ("c2", "Bob", &["A"])]);
        assert_eq!(ids(&w, &search(&w, "éLO", 10).1), ["c1"]);
        assert_eq!(ids(&w, &search(&w, "ärg", 10).1), ["c1"]);
    }

    /// This file's routes are in `openapi.json` (its own test reads only
    /// `serve/mod.rs`), and their answers fit the schemas it gives.
    #[test]
    fn every_route_here_is_documented_and_answers_fit_the_document() {
        use axum::http::{Method, Request};
        use tower::ServiceExt;
        let doc: serde_json::Value = serde_json::from_str(crate::serve::openapi::DOCUMENT).unwrap();
        let source = include_str!("lookup.rs");
        let mut routes = 0;
        for piece in source.split(".route(\"").skip(1) {
            let (path, rest) = piece.split_once('"').unwrap();
            let method = if rest.trim_start().starts_with(", get(") {
                "get"
            } else {
                "post"
            };
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not in openapi.json"
            );
            routes += 1;
        }
        assert_eq!(routes, 4);
        let sources = crate::serve::Sources {
            rules: None,
            world: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/glow-world.yaml").into()),
        };
        let config = crate::serve::Config {
            sources: sources.clone(),
            ..crate::serve::Config::default()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let call = |method: Method, uri: &str, body: &str| {
            let req = Request::builder()
                .method(method)
                .uri(uri)
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_owned()))
                .unwrap();
            rt.block_on(async {
                let resp = crate::serve::router(&config, Snapshot::load(&sources).unwrap())
                    .oneshot(req)
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                (status, crate::serve::api::json_of(resp).await)
            })
        };
        let fits = |name: &str, v: &serde_json::Value| {
            let mut schema = serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
            schema["components"] = doc["components"].clone();
            let validator = jsonschema::validator_for(&schema).unwrap();
            let errors: Vec<String> = validator.iter_errors(v).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{name}: {errors:?}");
        };
        let (status, world) = call(Method::GET, "/v1/world", "");
        assert_eq!(status, 200);
        fits("World", &world);
        let (status, clients) = call(Method::GET, "/v1/clients?q=c", "");
        assert_eq!(status, 200);
        fits("Clients", &clients);
        let examples = doc["paths"]["/v1/case"]["post"]["requestBody"]["content"]["application/json"]["examples"]
            .as_object()
            .unwrap();
        for (name, example) in examples {
            fits("CaseRequest", &example["value"]);
            let (status, case) = call(Method::POST, "/v1/case", &example["value"].to_string());
            assert_eq!(status, 200, "{name}: {case}");
            fits("Case", &case);
        }
        let (status, analysis) = call(Method::GET, "/v1/analyze", "");
        assert_eq!(status, 200);
        fits("Analysis", &analysis);
        let (status, explained) = call(Method::POST, "/v1/inbound?explain=true", r#"{"client":"cleo"}"#);
        assert_eq!(status, 200);
        fits("InboundDecision", &explained);
        assert!(explained["explanation"].as_array().is_some_and(|e| e.len() == 2));
        let mut wrong = explained.clone();
        wrong["explanation"][0]["lines"][0]["applied"] = "yes".into();
        let mut schema = serde_json::json!({"$ref": "#/components/schemas/InboundDecision"});
        schema["components"] = doc["components"].clone();
        assert!(
            !jsonschema::validator_for(&schema).unwrap().is_valid(&wrong),
            "not vacuous"
        );
    }
}
