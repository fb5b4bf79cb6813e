//! Groups of an organization: their members and the menu they boot.

use leptos::{prelude::*, server_fn::codec::Json};

use crate::{
    error::AppError,
    model::{Choice, GroupDetail, GroupRow, Page},
};

#[cfg(feature = "ssr")]
fn form(
    name: String,
    description: String,
    menu_id: Option<i32>,
) -> crate::server::services::groups::GroupForm {
    crate::server::services::groups::GroupForm {
        name,
        description,
        menu_id,
    }
}

/// A page of the organization's groups whose name contains `filter`.
#[server(endpoint = "groups")]
pub async fn groups(
    organization_id: i32,
    filter: String,
    page: u64,
) -> Result<Page<GroupRow>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::groups;

    let actor = actor().await?;
    groups::list_page(&state()?.db, &actor, organization_id, &filter, page).await
}

/// One group with its members.
#[server(endpoint = "group")]
pub async fn group(organization_id: i32, group_id: i32) -> Result<GroupDetail, AppError> {
    use super::context::{actor, state};
    use crate::server::services::groups;

    let actor = actor().await?;
    groups::detail(&state()?.db, &actor, organization_id, group_id).await
}

/// Creates a group; returns its id.
#[server(endpoint = "create_group")]
pub async fn create_group(
    organization_id: i32,
    name: String,
    description: String,
    menu_id: Option<i32>,
) -> Result<i32, AppError> {
    use super::context::{actor, state};
    use crate::server::services::groups;

    let actor = actor().await?;
    let form = form(name, description, menu_id);
    Ok(groups::create(&state()?.db, &actor, organization_id, &form)
        .await?
        .id)
}

/// Changes a group's name, description and menu.
#[server(endpoint = "update_group")]
pub async fn update_group(
    organization_id: i32,
    group_id: i32,
    name: String,
    description: String,
    menu_id: Option<i32>,
) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::groups;

    let actor = actor().await?;
    let form = form(name, description, menu_id);
    groups::update(&state()?.db, &actor, organization_id, group_id, &form).await?;
    Ok(())
}

/// Makes exactly these users (by name) the group's members.
#[server(endpoint = "set_group_members", input = Json)]
pub async fn set_group_members(
    organization_id: i32,
    group_id: i32,
    usernames: Vec<String>,
) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::{server::services::groups, validate::Username};

    let actor = actor().await?;
    let usernames = usernames
        .iter()
        .map(|name| Username::parse(name).map_err(|m| AppError::invalid("members", m)))
        .collect::<Result<Vec<_>, _>>()?;
    groups::set_members(&state()?.db, &actor, organization_id, group_id, &usernames).await
}

/// Deletes a group (not its menu, nor its members' accounts).
#[server(endpoint = "delete_group")]
pub async fn delete_group(organization_id: i32, group_id: i32) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::groups;

    let actor = actor().await?;
    groups::delete(&state()?.db, &actor, organization_id, group_id).await
}

/// The organization's menus, as choices for a group.
#[server(endpoint = "menu_choices")]
pub async fn menu_choices(organization_id: i32) -> Result<Vec<Choice>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::menus;

    let actor = actor().await?;
    menus::choices(&state()?.db, &actor, organization_id).await
}
