//! The signed-in user's organizations.

use leptos::prelude::*;

use crate::{error::AppError, model::OrganizationSummary};

/// The organizations of the signed-in user, with their role (a server admin sees all).
#[server(endpoint = "my_organizations")]
pub async fn my_organizations() -> Result<Vec<OrganizationSummary>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::organizations;

    let actor = actor().await?;
    organizations::list_for(&state()?.db, &actor).await
}
