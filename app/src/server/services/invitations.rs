//! Invitations: how an organization admin brings in an account that is not theirs.
//!
//! An organization admin may not enrol, list or look up accounts outside the organization
//! (security review, MEDIUM-4). They invite a *name* instead; the account with that name, if
//! any, sees the invitation on its dashboard and accepts or declines it. Inviting answers the
//! same, and the pending list looks the same, whether or not the name belongs to an account,
//! so neither tells the admin which names exist. Server admins add accounts directly
//! ([`organizations::add_member`](super::organizations::add_member)).

use chrono::{Duration, SecondsFormat, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionSession,
};

use super::organizations::admins_key;
use crate::{
    error::AppError,
    model::{InvitationRow, MyInvitation, Role},
    server::{
        actor::Actor,
        db,
        entities::{invitation, organization, organization_member, user},
    },
    validate::Username,
};

/// How long an invitation waits to be accepted.
pub const VALID_FOR: Duration = Duration::days(14);

/// At most this many invitations wait in one organization, so that a script cannot fill the
/// table.
pub const MAX_PENDING: u64 = 1000;

fn rfc3339(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Invites `username` into the organization with `role`, or renews the name's invitation
/// with the new role. Only a member of the organization is refused (its admins see the
/// members anyway); any other name that parses gets the same answer and the same work.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, role = %role))]
pub async fn invite(
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
    let member = organization_member::Entity::find()
        .inner_join(user::Entity)
        .filter(organization_member::Column::OrganizationId.eq(organization_id))
        .filter(user::Column::Username.eq(username.as_str()))
        .one(&txn)
        .await?;
    if member.is_some() {
        return Err(AppError::conflict(
            "username",
            "This user is a member of the organization already.",
        ));
    }
    let now = Utc::now();
    let existing = invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.eq(organization_id))
        .filter(invitation::Column::Username.eq(username.as_str()))
        .one(&txn)
        .await?;
    let mut row = match existing {
        Some(found) => found.into(),
        None => {
            let pending = invitation::Entity::find()
                .filter(invitation::Column::OrganizationId.eq(organization_id))
                .filter(invitation::Column::ExpiresAt.gt(now))
                .count(&txn)
                .await?;
            if pending >= MAX_PENDING {
                return Err(AppError::conflict(
                    "username",
                    format!("{MAX_PENDING} invitations are waiting already; cancel some first."),
                ));
            }
            invitation::ActiveModel {
                id: NotSet,
                organization_id: Set(organization_id),
                username: Set(username.as_str().to_owned()),
                ..Default::default()
            }
        }
    };
    row.role = Set(role);
    row.invited_by = Set(actor.username.clone());
    row.created_at = Set(now);
    row.expires_at = Set(now + VALID_FOR);
    row.save(&txn).await?;
    txn.commit().await?;
    tracing::info!(username = %username, "invited");
    Ok(())
}

/// The organization's pending invitations, by name; its admins may see them.
pub async fn pending(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
) -> Result<Vec<InvitationRow>, AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let rows = invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.eq(organization_id))
        .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
        .order_by_asc(invitation::Column::Username)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(InvitationRow {
                id: row.id,
                role: row.role,
                username: row.username,
                invited_by: row.invited_by,
                expires_at: rfc3339(row.expires_at),
            })
        })
        .collect()
}

/// Withdraws an invitation; the organization's admins may.
#[tracing::instrument(skip_all, fields(actor = %actor.username, organization_id, invitation_id))]
pub async fn cancel(
    db: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    invitation_id: i32,
) -> Result<(), AppError> {
    actor.require_role(db, organization_id, Role::Admin).await?;
    let deleted = invitation::Entity::delete_many()
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::OrganizationId.eq(organization_id))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The invitations waiting for the actor, oldest first.
pub async fn mine(db: &impl db::Conn, actor: &Actor) -> Result<Vec<MyInvitation>, AppError> {
    if actor.user_id.is_none() {
        return Ok(Vec::new());
    }
    let rows = invitation::Entity::find()
        .find_also_related(organization::Entity)
        .filter(invitation::Column::Username.eq(actor.username.as_str()))
        .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
        .order_by_asc(invitation::Column::CreatedAt)
        .all(db)
        .await?;
    rows.into_iter()
        .filter_map(|(row, org)| Some((row, org?)))
        .map(|(row, org)| {
            Ok(MyInvitation {
                id: row.id,
                organization_name: org.name,
                role: row.role,
                invited_by: row.invited_by,
                expires_at: rfc3339(row.expires_at),
            })
        })
        .collect()
}

/// One of the actor's own pending invitations, or `NotFound` (someone else's looks the same
/// as none).
async fn own(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    invitation_id: i32,
) -> Result<invitation::Model, AppError> {
    if actor.user_id.is_none() {
        return Err(AppError::NotFound);
    }
    invitation::Entity::find_by_id(invitation_id)
        .filter(invitation::Column::Username.eq(actor.username.as_str()))
        .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// Accepts one of the actor's invitations: they become a member with its role (a member
/// already keeps their role). Answers the organization's id.
#[tracing::instrument(skip_all, fields(actor = %actor.username, invitation_id))]
pub async fn accept(
    db: &impl db::Conn,
    actor: &Actor,
    invitation_id: i32,
) -> Result<i32, AppError> {
    let Some(user_id) = actor.user_id else {
        return Err(AppError::NotFound);
    };
    let txn = db.begin().await?;
    let found = own(&txn, actor, invitation_id).await?;
    let organization_id = found.organization_id;
    db::serialize(&txn, &admins_key(organization_id)).await?;
    // Read again under the lock: a cancel or a second accept may have come first.
    let found = own(&txn, actor, invitation_id).await?;
    let role = found.role;
    let already = organization_member::Entity::find_by_id((organization_id, user_id))
        .one(&txn)
        .await?;
    if already.is_none() {
        organization_member::ActiveModel {
            organization_id: Set(organization_id),
            user_id: Set(user_id),
            role: Set(role),
            created_at: Set(Utc::now()),
            shows_email: Set(false),
        }
        .insert(&txn)
        .await?;
    }
    invitation::Entity::delete_by_id(found.id)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    tracing::info!(organization_id, role = %role, "accepted an invitation");
    Ok(organization_id)
}

/// Declines one of the actor's invitations; the organization may invite them again.
#[tracing::instrument(skip_all, fields(actor = %actor.username, invitation_id))]
pub async fn decline(
    db: &impl db::Conn,
    actor: &Actor,
    invitation_id: i32,
) -> Result<(), AppError> {
    let found = own(db, actor, invitation_id).await?;
    invitation::Entity::delete_by_id(found.id).exec(db).await?;
    Ok(())
}

/// Deletes invitations past their expiry; answers how many.
pub async fn prune(db: &impl db::Conn) -> Result<u64, AppError> {
    let deleted = invitation::Entity::delete_many()
        .filter(invitation::Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
