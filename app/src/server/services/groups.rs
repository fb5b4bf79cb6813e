//! Groups of an organization's users, and the menu each boots.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession,
};
use std::collections::HashMap;

use crate::{
    boot::BootMenu,
    error::AppError,
    model::{GroupDetail, GroupRow, PAGE_SIZE, Page, Role},
    server::{
        actor::Actor,
        db,
        entities::{boot_menu, group, group_member, organization_member, user},
        services::menus,
    },
    validate::Username,
};

const NAME_TAKEN: &str = "This organization has a group with this name.";
/// A group as a form submits it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupForm {
    pub name: String,
    pub description: String,
    pub menu_id: Option<i32>,
}

async fn check_form(
    conn: &impl ConnectionTrait,
    organization_id: i32,
    form: &GroupForm,
) -> Result<(String, String), AppError> {
    let (name, description) = crate::forms::parse_named(&form.name, &form.description, "group")?;
    if let Some(menu_id) = form.menu_id {
        let own = boot_menu::Entity::find_by_id(menu_id)
            .filter(boot_menu::Column::OrganizationId.eq(organization_id))
            .one(conn)
            .await?;
        if own.is_none() {
            return Err(AppError::invalid(
                "menu_id",
                "Choose one of this organization's menus.",
            ));
        }
    }
    Ok((name.as_str().to_owned(), description))
}

async fn find(
    conn: &impl ConnectionTrait,
    organization_id: i32,
    group_id: i32,
) -> Result<group::Model, AppError> {
    group::Entity::find_by_id(group_id)
        .filter(group::Column::OrganizationId.eq(organization_id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// A page of the organization's groups whose name contains `filter`, by name, with the title
/// of the menu each boots.
pub async fn list_page(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    filter: &str,
    page: u64,
) -> Result<Page<GroupRow>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let query = group::Entity::find()
        .filter(group::Column::OrganizationId.eq(organization_id))
        .filter(db::contains(group::Column::Name, filter))
        .order_by_asc(group::Column::Name);
    let total = query.clone().count(db).await?;
    let groups = query
        .offset(db::offset_of(page))
        .limit(PAGE_SIZE)
        .all(db)
        .await?;
    Ok(db::to_page(rows(db, groups).await?, total, page))
}

/// Groups as listed: with their member counts and menu titles, in two queries for all.
async fn rows(db: &impl db::Conn, groups: Vec<group::Model>) -> Result<Vec<GroupRow>, AppError> {
    let ids: Vec<i32> = groups.iter().map(|g| g.id).collect();
    let counts: HashMap<i32, i64> = group_member::Entity::find()
        .select_only()
        .column(group_member::Column::GroupId)
        .column_as(group_member::Column::UserId.count(), "n")
        .filter(group_member::Column::GroupId.is_in(ids))
        .group_by(group_member::Column::GroupId)
        .into_tuple::<(i32, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let menu_ids: Vec<i32> = groups.iter().filter_map(|g| g.menu_id).collect();
    let titles: HashMap<i32, String> = boot_menu::Entity::find()
        .select_only()
        .column(boot_menu::Column::Id)
        .column(boot_menu::Column::Title)
        .filter(boot_menu::Column::Id.is_in(menu_ids))
        .into_tuple::<(i32, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(groups
        .into_iter()
        .map(|g| GroupRow {
            member_count: u64::try_from(counts.get(&g.id).copied().unwrap_or(0)).unwrap_or(0),
            menu_title: g.menu_id.and_then(|id| titles.get(&id).cloned()),
            id: g.id,
            name: g.name,
            description: g.description,
            menu_id: g.menu_id,
        })
        .collect())
}

/// One group with its members, for its edit page.
pub async fn detail(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    group_id: i32,
) -> Result<GroupDetail, AppError> {
    let members = members(db, actor, organization_id, group_id).await?;
    let group = find(db, organization_id, group_id).await?;
    let group = rows(db, vec![group])
        .await?
        .pop()
        .ok_or(AppError::NotFound)?;
    Ok(GroupDetail { group, members })
}

/// Creates a group.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id))]
pub async fn create(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    form: &GroupForm,
) -> Result<group::Model, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let (name, description) = check_form(db, organization_id, form).await?;
    let now = Utc::now();
    group::ActiveModel {
        id: NotSet,
        organization_id: Set(organization_id),
        name: Set(name),
        description: Set(description),
        menu_id: Set(form.menu_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(db::conflict_on("name", NAME_TAKEN))
}

/// Changes a group's name, description and menu.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, group_id))]
pub async fn update(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    group_id: i32,
    form: &GroupForm,
) -> Result<group::Model, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let current = find(db, organization_id, group_id).await?;
    let (name, description) = check_form(db, organization_id, form).await?;
    let mut active: group::ActiveModel = current.into();
    active.name = Set(name);
    active.description = Set(description);
    active.menu_id = Set(form.menu_id);
    active.updated_at = Set(Utc::now());
    active
        .update(db)
        .await
        .map_err(db::conflict_on("name", NAME_TAKEN))
}

/// The usernames of a group's members, in order.
pub async fn members(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    group_id: i32,
) -> Result<Vec<String>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    find(db, organization_id, group_id).await?;
    let user_ids: Vec<i32> = group_member::Entity::find()
        .select_only()
        .column(group_member::Column::UserId)
        .filter(group_member::Column::GroupId.eq(group_id))
        .into_tuple()
        .all(db)
        .await?;
    user::Entity::find()
        .select_only()
        .column(user::Column::Username)
        .filter(user::Column::Id.is_in(user_ids))
        .order_by_asc(user::Column::Username)
        .into_tuple()
        .all(db)
        .await
        .map_err(AppError::from)
}

/// Makes exactly these users the group's members; each must belong to the organization.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, group_id))]
pub async fn set_members(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    group_id: i32,
    usernames: &[Username],
) -> Result<(), AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let txn = db.begin().await?;
    find(&txn, organization_id, group_id).await?;
    let names: Vec<&str> = usernames.iter().map(Username::as_str).collect();
    let found: Vec<(i32, String)> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Username)
        .inner_join(organization_member::Entity)
        .filter(organization_member::Column::OrganizationId.eq(organization_id))
        .filter(user::Column::Username.is_in(names.iter().copied()))
        .into_tuple()
        .all(&txn)
        .await?;
    if let Some(missing) = names.iter().find(|n| !found.iter().any(|(_, f)| f == *n)) {
        return Err(AppError::invalid(
            "members",
            format!("`{missing}` is not a member of this organization."),
        ));
    }
    group_member::Entity::delete_many()
        .filter(group_member::Column::GroupId.eq(group_id))
        .exec(&txn)
        .await?;
    if !found.is_empty() {
        let rows = found.iter().map(|(user_id, _)| group_member::ActiveModel {
            group_id: Set(group_id),
            user_id: Set(*user_id),
        });
        group_member::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    Ok(txn.commit().await?)
}

/// Deletes a group (not its menu, nor its members' accounts).
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, group_id))]
pub async fn delete(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    group_id: i32,
) -> Result<(), AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let result = group::Entity::delete_many()
        .filter(group::Column::Id.eq(group_id))
        .filter(group::Column::OrganizationId.eq(organization_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The groups of the organization the actor belongs to, by name: what they may boot from.
pub async fn of_member(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
) -> Result<Vec<group::Model>, AppError> {
    let groups = match actor.user_id {
        None => Vec::new(),
        Some(user_id) => {
            let mut query = group::Entity::find()
                .inner_join(group_member::Entity)
                .filter(group::Column::OrganizationId.eq(organization_id))
                .filter(group_member::Column::UserId.eq(user_id));
            if !actor.is_server_admin {
                // Only while a member of the organization, checked in the same query: a boot
                // step reads this on every request.
                query = query.filter(
                    group::Column::OrganizationId.in_subquery(
                        sea_orm::sea_query::Query::select()
                            .column(organization_member::Column::OrganizationId)
                            .from(organization_member::Entity)
                            .and_where(organization_member::Column::UserId.eq(user_id))
                            .to_owned(),
                    ),
                );
            }
            query.order_by_asc(group::Column::Name).all(db).await?
        }
    };
    if groups.is_empty() {
        // None found: refused if not a member of the organization at all.
        actor
            .require_role(db, organization_id, Role::Member)
            .await?;
    }
    Ok(groups)
}

/// The menu a group boots, for one of its members; `None` when the group has no menu.
/// Anyone outside the group is refused as if the group did not exist.
pub async fn menu_for_member(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    group_id: i32,
) -> Result<Option<BootMenu>, AppError> {
    let group = of_member(db, actor, organization_id)
        .await?
        .into_iter()
        .find(|g| g.id == group_id)
        .ok_or(AppError::NotFound)?;
    match group.menu_id {
        Some(menu_id) => Ok(Some(menus::load(db, organization_id, menu_id).await?)),
        None => Ok(None),
    }
}
