//! An organization's file library: what its admins see and change. The bytes come and go
//! over plain HTTP (`/uploads`, `/files/…`): see the server's `http::files`.

use leptos::prelude::*;

use crate::{error::AppError, library::Library};

/// An organization's files, its uploads in progress, and its space.
#[server(endpoint = "files")]
pub async fn files(organization_id: i32) -> Result<Library, AppError> {
    use super::context::{actor, state};
    use crate::server::services::files;

    let actor = actor().await?;
    files::library(&state()?.db, &actor, organization_id).await
}

/// Deletes a file.
#[server(endpoint = "delete_file")]
pub async fn delete_file(file_id: i32) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::files;

    let actor = actor().await?;
    files::delete(&state()?.db, &actor, file_id).await
}

/// Lets anyone fetch a file by its URL (`public`), or only the organization's members and
/// their machines.
#[server(endpoint = "set_file_public")]
pub async fn set_file_public(file_id: i32, public: bool) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::files;

    let actor = actor().await?;
    files::set_public(&state()?.db, &actor, file_id, public).await
}

/// Sets how much an organization's files may take, e.g. `50 GiB`; empty: no limit. Server
/// admins only.
#[server(endpoint = "set_file_quota")]
pub async fn set_file_quota(organization_id: i32, quota: String) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::{library::parse_size, server::services::files};

    let actor = actor().await?;
    // Refused before the argument is looked at.
    actor.require_server_admin()?;
    let quota = match quota.trim() {
        "" => None,
        text => Some(parse_size(text).map_err(|message| AppError::invalid("quota", message))?),
    };
    files::set_quota(&state()?.db, &actor, organization_id, quota).await
}

/// Makes a kernel + initrd image of a recognised ISO of the library: its kernel and initrds
/// copied into the library, and arguments that fetch the rest from this server.
#[server(endpoint = "create_image_from_iso")]
pub async fn create_image_from_iso(file_id: i32) -> Result<crate::boot::BootImage, AppError> {
    use super::context::{actor, state};
    use crate::server::services::iso;

    let actor = actor().await?;
    let state = state()?;
    iso::create_image(&state.db, &state.file_store(), &actor, file_id).await
}

/// Has the server fetch a file from an http(s) URL into the organization's library, in the
/// background: the upload row it makes shows the progress (and, if it fails, why). `name`
/// empty: the URL's last segment; `sha256` or `sums_url` (a `SHA256SUMS` list) check it.
#[server(endpoint = "fetch_file")]
pub async fn fetch_file(
    organization_id: i32,
    url: String,
    name: String,
    sha256: String,
    sums_url: String,
    public: bool,
) -> Result<crate::library::UploadRow, AppError> {
    use super::context::{actor, state};
    use crate::server::services::{fetch, files};

    let actor = actor().await?;
    let state = state()?;
    let new = fetch::NewFetch {
        organization_id,
        url,
        name,
        sha256,
        sums_url,
        public,
    };
    let upload = fetch::start(&state.db, &*state.fetcher()?, &actor, new).await?;
    state.spawn_fetch(upload.id.clone())?;
    Ok(files::upload_row(upload))
}

/// Runs a fetch that failed again (from what it has, where the source allows).
#[server(endpoint = "retry_fetch")]
pub async fn retry_fetch(upload_id: String) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::fetch;

    let actor = actor().await?;
    let state = state()?;
    fetch::retry(&state.db, &actor, &upload_id).await?;
    state.spawn_fetch(upload_id)
}
