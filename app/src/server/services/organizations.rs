//! Organizations and their members.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession,
};
use std::collections::HashMap;

use crate::{
    error::AppError,
    model::{
        MemberRow, OrganizationContents, OrganizationDetail, OrganizationSummary, PAGE_SIZE, Page,
        Role,
    },
    server::{
        actor::Actor,
        db,
        entities::{boot_image, boot_menu, group, organization, organization_member, user},
    },
    server::{
        password::PasswordHasher,
        services::{accounts, throttle},
    },
    validate::{Label, Username},
};

async fn counts_by_org<E, C>(
    conn: &impl ConnectionTrait,
    column: C,
    ids: &[i32],
) -> Result<HashMap<i32, u64>, AppError>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    let rows: Vec<(i32, i64)> = E::find()
        .select_only()
        .column(column)
        .column_as(column.count(), "n")
        .filter(column.is_in(ids.iter().copied()))
        .group_by(column)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, n)| (id, n.max(0) as u64))
        .collect())
}

/// The organizations the actor belongs to (a server admin: all of them), by name.
pub async fn list_for(
    db: &impl db::Conn,
    actor: &Actor,
) -> Result<Vec<OrganizationSummary>, AppError> {
    let memberships: HashMap<i32, Role> = match actor.user_id {
        Some(user_id) => organization_member::Entity::find()
            .filter(organization_member::Column::UserId.eq(user_id))
            .all(db)
            .await?
            .into_iter()
            .map(|m| (m.organization_id, m.role))
            .collect(),
        None => HashMap::new(),
    };
    let mut query = organization::Entity::find().order_by_asc(organization::Column::Name);
    if !actor.is_server_admin {
        query = query.filter(organization::Column::Id.is_in(memberships.keys().copied()));
    }
    let organizations = query.all(db).await?;
    let ids: Vec<i32> = organizations.iter().map(|o| o.id).collect();
    let members = counts_by_org::<organization_member::Entity, _>(
        db,
        organization_member::Column::OrganizationId,
        &ids,
    )
    .await?;
    let groups = counts_by_org::<group::Entity, _>(db, group::Column::OrganizationId, &ids).await?;
    Ok(organizations
        .into_iter()
        .map(|o| OrganizationSummary {
            role: memberships.get(&o.id).copied(),
            member_count: members.get(&o.id).copied().unwrap_or(0),
            group_count: groups.get(&o.id).copied().unwrap_or(0),
            id: o.id,
            name: o.name,
            description: o.description,
        })
        .collect())
}

/// How many organizations the actor is a member of (whatever their role).
pub async fn membership_count(db: &impl db::Conn, actor: &Actor) -> Result<u64, AppError> {
    let Some(user_id) = actor.user_id else {
        return Ok(0);
    };
    Ok(organization_member::Entity::find()
        .filter(organization_member::Column::UserId.eq(user_id))
        .count(db)
        .await?)
}

/// Parses an organization's name and description.
pub fn parse_details(name: &str, description: &str) -> Result<(Label, String), AppError> {
    crate::forms::parse_named(name, description, "organization")
}

/// Creates an organization; only a server admin may.
#[tracing::instrument(skip_all, fields(actor = %actor.username, name))]
pub async fn create(
    db: &impl db::Conn,
    actor: &Actor,
    name: &str,
    description: &str,
) -> Result<organization::Model, AppError> {
    actor.require_server_admin()?;
    let (name, description) = parse_details(name, description)?;
    let txn = db.begin().await?;
    ensure_name_free(&txn, &name, None).await?;
    let now = Utc::now();
    let created = organization::ActiveModel {
        id: NotSet,
        name: Set(name.as_str().to_owned()),
        description: Set(description),
        file_quota: NotSet,
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(db::conflict_on("name", NAME_TAKEN))?;
    txn.commit().await?;
    Ok(created)
}

const NAME_TAKEN: &str = "An organization with this name exists.";

/// How names are compared: in NFKC form and ignoring case, so that "Ｌａｂ" (full-width),
/// "LAB" and "Lab" are one name and none can pose as another.
pub fn name_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfkc().flat_map(char::to_lowercase).collect()
}

/// Refuses a name that compares equal to another organization's (`except` is the one being
/// renamed). Names are checked one at a time, so that two creations cannot both pass.
async fn ensure_name_free(
    conn: &impl ConnectionTrait,
    name: &Label,
    except: Option<i32>,
) -> Result<(), AppError> {
    db::serialize(conn, "organization-names").await?;
    let key = name_key(name.as_str());
    let taken = organization::Entity::find()
        .select_only()
        .column(organization::Column::Id)
        .column(organization::Column::Name)
        .into_tuple::<(i32, String)>()
        .all(conn)
        .await?
        .into_iter()
        .any(|(id, other)| Some(id) != except && name_key(&other) == key);
    if taken {
        Err(AppError::conflict("name", NAME_TAKEN))
    } else {
        Ok(())
    }
}

/// One organization, for its members and server admins.
pub async fn get(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
) -> Result<organization::Model, AppError> {
    actor
        .require_role(db, organization_id, Role::Member)
        .await?;
    organization::Entity::find_by_id(organization_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Renames and re-describes an organization; its admins and server admins may.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id))]
pub async fn update(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    name: &str,
    description: &str,
) -> Result<organization::Model, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let (name, description) = parse_details(name, description)?;
    let txn = db.begin().await?;
    ensure_name_free(&txn, &name, Some(organization_id)).await?;
    let current = organization::Entity::find_by_id(organization_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut active: organization::ActiveModel = current.into();
    active.name = Set(name.as_str().to_owned());
    active.description = Set(description);
    active.updated_at = Set(Utc::now());
    let updated = active
        .update(&txn)
        .await
        .map_err(db::conflict_on("name", NAME_TAKEN))?;
    txn.commit().await?;
    Ok(updated)
}

/// Counts what an organization holds.
pub async fn contents(
    conn: &impl ConnectionTrait,
    organization_id: i32,
) -> Result<OrganizationContents, AppError> {
    let ids = [organization_id];
    let count = |counts: HashMap<i32, u64>| counts.get(&organization_id).copied().unwrap_or(0);
    Ok(OrganizationContents {
        members: count(
            counts_by_org::<organization_member::Entity, _>(
                conn,
                organization_member::Column::OrganizationId,
                &ids,
            )
            .await?,
        ),
        groups: count(
            counts_by_org::<group::Entity, _>(conn, group::Column::OrganizationId, &ids).await?,
        ),
        menus: count(
            counts_by_org::<boot_menu::Entity, _>(conn, boot_menu::Column::OrganizationId, &ids)
                .await?,
        ),
        images: count(
            counts_by_org::<boot_image::Entity, _>(conn, boot_image::Column::OrganizationId, &ids)
                .await?,
        ),
    })
}

/// An organization with its counts, for its admins and server admins.
pub async fn detail(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
) -> Result<OrganizationDetail, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let organization = organization::Entity::find_by_id(organization_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(OrganizationDetail {
        role: actor.role_in(db, organization_id).await?,
        contents: contents(db, organization_id).await?,
        id: organization.id,
        name: organization.name,
        description: organization.description,
    })
}

/// Deletes an organization; only a server admin may. Refused while it holds groups, menus or
/// images, unless `cascade` says to delete them too.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, cascade))]
pub async fn delete(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    cascade: bool,
) -> Result<(), AppError> {
    actor.require_server_admin()?;
    let txn = db.begin().await?;
    let contents = contents(&txn, organization_id).await?;
    if !cascade && !contents.is_empty() {
        return Err(AppError::conflict(
            "organization",
            format!(
                "This organization still has {} groups, {} menus and {} images; delete them first or confirm deleting everything.",
                contents.groups, contents.menus, contents.images
            ),
        ));
    }
    let result = organization::Entity::delete_by_id(organization_id)
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(txn.commit().await?)
}

/// A page of an organization's members whose name (or visible email) contains `filter`, by
/// name; its admins and server admins may see them.
///
/// An organization admin sees the email only of accounts created in the organization
/// (`shows_email`), and the filter matches only the emails they see: a search must not tell
/// them another account's email either.
pub async fn members_page(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    filter: &str,
    page: u64,
) -> Result<Page<MemberRow>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let mut email_matches = Condition::all().add(db::contains(user::Column::Email, filter));
    if !actor.is_server_admin {
        email_matches = email_matches.add(organization_member::Column::ShowsEmail.eq(true));
    }
    let query = organization_member::Entity::find()
        .filter(organization_member::Column::OrganizationId.eq(organization_id))
        .find_also_related(user::Entity)
        .filter(
            Condition::any()
                .add(db::contains(user::Column::Username, filter))
                .add(email_matches),
        )
        .order_by_asc(user::Column::Username);
    let total = query.clone().count(db).await?;
    let rows = query
        .offset(db::offset_of(page))
        .limit(PAGE_SIZE)
        .all(db)
        .await?;
    let items = rows
        .into_iter()
        .filter_map(|(membership, user)| {
            let user = user?;
            let email = if actor.is_server_admin || membership.shows_email {
                user.email
            } else {
                None
            };
            Some(MemberRow {
                user_id: user.id,
                username: user.username,
                email,
                role: membership.role,
            })
        })
        .collect();
    Ok(db::to_page(items, total, page))
}

/// Adds an existing user to an organization with a role, at once; refused for a member
/// already there. Only server admins may: an organization admin invites instead
/// ([`invitations::invite`](super::invitations::invite)).
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, username = %username))]
pub async fn add_member(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    username: &Username,
    role: Role,
) -> Result<(), AppError> {
    actor.require_server_admin()?;
    organization::Entity::find_by_id(organization_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let user = user::Entity::find()
        .filter(user::Column::Username.eq(username.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| AppError::invalid("username", "There is no user with this name."))?;
    organization_member::ActiveModel {
        organization_id: Set(organization_id),
        user_id: Set(user.id),
        role: Set(role),
        created_at: Set(Utc::now()),
        shows_email: Set(false),
    }
    .insert(db)
    .await
    .map_err(db::conflict_on(
        "username",
        "This user is a member of the organization already.",
    ))?;
    Ok(())
}

/// At most this many "name taken" answers per organization admin within the throttle window:
/// each one tells them that an account exists.
pub const MAX_TAKEN_NAMES: u64 = 10;

/// Creates an account and makes it a member of the organization, in one go; its admins and
/// server admins may. The organization's admins may see the account's email.
///
/// A taken name must be told, but it also tells an organization admin that the account
/// exists; so every attempt of theirs counts against [`MAX_TAKEN_NAMES`] until the account is
/// made, and past it they wait (429).
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, username = %new.username))]
pub async fn create_member(
    db: &impl db::Conn,
    hasher: &PasswordHasher,
    actor: &Actor,
    organization_id: i32,
    new: accounts::NewUser,
    role: Role,
    throttle_window: std::time::Duration,
) -> Result<MemberRow, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    if new.is_server_admin {
        actor.require_server_admin()?;
    }
    let reservation = match (actor.is_server_admin, actor.user_id) {
        (false, Some(user_id)) => {
            let subject = throttle::Subject::taken_names(user_id, MAX_TAKEN_NAMES);
            Some(throttle::reserve(db, &[subject], throttle_window).await?)
        }
        _ => None,
    };
    let hash = hasher.hash(new.password.expose()).await?;
    let txn = db.begin().await?;
    let now = Utc::now();
    let user = accounts::insert_user(
        &txn,
        &new.username,
        new.email.as_ref(),
        new.is_server_admin,
        hash,
    )
    .await?;
    organization_member::ActiveModel {
        organization_id: Set(organization_id),
        user_id: Set(user.id),
        role: Set(role),
        created_at: Set(now),
        shows_email: Set(true),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    if let Some(reservation) = reservation {
        throttle::release(db, reservation).await?;
    }
    Ok(MemberRow {
        user_id: user.id,
        username: user.username,
        email: user.email,
        role,
    })
}

/// Changes a member's role; the last admin stays an admin.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, user_id))]
pub async fn set_role(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    user_id: i32,
    role: Role,
) -> Result<(), AppError> {
    let txn = db.begin().await?;
    db::serialize(&txn, &admins_key(organization_id)).await?;
    // Checked under the lock: an admin demoted a moment ago is refused.
    actor
        .require_role(&txn, organization_id, Role::Admin)
        .await?;
    let membership = organization_member::Entity::find_by_id((organization_id, user_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if membership.role == Role::Admin && role != Role::Admin {
        ensure_another_admin(&txn, organization_id, user_id).await?;
    }
    let mut active: organization_member::ActiveModel = membership.into();
    active.role = Set(role);
    active.update(&txn).await?;
    Ok(txn.commit().await?)
}

/// Adds an existing user to an organization with a role, or changes their role.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, username = %username))]
pub async fn set_member(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    username: &Username,
    role: Role,
) -> Result<(), AppError> {
    let txn = db.begin().await?;
    db::serialize(&txn, &admins_key(organization_id)).await?;
    // Checked under the lock: an admin demoted a moment ago is refused.
    actor
        .require_role(&txn, organization_id, Role::Admin)
        .await?;
    organization::Entity::find_by_id(organization_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let user = user::Entity::find()
        .filter(user::Column::Username.eq(username.as_str()))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::invalid("username", "There is no user with this name."))?;
    let existing = organization_member::Entity::find_by_id((organization_id, user.id))
        .one(&txn)
        .await?;
    match existing {
        Some(membership) => {
            if membership.role == Role::Admin && role != Role::Admin {
                ensure_another_admin(&txn, organization_id, user.id).await?;
            }
            let mut active: organization_member::ActiveModel = membership.into();
            active.role = Set(role);
            active.update(&txn).await?;
        }
        None => {
            organization_member::ActiveModel {
                organization_id: Set(organization_id),
                user_id: Set(user.id),
                role: Set(role),
                created_at: Set(Utc::now()),
                shows_email: Set(false),
            }
            .insert(&txn)
            .await?;
        }
    }
    Ok(txn.commit().await?)
}

/// Removes a user from an organization (and so from its groups); never its last admin.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, user_id))]
pub async fn remove_member(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    user_id: i32,
) -> Result<(), AppError> {
    let txn = db.begin().await?;
    db::serialize(&txn, &admins_key(organization_id)).await?;
    // Checked under the lock: an admin demoted a moment ago is refused.
    actor
        .require_role(&txn, organization_id, Role::Admin)
        .await?;
    let membership = organization_member::Entity::find_by_id((organization_id, user_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if membership.role == Role::Admin {
        ensure_another_admin(&txn, organization_id, user_id).await?;
    }
    let group_ids: Vec<i32> = group::Entity::find()
        .select_only()
        .column(group::Column::Id)
        .filter(group::Column::OrganizationId.eq(organization_id))
        .into_tuple()
        .all(&txn)
        .await?;
    crate::server::entities::group_member::Entity::delete_many()
        .filter(crate::server::entities::group_member::Column::UserId.eq(user_id))
        .filter(crate::server::entities::group_member::Column::GroupId.is_in(group_ids))
        .exec(&txn)
        .await?;
    organization_member::Entity::delete_by_id((organization_id, user_id))
        .exec(&txn)
        .await?;
    Ok(txn.commit().await?)
}

/// The key that changes to an organization's admins are serialized on, so that two admins
/// demoting each other at once cannot leave it without one.
pub(crate) fn admins_key(organization_id: i32) -> String {
    format!("organization:{organization_id}:admins")
}

async fn ensure_another_admin(
    conn: &impl ConnectionTrait,
    organization_id: i32,
    leaving_user_id: i32,
) -> Result<(), AppError> {
    let others = organization_member::Entity::find()
        .filter(organization_member::Column::OrganizationId.eq(organization_id))
        .filter(organization_member::Column::Role.eq(Role::Admin))
        .filter(organization_member::Column::UserId.ne(leaving_user_id))
        .count(conn)
        .await?;
    if others == 0 {
        Err(AppError::conflict(
            "role",
            "An organization keeps at least one admin; make someone else admin first.",
        ))
    } else {
        Ok(())
    }
}
