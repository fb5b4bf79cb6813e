//! Boot menus of an organization and their ordered entries; managed by its admins.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession,
    sea_query::{Expr, ExprTrait},
};
use std::collections::{HashMap, HashSet};

pub use crate::forms::{MenuSettings, ValidSettings};
use crate::{
    boot::{BootMenu, MENU_ENTRIES_MAX, MenuEntry, MenuItem},
    error::AppError,
    model::{Choice, MenuRow, PAGE_SIZE, Page, Role},
    server::{
        actor::Actor,
        db,
        entities::{
            boot_image, boot_menu, group,
            menu_entry::{self, EntryKind},
        },
    },
};

const TITLE_TAKEN: &str = "This organization has a menu with this title.";

/// A stored entry row as a menu entry; a row that does not parse is a logged `Internal`.
pub fn entry_from_row(row: menu_entry::Model) -> Result<MenuEntry, AppError> {
    let corrupt = || {
        tracing::error!(entry_id = row.id, "a stored menu entry does not parse");
        AppError::Internal
    };
    let item = match row.kind {
        EntryKind::Image => MenuItem::Image {
            image_id: row.image_id.ok_or_else(corrupt)?,
        },
        EntryKind::Separator => MenuItem::Separator {
            text: row.text.clone().unwrap_or_default(),
        },
        EntryKind::Action => MenuItem::Action {
            action: row.action.ok_or_else(corrupt)?,
            url: row.url.clone(),
        },
    };
    Ok(MenuEntry {
        item,
        is_default: row.is_default,
    })
}

/// Loads a menu with its entries in order, without checking who asks.
pub async fn load(
    conn: &impl ConnectionTrait,
    organization_id: i32,
    menu_id: i32,
) -> Result<BootMenu, AppError> {
    let menu = boot_menu::Entity::find_by_id(menu_id)
        .filter(boot_menu::Column::OrganizationId.eq(organization_id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let rows = menu_entry::Entity::find()
        .filter(menu_entry::Column::MenuId.eq(menu_id))
        .order_by_asc(menu_entry::Column::Position)
        .all(conn)
        .await?;
    let entry_ids = rows.iter().map(|row| row.id).collect();
    let entries = rows
        .into_iter()
        .map(entry_from_row)
        .collect::<Result<_, _>>()?;
    Ok(BootMenu {
        id: menu.id,
        title: menu.title,
        background_url: menu.background_url,
        timeout_secs: menu.timeout_secs,
        version: menu.version,
        entries,
        entry_ids,
    })
}

/// How many entries each menu has, in one query for all of them.
async fn entry_counts(
    db: &impl db::Conn,
    menu_ids: Vec<i32>,
) -> Result<HashMap<i32, u64>, AppError> {
    Ok(menu_entry::Entity::find()
        .select_only()
        .column(menu_entry::Column::MenuId)
        .column_as(menu_entry::Column::Id.count(), "n")
        .filter(menu_entry::Column::MenuId.is_in(menu_ids))
        .group_by(menu_entry::Column::MenuId)
        .into_tuple::<(i32, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// A page of the organization's menus whose title contains `filter`, by title.
pub async fn list_page(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    filter: &str,
    page: u64,
) -> Result<Page<MenuRow>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let query = boot_menu::Entity::find()
        .filter(boot_menu::Column::OrganizationId.eq(organization_id))
        .filter(db::contains(boot_menu::Column::Title, filter))
        .order_by_asc(boot_menu::Column::Title);
    let total = query.clone().count(db).await?;
    let menus = query
        .offset(db::offset_of(page))
        .limit(PAGE_SIZE)
        .all(db)
        .await?;
    let counts = entry_counts(db, menus.iter().map(|m| m.id).collect()).await?;
    let items = menus
        .into_iter()
        .map(|menu| MenuRow {
            entry_count: counts.get(&menu.id).copied().unwrap_or(0),
            id: menu.id,
            title: menu.title,
        })
        .collect();
    Ok(db::to_page(items, total, page))
}

/// The organization's menus as choices (id and title), by title.
pub async fn choices(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
) -> Result<Vec<Choice>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let rows: Vec<(i32, String)> = boot_menu::Entity::find()
        .select_only()
        .column(boot_menu::Column::Id)
        .column(boot_menu::Column::Title)
        .filter(boot_menu::Column::OrganizationId.eq(organization_id))
        .order_by_asc(boot_menu::Column::Title)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, text)| Choice { id, text })
        .collect())
}

/// One menu with its entries.
pub async fn get(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    menu_id: i32,
) -> Result<BootMenu, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    load(db, organization_id, menu_id).await
}

/// Creates an empty menu.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id))]
pub async fn create(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    settings: &MenuSettings,
) -> Result<BootMenu, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let valid = settings.check()?;
    let now = Utc::now();
    let menu = boot_menu::ActiveModel {
        id: NotSet,
        organization_id: Set(organization_id),
        title: Set(valid.title.as_str().to_owned()),
        background_url: Set(valid.background_url.map(|u| u.as_str().to_owned())),
        timeout_secs: Set(valid.timeout_secs),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(db::conflict_on("title", TITLE_TAKEN))?;
    load(db, organization_id, menu.id).await
}

/// Checks entries against the organization's images; errors name `entries.N` (1-based).
pub async fn check_entries(
    conn: &impl ConnectionTrait,
    organization_id: i32,
    entries: &[MenuEntry],
) -> Result<Vec<MenuEntry>, AppError> {
    if entries.len() > MENU_ENTRIES_MAX {
        return Err(AppError::invalid(
            "entries",
            format!("A menu has at most {MENU_ENTRIES_MAX} entries."),
        ));
    }
    if entries.iter().filter(|e| e.is_default).count() > 1 {
        return Err(AppError::invalid(
            "entries",
            "Only one entry can be the default.",
        ));
    }
    let own_images: HashSet<i32> = boot_image::Entity::find()
        .select_only()
        .column(boot_image::Column::Id)
        .filter(boot_image::Column::OrganizationId.eq(organization_id))
        .into_tuple()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let field = format!("entries.{}", i + 1);
            if let MenuItem::Image { image_id } = &entry.item
                && !own_images.contains(image_id)
            {
                return Err(AppError::invalid(
                    field,
                    "This image does not exist (any more).",
                ));
            }
            crate::forms::check_entry(entry).map_err(|m| AppError::invalid(field, m))
        })
        .collect()
}

/// The row that stores an entry at its position.
pub fn entry_row(menu_id: i32, position: i32, entry: MenuEntry) -> menu_entry::ActiveModel {
    let (kind, image_id, text, action, url) = match entry.item {
        MenuItem::Image { image_id } => (EntryKind::Image, Some(image_id), None, None, None),
        MenuItem::Separator { text } => (EntryKind::Separator, None, Some(text), None, None),
        MenuItem::Action { action, url } => (EntryKind::Action, None, None, Some(action), url),
    };
    menu_entry::ActiveModel {
        id: NotSet,
        menu_id: Set(menu_id),
        position: Set(position),
        kind: Set(kind),
        image_id: Set(image_id),
        text: Set(text),
        action: Set(action),
        url: Set(url),
        is_default: Set(entry.is_default),
    }
}

/// Saves a menu as the editor has it (its settings, when given, and its entries in order), if
/// nobody saved since `expected_version`; returns the menu as saved. A stale version is a
/// `Conflict` on `version`, and nothing changes.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, menu_id, expected_version))]
pub async fn save(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    menu_id: i32,
    expected_version: i32,
    settings: Option<&MenuSettings>,
    entries: &[MenuEntry],
) -> Result<BootMenu, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let settings = settings.map(MenuSettings::check).transpose()?;
    let txn = db.begin().await?;
    let entries = check_entries(&txn, organization_id, entries).await?;
    // The version check and the bump are one statement, so two saves cannot both pass it.
    let mut bump = boot_menu::Entity::update_many()
        .col_expr(
            boot_menu::Column::Version,
            Expr::col(boot_menu::Column::Version).add(1),
        )
        .col_expr(boot_menu::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(valid) = settings {
        bump = bump
            .col_expr(boot_menu::Column::Title, Expr::value(valid.title.as_str()))
            .col_expr(
                boot_menu::Column::BackgroundUrl,
                Expr::value(valid.background_url.map(|u| u.as_str().to_owned())),
            )
            .col_expr(
                boot_menu::Column::TimeoutSecs,
                Expr::value(valid.timeout_secs),
            );
    }
    let bumped = bump
        .filter(boot_menu::Column::Id.eq(menu_id))
        .filter(boot_menu::Column::OrganizationId.eq(organization_id))
        .filter(boot_menu::Column::Version.eq(expected_version))
        .exec(&txn)
        .await
        .map_err(db::conflict_on("title", TITLE_TAKEN))?;
    if bumped.rows_affected == 0 {
        // Either the menu is gone (or foreign), or someone saved first.
        load(&txn, organization_id, menu_id).await?;
        return Err(AppError::conflict(
            "version",
            "Someone else saved this menu meanwhile. Reload it to see their changes.",
        ));
    }
    menu_entry::Entity::delete_many()
        .filter(menu_entry::Column::MenuId.eq(menu_id))
        .exec(&txn)
        .await?;
    if !entries.is_empty() {
        let rows = entries
            .into_iter()
            .enumerate()
            .map(|(i, entry)| entry_row(menu_id, i as i32, entry));
        menu_entry::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    let saved = load(&txn, organization_id, menu_id).await?;
    txn.commit().await?;
    Ok(saved)
}

/// The names of the groups that boot a menu: what deleting it would change.
pub async fn groups_using(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    menu_id: i32,
) -> Result<Vec<String>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    group::Entity::find()
        .select_only()
        .column(group::Column::Name)
        .filter(group::Column::OrganizationId.eq(organization_id))
        .filter(group::Column::MenuId.eq(menu_id))
        .order_by_asc(group::Column::Name)
        .into_tuple()
        .all(db)
        .await
        .map_err(AppError::from)
}

/// Deletes a menu; groups that booted it are left without a menu.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, menu_id))]
pub async fn delete(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    menu_id: i32,
) -> Result<(), AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let result = boot_menu::Entity::delete_many()
        .filter(boot_menu::Column::Id.eq(menu_id))
        .filter(boot_menu::Column::OrganizationId.eq(organization_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}
