//! The playground's pages: plain HTML, CSS and JavaScript modules built
//! into the binary (`assets/`), served by the same process as the API they
//! call. Nothing is loaded from elsewhere at run time, and the content
//! security policy says so to the browser: scripts and styles come from
//! this origin only, so a client's text that reached the page as markup
//! could still not run (the pages never insert text as markup: see
//! `assets/common.js`).
//!
//! The pages need no token (they hold no data); the API calls they make do,
//! and the pages ask for it when the service answers 401.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::error::{ApiError, ErrorKind};
use super::App;

/// One file of `assets/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_str!(concat!("assets/", $name)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Every file the pages use.
static ASSETS: &[Asset] = &[
    asset!("land.html", HTML),
    asset!("rules.html", HTML),
    asset!("matrix.html", HTML),
    asset!("inbox.html", HTML),
    asset!("style.css", CSS),
    asset!("common.js", JS),
    asset!("land.js", JS),
    asset!("rules.js", JS),
    asset!("matrix.js", JS),
    asset!("inbox.js", JS),
    asset!("icon.svg", SVG),
];

/// The pages, by path: `/` is "where does it land".
pub(crate) const PAGES: [(&str, &str); 4] = [
    ("/", "land.html"),
    ("/rules", "rules.html"),
    ("/matrix", "matrix.html"),
    ("/inbox", "inbox.html"),
];

/// Whether `path` is a page or an asset: anyone may fetch these without the
/// token, as they hold no data.
pub(crate) fn is_open(path: &str) -> bool {
    PAGES.iter().any(|(p, _)| *p == path) || path.starts_with("/assets/")
}

/// The routes of the pages and their assets.
pub(crate) fn routes() -> Router<Arc<App>> {
    let mut router = Router::new();
    for (path, file) in PAGES {
        router = router.route(path, get(move || async move { serve(file) }));
    }
    router.route("/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    serve(&name)
}

/// The asset named `name`, with the headers every page answer carries.
fn serve(name: &str) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.name == name) else {
        let names: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        return ApiError::new(ErrorKind::NotFound, format!("no asset `{}`", crate::text::shown(name)))
            .valid(format!("one of /assets/{}", names.join(", /assets/")))
            .into_response();
    };
    let mut resp = (StatusCode::OK, a.body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.content_type));
    // The binary is the version: a new one may change any file.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_an_asset() {
        for (_, file) in PAGES {
            assert!(ASSETS.iter().any(|a| a.name == file), "{file}");
        }
    }

    /// The pages' HTML names only assets that exist, and nothing from
    /// another origin.
    #[test]
    fn pages_load_nothing_from_elsewhere() {
        for a in ASSETS.iter().filter(|a| a.content_type == HTML || a.content_type == JS) {
            for needle in ["http://", "https://", "//cdn", "<script>"] {
                assert!(!a.body.contains(needle), "{} contains {needle}", a.name);
            }
            for (i, _) in a.body.match_indices("/assets/") {
                let rest = &a.body[i + "/assets/".len()..];
                let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'));
                let name = &rest[..end.unwrap_or(rest.len())];
                assert!(ASSETS.iter().any(|x| x.name == name), "{} names /assets/{name}", a.name);
            }
        }
    }
}
