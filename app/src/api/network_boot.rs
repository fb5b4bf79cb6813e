//! The boot server, for server admins.

use leptos::prelude::*;

use crate::{error::AppError, model::NetworkBoot};

/// What the boot server listens on, its loaders, what it did lately, and configuration for
/// the site's DHCP server written for `address` (empty: the server's own).
#[server(endpoint = "network_boot")]
pub async fn network_boot_overview(address: String) -> Result<NetworkBoot, AppError> {
    use super::context::{actor, state};
    use crate::server::services::network_boot;

    let actor = actor().await?;
    actor.require_server_admin()?;
    let state = state()?;
    network_boot::overview(
        &state.db,
        &actor,
        state.boot_server.as_deref(),
        Some(&address),
    )
    .await
}
