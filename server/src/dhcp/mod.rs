//! ProxyDHCP: answers network-booting firmware beside the site's own DHCP server, naming the
//! TFTP server and the loader (or, for iPXE, the boot flow's URL), never an address.
//!
//! [`policy`] decides what to answer, as a pure function of the request. [`ProxyDhcp`]
//! listens on UDP 67 (broadcast DISCOVERs and REQUESTs) and 4011 (the PXE boot server port,
//! where UEFI firmware asks after a proxy offer), answers only on the interfaces chosen, and
//! sends each answer out of the interface its request came in on: a broadcast to the client
//! port from port 67, a unicast back to the sender from 4011, a unicast to the relay for a
//! relayed request. Anything else is ignored and counted, never answered.

pub mod interfaces;
pub mod policy;

use std::{
    io,
    net::{Ipv4Addr, SocketAddrV4},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use app::server::{
    dhcp_snippets::BootServer,
    services::network_log::{NetworkEvent, Protocol},
};
use netboot::dhcp::{Message, MessageType};

use crate::udp::{PacketInfoSocket, Received, Via};
pub use interfaces::{Interface, InterfaceError};
use policy::{Ignored, Offer, Port};

/// The UDP ports, fixed by the protocols; tests move them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// Where DHCP servers listen (67).
    pub server: u16,
    /// Where a relay agent is answered (67 too).
    pub relay: u16,
    /// Where clients listen (68).
    pub client: u16,
    /// The PXE boot server port (4011).
    pub boot_server: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Self {
            server: 67,
            relay: 67,
            client: 68,
            boot_server: 4011,
        }
    }
}

/// What the server answers with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The interfaces to answer on (from [`interfaces::choose`]).
    pub interfaces: Vec<Interface>,
    /// The boot flow's base URL for iPXE clients; `None`: `http://<interface address>:<http_port>`.
    pub public_url: Option<String>,
    /// This server's plain HTTP port.
    pub http_port: u16,
    /// The files served: which loader each architecture is offered, read per request (a
    /// server admin may change it while the server runs).
    pub files: Arc<crate::tftp::files::LiveFiles>,
    /// Whether TFTP serves them too (without it, bare PXE firmware gets no answer).
    pub tftp: bool,
    pub ports: Ports,
}

/// Counters of what the server did, for logs, metrics and the Network boot page.
#[derive(Debug, Default)]
pub struct Stats {
    pub offers: AtomicU64,
    pub acks: AtomicU64,
    /// Packets that are not DHCP messages.
    pub malformed: AtomicU64,
    /// Packets from an interface PXE Cloud does not answer on.
    pub other_interface: AtomicU64,
    /// Answers that could not be sent.
    pub send_failed: AtomicU64,
    ignored: [AtomicU64; IGNORED.len()],
}

/// Every reason to ignore a request, in the order [`Stats`] counts them.
const IGNORED: [Ignored; 6] = [
    Ignored::NotARequest,
    Ignored::MessageType,
    Ignored::NotPxe,
    Ignored::Architecture,
    Ignored::NoLoader,
    Ignored::OtherServer,
];

impl Stats {
    /// Requests ignored for `reason`.
    pub fn ignored(&self, reason: Ignored) -> u64 {
        IGNORED
            .iter()
            .position(|known| *known == reason)
            .map_or(0, |i| self.ignored[i].load(Ordering::Relaxed))
    }

    fn count_ignored(&self, reason: Ignored) {
        if let Some(i) = IGNORED.iter().position(|known| *known == reason) {
            self.ignored[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One interface answered on: where it is and what its clients are offered.
struct Served {
    interface: Interface,
    offer: Offer,
}

struct Shared {
    served: Vec<Served>,
    files: Arc<crate::tftp::files::LiveFiles>,
    ports: Ports,
    stats: Arc<Stats>,
    recorder: Option<crate::netlog::Recorder>,
}

/// A bound ProxyDHCP server; [`ProxyDhcp::run`] serves until its task is dropped.
pub struct ProxyDhcp {
    dhcp: PacketInfoSocket,
    boot_server: PacketInfoSocket,
    shared: Arc<Shared>,
}

/// A port that could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("UDP port {port}: {source}")]
pub struct BindError {
    pub port: u16,
    #[source]
    pub source: io::Error,
}

impl ProxyDhcp {
    /// Binds UDP 67 and 4011 on every address (a broadcast reaches only a wildcard socket);
    /// requests from interfaces not in `settings` are ignored.
    pub fn bind(settings: Settings) -> Result<Self, BindError> {
        let bind = |port| {
            PacketInfoSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port), true)
                .map_err(|source| BindError { port, source })
        };
        let dhcp = bind(settings.ports.server)?;
        let boot_server = bind(settings.ports.boot_server)?;
        let served = settings
            .interfaces
            .into_iter()
            .map(|interface| {
                // The same base the site-DHCP configuration names (`dhcp-config`).
                let http_base = BootServer::new(
                    interface.address,
                    settings.http_port,
                    settings.public_url.as_deref(),
                )
                .http_base;
                Served {
                    offer: Offer {
                        server: interface.address,
                        http_base,
                        // Filled per request from `files`.
                        loaders: Default::default(),
                        tftp: settings.tftp,
                    },
                    interface,
                }
            })
            .collect();
        Ok(Self {
            dhcp,
            boot_server,
            shared: Arc::new(Shared {
                served,
                files: settings.files,
                ports: settings.ports,
                stats: Arc::default(),
                recorder: None,
            }),
        })
    }

    pub fn stats(&self) -> Arc<Stats> {
        self.shared.stats.clone()
    }

    /// The interfaces answered on.
    pub fn interfaces(&self) -> Vec<Interface> {
        self.shared
            .served
            .iter()
            .map(|served| served.interface.clone())
            .collect()
    }

    /// Records every answer, and every boot request left unanswered for want of a loader,
    /// with `recorder`.
    pub fn with_recorder(mut self, recorder: crate::netlog::Recorder) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.recorder = Some(recorder);
        }
        self
    }

    /// The ports bound (67 and 4011, or what a test asked for).
    pub fn local_ports(&self) -> io::Result<(u16, u16)> {
        Ok((
            self.dhcp.local_addr()?.port(),
            self.boot_server.local_addr()?.port(),
        ))
    }

    /// Answers requests on both ports until the task is dropped.
    pub async fn run(self) {
        let Self {
            dhcp,
            boot_server,
            shared,
        } = self;
        tokio::join!(
            serve(dhcp, Port::Dhcp, shared.clone()),
            serve(boot_server, Port::BootServer, shared),
        );
    }
}

async fn serve(socket: PacketInfoSocket, port: Port, shared: Arc<Shared>) {
    let mut buffer = vec![0u8; 2048];
    loop {
        let received = match socket.recv(&mut buffer).await {
            Ok(received) => received,
            Err(error) => {
                tracing::debug!(%error, "dhcp: receive failed");
                continue;
            }
        };
        let Some(bytes) = buffer.get(..received.len) else {
            // Longer than any DHCP message a client sends (MSG_TRUNC gave its real length).
            shared.stats.malformed.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let Some((reply, to, via)) = answer(bytes, received, port, &shared) else {
            continue;
        };
        match socket.send(&reply, to, Some(via)).await {
            Ok(()) => {}
            Err(error) => {
                shared.stats.send_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, %to, "dhcp: cannot send an answer");
            }
        }
    }
}

/// The answer to one packet, where it goes and which interface it leaves from; `None` (and
/// counted) when it gets none.
fn answer(
    bytes: &[u8],
    received: Received,
    port: Port,
    shared: &Shared,
) -> Option<(Vec<u8>, SocketAddrV4, Via)> {
    let stats = &shared.stats;
    let Ok(request) = Message::parse(bytes) else {
        stats.malformed.fetch_add(1, Ordering::Relaxed);
        return None;
    };
    let Some(served) = shared
        .served
        .iter()
        .find(|served| served.interface.index == received.interface)
    else {
        stats.other_interface.fetch_add(1, Ordering::Relaxed);
        return None;
    };
    let record = |outcome: String, file: Option<String>| {
        if let Some(recorder) = &shared.recorder {
            recorder.record(NetworkEvent {
                at: chrono::Utc::now(),
                protocol: Protocol::Dhcp,
                client_ip: received.source.ip().to_string(),
                client_mac: Some(crate::netlog::mac(request.hardware_address())),
                xid: Some(request.xid),
                arch: request.client_arch(),
                vendor_class: request
                    .vendor_class()
                    .map(|class| String::from_utf8_lossy(class).into_owned()),
                interface: Some(served.interface.name.clone()),
                file,
                bytes: None,
                duration_ms: None,
                outcome,
            });
        }
    };
    let offer = Offer {
        loaders: shared.files.current().choices(),
        ..served.offer.clone()
    };
    let reply = match policy::answer(&request, port, &offer) {
        Ok(reply) => reply,
        Err(reason) => {
            stats.count_ignored(reason);
            // A machine trying to boot that gets no answer is worth seeing on the Network
            // boot page; other DHCP traffic is not.
            match reason {
                Ignored::Architecture => record("ignored: architecture".into(), None),
                Ignored::NoLoader => record("ignored: no loader".into(), None),
                _ => {}
            }
            tracing::debug!(
                mac = %mac(&request),
                xid = request.xid,
                interface = %served.interface.name,
                ?reason,
                "dhcp: ignored"
            );
            return None;
        }
    };
    let broadcast = SocketAddrV4::new(Ipv4Addr::BROADCAST, shared.ports.client);
    let to = if port == Port::BootServer {
        // Back to the sender; one without an address yet hears a broadcast.
        if received.source.ip().is_unspecified() {
            broadcast
        } else {
            received.source
        }
    } else if !request.giaddr.is_unspecified() {
        // A relay agent counts itself in `hops` (RFC 1542): a giaddr without it is a peer
        // naming where our answer should go, and gets none.
        let relay = request.giaddr;
        if request.hops == 0 || relay.is_broadcast() || relay.is_multicast() {
            stats.malformed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        SocketAddrV4::new(relay, shared.ports.relay)
    } else {
        broadcast
    };
    let outcome = match reply.message_type() {
        Some(MessageType::Offer) => {
            stats.offers.fetch_add(1, Ordering::Relaxed);
            "offer"
        }
        _ => {
            stats.acks.fetch_add(1, Ordering::Relaxed);
            "ack"
        }
    };
    let file = String::from_utf8_lossy(reply.file.split(|b| *b == 0).next().unwrap_or_default())
        .into_owned();
    tracing::info!(
        mac = %mac(&request),
        xid = request.xid,
        arch = request.client_arch(),
        interface = %served.interface.name,
        file = %file,
        %to,
        "dhcp: answered"
    );
    record(outcome.to_owned(), Some(file));
    let via = Via {
        interface: served.interface.index,
        source: served.interface.address,
    };
    Some((reply.write(), to, via))
}

/// The client's hardware address as `52:54:00:12:34:56`.
fn mac(message: &Message) -> String {
    message
        .hardware_address()
        .iter()
        .map(|octet| format!("{octet:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
