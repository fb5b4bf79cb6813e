//! Mapping database errors to the UI API's error, in one place.

use sea_orm::{
    ColumnTrait, DbErr, SqlErr,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};

use crate::{
    error::AppError,
    model::{PAGE_SIZE, Page},
};

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

/// A condition: `column` contains `needle`, ignoring case; `%`, `_` and `\` match themselves.
pub fn contains(column: impl ColumnTrait, needle: &str) -> Expr {
    let escaped: String = needle
        .trim()
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    Expr::expr(Func::lower(column.into_expr()))
        .like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

/// The offset of a 0-based page of [`PAGE_SIZE`] rows; absurd pages are clamped, not overflowed.
pub fn offset_of(page: u64) -> u64 {
    Ord::min(page, u64::from(u32::MAX)) * PAGE_SIZE
}

/// A page of rows, for the UI.
pub fn to_page<T>(items: Vec<T>, total: u64, page: u64) -> Page<T> {
    Page {
        items,
        total,
        page,
        page_size: PAGE_SIZE,
    }
}
