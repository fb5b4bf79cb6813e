//! Mapping database errors to the UI API's error, in one place.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, SqlErr, Statement, TransactionTrait,
    Value,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};

use crate::{
    error::AppError,
    model::{PAGE_SIZE, Page},
};

/// What a service runs on: the pool, or a transaction a caller opened to run several services
/// as one (a service that opens its own transaction then opens a savepoint in it).
pub trait Conn: ConnectionTrait + TransactionTrait + Sync {}

impl<T: ConnectionTrait + TransactionTrait + Sync> Conn for T {}

/// The moment `age` ago, for pruning rows older than a retention; an age too large to
/// represent reaches back to the earliest time there is.
pub fn ago(age: std::time::Duration) -> chrono::DateTime<chrono::Utc> {
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| chrono::Utc::now().checked_sub_signed(age))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}

/// Logs a database error with its cause and hides it behind `Internal`.
pub fn internal(error: DbErr) -> AppError {
    tracing::error!(%error, "database error");
    AppError::Internal
}

/// Makes transactions that call this with the same `key` run one after the other, until the
/// end of the transaction `conn` is: call it first, before the transaction reads what it is
/// about to check (the last admin, a count), so that the check sees every change committed
/// before it.
///
/// On PostgreSQL this takes a transaction-scoped advisory lock on the key. SQLite has one
/// writer at a time: a write as the transaction's first statement takes the database's write
/// lock at once, where a read first would start a snapshot that a concurrent writer makes
/// stale (and the later write would fail).
pub async fn serialize(conn: &impl ConnectionTrait, key: &str) -> Result<(), AppError> {
    let backend = conn.get_database_backend();
    let statement = match backend {
        DatabaseBackend::Postgres => Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 7303))",
            [Value::from(key)],
        ),
        _ => Statement::from_string(backend, "DELETE FROM login_attempts WHERE 1 = 0"),
    };
    conn.execute_raw(statement).await?;
    Ok(())
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
