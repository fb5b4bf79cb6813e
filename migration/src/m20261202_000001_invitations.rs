//! Invitations, so that an organization admin cannot enrol an account without its owner's
//! consent, and the organization a membership's email may be shown to.
//!
//! - `invitations`: an organization admin invites a *username*; the account with that name
//!   sees the invitation on its dashboard and accepts or declines it. Invitations are kept by
//!   name, not by account, so that a pending list shows the same for a name that exists and
//!   one that does not. They expire.
//! - `organization_members.shows_email`: set when the account was created in this
//!   organization, whose admins then see its email; other members' emails stay hidden from
//!   organization admins.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OrganizationMembers {
    Table,
    ShowsEmail,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    OrganizationId,
    Username,
    Role,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrganizationMembers::Table)
                    .add_column(boolean(OrganizationMembers::ShowsEmail).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(pk_auto(Invitations::Id))
                    .col(integer(Invitations::OrganizationId))
                    .col(string_len(Invitations::Username, 64))
                    .col(
                        string_len(Invitations::Role, 16)
                            .check(Expr::col(Invitations::Role).is_in(["admin", "member"])),
                    )
                    .col(string_len(Invitations::InvitedBy, 64))
                    .col(timestamp_with_time_zone(Invitations::CreatedAt))
                    .col(timestamp_with_time_zone(Invitations::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invitations_org")
                            .from(Invitations::Table, Invitations::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_invitations_org_username")
                    .table(Invitations::Table)
                    .col(Invitations::OrganizationId)
                    .col(Invitations::Username)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_invitations_username")
                    .table(Invitations::Table)
                    .col(Invitations::Username)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Invitations::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OrganizationMembers::Table)
                    .drop_column(OrganizationMembers::ShowsEmail)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
