//! The TFTP front door: a read-only server for what network-booting firmware fetches before
//! iPXE runs — the iPXE loaders and a generated `autoexec.ipxe`. Everything after that goes
//! over HTTP.
//!
//! RFC 1350 with options (RFC 2347): `blksize` (2348, clamped to a cap), `tsize` and `timeout`
//! (2349), `windowsize` (7440). Each transfer runs on its own port (its transfer id) in its own
//! task, retransmits on a timeout a bounded number of times, and answers packets from a
//! stranger with error 5. Write requests, unknown names and names that try to leave the set
//! (`..`, absolute paths, backslashes) get error packets.

pub mod files;
mod transfer;

pub use netboot::tftp as packet;

use std::{
    collections::HashSet,
    io,
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{net::UdpSocket, sync::Semaphore};

use crate::udp::PacketInfoSocket;
pub use files::{Asker, Files};
use packet::{ErrorCode, Packet};

/// How the server behaves.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The largest block size granted; smaller asks are honoured.
    pub blksize_max: u16,
    /// The largest window granted (RFC 7440).
    pub windowsize_max: u16,
    /// How long to wait for an acknowledgement when the client names no `timeout`.
    pub timeout: Duration,
    /// How many times a packet is sent again before the transfer is given up.
    pub retries: u32,
    /// Transfers at once; a request beyond them gets an error packet.
    pub max_transfers: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            blksize_max: 1456,
            windowsize_max: 64,
            timeout: Duration::from_secs(2),
            retries: 5,
            max_transfers: 512,
        }
    }
}

/// Counters of what the server did, for logs and metrics.
#[derive(Debug, Default)]
pub struct Stats {
    pub transfers: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    /// Transfers a client ended after the option acknowledgement (UEFI's size probe).
    pub probes: AtomicU64,
    pub bytes: AtomicU64,
    /// Requests answered with an error packet, and packets that were not requests.
    pub refused: AtomicU64,
}

/// A bound TFTP server; [`TftpServer::run`] serves until its task is dropped.
pub struct TftpServer {
    socket: PacketInfoSocket,
    files: Arc<dyn Files>,
    settings: Settings,
    stats: Arc<Stats>,
    recorder: Option<crate::netlog::Recorder>,
}

impl TftpServer {
    /// Binds the server's well-known port (IPv4: network-booting firmware speaks it).
    pub async fn bind(
        listen: SocketAddr,
        files: Arc<dyn Files>,
        settings: Settings,
    ) -> io::Result<Self> {
        let SocketAddr::V4(listen) = listen else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "TFTP is served on IPv4 only, as PXE firmware asks for it",
            ));
        };
        Ok(Self {
            socket: PacketInfoSocket::bind(listen, false)?,
            files,
            settings,
            stats: Arc::default(),
            recorder: None,
        })
    }

    /// Records every transfer with `recorder`.
    pub fn with_recorder(mut self, recorder: crate::netlog::Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr().map(SocketAddr::V4)
    }

    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Answers requests until the task is dropped.
    pub async fn run(self) {
        let listen_ip = self
            .socket
            .local_addr()
            .map_or(std::net::Ipv4Addr::UNSPECIFIED, |a| *a.ip());
        let slots = Arc::new(Semaphore::new(self.settings.max_transfers));
        // Clients whose transfer runs: a request sent again (our answer was lost) is not a
        // second transfer.
        let active: Arc<Mutex<HashSet<SocketAddr>>> = Arc::default();
        let mut buffer = vec![0u8; 65536];
        loop {
            let received = match self.socket.recv(&mut buffer).await {
                Ok(received) if received.len <= buffer.len() => received,
                Ok(_) => {
                    // Longer than any request (MSG_TRUNC gave its real length).
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Err(error) => {
                    // ICMP errors of earlier sends surface here on some systems; keep serving.
                    tracing::debug!(%error, "tftp: receive failed");
                    continue;
                }
            };
            let client_v4 = received.source;
            let client = SocketAddr::V4(client_v4);
            // The address the client asked: answers come from it, and iPXE is sent back to it.
            let server = if received.destination.is_unspecified()
                || received.destination.is_broadcast()
                || received.destination.is_multicast()
            {
                listen_ip
            } else {
                received.destination
            };
            let refuse = |code, message: &str| {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                let reply = packet::error(code, message);
                let socket = &self.socket;
                async move {
                    let _ = socket.send_to(&reply, client_v4).await;
                }
            };
            let request = match packet::parse(&buffer[..received.len]) {
                Ok(Packet::Read(request)) => request,
                Ok(Packet::Write(_)) => {
                    refuse(ErrorCode::AccessViolation, "this server is read-only").await;
                    continue;
                }
                Ok(_) => {
                    // An acknowledgement or data sent to the request port: not ours to answer.
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Err(error) => {
                    tracing::debug!(%client, %error, "tftp: malformed request");
                    refuse(
                        ErrorCode::IllegalOperation,
                        &format!("malformed request: {error}"),
                    )
                    .await;
                    continue;
                }
            };
            let name = match files::check_name(request.filename) {
                Ok(name) => name,
                Err(message) => {
                    tracing::info!(%client, message, "tftp: refused a file name");
                    refuse(ErrorCode::AccessViolation, message).await;
                    continue;
                }
            };
            if request.mode == packet::Mode::Mail {
                refuse(ErrorCode::IllegalOperation, "mail mode is not supported").await;
                continue;
            }
            let asker = Asker {
                client: client_v4,
                server,
            };
            let Some(content) = self.files.open(name, asker) else {
                tracing::info!(%client, name, "tftp: no such file");
                refuse(ErrorCode::FileNotFound, "file not found").await;
                continue;
            };
            if !active
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(client)
            {
                continue;
            }
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                active
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&client);
                refuse(ErrorCode::NotDefined, "server busy, try again").await;
                continue;
            };
            let socket = match UdpSocket::bind(SocketAddr::new(IpAddr::V4(server), 0)).await {
                Ok(socket) => socket,
                Err(error) => {
                    tracing::warn!(%error, "tftp: cannot open a transfer port");
                    active
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&client);
                    refuse(ErrorCode::NotDefined, "server error, try again").await;
                    continue;
                }
            };
            let content = match request.mode {
                packet::Mode::Netascii => files::to_netascii(&content).into(),
                _ => content,
            };
            let job = transfer::Transfer {
                socket,
                client,
                content,
                options: request.options,
                settings: self.settings,
                stats: self.stats.clone(),
                name: name.to_owned(),
                recorder: self.recorder.clone(),
            };
            let active = active.clone();
            self.stats.transfers.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                job.run().await;
                active
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&client);
                drop(slot);
            });
        }
    }
}
