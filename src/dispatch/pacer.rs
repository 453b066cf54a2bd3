//! Spacing posts to one Slack channel about a second apart, Slack's documented rate for
//! `chat.postMessage` ("one message per second per channel"); bursts above it may be
//! dropped by Slack without an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Hands out send slots per key (a channel), `interval` apart: in this process, or through
/// the journal when several processes (replicas on PostgreSQL) send to the same channels.
#[derive(Debug, Clone)]
pub struct Pacer {
    interval: Duration,
    next: Arc<Mutex<HashMap<String, Instant>>>,
    shared: Option<crate::store::Journal>,
}

impl Pacer {
    /// A pacer with `interval` between two sends on the same key.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            next: Arc::new(Mutex::new(HashMap::new())),
            shared: None,
        }
    }

    /// The same pacer, its slots kept in `journal` when the journal shares them.
    #[must_use]
    pub fn shared_through(mut self, journal: crate::store::Journal) -> Self {
        self.shared = Some(journal);
        self
    }

    /// Waits for `key`'s next slot and reserves it.
    pub async fn wait(&self, key: &str) {
        if let Some(journal) = &self.shared {
            let interval = i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX);
            match journal.reserve_slot(key, interval).await {
                Ok(Some(at)) => {
                    let wait = at - crate::clock::now_ms();
                    if wait > 0 {
                        tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
                    }
                    return;
                }
                Ok(None) => {}
                // Pacing is not worth a lost post: this process's own slots then.
                Err(e) => tracing::warn!("cannot reserve a send slot in the journal: {e}"),
            }
        }
        let slot = {
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let slot = next.get(key).copied().filter(|t| *t > now).unwrap_or(now);
            next.insert(key.to_string(), slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn same_channel_is_spaced_other_channels_are_not() {
        let p = Pacer::new(Duration::from_secs(1));
        let start = Instant::now();
        p.wait("a").await;
        p.wait("b").await;
        assert!(start.elapsed() < Duration::from_millis(10));
        p.wait("a").await;
        assert!(start.elapsed() >= Duration::from_secs(1));
    }
}
