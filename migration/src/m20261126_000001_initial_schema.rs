//! The whole domain of DESIGN.md: accounts, tenancy, boot images and menus, boot sessions,
//! web sessions, login throttling and the boot log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    Email,
    PasswordHash,
    IsServerAdmin,
    IsDisabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrganizationMembers {
    Table,
    OrganizationId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BootImages {
    Table,
    Id,
    OrganizationId,
    Title,
    Kind,
    KernelUrl,
    ImageUrl,
    IsoBoot,
    Args,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BootMenus {
    Table,
    Id,
    OrganizationId,
    Title,
    BackgroundUrl,
    TimeoutSecs,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MenuEntries {
    Table,
    Id,
    MenuId,
    Position,
    Kind,
    ImageId,
    Text,
    Action,
    Url,
    IsDefault,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    OrganizationId,
    Name,
    Description,
    MenuId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    GroupId,
    UserId,
}

#[derive(DeriveIden)]
enum BootTokens {
    Table,
    Id,
    TokenHash,
    UserId,
    OrganizationId,
    GroupId,
    ClientMac,
    ClientUuid,
    ClientIp,
    ClientPlatform,
    ClientArch,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum BootEvents {
    Table,
    Id,
    At,
    UserId,
    OrganizationId,
    GroupId,
    MenuId,
    ImageId,
    Username,
    EntryTitle,
    EntryKind,
    ClientMac,
    ClientUuid,
    ClientIp,
    ClientPlatform,
    Outcome,
}

#[derive(DeriveIden)]
enum WebSessions {
    Table,
    Id,
    Data,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
    Id,
    Subject,
    AttemptedAt,
}

fn now_tz<T: IntoIden>(col: T) -> ColumnDef {
    timestamp_with_time_zone(col)
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_auto(Users::Id))
                    // Usernames are stored lower-cased, which makes this index case-insensitive.
                    .col(string_len_uniq(Users::Username, 64))
                    .col(string_len_null(Users::Email, 254))
                    .col(string_len(Users::PasswordHash, 255))
                    .col(boolean(Users::IsServerAdmin).default(false))
                    .col(boolean(Users::IsDisabled).default(false))
                    .col(now_tz(Users::CreatedAt))
                    .col(now_tz(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(pk_auto(Organizations::Id))
                    .col(string_len_uniq(Organizations::Name, 100))
                    .col(text(Organizations::Description).default(""))
                    .col(now_tz(Organizations::CreatedAt))
                    .col(now_tz(Organizations::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrganizationMembers::Table)
                    .col(integer(OrganizationMembers::OrganizationId))
                    .col(integer(OrganizationMembers::UserId))
                    .col(
                        string_len(OrganizationMembers::Role, 16)
                            .check(Expr::col(OrganizationMembers::Role).is_in(["admin", "member"])),
                    )
                    .col(now_tz(OrganizationMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(OrganizationMembers::OrganizationId)
                            .col(OrganizationMembers::UserId),
                    )
                    .foreign_key(&mut fk(
                        "fk_org_members_org",
                        (
                            OrganizationMembers::Table,
                            OrganizationMembers::OrganizationId,
                        ),
                        (Organizations::Table, Organizations::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_org_members_user",
                        (OrganizationMembers::Table, OrganizationMembers::UserId),
                        (Users::Table, Users::Id),
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_org_members_user")
                    .table(OrganizationMembers::Table)
                    .col(OrganizationMembers::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(BootImages::Table)
                    .col(pk_auto(BootImages::Id))
                    .col(integer(BootImages::OrganizationId))
                    .col(string_len(BootImages::Title, 200))
                    .col(
                        string_len(BootImages::Kind, 32)
                            .check(Expr::col(BootImages::Kind).is_in(["kernel_initrd", "iso"])),
                    )
                    .col(text_null(BootImages::KernelUrl))
                    .col(text(BootImages::ImageUrl))
                    .col(
                        string_len_null(BootImages::IsoBoot, 16)
                            .check(Expr::col(BootImages::IsoBoot).is_in(["sanboot", "memdisk"])),
                    )
                    // A JSON array of validated boot arguments, in order.
                    .col(text(BootImages::Args).default("[]"))
                    .col(now_tz(BootImages::CreatedAt))
                    .col(now_tz(BootImages::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_boot_images_org",
                        (BootImages::Table, BootImages::OrganizationId),
                        (Organizations::Table, Organizations::Id),
                        Cascade,
                    ))
                    .index(
                        Index::create()
                            .name("uq_boot_images_org_title")
                            .unique()
                            .col(BootImages::OrganizationId)
                            .col(BootImages::Title),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(BootMenus::Table)
                    .col(pk_auto(BootMenus::Id))
                    .col(integer(BootMenus::OrganizationId))
                    .col(string_len(BootMenus::Title, 200))
                    .col(text_null(BootMenus::BackgroundUrl))
                    .col(integer_null(BootMenus::TimeoutSecs))
                    // Bumped by every save, so that concurrent editors cannot overwrite each other.
                    .col(integer(BootMenus::Version).default(1))
                    .col(now_tz(BootMenus::CreatedAt))
                    .col(now_tz(BootMenus::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_boot_menus_org",
                        (BootMenus::Table, BootMenus::OrganizationId),
                        (Organizations::Table, Organizations::Id),
                        Cascade,
                    ))
                    .index(
                        Index::create()
                            .name("uq_boot_menus_org_title")
                            .unique()
                            .col(BootMenus::OrganizationId)
                            .col(BootMenus::Title),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MenuEntries::Table)
                    .col(pk_auto(MenuEntries::Id))
                    .col(integer(MenuEntries::MenuId))
                    .col(integer(MenuEntries::Position))
                    .col(string_len(MenuEntries::Kind, 16).check(
                        Expr::col(MenuEntries::Kind).is_in(["image", "separator", "action"]),
                    ))
                    .col(integer_null(MenuEntries::ImageId))
                    .col(string_len_null(MenuEntries::Text, 200))
                    .col(string_len_null(MenuEntries::Action, 32))
                    .col(text_null(MenuEntries::Url))
                    .col(boolean(MenuEntries::IsDefault).default(false))
                    .foreign_key(&mut fk(
                        "fk_menu_entries_menu",
                        (MenuEntries::Table, MenuEntries::MenuId),
                        (BootMenus::Table, BootMenus::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_menu_entries_image",
                        (MenuEntries::Table, MenuEntries::ImageId),
                        (BootImages::Table, BootImages::Id),
                        Cascade,
                    ))
                    .index(
                        Index::create()
                            .name("uq_menu_entries_menu_position")
                            .unique()
                            .col(MenuEntries::MenuId)
                            .col(MenuEntries::Position),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_menu_entries_image")
                    .table(MenuEntries::Table)
                    .col(MenuEntries::ImageId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .col(pk_auto(Groups::Id))
                    .col(integer(Groups::OrganizationId))
                    .col(string_len(Groups::Name, 100))
                    .col(text(Groups::Description).default(""))
                    .col(integer_null(Groups::MenuId))
                    .col(now_tz(Groups::CreatedAt))
                    .col(now_tz(Groups::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_groups_org",
                        (Groups::Table, Groups::OrganizationId),
                        (Organizations::Table, Organizations::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_groups_menu",
                        (Groups::Table, Groups::MenuId),
                        (BootMenus::Table, BootMenus::Id),
                        SetNull,
                    ))
                    .index(
                        Index::create()
                            .name("uq_groups_org_name")
                            .unique()
                            .col(Groups::OrganizationId)
                            .col(Groups::Name),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GroupMembers::Table)
                    .col(integer(GroupMembers::GroupId))
                    .col(integer(GroupMembers::UserId))
                    .primary_key(
                        Index::create()
                            .col(GroupMembers::GroupId)
                            .col(GroupMembers::UserId),
                    )
                    .foreign_key(&mut fk(
                        "fk_group_members_group",
                        (GroupMembers::Table, GroupMembers::GroupId),
                        (Groups::Table, Groups::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_group_members_user",
                        (GroupMembers::Table, GroupMembers::UserId),
                        (Users::Table, Users::Id),
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_group_members_user")
                    .table(GroupMembers::Table)
                    .col(GroupMembers::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(BootTokens::Table)
                    .col(pk_auto(BootTokens::Id))
                    // SHA-256 of the token, hex: the token itself is never stored.
                    .col(string_len_uniq(BootTokens::TokenHash, 64))
                    .col(integer(BootTokens::UserId))
                    .col(integer_null(BootTokens::OrganizationId))
                    .col(integer_null(BootTokens::GroupId))
                    .col(string_len_null(BootTokens::ClientMac, 32))
                    .col(string_len_null(BootTokens::ClientUuid, 36))
                    .col(string_len_null(BootTokens::ClientIp, 45))
                    .col(string_len_null(BootTokens::ClientPlatform, 16))
                    .col(string_len_null(BootTokens::ClientArch, 16))
                    .col(now_tz(BootTokens::CreatedAt))
                    .col(now_tz(BootTokens::LastUsedAt))
                    .col(now_tz(BootTokens::ExpiresAt))
                    .foreign_key(&mut fk(
                        "fk_boot_tokens_user",
                        (BootTokens::Table, BootTokens::UserId),
                        (Users::Table, Users::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_boot_tokens_org",
                        (BootTokens::Table, BootTokens::OrganizationId),
                        (Organizations::Table, Organizations::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_boot_tokens_group",
                        (BootTokens::Table, BootTokens::GroupId),
                        (Groups::Table, Groups::Id),
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_boot_tokens_expires_at")
                    .table(BootTokens::Table)
                    .col(BootTokens::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(BootEvents::Table)
                    .col(pk_auto(BootEvents::Id))
                    .col(now_tz(BootEvents::At))
                    .col(integer_null(BootEvents::UserId))
                    .col(integer_null(BootEvents::OrganizationId))
                    .col(integer_null(BootEvents::GroupId))
                    .col(integer_null(BootEvents::MenuId))
                    .col(integer_null(BootEvents::ImageId))
                    // Snapshots, so that the log still reads well after renames and deletions.
                    .col(string_len_null(BootEvents::Username, 64))
                    .col(string_len_null(BootEvents::EntryTitle, 200))
                    .col(string_len_null(BootEvents::EntryKind, 32))
                    .col(string_len_null(BootEvents::ClientMac, 32))
                    .col(string_len_null(BootEvents::ClientUuid, 36))
                    .col(string_len_null(BootEvents::ClientIp, 45))
                    .col(string_len_null(BootEvents::ClientPlatform, 16))
                    .col(string_len(BootEvents::Outcome, 32))
                    .foreign_key(&mut fk(
                        "fk_boot_events_user",
                        (BootEvents::Table, BootEvents::UserId),
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_boot_events_org",
                        (BootEvents::Table, BootEvents::OrganizationId),
                        (Organizations::Table, Organizations::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_boot_events_group",
                        (BootEvents::Table, BootEvents::GroupId),
                        (Groups::Table, Groups::Id),
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_boot_events_menu",
                        (BootEvents::Table, BootEvents::MenuId),
                        (BootMenus::Table, BootMenus::Id),
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_boot_events_image",
                        (BootEvents::Table, BootEvents::ImageId),
                        (BootImages::Table, BootImages::Id),
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_boot_events_org_at")
                    .table(BootEvents::Table)
                    .col(BootEvents::OrganizationId)
                    .col(BootEvents::At)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebSessions::Table)
                    .col(string_len(WebSessions::Id, 64).primary_key())
                    .col(text(WebSessions::Data))
                    .col(now_tz(WebSessions::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_web_sessions_expires_at")
                    .table(WebSessions::Table)
                    .col(WebSessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginAttempts::Table)
                    .col(pk_auto(LoginAttempts::Id))
                    // `user:<name>` or `ip:<address>`: one throttle table for both keys.
                    .col(string_len(LoginAttempts::Subject, 128))
                    .col(now_tz(LoginAttempts::AttemptedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_attempts_subject_at")
                    .table(LoginAttempts::Table)
                    .col(LoginAttempts::Subject)
                    .col(LoginAttempts::AttemptedAt)
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dependents first, so that no foreign key is left dangling.
        let tables: [DynIden; 12] = [
            LoginAttempts::Table.into_iden(),
            WebSessions::Table.into_iden(),
            BootEvents::Table.into_iden(),
            BootTokens::Table.into_iden(),
            GroupMembers::Table.into_iden(),
            Groups::Table.into_iden(),
            MenuEntries::Table.into_iden(),
            BootMenus::Table.into_iden(),
            BootImages::Table.into_iden(),
            OrganizationMembers::Table.into_iden(),
            Organizations::Table.into_iden(),
            Users::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
