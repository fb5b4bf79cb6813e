//! Records what the boot server's UDP doors do (ProxyDHCP answers, TFTP transfers) in the
//! database without slowing them: events go through a bounded channel to one writer task,
//! which inserts whatever has queued up in one statement. When the database falls behind,
//! events are dropped and counted, never waited for.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use app::server::services::network_log::{self, NetworkEvent};
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;

/// Events waiting for the writer at most.
const QUEUE: usize = 4096;
/// Events written in one statement at most.
const BATCH: usize = 256;

#[derive(Debug, Clone)]
pub struct Recorder {
    queue: mpsc::Sender<NetworkEvent>,
    dropped: Arc<AtomicU64>,
}

impl Recorder {
    /// Starts the writer task on the current runtime.
    pub fn start(db: DatabaseConnection) -> Self {
        let (queue, events) = mpsc::channel(QUEUE);
        tokio::spawn(write(db, events));
        Self {
            queue,
            dropped: Arc::default(),
        }
    }

    /// Queues `event`; drops it (and counts it) when the queue is full.
    pub fn record(&self, event: NetworkEvent) {
        if self.queue.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events dropped because the database fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn write(db: DatabaseConnection, mut events: mpsc::Receiver<NetworkEvent>) {
    let mut batch = Vec::with_capacity(BATCH);
    while events.recv_many(&mut batch, BATCH).await > 0 {
        let count = batch.len();
        if let Err(error) = network_log::record(&db, std::mem::take(&mut batch)).await {
            tracing::warn!(%error, count, "could not record network boot events");
        }
    }
}

/// A hardware address as the boot log writes it: `52-54-00-12-34-56`.
pub fn mac(octets: &[u8]) -> String {
    octets
        .iter()
        .map(|octet| format!("{octet:02x}"))
        .collect::<Vec<_>>()
        .join("-")
}
