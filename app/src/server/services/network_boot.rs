//! The Network boot page's data, for server admins: the boot server's doors and loaders,
//! what they did lately, and configuration for the site's own DHCP server.

use std::net::Ipv4Addr;

use crate::{
    error::AppError,
    model::{DhcpSnippet, LoaderArch, LoaderChoice, NetworkBoot, NetworkEventRow},
    server::{
        actor::Actor,
        boot_server::{BootServerProbe, BootServerStatus, arch_name},
        db,
        dhcp_snippets::{self, BootServer, DhcpServer},
        entities::network_event,
        services::{loader_sets, network_log},
    },
};

/// How many recent events the page shows.
pub const RECENT_EVENTS: u64 = 50;

/// The page's data; the snippets written for `address` (any IPv4 address: the server may be
/// reached through one it does not see), else for ProxyDHCP's first address or this host's
/// first that is not loopback.
pub async fn overview(
    conn: &impl db::Conn,
    actor: &Actor,
    probe: Option<&dyn BootServerProbe>,
    address: Option<&str>,
) -> Result<NetworkBoot, AppError> {
    actor.require_server_admin()?;
    let address = match address.map(str::trim).filter(|a| !a.is_empty()) {
        Some(text) => Some(text.parse::<Ipv4Addr>().map_err(|_| {
            AppError::invalid("address", "Give an IPv4 address such as 192.168.1.10.")
        })?),
        None => None,
    };
    let status = probe.map(BootServerProbe::status).unwrap_or_default();
    let events = network_log::recent(conn, actor, None, RECENT_EVENTS).await?;
    let (loader_sets, mut chosen) = loader_sets::list(conn, actor).await?;
    let loader_for = |arch: LoaderArch| {
        chosen
            .get(&arch)
            .cloned()
            .unwrap_or_else(|| arch.builtin().to_owned())
    };
    let (bios_loader, efi64_loader) = (
        loader_for(LoaderArch::Bios),
        loader_for(LoaderArch::X64Uefi),
    );
    let loader_choices = LoaderArch::ALL
        .into_iter()
        .map(|arch| LoaderChoice {
            arch,
            chosen: chosen.remove(&arch),
            builtin_present: status.loaders.iter().any(|l| l.name == arch.builtin()),
        })
        .collect();
    let address = address.or_else(|| default_address(&status));
    let snippets = address
        .map(|address| {
            let boot = BootServer {
                bios_loader: bios_loader.clone(),
                efi64_loader: efi64_loader.clone(),
                ..BootServer::new(address, status.http_port, status.public_http_url.as_deref())
            };
            DhcpServer::ALL
                .into_iter()
                .map(|server| DhcpSnippet {
                    id: server.id().to_owned(),
                    name: server.to_string(),
                    placement: server.placement().to_owned(),
                    text: dhcp_snippets::snippet(server, &boot),
                })
                .collect()
        })
        .unwrap_or_default();
    let snippet_warning = (!status.tftp_on_69).then(|| {
        "TFTP does not answer on port 69 here, so PXE firmware cannot load a loader from this \
         server (iPXE and UEFI HTTP Boot clients can): start PXE Cloud with --tftp (or --pxe)."
            .to_owned()
    });
    Ok(NetworkBoot {
        listeners: status.listeners,
        loader_source: status.loader_source,
        loaders: status.loaders,
        loader_sets,
        loader_choices,
        counters: status.counters,
        events: events.into_iter().map(to_row).collect(),
        addresses: status
            .addresses
            .iter()
            .map(|(name, address)| (name.clone(), address.to_string()))
            .collect(),
        snippet_address: address.map(|a| a.to_string()),
        snippets,
        snippet_warning,
    })
}

/// ProxyDHCP's first address, else this host's first that is not loopback.
fn default_address(status: &BootServerStatus) -> Option<Ipv4Addr> {
    status.proxy_dhcp_addresses.first().copied().or_else(|| {
        status
            .addresses
            .iter()
            .map(|(_, address)| *address)
            .find(|address| !address.is_loopback())
    })
}

fn to_row(event: network_event::Model) -> NetworkEventRow {
    NetworkEventRow {
        at: event
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        protocol: event.protocol,
        client_ip: event.client_ip,
        client_mac: event.client_mac,
        arch: event
            .arch
            .and_then(|code| u16::try_from(code).ok())
            .map(arch_name),
        vendor_class: event.vendor_class,
        interface: event.interface,
        file: event.file,
        bytes: event.bytes.and_then(|v| u64::try_from(v).ok()),
        duration_ms: event.duration_ms.and_then(|v| u64::try_from(v).ok()),
        outcome: event.outcome,
    }
}
