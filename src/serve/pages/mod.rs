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

use std::sync::{Arc, LazyLock};

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

/// Every file the pages load by URL, under `/assets/`.
static ASSETS: &[Asset] = &[
    asset!("style.css", CSS),
    asset!("common.js", JS),
    asset!("land.js", JS),
    asset!("rules.js", JS),
    asset!("matrix.js", JS),
    asset!("inbox.js", JS),
    asset!("icon.svg", SVG),
];

/// One page: its path, its title (also its link in the navigation), its
/// script, and what its `<main>` holds (`assets/NAME.html`), put in
/// `assets/layout.html` with the navigation the pages share.
struct Page {
    path: &'static str,
    title: &'static str,
    script: &'static str,
    main: &'static str,
}

/// The pages, in the navigation's order: `/` is "where does it land".
static PAGES: [Page; 4] = [
    Page {
        path: "/",
        title: "Where does it land",
        script: "land.js",
        main: include_str!("assets/land.html"),
    },
    Page {
        path: "/rules",
        title: "Rules",
        script: "rules.js",
        main: include_str!("assets/rules.html"),
    },
    Page {
        path: "/matrix",
        title: "Decision matrix",
        script: "matrix.js",
        main: include_str!("assets/matrix.html"),
    },
    Page {
        path: "/inbox",
        title: "Inbox",
        script: "inbox.js",
        main: include_str!("assets/inbox.html"),
    },
];

const LAYOUT: &str = include_str!("assets/layout.html");

/// Each page's whole HTML, made once: the layout around its `<main>`, the
/// page's own link marked as the current one.
static COMPOSED: LazyLock<Vec<String>> = LazyLock::new(|| PAGES.iter().map(compose).collect());

fn compose(page: &Page) -> String {
    let nav: Vec<String> = PAGES
        .iter()
        .map(|p| {
            let current = if p.path == page.path {
                r#" aria-current="page""#
            } else {
                ""
            };
            format!(r#"    <a href="{}"{current}>{}</a>"#, p.path, p.title)
        })
        .collect();
    LAYOUT
        .replace("{{title}}", page.title)
        .replace("{{script}}", page.script)
        .replace("{{nav}}", &nav.join("\n"))
        .replace("{{main}}", page.main)
}

/// Whether `path` is a page or an asset: anyone may fetch these without the
/// token, as they hold no data.
pub(crate) fn is_open(path: &str) -> bool {
    PAGES.iter().any(|p| p.path == path) || path.starts_with("/assets/")
}

/// The routes of the pages and their assets.
pub(crate) fn routes() -> Router<Arc<App>> {
    let mut router = Router::new();
    for (i, page) in PAGES.iter().enumerate() {
        router = router.route(page.path, get(move || async move { answer(HTML, COMPOSED[i].clone()) }));
    }
    router.route("/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => answer(a.content_type, a.body),
        None => {
            let names: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
            ApiError::new(ErrorKind::NotFound, format!("no asset `{}`", crate::text::shown(&name)))
                .valid(format!("one of /assets/{}", names.join(", /assets/")))
                .into_response()
        }
    }
}

/// A page or an asset, with the headers every one carries.
fn answer(content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
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
    fn every_page_has_its_layout_its_script_and_marks_itself_in_the_navigation() {
        for (page, html) in PAGES.iter().zip(COMPOSED.iter()) {
            assert!(!html.contains("{{"), "{}: a placeholder is left", page.path);
            assert!(html.contains(&format!("<title>{} · commroute</title>", page.title)));
            assert!(ASSETS.iter().any(|a| a.name == page.script), "{}", page.script);
            assert_eq!(html.matches(r#"aria-current="page""#).count(), 1, "{}", page.path);
            assert!(html.contains(&format!(r#"<a href="{}" aria-current="page">"#, page.path)));
            assert!(html.contains(&format!("<h1>{}</h1>", page.title)), "{}", page.path);
        }
    }

    /// The pages and their files name only assets that exist, and nothing
    /// from another origin.
    #[test]
    fn pages_load_nothing_from_elsewhere() {
        let texts = ASSETS
            .iter()
            .filter(|a| a.content_type == JS)
            .map(|a| (a.name, a.body))
            .chain(
                PAGES
                    .iter()
                    .zip(COMPOSED.iter())
                    .map(|(p, html)| (p.path, html.as_str())),
            );
        for (name, body) in texts {
            for needle in ["http://", "https://", "//cdn", "<script>"] {
                assert!(!body.contains(needle), "{name} contains {needle}");
            }
            for (i, _) in body.match_indices("/assets/") {
                let rest = &body[i + "/assets/".len()..];
                let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'));
                let file = &rest[..end.unwrap_or(rest.len())];
                assert!(ASSETS.iter().any(|x| x.name == file), "{name} names /assets/{file}");
            }
        }
    }
}
