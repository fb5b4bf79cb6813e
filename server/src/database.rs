//! Opening the database and bringing its schema up to date.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use std::time::Duration;

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("cannot create the database file {path} or its folder: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to the database {url}: {message}")]
    Connect { url: String, message: String },
    #[error("cannot migrate the database {url}: {message}")]
    Migrate { url: String, message: String },
}

/// The URL with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// The file an `sqlite:` URL points at, if any.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Creates a folder (and its parents) for this user's eyes only, if it is not there.
pub fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    if path.as_os_str().is_empty() || path.exists() {
        return Ok(());
    }
    let mut folder = std::fs::DirBuilder::new();
    folder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
    folder.create(path)
}

/// Creates the SQLite file (and its folder) readable by this user only, if it is not there.
fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        create_private_dir(parent)?;
    }
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    match file.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// Connects, creating an SQLite file (and its folder) on first use, for this user's eyes
/// only: the file holds password hashes and sessions.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DatabaseError> {
    if let Some(path) = sqlite_path(url).map(std::path::Path::new) {
        create_private_file(path).map_err(|source| DatabaseError::DataDir {
            path: path.display().to_string(),
            source,
        })?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .max_connections(16)
        // A connection in use moments ago is handed out as it is: pinging it on every
        // acquire doubled the round trips of every query. One idle long enough to have been
        // dropped (by PostgreSQL, a proxy, a firewall) is still checked first.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .map_err(|error| DatabaseError::Connect {
            url: redact(url),
            message: error.to_string(),
        })?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL lets readers go on while one writer writes; it is a property of the file.
        db.execute_unprepared("PRAGMA journal_mode = WAL")
            .await
            .map_err(|error| DatabaseError::Connect {
                url: redact(url),
                message: error.to_string(),
            })?;
    }
    Ok(db)
}

/// Applies pending migrations; on Postgres under an advisory lock, so that several
/// processes starting at once migrate one after the other.
pub async fn migrate(db: &DatabaseConnection, url: &str) -> Result<(), DatabaseError> {
    let fail = |error: sea_orm::DbErr| DatabaseError::Migrate {
        url: redact(url),
        message: error.to_string(),
    };
    match db.get_database_backend() {
        DbBackend::Postgres => {
            // A lock is held by one connection, so migrate on a dedicated one.
            let mut options = ConnectOptions::new(url.to_owned());
            options
                .max_connections(1)
                .min_connections(1)
                .sqlx_logging(false);
            let single = Database::connect(options).await.map_err(fail)?;
            single
                .execute_unprepared("SELECT pg_advisory_lock(7242023)")
                .await
                .map_err(fail)?;
            let result = Migrator::up(&single, None).await;
            let unlock = single
                .execute_unprepared("SELECT pg_advisory_unlock(7242023)")
                .await;
            let _ = single.close().await;
            result.map_err(fail)?;
            unlock.map_err(fail)?;
        }
        _ => Migrator::up(db, None).await.map_err(fail)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            redact("postgres://pxe:secret@db.lan:5432/pxe"),
            "postgres://pxe:***@db.lan:5432/pxe"
        );
        assert_eq!(redact("sqlite://x.db?mode=rwc"), "sqlite://x.db?mode=rwc");
    }

    #[test]
    fn sqlite_paths_are_found_in_both_url_forms() {
        assert_eq!(sqlite_path("sqlite://a/b.db?mode=rwc"), Some("a/b.db"));
        assert_eq!(sqlite_path("sqlite:a.db"), Some("a.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x"), None);
    }
}
