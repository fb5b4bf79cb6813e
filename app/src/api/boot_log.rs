//! An organization's boot log.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{BootLogRow, Page},
};

/// A page of the organization's boot log, newest first, filtered by user, machine or entry.
#[server(endpoint = "boot_log")]
pub async fn boot_log(
    organization_id: i32,
    filter: String,
    page: u64,
) -> Result<Page<BootLogRow>, AppError> {
    use super::context::{actor, state};
    use crate::server::services::boot_log;

    let actor = actor().await?;
    boot_log::page(&state()?.db, &actor, organization_id, &filter, page).await
}
