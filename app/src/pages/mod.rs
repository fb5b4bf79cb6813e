//! The pages, one file each.

pub mod account;
pub mod boot_log;
pub mod dashboard;
pub mod files;
pub mod group;
pub mod groups;
pub mod image;
pub mod images;
pub mod login;
pub mod members;
pub mod menu_editor;
pub mod menus;
pub mod network_boot;
pub mod not_found;
pub mod organization;
pub mod organizations;
pub mod users;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// A numeric id from the address (`:org`, `:image`…); `None` when it is missing or not a number.
pub fn id_param(name: &'static str) -> Memo<Option<i32>> {
    let params = use_params_map();
    Memo::new(move |_| params.with(|p| p.get(name).and_then(|v| v.parse().ok())))
}
