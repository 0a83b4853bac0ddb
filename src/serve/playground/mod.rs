//! The playground's API: what the pages (`../pages/`) ask beyond the
//! decision endpoints. `lookup.rs` answers "where does it land" (the world
//! to pick from, type-ahead over clients, a result saved as a scenario
//! case) and serves the decision matrix; `edit.rs` is the rules editor
//! (the files, validation and impact of an edit, saving); `inbox.rs` shows
//! a conversation store and streams its changes (server-sent events).
//! Like `api.rs`, these read requests into the library's types, ask the
//! library and write JSON; nothing here decides anything.

use std::sync::Arc;

use axum::Router;

use super::App;

mod edit;
mod inbox;
mod lookup;

/// Every route of the playground's API.
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .merge(lookup::routes())
        .merge(edit::routes())
        .merge(inbox::routes())
}
