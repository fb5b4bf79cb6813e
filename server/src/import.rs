//! `pxecloud import` and `pxecloud export`: the whole configuration as one TOML file.
//!
//! Records are matched by name (users by username, organizations by name; images, menus and
//! groups by title or name within their organization), so applying a file twice changes
//! nothing the second time. Lists inside a record (an organization's members, a menu's
//! entries, a group's members) are set exactly as written; records the file does not
//! mention are left alone. Everything happens in one transaction.

use app::{
    boot::{MenuAction, MenuItem},
    forms::parse_description,
    model::Role,
    server::{
        entities::{
            boot_image, boot_menu, group, group_member, menu_entry, organization,
            organization_member, user,
        },
        password::PasswordHasher,
        services::{images::ImageForm, menus::MenuSettings},
    },
    validate::{DisplayName, Email, NAME_MAX, NewPassword, Username},
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use toml::Spanned;

/// A problem in an import file, with where it is.
#[derive(Debug, thiserror::Error)]
#[error("{}{path}: {message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ImportError {
    pub line: Option<usize>,
    pub path: String,
    pub message: String,
}

/// The file format (also what `export` writes).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<Spanned<UserDoc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<Spanned<OrganizationDoc>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserDoc {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MemberDoc {
    pub user: String,
    pub role: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub members: Vec<MemberDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Spanned<ImageDoc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub menus: Vec<Spanned<MenuDoc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Spanned<GroupDoc>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImageDoc {
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MenuDoc {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i32>,
    #[serde(default)]
    pub entries: Vec<EntryDoc>,
}

/// One menu entry: exactly one of `image`, `separator`, `action` (with `url` for `chain`).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntryDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub menu: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
}

/// What an import changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub users: usize,
    pub organizations: usize,
    pub images: usize,
    pub menus: usize,
    pub groups: usize,
}

/// Line numbers of byte offsets in the file.
struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn of<T>(&self, spanned: &Spanned<T>) -> Option<usize> {
        let offset = spanned.span().start.min(self.0.len());
        Some(self.0[..offset].matches('\n').count() + 1)
    }
}

fn fail(line: Option<usize>, path: impl Into<String>, message: impl Into<String>) -> ImportError {
    ImportError {
        line,
        path: path.into(),
        message: message.into(),
    }
}

fn db_error(error: sea_orm::DbErr) -> ImportError {
    tracing::error!(%error, "import failed in the database");
    fail(
        None,
        "database",
        "the database refused a change; nothing was imported",
    )
}

/// Parses a file without touching the database.
pub fn parse(text: &str) -> Result<Document, ImportError> {
    toml::from_str(text).map_err(|error| {
        let line = error
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        fail(line, "file", error.message().trim())
    })
}

/// Moves an error from its record's first line to the line of the field it names, when that
/// field is written on a line of its own within the record.
fn refine(text: &str, mut error: ImportError) -> ImportError {
    let Some(start) = error.line else {
        return error;
    };
    let keys: Vec<&str> = error
        .path
        .split('.')
        .skip(1)
        .map(|part| part.split('[').next().unwrap_or_default())
        .collect();
    let record: Vec<&str> = text
        .lines()
        .skip(start - 1)
        .take_while({
            let mut first = true;
            move |line| std::mem::replace(&mut first, false) || !line.trim_start().starts_with('[')
        })
        .collect();
    for key in keys.iter().rev() {
        let found = record.iter().position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        if let Some(offset) = found {
            error.line = Some(start + offset);
            break;
        }
    }
    error
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
    let txn = db.begin().await.map_err(db_error)?;
    let mut report = Report::default();
    // The server keeps an active server admin, as in the web app.
    let had_server_admin = active_server_admins(&txn).await? > 0;
    let mut first_demotion = None;
    for (i, entry) in document.users.iter().enumerate() {
        let path = format!("users[{i}]");
        let demoted = import_user(&txn, hasher, entry.get_ref(), lines.of(entry), &path).await?;
        if demoted && first_demotion.is_none() {
            first_demotion = Some((lines.of(entry), path));
        }
        report.users += 1;
    }
    if let Some((line, path)) = first_demotion
        && had_server_admin
        && active_server_admins(&txn).await? == 0
    {
        return Err(fail(
            line,
            format!("{path}.admin"),
            "This would leave no active server admin; keep `admin = true` for one.",
        ));
    }
    for (i, entry) in document.organizations.iter().enumerate() {
        let path = format!("organizations[{i}]");
        import_organization(
            &txn,
            entry.get_ref(),
            &lines,
            lines.of(entry),
            &path,
            &mut report,
        )
        .await?;
        report.organizations += 1;
    }
    txn.commit().await.map_err(db_error)?;
    Ok(report)
}

async fn active_server_admins(txn: &DatabaseTransaction) -> Result<u64, ImportError> {
    user::Entity::find()
        .filter(user::Column::IsServerAdmin.eq(true))
        .filter(user::Column::IsDisabled.eq(false))
        .count(txn)
        .await
        .map_err(db_error)
}

/// Creates or updates a user; answers whether it took the server-admin right from them.
async fn import_user(
    txn: &DatabaseTransaction,
    hasher: &PasswordHasher,
    doc: &UserDoc,
    line: Option<usize>,
    path: &str,
) -> Result<bool, ImportError> {
    let username =
        Username::parse(&doc.username).map_err(|m| fail(line, format!("{path}.username"), m))?;
    let email = Email::parse_optional(doc.email.as_deref().unwrap_or_default())
        .map_err(|m| fail(line, format!("{path}.email"), m))?
        .map(|e| e.as_str().to_owned());
    let existing = user::Entity::find()
        .filter(user::Column::Username.eq(username.as_str()))
        .one(txn)
        .await
        .map_err(db_error)?;
    let hash = match (&doc.password, &doc.password_hash, &existing) {
        (Some(_), Some(_), _) => {
            return Err(fail(
                line,
                path,
                "give either `password` or `password_hash`, not both",
            ));
        }
        (Some(password), None, existing) => {
            let password = NewPassword::parse(password)
                .map_err(|m| fail(line, format!("{path}.password"), m))?;
            // An unchanged password keeps its hash, so that importing twice changes nothing.
            let current = existing.as_ref().map(|u| u.password_hash.as_str());
            if current.is_some()
                && hasher
                    .verify(password.expose(), current)
                    .await
                    .map_err(|_| fail(line, path, "could not check the password"))?
            {
                None
            } else {
                Some(
                    hasher
                        .hash(password.expose())
                        .await
                        .map_err(|_| fail(line, path, "could not hash the password"))?,
                )
            }
        }
        (None, Some(hash), _) => {
            app::server::password::check_hash(hash)
                .map_err(|m| fail(line, format!("{path}.password_hash"), m))?;
            Some(hash.clone())
        }
        (None, None, Some(_)) => None,
        (None, None, None) => {
            return Err(fail(
                line,
                path,
                "a new user needs `password` or `password_hash`",
            ));
        }
    };
    let now = Utc::now();
    match existing {
        Some(found) => {
            let demoted = found.is_server_admin && !doc.admin;
            let mut active: user::ActiveModel = found.into();
            active.email = Set(email);
            active.is_server_admin = Set(doc.admin);
            if let Some(hash) = hash {
                active.password_hash = Set(hash);
            }
            if active.is_changed() {
                active.updated_at = Set(now);
                active.update(txn).await.map_err(db_error)?;
            }
            Ok(demoted)
        }
        None => {
            user::ActiveModel {
                id: NotSet,
                username: Set(username.as_str().to_owned()),
                email: Set(email),
                password_hash: Set(hash.unwrap_or_default()),
                is_server_admin: Set(doc.admin),
                is_disabled: Set(false),
                must_change_password: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(txn)
            .await
            .map_err(db_error)?;
            Ok(false)
        }
    }
}

async fn user_ids(txn: &DatabaseTransaction) -> Result<HashMap<String, i32>, ImportError> {
    Ok(user::Entity::find()
        .all(txn)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|u| (u.username, u.id))
        .collect())
}

async fn import_organization(
    txn: &DatabaseTransaction,
    doc: &OrganizationDoc,
    lines: &Lines<'_>,
    line: Option<usize>,
    path: &str,
    report: &mut Report,
) -> Result<(), ImportError> {
    let name = DisplayName::parse(&doc.name, "organization", NAME_MAX)
        .map_err(|m| fail(line, format!("{path}.name"), m))?;
    let description = parse_description(&doc.description)
        .map_err(|e| fail(line, format!("{path}.description"), e.to_string()))?;
    let now = Utc::now();
    let existing = organization::Entity::find()
        .filter(organization::Column::Name.eq(name.as_str()))
        .one(txn)
        .await
        .map_err(db_error)?;
    let org_id = match existing {
        Some(found) => {
            let id = found.id;
            if found.description != description {
                let mut active: organization::ActiveModel = found.into();
                active.description = Set(description);
                active.updated_at = Set(now);
                active.update(txn).await.map_err(db_error)?;
            }
            id
        }
        None => {
            organization::ActiveModel {
                id: NotSet,
                name: Set(name.as_str().to_owned()),
                description: Set(description),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(txn)
            .await
            .map_err(db_error)?
            .id
        }
    };

    // Members, exactly as listed.
    let users = user_ids(txn).await?;
    let mut members = Vec::new();
    for (i, member) in doc.members.iter().enumerate() {
        let member_path = format!("{path}.members[{i}]");
        let username = Username::parse(&member.user)
            .map_err(|m| fail(line, format!("{member_path}.user"), m))?;
        let user_id = *users.get(username.as_str()).ok_or_else(|| {
            fail(
                line,
                format!("{member_path}.user"),
                format!("no user `{username}`"),
            )
        })?;
        let role = Role::parse(&member.role).ok_or_else(|| {
            fail(
                line,
                format!("{member_path}.role"),
                "a role is `admin` or `member`",
            )
        })?;
        members.push((user_id, role));
    }
    let current: HashMap<i32, String> = organization_member::Entity::find()
        .filter(organization_member::Column::OrganizationId.eq(org_id))
        .all(txn)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|m| (m.user_id, m.role))
        .collect();
    // The rules the web app keeps: an organization that has an admin keeps one, and a member
    // who leaves leaves its groups too.
    let had_admin = current.values().any(|role| role == Role::Admin.as_str());
    if had_admin && !members.iter().any(|(_, role)| *role == Role::Admin) {
        return Err(fail(
            line,
            format!("{path}.members"),
            "An organization keeps at least one admin.",
        ));
    }
    let leaving: Vec<i32> = current
        .keys()
        .filter(|user_id| !members.iter().any(|(id, _)| id == *user_id))
        .copied()
        .collect();
    if !leaving.is_empty() {
        let group_ids: Vec<i32> = group::Entity::find()
            .select_only()
            .column(group::Column::Id)
            .filter(group::Column::OrganizationId.eq(org_id))
            .into_tuple()
            .all(txn)
            .await
            .map_err(db_error)?;
        group_member::Entity::delete_many()
            .filter(group_member::Column::GroupId.is_in(group_ids))
            .filter(group_member::Column::UserId.is_in(leaving.iter().copied()))
            .exec(txn)
            .await
            .map_err(db_error)?;
        organization_member::Entity::delete_many()
            .filter(organization_member::Column::OrganizationId.eq(org_id))
            .filter(organization_member::Column::UserId.is_in(leaving))
            .exec(txn)
            .await
            .map_err(db_error)?;
    }
    for (user_id, role) in &members {
        match current.get(user_id) {
            Some(existing) if existing == role.as_str() => {}
            Some(_) => {
                organization_member::ActiveModel {
                    organization_id: Set(org_id),
                    user_id: Set(*user_id),
                    role: Set(role.as_str().to_owned()),
                    created_at: NotSet,
                    shows_email: NotSet,
                }
                .update(txn)
                .await
                .map_err(db_error)?;
            }
            None => {
                organization_member::ActiveModel {
                    organization_id: Set(org_id),
                    user_id: Set(*user_id),
                    role: Set(role.as_str().to_owned()),
                    created_at: Set(now),
                    shows_email: Set(false),
                }
                .insert(txn)
                .await
                .map_err(db_error)?;
            }
        }
    }

    for (i, image) in doc.images.iter().enumerate() {
        import_image(
            txn,
            org_id,
            image.get_ref(),
            lines.of(image),
            &format!("{path}.images[{i}]"),
        )
        .await?;
        report.images += 1;
    }
    for (i, menu) in doc.menus.iter().enumerate() {
        import_menu(
            txn,
            org_id,
            menu.get_ref(),
            lines.of(menu),
            &format!("{path}.menus[{i}]"),
        )
        .await?;
        report.menus += 1;
    }
    for (i, group) in doc.groups.iter().enumerate() {
        import_group(
            txn,
            org_id,
            &members,
            &users,
            group.get_ref(),
            lines.of(group),
            &format!("{path}.groups[{i}]"),
        )
        .await?;
        report.groups += 1;
    }
    Ok(())
}

/// Maps a form field name to the file's key, for error paths.
fn image_key(field: &str) -> &str {
    match field {
        "kind" => "type",
        "kernel_url" => "kernel",
        "image_url" => "image",
        "iso_boot" => "boot",
        other => other,
    }
}

fn app_error(
    line: Option<usize>,
    path: &str,
    error: app::error::AppError,
    key: impl Fn(&str) -> &str,
) -> ImportError {
    match error {
        app::error::AppError::Invalid { field, message }
        | app::error::AppError::Conflict { field, message } => {
            let field = match field.split_once('.') {
                Some((name, row)) => format!(
                    "{}[{}]",
                    key(name),
                    row.parse::<usize>().map_or(0, |r| r.saturating_sub(1))
                ),
                None => key(&field).to_owned(),
            };
            fail(line, format!("{path}.{field}"), message)
        }
        other => fail(line, path, other.to_string()),
    }
}

async fn import_image(
    txn: &DatabaseTransaction,
    org_id: i32,
    doc: &ImageDoc,
    line: Option<usize>,
    path: &str,
) -> Result<(), ImportError> {
    let form = ImageForm {
        title: doc.title.clone(),
        kind: doc.kind.clone(),
        kernel_url: doc.kernel.clone().unwrap_or_default(),
        image_url: doc.image.clone(),
        iso_boot: doc.boot.clone().unwrap_or_default(),
        args: doc.args.clone(),
    };
    let valid = form
        .parse()
        .map_err(|e| app_error(line, path, e, image_key))?;
    let args = serde_json::to_string(&valid.args).map_err(|e| fail(line, path, e.to_string()))?;
    let now = Utc::now();
    let existing = boot_image::Entity::find()
        .filter(boot_image::Column::OrganizationId.eq(org_id))
        .filter(boot_image::Column::Title.eq(valid.title.as_str()))
        .one(txn)
        .await
        .map_err(db_error)?;
    let mut active = match existing {
        Some(found) => found.into(),
        None => boot_image::ActiveModel {
            id: NotSet,
            organization_id: Set(org_id),
            title: Set(valid.title.as_str().to_owned()),
            created_at: Set(now),
            ..Default::default()
        },
    };
    active.kind = Set(valid.kind.as_str().to_owned());
    active.kernel_url = Set(valid.kernel_url.map(|u| u.as_str().to_owned()));
    active.image_url = Set(valid.image_url.as_str().to_owned());
    active.iso_boot = Set(valid.iso_boot.map(|m| m.as_str().to_owned()));
    active.args = Set(args);
    if active.is_changed() {
        active.updated_at = Set(now);
        active.save(txn).await.map_err(db_error)?;
    }
    Ok(())
}

fn entry_item(
    doc: &EntryDoc,
    images: &HashMap<String, i32>,
    line: Option<usize>,
    path: &str,
) -> Result<MenuItem, ImportError> {
    match (&doc.image, &doc.separator, &doc.action) {
        (Some(title), None, None) => images
            .get(title.trim())
            .map(|&image_id| MenuItem::Image { image_id })
            .ok_or_else(|| {
                fail(
                    line,
                    format!("{path}.image"),
                    format!("no image `{title}` in this organization"),
                )
            }),
        (None, Some(text), None) => Ok(MenuItem::Separator { text: text.clone() }),
        (None, None, Some(action)) => {
            let action =
                MenuAction::parse(action).map_err(|m| fail(line, format!("{path}.action"), m))?;
            Ok(MenuItem::Action {
                action,
                url: doc.url.clone(),
            })
        }
        _ => Err(fail(
            line,
            path,
            "an entry has exactly one of `image`, `separator` or `action`",
        )),
    }
}

async fn import_menu(
    txn: &DatabaseTransaction,
    org_id: i32,
    doc: &MenuDoc,
    line: Option<usize>,
    path: &str,
) -> Result<(), ImportError> {
    let settings = MenuSettings {
        title: doc.title.clone(),
        background_url: doc.background.clone().unwrap_or_default(),
        timeout_secs: doc.timeout.map(|t| t.to_string()).unwrap_or_default(),
    };
    let valid = settings.check().map_err(|e| {
        app_error(line, path, e, |f| match f {
            "background_url" => "background",
            "timeout_secs" => "timeout",
            other => other,
        })
    })?;
    let images: HashMap<String, i32> = boot_image::Entity::find()
        .filter(boot_image::Column::OrganizationId.eq(org_id))
        .all(txn)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|i| (i.title, i.id))
        .collect();
    let mut entries = Vec::with_capacity(doc.entries.len());
    for (i, entry) in doc.entries.iter().enumerate() {
        entries.push(app::boot::MenuEntry {
            item: entry_item(entry, &images, line, &format!("{path}.entries[{i}]"))?,
            is_default: entry.default,
        });
    }
    let entries = app::server::services::menus::check_entries(txn, org_id, &entries)
        .await
        .map_err(|e| app_error(line, path, e, |f| f))?;
    let now = Utc::now();
    let existing = boot_menu::Entity::find()
        .filter(boot_menu::Column::OrganizationId.eq(org_id))
        .filter(boot_menu::Column::Title.eq(valid.title.as_str()))
        .one(txn)
        .await
        .map_err(db_error)?;
    let (menu_id, version) = match &existing {
        Some(found) => (found.id, found.version),
        None => {
            let created = boot_menu::ActiveModel {
                id: NotSet,
                organization_id: Set(org_id),
                title: Set(valid.title.as_str().to_owned()),
                background_url: Set(None),
                timeout_secs: Set(None),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(txn)
            .await
            .map_err(db_error)?;
            (created.id, created.version)
        }
    };
    let current = app::server::services::menus::load(txn, org_id, menu_id)
        .await
        .map_err(|e| fail(line, path, e.to_string()))?;
    let background = valid.background_url.map(|u| u.as_str().to_owned());
    let unchanged = current.entries == entries
        && current.background_url == background
        && current.timeout_secs == valid.timeout_secs;
    if unchanged {
        return Ok(());
    }
    menu_entry::Entity::delete_many()
        .filter(menu_entry::Column::MenuId.eq(menu_id))
        .exec(txn)
        .await
        .map_err(db_error)?;
    if !entries.is_empty() {
        let rows = entries
            .into_iter()
            .enumerate()
            .map(|(i, entry)| app::server::services::menus::entry_row(menu_id, i as i32, entry));
        menu_entry::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await
            .map_err(db_error)?;
    }
    boot_menu::ActiveModel {
        id: Set(menu_id),
        background_url: Set(background),
        timeout_secs: Set(valid.timeout_secs),
        version: Set(version + 1),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(txn)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn import_group(
    txn: &DatabaseTransaction,
    org_id: i32,
    org_members: &[(i32, Role)],
    users: &HashMap<String, i32>,
    doc: &GroupDoc,
    line: Option<usize>,
    path: &str,
) -> Result<(), ImportError> {
    let name = DisplayName::parse(&doc.name, "group", NAME_MAX)
        .map_err(|m| fail(line, format!("{path}.name"), m))?;
    let description = parse_description(&doc.description)
        .map_err(|e| fail(line, format!("{path}.description"), e.to_string()))?;
    let menu_id = match &doc.menu {
        Some(title) => Some(
            boot_menu::Entity::find()
                .filter(boot_menu::Column::OrganizationId.eq(org_id))
                .filter(boot_menu::Column::Title.eq(title.trim()))
                .one(txn)
                .await
                .map_err(db_error)?
                .ok_or_else(|| {
                    fail(
                        line,
                        format!("{path}.menu"),
                        format!("no menu `{title}` in this organization"),
                    )
                })?
                .id,
        ),
        None => None,
    };
    let mut member_ids = Vec::new();
    for (i, member) in doc.members.iter().enumerate() {
        let member_path = format!("{path}.members[{i}]");
        let username = Username::parse(member).map_err(|m| fail(line, &member_path, m))?;
        let user_id = *users
            .get(username.as_str())
            .ok_or_else(|| fail(line, &member_path, format!("no user `{username}`")))?;
        if !org_members.iter().any(|(id, _)| *id == user_id) {
            return Err(fail(
                line,
                &member_path,
                format!("`{username}` is not a member of this organization"),
            ));
        }
        member_ids.push(user_id);
    }
    let now = Utc::now();
    let existing = group::Entity::find()
        .filter(group::Column::OrganizationId.eq(org_id))
        .filter(group::Column::Name.eq(name.as_str()))
        .one(txn)
        .await
        .map_err(db_error)?;
    let mut active = match existing {
        Some(found) => found.into(),
        None => group::ActiveModel {
            id: NotSet,
            organization_id: Set(org_id),
            name: Set(name.as_str().to_owned()),
            created_at: Set(now),
            ..Default::default()
        },
    };
    active.description = Set(description);
    active.menu_id = Set(menu_id);
    let group_id = if active.is_changed() {
        active.updated_at = Set(now);
        active.save(txn).await.map_err(db_error)?.id.unwrap()
    } else {
        active.id.unwrap()
    };
    let mut current: Vec<i32> = group_member::Entity::find()
        .filter(group_member::Column::GroupId.eq(group_id))
        .all(txn)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    current.sort_unstable();
    member_ids.sort_unstable();
    member_ids.dedup();
    if current != member_ids {
        group_member::Entity::delete_many()
            .filter(group_member::Column::GroupId.eq(group_id))
            .exec(txn)
            .await
            .map_err(db_error)?;
        if !member_ids.is_empty() {
            group_member::Entity::insert_many(member_ids.iter().map(|&user_id| {
                group_member::ActiveModel {
                    group_id: Set(group_id),
                    user_id: Set(user_id),
                }
            }))
            .exec_without_returning(txn)
            .await
            .map_err(db_error)?;
        }
    }
    Ok(())
}

/// Writes everything as an import file; password hashes only when asked.
pub async fn export(db: &DatabaseConnection, with_hashes: bool) -> Result<String, ImportError> {
    let users = user::Entity::find()
        .order_by_asc(user::Column::Username)
        .all(db)
        .await
        .map_err(db_error)?;
    let names: HashMap<i32, String> = users.iter().map(|u| (u.id, u.username.clone())).collect();
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
        organizations: Vec::new(),
    };
    let organizations = organization::Entity::find()
        .order_by_asc(organization::Column::Name)
        .all(db)
        .await
        .map_err(db_error)?;
    for org in organizations {
        let members = organization_member::Entity::find()
            .filter(organization_member::Column::OrganizationId.eq(org.id))
            .all(db)
            .await
            .map_err(db_error)?;
        let mut members: Vec<MemberDoc> = members
            .into_iter()
            .filter_map(|m| {
                Some(MemberDoc {
                    user: names.get(&m.user_id)?.clone(),
                    role: m.role,
                })
            })
            .collect();
        members.sort_by(|a, b| a.user.cmp(&b.user));
        let images =
            app::server::services::images::list(db, &app::server::actor::Actor::operator(), org.id)
                .await
                .map_err(|e| fail(None, "export", e.to_string()))?;
        let image_titles: HashMap<i32, String> =
            images.iter().map(|i| (i.id, i.title.clone())).collect();
        let image_docs = images
            .iter()
            .map(|i| {
                Spanned::new(
                    0..0,
                    ImageDoc {
                        title: i.title.clone(),
                        kind: i.kind.as_str().to_owned(),
                        kernel: i.kernel_url.clone(),
                        image: i.image_url.clone(),
                        boot: (i.kind == app::boot::ImageKind::Iso)
                            .then(|| i.iso_boot.as_str().to_owned()),
                        args: i.args.clone(),
                    },
                )
            })
            .collect();
        let menu_rows = boot_menu::Entity::find()
            .filter(boot_menu::Column::OrganizationId.eq(org.id))
            .order_by_asc(boot_menu::Column::Title)
            .all(db)
            .await
            .map_err(db_error)?;
        let menu_titles: HashMap<i32, String> =
            menu_rows.iter().map(|m| (m.id, m.title.clone())).collect();
        let mut menu_docs = Vec::new();
        for row in &menu_rows {
            let menu = app::server::services::menus::load(db, org.id, row.id)
                .await
                .map_err(|e| fail(None, "export", e.to_string()))?;
            let entries = menu
                .entries
                .iter()
                .map(|e| {
                    let mut doc = EntryDoc {
                        default: e.is_default,
                        ..EntryDoc::default()
                    };
                    match &e.item {
                        MenuItem::Image { image_id } => {
                            doc.image = image_titles.get(image_id).cloned()
                        }
                        MenuItem::Separator { text } => doc.separator = Some(text.clone()),
                        MenuItem::Action { action, url } => {
                            doc.action = Some(action.as_str().to_owned());
                            doc.url = url.clone();
                        }
                    }
                    doc
                })
                .collect();
            menu_docs.push(Spanned::new(
                0..0,
                MenuDoc {
                    title: menu.title,
                    background: menu.background_url,
                    timeout: menu.timeout_secs,
                    entries,
                },
            ));
        }
        let group_rows = group::Entity::find()
            .filter(group::Column::OrganizationId.eq(org.id))
            .order_by_asc(group::Column::Name)
            .all(db)
            .await
            .map_err(db_error)?;
        let mut group_docs = Vec::new();
        for g in group_rows {
            let mut members: Vec<String> = group_member::Entity::find()
                .filter(group_member::Column::GroupId.eq(g.id))
                .all(db)
                .await
                .map_err(db_error)?
                .into_iter()
                .filter_map(|m| names.get(&m.user_id).cloned())
                .collect();
            members.sort();
            group_docs.push(Spanned::new(
                0..0,
                GroupDoc {
                    name: g.name,
                    description: g.description,
                    menu: g.menu_id.and_then(|id| menu_titles.get(&id).cloned()),
                    members,
                },
            ));
        }
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
