//! A boot menu as the plan its clients see: shared by the boot flow and the editor's preview,
//! so the preview is the script the clients get.

use std::collections::HashMap;

use super::{MenuLine, MenuPlan, ServerUrl};
use crate::boot::{BootMenu, MenuEntry, MenuItem};

/// What a menu entry reads on the client's screen; image titles come from `titles`.
pub fn entry_text(item: &MenuItem, titles: &HashMap<i32, String>) -> String {
    match item {
        MenuItem::Image { image_id } => titles
            .get(image_id)
            .cloned()
            .unwrap_or_else(|| "(missing image)".into()),
        MenuItem::Separator { text } => text.clone(),
        MenuItem::Action { action, .. } => action.label().to_owned(),
    }
}

/// The lines of a menu: separators become gaps; every other entry fetches `boot_url(n)`, `n`
/// being its 1-based position in the menu.
pub fn menu_lines(
    entries: &[MenuEntry],
    titles: &HashMap<i32, String>,
    boot_url: impl Fn(usize) -> ServerUrl,
) -> Vec<MenuLine> {
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| match &entry.item {
            MenuItem::Separator { text } => MenuLine::Gap { text: text.clone() },
            item => MenuLine::Entry {
                text: entry_text(item, titles),
                url: boot_url(i + 1),
                is_default: entry.is_default,
            },
        })
        .collect()
}

/// The whole menu step.
pub fn menu_plan(
    menu: &BootMenu,
    titles: &HashMap<i32, String>,
    boot_url: impl Fn(usize) -> ServerUrl,
    back_url: Option<ServerUrl>,
    logout_url: ServerUrl,
) -> MenuPlan {
    MenuPlan {
        title: menu.title.clone(),
        background_url: menu.background_url.clone(),
        timeout_secs: menu.timeout_secs,
        lines: menu_lines(&menu.entries, titles, boot_url),
        back_url,
        logout_url,
    }
}
