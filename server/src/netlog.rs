//! Records what the boot server's UDP doors do (ProxyDHCP answers, TFTP transfers) in the
//! database without slowing them: events go through a bounded channel to one writer task,
//! which inserts whatever has queued up in one statement. A peer cannot fill the database:
//! the same machine and outcome is written once per [`REPEAT`], and all events together at
//! most [`RATE`] a second (a burst of [`BURST`]); when the database falls behind, events are
//! dropped. Whatever is not written is counted, never waited for.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use app::server::services::network_log::{self, NetworkEvent};
use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;

/// Events waiting for the writer at most.
const QUEUE: usize = 4096;
/// Events written in one statement at most.
const BATCH: usize = 256;
/// The same client, protocol, file and outcome again within this is not written again.
pub const REPEAT: Duration = Duration::from_secs(5);
/// Events written per second, over time.
pub const RATE: f64 = 50.0;
/// Events written at once after a quiet spell (a room of machines booting together).
pub const BURST: f64 = 1000.0;

#[derive(Debug, Clone)]
pub struct Recorder {
    queue: mpsc::Sender<NetworkEvent>,
    limit: Arc<Mutex<Limit>>,
    dropped: Arc<AtomicU64>,
}

/// What was written lately: the last time of each event's key, and a token bucket.
#[derive(Debug)]
struct Limit {
    seen: HashMap<String, Instant>,
    tokens: f64,
    refilled: Instant,
}

impl Limit {
    fn new() -> Self {
        Self {
            seen: HashMap::new(),
            tokens: BURST,
            refilled: Instant::now(),
        }
    }

    /// Whether an event with `key` may be written now.
    fn admit(&mut self, key: String, now: Instant) -> bool {
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * RATE).min(BURST);
        self.refilled = now;
        if self.seen.len() > 10_000 {
            self.seen.retain(|_, at| now.duration_since(*at) < REPEAT);
        }
        if self
            .seen
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < REPEAT)
        {
            return false;
        }
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        self.seen.insert(key, now);
        true
    }
}

/// The identity of an event for [`REPEAT`]: who, over what, which file, how it ended.
fn key(event: &NetworkEvent) -> String {
    format!(
        "{:?}|{}|{}|{}|{}",
        event.protocol,
        event.client_mac.as_deref().unwrap_or(&event.client_ip),
        event.file.as_deref().unwrap_or_default(),
        event.outcome,
        event.arch.unwrap_or(u16::MAX),
    )
}

impl Recorder {
    /// Starts the writer task on the current runtime.
    pub fn start(db: DatabaseConnection) -> Self {
        let (queue, events) = mpsc::channel(QUEUE);
        tokio::spawn(write(db, events));
        Self {
            queue,
            limit: Arc::new(Mutex::new(Limit::new())),
            dropped: Arc::default(),
        }
    }

    /// Queues `event`, unless it repeats a recent one, the rate is spent, or the queue is
    /// full (then it is counted).
    pub fn record(&self, event: NetworkEvent) {
        let admitted = self
            .limit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(key(&event), Instant::now());
        if !admitted || self.queue.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events not written: repeats, over the rate, or while the database fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn write(db: DatabaseConnection, mut events: mpsc::Receiver<NetworkEvent>) {
    let mut batch = Vec::with_capacity(BATCH);
    while events.recv_many(&mut batch, BATCH).await > 0 {
        let events = std::mem::take(&mut batch);
        if network_log::record(&db, events.clone()).await.is_ok() {
            continue;
        }
        // One bad row must not lose the others: write them one by one.
        for event in events {
            if let Err(error) = network_log::record(&db, vec![event]).await {
                tracing::warn!(%error, "could not record a network boot event");
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_and_floods_are_not_written() {
        let mut limit = Limit::new();
        let start = Instant::now();
        assert!(limit.admit("a".into(), start));
        assert!(!limit.admit("a".into(), start + Duration::from_secs(1)));
        assert!(limit.admit("a".into(), start + REPEAT));
        // A flood of different keys: the burst, then the rate.
        let mut admitted = 0;
        for i in 0..5_000 {
            if limit.admit(format!("k{i}"), start + REPEAT) {
                admitted += 1;
            }
        }
        assert_eq!(admitted, BURST as usize - 1);
        assert!(!limit.admit("late".into(), start + REPEAT));
        assert!(limit.admit("later".into(), start + REPEAT + Duration::from_secs(1)));
    }
}
