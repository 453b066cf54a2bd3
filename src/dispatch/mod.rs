//! Delivering events to their webhooks: the journal-driven [`Engine`] (what `serve`, the
//! console, `fire` and `replay` run) and the [`Dispatcher`] it makes each attempt with
//! (routing, [`notify::prepare`], Slack pacing, [`notify::send`]), with the retry policy's
//! waits ([`retry_wait`], [`backoff`]).

mod clock;
mod engine;
mod metrics;
mod pacer;

use std::sync::Arc;
use std::time::Duration;

pub use engine::{CoreEvent, Engine, EngineOptions, FireError, ReplayError};
pub use metrics::Metrics;
pub use pacer::Pacer;

use crate::config::{Config, RetryPolicy, Webhook};
use crate::event::Event;
use crate::notify::{self, Attempt, Outcome};
use crate::route;

/// Why the dispatcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Which webhooks get an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Atlantis' routing rules decide.
    Route,
    /// These webhooks (by index), whatever their filters say.
    Only(Vec<usize>),
}

/// Sends events to webhooks.
#[derive(Clone)]
pub struct Dispatcher {
    config: Arc<Config>,
    /// Every secret value of `config`, scrubbed from every answer.
    secrets: Arc<[String]>,
    client: reqwest::Client,
    pacer: Pacer,
}

impl Dispatcher {
    /// A dispatcher for `config`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(config: Arc<Config>) -> Result<Self, DispatchError> {
        Ok(Self {
            secrets: config.secret_values().into(),
            config,
            client: notify::client()?,
            pacer: Pacer::new(),
        })
    }

    /// The same dispatcher, pacing through `journal` (see [`Pacer::shared_through`]).
    #[must_use]
    pub fn pacing_through(mut self, journal: crate::store::Journal) -> Self {
        self.pacer = self.pacer.shared_through(journal);
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The same dispatcher (client, Slack pacing) with another configuration, for a reload.
    #[must_use]
    pub fn with_config(&self, config: Arc<Config>) -> Self {
        Self {
            secrets: config.secret_values().into(),
            config,
            client: self.client.clone(),
            pacer: self.pacer.clone(),
        }
    }

    /// The webhooks that get `event`.
    pub fn targets<'a>(&'a self, event: &Event, selection: &Selection) -> Vec<&'a Webhook> {
        match selection {
            Selection::Route => self
                .config
                .webhooks
                .iter()
                .filter(|w| route::matches(w, event))
                .collect(),
            Selection::Only(indexes) => indexes
                .iter()
                .filter_map(|&i| self.config.webhooks.get(i))
                .collect(),
        }
    }
}

impl Dispatcher {
    /// Makes one attempt: builds the request, waits for the channel's Slack pacing slot,
    /// sends it. Returns the attempt and the request as it may be shown (for the journal).
    pub async fn attempt(
        &self,
        webhook: &Webhook,
        event: &Event,
        ids: notify::Ids<'_>,
    ) -> (Attempt, Option<notify::ShownRequest>) {
        let mut request =
            match notify::prepare(&self.config, webhook, event, ids, crate::clock::now_secs()) {
                Ok(r) => r,
                Err(e) => {
                    let attempt = Attempt {
                        outcome: Outcome::Failed,
                        status: None,
                        error: Some(e.to_string()),
                        hint: None,
                        retry_after: None,
                        response: String::new(),
                        latency: Duration::ZERO,
                        posted: None,
                        forget_thread: false,
                    };
                    return (attempt, None);
                }
            };
        if let Some(pace) = webhook.target.pace(&self.config) {
            self.pacer.wait(&pace.key, pace.every).await;
        }
        request.scrub_also(self.secrets.clone());
        let attempt = notify::send(&self.client, &request).await;
        (attempt, Some(request.shown()))
    }
}

/// The wait before attempt `number + 1`, or `None` when the delivery is finished (it
/// succeeded, failed for good, or has no attempt left).
pub fn retry_wait(policy: &RetryPolicy, number: u32, attempt: &Attempt) -> Option<Duration> {
    match attempt.outcome {
        Outcome::Retryable => policy
            .delay_after(number)
            .map(|d| backoff(d, attempt.retry_after)),
        _ => None,
    }
}

/// The wait before the next attempt: the scheduled delay with ±20 % jitter (so that many
/// deliveries failing together do not retry together), but never less than what the
/// destination asked for with `Retry-After`.
pub fn backoff(scheduled: Duration, retry_after: Option<Duration>) -> Duration {
    let jittered = scheduled.mul_f64(0.8 + fastrand::f64() * 0.4);
    match retry_after {
        Some(ra) if ra > jittered => ra + Duration::from_millis(fastrand::u64(0..250)),
        _ => jittered,
    }
}

/// A new delivery id: a UUID v7, so ids sort by time.
pub fn new_delivery_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_jitters_and_honours_retry_after() {
        for _ in 0..100 {
            let d = backoff(Duration::from_secs(10), None);
            assert!(d >= Duration::from_secs(8) && d <= Duration::from_secs(12));
            let d = backoff(Duration::from_millis(100), Some(Duration::from_secs(2)));
            assert!(d >= Duration::from_secs(2));
        }
    }
}
