//! Signing in and out, the current user, and changing one's own password.

use leptos::prelude::*;

use crate::{error::AppError, model::SignedInUser};

/// Who is signed in, if anyone.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<SignedInUser>, AppError> {
    let signed_in = super::context::signed_in().await?;
    Ok(signed_in.and_then(|s| {
        Some(SignedInUser {
            id: s.actor.user_id?,
            username: s.actor.username,
            is_server_admin: s.actor.is_server_admin,
            must_change_password: s.must_change_password,
        })
    }))
}

/// Signs in with a username and password, then goes to the dashboard.
#[server(endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<(), AppError> {
    use super::context::{client_address, session, session_error, sign_in_session, state};
    use crate::server::services::accounts::{self, Attempt};

    let state = state()?;
    let attempt = Attempt {
        username: &username,
        password: &password,
        client_address: client_address().await,
    };
    let user = accounts::authenticate(&state.db, &state.hasher, &state.settings, attempt).await?;
    let session = session().await?;
    // A new id at sign-in, so that a planted session id is worth nothing.
    session.cycle_id().await.map_err(session_error)?;
    sign_in_session(&session, &user).await?;
    // A generated password is replaced first: straight to the page for it.
    leptos_axum::redirect(if user.must_change_password {
        crate::components::layout::PASSWORD_PAGE
    } else {
        "/"
    });
    Ok(())
}

/// Signs out and forgets the session.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use super::context::{session, session_error};
    session().await?.flush().await.map_err(session_error)?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// Changes the signed-in user's password.
#[server(endpoint = "change_password")]
pub async fn change_password(
    current: String,
    new: String,
    confirm: String,
) -> Result<(), AppError> {
    use super::context::{session, sign_in_session, signed_in, state};
    use crate::{server::services::accounts, validate::NewPassword};

    let signed_in = signed_in().await?.ok_or(AppError::Unauthenticated)?;
    let actor = signed_in.actor;
    let state = state()?;
    if current.is_empty() {
        return Err(AppError::invalid("current", "Enter your current password."));
    }
    let new = NewPassword::parse(&new).map_err(|m| AppError::invalid("new", m))?;
    if new.expose() != confirm {
        return Err(AppError::invalid("confirm", "The passwords do not match."));
    }
    let user = accounts::change_own_password(
        &state.db,
        &state.hasher,
        &state.settings,
        &actor,
        super::context::client_address().await.as_deref(),
        &current,
        &new,
    )
    .await?;
    if signed_in.must_change_password {
        if let Some(file) = &state.settings.first_password_file
            && std::fs::remove_file(file).is_ok()
        {
            tracing::info!(file = %file.display(), "the first-start password was replaced; its file is deleted");
        }
        // On to the dashboard, which was closed until now.
        leptos_axum::redirect("/");
    }
    // Every other session of the user is over; this one goes on under a new id.
    let session = session().await?;
    session
        .cycle_id()
        .await
        .map_err(super::context::session_error)?;
    sign_in_session(&session, &user).await
}
