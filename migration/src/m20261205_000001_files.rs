//! Hosted files: each organization's library of boot files (kernels, initrds, ISOs), the
//! uploads in progress, and the quota a server admin sets per organization.
//!
//! The bytes live on disk, content-addressed by SHA-256 under the files folder (shared by
//! every replica); a `files` row names them for one organization. An upload's row holds its
//! progress, so a reload or another replica resumes it where it stopped.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Files {
    Table,
    Id,
    OrganizationId,
    Name,
    Size,
    ContentType,
    Sha256,
    Public,
    AddedBy,
    AddedByName,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Uploads {
    Table,
    Id,
    OrganizationId,
    Name,
    Length,
    Received,
    ExpectedSha256,
    Sha256State,
    Sha256,
    Public,
    CreatedBy,
    CreatedByName,
    LeaseUntil,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    FileQuota,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

fn organization_key(
    table: impl IntoIden + Clone,
    column: impl IntoIden,
    name: &str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

fn user_key(
    table: impl IntoIden + Clone,
    column: impl IntoIden,
    name: &str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::SetNull)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Files::Table)
                    .col(pk_auto(Files::Id))
                    .col(integer(Files::OrganizationId))
                    .col(string_len(Files::Name, 128))
                    .col(big_integer(Files::Size))
                    .col(string_len(Files::ContentType, 100))
                    .col(string_len(Files::Sha256, 64))
                    .col(boolean(Files::Public).default(false))
                    .col(integer_null(Files::AddedBy))
                    .col(string_len(Files::AddedByName, 64))
                    .col(timestamp_with_time_zone(Files::CreatedAt))
                    .foreign_key(&mut organization_key(
                        Files::Table,
                        Files::OrganizationId,
                        "fk_files_organization",
                    ))
                    .foreign_key(&mut user_key(Files::Table, Files::AddedBy, "fk_files_user"))
                    .index(
                        Index::create()
                            .name("idx_files_organization_name")
                            .col(Files::OrganizationId)
                            .col(Files::Name)
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_files_sha256")
                    .table(Files::Table)
                    .col(Files::Sha256)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Uploads::Table)
                    .col(string_len(Uploads::Id, 32).primary_key())
                    .col(integer(Uploads::OrganizationId))
                    .col(string_len(Uploads::Name, 128))
                    .col(big_integer(Uploads::Length))
                    .col(big_integer(Uploads::Received))
                    .col(string_len_null(Uploads::ExpectedSha256, 64))
                    .col(string_len_null(Uploads::Sha256State, 64))
                    .col(string_len_null(Uploads::Sha256, 64))
                    .col(boolean(Uploads::Public).default(false))
                    .col(integer_null(Uploads::CreatedBy))
                    .col(string_len(Uploads::CreatedByName, 64))
                    .col(timestamp_with_time_zone_null(Uploads::LeaseUntil))
                    .col(timestamp_with_time_zone(Uploads::CreatedAt))
                    .col(timestamp_with_time_zone(Uploads::UpdatedAt))
                    .foreign_key(&mut organization_key(
                        Uploads::Table,
                        Uploads::OrganizationId,
                        "fk_uploads_organization",
                    ))
                    .foreign_key(&mut user_key(
                        Uploads::Table,
                        Uploads::CreatedBy,
                        "fk_uploads_user",
                    ))
                    .index(
                        Index::create()
                            .name("idx_uploads_organization_name")
                            .col(Uploads::OrganizationId)
                            .col(Uploads::Name)
                            .unique(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(big_integer_null(Organizations::FileQuota))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::FileQuota)
                    .to_owned(),
            )
            .await?;
        for table in [Uploads::Table.into_iden(), Files::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
