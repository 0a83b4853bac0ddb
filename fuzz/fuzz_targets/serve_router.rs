//! The decision service's router, every layer included, called in process:
//! the input is split into a method, a path, headers and a body (lines up
//! to the first empty one are `METHOD PATH` and `Name: value`, the rest is
//! the body). Every answer must be well formed: an error is JSON with
//! `"type":"error"`, and nothing is a 500 (a caught panic).
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

use commroute::serve::{router, Config, Snapshot, Sources};

fn service() -> &'static (tokio::runtime::Runtime, Router) {
    static SERVICE: OnceLock<(tokio::runtime::Runtime, Router)> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let world = std::env::temp_dir().join("commroute-fuzz-glow-world.yaml");
        std::fs::write(&world, include_str!("../../examples/glow-world.yaml")).unwrap();
        let snapshot = Snapshot::load(&Sources {
            rules: None,
            world: Some(world),
        })
        .expect("the example world loads");
        let config = Config {
            max_body: 4096,
            ..Config::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        (runtime, router(&config, snapshot))
    })
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &b""[..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let first = lines.next().unwrap_or("");
    let (method, path) = first.split_once(' ').unwrap_or(("POST", first));
    let mut builder = Request::builder().method(method).uri(path);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            builder = builder.header(name.trim(), value.trim());
        }
    }
    // What HTTP cannot carry never reaches the router.
    let Ok(req) = builder.body(Body::from(body.to_vec())) else { return };
    let (runtime, router) = service();
    let (status, bytes) = runtime.block_on(async {
        let resp = router.clone().oneshot(req).await.expect("the router never fails");
        let status = resp.status();
        (status, axum::body::to_bytes(resp.into_body(), 1 << 24).await.expect("a readable body"))
    });
    assert_ne!(status.as_u16(), 500, "a caught panic");
    if status.is_client_error() || status.is_server_error() {
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("an error is JSON");
        assert_eq!(v["type"], "error");
    }
});
