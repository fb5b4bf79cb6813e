//! Invitations to organizations: their admins invite and withdraw; the invited user accepts
//! or declines on their dashboard.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{InvitationRow, MyInvitation},
};

/// The organization's pending invitations, for its admins.
#[server(endpoint = "invitations")]
pub async fn invitations(organization_id: i32) -> Result<Vec<InvitationRow>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::invitations;

    let actor = actor().await?;
    invitations::pending(&state()?.db, &actor, organization_id).await
}

/// Withdraws a pending invitation.
#[server(endpoint = "cancel_invitation")]
pub async fn cancel_invitation(organization_id: i32, invitation_id: i32) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::invitations;

    let actor = actor().await?;
    invitations::cancel(&state()?.db, &actor, organization_id, invitation_id).await
}

/// The invitations waiting for the signed-in user.
#[server(endpoint = "my_invitations")]
pub async fn my_invitations() -> Result<Vec<MyInvitation>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::invitations;

    let actor = actor().await?;
    invitations::mine(&state()?.db, &actor).await
}

/// Accepts one of the signed-in user's invitations; answers the organization's id.
#[server(endpoint = "accept_invitation")]
pub async fn accept_invitation(invitation_id: i32) -> Result<i32, AppError> {
    use super::context::{actor, state};
    use crate::server::services::invitations;

    let actor = actor().await?;
    invitations::accept(&state()?.db, &actor, invitation_id).await
}

/// Declines one of the signed-in user's invitations.
#[server(endpoint = "decline_invitation")]
pub async fn decline_invitation(invitation_id: i32) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::invitations;

    let actor = actor().await?;
    invitations::decline(&state()?.db, &actor, invitation_id).await
}
