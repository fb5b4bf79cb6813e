//! One read transfer on its own port: the option acknowledgement if the client asked for
//! options, then the file in blocks, a window of them at a time, each window sent again on a
//! timeout until the client acknowledges it or the retries run out.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use app::server::services::network_log::{NetworkEvent, Protocol};
use tokio::{net::UdpSocket, time::timeout_at};

use super::{
    Settings, Stats,
    packet::{self, BLKSIZE_DEFAULT, ErrorCode, Options, Packet},
};

pub(super) struct Transfer {
    pub socket: UdpSocket,
    pub client: SocketAddr,
    pub content: Arc<[u8]>,
    pub options: Options,
    pub settings: Settings,
    pub stats: Arc<Stats>,
    pub name: String,
    pub recorder: Option<crate::netlog::Recorder>,
}

/// How a transfer ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Done,
    /// The client ended it with an error packet (code 8 after our OACK: a size probe).
    ClientError(u16),
    TimedOut,
    Network,
}

/// What the client acknowledged, or how the wait ended.
enum Heard {
    Ack(u16),
    End(End),
    Nothing,
}

impl Transfer {
    pub async fn run(self) {
        let started = Instant::now();
        let end = self.serve().await;
        let millis = started.elapsed().as_millis();
        let (client, name, bytes) = (self.client, self.name.as_str(), self.content.len());
        let outcome = match end {
            End::Done => {
                self.stats.completed.fetch_add(1, Ordering::Relaxed);
                self.stats.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                tracing::info!(%client, name, bytes, millis, "tftp: sent");
                "sent".to_owned()
            }
            End::ClientError(8) => {
                self.stats.probes.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%client, name, "tftp: the client took the size and ended");
                "size probe".to_owned()
            }
            End::ClientError(code) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%client, name, code, "tftp: the client ended the transfer");
                format!("ended by client ({code})")
            }
            End::TimedOut | End::Network => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%client, name, ?end, millis, "tftp: transfer failed");
                if end == End::TimedOut {
                    "timed out".to_owned()
                } else {
                    "network error".to_owned()
                }
            }
        };
        if let Some(recorder) = &self.recorder {
            recorder.record(NetworkEvent {
                at: chrono::Utc::now(),
                protocol: Protocol::Tftp,
                client_ip: client.ip().to_string(),
                client_mac: None,
                xid: None,
                arch: None,
                vendor_class: None,
                interface: None,
                file: Some(self.name.clone()),
                bytes: (end == End::Done).then_some(bytes as u64),
                duration_ms: Some(u64::try_from(millis).unwrap_or(u64::MAX)),
                outcome,
            });
        }
    }

    /// The options we grant: the block size clamped to our cap, the size, the client's
    /// timeout, the window clamped to our cap.
    fn granted(&self) -> Options {
        let asked = self.options;
        Options {
            blksize: asked
                .blksize
                .map(|b| b.min(self.settings.blksize_max.max(8))),
            tsize: asked.tsize.map(|_| self.content.len() as u64),
            timeout: asked.timeout,
            windowsize: asked
                .windowsize
                .map(|w| w.min(self.settings.windowsize_max.max(1))),
        }
    }

    async fn serve(&self) -> End {
        match self.send_all().await {
            Ok(()) => End::Done,
            Err(end) => end,
        }
    }

    async fn send_all(&self) -> Result<(), End> {
        let granted = self.granted();
        let blksize = usize::from(granted.blksize.unwrap_or(BLKSIZE_DEFAULT));
        let window = u64::from(granted.windowsize.unwrap_or(1));
        let wait = granted
            .timeout
            .map_or(self.settings.timeout, |s| Duration::from_secs(s.into()));
        // Blocks of the file; the last is shorter than a block (empty when the size is a
        // multiple of it), which tells the client the file ends.
        let last = (self.content.len() / blksize) as u64 + 1;

        if self.options.any() {
            // The OACK is acknowledged as block 0.
            self.send_until_acked(&[packet::option_ack(&granted)], 0, 0, wait)
                .await?;
        }
        let mut acked = 0u64;
        while acked < last {
            let upto = (acked + window).min(last);
            let burst: Vec<Vec<u8>> = (acked + 1..=upto)
                .map(|index| {
                    let start = ((index - 1) as usize) * blksize;
                    let end = (start + blksize).min(self.content.len());
                    let mut out = Vec::with_capacity(end - start + 4);
                    packet::data(&mut out, index as u16, &self.content[start..end]);
                    out
                })
                .collect();
            acked = self.send_until_acked(&burst, acked + 1, upto, wait).await?;
        }
        Ok(())
    }

    /// Sends `burst` until the client acknowledges a block in `first..=upto` (the last such
    /// block counts), sending it again after each `wait` without one, at most `retries`
    /// times. Returns the block acknowledged.
    async fn send_until_acked(
        &self,
        burst: &[Vec<u8>],
        first: u64,
        upto: u64,
        wait: Duration,
    ) -> Result<u64, End> {
        for _ in 0..=self.settings.retries {
            for packet in burst {
                if self.socket.send_to(packet, self.client).await.is_err() {
                    return Err(End::Network);
                }
            }
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                match self.listen(deadline).await {
                    // The block index that this 16-bit number names within the window. An
                    // older block is a duplicate acknowledgement, ignored (sending again on
                    // duplicates is how the Sorcerer's Apprentice bug starts).
                    Heard::Ack(block) => {
                        if let Some(index) = (first..=upto).rev().find(|i| *i as u16 == block) {
                            return Ok(index);
                        }
                    }
                    Heard::End(end) => return Err(end),
                    Heard::Nothing => break,
                }
            }
        }
        let timed_out = packet::error(ErrorCode::NotDefined, "timed out");
        let _ = self.socket.send_to(&timed_out, self.client).await;
        Err(End::TimedOut)
    }

    /// The next packet from the client before `deadline`; strangers get error 5.
    async fn listen(&self, deadline: tokio::time::Instant) -> Heard {
        let mut buffer = [0u8; 1024];
        loop {
            let (len, from) = match timeout_at(deadline, self.socket.recv_from(&mut buffer)).await {
                Err(_) => return Heard::Nothing,
                Ok(Err(_)) => return Heard::End(End::Network),
                Ok(Ok(received)) => received,
            };
            if from != self.client {
                let reply = packet::error(ErrorCode::UnknownTransferId, "unknown transfer id");
                let _ = self.socket.send_to(&reply, from).await;
                continue;
            }
            match packet::parse(&buffer[..len]) {
                Ok(Packet::Ack { block }) => return Heard::Ack(block),
                Ok(Packet::Error { code, .. }) => return Heard::End(End::ClientError(code)),
                // Anything else from the client is noise in a read transfer.
                _ => continue,
            }
        }
    }
}
