//! Loader sets and the loader each architecture is offered, for server admins.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};

use crate::error::AppError;

/// The most an upload of one set may carry.
pub const UPLOAD_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Adds a loader set from a form with its `name` and its `files`; returns its id.
#[server(endpoint = "add_loader_set", input = MultipartFormData)]
pub async fn add_loader_set(data: MultipartData) -> Result<i32, AppError> {
    use super::context::{actor, state};
    use crate::server::services::loader_sets::{self, MAX_FILE_BYTES, MAX_FILES, NewFile};

    let actor = actor().await?;
    // Refused before a byte of the upload is read.
    actor.require_server_admin()?;
    let state = state()?;
    let mut form = data.into_inner().ok_or(AppError::Internal)?;
    fn cut_off(error: impl std::fmt::Display) -> AppError {
        AppError::invalid("files", format!("The upload could not be read: {error}."))
    }
    let (mut name, mut files, mut total) = (String::new(), Vec::new(), 0usize);
    while let Some(mut field) = form.next_field().await.map_err(cut_off)? {
        match field.name() {
            Some("name") => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(cut_off)? {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > loader_sets::NAME_MAX * 4 {
                        return Err(AppError::invalid(
                            "name",
                            format!("At most {} characters.", loader_sets::NAME_MAX),
                        ));
                    }
                }
                name = String::from_utf8(bytes)
                    .map_err(|_| AppError::invalid("name", "The name is not text."))?;
            }
            Some("files") => {
                let file_name = field.file_name().unwrap_or_default().to_owned();
                let mut content = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(cut_off)? {
                    total += chunk.len();
                    if content.len() + chunk.len() > MAX_FILE_BYTES || total > UPLOAD_MAX_BYTES {
                        return Err(AppError::invalid(
                            "files",
                            format!(
                                "Files are at most {} MiB each and {} MiB together.",
                                MAX_FILE_BYTES >> 20,
                                UPLOAD_MAX_BYTES >> 20
                            ),
                        ));
                    }
                    content.extend_from_slice(&chunk);
                }
                // A file input left empty sends a nameless, empty part.
                if file_name.is_empty() && content.is_empty() {
                    continue;
                }
                if files.len() == MAX_FILES {
                    return Err(AppError::invalid(
                        "files",
                        format!("A set holds at most {MAX_FILES} files."),
                    ));
                }
                files.push(NewFile {
                    name: file_name,
                    content,
                });
            }
            _ => {}
        }
    }
    let id = loader_sets::create(&state.db, &actor, &name, files).await?;
    if let Some(boot_server) = &state.boot_server {
        boot_server.loaders_changed();
    }
    Ok(id)
}

/// Deletes a loader set; architectures offered one of its files get the built-in loader.
#[server(endpoint = "delete_loader_set")]
pub async fn delete_loader_set(set_id: i32) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::server::services::loader_sets;

    let actor = actor().await?;
    actor.require_server_admin()?;
    let state = state()?;
    loader_sets::delete(&state.db, &actor, set_id).await?;
    if let Some(boot_server) = &state.boot_server {
        boot_server.loaders_changed();
    }
    Ok(())
}

/// Offers `arch` (`bios`, `x64-uefi`, `arm64-uefi`) the loader `<set>/<file>`, or the
/// built-in one when `loader` is empty.
#[server(endpoint = "choose_loader")]
pub async fn choose_loader(arch: String, loader: String) -> Result<(), AppError> {
    use super::context::{actor, state};
    use crate::{model::LoaderArch, server::services::loader_sets};

    let actor = actor().await?;
    // Refused before the arguments are looked at.
    actor.require_server_admin()?;
    let state = state()?;
    let arch = LoaderArch::from_id(&arch)
        .ok_or_else(|| AppError::invalid("arch", "Choose BIOS, x86-64 UEFI or ARM64 UEFI."))?;
    let loader = Some(loader.trim()).filter(|l| !l.is_empty());
    loader_sets::choose(&state.db, &actor, arch, loader).await?;
    if let Some(boot_server) = &state.boot_server {
        boot_server.loaders_changed();
    }
    Ok(())
}
