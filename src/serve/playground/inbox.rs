//! The inbox's API: the conversation store of `--db` (the one
//! `commroute simulate --db FILE` writes), read the way `commroute
//! conversations` and `commroute conversation` read it, and a stream of
//! server-sent events saying when it changed.
//!
//! * `GET /v1/inbox/locations`: the locations the store's conversations
//!   concern, with their conversation and unread counts.
//! * `GET /v1/inbox/conversations?location=ID&view=store|all`: a
//!   location's conversations, most recent activity first: the store's
//!   screen (at most [`IN_STORE`]) or the full list.
//! * `GET /v1/inbox/conversation?client=ID`: a client's whole
//!   conversation, every message with its channel, attempts, status,
//!   notices and audio cues.
//! * `GET /v1/inbox/events`: `text/event-stream`; an `open` event at once,
//!   then a `change` event each time a replay (in any process) commits.
//!
//! The store is opened read-only for each request, on a blocking thread:
//! SQLite never runs on the async workers. The event stream checks
//! SQLite's `PRAGMA data_version` every [`POLL`] on a blocking thread (a
//! number that moves when another connection commits; it reads no table),
//! so an idle store costs a few microseconds five times a second, and it
//! ends when the service begins to shut down.
//!
//! A store not written yet (no file, or a file a replay is only creating)
//! is an empty inbox, not an error: the page waits for the replay. The
//! answers never name the store's file: a failure to read it is logged.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use crate::replay::store::{list_summary, unknown_client_hint, unknown_location_hint, Store, StoreError, IN_STORE};
use crate::serve::api::json_response;
use crate::serve::error::{ApiError, ErrorKind};
use crate::serve::App;

/// How often the event stream looks at the store.
pub(crate) const POLL: Duration = Duration::from_millis(200);

/// How often an idle event stream sends a comment, so that proxies and
/// the page know it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// This file's routes.
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/inbox/locations", get(locations))
        .route("/v1/inbox/conversations", get(conversations))
        .route("/v1/inbox/conversation", get(conversation))
        .route("/v1/inbox/events", get(events))
}

/// The store's path, or the error saying the service has none.
fn db(app: &App) -> Result<PathBuf, ApiError> {
    app.db.clone().ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            "the inbox shows a conversation store, and this service was started without one",
        )
        .valid("start the service with `--db FILE`: the store `commroute simulate --db FILE` writes")
    })
}

/// The store, when a replay has written one.
enum Opened {
    /// No file yet, or a file a replay is still creating: no conversations.
    NotYet,
    Ready(Store),
}

impl Opened {
    fn state(&self) -> &'static str {
        match self {
            Opened::NotYet => "empty",
            Opened::Ready(_) => "ready",
        }
    }
}

fn open(path: &Path) -> Result<Opened, ApiError> {
    if !path.exists() {
        return Ok(Opened::NotYet);
    }
    match Store::open_read_only(path) {
        Ok(s) => Ok(Opened::Ready(s)),
        Err(StoreError::Empty { .. }) => Ok(Opened::NotYet),
        Err(e) => Err(unreadable(e)),
    }
}

/// A store that cannot be read: logged with its path, answered without.
fn unreadable(e: StoreError) -> ApiError {
    tracing::warn!(error = %e, "the inbox cannot read the conversation store");
    ApiError::new(
        ErrorKind::Unavailable,
        "the conversation store cannot be read; the service's log says why",
    )
    .valid("the same request once the store can be read")
}

/// Runs `f` on a blocking thread: every SQLite call goes through here.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "an inbox read failed");
        Err(ApiError::new(
            ErrorKind::Internal,
            "the service failed on this request; the failure is logged",
        ))
    })
}

/// The query's parameters, each at most once, none but `allowed`.
fn params(query: Vec<(String, String)>, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let valid = || {
        allowed
            .iter()
            .map(|a| format!("{a}=…"))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let mut seen: Vec<(String, String)> = Vec::new();
    for (k, v) in query {
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::new(
                ErrorKind::BadRequest,
                format!("unknown query parameter `{}`", crate::text::shown(&k)),
            )
            .field(format!("?{}", crate::text::shown(&k)))
            .valid(if allowed.is_empty() {
                "no query".to_owned()
            } else {
                valid()
            }));
        }
        if seen.iter().any(|(s, _)| *s == k) {
            return Err(
                ApiError::new(ErrorKind::BadRequest, format!("`{k}` is given more than once"))
                    .field(format!("?{k}"))
                    .valid(valid()),
            );
        }
        seen.push((k, v));
    }
    Ok(seen)
}

fn required(p: &[(String, String)], key: &str, valid: &str) -> Result<String, ApiError> {
    match p.iter().find(|(k, _)| k == key) {
        Some((_, v)) if !v.is_empty() => Ok(v.clone()),
        _ => Err(ApiError::new(ErrorKind::BadRequest, format!("`{key}` is missing"))
            .field(format!("?{key}"))
            .valid(valid)),
    }
}

fn to_json(value: &impl Serialize) -> Response {
    let mut v = serde_json::to_vec(value).expect("answers serialise");
    v.push(b'\n');
    json_response(v)
}

/// One location of `GET /v1/inbox/locations`.
#[derive(Serialize)]
struct LocationOut {
    id: String,
    /// Its name in the service's world, when the world has it.
    name: Option<String>,
    conversations: i64,
    unread: i64,
}

/// `GET /v1/inbox/locations`.
async fn locations(State(app): State<Arc<App>>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let result = async {
        params(q, &[])?;
        let path = db(&app)?;
        let (state, counts) = blocking(move || {
            let opened = open(&path)?;
            let counts = match &opened {
                Opened::NotYet => Vec::new(),
                Opened::Ready(s) => s.location_counts().map_err(|e| unreadable(e.while_reading(&path)))?,
            };
            Ok((opened.state(), counts))
        })
        .await?;
        let snap = app.live.current();
        let name = |id: &str| snap.world.locations.iter().find(|l| l.id == id).map(|l| l.name.clone());
        let locations: Vec<LocationOut> = counts
            .into_iter()
            .map(|c| LocationOut {
                name: name(&c.id),
                id: c.id,
                conversations: c.conversations,
                unread: c.unread,
            })
            .collect();
        Ok::<_, ApiError>(to_json(&serde_json::json!({
            "type": "inbox_locations",
            "version": env!("CARGO_PKG_VERSION"),
            "store": state,
            "in_store_limit": IN_STORE,
            "locations": locations,
        })))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /v1/inbox/conversations?location=ID&view=store|all`.
async fn conversations(State(app): State<Arc<App>>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let result = async {
        let p = params(q, &["location", "view"])?;
        let path = db(&app)?;
        let location = required(&p, "location", "a location id, as GET /v1/inbox/locations lists them")?;
        let in_store = match p.iter().find(|(k, _)| k == "view").map(|(_, v)| v.as_str()) {
            None | Some("all") => false,
            Some("store") => true,
            Some(other) => {
                return Err(ApiError::new(
                    ErrorKind::BadRequest,
                    format!("`view={}` is not a view", crate::text::shown(other)),
                )
                .field("?view")
                .valid(format!(
                    "view=store (what the store's screen shows: the {IN_STORE} most recent) or view=all (every conversation)"
                )))
            }
        };
        let loc = location.clone();
        let (all, known) = blocking(move || {
            let Opened::Ready(store) = open(&path)? else {
                return Ok((Vec::new(), Vec::new()));
            };
            let all = store
                .conversations_at(&loc, None)
                .map_err(|e| unreadable(e.while_reading(&path)))?;
            let known = if all.is_empty() {
                store.locations().map_err(|e| unreadable(e.while_reading(&path)))?
            } else {
                Vec::new()
            };
            Ok((all, known))
        })
        .await?;
        if all.is_empty() {
            // The same words as `commroute conversations`, without the file.
            return Err(ApiError::new(
                ErrorKind::NotFound,
                format!(
                    "no conversation in the store concerns location `{location}`{}",
                    unknown_location_hint(&location, &known)
                ),
            )
            .field("?location")
            .valid(if known.is_empty() {
                "a location, once a replay has written conversations to the store".to_owned()
            } else {
                format!(
                    "one of {}",
                    crate::diag::one_of(&known.iter().take(12).collect::<Vec<_>>())
                )
            }));
        }
        let total = all.len();
        let shown = if in_store { total.min(IN_STORE) } else { total };
        Ok(to_json(&serde_json::json!({
            "type": "inbox_conversations",
            "version": env!("CARGO_PKG_VERSION"),
            "location": location,
            "view": if in_store { "store" } else { "all" },
            "in_store_limit": IN_STORE,
            "shown": shown,
            "total": total,
            "summary": list_summary(shown, total, &location, in_store),
            "conversations": &all[..shown],
        })))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /v1/inbox/conversation?client=ID`.
async fn conversation(State(app): State<Arc<App>>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let result = async {
        let p = params(q, &["client"])?;
        let path = db(&app)?;
        let client = required(
            &p,
            "client",
            "a client id, as a location's conversation list names them",
        )?;
        let id = client.clone();
        let (found, known) = blocking(move || {
            let Opened::Ready(store) = open(&path)? else {
                return Ok((None, Vec::new()));
            };
            let found = store
                .conversation(&id)
                .map_err(|e| unreadable(e.while_reading(&path)))?;
            let known = if found.is_none() {
                store.clients().map_err(|e| unreadable(e.while_reading(&path)))?
            } else {
                Vec::new()
            };
            Ok((found, known))
        })
        .await?;
        let Some(c) = found else {
            return Err(ApiError::new(
                ErrorKind::NotFound,
                format!(
                    "client `{client}` has no conversation in the store{}",
                    unknown_client_hint(&client, &known)
                ),
            )
            .field("?client")
            .valid("a client that a location's conversation list names"));
        };
        let started = c.started_words(str::to_owned);
        let mut v = serde_json::to_value(&c).expect("a conversation serialises");
        // Each notice says who heard its audio cue, in the CLI's words.
        for (m, view) in c.messages.iter().enumerate() {
            for (n, notice) in view.notices.iter().enumerate() {
                v["messages"][m]["notices"][n]["cue"] = notice.cue_words(str::to_owned).into();
            }
        }
        let mut out = serde_json::json!({
            "type": "inbox_conversation",
            "version": env!("CARGO_PKG_VERSION"),
            "started": started,
        });
        if let (Some(o), serde_json::Value::Object(fields)) = (out.as_object_mut(), v) {
            o.extend(fields);
        }
        Ok(to_json(&out))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// What an event stream knows of the store between two looks.
struct Watch {
    path: PathBuf,
    store: Option<Store>,
    /// The file the open connection reads (a store deleted and written
    /// anew is another file).
    file: Option<FileId>,
    version: Option<i64>,
    /// Changes seen so far.
    changes: u64,
}

#[cfg(unix)]
type FileId = (u64, u64);
#[cfg(not(unix))]
type FileId = ();

fn file_id(path: &Path) -> Option<FileId> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Some(())
    }
}

impl Watch {
    /// One look at the store (blocking): whether it changed since the last.
    fn look(&mut self) -> bool {
        let file = file_id(&self.path);
        if file != self.file {
            self.file = file;
            self.store = None;
        }
        let mut reopened = false;
        if self.store.is_none() && self.file.is_some() {
            // A file a replay is still creating is `Empty`: looked at again next time.
            self.store = Store::open_read_only(&self.path).ok();
            reopened = self.store.is_some();
        }
        let version = match &self.store {
            Some(s) => match s.data_version() {
                Ok(v) => Some(v),
                // Busy for a moment: looked at again next time.
                Err(_) => return false,
            },
            None => None,
        };
        let was = std::mem::replace(&mut self.version, version);
        // A version read on another connection says nothing: a store that
        // appears, disappears or is replaced is a change too.
        match (was, version) {
            (None, None) => false,
            (Some(a), Some(b)) => reopened || a != b,
            _ => true,
        }
    }

    /// The data of an event: how many changes this stream saw, and whether
    /// the store holds anything yet.
    fn event(&self, name: &'static str) -> Event {
        let state = if self.store.is_some() { "ready" } else { "empty" };
        Event::default()
            .event(name)
            .data(format!("{{\"changes\":{},\"store\":\"{state}\"}}", self.changes))
    }
}

/// `GET /v1/inbox/events`: `open` at once, then `change` after each commit
/// to the store, until the client goes or the service shuts down.
async fn events(State(app): State<Arc<App>>, Query(q): Query<Vec<(String, String)>>) -> Response {
    if let Err(e) = params(q, &[]) {
        return e.into_response();
    }
    let path = match db(&app) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut stop = app.stopping.subscribe();
    let first = blocking(move || {
        let mut w = Watch {
            path,
            store: None,
            file: None,
            version: None,
            changes: 0,
        };
        w.look();
        Ok(w)
    })
    .await;
    let w = match first {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let opening = w.event("open");
    let stopped = stop.clone();
    let changes = futures_util::stream::unfold(Some(w), move |w| {
        let mut stop = stopped.clone();
        async move {
            let mut w = w?;
            loop {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return None,
                    () = tokio::time::sleep(POLL) => {}
                }
                let looked = tokio::task::spawn_blocking(move || {
                    let changed = w.look();
                    (w, changed)
                })
                .await;
                let (next, changed) = looked.ok()?;
                w = next;
                if changed {
                    w.changes += 1;
                    let event = w.event("change");
                    return Some((Ok::<_, Infallible>(event), Some(w)));
                }
            }
        }
    });
    // The stream's first event is `open`, sent before any look.
    let stream = futures_util::StreamExt::chain(futures_util::stream::iter([Ok(opening)]), changes);
    // Ends the stream on shutdown even while it waits to send.
    let stream = futures_util::StreamExt::take_until(stream, async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_sees_a_store_appear_and_each_commit_to_it_from_another_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut w = Watch {
            path: path.clone(),
            store: None,
            file: None,
            version: None,
            changes: 0,
        };
        assert!(!w.look(), "no store, no change");
        let writer = Store::open(&path).unwrap();
        assert!(w.look(), "the store appeared");
        assert!(!w.look(), "nothing committed since");
        writer
            .conn
            .execute_batch("INSERT INTO meta (key, value) VALUES ('x', 'y')")
            .unwrap();
        assert!(w.look(), "a commit of another connection");
        assert!(!w.look());
        drop(writer);
        std::fs::remove_file(&path).unwrap();
        let _ = std::fs::remove_file(dir.path().join("t.db-wal"));
        let _ = std::fs::remove_file(dir.path().join("t.db-shm"));
        assert!(w.look(), "the store went");
        assert!(!w.look());
    }

    /// The router test of `openapi.rs` reads `mod.rs`; these routes are here.
    #[test]
    fn every_inbox_route_is_in_the_openapi_document() {
        let doc: serde_json::Value = serde_json::from_str(crate::serve::openapi::DOCUMENT).unwrap();
        let source = include_str!("inbox.rs");
        let mut n = 0;
        for piece in source.split(".route(\"").skip(1) {
            let (path, _) = piece.split_once('"').unwrap();
            assert!(
                doc["paths"][path]["get"].is_object(),
                "GET {path} is not in openapi.json"
            );
            n += 1;
        }
        assert_eq!(n, 4);
    }

    #[test]
    fn query_parameters_are_known_and_given_once() {
        let q = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        let e = params(q(&[("locaton", "A")]), &["location", "view"]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("?locaton"));
        assert_eq!(e.valid.as_deref(), Some("location=… and view=…"));
        let e = params(q(&[("view", "all"), ("view", "store")]), &["location", "view"]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("?view"));
        assert!(params(q(&[("location", "A")]), &["location", "view"]).is_ok());
    }
}
