//! `pxecloud export`: the whole configuration as an import file, read in a fixed number of
//! queries (one per table) however many records there are.

use app::{
    boot::{ImageKind, MenuItem},
    server::{
        entities::{
            boot_image, boot_menu, group, group_member, menu_entry, organization,
            organization_member, user,
        },
        services::{images, menus},
    },
};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use std::collections::{BTreeSet, HashMap};
use toml::Spanned;

use super::format::{
    Document, EntryDoc, GroupDoc, ImageDoc, ImportError, MemberDoc, MenuDoc, OrganizationDoc,
    UserDoc, fail,
};

/// Records of a table by the id of what they belong to, in the order they were read.
fn by<T>(rows: Vec<T>, key: impl Fn(&T) -> i32) -> HashMap<i32, Vec<T>> {
    let mut map: HashMap<i32, Vec<T>> = HashMap::new();
    for row in rows {
        map.entry(key(&row)).or_default().push(row);
    }
    map
}

/// A stored record that does not read back (a corrupt row): named, without details.
fn corrupt(error: app::error::AppError) -> ImportError {
    fail(None, "export", error.to_string())
}

/// Writes everything as an import file; password hashes only when asked.
pub async fn export(db: &DatabaseConnection, with_hashes: bool) -> Result<String, ImportError> {
    let users = user::Entity::find()
        .order_by_asc(user::Column::Username)
        .all(db)
        .await?;
    let organizations = organization::Entity::find()
        .order_by_asc(organization::Column::Name)
        .all(db)
        .await?;
    let memberships = organization_member::Entity::find().all(db).await?;
    let images = boot_image::Entity::find()
        .order_by_asc(boot_image::Column::Title)
        .all(db)
        .await?;
    let menu_rows = boot_menu::Entity::find()
        .order_by_asc(boot_menu::Column::Title)
        .all(db)
        .await?;
    let entry_rows = menu_entry::Entity::find()
        .order_by_asc(menu_entry::Column::MenuId)
        .order_by_asc(menu_entry::Column::Position)
        .all(db)
        .await?;
    let groups = group::Entity::find()
        .order_by_asc(group::Column::Name)
        .all(db)
        .await?;
    let group_members = group_member::Entity::find().all(db).await?;

    let names: HashMap<i32, &str> = users.iter().map(|u| (u.id, u.username.as_str())).collect();
    let image_titles: HashMap<i32, String> =
        images.iter().map(|i| (i.id, i.title.clone())).collect();
    let menu_titles: HashMap<i32, String> =
        menu_rows.iter().map(|m| (m.id, m.title.clone())).collect();
    let mut members_of = by(memberships, |m| m.organization_id);
    let mut images_of = by(images, |i| i.organization_id);
    let mut menus_of = by(menu_rows, |m| m.organization_id);
    let mut entries_of = by(entry_rows, |e| e.menu_id);
    let mut groups_of = by(groups, |g| g.organization_id);
    // Each group's members by name, in order.
    let mut group_names: HashMap<i32, BTreeSet<&str>> = HashMap::new();
    for m in &group_members {
        if let Some(name) = names.get(&m.user_id) {
            group_names.entry(m.group_id).or_default().insert(name);
        }
    }

    let mut document = Document {
        users: users
            .iter()
            .map(|u| {
                Spanned::new(
                    0..0,
                    UserDoc {
                        username: u.username.clone(),
                        email: u.email.clone(),
                        password: None,
                        password_hash: with_hashes.then(|| u.password_hash.clone()),
                        admin: u.is_server_admin,
                    },
                )
            })
            .collect(),
        organizations: Vec::with_capacity(organizations.len()),
    };
    for org in organizations {
        let mut members: Vec<MemberDoc> = members_of
            .remove(&org.id)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                Some(MemberDoc {
                    user: (*names.get(&m.user_id)?).to_owned(),
                    role: m.role.as_str().to_owned(),
                })
            })
            .collect();
        members.sort_by(|a, b| a.user.cmp(&b.user));

        let mut image_docs = Vec::new();
        for row in images_of.remove(&org.id).unwrap_or_default() {
            let image = images::to_view(row);
            image_docs.push(Spanned::new(
                0..0,
                ImageDoc {
                    kind: image.kind.as_str().to_owned(),
                    boot: (image.kind == ImageKind::Iso)
                        .then(|| image.iso_boot.as_str().to_owned()),
                    title: image.title,
                    kernel: image.kernel_url,
                    image: image.image_url,
                    args: image.args.to_strings(),
                    iso: image.iso_url,
                },
            ));
        }

        let mut menu_docs = Vec::new();
        for row in menus_of.remove(&org.id).unwrap_or_default() {
            let mut entries = Vec::new();
            for entry_row in entries_of.remove(&row.id).unwrap_or_default() {
                let entry = menus::entry_from_row(entry_row).map_err(corrupt)?;
                let mut doc = EntryDoc {
                    default: entry.is_default,
                    ..EntryDoc::default()
                };
                match entry.item {
                    MenuItem::Image { image_id } => {
                        doc.image = image_titles.get(&image_id).cloned()
                    }
                    MenuItem::Separator { text } => doc.separator = Some(text),
                    MenuItem::Action { action, url } => {
                        doc.action = Some(action.as_str().to_owned());
                        doc.url = url;
                    }
                }
                entries.push(doc);
            }
            menu_docs.push(Spanned::new(
                0..0,
                MenuDoc {
                    title: row.title,
                    background: row.background_url,
                    timeout: row.timeout_secs,
                    entries,
                },
            ));
        }

        let group_docs = groups_of
            .remove(&org.id)
            .unwrap_or_default()
            .into_iter()
            .map(|g| {
                let members = group_names
                    .get(&g.id)
                    .map(|names| names.iter().map(|n| (*n).to_owned()).collect())
                    .unwrap_or_default();
                Spanned::new(
                    0..0,
                    GroupDoc {
                        menu: g.menu_id.and_then(|id| menu_titles.get(&id).cloned()),
                        name: g.name,
                        description: g.description,
                        members,
                    },
                )
            })
            .collect();

        document.organizations.push(Spanned::new(
            0..0,
            OrganizationDoc {
                name: org.name,
                description: org.description,
                members,
                images: image_docs,
                menus: menu_docs,
                groups: group_docs,
            },
        ));
    }
    toml::to_string(&document).map_err(|e| fail(None, "export", e.to_string()))
}
