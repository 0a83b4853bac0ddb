//! (to be written)

use std::sync::Arc;

use axum::Router;

use crate::serve::App;

/// This file's routes.
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
}
