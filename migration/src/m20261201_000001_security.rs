//! Security review fixes: the first-start admin must choose a password, and the boot log
//! outlives the organizations it names.
//!
//! - `users.must_change_password`: set for the first-start admin, whose generated password
//!   was written to a file; cleared when the user changes it.
//! - `boot_events.organization_name`: a snapshot like the other names in the row; and the
//!   row's organization is set to null, not the row deleted, when the organization goes.
//!   SQLite cannot change a foreign key in place, so there the table is rebuilt.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    MustChangePassword,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum BootMenus {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum BootImages {
    Table,
    Id,
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
    OrganizationName,
    EntryTitle,
    EntryKind,
    ClientMac,
    ClientUuid,
    ClientIp,
    ClientPlatform,
    Outcome,
}

/// The columns the boot log had before this migration, in order.
const OLD_COLUMNS: &str = "id, at, user_id, organization_id, group_id, menu_id, image_id, \
    username, entry_title, entry_kind, client_mac, client_uuid, client_ip, client_platform, outcome";

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

/// The boot log table as `table`, its organization link deleting rows (`Cascade`, before) or
/// keeping them (`SetNull`, after), with or without the name snapshot.
fn boot_events(
    table: &str,
    on_organization_delete: ForeignKeyAction,
    with_name: bool,
) -> TableCreateStatement {
    use ForeignKeyAction::SetNull;
    let t = Alias::new(table);
    let mut create = Table::create();
    create
        .table(t.clone())
        .col(pk_auto(BootEvents::Id))
        .col(timestamp_with_time_zone(BootEvents::At))
        .col(integer_null(BootEvents::UserId))
        .col(integer_null(BootEvents::OrganizationId))
        .col(integer_null(BootEvents::GroupId))
        .col(integer_null(BootEvents::MenuId))
        .col(integer_null(BootEvents::ImageId))
        .col(string_len_null(BootEvents::Username, 64))
        .col(string_len_null(BootEvents::EntryTitle, 200))
        .col(string_len_null(BootEvents::EntryKind, 32))
        .col(string_len_null(BootEvents::ClientMac, 32))
        .col(string_len_null(BootEvents::ClientUuid, 36))
        .col(string_len_null(BootEvents::ClientIp, 45))
        .col(string_len_null(BootEvents::ClientPlatform, 16))
        .col(string_len(BootEvents::Outcome, 32));
    if with_name {
        create.col(string_len_null(BootEvents::OrganizationName, 100));
    }
    create
        .foreign_key(&mut fk(
            "fk_boot_events_user",
            (t.clone(), BootEvents::UserId),
            (Users::Table, Users::Id),
            SetNull,
        ))
        .foreign_key(&mut fk(
            "fk_boot_events_org",
            (t.clone(), BootEvents::OrganizationId),
            (Organizations::Table, Organizations::Id),
            on_organization_delete,
        ))
        .foreign_key(&mut fk(
            "fk_boot_events_group",
            (t.clone(), BootEvents::GroupId),
            (Groups::Table, Groups::Id),
            SetNull,
        ))
        .foreign_key(&mut fk(
            "fk_boot_events_menu",
            (t.clone(), BootEvents::MenuId),
            (BootMenus::Table, BootMenus::Id),
            SetNull,
        ))
        .foreign_key(&mut fk(
            "fk_boot_events_image",
            (t, BootEvents::ImageId),
            (BootImages::Table, BootImages::Id),
            SetNull,
        ))
        .to_owned()
}

fn org_at_index() -> IndexCreateStatement {
    Index::create()
        .name("idx_boot_events_org_at")
        .table(BootEvents::Table)
        .col(BootEvents::OrganizationId)
        .col(BootEvents::At)
        .to_owned()
}

/// Rebuilds the SQLite boot log table under a new definition, keeping its rows.
///
/// One batch of statements on one connection, in one transaction: the pool's other
/// connections could otherwise still see the old schema between the steps.
async fn rebuild_on_sqlite(
    manager: &SchemaManager<'_>,
    definition: TableCreateStatement,
    columns: &str,
) -> Result<(), DbErr> {
    let create_table = definition.to_string(SqliteQueryBuilder);
    let create_index = org_at_index().to_string(SqliteQueryBuilder);
    let batch = format!(
        "BEGIN IMMEDIATE; \
         {create_table}; \
         INSERT INTO boot_events_new ({columns}) SELECT {columns} FROM boot_events; \
         DROP TABLE boot_events; \
         ALTER TABLE boot_events_new RENAME TO boot_events; \
         {create_index}; \
         COMMIT;"
    );
    manager.get_connection().execute_unprepared(&batch).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(boolean(Users::MustChangePassword).default(false))
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "ALTER TABLE boot_events ADD COLUMN organization_name varchar(100) NULL",
                )
                .await?;
                db.execute_unprepared("ALTER TABLE boot_events DROP CONSTRAINT fk_boot_events_org")
                    .await?;
                db.execute_unprepared(
                    "ALTER TABLE boot_events ADD CONSTRAINT fk_boot_events_org \
                     FOREIGN KEY (organization_id) REFERENCES organizations (id) \
                     ON DELETE SET NULL ON UPDATE CASCADE",
                )
                .await?;
            }
            _ => {
                rebuild_on_sqlite(
                    manager,
                    boot_events("boot_events_new", ForeignKeyAction::SetNull, true),
                    OLD_COLUMNS,
                )
                .await?;
            }
        }
        // Rows written before this migration get the organization's current name.
        db.execute_unprepared(
            "UPDATE boot_events SET organization_name = \
             (SELECT name FROM organizations WHERE organizations.id = boot_events.organization_id)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Rows whose organization is gone cannot go back under a cascading link.
        db.execute_unprepared("DELETE FROM boot_events WHERE organization_id IS NULL")
            .await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("ALTER TABLE boot_events DROP CONSTRAINT fk_boot_events_org")
                    .await?;
                db.execute_unprepared(
                    "ALTER TABLE boot_events ADD CONSTRAINT fk_boot_events_org \
                     FOREIGN KEY (organization_id) REFERENCES organizations (id) \
                     ON DELETE CASCADE ON UPDATE CASCADE",
                )
                .await?;
                db.execute_unprepared("ALTER TABLE boot_events DROP COLUMN organization_name")
                    .await?;
            }
            _ => {
                rebuild_on_sqlite(
                    manager,
                    boot_events("boot_events_new", ForeignKeyAction::Cascade, false),
                    OLD_COLUMNS,
                )
                .await?;
            }
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::MustChangePassword)
                    .to_owned(),
            )
            .await
    }
}
