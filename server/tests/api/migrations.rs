//! The schema: migrations go up, down and up again; constraints live in the database.

use crate::helpers::fresh_database_url;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

async fn table_count(db: &DatabaseConnection) -> i64 {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'"
        }
    };
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// The tables of the whole schema (`seaql_migrations` aside).
const TABLES: i64 = 21;

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let (url, _dir) = fresh_database_url().await;
    let db = server::database::connect(&url).await.unwrap();

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(table_count(&db).await, TABLES);
    Migrator::down(&db, None).await.unwrap();
    assert_eq!(table_count(&db).await, 0);
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(table_count(&db).await, TABLES);
}

#[tokio::test]
async fn migrating_twice_changes_nothing() {
    let (url, _dir) = fresh_database_url().await;
    let db = server::database::connect(&url).await.unwrap();

    server::database::migrate(&db, &url).await.unwrap();
    server::database::migrate(&db, &url).await.unwrap();

    assert_eq!(table_count(&db).await, TABLES);
}

#[tokio::test]
async fn usernames_are_unique_in_the_database_itself() {
    let (url, _dir) = fresh_database_url().await;
    let db = server::database::connect(&url).await.unwrap();
    server::database::migrate(&db, &url).await.unwrap();
    let insert = "INSERT INTO users (username, password_hash, is_server_admin, is_disabled, created_at, updated_at) VALUES ('x', 'h', false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)";

    db.execute_unprepared(insert).await.unwrap();
    let second = db.execute_unprepared(insert).await.unwrap_err();

    assert!(matches!(
        second.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    ));
}

#[tokio::test]
async fn a_membership_needs_an_existing_organization() {
    let (url, _dir) = fresh_database_url().await;
    let db = server::database::connect(&url).await.unwrap();
    server::database::migrate(&db, &url).await.unwrap();

    let error = db
        .execute_unprepared(
            "INSERT INTO organization_members (organization_id, user_id, role, created_at) VALUES (999, 999, 'admin', CURRENT_TIMESTAMP)",
        )
        .await
        .unwrap_err();

    assert!(
        matches!(
            error.sql_err(),
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
        ),
        "{error}"
    );
}

#[tokio::test]
async fn a_role_other_than_admin_or_member_is_refused_by_the_database() {
    let (url, _dir) = fresh_database_url().await;
    let db = server::database::connect(&url).await.unwrap();
    server::database::migrate(&db, &url).await.unwrap();
    db.execute_unprepared("INSERT INTO users (username, password_hash, is_server_admin, is_disabled, created_at, updated_at) VALUES ('x', 'h', false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)").await.unwrap();
    db.execute_unprepared("INSERT INTO organizations (name, description, created_at, updated_at) VALUES ('o', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)").await.unwrap();

    let result = db
        .execute_unprepared(
            "INSERT INTO organization_members (organization_id, user_id, role, created_at) SELECT o.id, u.id, 'owner', CURRENT_TIMESTAMP FROM organizations o, users u",
        )
        .await;

    assert!(result.is_err());
}

#[tokio::test]
async fn sqlite_plans_do_not_depend_on_bound_values() {
    let (url, _dir) = fresh_database_url().await;
    let db = server::database::connect(&url).await.unwrap();
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    // Else every statement with `LIMIT ?` is recompiled each time it runs (.cargo/config.toml).
    let found = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT compile_options FROM pragma_compile_options WHERE compile_options = 'ENABLE_QPSG'",
        ))
        .await
        .unwrap();
    assert!(
        found.is_some(),
        "SQLite was built without SQLITE_ENABLE_QPSG"
    );
}
