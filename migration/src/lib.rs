//! Database migrations for PXE Cloud, portable between SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_initial_schema;
mod m20261201_000001_security;
mod m20261202_000001_invitations;
mod m20261203_000001_network_events;
mod m20261204_000001_loader_sets;
mod m20261205_000001_files;
mod m20261206_000001_iso_indexes;
mod m20261207_000001_image_iso;
mod m20261208_000001_fetches;
mod m20261209_000001_boot_generation;

/// The ordered list of PXE Cloud's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_initial_schema::Migration),
            Box::new(m20261201_000001_security::Migration),
            Box::new(m20261202_000001_invitations::Migration),
            Box::new(m20261203_000001_network_events::Migration),
            Box::new(m20261204_000001_loader_sets::Migration),
            Box::new(m20261205_000001_files::Migration),
            Box::new(m20261206_000001_iso_indexes::Migration),
            Box::new(m20261207_000001_image_iso::Migration),
            Box::new(m20261208_000001_fetches::Migration),
            Box::new(m20261209_000001_boot_generation::Migration),
        ]
    }
}
