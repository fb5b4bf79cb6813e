//! The boot log of an organization: who booted what, on which machine, when.

use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::{
    error::AppError,
    model::{BootLogRow, PAGE_SIZE, Page, Role},
    server::{actor::Actor, db, entities::boot_event},
};

/// A page of the organization's boot log, newest first; `filter` matches the user, the
/// machine (MAC or address) or the entry.
pub async fn page(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    filter: &str,
    page: u64,
) -> Result<Page<BootLogRow>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let query = boot_event::Entity::find()
        .filter(boot_event::Column::OrganizationId.eq(organization_id))
        .filter(
            Condition::any()
                .add(db::contains(boot_event::Column::Username, filter))
                .add(db::contains(boot_event::Column::ClientMac, filter))
                .add(db::contains(boot_event::Column::ClientIp, filter))
                .add(db::contains(boot_event::Column::EntryTitle, filter)),
        )
        .order_by_desc(boot_event::Column::At)
        .order_by_desc(boot_event::Column::Id);
    let total = query.clone().count(db).await?;
    let events = query
        .offset(db::offset_of(page))
        .limit(PAGE_SIZE)
        .all(db)
        .await?;
    let items = events
        .into_iter()
        .map(|event| BootLogRow {
            id: event.id,
            at: event.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            username: event.username,
            client_mac: event.client_mac,
            client_ip: event.client_ip,
            client_platform: event.client_platform,
            entry_title: event.entry_title,
            entry_kind: event.entry_kind,
            outcome: event.outcome,
        })
        .collect();
    Ok(db::to_page(items, total, page))
}

/// Deletes boot log rows older than `retention`; returns how many went.
pub async fn prune(
    conn: &impl sea_orm::ConnectionTrait,
    retention: std::time::Duration,
) -> Result<u64, AppError> {
    let result = boot_event::Entity::delete_many()
        .filter(boot_event::Column::At.lt(db::ago(retention)))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
