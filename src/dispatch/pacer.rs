//! Spacing sends to one rate-limited destination: Slack's channels a second apart (its
//! documented rate for `chat.postMessage`, "one message per second per channel"; bursts
//! above it may be dropped without an error), a Teams workflow a quarter second apart
//! ("more than four requests in a second" are throttled). Each destination says its pace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Hands out send slots per key (a channel, a URL), each key's interval apart: in this
/// process, or through the journal when several processes (replicas on PostgreSQL) send to
/// the same destinations.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    next: Arc<Mutex<HashMap<String, Instant>>>,
    shared: Option<crate::store::Journal>,
}

impl Pacer {
    /// A pacer with no slot handed out yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same pacer, its slots kept in `journal` when the journal shares them.
    #[must_use]
    pub fn shared_through(mut self, journal: crate::store::Journal) -> Self {
        self.shared = Some(journal);
        self
    }

    /// Waits for `key`'s next slot and reserves it; the one after is `interval` later.
    pub async fn wait(&self, key: &str, interval: Duration) {
        if let Some(journal) = &self.shared {
            let ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
            match journal.reserve_slot(key, ms).await {
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
            next.insert(key.to_string(), slot + interval);
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
        let p = Pacer::new();
        let second = Duration::from_secs(1);
        let start = Instant::now();
        p.wait("a", second).await;
        p.wait("b", second).await;
        assert!(start.elapsed() < Duration::from_millis(10));
        p.wait("a", second).await;
        assert!(start.elapsed() >= Duration::from_secs(1));
        // Each key at its own pace: a quarter second for a Teams workflow.
        let quarter = Duration::from_millis(250);
        let start = Instant::now();
        for _ in 0..5 {
            p.wait("teams", quarter).await;
        }
        assert!(start.elapsed() >= Duration::from_secs(1));
        assert!(start.elapsed() < Duration::from_millis(1100));
    }
}
