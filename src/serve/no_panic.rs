//! No panic from any request: arbitrary methods, paths, headers and bodies
//! thrown at the whole router (every layer included), in process, without
//! a socket. Every answer must be well formed: an error is JSON with
//! `"type":"error"`, the kind its status says and the `ErrorKind`
//! extension the metrics count; a success on a JSON endpoint is JSON with
//! a `type`; nothing is ever a 500 (a 500 is a caught panic).
//!
//! `PROPTEST_CASES` scales the number of requests (default 5,000 for each
//! of the two routers, with and without a token).

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use proptest::prelude::*;
use proptest::sample::select;
use tower::ServiceExt;

use super::{router, Config, ErrorKind, Snapshot, Sources, Token};

const MAX_BODY: usize = 4096;

fn glow() -> Snapshot {
    Snapshot::load(&Sources {
        rules: None,
        world: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/glow-world.yaml").into()),
    })
    .expect("the glow world loads")
}

/// The two routers: without a token, and with the token `tok`.
fn routers() -> &'static (Router, Router) {
    static ROUTERS: OnceLock<(Router, Router)> = OnceLock::new();
    ROUTERS.get_or_init(|| {
        let config = Config {
            max_body: MAX_BODY,
            timeout: Duration::from_secs(30),
            ..Config::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "tok\n").unwrap();
        let with_token = Config {
            token: Some(Token::read(&file).unwrap()),
            ..config.clone()
        };
        (router(&config, glow()), router(&with_token, glow()))
    })
}

/// A request as generated: any method, path, headers and body.
#[derive(Debug, Clone)]
struct Case {
    method: Method,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
}

const ROUTES: [&str; 11] = [
    "/v1/inbound",
    "/v1/outbound",
    "/v1/rules",
    "/v1/status",
    "/healthz",
    "/readyz",
    "/v1/batch",
    "/v1/reload",
    "/v1/openapi.json",
    "/metrics",
    "/",
];

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        4 => Just(Method::POST),
        3 => Just(Method::GET),
        1 => select(vec![
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
            Method::PATCH,
            Method::TRACE,
            Method::CONNECT,
        ]),
        1 => "[A-Z!#$%&'*+.^_`|~-]{1,40}".prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
    ]
}

fn path() -> impl Strategy<Value = String> {
    let pieces: Vec<String> = [
        "v1",
        "inbound",
        "outbound",
        "rules",
        "..",
        ".",
        "%00",
        "%2e%2e",
        "%ff",
        "%",
        "%zz",
        "é",
        "%F0%9F%99%8F",
        "",
        "%1b[31m",
        "healthz",
        "%2f",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain(["a".repeat(5000), "%41".repeat(2000)])
    .collect();
    let queries = select(vec![
        "explain=true",
        "explain=maybe",
        "explain",
        "explain=",
        "x=%00",
        "explain=true&explain=false",
        "explain=%1b",
        "&&&=",
        "%ff=%ff",
    ]);
    prop_oneof![
        3 => select(ROUTES.to_vec()).prop_map(str::to_owned),
        3 => (select(ROUTES.to_vec()), queries).prop_map(|(r, q)| format!("{r}?{q}")),
        2 => prop::collection::vec(select(pieces), 0..8).prop_map(|v| format!("/{}", v.join("/"))),
        1 => "/[!-~]{0,60}",
        1 => "[!-~]{0,20}",
    ]
}

fn headers() -> impl Strategy<Value = Vec<(HeaderName, HeaderValue)>> {
    let names = select(vec![
        header::AUTHORIZATION,
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::EXPECT,
        header::TRANSFER_ENCODING,
        header::ACCEPT,
        HeaderName::from_static("x-anything"),
    ]);
    let value = prop_oneof![
        select(vec![
            "Bearer tok",
            "bearer tok",
            "Bearer  tok ",
            "Bearer tok2",
            "Bearer",
            "Bearer ",
            "Basic dG9r",
            "application/json",
            "application/xml",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "0",
            "4097",
            "99999999999999999999999",
            "-1",
            "100-continue",
            "chunked",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,60}",
        "\\PC{0,20}",
    ]
    .prop_filter_map("a value HTTP can carry", |v| HeaderValue::from_str(&v).ok());
    let raw = prop::collection::vec(any::<u8>(), 0..40)
        .prop_filter_map("a value HTTP can carry", |v| HeaderValue::from_bytes(&v).ok());
    prop::collection::vec((names, prop_oneof![4 => value, 1 => raw]), 0..4)
}

fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        select(vec![
            "cleo",
            "sam",
            "A",
            "B",
            "campaign@B",
            "glow-downtown",
            "\u{1b}[31m",
            "\u{202e}",
            "\u{0}"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let key = prop_oneof![
        select(vec![
            "id",
            "client",
            "answering",
            "staff",
            "from",
            "from_account",
            "text",
            "facts",
            "clients",
            "staff",
            "locations",
            "accounts",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,8}",
    ];
    leaf.prop_recursive(4, 40, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// An id: one the glow world has, or anything.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => select(vec![
            "cleo", "sam", "A", "B", "campaign@B", "reminder@A", "confirmation@A", "other@B", "glow-downtown",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,20}",
        1 => "[a-z]{1,6}@[A-Z]{0,2}",
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let text = "\\PC{0,20}";
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..300),
        3 => json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        3 => (id(), proptest::option::of(id()), proptest::option::of(id()), proptest::option::of(id())).prop_map(
            |(client, answering, staff, from)| {
                let mut v = serde_json::json!({ "client": client });
                for (key, value) in [("answering", answering), ("staff", staff), ("from", from)] {
                    if let Some(value) = value {
                        v[key] = value.into();
                    }
                }
                serde_json::to_vec(&v).unwrap()
            }
        ),
        2 => (id(), id(), text).prop_map(|(client, from_account, text)| {
            serde_json::to_vec(&serde_json::json!({
                "client": client, "from_account": from_account, "text": text
            }))
            .unwrap()
        }),
        2 => select(vec![
            r#"{"id":"e1","client":"cleo","answering":"campaign@B"}"#,
            r#"{"client":"cleo","from_account":"glow-downtown","text":"See you at 3"}"#,
            r#"{"client":"cleo","staff":"sam","from":"A"}"#,
            r#"{"client":1e999999}"#,
            r#"{"client":"cleo","answering":"campaign@B","id":123456789012345678901234567890}"#,
            r#"{"client":"cleo","answering":"@"}"#,
            r#"{"client":"cleo","answering":"campaign@"}"#,
            r#"{"client":"\u0000\u001b[31m","answering":"\u202e@\ud800"}"#,
            "",
            "null",
            "{",
            "\u{feff}{}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => (1usize..3000).prop_map(|n| "[".repeat(n).into_bytes()),
        1 => (1usize..3000).prop_map(|n| format!("{{\"client\":{}", "{\"a\":".repeat(n)).into_bytes()),
        1 => (MAX_BODY - 10..MAX_BODY + 10).prop_map(|n| {
            let mut b = br#"{"client":"cleo","answering":"campaign@B"}"#.to_vec();
            b.resize(n, b' ');
            b
        }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let anything = (method(), path(), headers(), body());
    let decision = (
        Just(Method::POST),
        select(vec![
            "/v1/inbound",
            "/v1/outbound",
            "/v1/inbound?explain=true",
            "/v1/outbound?explain=true",
        ])
        .prop_map(str::to_owned),
        prop_oneof![3 => Just(vec![]), 1 => headers()],
        body(),
    );
    prop_oneof![1 => anything, 1 => decision].prop_map(|(method, path, headers, body)| Case {
        method,
        path,
        headers,
        body,
    })
}

/// Sends `case` to `router` and checks the answer; `None` when the case is
/// not a request HTTP can carry (an invalid URI never reaches the router).
fn check(router: &Router, case: &Case) -> Result<(), TestCaseError> {
    let mut builder = Request::builder().method(case.method.clone()).uri(case.path.as_str());
    for (name, value) in &case.headers {
        builder = builder.header(name, value);
    }
    let Ok(req) = builder.body(Body::from(case.body.clone())) else {
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (status, parts_kind, content_type, body) = runtime.block_on(async {
        let resp = router.clone().oneshot(req).await.expect("the router never fails");
        let status = resp.status();
        let kind = resp.extensions().get::<ErrorKind>().copied();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .expect("a body that can be read");
        (status, kind, content_type, body)
    });
    prop_assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "a caught panic: {:?}", body);
    prop_assert!(
        status.is_success() || status.is_client_error() || status.is_server_error(),
        "status {}",
        status
    );
    let head = case.method == Method::HEAD;
    if status.is_client_error() || status.is_server_error() {
        let kind = parts_kind.ok_or_else(|| TestCaseError::fail(format!("an error without its kind: {status}")))?;
        prop_assert_eq!(kind.status(), status);
        prop_assert_eq!(content_type.as_deref(), Some("application/json"));
        if !(head && body.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| TestCaseError::fail(format!("an error that is not JSON ({e}): {body:?}")))?;
            prop_assert_eq!(&v["type"], "error");
            prop_assert_eq!(&v["error"], kind.name());
            let message = v["message"].as_str().unwrap_or("");
            prop_assert!(!message.is_empty(), "an error without a message: {}", v);
            for key in ["message", "field", "valid"] {
                let text = v[key].as_str().unwrap_or("");
                prop_assert!(
                    !text.chars().any(crate::text::is_escaped),
                    "a control character unescaped in `{}`: {:?}",
                    key,
                    text
                );
            }
        }
    } else {
        let path = case.path.split('?').next().unwrap_or("");
        // Health checks, metrics and the OpenAPI document are not answers of
        // the service's own shape.
        let health = ["/healthz", "/readyz", "/metrics", "/v1/openapi.json"].contains(&path);
        let nothing_to_read = health || (head && body.is_empty());
        if !nothing_to_read && content_type.as_deref() == Some("application/json") {
            let v: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| TestCaseError::fail(format!("an answer that is not JSON ({e}): {body:?}")))?;
            prop_assert!(v["type"].is_string(), "an answer without a type: {}", v);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(5000)
    ))]

    #[test]
    fn any_request_gets_a_well_formed_answer(case in case()) {
        check(&routers().0, &case)?;
    }

    #[test]
    fn any_request_with_a_token_configured_gets_a_well_formed_answer(mut case in case(), token in any::<bool>()) {
        if token {
            case.headers.insert(0, (header::AUTHORIZATION, HeaderValue::from_static("Bearer tok")));
        }
        check(&routers().1, &case)?;
    }
}

/// Cases that once broke something, or that the generator reaches rarely.
#[test]
fn hostile_requests_written_out_get_well_formed_answers_with_control_characters_escaped() {
    let cases = [
        (
            Method::POST,
            "/v1/inbound",
            format!(r#"{{"client":{}"#, "[".repeat(100_000)),
        ),
        (
            Method::POST,
            "/v1/inbound?explain=true",
            r#"{"client":"cleo","answering":"campaign@B"}"#.to_owned(),
        ),
        (
            Method::POST,
            "/v1/outbound?explain=true",
            r#"{"client":"cleo","from_account":"glow-downtown","text":"x"}"#.to_owned(),
        ),
        (Method::GET, &format!("/{}", "%00/..".repeat(10_000)), String::new()),
        (Method::POST, "/v1/inbound", "x".repeat(MAX_BODY + 1)),
        // An unknown id with an escape sequence came back raw in the message.
        (Method::POST, "/v1/inbound", r#"{"client":"\u001b[31m"}"#.to_owned()),
        (
            Method::POST,
            "/v1/outbound",
            r#"{"client":"cleo","from_account":"\u009b2J"}"#.to_owned(),
        ),
    ];
    for (method, path, body) in cases {
        let case = Case {
            method,
            path: path.to_owned(),
            headers: vec![],
            body: body.into_bytes(),
        };
        check(&routers().0, &case).unwrap_or_else(|e| panic!("{e}: {:.200?}", case));
    }
}
