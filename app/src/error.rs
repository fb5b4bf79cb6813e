//! The one error type of the UI API: what a server function can tell the browser.

use leptos::server_fn::{
    ServerFnError,
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An error a server function returns; serializable, and never carrying internal details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    /// Nobody is signed in, or the session has ended.
    Unauthenticated,
    /// Signed in, but not allowed to do this.
    Forbidden,
    /// Signed in with a password that must be changed before anything else.
    PasswordChangeRequired,
    /// The thing asked for does not exist (or is not visible to the caller).
    NotFound,
    /// A unique value is already taken.
    Conflict { field: String, message: String },
    /// An input was rejected; `field` names the form field.
    Invalid { field: String, message: String },
    /// A browser sent a change from a page of another site (or in a form the API does not
    /// read): refused, since the user may not have meant it.
    CrossSite,
    /// Too many failed attempts; try again after `retry_after_secs`.
    RateLimited { retry_after_secs: u64 },
    /// The server is too busy to do this now (e.g. every password check slot is taken);
    /// try again after `retry_after_secs`.
    Busy { retry_after_secs: u64 },
    /// Something failed on the server; the details are in the server's log only.
    Internal,
    /// The request never reached the function, or its answer could not be read.
    Transport(String),
}

impl AppError {
    /// An `Invalid` error for one form field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A `Conflict` error for one form field.
    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The message for `field`, if this error is about that form field.
    pub fn field_message(&self, field: &str) -> Option<String> {
        match self {
            Self::Invalid { field: f, message } | Self::Conflict { field: f, message }
                if f == field =>
            {
                Some(message.clone())
            }
            _ => None,
        }
    }

    /// How long the client should wait before trying again, for errors that pass.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } | Self::Busy { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }

    /// The HTTP status this error is sent with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated => 401,
            Self::Forbidden | Self::CrossSite | Self::PasswordChangeRequired => 403,
            Self::NotFound => 404,
            Self::Conflict { .. } => 409,
            Self::Invalid { .. } => 422,
            Self::RateLimited { .. } => 429,
            Self::Internal => 500,
            Self::Busy { .. } => 503,
            Self::Transport(_) => 502,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthenticated => f.write_str("Please sign in."),
            Self::Forbidden => f.write_str("You are not allowed to do that."),
            Self::NotFound => f.write_str("Not found."),
            Self::PasswordChangeRequired => {
                f.write_str("Choose a new password first (Password page).")
            }
            Self::CrossSite => f.write_str(
                "This request came from another site (or was not a form or JSON), so PXE Cloud refused it.",
            ),
            Self::Conflict { message, .. } | Self::Invalid { message, .. } => f.write_str(message),
            Self::RateLimited { retry_after_secs } => {
                write!(f, "Too many attempts, try again in {retry_after_secs} s.")
            }
            Self::Busy { retry_after_secs } => write!(
                f,
                "The server is busy, try again in {retry_after_secs} s."
            ),
            Self::Internal => f.write_str("Something went wrong on the server. Please try again."),
            Self::Transport(_) => {
                f.write_str("The server could not be reached. Check the connection and try again.")
            }
        }
    }
}

impl std::error::Error for AppError {}

/// The answer of a plain HTTP handler that fails: the error's status, its JSON (the same body
/// a server function sends), never cached, and `Retry-After` when the client should come
/// back later.
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::{HeaderValue, StatusCode, header};
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            serde_json::to_string(&self).unwrap_or_default(),
        )
            .into_response();
        if let Some(seconds) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A database error is logged with its cause and hidden behind `Internal`, so services can
/// use `?` on every query.
#[cfg(feature = "ssr")]
impl From<sea_orm::DbErr> for AppError {
    fn from(error: sea_orm::DbErr) -> Self {
        crate::server::db::internal(error)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                Self::invalid("", message)
            }
            ServerFnErrorErr::ServerError(_) | ServerFnErrorErr::MiddlewareError(_) => {
                Self::Internal
            }
            // On the server, an undecodable request body; in the browser, an unreadable answer.
            ServerFnErrorErr::Deserialization(message) if cfg!(feature = "ssr") => {
                Self::invalid("", format!("The request could not be read: {message}"))
            }
            other => Self::Transport(other.to_string()),
        }
    }
}

impl From<ServerFnError> for AppError {
    fn from(value: ServerFnError) -> Self {
        Self::Transport(value.to_string())
    }
}
