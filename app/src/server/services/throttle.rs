//! Failed-login throttling, kept in the database so that it holds across processes.

use chrono::{Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionSession, Value,
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

/// The limit of a subject that is counted but never refuses: it slows attempts down instead
/// ([`backoff`]).
const COUNTED_ONLY: u64 = i64::MAX as u64;

impl Subject {
    /// Failures for one username from one client address: the hard limit, so that an
    /// attacker at one address cannot lock the user out at another.
    pub fn user_at(username: &str, address: &str, max_failures: u64) -> Self {
        Self {
            key: format!("user:{username}@{address}"),
            max_failures,
        }
    }

    /// Failures for one username from anywhere: counted, never refused; many of them slow
    /// every attempt for the username down ([`backoff`]).
    pub fn user_anywhere(username: &str) -> Self {
        Self {
            key: format!("user:{username}"),
            max_failures: COUNTED_ONLY,
        }
    }

    /// "This username is taken." answers given to one organization admin: each tells them an
    /// account exists, so they are limited like failed sign-ins.
    pub fn taken_names(actor_user_id: i32, max_failures: u64) -> Self {
        Self {
            key: format!("names:{actor_user_id}"),
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
    for subject in subjects.iter().filter(|s| s.max_failures != COUNTED_ONLY) {
        let recent: Vec<chrono::DateTime<Utc>> = login_attempt::Entity::find()
            .select_only()
            .column(login_attempt::Column::AttemptedAt)
            .filter(login_attempt::Column::Subject.eq(&subject.key))
            .filter(login_attempt::Column::AttemptedAt.gt(now - window))
            .order_by_desc(login_attempt::Column::AttemptedAt)
            .limit(subject.max_failures)
            .into_tuple()
            .all(conn)
            .await?;
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

/// An attempt counted as a failure before its password was checked; [`release`] takes it
/// back when the password was right.
#[derive(Debug)]
#[must_use = "a reservation counts as a failure until it is released"]
pub struct Reservation {
    ids: Vec<i32>,
}

/// Counts an attempt as a failure under every subject *before* its password is checked, or
/// refuses it with `RateLimited` (counting nothing) when a subject has reached its limit
/// within `window`.
///
/// Attempts on one subject are serialized ([`db::serialize`] on each subject's key, in one
/// order for all), so however many attempts arrive at once, at most `max_failures` of them
/// get a password check.
pub async fn reserve(
    db: &impl db::Conn,
    subjects: &[Subject],
    window: std::time::Duration,
) -> Result<Reservation, AppError> {
    let backend = db.get_database_backend();
    let since = Utc::now() - Duration::from_std(window).unwrap_or(Duration::days(365));
    let txn = db.begin().await?;
    let mut keys: Vec<&str> = subjects.iter().map(|s| s.key.as_str()).collect();
    // One order for every caller, so that two attempts never wait for each other.
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        db::serialize(&txn, key).await?;
    }
    let mut ids = Vec::with_capacity(subjects.len());
    let mut full = false;
    for subject in subjects.iter().filter(|s| s.max_failures > 0) {
        let values = [
            Value::from(subject.key.as_str()),
            Value::from(Utc::now()),
            Value::from(subject.key.as_str()),
            Value::from(since),
            Value::from(subject.max_failures as i64),
        ];
        let sql = placeholders(
            backend,
            "INSERT INTO login_attempts (subject, attempted_at) SELECT ?, ? \
             WHERE (SELECT COUNT(*) FROM login_attempts WHERE subject = ? AND attempted_at > ?) < ? \
             RETURNING id",
        );
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        match row {
            Some(row) => ids.push(row.try_get::<i32>("", "id")?),
            None => {
                full = true;
                break;
            }
        }
    }
    if full {
        txn.rollback().await?;
        // The subject that is full says how long until it frees up.
        check(db, subjects, window).await?;
        return Err(AppError::RateLimited {
            retry_after_secs: 1,
        });
    }
    txn.commit().await?;
    Ok(Reservation { ids })
}

/// Takes back a reservation: the attempt it stood for succeeded.
pub async fn release(
    conn: &impl ConnectionTrait,
    reservation: Reservation,
) -> Result<(), AppError> {
    if reservation.ids.is_empty() {
        return Ok(());
    }
    login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::Id.is_in(reservation.ids))
        .exec(conn)
        .await?;
    Ok(())
}

/// `?` placeholders as the backend writes them (`$1`, `$2`, … on PostgreSQL).
fn placeholders(backend: DatabaseBackend, sql: &str) -> String {
    if backend != DatabaseBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// How long an attempt on `subject` waits before its password is checked: nothing while the
/// subject has fewer than `free` failures within `window`, then 250 ms, doubling with each
/// further failure, at most `max`. A slowdown, not a lock: the right password still works.
pub async fn backoff(
    conn: &impl ConnectionTrait,
    subject: &Subject,
    free: u64,
    window: std::time::Duration,
    max: std::time::Duration,
) -> Result<std::time::Duration, AppError> {
    let since = Utc::now() - Duration::from_std(window).unwrap_or(Duration::days(365));
    let failures = login_attempt::Entity::find()
        .filter(login_attempt::Column::Subject.eq(&subject.key))
        .filter(login_attempt::Column::AttemptedAt.gt(since))
        .count(conn)
        .await?;
    Ok(backoff_for(failures, free, max))
}

fn backoff_for(failures: u64, free: u64, max: std::time::Duration) -> std::time::Duration {
    let Some(beyond) = failures.checked_sub(free) else {
        return std::time::Duration::ZERO;
    };
    let doublings = u32::try_from(beyond.min(16)).unwrap_or(16);
    std::time::Duration::from_millis(250)
        .saturating_mul(1 << doublings)
        .min(max)
}

/// Forgets the failures of one subject (after a successful login).
pub async fn clear(conn: &impl ConnectionTrait, subject: &Subject) -> Result<(), AppError> {
    login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::Subject.eq(&subject.key))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes failures older than `window`; they no longer count.
pub async fn prune(
    conn: &impl ConnectionTrait,
    window: std::time::Duration,
) -> Result<u64, AppError> {
    let result = login_attempt::Entity::delete_many()
        .filter(login_attempt::Column::AttemptedAt.lte(db::ago(window)))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::backoff_for;
    use std::time::Duration;

    #[test]
    fn the_backoff_starts_after_the_free_failures_doubles_and_stops_at_its_cap() {
        let max = Duration::from_secs(3);
        assert_eq!(backoff_for(0, 10, max), Duration::ZERO);
        assert_eq!(backoff_for(9, 10, max), Duration::ZERO);
        assert_eq!(backoff_for(10, 10, max), Duration::from_millis(250));
        assert_eq!(backoff_for(11, 10, max), Duration::from_millis(500));
        assert_eq!(backoff_for(13, 10, max), Duration::from_secs(2));
        assert_eq!(backoff_for(14, 10, max), max);
        assert_eq!(backoff_for(u64::MAX, 10, max), max);
    }
}
