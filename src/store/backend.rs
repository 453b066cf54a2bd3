//! The seam between the journal's users and where the journal is kept.
//!
//! The engine, the operator API and the commands hold a [`super::Journal`] (or its read-only
//! [`super::Reader`]); behind it is one `Backend`: SQLite in the data directory (the embedded
//! default) or PostgreSQL (several replicas on one database). A backend stores and answers;
//! what to claim, how fairly and when, is the engine's.

use std::collections::HashMap;

use futures::future::BoxFuture;

use super::{
    AttemptRecord, AttemptRow, Changes, ClaimLimits, Claimed, DeliveryFilter, DeliveryRow,
    DeliveryTally, DriftSeen, EventRow, EventSummary, FeedPosition, KnownWebhook, NewDelivery,
    NewEvent, NextState, PostedMessage, Recorded, Reschedule, RunRow, StatusCounts, StoreError,
    Term,
};

/// What a backend call gives back.
pub type Fut<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// A claim of due deliveries (see [`super::Journal::claim_due`]).
#[derive(Debug, Clone)]
pub struct Claim {
    /// Now (Unix ms).
    pub now: i64,
    /// At most this many.
    pub limit: usize,
    /// Leased until (Unix ms).
    pub lease_until: i64,
    /// Only these ids.
    pub only: Option<Vec<String>>,
    /// Room per webhook.
    pub busy: ClaimLimits,
}

/// Where the journal is kept. Every call is one unit: stored whole or not at all.
pub trait Backend: Send + Sync {
    /// `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;
    /// Where, as it may be shown (a file's path, a masked URL).
    fn at(&self) -> String;
    /// The SQLite file, for the tools that read it directly.
    fn file(&self) -> Option<&std::path::Path> {
        None
    }

    /// Stores an event with its deliveries, due now.
    fn record_event(&self, event: NewEvent) -> Fut<'_, Recorded>;
    /// Adds deliveries (replays) to a stored event, due now.
    fn add_deliveries(&self, event_id: String, deliveries: Vec<NewDelivery>) -> Fut<'_, ()>;
    /// Stores an attempt and the delivery's new state, releasing its lease.
    fn record_attempt(&self, attempt: AttemptRecord, next: NextState) -> Fut<'_, ()>;
    /// Leases due deliveries.
    fn claim_due(&self, claim: Claim) -> Fut<'_, Vec<Claimed>>;
    /// Fails an open delivery without another attempt.
    fn give_up(&self, delivery_id: String, reason: String) -> Fut<'_, ()>;
    /// Deletes finished events by age and count.
    fn prune(&self, older_than: i64, max_events: u64) -> Fut<'_, usize>;
    /// Corrects due times and leases after a clock step.
    fn reschedule(&self, r: Reschedule) -> Fut<'_, usize>;
    /// Settles deliveries of webhooks no longer configured.
    fn settle(&self, webhooks: Vec<KnownWebhook>) -> Fut<'_, usize>;
    /// Sets shared state (`paused`).
    fn set_state(&self, key: &'static str, value: String) -> Fut<'_, ()>;
    /// Checks a write can be made.
    fn ping(&self) -> Fut<'_, ()>;
    /// Takes occurrence `occurrence` (Unix ms) of the job `key` until `lease_until`, unless
    /// that or a later occurrence was taken, or a run of the job is still leased: each
    /// occurrence runs once, and never two runs of a job at a time, across every process
    /// on the journal. `true` when taken.
    fn claim_run(&self, key: String, occurrence: i64, lease_until: i64) -> Fut<'_, bool>;
    /// Ends the run of `occurrence` of `key`, keeping what it came to.
    fn finish_run(&self, key: String, occurrence: i64, outcome: String) -> Fut<'_, ()>;
    /// Remembers (or, with `None`, forgets) the message posted for `key`.
    fn set_posted(&self, key: String, message: Option<PostedMessage>) -> Fut<'_, ()>;
    /// Word from other processes on this journal that shared state (the pause) changed or
    /// unleased work (replays) was added, so the engine looks now rather than at its next
    /// poll. `None`: nobody else tells.
    fn notifications(&self) -> Option<tokio::sync::broadcast::Receiver<()>> {
        None
    }
    /// Says this process (`replica`, an id of its run) is alive and returns how many are:
    /// the engine hands each the same share of a webhook's in-flight cap for the events it
    /// accepts. One, when the backend has one process only.
    fn heartbeat(&self, _replica: String) -> Fut<'_, usize> {
        Box::pin(async { Ok(1) })
    }
    /// Reserves the next send slot on `key` (a Slack channel), `interval_ms` after the last
    /// one handed out to any process on this journal; returns when it is (Unix ms). `None`:
    /// the backend has one process only, and the engine's own pacer is exact.
    fn reserve_slot(&self, _key: String, _interval_ms: i64) -> Fut<'_, Option<i64>> {
        Box::pin(async { Ok(None) })
    }

    /// Deliveries, newest first.
    fn deliveries(&self, filter: DeliveryFilter) -> Fut<'_, Vec<DeliveryRow>>;
    /// One event.
    fn event(&self, id: String) -> Fut<'_, Option<EventRow>>;
    /// Events with their deliveries (oldest first), in the order asked.
    fn events_with_deliveries(
        &self,
        ids: Vec<String>,
    ) -> Fut<'_, Vec<(EventRow, Vec<DeliveryRow>)>>;
    /// Events, newest first, received before `before` (Unix ms).
    fn events(&self, limit: usize, before: Option<i64>) -> Fut<'_, Vec<EventRow>>;
    /// A delivery's attempts in order.
    fn attempts(&self, delivery_id: String) -> Fut<'_, Vec<AttemptRow>>;
    /// Deliveries per status, events in all.
    fn counts(&self) -> Fut<'_, StatusCounts>;
    /// A page of events before a cursor, meeting every term.
    fn events_page(
        &self,
        before: Option<i64>,
        limit: usize,
        terms: Vec<Term>,
    ) -> Fut<'_, Vec<EventSummary>>;
    /// What was recorded after a feed position.
    fn changes(&self, from: FeedPosition, limit: usize) -> Fut<'_, Changes>;
    /// Deliveries per webhook key and state.
    fn webhook_stats(&self) -> Fut<'_, HashMap<String, DeliveryTally>>;
    /// The feed's head and the oldest event kept.
    fn head(&self) -> Fut<'_, (FeedPosition, i64)>;
    /// Shared state by key.
    fn state(&self, key: &'static str) -> Fut<'_, Option<String>>;
    /// Every job's last run.
    fn runs(&self) -> Fut<'_, Vec<RunRow>>;
    /// The message posted for `key`.
    fn posted(&self, key: String) -> Fut<'_, Option<PostedMessage>>;
    /// The newest drift report (not a notice) of each `repository@ref` received since
    /// `since` (Unix ms).
    fn drift_seen(&self, since: i64) -> Fut<'_, Vec<DriftSeen>>;
}
