//! What PXE Cloud found inside an ISO of the file library: its tree (every file's path, size
//! and extents, to serve files from inside it) and what it was recognised as. Keyed by the
//! bytes' SHA-256 like the stored blobs, so replicas and organizations share one index.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum IsoIndexes {
    Table,
    Sha256,
    Format,
    VolumeId,
    Recognition,
    Tree,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IsoIndexes::Table)
                    .col(string_len(IsoIndexes::Sha256, 64).primary_key())
                    .col(integer(IsoIndexes::Format))
                    .col(string_len(IsoIndexes::VolumeId, 64))
                    .col(text(IsoIndexes::Recognition))
                    .col(text(IsoIndexes::Tree))
                    .col(timestamp_with_time_zone(IsoIndexes::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IsoIndexes::Table).to_owned())
            .await
    }
}
