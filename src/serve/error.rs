//! Every error the service answers with: a JSON object naming what was
//! wrong, where (the field path, `client.locations[1]`) and what would be
//! valid, with the HTTP status that fits.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::engine::event::EventError;

/// What kind of error, as the `error` field of the JSON body and the
/// `kind` label of the errors metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The body is not the JSON the endpoint reads (400).
    BadRequest,
    /// The JSON is well-formed but a field is wrong for the loaded world (422).
    InvalidField,
    /// The rules could not decide (a script failed or ran out of its limits) (422).
    Undecided,
    /// No or a wrong bearer token (401).
    Unauthorized,
    /// The service was not started to allow this (403): saving the rules
    /// without `--allow-edit`.
    Forbidden,
    /// What the request was based on changed meanwhile (409).
    Conflict,
    /// The body is larger than the service accepts (413).
    TooLarge,
    /// The request took longer than the service allows (408).
    Timeout,
    /// No such endpoint (404).
    NotFound,
    /// The endpoint exists but not with this method (405).
    MethodNotAllowed,
    /// The body is not JSON (415).
    UnsupportedMediaType,
    /// The service is shutting down or not loaded (503).
    Unavailable,
    /// The service failed on this request (500): a bug, logged.
    Internal,
}

impl ErrorKind {
    /// The HTTP status of this kind of error.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::InvalidField | ErrorKind::Undecided => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The name in JSON and in metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::InvalidField => "invalid_field",
            ErrorKind::Undecided => "undecided",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Conflict => "conflict",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Timeout => "timeout",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error answer: `{"type":"error","version":..,"error":KIND,"field":PATH,"message":..,"valid":..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// What kind of error.
    #[serde(rename = "error")]
    pub kind: ErrorKind,
    /// The path of the field at fault (`client`, `client.locations[1]`), when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What was wrong, in a sentence.
    pub message: String,
    /// What would be valid, when it can be said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<String>,
}

impl ApiError {
    /// An error of `kind` with a message and no field.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            field: None,
            message: message.into(),
            valid: None,
        }
    }

    /// The same error about the field at `path`.
    pub fn field(mut self, path: impl Into<String>) -> ApiError {
        self.field = Some(path.into());
        self
    }

    /// The same error, saying what would be valid.
    pub fn valid(mut self, valid: impl Into<String>) -> ApiError {
        self.valid = Some(valid.into());
        self
    }

    /// A body that `serde_json` could not read as the endpoint's request,
    /// with the path of the field it stopped at.
    pub fn from_json(e: serde_path_to_error::Error<serde_json::Error>, valid: &str) -> ApiError {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let err = ApiError::new(ErrorKind::BadRequest, inner.to_string()).valid(valid);
        if path == "." || path.is_empty() {
            err
        } else {
            err.field(path)
        }
    }

    /// Inline facts that do not make a world: the first problem, at its path.
    pub fn from_facts(e: crate::world::FactsError) -> ApiError {
        let more = e.problems.len() - 1;
        let p = e.problems.into_iter().next().expect("a facts error has a problem");
        let message = match more {
            0 => p.message,
            1 => format!("{} (and 1 more problem)", p.message),
            n => format!("{} (and {n} more problems)", p.message),
        };
        let err = ApiError::new(ErrorKind::InvalidField, message).field(p.path);
        match p.valid {
            Some(v) => err.valid(v),
            None => err,
        }
    }

    /// An event whose ids do not fit the loaded world.
    pub fn from_event(e: EventError) -> ApiError {
        ApiError::new(ErrorKind::InvalidField, e.message).field(e.field)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    r#type: &'static str,
    version: &'static str,
    #[serde(flatten)]
    error: &'a ApiError,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // What the client sent comes back in messages and paths: control
        // characters escaped, long quoted values cut, so that printing an
        // error never drives the reader's terminal.
        let shown = |s: &str| crate::text::brief(&crate::text::shown(s)).into_owned();
        let safe = ApiError {
            kind: self.kind,
            field: self.field.as_deref().map(shown),
            message: shown(&self.message),
            valid: self.valid.as_deref().map(shown),
        };
        let body = serde_json::to_vec(&Body {
            r#type: "error",
            version: env!("CARGO_PKG_VERSION"),
            error: &safe,
        })
        .expect("an error serialises");
        let mut resp = (self.kind.status(), body).into_response();
        resp.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
        resp.extensions_mut().insert(self.kind);
        resp
    }
}
