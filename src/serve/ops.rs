//! What every request goes through around its endpoint: the bearer token,
//! the content type, the body limit and the timeout, JSON for every error
//! (including the plain-text ones of axum's extractors and a panic), and a
//! log line per request.
//!
//! `/healthz` and `/readyz` need no token. `/v1/batch` streams a body of
//! any size for as long as it takes, so the body limit, the timeout and the
//! content-type check leave it alone (it still needs the token).

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use super::error::{ApiError, ErrorKind};
use crate::text;

/// The route that streams: no body limit, no timeout, any content type.
pub(crate) const STREAMING: &str = "/v1/batch";

/// The routes anyone may call without the token (and the playground's
/// pages, see `pages::is_open`).
const OPEN: [&str; 2] = ["/healthz", "/readyz"];

/// The bearer token every request but the health checks must carry.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Box<[u8]>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never in a log or a panic message.
        f.write_str("Token(..)")
    }
}

/// Why a token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file cannot be read.
    #[error("cannot read the token file `{}`: {source}", text::shown(&.path.display().to_string()))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The first line is empty once trimmed.
    #[error("the token file `{}` has no token: its first line, trimmed, is the token", text::shown(&.path.display().to_string()))]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The token has a control character, which no HTTP header can carry.
    #[error("the token in `{}` has a control character at character {at}: a token is printable text on the file's first line", text::shown(&.path.display().to_string()))]
    Control {
        /// The file.
        path: PathBuf,
        /// Where, counting characters from 1.
        at: usize,
    },
}

impl Token {
    /// The token of a token file: its first line, trimmed. A missing or
    /// unreadable file, an empty first line and a control character are
    /// errors naming the file.
    pub fn read(path: &Path) -> Result<Token, TokenError> {
        let bytes = std::fs::read(path).map_err(|source| TokenError::Read {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let first = text.lines().next().unwrap_or("").trim();
        if first.is_empty() {
            return Err(TokenError::Empty { path: path.to_owned() });
        }
        if let Some(at) = first.chars().position(char::is_control) {
            return Err(TokenError::Control {
                path: path.to_owned(),
                at: at + 1,
            });
        }
        Ok(Token(first.as_bytes().into()))
    }

    /// Whether `given` is the token, in time that depends only on the
    /// lengths (the length of the token is not a secret worth keeping).
    fn matches(&self, given: &[u8]) -> bool {
        let ours = &self.0;
        if ours.len() != given.len() {
            return false;
        }
        ours.iter().zip(given).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// What the layers need to know.
#[derive(Debug, Clone)]
pub(crate) struct Ops {
    pub(crate) token: Option<Token>,
    pub(crate) max_body: usize,
    pub(crate) timeout: Duration,
}

/// `router` with every layer of this module, from the inside out: the body
/// limit of axum's extractors, the guard (token, content type, early size
/// check, timeout, JSON errors), the panic catcher, the request log. A
/// layer that must see every answer, errors included, goes outside these.
pub(crate) fn with_ops(router: Router, ops: Ops) -> Router {
    let max_body = ops.max_body;
    router
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(Arc::new(ops), guard))
        .layer(CatchPanicLayer::custom(panic_answer))
        .layer(middleware::from_fn(log_request))
}

async fn guard(State(ops): State<Arc<Ops>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if let Some(token) = &ops.token {
        if !OPEN.contains(&path) && !super::pages::is_open(path) {
            if let Some(refusal) = refused(token, req.headers()) {
                return refusal;
            }
        }
    }
    if path == STREAMING {
        return json_errors(next.run(req).await, &ops).await;
    }
    // Only a route that exists says anything about content types: an
    // unknown path is a 404 whatever it was sent.
    if req.extensions().get::<MatchedPath>().is_some() && req.method() == Method::POST {
        if let Err(e) = check_content_type(req.headers()) {
            return e.into_response();
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > ops.max_body as u64) {
        return too_large(&ops).into_response();
    }
    match tokio::time::timeout(ops.timeout, next.run(req)).await {
        Ok(resp) => json_errors(resp, &ops).await,
        Err(_) => timed_out(&ops).into_response(),
    }
}

fn too_large(ops: &Ops) -> ApiError {
    ApiError::new(
        ErrorKind::TooLarge,
        format!("the body is larger than the limit of {} bytes", ops.max_body),
    )
    .valid(format!(
        "a body of at most {} bytes (the service's --max-body); many events go to POST /v1/batch, which has no limit",
        ops.max_body
    ))
}

fn timed_out(ops: &Ops) -> ApiError {
    ApiError::new(
        ErrorKind::Timeout,
        format!(
            "the request took longer than {} ms, reading its body included",
            ops.timeout.as_millis()
        ),
    )
    .valid(format!(
        "a request sent and decided within {} ms (the service's --timeout-ms)",
        ops.timeout.as_millis()
    ))
}

/// `None` for `Authorization: Bearer TOKEN` (the scheme in any case), else
/// the 401 with `WWW-Authenticate: Bearer`.
fn refused(token: &Token, headers: &HeaderMap) -> Option<Response> {
    const HOW: &str = "the header `Authorization: Bearer TOKEN`, with the token of the service's --token-file";
    let refuse = |message: &str, challenge: &'static str| {
        let mut resp = ApiError::new(ErrorKind::Unauthorized, message)
            .field("Authorization")
            .valid(HOW)
            .into_response();
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        Some(resp)
    };
    let mut given = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (given.next(), given.next()) else {
        return if headers.contains_key(header::AUTHORIZATION) {
            refuse(
                "more than one Authorization header",
                "Bearer realm=\"commroute\", error=\"invalid_request\"",
            )
        } else {
            refuse("this endpoint needs a bearer token", "Bearer realm=\"commroute\"")
        };
    };
    let value = value.as_bytes();
    let scheme_ok = value.len() > 7 && value[..6].eq_ignore_ascii_case(b"bearer") && value[6] == b' ';
    if !scheme_ok {
        return refuse(
            "the Authorization header is not `Bearer TOKEN`",
            "Bearer realm=\"commroute\", error=\"invalid_request\"",
        );
    }
    if token.matches(value[7..].trim_ascii()) {
        None
    } else {
        refuse(
            "the bearer token is not the service's",
            "Bearer realm=\"commroute\", error=\"invalid_token\"",
        )
    }
}

/// The bodies are JSON whatever the header says, so a missing content type
/// (a backend that sends none) and curl's `-d` default
/// (`application/x-www-form-urlencoded`) are read as JSON. A type that
/// clearly says something else (XML, a multipart form, binary) is a 415.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = essence == "application/json"
        || essence == "text/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json || essence == "text/plain" || essence == "application/x-www-form-urlencoded" {
        return Ok(());
    }
    let shown = String::from_utf8_lossy(value.as_bytes());
    Err(ApiError::new(
        ErrorKind::UnsupportedMediaType,
        format!(
            "the body's content type `{}` is not JSON",
            text::brief(&text::shown(&shown))
        ),
    )
    .field("Content-Type")
    .valid("Content-Type: application/json, or none (the body is read as JSON)"))
}

/// An error answer that is not ours yet (axum's extractors answer in plain
/// text) as the JSON error of its status, so that every error is JSON and
/// carries its [`ErrorKind`].
async fn json_errors(resp: Response, ops: &Ops) -> Response {
    let status = resp.status();
    // An answer the service wrote itself as JSON (an `ApiError`, or a
    // refused reload's report) is kept; only plain-text rejections are
    // rewritten.
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || resp.extensions().get::<ErrorKind>().is_some() || json
    {
        return resp;
    }
    let kind = match status {
        StatusCode::UNAUTHORIZED => ErrorKind::Unauthorized,
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorKind::MethodNotAllowed,
        StatusCode::REQUEST_TIMEOUT => return timed_out(ops).into_response(),
        StatusCode::PAYLOAD_TOO_LARGE => return too_large(ops).into_response(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorKind::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorKind::InvalidField,
        StatusCode::SERVICE_UNAVAILABLE => ErrorKind::Unavailable,
        s if s.is_client_error() => ErrorKind::BadRequest,
        _ => ErrorKind::Internal,
    };
    // The plain text is short (a rejection's sentence); read at most a few
    // kilobytes of it.
    let said = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap_or_default();
    let said = String::from_utf8_lossy(&said);
    let said = said.trim();
    let message = if said.is_empty() {
        status.canonical_reason().unwrap_or("error").to_ascii_lowercase()
    } else {
        let mut chars = said.chars();
        let first: String = chars.next().map(|c| c.to_lowercase().collect()).unwrap_or_default();
        text::brief(&text::shown(&format!("{first}{}", chars.as_str()))).into_owned()
    };
    ApiError::new(kind, message).into_response()
}

/// A panic in a handler (a bug): logged, and answered with a 500 that says
/// nothing of the service's insides.
fn panic_answer(payload: Box<dyn Any + Send + 'static>) -> Response {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    tracing::error!(panic = %text::brief(&text::shown(&what)), "a request failed with a panic");
    ApiError::new(
        ErrorKind::Internal,
        "the service failed on this request; the failure is logged",
    )
    .valid("the same request again after the service is fixed; please report it")
    .into_response()
}

/// One debug line per request: method, route (the template, or the path
/// shown and cut when no route matched), status, error kind, latency.
/// Never the body.
async fn log_request(req: Request, next: Next) -> Response {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return next.run(req).await;
    }
    let method = text::excerpt(req.method().as_str(), 20).into_owned();
    let route = match req.extensions().get::<MatchedPath>() {
        Some(m) => m.as_str().to_owned(),
        None => format!("(none: {})", text::excerpt(&text::shown(req.uri().path()), 100)),
    };
    let start = Instant::now();
    let resp = next.run(req).await;
    let latency_us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    let error = resp.extensions().get::<ErrorKind>().map(|k| k.name());
    tracing::debug!(
        method = %method,
        route = %route,
        status = resp.status().as_u16(),
        error,
        latency_us,
        "request"
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    fn ops() -> Ops {
        Ops {
            token: None,
            max_body: 16,
            timeout: Duration::from_secs(30),
        }
    }

    fn send(router: Router, req: axum::http::Request<Body>) -> (StatusCode, Option<ErrorKind>, serde_json::Value) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let kind = resp.extensions().get::<ErrorKind>().copied();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
            let v = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            (status, kind, v)
        })
    }

    #[test]
    fn a_panic_in_a_handler_is_a_500_json_error_that_says_nothing_of_it() {
        let router = with_ops(
            Router::new().route(
                "/boom",
                get(|| async {
                    if std::hint::black_box(true) {
                        panic!("secret \u{1b}[31m detail");
                    }
                    "unreachable"
                }),
            ),
            ops(),
        );
        let (status, kind, v) = send(router, axum::http::Request::get("/boom").body(Body::empty()).unwrap());
        assert_eq!(
            (status, kind),
            (StatusCode::INTERNAL_SERVER_ERROR, Some(ErrorKind::Internal))
        );
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"], "internal");
        assert!(!v.to_string().contains("secret"), "{v}");
    }

    #[test]
    fn a_plain_text_rejection_of_an_extractor_becomes_a_json_error_with_its_kind() {
        // axum's `String` extractor refuses a body that is not UTF-8 in plain text.
        let router = with_ops(Router::new().route("/text", post(|s: String| async move { s })), ops());
        let req = axum::http::Request::post("/text")
            .body(Body::from(vec![0xff, 0xfe]))
            .unwrap();
        let (status, kind, v) = send(router.clone(), req);
        assert_eq!((status, kind), (StatusCode::BAD_REQUEST, Some(ErrorKind::BadRequest)));
        assert_eq!(v["type"], "error");
        let message = v["message"].as_str().unwrap();
        assert!(message.starts_with(char::is_lowercase), "{message}");
        // A body over the limit without a declared length: axum's 413, ours.
        let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'a'; 40]))]);
        let req = axum::http::Request::post("/text")
            .body(Body::from_stream(stream))
            .unwrap();
        let (status, kind, v) = send(router, req);
        assert_eq!(
            (status, kind),
            (StatusCode::PAYLOAD_TOO_LARGE, Some(ErrorKind::TooLarge))
        );
        assert_eq!(v["message"], "the body is larger than the limit of 16 bytes");
    }

    #[test]
    fn a_handler_slower_than_the_timeout_is_a_408_json_error() {
        let router = with_ops(
            Router::new().route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            ),
            Ops {
                timeout: Duration::from_millis(50),
                ..ops()
            },
        );
        let (status, kind, v) = send(router, axum::http::Request::get("/slow").body(Body::empty()).unwrap());
        assert_eq!((status, kind), (StatusCode::REQUEST_TIMEOUT, Some(ErrorKind::Timeout)));
        assert_eq!(
            v["message"],
            "the request took longer than 50 ms, reading its body included"
        );
    }

    #[test]
    fn the_token_is_compared_whole() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        std::fs::write(&file, "\t abc \r\nnext").unwrap();
        let token = Token::read(&file).unwrap();
        assert!(token.matches(b"abc"));
        for wrong in [&b"ab"[..], b"abcd", b"abd", b"", b"ABC"] {
            assert!(!token.matches(wrong), "{wrong:?}");
        }
        assert_eq!(format!("{token:?}"), "Token(..)");
    }
}
