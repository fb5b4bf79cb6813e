//! Boot menus of an organization, and the editor's load and save.

use leptos::{prelude::*, server_fn::codec::Json};

use crate::{
    boot::{BootMenu, MenuEntry},
    error::AppError,
    forms::MenuSettings,
    model::{MenuEditorData, MenuRow, Page},
};

/// A page of the organization's menus whose title contains `filter`.
#[server(endpoint = "menus")]
pub async fn menus(
    organization_id: i32,
    filter: String,
    page: u64,
) -> Result<Page<MenuRow>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::menus;

    let actor = actor().await?;
    menus::list_page(&state()?.db, &actor, organization_id, &filter, page).await
}

/// Creates an empty menu; returns its id.
#[server(endpoint = "create_menu")]
pub async fn create_menu(
    organization_id: i32,
    title: String,
    background_url: String,
    timeout_secs: String,
) -> Result<i32, AppError> {
    use super::context::{actor, state};
    use crate::server::services::menus;

    let actor = actor().await?;
    let settings = MenuSettings {
        title,
        background_url,
        timeout_secs,
    };
    Ok(
        menus::create(&state()?.db, &actor, organization_id, &settings)
            .await?
            .id,
    )
}

/// What the editor needs: the menu, the organization's images, the groups that boot it.
#[server(endpoint = "menu_editor")]
pub async fn menu_editor(organization_id: i32, menu_id: i32) -> Result<MenuEditorData, AppError> {
    use super::context::{actor, state};
    use crate::server::services::{images, menus};

    let actor = actor().await?;
    let state = state()?;
    let db = &state.db;
    let headers = leptos_axum::extract::<http::HeaderMap>()
        .await
        .unwrap_or_default();
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    Ok(MenuEditorData {
        menu: menus::get(db, &actor, organization_id, menu_id).await?,
        images: images::list(db, &actor, organization_id).await?,
        groups: menus::groups_using(db, &actor, organization_id, menu_id).await?,
        boot_url_base: crate::server::boot_flow::base_url(&state.settings, host),
    })
}

/// Saves the menu as the editor has it, if nobody saved since `version`; a stale version is
/// a conflict and changes nothing.
#[server(endpoint = "save_menu", input = Json)]
pub async fn save_menu(
    organization_id: i32,
    menu_id: i32,
    version: i32,
    settings: MenuSettings,
    entries: Vec<MenuEntry>,
) -> Result<BootMenu, AppError> {
    use super::context::{actor, state};
    use crate::server::services::menus;

    let actor = actor().await?;
    let db = &state()?.db;
    menus::save(
        db,
        &actor,
        organization_id,
        menu_id,
        version,
        Some(&settings),
        &entries,
    )
    .await
}

/// The names of the groups that boot a menu: what deleting it would change.
#[server(endpoint = "menu_usage")]
pub async fn menu_usage(organization_id: i32, menu_id: i32) -> Result<Vec<String>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::menus;

    let actor = actor().await?;
    menus::groups_using(&state()?.db, &actor, organization_id, menu_id).await
}

/// Deletes a menu; the groups that booted it are left without one.
#[server(endpoint = "delete_menu")]
pub async fn delete_menu(organization_id: i32, menu_id: i32) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::menus;

    let actor = actor().await?;
    menus::delete(&state()?.db, &actor, organization_id, menu_id).await
}
