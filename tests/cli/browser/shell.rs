//! What every page shares: it loads from the binary with no token and
//! nothing from elsewhere, its navigation reaches every page by keyboard,
//! and it fits a phone's width.

use super::support::Browser;
use crate::serve::server::Server;

#[test]
fn every_page_loads_and_says_it_is_ready() {
    let b = Browser::open(Server::glow());
    for (path, name, title) in [
        ("/", "land", "Where does it land"),
        ("/rules", "rules", "Rules"),
        ("/matrix", "matrix", "Decision matrix"),
        ("/inbox", "inbox", "Inbox"),
    ] {
        b.open_page(path);
        assert_eq!(b.text("h1"), title, "{path}");
        let current = b.text("nav.top a[aria-current='page']");
        assert_eq!(current, title, "{path}: the navigation marks the page");
        b.screenshot(&format!("shell-{name}"));
    }
}

#[test]
fn the_navigation_is_reachable_by_keyboard() {
    let b = Browser::open(Server::glow());
    b.open_page("/");
    // Every link of the navigation is a real link with a name.
    let links = b.find_all("nav.top a[href]");
    assert_eq!(links.len(), 4);
    for link in links {
        let name = b.run("a link's text", link.text());
        assert!(!name.trim().is_empty());
    }
    let label = b.find("nav.top");
    let aria = b.run("the navigation's label", label.attr("aria-label"));
    assert_eq!(aria.as_deref(), Some("Pages"));
}

#[test]
fn pages_fit_a_phones_width() {
    let b = Browser::open_sized(Server::glow(), 390, 844);
    b.open_page("/");
    b.assert_no_sideways_scroll("the page");
    b.screenshot("shell-phone");
}

/// `common.js`'s `ApiError` reads the service's flat error object: the
/// kind, the field at fault, the message and what would be valid, which
/// every page's error box shows.
#[test]
fn an_api_error_carries_the_services_kind_field_message_and_what_is_valid() {
    let b = Browser::open(Server::glow());
    b.open_page("/");
    let call = |body: &str| {
        b.run(
            "call the API from the page",
            b.client().execute_async(
                r#"const [body, done] = arguments;
                import("/assets/common.js").then(async (m) => {
                  try {
                    await m.api("/v1/inbound", { body: JSON.parse(body) });
                    done("no error");
                  } catch (e) {
                    done({ status: e.status, kind: e.kind, field: e.field, message: e.message, valid: e.valid,
                           isApiError: e instanceof m.ApiError });
                  }
                });"#,
                vec![serde_json::json!(body)],
            ),
        )
    };
    let seen = call(r#"{"client":"nobody"}"#);
    assert_eq!(seen["isApiError"], true, "{seen}");
    assert_eq!(
        (&seen["status"], &seen["kind"], &seen["field"], &seen["message"]),
        (
            &serde_json::json!(422),
            &serde_json::json!("invalid_field"),
            &serde_json::json!("client"),
            &serde_json::json!("unknown client `nobody`")
        ),
        "{seen}"
    );
    // A body of the wrong shape: the answer says what would be valid.
    let seen = call(r#"{"client":5}"#);
    assert_eq!(
        (&seen["status"], &seen["field"]),
        (&serde_json::json!(400), &serde_json::json!("client")),
        "{seen}"
    );
    assert!(seen["valid"].as_str().is_some_and(|v| !v.is_empty()), "{seen}");
}

/// How long each page takes to be ready for use after navigation (the
/// `commroute-ready` mark: its first data fetched and shown), the median
/// of five loads each. Printed, not asserted: timings are measured, not
/// tested (README, "Measured in the browser").
#[test]
fn each_page_ready_time_is_measured() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let server = Server::start(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        &["--world", "examples/glow-world.yaml", "--db", db.to_str().unwrap()],
    );
    let b = Browser::open(server);
    for path in ["/", "/rules", "/matrix", "/inbox"] {
        let mut ms: Vec<f64> = (0..5)
            .map(|_| {
                b.open_page(path);
                b.ready_ms()
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        assert!(ms.iter().all(|&m| m > 0.0), "{path}: no ready mark: {ms:?}");
        eprintln!("page {path}: ready {:.0} ms median of 5 loads ({ms:.0?})", ms[2]);
    }
}
