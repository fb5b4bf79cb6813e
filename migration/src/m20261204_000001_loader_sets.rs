//! Loader sets a server admin adds (e.g. an upstream Secure Boot set): their files, kept in
//! the database so that every replica serves the same bytes, and which loader each
//! architecture is offered when it is not the built-in one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoaderSets {
    Table,
    Id,
    Name,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum LoaderFiles {
    Table,
    Id,
    SetId,
    Name,
    Size,
    Sha256,
    Content,
}

#[derive(DeriveIden)]
enum LoaderDefaults {
    Table,
    Arch,
    SetId,
    File,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoaderSets::Table)
                    .col(pk_auto(LoaderSets::Id))
                    .col(string_len_uniq(LoaderSets::Name, 32))
                    .col(timestamp_with_time_zone(LoaderSets::CreatedAt))
                    .col(integer_null(LoaderSets::CreatedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_loader_sets_user")
                            .from(LoaderSets::Table, LoaderSets::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull)
                            .on_update(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoaderFiles::Table)
                    .col(pk_auto(LoaderFiles::Id))
                    .col(integer(LoaderFiles::SetId))
                    .col(string_len(LoaderFiles::Name, 64))
                    .col(big_integer(LoaderFiles::Size))
                    .col(string_len(LoaderFiles::Sha256, 64))
                    .col(blob(LoaderFiles::Content))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_loader_files_set")
                            .from(LoaderFiles::Table, LoaderFiles::SetId)
                            .to(LoaderSets::Table, LoaderSets::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Cascade),
                    )
                    .index(
                        Index::create()
                            .name("idx_loader_files_set_name")
                            .col(LoaderFiles::SetId)
                            .col(LoaderFiles::Name)
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoaderDefaults::Table)
                    .col(string_len(LoaderDefaults::Arch, 16).primary_key().check(
                        Expr::col(LoaderDefaults::Arch).is_in(["bios", "x64-uefi", "arm64-uefi"]),
                    ))
                    .col(integer(LoaderDefaults::SetId))
                    .col(string_len(LoaderDefaults::File, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_loader_defaults_set")
                            .from(LoaderDefaults::Table, LoaderDefaults::SetId)
                            .to(LoaderSets::Table, LoaderSets::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LoaderDefaults::Table.into_iden(),
            LoaderFiles::Table.into_iden(),
            LoaderSets::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
