//! What every server function needs: the state, the session and the signed-in actor.

use axum::Extension;
use leptos::prelude::*;
use tower_sessions::Session;

use crate::{
    error::AppError,
    server::{actor::Actor, net::ClientIp, services::accounts, state::AppState},
};

/// The session key holding the signed-in user's id.
pub const USER_ID_KEY: &str = "user_id";
/// The session key holding the user's credential stamp at sign-in
/// ([`accounts::credential_stamp`]): a session outlives no password change.
pub const STAMP_KEY: &str = "credential_stamp";

/// Makes `session` the signed-in session of `user`.
pub async fn sign_in_session(
    session: &Session,
    user: &crate::server::entities::user::Model,
) -> Result<(), AppError> {
    session
        .insert(USER_ID_KEY, user.id)
        .await
        .map_err(session_error)?;
    session
        .insert(STAMP_KEY, accounts::credential_stamp(user))
        .await
        .map_err(session_error)
}

/// The shared state, provided by the server to every render and server function.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the Leptos context");
        AppError::Internal
    })
}

/// The caller's web session.
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|error| {
        tracing::error!(?error, "no session layer");
        AppError::Internal
    })
}

/// The client's address, when the server knows it: behind a trusted proxy, the address the
/// proxy names, else the peer's ([`ClientIp`], set by the router for every connection).
pub async fn client_address() -> Option<String> {
    leptos_axum::extract::<Extension<ClientIp>>()
        .await
        .ok()
        .map(|Extension(ClientIp(address))| address.to_string())
}

/// Who a web session belongs to.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub actor: Actor,
    /// The user signed in with a password they must replace before doing anything else.
    pub must_change_password: bool,
}

/// The signed-in user, or `None`, whether or not they must change their password.
pub async fn signed_in() -> Result<Option<SignedIn>, AppError> {
    signed_in_with(&state()?, &session().await?).await
}

/// The user `session` is signed in as, or `None` (for plain HTTP handlers, which have the
/// state and the session as extractors).
pub async fn signed_in_with(
    state: &AppState,
    session: &Session,
) -> Result<Option<SignedIn>, AppError> {
    let user_id: Option<i32> = session.get(USER_ID_KEY).await.map_err(|error| {
        tracing::error!(%error, "reading the session failed");
        AppError::Internal
    })?;
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    let stamp: Option<String> = session.get(STAMP_KEY).await.map_err(session_error)?;
    let Some(user) = accounts::active_user(&state.db, user_id).await? else {
        return Ok(None);
    };
    if stamp.as_deref() != Some(accounts::credential_stamp(&user).as_str()) {
        // Signed in with a password that has changed since: this session is over.
        session.flush().await.map_err(session_error)?;
        return Ok(None);
    }
    Ok(Some(SignedIn {
        must_change_password: user.must_change_password,
        actor: Actor {
            user_id: Some(user.id),
            username: user.username,
            is_server_admin: user.is_server_admin,
        },
    }))
}

/// The signed-in user, or `Unauthenticated`; `PasswordChangeRequired` while they must
/// change their password first.
pub async fn actor() -> Result<Actor, AppError> {
    actor_with(&state()?, &session().await?).await
}

/// [`actor`] for plain HTTP handlers.
pub async fn actor_with(state: &AppState, session: &Session) -> Result<Actor, AppError> {
    match signed_in_with(state, session).await? {
        None => Err(AppError::Unauthenticated),
        Some(SignedIn {
            must_change_password: true,
            ..
        }) => Err(AppError::PasswordChangeRequired),
        Some(SignedIn { actor, .. }) => Ok(actor),
    }
}

/// Logs a session-store failure and hides it.
pub fn session_error(error: tower_sessions::session::Error) -> AppError {
    tracing::error!(%error, "session store failed");
    AppError::Internal
}
