//! Files fetched from a URL: the server downloads them itself, through the same rows as
//! uploads (progress, lease, hash state, quota held), with where they come from, the
//! validator that lets a fetch resume (`If-Range`), and why one failed (kept, so a reload
//! still says it), and who holds an upload's lease.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Uploads {
    Table,
    /// The URL the server fetches the file from; null for uploads from a browser.
    SourceUrl,
    /// The checksum list (`SHA256SUMS`) the expected SHA-256 was read from, if any.
    SumsUrl,
    /// The `ETag` (strong) or `Last-Modified` of the bytes being fetched: a resumed fetch
    /// asks for the rest only if they are still the same.
    SourceValidator,
    /// Why the fetch stopped, for the admin to read (then retry or dismiss).
    Failure,
    /// Who holds the lease (random, per writer, uploads too): a writer whose lease lapsed
    /// and was taken by another can change nothing more.
    LeaseOwner,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [
            Uploads::SourceUrl,
            Uploads::SumsUrl,
            Uploads::SourceValidator,
            Uploads::Failure,
            Uploads::LeaseOwner,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Uploads::Table)
                        .add_column(text_null(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Uploads::SourceUrl,
            Uploads::SumsUrl,
            Uploads::SourceValidator,
            Uploads::Failure,
            Uploads::LeaseOwner,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Uploads::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
