//! Each organization's file library (kernels, initrds, ISOs) and the uploads that fill it.
//!
//! A file is a name in one organization for bytes stored once on disk by their SHA-256
//! ([`FileStore`]). An upload is a row with its progress, so that it resumes after a dropped
//! connection, a reload, or on another replica: a request writing to it holds a lease on the
//! row, and `received` only counts bytes that are on disk and synced.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionSession,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{
    boot::ImageSource,
    error::AppError,
    library::{
        FileRow, ISO_TYPE, IsoNote, Library, SNIFF_BYTES, UploadRow, check_file_name,
        content_type_of, human_size as human, parse_sha256,
    },
    model::Role,
    server::{
        actor::Actor,
        db,
        entities::{boot_image, file, organization, organization_member, upload},
        file_store::{FileStore, Part, WRITE_CHUNK},
    },
};
use axum::body::Bytes;

/// How long a request may write to an upload without renewing its lease; a request that
/// died holding it (its replica crashed) lets others in after this.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(60);
/// An upload that receives nothing for this long is dropped with its bytes.
pub const UPLOAD_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
/// The largest file accepted: far above any ISO, below what a signed 64-bit length holds.
pub const MAX_FILE_BYTES: u64 = 1 << 42;

/// Changes of one organization's library run one after the other (`db::serialize`), so that
/// two uploads started at once cannot both fit a quota only one fits, and a file cannot go
/// while an image is being pointed at it.
pub fn space_key(organization_id: i32) -> String {
    format!("files:{organization_id}")
}

/// A stored size (never negative) as bytes.
fn bytes(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

fn rfc3339(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn to_row(model: file::Model, notes: &HashMap<String, IsoNote>) -> FileRow {
    FileRow {
        iso: notes.get(&model.sha256).cloned(),
        id: model.id,
        size: bytes(model.size),
        added_at: rfc3339(model.created_at),
        name: model.name,
        content_type: model.content_type,
        sha256: model.sha256,
        public: model.public,
        added_by: model.added_by_name,
    }
}

/// An upload as the Files page shows it.
pub fn upload_row(model: upload::Model) -> UploadRow {
    let now = Utc::now();
    UploadRow {
        running: model.lease_until.is_some_and(|until| until > now),
        source_url: model.source_url,
        sums_url: model.sums_url,
        failure: model.failure,
        length: bytes(model.length),
        received: bytes(model.received),
        updated_at: rfc3339(model.updated_at),
        id: model.id,
        name: model.name,
        expected_sha256: model.expected_sha256,
        started_by: model.created_by_name,
    }
}

/// An organization's files and uploads, and its space; for its admins.
pub async fn library(
    conn: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
) -> Result<Library, AppError> {
    actor
        .require_role(conn, organization_id, Role::Admin)
        .await?;
    let quota = organization::Entity::find_by_id(organization_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?
        .file_quota;
    let files = file::Entity::find()
        .filter(file::Column::OrganizationId.eq(organization_id))
        .order_by_asc(file::Column::Name)
        .all(conn)
        .await?;
    let uploads = upload::Entity::find()
        .filter(upload::Column::OrganizationId.eq(organization_id))
        .order_by_asc(upload::Column::CreatedAt)
        .all(conn)
        .await?;
    let used = files.iter().map(|f| bytes(f.size)).sum();
    let reserved = uploads.iter().map(|u| bytes(u.length)).sum();
    let notes = super::iso::notes(conn, &files).await?;
    Ok(Library {
        files: files.into_iter().map(|f| to_row(f, &notes)).collect(),
        uploads: uploads.into_iter().map(upload_row).collect(),
        used,
        reserved,
        quota: quota.map(bytes),
    })
}

/// Sets the most an organization's library may hold (`None`: no limit); server admins only.
/// A quota below what is stored already is allowed: nothing more fits until files go.
pub async fn set_quota(
    conn: &impl db::Conn,
    actor: &Actor,
    organization_id: i32,
    quota: Option<u64>,
) -> Result<(), AppError> {
    actor.require_server_admin()?;
    let quota = quota
        .map(|q| i64::try_from(q).map_err(|_| AppError::invalid("quota", "That is too large.")))
        .transpose()?;
    let result = organization::Entity::update_many()
        .col_expr(organization::Column::FileQuota, Expr::value(quota))
        .filter(organization::Column::Id.eq(organization_id))
        .exec(conn)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// A file an admin of its organization acts on. Anyone else is refused the same way whether
/// or not the file exists.
pub(crate) async fn administered(
    conn: &impl db::Conn,
    actor: &Actor,
    file_id: i32,
) -> Result<file::Model, AppError> {
    let Some(file) = file::Entity::find_by_id(file_id).one(conn).await? else {
        actor.require_server_admin()?;
        return Err(AppError::NotFound);
    };
    actor
        .require_role(conn, file.organization_id, Role::Admin)
        .await?;
    Ok(file)
}

/// Lets anyone fetch a file (`public`), or only its organization's members and their
/// machines.
pub async fn set_public(
    conn: &impl db::Conn,
    actor: &Actor,
    file_id: i32,
    public: bool,
) -> Result<(), AppError> {
    let file = administered(conn, actor, file_id).await?;
    let mut active: file::ActiveModel = file.into();
    active.public = Set(public);
    active.update(conn).await?;
    Ok(())
}

/// The titles of the organization's images that boot the file named `name`.
pub async fn images_using(
    conn: &impl db::Conn,
    organization_id: i32,
    name: &str,
) -> Result<Vec<String>, AppError> {
    let stored = ImageSource::File(name.to_owned()).to_stored();
    Ok(boot_image::Entity::find()
        .select_only()
        .column(boot_image::Column::Title)
        .filter(boot_image::Column::OrganizationId.eq(organization_id))
        .filter(
            boot_image::Column::KernelUrl
                .eq(&stored)
                .or(boot_image::Column::ImageUrl.eq(&stored))
                .or(boot_image::Column::IsoUrl.eq(&stored)),
        )
        .order_by_asc(boot_image::Column::Title)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Deletes a file from its organization's library, unless an image boots it (the error
/// names them). Its bytes go with the next sweep when no other file names them.
pub async fn delete(conn: &impl db::Conn, actor: &Actor, file_id: i32) -> Result<(), AppError> {
    let file = administered(conn, actor, file_id).await?;
    let txn = conn.begin().await?;
    db::serialize(&txn, &space_key(file.organization_id)).await?;
    let users = images_using(&txn, file.organization_id, &file.name).await?;
    if !users.is_empty() {
        return Err(AppError::conflict(
            "file",
            format!(
                "{} is booted by {}: point {} at another file or URL first.",
                file.name,
                users.join(", "),
                if users.len() == 1 { "it" } else { "them" }
            ),
        ));
    }
    file::Entity::delete_by_id(file.id).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Checks that the library files an image names exist in its organization (`field` and the
/// source of each of the image's fields). Call inside the transaction that stores the
/// image, after `db::serialize` on [`space_key`].
pub async fn check_sources(
    conn: &impl db::Conn,
    organization_id: i32,
    sources: &[(&str, Option<&ImageSource>)],
) -> Result<(), AppError> {
    for (field, source) in sources {
        if let Some(ImageSource::File(name)) = source {
            let found = file::Entity::find()
                .filter(file::Column::OrganizationId.eq(organization_id))
                .filter(file::Column::Name.eq(name))
                .count(conn)
                .await?;
            if found == 0 {
                return Err(AppError::invalid(
                    *field,
                    format!("This organization's library has no file named {name}."),
                ));
            }
        }
    }
    Ok(())
}

/// A library file by name, for the boot flow (`None`: it is gone).
pub async fn by_name(
    conn: &impl db::Conn,
    organization_id: i32,
    name: &str,
) -> Result<Option<file::Model>, AppError> {
    Ok(file::Entity::find()
        .filter(file::Column::OrganizationId.eq(organization_id))
        .filter(file::Column::Name.eq(name))
        .one(conn)
        .await?)
}

/// Who reads a file.
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    /// Nobody signed in.
    Anonymous,
    /// A signed-in browser: members of the file's organization, and server admins.
    Browser(&'a Actor),
    /// A machine in a boot session of this user: only members of the file's organization
    /// (a server admin's machine boots what their own organizations offer, as at the menu).
    Machine(&'a Actor),
}

/// The file `file_id`, if `reader` may read it: anyone when it is public, else a member of
/// its organization (see [`Reader`]). `name` must be the file's (it ends the URL): anything
/// else is not found, and so is a file the reader may not read.
pub async fn readable(
    conn: &impl db::Conn,
    reader: Reader<'_>,
    file_id: i32,
    name: &str,
) -> Result<file::Model, AppError> {
    // One query: the file, found only when the reader may read it.
    let member_of = |actor: &Actor| {
        actor.user_id.map(|user_id| {
            file::Column::OrganizationId.in_subquery(
                Query::select()
                    .column(organization_member::Column::OrganizationId)
                    .from(organization_member::Entity)
                    .and_where(organization_member::Column::UserId.eq(user_id))
                    .to_owned(),
            )
        })
    };
    let may_read = match reader {
        Reader::Browser(actor) if actor.is_server_admin => None,
        Reader::Anonymous => Some(Condition::any()),
        Reader::Browser(actor) | Reader::Machine(actor) => {
            Some(Condition::any().add_option(member_of(actor)))
        }
    };
    let mut query = file::Entity::find_by_id(file_id).filter(file::Column::Name.eq(name));
    if let Some(condition) = may_read {
        query = query.filter(condition.add(file::Column::Public.eq(true)));
    }
    // Whether another organization's file exists is not said.
    query.one(conn).await?.ok_or(AppError::NotFound)
}

/// What an upload will be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    pub organization_id: i32,
    pub name: String,
    pub length: u64,
    pub expected_sha256: Option<String>,
    pub public: bool,
    /// Where the server fetches it from (`None`: a browser uploads it).
    pub source_url: Option<String>,
    /// The checksum list `expected_sha256` was read from.
    pub sums_url: Option<String>,
}

/// The bytes an organization's files and uploads take, and its quota.
async fn space(conn: &impl db::Conn, organization_id: i32) -> Result<(u64, Option<u64>), AppError> {
    let quota = organization::Entity::find_by_id(organization_id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?
        .file_quota;
    let sizes: Vec<i64> = file::Entity::find()
        .select_only()
        .column(file::Column::Size)
        .filter(file::Column::OrganizationId.eq(organization_id))
        .into_tuple()
        .all(conn)
        .await?;
    let lengths: Vec<i64> = upload::Entity::find()
        .select_only()
        .column(upload::Column::Length)
        .filter(upload::Column::OrganizationId.eq(organization_id))
        .into_tuple()
        .all(conn)
        .await?;
    // Summed here: PostgreSQL's SUM of a bigint is a numeric.
    let taken = sizes.iter().chain(&lengths).map(|&n| bytes(n)).sum();
    Ok((taken, quota.map(bytes)))
}

/// The error a full library gives: before a byte of the upload is sent.
pub const QUOTA_FIELD: &str = "quota";

/// Starts an upload for an organization's admin: checks the name (free among its files and
/// uploads), the expected checksum's shape, and that the length fits the quota, which it
/// then holds until the upload finishes or is cancelled.
pub async fn start_upload(
    conn: &impl db::Conn,
    actor: &Actor,
    new: NewUpload,
) -> Result<upload::Model, AppError> {
    actor
        .require_role(conn, new.organization_id, Role::Admin)
        .await?;
    check_file_name(&new.name).map_err(|message| AppError::invalid("name", message))?;
    let expected_sha256 =
        match new.expected_sha256.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(parse_sha256(text).ok_or_else(|| {
                AppError::invalid("sha256", "A SHA-256 is 64 hexadecimal digits.")
            })?),
        };
    if new.length > MAX_FILE_BYTES {
        return Err(AppError::invalid(
            QUOTA_FIELD,
            format!("A file is at most {}.", human(MAX_FILE_BYTES)),
        ));
    }
    let txn = conn.begin().await?;
    db::serialize(&txn, &space_key(new.organization_id)).await?;
    let taken_name = file::Entity::find()
        .filter(file::Column::OrganizationId.eq(new.organization_id))
        .filter(file::Column::Name.eq(&new.name))
        .count(&txn)
        .await?
        + upload::Entity::find()
            .filter(upload::Column::OrganizationId.eq(new.organization_id))
            .filter(upload::Column::Name.eq(&new.name))
            .count(&txn)
            .await?;
    if taken_name > 0 {
        return Err(AppError::conflict(
            "name",
            "This organization has a file (or an upload in progress) with this name.",
        ));
    }
    let (taken, quota) = space(&txn, new.organization_id).await?;
    if let Some(quota) = quota
        && taken.saturating_add(new.length) > quota
    {
        return Err(AppError::invalid(
            QUOTA_FIELD,
            format!(
                "This file ({}) does not fit: the organization's files may take {}, and {} are taken. Delete files, or ask a server admin for a larger quota.",
                human(new.length),
                human(quota),
                human(taken)
            ),
        ));
    }
    let mut id = [0u8; 16];
    rand::fill(&mut id);
    let now = Utc::now();
    let row = upload::ActiveModel {
        id: Set(hex::encode(id)),
        organization_id: Set(new.organization_id),
        name: Set(new.name),
        length: Set(new.length as i64),
        received: Set(0),
        expected_sha256: Set(expected_sha256),
        sha256_state: Set(None),
        sha256: Set(None),
        public: Set(new.public),
        created_by: Set(actor.user_id),
        created_by_name: Set(actor.username.clone()),
        lease_until: Set(None),
        lease_owner: Set(None),
        source_url: Set(new.source_url),
        sums_url: Set(new.sums_url),
        source_validator: Set(None),
        failure: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(db::conflict_on(
        "name",
        "An upload with this name has just started.",
    ))?;
    txn.commit().await?;
    Ok(row)
}

/// Changes the length an upload holds (a fetch whose source changed since it began), if the
/// organization's quota allows the new one; for the writer holding its lease.
pub async fn resize(
    conn: &impl db::Conn,
    leased: &upload::Model,
    length: u64,
) -> Result<(), AppError> {
    let too_large = || {
        AppError::invalid(
            QUOTA_FIELD,
            format!("A file is at most {}.", human(MAX_FILE_BYTES)),
        )
    };
    let stored = i64::try_from(length)
        .ok()
        .filter(|_| length <= MAX_FILE_BYTES)
        .ok_or_else(too_large)?;
    let txn = conn.begin().await?;
    db::serialize(&txn, &space_key(leased.organization_id)).await?;
    let row = upload::Entity::find()
        .filter(held(leased))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let (taken, quota) = space(&txn, row.organization_id).await?;
    let others = taken.saturating_sub(bytes(row.length));
    if let Some(quota) = quota
        && others.saturating_add(length) > quota
    {
        return Err(AppError::invalid(
            QUOTA_FIELD,
            format!(
                "The file is now {} and no longer fits: the organization's files may take {}, and {} are taken by others. Delete files, or ask a server admin for a larger quota.",
                human(length),
                human(quota),
                human(others)
            ),
        ));
    }
    upload::Entity::update_many()
        .col_expr(upload::Column::Length, Expr::value(stored))
        .filter(held(leased))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// An upload, for an admin of its organization (anyone else: not found).
pub async fn upload(
    conn: &impl db::Conn,
    actor: &Actor,
    id: &str,
) -> Result<upload::Model, AppError> {
    let upload = upload::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    match actor
        .require_role(conn, upload.organization_id, Role::Admin)
        .await
    {
        Ok(()) => Ok(upload),
        Err(AppError::Forbidden) => Err(AppError::NotFound),
        Err(error) => Err(error),
    }
}

/// Whether the upload `id` is still there.
pub async fn exists(conn: &impl db::Conn, id: &str) -> Result<bool, AppError> {
    Ok(upload::Entity::find_by_id(id.to_owned())
        .count(conn)
        .await?
        > 0)
}

/// Takes the upload for one request that writes from `offset`, which must be where it
/// stands; refused while another request (on any replica) writes to it, and for a fetch
/// (the server writes that one itself).
pub async fn lease(
    conn: &impl db::Conn,
    actor: &Actor,
    id: &str,
    offset: u64,
) -> Result<upload::Model, AppError> {
    let current = upload(conn, actor, id).await?;
    if current.source_url.is_some() {
        return Err(AppError::conflict(
            "upload",
            "The server fetches this file from its URL itself; it takes no pieces.",
        ));
    }
    if current.received as u64 != offset {
        return Err(AppError::conflict(
            "offset",
            format!(
                "The upload stands at byte {}, not {offset}: ask where it stands (HEAD) and go on from there.",
                current.received
            ),
        ));
    }
    take_lease(conn, current).await?.ok_or_else(|| {
        AppError::conflict(
            "offset",
            "Another request is sending this upload now; try again when it has stopped.",
        )
    })
}

/// Takes `current` for one writer of the server's own (a fetch), if nobody holds it and it
/// still stands where `current` says; `None` when another writer has it (or it moved on).
pub async fn take_lease(
    conn: &impl db::Conn,
    current: upload::Model,
) -> Result<Option<upload::Model>, AppError> {
    let now = Utc::now();
    let until = now + Duration::from_std(LEASE).unwrap_or(Duration::seconds(60));
    let mut owner = [0u8; 16];
    rand::fill(&mut owner);
    let owner = hex::encode(owner);
    let taken = upload::Entity::update_many()
        .col_expr(upload::Column::LeaseUntil, Expr::value(Some(until)))
        .col_expr(upload::Column::LeaseOwner, Expr::value(Some(owner.clone())))
        .filter(upload::Column::Id.eq(&current.id))
        .filter(upload::Column::Received.eq(current.received))
        .filter(
            upload::Column::LeaseUntil
                .is_null()
                .or(upload::Column::LeaseUntil.lt(now)),
        )
        .exec(conn)
        .await?;
    Ok((taken.rows_affected > 0).then_some(upload::Model {
        lease_until: Some(until),
        lease_owner: Some(owner),
        ..current
    }))
}

/// The rows a writer holding `leased` may still change: its upload, while its lease is
/// its own (not lapsed and taken by another writer since).
pub(crate) fn held(leased: &upload::Model) -> Condition {
    Condition::all()
        .add(upload::Column::Id.eq(&leased.id))
        .add(upload::Column::LeaseOwner.eq(leased.lease_owner.as_deref().unwrap_or_default()))
}

/// Records bytes on disk and synced (`received`) with the hash state after them, renewing
/// the lease; `false` when the upload is gone (cancelled meanwhile) or the lease is lost
/// (it lapsed and another writer took it): the writer must stop.
pub async fn advance(
    conn: &impl db::Conn,
    leased: &upload::Model,
    received: u64,
    sha256_state: &str,
) -> Result<bool, AppError> {
    let now = Utc::now();
    let until = now + Duration::from_std(LEASE).unwrap_or(Duration::seconds(60));
    let result = upload::Entity::update_many()
        .col_expr(upload::Column::Received, Expr::value(received as i64))
        .col_expr(upload::Column::Sha256State, Expr::value(sha256_state))
        .col_expr(upload::Column::LeaseUntil, Expr::value(Some(until)))
        .col_expr(upload::Column::UpdatedAt, Expr::value(now))
        .filter(held(leased))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Ends a request's writing: records where the upload stands (and the hash state after it)
/// and lets the next one in.
pub async fn release(
    conn: &impl db::Conn,
    leased: &upload::Model,
    received: u64,
    sha256_state: &str,
) -> Result<(), AppError> {
    upload::Entity::update_many()
        .col_expr(upload::Column::Received, Expr::value(received as i64))
        .col_expr(upload::Column::Sha256State, Expr::value(sha256_state))
        .col_expr(
            upload::Column::LeaseUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(upload::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(held(leased))
        .exec(conn)
        .await?;
    Ok(())
}

/// Lets the next request in without changing where the upload stands (this one failed
/// before writing anything it could count).
pub async fn unlease(conn: &impl db::Conn, leased: &upload::Model) -> Result<(), AppError> {
    upload::Entity::update_many()
        .col_expr(
            upload::Column::LeaseUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(held(leased))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records that every byte arrived and their SHA-256, keeping the lease: the request that
/// finishes it is the only one; a retry after a failure from here on finishes from the
/// stored checksum. `false` when the upload is gone (cancelled meanwhile) or its lease lost.
pub async fn complete(
    conn: &impl db::Conn,
    leased: &upload::Model,
    length: u64,
    sha256: &str,
) -> Result<bool, AppError> {
    let result = upload::Entity::update_many()
        .col_expr(upload::Column::Received, Expr::value(length as i64))
        .col_expr(upload::Column::Sha256, Expr::value(Some(sha256)))
        .col_expr(upload::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(held(leased))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// How often a writer makes its bytes count: syncs them, records `received` (and the hash
/// state) and renews its lease.
#[derive(Debug, Clone, Copy)]
pub struct Cadence {
    /// After this many bytes written since the last count…
    pub bytes: u64,
    /// …or this long after it, even when nothing arrived (the lease must not lapse).
    pub every: std::time::Duration,
}

impl Cadence {
    /// A browser's upload: the browser shows its own progress.
    pub const UPLOAD: Self = Self {
        bytes: 64 * 1024 * 1024,
        every: std::time::Duration::from_secs(LEASE.as_secs() / 4),
    };
    /// A fetch: `received` is the progress its page shows.
    pub const FETCH: Self = Self {
        bytes: 8 * 1024 * 1024,
        every: std::time::Duration::from_secs(2),
    };
}

/// How a stream's writing into an upload ended.
pub enum Received {
    /// The stream ended (whole, or `cut` short); `part` holds what arrived, not yet synced.
    Ended { part: Part, cut: Option<Cut> },
    /// The files folder failed (what was counted before stays counted).
    Disk(std::io::Error),
    /// The database failed.
    Failed(AppError),
    /// The upload was cancelled meanwhile, or its lease lost (it lapsed, another writer
    /// took it): nothing more may be written.
    Cancelled,
}

/// Why a stream stopped before its end.
#[derive(Debug)]
pub enum Cut {
    /// The connection failed or dropped (the error's text).
    Dropped(String),
    /// It ran past the upload's length: the bytes past it were not kept.
    PastLength,
    /// Nothing arrived for longer than allowed.
    Idle,
}

/// Writes `stream` into the upload `leased` (whose lease this writer holds) through `part`
/// (which stands where the upload does), counting synced bytes at `cadence`, until it ends,
/// runs past `length`, or (with `idle`) brings nothing for that long.
pub async fn receive<S, E>(
    conn: &impl db::Conn,
    leased: &upload::Model,
    mut stream: S,
    mut part: Part,
    length: u64,
    cadence: Cadence,
    idle: Option<std::time::Duration>,
) -> Received
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    use futures_util::StreamExt;
    use std::time::Instant;

    let mut buffer: Vec<u8> = Vec::with_capacity(WRITE_CHUNK);
    let mut counted = part.written();
    let mut last_count = Instant::now();
    let mut last_data = Instant::now();
    loop {
        let mut cut = None;
        let stop = match tokio::time::timeout(cadence.every, stream.next()).await {
            // Nothing for a while: count what there is (renewing the lease), unless that
            // was too long.
            Err(_) => {
                if idle.is_some_and(|idle| last_data.elapsed() >= idle) {
                    cut = Some(Cut::Idle);
                }
                cut.is_some()
            }
            Ok(None) => true,
            Ok(Some(Err(error))) => {
                cut = Some(Cut::Dropped(error.to_string()));
                true
            }
            Ok(Some(Ok(data))) => {
                last_data = Instant::now();
                // Nothing is kept past the length (nor before it, if the part somehow ran
                // past it already).
                let room = length.saturating_sub(part.written() + buffer.len() as u64);
                if data.len() as u64 > room {
                    buffer.extend_from_slice(&data[..room as usize]);
                    cut = Some(Cut::PastLength);
                } else {
                    buffer.extend_from_slice(&data);
                }
                cut.is_some()
            }
        };
        let count = !stop
            && (part.written() + buffer.len() as u64 - counted >= cadence.bytes
                || last_count.elapsed() >= cadence.every);
        if !buffer.is_empty() && (buffer.len() >= WRITE_CHUNK || stop || count) {
            let bytes = std::mem::replace(&mut buffer, Vec::with_capacity(WRITE_CHUNK));
            part = match blocking(move || part.write(bytes)).await {
                Ok(part) => part,
                Err(error) => return Received::Disk(error),
            };
        }
        if stop {
            return Received::Ended { part, cut };
        }
        if count {
            part = match blocking(move || part.sync()).await {
                Ok(part) => part,
                Err(error) => return Received::Disk(error),
            };
            match advance(conn, leased, part.written(), &part.hash_state()).await {
                Ok(true) => {}
                Ok(false) => return Received::Cancelled,
                Err(error) => return Received::Failed(error),
            }
            counted = part.written();
            last_count = Instant::now();
        }
    }
}

/// Runs blocking file work on a blocking thread.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(std::io::Error::other)?
}

/// What kind of file the bytes at `path` are, from their first bytes: the content type they
/// are served with (never one a browser would run).
async fn sniff(path: std::path::PathBuf) -> std::io::Result<&'static str> {
    blocking(move || {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let mut head = vec![0u8; SNIFF_BYTES];
        let mut filled = 0;
        while filled < head.len() {
            let n = file.read(&mut head[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Ok(content_type_of(&head[..filled]))
    })
    .await
}

/// Makes a complete upload (every byte arrived, `sha256` recorded) a file, its type told
/// by its first bytes (see [`finish`]); an ISO is looked inside at once (its directories
/// only: quick), so that the Files page says what it is.
pub async fn make_file(
    conn: &impl db::Conn,
    store: &FileStore,
    upload: upload::Model,
    sha256: &str,
) -> Result<file::Model, AppError> {
    // Its kind, from the bytes where they are now.
    let part = store.part(&upload.id);
    let bytes = if tokio::fs::try_exists(&part).await.unwrap_or(false) {
        part
    } else {
        store.blob(sha256)
    };
    let kind = sniff(bytes).await.unwrap_or("application/octet-stream");
    let file = finish(conn, store, upload, sha256, kind).await?;
    if file.content_type == ISO_TYPE
        && let Err(error) = super::iso::inspect(conn, store, &file.sha256).await
    {
        // The housekeeping tries again.
        tracing::warn!(?error, file = file.id, "could not look inside a new ISO");
    }
    Ok(file)
}

/// Makes a complete upload a file: checks the expected SHA-256 (a mismatch drops the upload
/// and its bytes, and says both checksums), moves the bytes into place, names them. An
/// upload cancelled meanwhile is not found (its bytes, if moved, go with the next sweep).
pub async fn finish(
    conn: &impl db::Conn,
    store: &FileStore,
    upload: upload::Model,
    sha256: &str,
    content_type: &str,
) -> Result<file::Model, AppError> {
    if let Some(expected) = upload.expected_sha256.as_deref()
        && expected != sha256
    {
        discard(conn, store, &upload.id).await?;
        return Err(AppError::invalid(
            "sha256",
            format!(
                "The file arrived with SHA-256 {sha256}, not the {expected} expected; it was not kept. Check the file (or the checksum) and upload it again."
            ),
        ));
    }
    let store_result = store.commit(&upload.id, sha256).await.map_err(|error| {
        tracing::error!(%error, upload = upload.id, "could not move a finished upload into place");
        error
    });
    if let Err(error) = store_result {
        if error.kind() != std::io::ErrorKind::NotFound {
            return Err(AppError::Internal);
        }
        // Neither the part nor the bytes: cancelled while it finished, or the bytes were
        // lost on the server (the files folder was restored, say). Either way it is over.
        let still_there = upload::Entity::find_by_id(upload.id.clone())
            .count(conn)
            .await?
            > 0;
        discard(conn, store, &upload.id).await?;
        return Err(if still_there {
            AppError::conflict(
                "upload",
                "The server lost this upload's bytes; upload the file again.",
            )
        } else {
            AppError::NotFound
        });
    }
    let txn = conn.begin().await?;
    db::serialize(&txn, &space_key(upload.organization_id)).await?;
    let gone = upload::Entity::delete_by_id(upload.id.clone())
        .exec(&txn)
        .await?;
    if gone.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    let row = file::ActiveModel {
        id: NotSet,
        organization_id: Set(upload.organization_id),
        name: Set(upload.name),
        size: Set(upload.length),
        content_type: Set(content_type.to_owned()),
        sha256: Set(sha256.to_owned()),
        public: Set(upload.public),
        added_by: Set(upload.created_by),
        added_by_name: Set(upload.created_by_name),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await
    .map_err(db::conflict_on(
        "name",
        "This organization has a file with this name.",
    ))?;
    txn.commit().await?;
    Ok(row)
}

/// Drops an upload and its bytes.
pub(crate) async fn discard(
    conn: &impl db::Conn,
    store: &FileStore,
    id: &str,
) -> Result<(), AppError> {
    upload::Entity::delete_by_id(id.to_owned())
        .exec(conn)
        .await?;
    if let Err(error) = store.discard(id).await {
        // The sweep deletes it later.
        tracing::warn!(%error, upload = id, "could not delete a dropped upload's bytes");
    }
    Ok(())
}

/// Cancels an upload (tus termination): its row and its bytes go, its quota is free again.
pub async fn cancel(
    conn: &impl db::Conn,
    store: &FileStore,
    actor: &Actor,
    id: &str,
) -> Result<(), AppError> {
    let upload = upload(conn, actor, id).await?;
    discard(conn, store, &upload.id).await
}

/// Drops uploads idle past [`UPLOAD_TTL`], then deletes bytes no file or upload names;
/// returns the files deleted and the bytes freed.
pub async fn sweep(conn: &impl db::Conn, store: &FileStore) -> Result<(u64, u64), AppError> {
    let stale: Vec<String> = upload::Entity::find()
        .select_only()
        .column(upload::Column::Id)
        .filter(upload::Column::UpdatedAt.lt(db::ago(UPLOAD_TTL)))
        .into_tuple()
        .all(conn)
        .await?;
    for id in &stale {
        discard(conn, store, id).await?;
    }
    let named: std::collections::HashSet<String> = file::Entity::find()
        .select_only()
        .column(file::Column::Sha256)
        .distinct()
        .into_tuple()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let uploading: std::collections::HashSet<String> = upload::Entity::find()
        .select_only()
        .column(upload::Column::Id)
        .into_tuple()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    store
        .sweep(
            move |sha| named.contains(sha),
            move |id| uploading.contains(id),
        )
        .await
        .map_err(|error| {
            tracing::warn!(%error, "could not sweep the files folder");
            AppError::Internal
        })
}
