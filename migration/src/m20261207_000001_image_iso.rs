//! An image made from an ISO of the library remembers it: its arguments may say `{iso}` (the
//! ISO's URL) and `{tree}` (the folder of the files inside it), which the boot flow fills in
//! with the machine's session URLs, and the ISO cannot be deleted while the image names it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum BootImages {
    Table,
    /// `file:<name>`, like the other sources; null for images without one.
    IsoUrl,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(BootImages::Table)
                    .add_column(text_null(BootImages::IsoUrl))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(BootImages::Table)
                    .drop_column(BootImages::IsoUrl)
                    .to_owned(),
            )
            .await
    }
}
