//! What the Network boot page shows of this process's boot server: the doors and where they
//! listen, the loaders, and the counters of TFTP, ProxyDHCP and the event recorder.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, atomic::Ordering},
};

use app::{
    model::{Counter, Listener, LoaderRow},
    server::boot_server::{BootServerProbe, BootServerStatus},
};

use crate::{
    dhcp::{self, policy::Arch},
    netlog::Recorder,
    tftp::{self, files::LiveFiles},
};

/// This process's boot server, as `serve` started it.
#[derive(Debug, Default)]
pub struct Probe {
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    pub http_port: u16,
    pub public_http_url: Option<String>,
    pub tftp: Option<(SocketAddr, Arc<tftp::Stats>)>,
    pub proxy_dhcp: Option<(Vec<dhcp::Interface>, Arc<dhcp::Stats>)>,
    pub files: Option<Arc<LiveFiles>>,
    pub recorder: Option<Recorder>,
}

impl BootServerProbe for Probe {
    fn loaders_changed(&self) {
        if let Some(files) = &self.files {
            files.notify_changed();
        }
    }

    fn status(&self) -> BootServerStatus {
        let mut listeners = Vec::new();
        if let Some(http) = self.http {
            listeners.push(on(
                "HTTP",
                http,
                if self.https.is_some() {
                    "iPXE scripts and loaders (UEFI HTTP Boot); the web app is on HTTPS"
                } else {
                    "The web app, iPXE scripts and loaders (UEFI HTTP Boot)"
                },
            ));
        }
        if let Some(https) = self.https {
            listeners.push(on("HTTPS", https, "The web app"));
        }
        listeners.push(match &self.tftp {
            Some((address, _)) => on(
                "TFTP",
                *address,
                "Loaders and autoexec.ipxe for PXE firmware",
            ),
            None => off(
                "TFTP",
                "Off: start with --tftp (or --pxe) to serve loaders to PXE firmware",
            ),
        });
        listeners.push(match &self.proxy_dhcp {
            Some((interfaces, _)) => Listener {
                service: "ProxyDHCP".to_owned(),
                address: format!(
                    "UDP 67 and 4011 on {}",
                    interfaces
                        .iter()
                        .map(|i| format!("{} ({})", i.name, i.address))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                on: true,
                note: "Answers network-booting machines beside the site's DHCP server".to_owned(),
            },
            None => off(
                "ProxyDHCP",
                "Off: start with --proxy-dhcp (or --pxe), or give the site's DHCP server the \
                 configuration below",
            ),
        });
        BootServerStatus {
            listeners,
            loader_source: self
                .files
                .as_ref()
                .map(|files| files.current().source().to_owned())
                .unwrap_or_default(),
            loaders: self.loaders(),
            counters: self.counters(),
            addresses: dhcp::interfaces::addresses(),
            proxy_dhcp_addresses: self
                .proxy_dhcp
                .iter()
                .flat_map(|(interfaces, _)| interfaces.iter().map(|i| i.address))
                .collect(),
            http_port: self.http_port,
            public_http_url: self.public_http_url.clone(),
            tftp_on_69: self
                .tftp
                .as_ref()
                .is_some_and(|(address, _)| address.port() == 69),
        }
    }
}

fn on(service: &str, address: SocketAddr, note: &str) -> Listener {
    let address = match address {
        SocketAddr::V4(v4) if v4.ip() == &Ipv4Addr::UNSPECIFIED => {
            format!("port {} on every address", v4.port())
        }
        other => other.to_string(),
    };
    Listener {
        service: service.to_owned(),
        address,
        on: true,
        note: note.to_owned(),
    }
}

fn off(service: &str, note: &str) -> Listener {
    Listener {
        service: service.to_owned(),
        address: "not listening".to_owned(),
        on: false,
        note: note.to_owned(),
    }
}

impl Probe {
    fn loaders(&self) -> Vec<LoaderRow> {
        let Some(files) = &self.files else {
            return Vec::new();
        };
        let files = files.current();
        files
            .listing()
            .into_iter()
            .map(|(name, size, sha256)| LoaderRow {
                used_for: Arch::ALL
                    .into_iter()
                    .filter(|arch| files.for_arch(*arch) == Some(name.as_str()))
                    .map(|arch| arch.label().to_owned())
                    .collect(),
                name,
                size,
                sha256,
            })
            .collect()
    }

    fn counters(&self) -> Vec<Counter> {
        let mut counters = Vec::new();
        let mut count = |group: &str, name: &str, value: u64| {
            counters.push(Counter {
                group: group.to_owned(),
                name: name.to_owned(),
                value,
            });
        };
        if let Some((_, stats)) = &self.proxy_dhcp {
            let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
            count("ProxyDHCP", "Offers", load(&stats.offers));
            count("ProxyDHCP", "Acknowledgements", load(&stats.acks));
            use dhcp::policy::Ignored;
            for (reason, text) in [
                (Ignored::NotPxe, "Ignored: not network-booting"),
                (
                    Ignored::Architecture,
                    "Ignored: architecture without a loader",
                ),
                (Ignored::NoLoader, "Ignored: loader missing or TFTP off"),
                (Ignored::OtherServer, "Ignored: asks the site's DHCP server"),
                (Ignored::MessageType, "Ignored: other message types"),
                (Ignored::NotARequest, "Ignored: not a request"),
            ] {
                count("ProxyDHCP", text, stats.ignored(reason));
            }
            count("ProxyDHCP", "Malformed packets", load(&stats.malformed));
            count(
                "ProxyDHCP",
                "From other interfaces",
                load(&stats.other_interface),
            );
            count("ProxyDHCP", "Answers not sent", load(&stats.send_failed));
        }
        if let Some((_, stats)) = &self.tftp {
            let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
            count("TFTP", "Transfers", load(&stats.transfers));
            count("TFTP", "Completed", load(&stats.completed));
            count("TFTP", "Size probes (UEFI)", load(&stats.probes));
            count("TFTP", "Failed", load(&stats.failed));
            count("TFTP", "Refused", load(&stats.refused));
            count("TFTP", "Bytes sent", load(&stats.bytes));
        }
        if let Some(recorder) = &self.recorder {
            count(
                "Recording",
                "Events not written (repeats, floods)",
                recorder.dropped(),
            );
        }
        counters
    }
}
