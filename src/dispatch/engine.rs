//! The journal-driven engine: what `serve`, the console, `fire` and `replay` run.
//!
//! Accepted events and their deliveries are committed to the journal first; workers then
//! claim due deliveries from it (with a lease, so two processes never send the same one at
//! once), make one attempt each, and store the attempt with the next attempt time. Retries
//! therefore survive a restart, and one webhook's backlog cannot take every worker: each
//! webhook has its own cap of attempts in flight.

use crate::clock::now_ms;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::clock::ClockWatch;
use super::{DispatchError, Dispatcher, Metrics, Selection, new_delivery_id, retry_wait};
use crate::config::{Config, Webhook, WebhookKey};
use crate::event::Event;
use crate::intake::{Received, Source};
use crate::notify::{Attempt, Outcome};
use crate::store::{
    AttemptRecord, ClaimLimits, Claimed, DeliveryStatus, Journal, KnownWebhook, NewDelivery,
    NewEvent, NextState, Recorded, Reschedule, StoreError,
};

/// Something the engine did, for the console and for progress output.
#[derive(Debug, Clone)]
pub enum CoreEvent {
    /// An event was journaled.
    Recorded {
        /// Its id.
        event_id: String,
        /// Where it came from (apply, drift, env0, fire).
        source: Source,
        /// The event.
        event: Arc<Event>,
        /// Its deliveries: id and webhook label.
        deliveries: Vec<(String, String)>,
    },
    /// An attempt ended.
    Attempted {
        /// The delivery.
        delivery_id: String,
        /// Its event.
        event_id: String,
        /// Webhook label.
        label: String,
        /// 1-based attempt number.
        number: u32,
        /// The attempt.
        attempt: Attempt,
        /// The delivery's state now.
        status: DeliveryStatus,
        /// When it is tried again.
        retry_in: Option<Duration>,
    },
}

/// Engine limits.
#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    /// Attempts in flight in all.
    pub max_in_flight: usize,
    /// Attempts in flight for one webhook.
    pub per_webhook: usize,
    /// How often the journal is checked for due retries when nothing wakes the engine.
    pub poll: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            max_in_flight: crate::notify::MAX_IN_FLIGHT,
            per_webhook: 32,
            poll: Duration::from_millis(250),
        }
    }
}

struct Inner {
    paused: AtomicBool,
    /// A `run` loop is working: accepted deliveries are attempted at once, not claimed.
    running: AtomicBool,
    /// Due deliveries may be waiting for a claim (some were not attempted at once, or a
    /// webhook is at its cap); attempts that end then wake the loop.
    backlog: AtomicBool,
    /// Deliveries of webhooks gone from (or changed in) the config may be open: set at
    /// start and reload, cleared once the journal has settled them.
    settle: AtomicBool,
    tracker: TaskTracker,
    current: RwLock<Current>,
    journal: Journal,
    options: EngineOptions,
    wake: Notify,
    slots: Arc<Semaphore>,
    in_flight: Mutex<HashMap<String, usize>>,
    events: broadcast::Sender<CoreEvent>,
    metrics: Arc<Metrics>,
    /// Rotates the order in which a claim serves webhooks.
    turn: std::sync::atomic::AtomicUsize,
    /// This run's id among the processes on the journal.
    replica: String,
    /// How many processes share the journal (replicas on PostgreSQL; 1 on SQLite); each
    /// keeps to its share of every webhook's in-flight cap (see `share`).
    replicas: std::sync::atomic::AtomicUsize,
    /// One lock per kept message being posted to (`update: edit|thread`), so two events of
    /// one thing attempted at once do not both post a first message.
    threads: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// An engine over `journal` delivering with `config`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        config: Arc<Config>,
        journal: Journal,
        options: EngineOptions,
    ) -> Result<Self, DispatchError> {
        let (events, _) = broadcast::channel(4096);
        Ok(Self {
            inner: Arc::new(Inner {
                paused: AtomicBool::new(false),
                running: AtomicBool::new(false),
                backlog: AtomicBool::new(true),
                settle: AtomicBool::new(true),
                tracker: TaskTracker::new(),
                current: RwLock::new(Current::new(
                    Dispatcher::new(config)?.pacing_through(journal.clone()),
                )),
                journal,
                options,
                wake: Notify::new(),
                slots: Arc::new(Semaphore::new(options.max_in_flight)),
                replica: uuid::Uuid::new_v4().to_string(),
                replicas: std::sync::atomic::AtomicUsize::new(1),
                in_flight: Mutex::new(HashMap::new()),
                threads: Mutex::new(HashMap::new()),
                events,
                metrics: Arc::new(Metrics::default()),
                turn: std::sync::atomic::AtomicUsize::new(0),
            }),
        })
    }

    fn current(&self) -> Current {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn dispatcher(&self) -> Dispatcher {
        self.current().dispatcher
    }

    /// The configuration in use.
    pub fn config(&self) -> Arc<Config> {
        self.dispatcher().config().clone()
    }

    /// Uses a new configuration for every attempt from now on.
    pub fn reload(&self, config: Arc<Config>) {
        let mut current = self
            .inner
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *current = Current::new(current.dispatcher.with_config(config));
        self.inner.settle.store(true, Ordering::Relaxed);
        self.inner.backlog.store(true, Ordering::Relaxed);
        self.inner.wake.notify_one();
    }

    /// Stops (or resumes) starting attempts; events are still accepted and journaled, and
    /// attempts in flight finish. For riding out a known outage without burning retries.
    /// The state is kept in the journal, so every process on it (a `serve`, a console, a
    /// one-shot command) obeys it and shows it.
    ///
    /// # Errors
    /// The journal's error; the state is unchanged then.
    pub async fn set_paused(&self, paused: bool) -> Result<(), StoreError> {
        self.inner.journal.set_paused(paused).await?;
        self.inner.paused.store(paused, Ordering::Relaxed);
        self.inner.wake.notify_one();
        Ok(())
    }

    /// This process's share of a webhook's in-flight cap: the cap divided among the live
    /// processes on the journal, so that together they never pass it (all of it on SQLite,
    /// where one process sends).
    fn share(&self) -> usize {
        let replicas = self.inner.replicas.load(Ordering::Relaxed).max(1);
        (self.inner.options.per_webhook / replicas).max(1)
    }

    /// Tells the journal this process is alive and learns how many share it.
    async fn heartbeat(&self) {
        match self.inner.journal.heartbeat(&self.inner.replica).await {
            Ok(n) => self.inner.replicas.store(n, Ordering::Relaxed),
            Err(e) => tracing::warn!("cannot count the replicas on the journal: {e}"),
        }
    }

    /// Reads the shared pause state from the journal (another process may have changed it).
    async fn refresh_paused(&self) {
        match self.inner.journal.reader().paused().await {
            Ok(p) => {
                if self.inner.paused.swap(p, Ordering::Relaxed) != p && !p {
                    self.inner.wake.notify_one();
                }
            }
            Err(e) => tracing::error!("cannot read the pause state: {e}"),
        }
    }

    /// How many webhooks have as many attempts in flight as they may have.
    fn at_cap(&self) -> usize {
        let share = self.share();
        self.inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|n| **n >= share)
            .count()
    }

    /// Whether attempts are paused.
    pub fn is_paused(&self) -> bool {
        self.inner.paused.load(Ordering::Relaxed)
    }

    /// The journal's read side: what the faces may look at. They act through the
    /// engine's commands (accept, replay, test-fire, pause, reload, prune), never by
    /// writing the journal themselves.
    pub fn reader(&self) -> &crate::store::Reader {
        self.inner.journal.reader()
    }

    /// Deletes finished events older than `max_age` and the oldest beyond `max_events`
    /// (retention); returns how many went.
    ///
    /// # Errors
    /// Journal errors.
    pub async fn prune(
        &self,
        max_age: Duration,
        max_events: u64,
    ) -> Result<usize, crate::store::StoreError> {
        let ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        self.inner.journal.prune(ms, max_events).await
    }

    /// Takes occurrence `occurrence` of a scheduled job for this process until
    /// `lease_until` (see [`crate::store::Journal::claim_run`]): the scheduler asks this
    /// before each run, so a run happens once, and never twice at a time, in the fleet.
    ///
    /// # Errors
    /// Journal errors.
    pub async fn claim_run(
        &self,
        key: &str,
        occurrence: i64,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        self.inner
            .journal
            .claim_run(key, occurrence, lease_until)
            .await
    }

    /// Ends a scheduled job's run with what it came to.
    ///
    /// # Errors
    /// Journal errors.
    pub async fn finish_run(
        &self,
        key: &str,
        occurrence: i64,
        outcome: String,
    ) -> Result<(), StoreError> {
        self.inner
            .journal
            .finish_run(key, occurrence, outcome)
            .await
    }

    /// Remembers what a webhook keeping one message per thing posted: a new message (the
    /// first, or one after the old was gone), or the state an edit or a reply left; forgets
    /// a message the chat says is gone.
    async fn keep_thread(
        &self,
        key: &str,
        had: Option<&crate::store::PostedMessage>,
        attempt: &Attempt,
        problem: bool,
    ) {
        let keep = if attempt.forget_thread {
            None
        } else if attempt.outcome == crate::notify::Outcome::Delivered {
            match (had, &attempt.posted) {
                // A reply: the thread's parent stays; its state moves on.
                (Some(m), _) => Some(crate::store::PostedMessage {
                    problem,
                    ..m.clone()
                }),
                (None, Some((channel, ts))) => Some(crate::store::PostedMessage {
                    channel: channel.clone(),
                    ts: ts.clone(),
                    problem,
                }),
                (None, None) => return,
            }
        } else {
            return;
        };
        if let Err(e) = self.inner.journal.set_posted(key, keep).await {
            tracing::warn!("cannot remember the message kept for {key}: {e}");
        }
    }

    /// Whether the journal takes a write now (for `/healthz`).
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), crate::store::StoreError> {
        self.inner.journal.ping().await
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Everything the engine does from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<CoreEvent> {
        self.inner.events.subscribe()
    }

    /// Journals an event with a delivery for every selected webhook, then wakes the
    /// workers. When this returns `Ok`, the event is on disk. The event comes from
    /// [`intake::read`](crate::intake::read), the one way a body becomes an event.
    ///
    /// # Errors
    /// The journal's error; nothing was stored then.
    pub async fn accept(
        &self,
        source: Source,
        received: Received,
        selection: &Selection,
    ) -> Result<(Recorded, Vec<String>), StoreError> {
        // The commit and the hand-off to the workers run in a task of their own, so a
        // caller that goes away meanwhile (a client that disconnects, a request deadline)
        // cannot leave a committed delivery leased to nobody: it is attempted all the same.
        let (engine, selection) = (self.clone(), selection.clone());
        self.inner
            .tracker
            .spawn(async move { engine.record(source, received, &selection).await })
            .await
            .unwrap_or(Err(StoreError::Closed))
    }

    async fn record(
        &self,
        source: Source,
        received: Received,
        selection: &Selection,
    ) -> Result<(Recorded, Vec<String>), StoreError> {
        let Received {
            event,
            body,
            dedupe,
            ..
        } = received;
        let dedupe_key = dedupe.filter(|_| source.dedupes());
        let current = self.current();
        let mut deliveries: Vec<NewDelivery> = current
            .dispatcher
            .targets(&event, selection)
            .into_iter()
            .map(|w| new_delivery(w, None))
            .collect();
        // Explicit sends (`fire`, the console's test-fire) drive their own attempts.
        let taken = if matches!(selection, Selection::Route) {
            self.reserve(&mut deliveries, current.lease_until())
        } else {
            Vec::new()
        };
        let ids = deliveries.iter().map(|d| d.id.clone()).collect();
        let listed: Vec<(String, String)> = deliveries
            .iter()
            .map(|d| {
                let label = WebhookKey::from_stored(d.key.as_str()).display(d.webhook);
                (d.id.clone(), label)
            })
            .collect();
        let kind = event.kind();
        let shared = (!taken.is_empty() || self.inner.events.receiver_count() > 0)
            .then(|| Arc::new(event.clone()));
        let left_over = deliveries.len() > taken.len();
        let recorded = self
            .inner
            .journal
            .record_event(NewEvent {
                id: uuid::Uuid::now_v7().to_string(),
                source,
                event,
                body,
                dedupe_key,
                deliveries,
            })
            .await;
        let event_id = match &recorded {
            Ok(Recorded::New { event_id, .. }) => event_id.clone(),
            // Nothing was stored for these deliveries: their places go back as `taken`
            // is dropped.
            _ => return recorded.map(|r| (r, Vec::new())),
        };
        self.inner.metrics.count_event(kind);
        // `shared` is there whenever a listener or a taken delivery needs the event.
        if let Some(event) = shared {
            if self.inner.events.receiver_count() > 0 {
                let _no_listener = self.inner.events.send(CoreEvent::Recorded {
                    event_id: event_id.clone(),
                    source,
                    event: event.clone(),
                    deliveries: listed,
                });
            }
            for t in taken {
                let work = Work {
                    claimed: Claimed {
                        id: t.id,
                        event_id: event_id.clone(),
                        webhook: t.webhook,
                        key: t.place.key.clone(),
                        attempts: 0,
                        event: event.clone(),
                    },
                    place: t.place,
                };
                let (engine, permit) = (self.clone(), t.permit);
                self.inner.tracker.spawn(async move {
                    engine.attempt(work, None).await;
                    drop(permit);
                });
            }
        }
        if left_over {
            self.inner.backlog.store(true, Ordering::Relaxed);
            self.inner.wake.notify_one();
        }
        Ok((recorded?, ids))
    }

    /// Takes a place in flight for each delivery whose webhook has room, when a `run`
    /// loop is working and not paused: those are stored already leased and attempted as
    /// soon as the commit is done, without a claim (one journal round trip less between
    /// ingest and the first attempt).
    fn reserve(&self, deliveries: &mut [NewDelivery], lease_until: i64) -> Vec<Taken> {
        let mut taken = Vec::new();
        if !self.inner.running.load(Ordering::Relaxed) || self.is_paused() {
            return taken;
        }
        let mut in_flight = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let share = self.share();
        for d in deliveries.iter_mut() {
            if in_flight.get(&d.key).copied().unwrap_or(0) >= share {
                continue;
            }
            let Ok(permit) = self.inner.slots.clone().try_acquire_owned() else {
                break;
            };
            d.lease_until = Some(lease_until);
            taken.push(Taken {
                id: d.id.clone(),
                webhook: d.webhook,
                place: Place::take(&self.inner, &mut in_flight, &d.key),
                permit,
            });
        }
        taken
    }

    /// Places in flight now, over all webhooks (for `/metrics`).
    pub fn in_flight(&self) -> usize {
        self.inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }

    /// Adds replays of a stored event (to `webhooks`, or to every webhook that matches it
    /// now) or of one delivery (to its webhook, or to `webhooks`). Returns the new ids.
    ///
    /// # Errors
    /// Unknown ids, or the journal's error.
    pub async fn replay(&self, id: &str, webhooks: &[usize]) -> Result<Vec<String>, ReplayError> {
        let journal = &self.inner.journal;
        let config = self.config();
        let (event_id, targets): (String, Vec<&Webhook>) =
            if let Some(e) = journal.reader().event(id).await? {
                let targets = if webhooks.is_empty() {
                    self.dispatcher()
                        .targets(&e.event, &Selection::Route)
                        .into_iter()
                        .map(|w| w.index)
                        .collect()
                } else {
                    webhooks.to_vec()
                };
                (
                    e.id,
                    targets
                        .iter()
                        .filter_map(|&i| config.webhooks.get(i))
                        .collect(),
                )
            } else {
                let d = journal
                    .reader()
                    .delivery(id)
                    .await?
                    .ok_or_else(|| ReplayError::NotFound(id.to_string()))?;
                let targets: Vec<&Webhook> = if webhooks.is_empty() {
                    find_webhook(&config, &d.webhook_key).into_iter().collect()
                } else {
                    webhooks
                        .iter()
                        .filter_map(|&i| config.webhooks.get(i))
                        .collect()
                };
                if targets.is_empty() {
                    return Err(ReplayError::WebhookGone(d.webhook_label));
                }
                (d.event_id, targets)
            };
        let deliveries: Vec<NewDelivery> = targets
            .into_iter()
            .map(|w| new_delivery(w, Some(id.to_string())))
            .collect();
        let ids = deliveries.iter().map(|d| d.id.clone()).collect();
        journal.add_deliveries(&event_id, deliveries).await?;
        self.inner.backlog.store(true, Ordering::Relaxed);
        self.inner.wake.notify_one();
        Ok(ids)
    }

    /// Works until `shutdown`: claims due deliveries and attempts them. On shutdown it
    /// stops claiming, lets attempts in flight finish for up to `grace`, and leaves the rest
    /// in the journal for the next start.
    pub async fn run(&self, shutdown: CancellationToken, grace: Duration) {
        let tracker = &self.inner.tracker;
        self.inner.running.store(true, Ordering::Relaxed);
        // The clock may have stepped back while herald was down.
        self.reschedule().await;
        let mut clock = ClockWatch::new(now_ms(), Instant::now());
        let mut state_read: Option<Instant> = None;
        let mut heard_from: Option<Instant> = None;
        let mut told = self.inner.journal.notifications();
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            if state_read.is_none_or(|t| t.elapsed() >= SHARED_STATE_EVERY) {
                state_read = Some(Instant::now());
                self.refresh_paused().await;
            }
            if heard_from.is_none_or(|t| t.elapsed() >= HEARTBEAT_EVERY) {
                heard_from = Some(Instant::now());
                self.heartbeat().await;
            }
            if self.inner.settle.swap(false, Ordering::Relaxed) {
                self.settle().await;
            }
            if let Some(back) = clock.observe(now_ms(), Instant::now()) {
                tracing::warn!(
                    "the system clock stepped back by {}; moving due retries and leases back",
                    humantime::format_duration(Duration::from_millis(back.unsigned_abs()))
                );
                self.reschedule().await;
            }
            let free = self.inner.slots.available_permits();
            let mut capped = 0;
            let claimed = if free == 0 || self.is_paused() {
                Vec::new()
            } else {
                // Cleared before the claim, so anything added meanwhile sets it again.
                self.inner.backlog.store(false, Ordering::Relaxed);
                capped = self.at_cap();
                self.claim(free, None).await.unwrap_or_else(|e| {
                    tracing::error!("cannot read due deliveries: {e}");
                    Vec::new()
                })
            };
            let got = claimed.len();
            if free == 0 || got >= free || capped > 0 {
                // More may be due than there was room for: ending attempts wake the loop.
                self.inner.backlog.store(true, Ordering::Relaxed);
            }
            // A webhook that was full when the claim began may have room by now; its
            // attempts ended while the flag was clear and woke nobody.
            let freed = capped > 0 && self.at_cap() < capped;
            for work in claimed {
                let Ok(permit) = self.inner.slots.clone().acquire_owned().await else {
                    break;
                };
                let engine = self.clone();
                tracker.spawn(async move {
                    engine.attempt(work, None).await;
                    drop(permit);
                });
            }
            if (got == 0 || got >= free) && !freed {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = self.inner.wake.notified() => {}
                    () = tokio::time::sleep(self.inner.options.poll) => {}
                    // Another process changed shared state: read it now.
                    () = told_of_change(&mut told) => state_read = None,
                }
            }
        }
        self.inner.running.store(false, Ordering::Relaxed);
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(
                "stopping with attempts still in flight; they are retried at the next start"
            );
        }
    }

    /// Settles the open deliveries of webhooks gone from the config or sending elsewhere
    /// now, so none is sent to a destination it was not made for.
    async fn settle(&self) {
        let known = self
            .config()
            .webhooks
            .iter()
            .map(|w| KnownWebhook {
                key: w.key.as_str().to_string(),
                legacy: w.label(),
                kind: w.target.kind().to_string(),
                target: w.target.display(),
            })
            .collect();
        match self.inner.journal.settle(known).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                "{n} open deliveries were made for webhooks that are gone from the config or send elsewhere now: settled as failed, not sent (herald log shows them; herald replay sends them on)"
            ),
            Err(e) => {
                tracing::error!("cannot settle the deliveries of removed webhooks: {e}");
                self.inner.settle.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Corrects the journal's open due times and leases after the clock stepped back
    /// (see [`Journal::reschedule`]).
    async fn reschedule(&self) {
        let current = self.current();
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let r = Reschedule {
            now: now_ms(),
            max_wait: ms(current.max_wait),
            max_lease: ms(current.lease),
        };
        match self.inner.journal.reschedule(r).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!("corrected {n} due times and leases after a clock step");
                self.inner.backlog.store(true, Ordering::Relaxed);
            }
            Err(e) => tracing::error!("cannot correct due times after a clock step: {e}"),
        }
    }

    async fn claim(
        &self,
        limit: usize,
        only: Option<Vec<String>>,
    ) -> Result<Vec<Work>, StoreError> {
        let current = self.current();
        // Start each claim at another webhook, so with few free slots none is always last.
        let first = self.inner.turn.fetch_add(1, Ordering::Relaxed);
        let busy = ClaimLimits {
            in_flight: self
                .inner
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            per_webhook: self.share(),
            keys: current.keys.clone(),
            first,
        };
        let lease = current.lease_until();
        let claimed = self
            .inner
            .journal
            .claim_due(limit, lease, only, busy)
            .await?;
        let mut in_flight = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(claimed
            .into_iter()
            .map(|c| Work {
                place: Place::take(&self.inner, &mut in_flight, &c.key),
                claimed: c,
            })
            .collect())
    }

    /// Test-fires a payload at the given webhooks (by index), whatever their filters:
    /// reads it through [`intake::read`](crate::intake::read) like any post, journals it,
    /// and makes one attempt at each delivery now (a retryable failure is left to the
    /// engine's loop). Returns the delivery ids.
    ///
    /// # Errors
    /// A payload that is no event to send, or the journal's error.
    pub async fn test_fire(
        &self,
        body: &[u8],
        webhooks: &[usize],
    ) -> Result<Vec<String>, FireError> {
        let received = crate::intake::read(body, None)?.into_event()?;
        let (_, ids) = self
            .accept(Source::Fire, received, &Selection::Only(webhooks.to_vec()))
            .await?;
        self.attempt_now(&ids).await?;
        // The run loop may have taken a delivery first: wait for its attempt to be
        // recorded, so the caller reads an outcome, not "pending".
        let deadline = Instant::now() + self.current().lease;
        for id in &ids {
            while Instant::now() < deadline
                && self
                    .inner
                    .journal
                    .reader()
                    .delivery(id)
                    .await?
                    .is_some_and(|d| d.attempts == 0)
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(ids)
    }

    /// Makes one attempt now at each of these deliveries; one that fails in a retryable way
    /// stays in the journal as retrying, for `serve` to continue.
    ///
    /// # Errors
    /// The journal's error.
    pub async fn attempt_now(&self, ids: &[String]) -> Result<(), StoreError> {
        let claimed = self.claim(ids.len(), Some(ids.to_vec())).await?;
        futures::future::join_all(claimed.into_iter().map(|c| self.attempt(c, None))).await;
        Ok(())
    }

    /// Attempts the given deliveries now and keeps retrying them in this process until each
    /// is finished or has made `max_attempts` attempts (then it is marked failed). For
    /// `fire` and `replay`, which want an answer now rather than from a server later.
    ///
    /// # Errors
    /// The journal's error.
    pub async fn drive(&self, ids: &[String], max_attempts: Option<u32>) -> Result<(), StoreError> {
        let mut open: Vec<String> = ids.to_vec();
        while !open.is_empty() {
            let claimed = self.claim(open.len(), Some(open.clone())).await?;
            let attempts = claimed.into_iter().map(|c| self.attempt(c, max_attempts));
            futures::future::join_all(attempts).await;
            let mut rows = Vec::with_capacity(open.len());
            for id in &open {
                rows.extend(self.inner.journal.reader().delivery(id).await?);
            }
            open.retain(|id| {
                rows.iter().find(|r| &r.id == id).is_some_and(|r| {
                    matches!(r.status, DeliveryStatus::Pending | DeliveryStatus::Retrying)
                })
            });
            let next = rows
                .iter()
                .filter(|r| open.contains(&r.id))
                .filter_map(|r| r.next_attempt_at)
                .min();
            if !open.is_empty() {
                // At least a short pause, so a delivery leased by another process (a running
                // `serve`) is waited for rather than polled in a busy loop.
                let wait = next
                    .map_or(0, |n| u64::try_from(n - now_ms()).unwrap_or(0))
                    .max(50);
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
        }
        Ok(())
    }

    /// Makes one attempt at a claimed delivery and journals it.
    async fn attempt(&self, work: Work, max_attempts: Option<u32>) {
        let Work { claimed: c, place } = work;
        let dispatcher = self.dispatcher();
        let number = c.attempts + 1;
        let started_at = now_ms();
        let webhook = find_webhook(dispatcher.config(), &c.key).cloned();
        let key = WebhookKey::from_stored(c.key.as_str());
        let label = webhook
            .as_ref()
            .map_or_else(|| key.display(c.webhook), Webhook::label);
        let (attempt, request, status, next_at, retry_in) = match &webhook {
            None => {
                let attempt = Attempt {
                    outcome: Outcome::Failed,
                    status: None,
                    error: Some(format!(
                        "{} was removed from the config or now sends elsewhere",
                        key.describe()
                    )),
                    hint: Some(
                        "replay the event to a webhook that exists: herald replay ID --webhook SEL"
                            .into(),
                    ),
                    retry_after: None,
                    response: String::new(),
                    latency: Duration::ZERO,
                    posted: None,
                    forget_thread: false,
                };
                (attempt, None, DeliveryStatus::Failed, None, None)
            }
            Some(w) => {
                // A webhook keeping one message per thing edits or replies under it.
                let thread_key = w
                    .target
                    .correlation(&c.event)
                    .map(|k| format!("{}|{k}", w.key));
                let lock = thread_key.as_ref().map(|k| {
                    self.inner
                        .threads
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(k.clone())
                        .or_default()
                        .clone()
                });
                let held = match &lock {
                    Some(l) => Some(l.lock().await),
                    None => None,
                };
                let thread = match &thread_key {
                    Some(k) => self.reader().posted(k).await.unwrap_or_else(|e| {
                        tracing::warn!("cannot read the message kept for {k}: {e}");
                        None
                    }),
                    None => None,
                };
                let ids = crate::notify::Ids {
                    event: &c.event_id,
                    delivery: &c.id,
                    thread: thread.as_ref(),
                };
                let (attempt, request) = dispatcher.attempt(w, &c.event, ids).await;
                if let Some(k) = &thread_key {
                    self.keep_thread(k, thread.as_ref(), &attempt, c.event.is_problem())
                        .await;
                    drop(held);
                    // Nobody else waits on this thing's lock: it goes.
                    let mut locks = self
                        .inner
                        .threads
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    if locks.get(k).is_some_and(|l| Arc::strong_count(l) <= 2) {
                        locks.remove(k);
                    }
                }
                let mut policy = w.retry.clone();
                if let Some(n) = max_attempts {
                    policy.max_attempts = n.max(1);
                }
                let retry_in = retry_wait(&policy, number, &attempt);
                let status = match (attempt.outcome, retry_in) {
                    (Outcome::Delivered, _) => DeliveryStatus::Succeeded,
                    (_, Some(_)) => DeliveryStatus::Retrying,
                    _ => DeliveryStatus::Failed,
                };
                let next_at =
                    retry_in.map(|d| now_ms() + i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                (attempt, request, status, next_at, retry_in)
            }
        };
        // The destination is done with this attempt: its place is free now, not after the
        // journal write (which waits for a commit). The row keeps its lease until that
        // write, so nothing claims it again meanwhile, and the caller's global slot is
        // held until then, so journal writes in flight stay bounded.
        drop(place);
        if self.inner.backlog.load(Ordering::Relaxed) {
            // A place is free and something may be waiting for it.
            self.inner.wake.notify_one();
        }
        let m = &self.inner.metrics;
        m.observe(attempt.latency);
        match attempt.outcome {
            Outcome::Delivered => &m.attempts_delivered,
            Outcome::Retryable => &m.attempts_retryable,
            Outcome::Failed => &m.attempts_failed,
        }
        .fetch_add(1, Ordering::Relaxed);
        let record = AttemptRecord {
            delivery_id: c.id.clone(),
            number,
            started_at,
            latency_ms: i64::try_from(attempt.latency.as_millis()).unwrap_or(i64::MAX),
            outcome: attempt.outcome,
            status: attempt.status,
            error: attempt.error.clone(),
            hint: attempt.hint.clone(),
            request: request
                .map(|r| serde_json::to_string(&r).unwrap_or_default())
                .unwrap_or_default(),
            response: attempt.response.clone(),
        };
        let next = NextState {
            status,
            next_attempt_at: next_at,
        };
        match (status, &attempt.error) {
            (DeliveryStatus::Succeeded, _) => {
                tracing::debug!(delivery = %c.id, webhook = %label, "delivered")
            }
            (DeliveryStatus::Retrying, e) => tracing::warn!(
                delivery = %c.id, webhook = %label, attempt = number,
                "{}; retrying in {}", e.as_deref().unwrap_or("failed"),
                humantime::format_duration(Duration::from_secs(retry_in.unwrap_or_default().as_secs()))
            ),
            (_, e) => {
                tracing::warn!(delivery = %c.id, webhook = %label, attempt = number, "failed: {}", e.as_deref().unwrap_or("failed"))
            }
        }
        if let Err(e) = self.inner.journal.record_attempt(record, next).await {
            // The lease runs out and the delivery is attempted again: a duplicate, never a loss.
            tracing::error!("cannot journal the attempt of delivery {}: {e}", c.id);
        }
        let _no_listener = self.inner.events.send(CoreEvent::Attempted {
            delivery_id: c.id,
            event_id: c.event_id,
            label,
            number,
            attempt,
            status,
            retry_in,
        });
    }
}

/// Waits for word from another process on the journal; never, when none can come.
async fn told_of_change(told: &mut Option<broadcast::Receiver<()>>) {
    match told {
        // A lagged receiver has missed some: that is word too.
        Some(rx) => {
            let _ = rx.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// The configuration in use, with what the engine derives from it once per (re)load
/// rather than on every event.
#[derive(Clone)]
struct Current {
    dispatcher: Dispatcher,
    /// Every webhook's key, in config order: the webhooks a claim serves.
    keys: Arc<[String]>,
    /// How long a taken delivery stays leased: the longest timeout and a margin, so a
    /// killed process's deliveries are retried soon after a restart.
    lease: Duration,
    /// The longest wait before a retry that any webhook's schedule (with its jitter) or a
    /// honoured `Retry-After` allows: a due time further ahead was set by a wrong clock.
    max_wait: Duration,
}

impl Current {
    fn new(dispatcher: Dispatcher) -> Self {
        let webhooks = &dispatcher.config().webhooks;
        let longest = webhooks.iter().map(|w| w.timeout).max().unwrap_or_default();
        let longest_schedule = webhooks
            .iter()
            .flat_map(|w| w.retry.schedule.iter().copied())
            .max()
            .unwrap_or_default();
        Self {
            keys: webhooks
                .iter()
                .map(|w| w.key.as_str().to_string())
                .collect(),
            lease: longest + Duration::from_secs(5),
            max_wait: longest_schedule
                .mul_f64(1.2)
                .max(crate::notify::RETRY_AFTER_MAX)
                + Duration::from_secs(1),
            dispatcher,
        }
    }

    /// Until when (Unix ms) a delivery taken now is leased.
    fn lease_until(&self) -> i64 {
        now_ms() + i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }
}

/// How often the run loop reads the state shared through the journal (pause).
const SHARED_STATE_EVERY: Duration = Duration::from_millis(500);
/// How often the engine says it is alive to the other processes on the journal.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);

/// A delivery reserved for an attempt right after its commit, with its global slot.
struct Taken {
    id: String,
    webhook: usize,
    place: Place,
    permit: tokio::sync::OwnedSemaphorePermit,
}

/// A claimed delivery with its webhook's place in flight.
struct Work {
    claimed: Claimed,
    place: Place,
}

/// One of a webhook's places in flight. It is given back when dropped, on every path
/// (an attempt that ends, a commit that fails, a future that is cancelled), so a place can
/// never be held by nobody: a leaked place is a webhook that stops being served.
struct Place {
    inner: Arc<Inner>,
    key: String,
}

impl Place {
    /// Takes one of `key`'s places (the caller holds the in-flight lock).
    fn take(inner: &Arc<Inner>, in_flight: &mut HashMap<String, usize>, key: &str) -> Self {
        *in_flight.entry(key.to_string()).or_insert(0) += 1;
        Self {
            inner: inner.clone(),
            key: key.to_string(),
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut in_flight = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = in_flight.get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Why a test-fire sent nothing.
#[derive(Debug, thiserror::Error)]
pub enum FireError {
    /// The payload is not an event.
    #[error(transparent)]
    Invalid(#[from] crate::event::EventError),
    /// The payload is an event herald does not send.
    #[error(transparent)]
    NotSent(#[from] crate::intake::NotSent),
    /// The journal failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a replay could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No event or delivery has that id.
    #[error("no event or delivery with id {0}")]
    NotFound(String),
    /// The delivery's webhook is gone from the config.
    #[error("webhook {0} is no longer in the config: choose one with --webhook")]
    WebhookGone(String),
    /// The journal failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn new_delivery(w: &Webhook, replay_of: Option<String>) -> NewDelivery {
    NewDelivery {
        lease_until: None,
        id: new_delivery_id(),
        webhook: w.index,
        key: w.key.as_str().to_string(),
        target: w.target.display(),
        kind: w.target.kind().to_string(),
        replay_of,
    }
}

/// The webhook a stored delivery was made for, if the config still has it.
fn find_webhook<'a>(config: &'a Config, key: &str) -> Option<&'a Webhook> {
    config.webhooks.iter().find(|w| w.key.as_str() == key)
}
