//! User accounts, for server admins.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{Page, UserRow},
};

/// A page of accounts whose name or email contains `filter`.
#[server(endpoint = "users")]
pub async fn users(filter: String, page: u64) -> Result<Page<UserRow>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::accounts;

    let actor = actor().await?;
    accounts::users_page(&state()?.db, &actor, &filter, page).await
}

/// Creates an account.
#[server(endpoint = "create_user")]
pub async fn create_user(
    username: String,
    email: String,
    password: String,
    server_admin: bool,
) -> Result<UserRow, AppError> {
    use super::context::{actor, state};
    use crate::server::services::accounts;

    let actor = actor().await?;
    let state = state()?;
    let new = super::members::parse_new_user(&username, &email, &password, server_admin)?;
    let user = accounts::create_user(&state.db, &state.hasher, &actor, new).await?;
    Ok(accounts::to_row(user))
}

/// Disables an account (its sessions stop working) or enables it again.
#[server(endpoint = "set_user_disabled")]
pub async fn set_user_disabled(user_id: i32, disabled: bool) -> Result<UserRow, AppError> {
    use super::context::{actor, state};
    use crate::server::services::accounts;

    let actor = actor().await?;
    accounts::set_disabled(&state()?.db, &actor, user_id, disabled).await
}

/// Grants or takes back the server-admin right.
#[server(endpoint = "set_server_admin")]
pub async fn set_server_admin(user_id: i32, admin: bool) -> Result<UserRow, AppError> {
    use super::context::{actor, state};
    use crate::server::services::accounts;

    let actor = actor().await?;
    accounts::set_server_admin(&state()?.db, &actor, user_id, admin).await
}

/// Sets a new password for an account.
#[server(endpoint = "reset_password")]
pub async fn reset_password(user_id: i32, password: String) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::{server::services::accounts, validate::NewPassword};

    let actor = actor().await?;
    let state = state()?;
    let password = NewPassword::parse(&password).map_err(|m| AppError::invalid("password", m))?;
    accounts::reset_password(&state.db, &state.hasher, &actor, user_id, &password).await
}
