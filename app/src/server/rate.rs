//! A per-key step limit kept in this process's memory: cheap enough for every iPXE step.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Above this many keys, keys whose window has passed are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// Allows at most `limit` steps per key in each window of `window`.
///
/// Each process counts on its own: behind a load balancer a client may take up to `limit`
/// steps per window on each replica, which still bounds what one boot token can make the
/// servers do (and write to the boot log).
#[derive(Debug)]
pub struct StepLimiter {
    limit: u32,
    window: Duration,
    counts: Mutex<HashMap<i32, (Instant, u32)>>,
}

impl StepLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one step for `key`; whether it is within the limit.
    pub fn allow(&self, key: i32) -> bool {
        let now = Instant::now();
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if counts.len() > PRUNE_ABOVE {
            counts.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let (start, steps) = counts.entry(key).or_insert((now, 0));
        if now.duration_since(*start) >= self.window {
            *start = now;
            *steps = 0;
        }
        *steps = steps.saturating_add(1);
        *steps <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_limit_per_window_and_others_are_not_affected() {
        let limiter = StepLimiter::new(3, Duration::from_millis(200));
        assert!((0..3).all(|_| limiter.allow(1)));
        assert!(!limiter.allow(1));
        assert!(limiter.allow(2));
        std::thread::sleep(Duration::from_millis(250));
        assert!(limiter.allow(1), "a new window starts afresh");
    }

    #[test]
    fn old_keys_are_forgotten_when_there_are_many() {
        let limiter = StepLimiter::new(1, Duration::from_millis(1));
        for key in 0..=(PRUNE_ABOVE as i32) {
            limiter.allow(key);
        }
        std::thread::sleep(Duration::from_millis(5));
        limiter.allow(-1);
        assert!(limiter.counts.lock().unwrap().len() <= 2);
    }
}
