//! The members of an organization and their roles, for its admins.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{AddOutcome, MemberRow, Page},
};

#[cfg(feature = "ssr")]
fn parse_role(role: &str) -> Result<crate::model::Role, AppError> {
    crate::model::Role::parse(role)
        .ok_or_else(|| AppError::invalid("role", "Choose a role: admin or member."))
}

/// Checks the fields of a new account; errors name the field.
#[cfg(feature = "ssr")]
pub(crate) fn parse_new_user(
    username: &str,
    email: &str,
    password: &str,
    server_admin: bool,
) -> Result<crate::server::services::accounts::NewUser, AppError> {
    use crate::validate::{Email, NewPassword, Username};
    Ok(crate::server::services::accounts::NewUser {
        username: Username::parse(username).map_err(|m| AppError::invalid("username", m))?,
        email: Email::parse_optional(email).map_err(|m| AppError::invalid("email", m))?,
        password: NewPassword::parse(password).map_err(|m| AppError::invalid("password", m))?,
        is_server_admin: server_admin,
    })
}

/// A page of the organization's members whose name or email contains `filter`.
#[server(endpoint = "members")]
pub async fn members(
    organization_id: i32,
    filter: String,
    page: u64,
) -> Result<Page<MemberRow>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::organizations;

    let actor = actor().await?;
    organizations::members_page(&state()?.db, &actor, organization_id, &filter, page).await
}

/// Adds an existing user to the organization with a role: a server admin adds the account
/// at once; an organization admin invites the name, and the answer is the same whether or not
/// it belongs to an account (only a current member is refused).
#[server(endpoint = "add_member")]
pub async fn add_member(
    organization_id: i32,
    username: String,
    role: String,
) -> Result<AddOutcome, AppError> {
    use super::context::{actor, state};
    use crate::{
        server::services::{invitations, organizations},
        validate::Username,
    };

    let actor = actor().await?;
    let db = &state()?.db;
    // Authorized before the name is judged, so outsiders learn nothing from the answer.
    actor
        .require_role(db, organization_id, crate::model::Role::Admin)
        .await?;
    let role = parse_role(&role)?;
    let username = Username::parse(&username).map_err(|m| AppError::invalid("username", m))?;
    if actor.is_server_admin {
        organizations::add_member(db, &actor, organization_id, &username, role).await?;
        Ok(AddOutcome::Added)
    } else {
        invitations::invite(db, &actor, organization_id, &username, role).await?;
        Ok(AddOutcome::Invited)
    }
}

/// Creates an account and makes it a member of the organization.
#[server(endpoint = "create_member")]
pub async fn create_member(
    organization_id: i32,
    username: String,
    email: String,
    password: String,
    role: String,
) -> Result<MemberRow, AppError> {
    use super::context::{actor, state};
    use crate::server::services::organizations;

    let actor = actor().await?;
    let state = state()?;
    actor
        .require_role(&state.db, organization_id, crate::model::Role::Admin)
        .await?;
    let role = parse_role(&role)?;
    let new = parse_new_user(&username, &email, &password, false)?;
    organizations::create_member(
        &state.db,
        &state.hasher,
        &actor,
        organization_id,
        new,
        role,
        state.settings.throttle_window,
    )
    .await
}

/// Changes a member's role.
#[server(endpoint = "set_member_role")]
pub async fn set_member_role(
    organization_id: i32,
    user_id: i32,
    role: String,
) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::organizations;

    let actor = actor().await?;
    let role = parse_role(&role)?;
    organizations::set_role(&state()?.db, &actor, organization_id, user_id, role).await
}

/// Removes a member from the organization and its groups (never its last admin).
#[server(endpoint = "remove_member")]
pub async fn remove_member(organization_id: i32, user_id: i32) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::organizations;

    let actor = actor().await?;
    organizations::remove_member(&state()?.db, &actor, organization_id, user_id).await
}
