//! Boot images of an organization.

use leptos::{prelude::*, server_fn::codec::Json};

use crate::{boot::BootImage, error::AppError, forms::ImageForm, model::Page};

/// A page of the organization's images whose title contains `filter`.
#[server(endpoint = "images")]
pub async fn images(
    organization_id: i32,
    filter: String,
    page: u64,
) -> Result<Page<BootImage>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::images;

    let actor = actor().await?;
    images::list_page(&state()?.db, &actor, organization_id, &filter, page).await
}

/// One image.
#[server(endpoint = "image")]
pub async fn image(organization_id: i32, image_id: i32) -> Result<BootImage, AppError> {
    use super::context::{actor, state};
    use crate::server::services::images;

    let actor = actor().await?;
    images::get(&state()?.db, &actor, organization_id, image_id).await
}

/// Adds an image.
#[server(endpoint = "create_image", input = Json)]
pub async fn create_image(organization_id: i32, form: ImageForm) -> Result<BootImage, AppError> {
    use super::context::{actor, state};
    use crate::server::services::images;

    let actor = actor().await?;
    images::create(&state()?.db, &actor, organization_id, &form).await
}

/// Changes an image.
#[server(endpoint = "update_image", input = Json)]
pub async fn update_image(
    organization_id: i32,
    image_id: i32,
    form: ImageForm,
) -> Result<BootImage, AppError> {
    use super::context::{actor, state};
    use crate::server::services::images;

    let actor = actor().await?;
    images::update(&state()?.db, &actor, organization_id, image_id, &form).await
}

/// The titles of the menus that show an image: what deleting it would change.
#[server(endpoint = "image_usage")]
pub async fn image_usage(organization_id: i32, image_id: i32) -> Result<Vec<String>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::images;

    let actor = actor().await?;
    images::menus_using(&state()?.db, &actor, organization_id, image_id).await
}

/// Deletes an image; its entries leave every menu.
#[server(endpoint = "delete_image")]
pub async fn delete_image(organization_id: i32, image_id: i32) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::images;

    let actor = actor().await?;
    images::delete(&state()?.db, &actor, organization_id, image_id).await
}
