//! A counter of what the boot flow reads (organizations, memberships, groups, menus,
//! images, files), raised by the database itself whenever any of it changes, by any writer:
//! this process, another replica, an import from the command line. A boot step reads it in
//! the same query as its session, and keeps what it read of the rest in memory for as long
//! as the counter stays the same.
//!
//! On PostgreSQL the triggers are deferred to the commit (constraint triggers): the counter's
//! row is locked only while a transaction commits, never between its statements, so two
//! transactions writing these tables cannot deadlock on it.

use sea_orm_migration::{
    prelude::*,
    sea_orm::{DbBackend, Statement},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose rows the boot flow reads.
const WATCHED: [&str; 8] = [
    "organizations",
    "organization_members",
    "groups",
    "group_members",
    "boot_menus",
    "menu_entries",
    "boot_images",
    "files",
];

const BUMP: &str = "UPDATE boot_generation SET generation = generation + 1 WHERE id = 1";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let mut statements = vec![
            "CREATE TABLE boot_generation (id INTEGER PRIMARY KEY, generation BIGINT NOT NULL)"
                .to_owned(),
            "INSERT INTO boot_generation (id, generation) VALUES (1, 1)".to_owned(),
        ];
        match backend {
            DbBackend::Postgres => {
                statements.push(format!(
                    "CREATE FUNCTION pxecloud_bump_boot_generation() RETURNS trigger \
                     LANGUAGE plpgsql AS $$ BEGIN {BUMP}; RETURN NULL; END $$"
                ));
                for table in WATCHED {
                    statements.push(format!(
                        "CREATE CONSTRAINT TRIGGER boot_generation_{table} \
                         AFTER INSERT OR UPDATE OR DELETE ON {table} \
                         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW \
                         EXECUTE FUNCTION pxecloud_bump_boot_generation()"
                    ));
                }
            }
            _ => {
                for table in WATCHED {
                    for operation in ["INSERT", "UPDATE", "DELETE"] {
                        statements.push(format!(
                            "CREATE TRIGGER boot_generation_{table}_{} AFTER {operation} ON {table} \
                             BEGIN {BUMP}; END",
                            operation.to_ascii_lowercase()
                        ));
                    }
                }
            }
        }
        for sql in statements {
            db.execute_raw(Statement::from_string(backend, sql)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let mut statements = Vec::new();
        match backend {
            DbBackend::Postgres => {
                for table in WATCHED {
                    statements.push(format!("DROP TRIGGER boot_generation_{table} ON {table}"));
                }
                statements.push("DROP FUNCTION pxecloud_bump_boot_generation()".to_owned());
            }
            _ => {
                for table in WATCHED {
                    for operation in ["insert", "update", "delete"] {
                        statements
                            .push(format!("DROP TRIGGER boot_generation_{table}_{operation}"));
                    }
                }
            }
        }
        statements.push("DROP TABLE boot_generation".to_owned());
        for sql in statements {
            db.execute_raw(Statement::from_string(backend, sql)).await?;
        }
        Ok(())
    }
}
