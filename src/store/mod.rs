//! The journal: every accepted event, every delivery and every attempt, in SQLite.
//!
//! herald answers 202 only after the event and its deliveries are committed, and workers
//! take their work from here, so a crash or restart loses nothing that was accepted. All
//! writes go through one writer thread that groups whatever is waiting into one
//! transaction (one fsync for many requests); reads use their own connection, which WAL
//! mode lets run beside the writer.

pub mod backend;
pub mod postgres;
mod rows;
pub mod sqlite;

use crate::clock::now_ms;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

pub use rows::{
    AttemptRow, Attempted, Changes, DeliveryFilter, DeliveryRow, DeliveryTally, DriftSeen,
    EventRow, EventSummary, FeedPosition, Field, PostedMessage, RunRow, StatusCounts, Term,
};
pub use sqlite::FILE_NAME;

use crate::event::Event;
use crate::notify::Outcome;
use backend::{Backend, Claim};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (disk full, read-only file system, corruption, ...).
    #[error("journal: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The journal was written by a newer herald.
    #[error(
        "the journal has schema version {found}, newer than this herald's {supported}: upgrade herald"
    )]
    NewerSchema {
        /// Version in the file.
        found: i64,
        /// Version this build writes.
        supported: i64,
    },
    /// The group of writes this one was part of could not be committed.
    #[error("the journal could not commit: {0}")]
    Commit(String),
    /// The writer thread is gone (the journal was closed).
    #[error("the journal is closed")]
    Closed,
    /// The journal's files cannot be used as they are (read-only, deleted, replaced).
    #[error("{0}")]
    Files(String),
    /// A stored row could not be read back.
    #[error("journal row {0} is unreadable: {1}")]
    Corrupt(String, String),
    /// `--journal` names no journal herald knows.
    #[error("{0}")]
    Location(String),
    /// PostgreSQL refused, failed or could not be reached.
    #[error("journal (PostgreSQL at {at}): {why}")]
    Postgres {
        /// Where, masked.
        at: String,
        /// What happened.
        why: String,
    },
}

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not attempted yet.
    Pending,
    /// Failed in a retryable way; another attempt is scheduled.
    Retrying,
    /// Delivered.
    Succeeded,
    /// Failed for good.
    Failed,
}

impl DeliveryStatus {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Reads the stored word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => DeliveryStatus::Pending,
            "retrying" => DeliveryStatus::Retrying,
            "succeeded" => DeliveryStatus::Succeeded,
            "failed" => DeliveryStatus::Failed,
            _ => return None,
        })
    }
}

/// A delivery to create.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Its id (`X-Herald-Delivery`).
    pub id: String,
    /// Webhook index in the config at the time.
    pub webhook: usize,
    /// The webhook's key (`config::WebhookKey`): how it is found again after a reload.
    pub key: String,
    /// Destination for display (secrets masked).
    pub target: String,
    /// `slack` or `http`.
    pub kind: String,
    /// The delivery or event this one replays.
    pub replay_of: Option<String>,
    /// Leased from the start (Unix ms) when the engine attempts it as soon as it is
    /// committed, so no claim picks it up meanwhile.
    pub lease_until: Option<i64>,
}

/// An event to record with its deliveries.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Its id.
    pub id: String,
    /// Where it came from: `apply`, `drift`, `env0`, `fire`.
    pub source: crate::intake::Source,
    /// The normalised event.
    pub event: Event,
    /// The received body, secrets removed.
    pub body: String,
    /// env0's event id, to answer a repeat with the first event.
    pub dedupe_key: Option<String>,
    /// Its deliveries, due now.
    pub deliveries: Vec<NewDelivery>,
}

/// What recording an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Stored, with this many deliveries.
    New {
        /// The event id.
        event_id: String,
        /// Deliveries created.
        deliveries: usize,
    },
    /// The dedupe key was seen before: nothing stored.
    Duplicate {
        /// The first event's id.
        event_id: String,
    },
}

/// One finished attempt, as stored.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The delivery.
    pub delivery_id: String,
    /// 1-based number.
    pub number: u32,
    /// Start time, Unix milliseconds.
    pub started_at: i64,
    /// Duration in milliseconds.
    pub latency_ms: i64,
    /// How it ended.
    pub outcome: Outcome,
    /// HTTP status.
    pub status: Option<u16>,
    /// Error text (already free of secrets).
    pub error: Option<String>,
    /// Hint for the error.
    pub hint: Option<String>,
    /// Request summary (method, masked URL, masked headers) as JSON.
    pub request: String,
    /// Response excerpt (at most 4 KiB, free of secrets).
    pub response: String,
}

/// The delivery's state after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextState {
    /// New status.
    pub status: DeliveryStatus,
    /// When to try again (Unix ms) for `Retrying`.
    pub next_attempt_at: Option<i64>,
}

/// A delivery taken by a worker.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Delivery id.
    pub id: String,
    /// Its event id.
    pub event_id: String,
    /// Webhook index when it was created.
    pub webhook: usize,
    /// The webhook's key.
    pub key: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// The event (shared by the deliveries of one event).
    pub event: Arc<Event>,
}

/// How many attempts each webhook (by key) has in flight, and the most it may have.
#[derive(Debug, Clone, Default)]
pub struct ClaimLimits {
    /// Attempts in flight per webhook key.
    pub in_flight: std::collections::HashMap<String, usize>,
    /// The most attempts one webhook may have in flight.
    pub per_webhook: usize,
    /// The configured webhooks' keys.
    pub keys: Arc<[String]>,
    /// Which of `keys` is served first (taken modulo their number), so with few free
    /// slots no webhook is always last.
    pub first: usize,
}

/// The claim policy every backend follows (the engine's, not any one backend's SQL): each
/// configured webhook with room, in turn from `first`, so a dead destination's backlog
/// never takes the places of a healthy one and no webhook is always last.
impl ClaimLimits {
    /// The keys in the order a claim serves them.
    pub fn rotation(&self) -> Vec<String> {
        let first = self.first % self.keys.len().max(1);
        self.keys[first..]
            .iter()
            .chain(&self.keys[..first])
            .cloned()
            .collect()
    }

    /// How many more attempts `key` may have in flight.
    pub fn room(&self, key: &str) -> usize {
        self.per_webhook
            .saturating_sub(self.in_flight.get(key).copied().unwrap_or(0))
    }

    /// Notes `n` more attempts in flight for `key`.
    pub fn take(&mut self, key: &str, n: usize) {
        *self.in_flight.entry(key.to_string()).or_insert(0) += n;
    }
}

/// Due times and leases to correct after the wall clock stepped back (Unix ms, and ms).
#[derive(Debug, Clone, Copy)]
pub struct Reschedule {
    /// Now.
    pub now: i64,
    /// The longest wait before a retry that any schedule allows: a due time further ahead
    /// than that was set by a clock that was ahead, and is brought in to it.
    pub max_wait: i64,
    /// The longest lease any worker takes, likewise.
    pub max_lease: i64,
}

/// A webhook of the configuration in use, as [`Journal::settle`] needs it.
#[derive(Debug, Clone)]
pub struct KnownWebhook {
    /// Its key (`config::WebhookKey`).
    pub key: String,
    /// What an older herald stored instead of a key: its name, or `#index`.
    pub legacy: String,
    /// `slack` or `http`.
    pub kind: String,
    /// Its destination as shown (and stored with each delivery).
    pub target: String,
}

/// Why an open delivery of webhook `gone` (no longer configured as it was) is settled as
/// failed: the webhook now sends elsewhere, or was removed.
pub(crate) fn settled_why(webhooks: &[KnownWebhook], gone: &crate::config::WebhookKey) -> String {
    let changed = webhooks
        .iter()
        .any(|w| crate::config::WebhookKey::from_stored(w.key.as_str()).ident() == gone.ident());
    if changed {
        format!(
            "{} now sends elsewhere: not sent to its new target (replay it there with herald replay ID)",
            gone.describe()
        )
    } else {
        format!(
            "{} was removed from the config (replay it with herald replay ID --webhook SEL)",
            gone.describe()
        )
    }
}

/// Grouped or one-by-one commits (the latter only for the benchmark's baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Everything waiting goes into one transaction.
    Grouped,
    /// One transaction per write.
    EachWrite,
}

/// Handle to the journal; cheap to clone. What it is kept in is its backend's business.
#[derive(Clone)]
pub struct Journal {
    backend: Arc<dyn Backend>,
    reader: Reader,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("at", &self.backend.at())
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (creating and migrating as needed) the SQLite journal in `dir`.
    ///
    /// # Errors
    /// When the directory or the database cannot be opened, or is from a newer herald.
    pub fn open(dir: &Path, commit: Commit) -> Result<Self, StoreError> {
        Ok(Self::with(Arc::new(sqlite::Sqlite::open(dir, commit)?)))
    }

    /// A journal kept by `backend`.
    pub fn with(backend: Arc<dyn Backend>) -> Self {
        Self {
            reader: Reader {
                backend: backend.clone(),
            },
            backend,
        }
    }

    /// Where the journal is, as it may be shown (a path, a masked URL).
    pub fn at(&self) -> String {
        self.backend.at()
    }

    /// The SQLite file, when the journal is one.
    pub fn file(&self) -> Option<&Path> {
        self.backend.file()
    }

    /// The read-only side, for the faces (console, API, commands): they read through it
    /// and act through the engine's commands, never by writing the journal themselves.
    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    /// Stores an event with its deliveries (due now) in one commit.
    ///
    /// # Errors
    /// Storage errors; nothing is stored then.
    pub async fn record_event(&self, event: NewEvent) -> Result<Recorded, StoreError> {
        self.backend.record_event(event).await
    }

    /// Adds deliveries (replays) to a stored event, due now.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn add_deliveries(
        &self,
        event_id: &str,
        deliveries: Vec<NewDelivery>,
    ) -> Result<(), StoreError> {
        self.backend
            .add_deliveries(event_id.to_string(), deliveries)
            .await
    }

    /// Stores an attempt and the delivery's new state, releasing its lease.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn record_attempt(
        &self,
        attempt: AttemptRecord,
        next: NextState,
    ) -> Result<(), StoreError> {
        self.backend.record_attempt(attempt, next).await
    }

    /// Takes up to `limit` due deliveries, leasing them until `lease_until` (Unix ms) so no
    /// other worker or process takes them meanwhile. `only` restricts to these ids.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn claim_due(
        &self,
        limit: usize,
        lease_until: i64,
        only: Option<Vec<String>>,
        busy: ClaimLimits,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.backend
            .claim_due(Claim {
                now: now_ms(),
                limit,
                lease_until,
                only,
                busy,
            })
            .await
    }

    /// Marks deliveries failed without another attempt (a `fire` that was told not to
    /// retry, or a webhook that is gone from the config).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn give_up(&self, delivery_id: &str, reason: &str) -> Result<(), StoreError> {
        self.backend
            .give_up(delivery_id.to_string(), reason.to_string())
            .await
    }

    /// Deletes finished events older than `max_age_ms` and the oldest finished ones beyond
    /// `max_events`. Events with a delivery still pending or retrying are kept.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn prune(&self, max_age_ms: i64, max_events: u64) -> Result<usize, StoreError> {
        self.backend.prune(now_ms() - max_age_ms, max_events).await
    }

    /// Corrects open deliveries' due times and leases after a clock step (see
    /// [`Reschedule`]). Returns how many values changed.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn reschedule(&self, r: Reschedule) -> Result<usize, StoreError> {
        self.backend.reschedule(r).await
    }

    /// Settles the open deliveries whose webhook is no longer in the configuration, or now
    /// sends elsewhere, as failed with a sentence saying so, so that none is sent to another
    /// destination than it was made for. Deliveries stored by an older herald (keyed by
    /// name or `#index`) are first adopted by the webhook they name, when it still sends to
    /// the same kind and target. Returns how many were settled.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn settle(&self, webhooks: Vec<KnownWebhook>) -> Result<usize, StoreError> {
        self.backend.settle(webhooks).await
    }

    /// Pauses or resumes attempts for every process on this journal.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn set_paused(&self, paused: bool) -> Result<(), StoreError> {
        self.backend.set_state(PAUSED, paused.to_string()).await
    }

    /// Says this process is alive; returns how many processes on the journal are (see
    /// [`Backend::heartbeat`]).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn heartbeat(&self, replica: &str) -> Result<usize, StoreError> {
        self.backend.heartbeat(replica.to_string()).await
    }

    /// Word that another process changed shared state (see [`Backend::notifications`]).
    pub fn notifications(&self) -> Option<tokio::sync::broadcast::Receiver<()>> {
        self.backend.notifications()
    }

    /// Reserves the next send slot on `key` across every process on this journal (see
    /// [`Backend::reserve_slot`]).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn reserve_slot(
        &self,
        key: &str,
        interval_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.backend
            .reserve_slot(key.to_string(), interval_ms)
            .await
    }

    /// Takes occurrence `occurrence` (Unix ms) of job `key` until `lease_until`, unless it
    /// or a later one was taken, or a run is still leased (see [`Backend::claim_run`]).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn claim_run(
        &self,
        key: &str,
        occurrence: i64,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        self.backend
            .claim_run(key.to_string(), occurrence, lease_until)
            .await
    }

    /// Ends the run of `occurrence` of job `key` with what it came to.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn finish_run(
        &self,
        key: &str,
        occurrence: i64,
        outcome: String,
    ) -> Result<(), StoreError> {
        self.backend
            .finish_run(key.to_string(), occurrence, outcome)
            .await
    }

    /// Remembers the message posted for `key` (or forgets it, with `None`), so the next
    /// event of the same thing edits it or replies under it.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn set_posted(
        &self,
        key: &str,
        message: Option<PostedMessage>,
    ) -> Result<(), StoreError> {
        self.backend.set_posted(key.to_string(), message).await
    }

    /// Checks the journal can take a write (for `/healthz`).
    ///
    /// # Errors
    /// When it cannot.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.backend.ping().await
    }
}

/// Where a journal is kept: `--journal`, `HERALD_JOURNAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `sqlite:DIR`: the file `journal.sqlite3` in DIR (the data directory by default).
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl Location {
    /// Reads `sqlite:DIR` or a PostgreSQL URL.
    ///
    /// # Errors
    /// Anything else, with the forms it takes.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        let s = s.trim();
        if let Some(dir) = s.strip_prefix("sqlite:") {
            if dir.is_empty() {
                return Err(StoreError::Location(
                    "sqlite: needs a directory (sqlite:/var/lib/herald)".into(),
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(dir)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Self::Postgres(s.to_string()));
        }
        Err(StoreError::Location(format!(
            "{:?} is not a journal: use sqlite:DIR or postgres://USER@HOST/DATABASE",
            crate::redact::url_masked(s)
        )))
    }
}

impl std::fmt::Display for Location {
    /// As it may be shown: a PostgreSQL URL's password masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(dir) => write!(f, "in {}", dir.display()),
            Location::Postgres(url) => write!(f, "at {}", crate::redact::url_masked(url)),
        }
    }
}

/// Opens the journal at `location`, creating or migrating its schema as needed.
///
/// # Errors
/// When it cannot be reached or opened, or holds a newer herald's schema.
pub async fn open(location: Location, commit: Commit) -> Result<Journal, StoreError> {
    Ok(match location {
        Location::Sqlite(dir) => Journal::open(&dir, commit)?,
        Location::Postgres(url) => {
            Journal::with(Arc::new(postgres::Postgres::connect(&url).await?))
        }
    })
}

/// The shared state key saying whether attempts are paused.
const PAUSED: &str = "paused";

/// Reads of the journal, and nothing else: what the engine hands to the faces.
#[derive(Clone)]
pub struct Reader {
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("at", &self.backend.at())
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        self.backend.kind()
    }

    /// Where the journal is, as it may be shown.
    pub fn at(&self) -> String {
        self.backend.at()
    }

    /// The SQLite file, when the journal is one.
    pub fn file(&self) -> Option<&Path> {
        self.backend.file()
    }

    /// Deliveries, newest first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn deliveries(&self, filter: DeliveryFilter) -> Result<Vec<DeliveryRow>, StoreError> {
        self.backend.deliveries(filter).await
    }

    /// One delivery by id.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn delivery(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        let filter = DeliveryFilter {
            id: Some(id.to_string()),
            ..DeliveryFilter::default()
        };
        Ok(self.backend.deliveries(filter).await?.pop())
    }

    /// One event by id.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn event(&self, id: &str) -> Result<Option<EventRow>, StoreError> {
        self.backend.event(id.to_string()).await
    }

    /// Events with their deliveries (oldest first), in the order of `ids`; ids not found
    /// are left out. One read for a page, not two per event.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn events_with_deliveries(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<(EventRow, Vec<DeliveryRow>)>, StoreError> {
        self.backend.events_with_deliveries(ids).await
    }

    /// Events, newest first, received before `before` (Unix ms) when given.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn events(
        &self,
        limit: usize,
        before: Option<i64>,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.backend.events(limit, before).await
    }

    /// A delivery's attempts, in order.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn attempts(&self, delivery_id: &str) -> Result<Vec<AttemptRow>, StoreError> {
        self.backend.attempts(delivery_id.to_string()).await
    }

    /// Deliveries per status and events in all.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn counts(&self) -> Result<StatusCounts, StoreError> {
        self.backend.counts().await
    }

    /// Events newest first, before the cursor `before` (an event's `seq`), meeting every
    /// term.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn events_page(
        &self,
        before: Option<i64>,
        limit: usize,
        terms: Vec<Term>,
    ) -> Result<Vec<EventSummary>, StoreError> {
        self.backend.events_page(before, limit, terms).await
    }

    /// What was recorded after `from`.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn changes(&self, from: FeedPosition, limit: usize) -> Result<Changes, StoreError> {
        self.backend.changes(from, limit).await
    }

    /// Deliveries by webhook key and state.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn webhook_stats(
        &self,
    ) -> Result<std::collections::HashMap<String, DeliveryTally>, StoreError> {
        self.backend.webhook_stats().await
    }

    /// The feed's head, and the oldest event kept.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn head(&self) -> Result<(FeedPosition, i64), StoreError> {
        self.backend.head().await
    }

    /// The message posted for `key`, if one is remembered.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn posted(&self, key: &str) -> Result<Option<PostedMessage>, StoreError> {
        self.backend.posted(key.to_string()).await
    }

    /// Every job's last run (drift schedules, staleness notices).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn runs(&self) -> Result<Vec<RunRow>, StoreError> {
        self.backend.runs().await
    }

    /// The newest drift report of each `repository@ref` received since `since` (Unix ms).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn drift_seen(&self, since: i64) -> Result<Vec<DriftSeen>, StoreError> {
        self.backend.drift_seen(since).await
    }

    /// Whether attempts are paused, for every process on this journal.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn paused(&self) -> Result<bool, StoreError> {
        Ok(self.backend.state(PAUSED).await?.as_deref() == Some("true"))
    }
}
