//! Organizations: the signed-in user's list, and managing one.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{OrganizationDetail, OrganizationSummary},
};

/// The organizations of the signed-in user, with their role (a server admin sees all).
#[server(endpoint = "my_organizations")]
pub async fn my_organizations() -> Result<Vec<OrganizationSummary>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::organizations;

    let actor = actor().await?;
    organizations::list_for(&state()?.db, &actor).await
}

/// One organization with its counts; for its admins and server admins.
#[server(endpoint = "organization")]
pub async fn organization(organization_id: i32) -> Result<OrganizationDetail, AppError> {
    use super::context::{actor, state};
    use crate::server::services::organizations;

    let actor = actor().await?;
    organizations::detail(&state()?.db, &actor, organization_id).await
}

/// Creates an organization; server admins only. Returns its id.
#[server(endpoint = "create_organization")]
pub async fn create_organization(name: String, description: String) -> Result<i32, AppError> {
    use super::context::{actor, state};
    use crate::server::services::organizations;

    let actor = actor().await?;
    let created = organizations::create(&state()?.db, &actor, &name, &description).await?;
    Ok(created.id)
}

/// Renames and re-describes an organization; its admins and server admins may.
#[server(endpoint = "update_organization")]
pub async fn update_organization(
    organization_id: i32,
    name: String,
    description: String,
) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::organizations;

    let actor = actor().await?;
    organizations::update(&state()?.db, &actor, organization_id, &name, &description).await?;
    Ok(())
}

/// Deletes an organization; server admins only. Refused while it holds groups, menus or
/// images, unless `cascade` confirms that they go too.
#[server(endpoint = "delete_organization")]
pub async fn delete_organization(organization_id: i32, cascade: bool) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::organizations;

    let actor = actor().await?;
    organizations::delete(&state()?.db, &actor, organization_id, cascade).await
}
