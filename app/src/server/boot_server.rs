//! What the web app can see of the boot server's UDP doors (TFTP, ProxyDHCP), which live in
//! the server crate: it fills a [`BootServerProbe`] at start and puts it in the state.

use std::net::Ipv4Addr;

use crate::model::{Counter, Listener, LoaderRow};

/// The boot server's state at this moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootServerStatus {
    pub listeners: Vec<Listener>,
    pub loader_source: String,
    pub loaders: Vec<LoaderRow>,
    pub counters: Vec<Counter>,
    /// This host's IPv4 addresses by interface (loopback last), for the DHCP snippets.
    pub addresses: Vec<(String, Ipv4Addr)>,
    /// The addresses ProxyDHCP answers on, when it runs.
    pub proxy_dhcp_addresses: Vec<Ipv4Addr>,
    /// This server's plain HTTP port and, when it is plain HTTP, its public URL: where the
    /// snippets send iPXE.
    pub http_port: u16,
    pub public_http_url: Option<String>,
    /// Whether TFTP answers on port 69, where PXE firmware asks.
    pub tftp_on_69: bool,
}

/// Reads the boot server's state; implemented by the server crate.
pub trait BootServerProbe: Send + Sync + std::fmt::Debug {
    fn status(&self) -> BootServerStatus;

    /// A server admin changed the loader sets: read them again now (other replicas notice
    /// within seconds).
    fn loaders_changed(&self) {}
}

/// The machines an architecture code of option 93 stands for.
pub fn arch_name(code: u16) -> String {
    match code {
        0 => "BIOS".to_owned(),
        6 => "x86 UEFI".to_owned(),
        7 | 9 => "x86-64 UEFI".to_owned(),
        10 => "ARM32 UEFI".to_owned(),
        11 => "ARM64 UEFI".to_owned(),
        15 => "x86 UEFI HTTP".to_owned(),
        16 => "x86-64 UEFI HTTP".to_owned(),
        19 => "ARM64 UEFI HTTP".to_owned(),
        other => format!("arch {other}"),
    }
}
