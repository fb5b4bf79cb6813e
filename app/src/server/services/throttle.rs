//! Failed-login throttling, kept in the database so that it holds across processes.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::{
    error::AppError,
    server::{db, entities::login_attempt},
};

/// One key that failed logins are counted under, with its limit.
#[derive(Debug, Clone)]
pub struct Subject {
    pub key: String,
    pub max_failures: u64,
}

impl Subject {
    /// Failures for one username.
    pub fn user(username: &str, max_failures: u64) -> Self {
        Self {
            key: format!("user:{username}"),
            max_failures,
        }
    }

    /// Failures from one client address.
    pub fn address(address: &str, max_failures: u64) -> Self {
        Self {
            key: format!("ip:{address}"),
            max_failures,
        }
    }
}

/// Refuses with `RateLimited` when any subject has reached its limit within `window`.
pub async fn check(
    conn: &impl ConnectionTrait,
    subjects: &[Subject],
    window: std::time::Duration,
) -> Result<(), AppError> {
    let window = Duration::from_std(window).unwrap_or(Duration::days(365));
    let now = Utc::now();
    let mut retry_after = 0i64;
    for subject in subjects {
        let recent: Vec<chrono::DateTime<Utc>> = login_attempt::Entity::find()
            .select_only()
            .column(login_attempt::Column::AttemptedAt)
            .filter(login_attempt::Column::Subject.eq(&subject.key))
            .filter(login_attempt::Column::AttemptedAt.gt(now - window))
            .order_by_desc(login_attempt::Column::AttemptedAt)
            .limit(subject.max_failures)
            .into_tuple()
            .all(conn)
            .await
            .map_err(db::internal)?;
        if subject.max_failures > 0 && recent.len() as u64 >= subject.max_failures {
            // The lock lifts when the oldest of the last `max_failures` leaves the window.
            let oldest = recent[recent.len() - 1];
            let lifts_in = (oldest + window - now).num_seconds() + 1;
            retry_after = retry_after.max(lifts_in.max(1));
        }
    }
    if retry_after > 0 {
        Err(AppError::RateLimited {
            retry_after_secs: retry_after as u64,
        })
    } else {
        Ok(())
    }
}

/// Records one failed login under every subject.
pub async fn record_failure(
    conn: &impl ConnectionTrait,
    subjects: &[Subject],
) -> Result<(), AppError> {
    let now = Utc::now();
    let rows = subjects.iter().map(|subject| login_attempt::ActiveModel {
        id: NotSet,
        subject: Set(subject.key.clone()),
        attempted_at: Set(now),
    });
    login_attempt::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .map_err(db::internal)?;
    Ok(())
}

/// Forgets the failures of one subject (after a successful login).
pub async fn clear(conn: &impl ConnectionTrait, subject: &Subject) -> Result<(), AppError> {
    login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::Subject.eq(&subject.key))
        .exec(conn)
        .await
        .map_err(db::internal)?;
    Ok(())
}

/// Deletes failures older than `window`; they no longer count.
pub async fn prune(
    conn: &impl ConnectionTrait,
    window: std::time::Duration,
) -> Result<u64, AppError> {
    let cutoff = Utc::now() - Duration::from_std(window).unwrap_or(Duration::days(365));
    let result = login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::AttemptedAt.lte(cutoff))
        .exec(conn)
        .await
        .map_err(db::internal)?;
    Ok(result.rows_affected)
}
