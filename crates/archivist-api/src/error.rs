//! The crate's error type, and the JSON error every endpoint answers with:
//! `{"code": "unknown-community", "message": "…"}` under a status code that
//! says whose fault it was.

use std::{net::SocketAddr, path::PathBuf};

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

/// What can go wrong starting the API or talking to a running one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be bound.
    #[error("api.listen {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A file of the API (token, address file) could not be used.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The system gave no randomness for the token.
    #[error("no randomness for the API token: {0}")]
    Entropy(String),
    /// A running node could not be reached, or answered garbage.
    #[error("the node's API at {url}: {message}")]
    Client {
        /// The API's base URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A running node refused the request.
    #[error("the node answered {status}: {code}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// The node's explanation.
        message: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An answer other than success: the status and the `{code, message}` body.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", message)
    }
}

impl From<archivist::Error> for ApiError {
    fn from(error: archivist::Error) -> ApiError {
        let (status, code) = match &error {
            archivist::Error::Unknown(_) => (StatusCode::NOT_FOUND, "unknown-community"),
            archivist::Error::NotOwned(_) => (StatusCode::CONFLICT, "not-owned"),
            archivist::Error::AlreadyAdded(_) => (StatusCode::CONFLICT, "already-added"),
            archivist::Error::Config(_) => (StatusCode::BAD_REQUEST, "invalid"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "code": self.code, "message": self.message })),
        )
            .into_response()
    }
}
