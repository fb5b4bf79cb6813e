//! Applying an import file through the services, as the operator, in one transaction: every
//! rule the web app keeps holds for an import too (field bounds, unique names, the last
//! organization admin and the last active server admin, a member leaving an organization's
//! groups with it, the menu version a concurrent editor is checked against).

use app::{
    boot::{MenuAction, MenuEntry, MenuItem},
    forms::parse_description,
    model::Role,
    server::{
        actor::Actor,
        entities::{boot_image, boot_menu, group, organization, organization_member, user},
        password::{self, PasswordHasher},
        services::{
            accounts, groups,
            groups::GroupForm,
            images::{self, ImageForm},
            menus::{self, MenuSettings},
            organizations,
        },
    },
    validate::{Email, Label, NewPassword, Username},
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter,
    TransactionTrait,
};
use std::collections::HashMap;

use super::format::{
    At, EntryDoc, GroupDoc, ImageDoc, ImportError, Lines, MenuDoc, OrganizationDoc, UserDoc, parse,
    refine,
};

/// What an import went through.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub users: usize,
    pub organizations: usize,
    pub images: usize,
    pub menus: usize,
    pub groups: usize,
}

/// Service field names are the file's keys, except where a map says otherwise.
fn same(field: &str) -> &str {
    field
}

/// A group form's fields by the file's keys.
fn group_key(field: &str) -> &str {
    match field {
        "menu_id" => "menu",
        other => other,
    }
}

/// Applies a file in one transaction; on any error nothing changes.
pub async fn apply(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    text: &str,
) -> Result<Report, ImportError> {
    apply_document(db, hasher, text)
        .await
        .map_err(|e| refine(text, e))
}

async fn apply_document(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    text: &str,
) -> Result<Report, ImportError> {
    let document = parse(text)?;
    let lines = Lines(text);
    let operator = Actor::operator();
    let txn = db.begin().await?;
    let mut report = Report::default();

    let mut demotions = Vec::new();
    for (i, entry) in document.users.iter().enumerate() {
        let at = At::new(lines.of(entry), format!("users[{i}]"));
        if let Some(user_id) = import_user(&txn, hasher, &operator, entry.get_ref(), &at).await? {
            demotions.push((user_id, at));
        }
        report.users += 1;
    }
    // Rights are taken last, so that a file may hand the server-admin right to one account
    // and take it from another; the last active server admin keeps it.
    for (user_id, at) in demotions {
        accounts::set_server_admin(&txn, &operator, user_id, false)
            .await
            .map_err(|e| at.app(e, |_| "admin"))?;
    }

    for (i, entry) in document.organizations.iter().enumerate() {
        let at = At::new(lines.of(entry), format!("organizations[{i}]"));
        import_organization(&txn, &operator, entry.get_ref(), &lines, &at, &mut report).await?;
        report.organizations += 1;
    }
    txn.commit().await?;
    Ok(report)
}

/// Creates or updates a user. Answers the user's id when the file takes their server-admin
/// right away, which the caller does after every user has been read.
async fn import_user(
    txn: &DatabaseTransaction,
    hasher: &PasswordHasher,
    operator: &Actor,
    doc: &UserDoc,
    at: &At,
) -> Result<Option<i32>, ImportError> {
    let username = Username::parse(&doc.username).map_err(|m| at.fail_at("username", m))?;
    let email = Email::parse_optional(doc.email.as_deref().unwrap_or_default())
        .map_err(|m| at.fail_at("email", m))?;
    if doc.password.is_some() && doc.password_hash.is_some() {
        return Err(at.fail("give either `password` or `password_hash`, not both"));
    }
    let password = doc
        .password
        .as_deref()
        .map(NewPassword::parse)
        .transpose()
        .map_err(|m| at.fail_at("password", m))?;
    if let Some(hash) = &doc.password_hash {
        password::check_hash(hash).map_err(|m| at.fail_at("password_hash", m))?;
    }
    let existing = user::Entity::find()
        .filter(user::Column::Username.eq(username.as_str()))
        .one(txn)
        .await?;
    let Some(found) = existing else {
        let hash = match (&password, &doc.password_hash) {
            (Some(password), _) => hasher
                .hash(password.expose())
                .await
                .map_err(|e| at.app(e, same))?,
            (None, Some(hash)) => hash.clone(),
            (None, None) => return Err(at.fail("a new user needs `password` or `password_hash`")),
        };
        accounts::insert_user(txn, &username, email.as_ref(), doc.admin, hash)
            .await
            .map_err(|e| at.app(e, same))?;
        return Ok(None);
    };

    if found.email.as_deref() != email.as_ref().map(Email::as_str) {
        accounts::set_email(txn, operator, found.id, email.as_ref())
            .await
            .map_err(|e| at.app(e, same))?;
    }
    if doc.admin && !found.is_server_admin {
        accounts::set_server_admin(txn, operator, found.id, true)
            .await
            .map_err(|e| at.app(e, |_| "admin"))?;
    }
    match (&password, &doc.password_hash) {
        // An unchanged password keeps its hash, so that importing twice changes nothing.
        (Some(password), _) => {
            let unchanged = hasher
                .verify(password.expose(), Some(&found.password_hash))
                .await
                .map_err(|e| at.app(e, same))?;
            if !unchanged {
                accounts::reset_password(txn, hasher, operator, found.id, password)
                    .await
                    .map_err(|e| at.app(e, same))?;
            }
        }
        (None, Some(hash)) if *hash != found.password_hash => {
            accounts::set_password_hash(txn, operator, found.id, hash.clone())
                .await
                .map_err(|e| at.app(e, same))?;
        }
        _ => {}
    }
    Ok((found.is_server_admin && !doc.admin).then_some(found.id))
}

/// Every user's id by name, in one query.
async fn user_ids(txn: &DatabaseTransaction) -> Result<HashMap<String, i32>, ImportError> {
    Ok(user::Entity::find()
        .all(txn)
        .await?
        .into_iter()
        .map(|u| (u.username, u.id))
        .collect())
}

async fn import_organization(
    txn: &DatabaseTransaction,
    operator: &Actor,
    doc: &OrganizationDoc,
    lines: &Lines<'_>,
    at: &At,
    report: &mut Report,
) -> Result<(), ImportError> {
    let name = Label::name(&doc.name, "organization").map_err(|m| at.fail_at("name", m))?;
    let existing = organization::Entity::find()
        .filter(organization::Column::Name.eq(name.as_str()))
        .one(txn)
        .await?;
    let org_id = match existing {
        Some(found) => {
            let description = parse_description(&doc.description).map_err(|e| at.app(e, same))?;
            if found.description != description {
                organizations::update(txn, operator, found.id, &found.name, &description)
                    .await
                    .map_err(|e| at.app(e, same))?;
            }
            found.id
        }
        None => {
            organizations::create(txn, operator, name.as_str(), &doc.description)
                .await
                .map_err(|e| at.app(e, same))?
                .id
        }
    };

    let users = user_ids(txn).await?;
    import_members(txn, operator, org_id, doc, &users, at).await?;

    for (i, image) in doc.images.iter().enumerate() {
        let image_at = at.child(lines.of(image), &format!("images[{i}]"));
        import_image(txn, operator, org_id, image.get_ref(), &image_at).await?;
        report.images += 1;
    }
    let image_ids: HashMap<String, i32> = images::list(txn, operator, org_id)
        .await
        .map_err(|e| at.app(e, same))?
        .into_iter()
        .map(|image| (image.title, image.id))
        .collect();
    for (i, menu) in doc.menus.iter().enumerate() {
        let menu_at = at.child(lines.of(menu), &format!("menus[{i}]"));
        import_menu(txn, operator, org_id, menu.get_ref(), &image_ids, &menu_at).await?;
        report.menus += 1;
    }
    for (i, group) in doc.groups.iter().enumerate() {
        let group_at = at.child(lines.of(group), &format!("groups[{i}]"));
        import_group(txn, operator, org_id, group.get_ref(), &users, &group_at).await?;
        report.groups += 1;
    }
    Ok(())
}

/// Makes the organization's members exactly the file's list. Members are added and made
/// admins first, then demoted, then removed, so that a file may hand the admin role to
/// another member before taking it from one; the services keep the last admin, and take a
/// member who leaves out of the organization's groups.
async fn import_members(
    txn: &DatabaseTransaction,
    operator: &Actor,
    org_id: i32,
    doc: &OrganizationDoc,
    users: &HashMap<String, i32>,
    at: &At,
) -> Result<(), ImportError> {
    let mut wanted = Vec::with_capacity(doc.members.len());
    for (i, member) in doc.members.iter().enumerate() {
        let member_at = at.child(at.line, &format!("members[{i}]"));
        let username = Username::parse(&member.user).map_err(|m| member_at.fail_at("user", m))?;
        let user_id = *users
            .get(username.as_str())
            .ok_or_else(|| member_at.fail_at("user", format!("no user `{username}`")))?;
        let role = Role::parse(&member.role)
            .ok_or_else(|| member_at.fail_at("role", "a role is `admin` or `member`"))?;
        wanted.push((username, user_id, role));
    }
    let current: HashMap<i32, Role> = organization_member::Entity::find()
        .filter(organization_member::Column::OrganizationId.eq(org_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|m| (m.user_id, m.role))
        .collect();
    let members = |e| at.app(e, |_| "members");

    for (username, user_id, role) in &wanted {
        let joins_or_rises = match current.get(user_id) {
            None => true,
            Some(now) => *now != *role && *role == Role::Admin,
        };
        if joins_or_rises {
            organizations::set_member(txn, operator, org_id, username, *role)
                .await
                .map_err(members)?;
        }
    }
    for (username, user_id, role) in &wanted {
        if current.get(user_id) == Some(&Role::Admin) && *role == Role::Member {
            organizations::set_member(txn, operator, org_id, username, *role)
                .await
                .map_err(members)?;
        }
    }
    for user_id in current.keys() {
        if !wanted.iter().any(|(_, id, _)| id == user_id) {
            organizations::remove_member(txn, operator, org_id, *user_id)
                .await
                .map_err(members)?;
        }
    }
    Ok(())
}

/// Maps an image form field to the file's key.
fn image_key(field: &str) -> &str {
    match field {
        "kind" => "type",
        "kernel_url" => "kernel",
        "iso_url" => "iso",
        "image_url" => "image",
        "iso_boot" => "boot",
        other => other,
    }
}

async fn import_image(
    txn: &DatabaseTransaction,
    operator: &Actor,
    org_id: i32,
    doc: &ImageDoc,
    at: &At,
) -> Result<(), ImportError> {
    let form = ImageForm {
        title: doc.title.clone(),
        kind: doc.kind.clone(),
        kernel_url: doc.kernel.clone().unwrap_or_default(),
        image_url: doc.image.clone(),
        iso_boot: doc.boot.clone().unwrap_or_default(),
        args: doc.args.clone(),
        iso_url: doc.iso.clone().unwrap_or_default(),
    };
    let valid = form.parse().map_err(|e| at.app(e, image_key))?;
    let existing = boot_image::Entity::find()
        .filter(boot_image::Column::OrganizationId.eq(org_id))
        .filter(boot_image::Column::Title.eq(valid.title.as_str()))
        .one(txn)
        .await?
        .map(images::to_view);
    match existing {
        None => {
            images::create(txn, operator, org_id, &form)
                .await
                .map_err(|e| at.app(e, image_key))?;
        }
        Some(current) => {
            let unchanged = ImageForm::from(&current).parse().ok() == Some(valid);
            if !unchanged {
                images::update(txn, operator, org_id, current.id, &form)
                    .await
                    .map_err(|e| at.app(e, image_key))?;
            }
        }
    }
    Ok(())
}

fn entry_item(
    doc: &EntryDoc,
    images: &HashMap<String, i32>,
    at: &At,
) -> Result<MenuItem, ImportError> {
    match (&doc.image, &doc.separator, &doc.action) {
        (Some(title), None, None) => images
            .get(title.trim())
            .map(|&image_id| MenuItem::Image { image_id })
            .ok_or_else(|| at.fail_at("image", format!("no image `{title}` in this organization"))),
        (None, Some(text), None) => Ok(MenuItem::Separator { text: text.clone() }),
        (None, None, Some(action)) => {
            let action = MenuAction::parse(action).map_err(|m| at.fail_at("action", m))?;
            Ok(MenuItem::Action {
                action,
                url: doc.url.clone(),
            })
        }
        _ => Err(at.fail("an entry has exactly one of `image`, `separator` or `action`")),
    }
}

/// Maps a menu form field to the file's key.
fn menu_key(field: &str) -> &str {
    match field {
        "background_url" => "background",
        "timeout_secs" => "timeout",
        other => other,
    }
}

/// Creates or updates a menu. A changed menu is saved as the editor saves it, so its version
/// moves on and an editor still holding the old one is told that someone saved meanwhile.
async fn import_menu(
    txn: &DatabaseTransaction,
    operator: &Actor,
    org_id: i32,
    doc: &MenuDoc,
    images: &HashMap<String, i32>,
    at: &At,
) -> Result<(), ImportError> {
    let settings = MenuSettings {
        title: doc.title.clone(),
        background_url: doc.background.clone().unwrap_or_default(),
        timeout_secs: doc.timeout.map(|t| t.to_string()).unwrap_or_default(),
    };
    let valid = settings.check().map_err(|e| at.app(e, menu_key))?;
    let mut entries = Vec::with_capacity(doc.entries.len());
    for (i, entry) in doc.entries.iter().enumerate() {
        let entry_at = at.child(at.line, &format!("entries[{i}]"));
        entries.push(MenuEntry {
            item: entry_item(entry, images, &entry_at)?,
            is_default: entry.default,
        });
    }
    let entries = menus::check_entries(txn, org_id, &entries)
        .await
        .map_err(|e| at.app(e, menu_key))?;
    let existing = boot_menu::Entity::find()
        .filter(boot_menu::Column::OrganizationId.eq(org_id))
        .filter(boot_menu::Column::Title.eq(valid.title.as_str()))
        .one(txn)
        .await?;
    let current = match existing {
        Some(found) => menus::load(txn, org_id, found.id).await,
        None => menus::create(txn, operator, org_id, &settings).await,
    }
    .map_err(|e| at.app(e, menu_key))?;
    let unchanged = current.entries == entries
        && current.background_url == valid.background_url.map(|u| u.as_str().to_owned())
        && current.timeout_secs == valid.timeout_secs;
    if !unchanged {
        menus::save(
            txn,
            operator,
            org_id,
            current.id,
            current.version,
            Some(&settings),
            &entries,
        )
        .await
        .map_err(|e| at.app(e, menu_key))?;
    }
    Ok(())
}

async fn import_group(
    txn: &DatabaseTransaction,
    operator: &Actor,
    org_id: i32,
    doc: &GroupDoc,
    users: &HashMap<String, i32>,
    at: &At,
) -> Result<(), ImportError> {
    let name = Label::name(&doc.name, "group").map_err(|m| at.fail_at("name", m))?;
    let menu_id = match &doc.menu {
        Some(title) => Some(
            boot_menu::Entity::find()
                .filter(boot_menu::Column::OrganizationId.eq(org_id))
                .filter(boot_menu::Column::Title.eq(title.trim()))
                .one(txn)
                .await?
                .ok_or_else(|| {
                    at.fail_at("menu", format!("no menu `{title}` in this organization"))
                })?
                .id,
        ),
        None => None,
    };
    let mut members = Vec::with_capacity(doc.members.len());
    for (i, member) in doc.members.iter().enumerate() {
        let key = format!("members[{i}]");
        let username = Username::parse(member).map_err(|m| at.fail_at(&key, m))?;
        if !users.contains_key(username.as_str()) {
            return Err(at.fail_at(&key, format!("no user `{username}`")));
        }
        members.push(username);
    }
    let form = GroupForm {
        name: doc.name.clone(),
        description: doc.description.clone(),
        menu_id,
    };
    let existing = group::Entity::find()
        .filter(group::Column::OrganizationId.eq(org_id))
        .filter(group::Column::Name.eq(name.as_str()))
        .one(txn)
        .await?;
    let group_id = match existing {
        Some(found) => {
            let description = parse_description(&doc.description).map_err(|e| at.app(e, same))?;
            if found.description != description || found.menu_id != menu_id {
                groups::update(txn, operator, org_id, found.id, &form)
                    .await
                    .map_err(|e| at.app(e, group_key))?;
            }
            found.id
        }
        None => {
            groups::create(txn, operator, org_id, &form)
                .await
                .map_err(|e| at.app(e, group_key))?
                .id
        }
    };
    let mut wanted: Vec<&str> = members.iter().map(Username::as_str).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let current = groups::members(txn, operator, org_id, group_id)
        .await
        .map_err(|e| at.app(e, same))?;
    if current != wanted {
        groups::set_members(txn, operator, org_id, group_id, &members)
            .await
            .map_err(|e| at.app(e, same))?;
    }
    Ok(())
}
