//! Mapping database errors to the UI API's error, in one place.

use sea_orm::{DbErr, SqlErr};

use crate::error::AppError;

/// Logs a database error with its cause and hides it behind `Internal`.
pub fn internal(error: DbErr) -> AppError {
    tracing::error!(%error, "database error");
    AppError::Internal
}

/// Turns a unique-constraint violation into a `Conflict` on `field`; anything else is internal.
pub fn conflict_on(field: &str, message: &str) -> impl FnOnce(DbErr) -> AppError {
    move |error| match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => AppError::conflict(field, message),
        _ => internal(error),
    }
}
