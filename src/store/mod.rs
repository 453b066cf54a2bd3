//! The journal: every accepted event, every delivery and every attempt, in SQLite.
//!
//! herald answers 202 only after the event and its deliveries are committed, and workers
//! take their work from here, so a crash or restart loses nothing that was accepted. All
//! writes go through one writer thread that groups whatever is waiting into one
//! transaction (one fsync for many requests); reads use their own connection, which WAL
//! mode lets run beside the writer.

mod feed;
mod files;
mod query;
mod schema;
mod text;
mod writer;

use crate::clock::now_ms;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension as _};
use serde::Serialize;
use tokio::sync::oneshot;

pub use feed::{Attempted, Changes, DeliveryTally, EventSummary, FeedPosition, Field, Term};
pub use query::{AttemptRow, DeliveryFilter, DeliveryRow, EventRow, StatusCounts};

use crate::event::Event;
use crate::notify::Outcome;
use writer::Op;

/// What can go wrong with the journal.
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

impl rusqlite::types::FromSql for DeliveryStatus {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let s = v.as_str()?;
        Self::parse(s).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown delivery status {s:?}").into())
        })
    }
}

impl rusqlite::types::FromSql for crate::intake::Source {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let s = v.as_str()?;
        Self::parse(s).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown event source {s:?}").into())
        })
    }
}

impl rusqlite::types::FromSql for Outcome {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        Ok(Outcome::parse(v.as_str()?))
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

/// Grouped or one-by-one commits (the latter only for the benchmark's baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Everything waiting goes into one transaction.
    Grouped,
    /// One transaction per write.
    EachWrite,
}

/// Handle to the journal; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    path: PathBuf,
    writer: std::sync::mpsc::Sender<Op>,
    reader: Reader,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The journal's file name inside the data directory.
pub const FILE_NAME: &str = "journal.sqlite3";

impl Journal {
    /// Opens (creating and migrating as needed) the journal in `dir`.
    ///
    /// # Errors
    /// When the directory or the database cannot be opened, or is from a newer herald.
    pub fn open(dir: &Path, commit: Commit) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let open = || -> Result<(Connection, Connection), StoreError> {
            let mut conn = Connection::open(&path)?;
            schema::prepare(&mut conn)?;
            let mut reader = Connection::open(&path)?;
            schema::prepare(&mut reader)?;
            Ok((conn, reader))
        };
        let (conn, reader) =
            open().map_err(|e| match (&e, files::explain_open_failure(&path)) {
                (StoreError::Sqlite(_), Some(why)) => StoreError::Files(why),
                _ => e,
            })?;
        let watch = files::Files::new(&path).map_err(|e| StoreError::Files(e.to_string()))?;
        let writer = writer::spawn(conn, commit, watch);
        Ok(Self {
            reader: Reader {
                path: path.clone(),
                conn: Arc::new(Mutex::new(reader)),
            },
            path,
            writer,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The read-only side, for the faces (console, API, commands): they read through it
    /// and act through the engine's commands, never by writing the journal themselves.
    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    async fn call<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Op,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.writer.send(op(tx)).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Stores an event with its deliveries (due now) in one commit.
    ///
    /// # Errors
    /// SQLite errors; nothing is stored then.
    pub async fn record_event(&self, event: NewEvent) -> Result<Recorded, StoreError> {
        self.call(|reply| Op::Event(Box::new(event), reply)).await
    }

    /// Adds deliveries (replays) to a stored event, due now.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn add_deliveries(
        &self,
        event_id: &str,
        deliveries: Vec<NewDelivery>,
    ) -> Result<(), StoreError> {
        let event_id = event_id.to_string();
        self.call(|reply| Op::AddDeliveries(event_id, deliveries, reply))
            .await
    }

    /// Stores an attempt and the delivery's new state, releasing its lease.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn record_attempt(
        &self,
        attempt: AttemptRecord,
        next: NextState,
    ) -> Result<(), StoreError> {
        self.call(|reply| Op::Attempt(Box::new(attempt), next, reply))
            .await
    }

    /// Takes up to `limit` due deliveries, leasing them until `lease_until` (Unix ms) so no
    /// other worker or process takes them meanwhile. `only` restricts to these ids.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn claim_due(
        &self,
        limit: usize,
        lease_until: i64,
        only: Option<Vec<String>>,
        busy: ClaimLimits,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.call(|reply| Op::Claim {
            now: now_ms(),
            limit,
            lease_until,
            only,
            busy,
            reply,
        })
        .await
    }

    /// Marks deliveries failed without another attempt (a `fire` that was told not to
    /// retry, or a webhook that is gone from the config).
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn give_up(&self, delivery_id: &str, reason: &str) -> Result<(), StoreError> {
        let (id, reason) = (delivery_id.to_string(), reason.to_string());
        self.call(|reply| Op::GiveUp(id, reason, reply)).await
    }

    /// Deletes finished events older than `max_age_ms` and the oldest finished ones beyond
    /// `max_events`. Events with a delivery still pending or retrying are kept.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn prune(&self, max_age_ms: i64, max_events: u64) -> Result<usize, StoreError> {
        self.call(|reply| Op::Prune {
            older_than: now_ms() - max_age_ms,
            max_events,
            reply,
        })
        .await
    }

    /// Corrects open deliveries' due times and leases after a clock step (see
    /// [`Reschedule`]). Returns how many values changed.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn reschedule(&self, r: Reschedule) -> Result<usize, StoreError> {
        self.call(|reply| Op::Reschedule(r, reply)).await
    }

    /// Settles the open deliveries whose webhook is no longer in the configuration, or now
    /// sends elsewhere, as failed with a sentence saying so, so that none is sent to another
    /// destination than it was made for. Deliveries stored by an older herald (keyed by
    /// name or `#index`) are first adopted by the webhook they name, when it still sends to
    /// the same kind and target. Returns how many were settled.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn settle(&self, webhooks: Vec<KnownWebhook>) -> Result<usize, StoreError> {
        self.call(|reply| Op::Settle(webhooks, reply)).await
    }

    /// Pauses or resumes attempts for every process on this journal.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn set_paused(&self, paused: bool) -> Result<(), StoreError> {
        self.call(|reply| Op::SetState("paused".into(), paused.to_string(), reply))
            .await
    }

    /// Checks the journal can take a write (for `/healthz`).
    ///
    /// # Errors
    /// When it cannot.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.call(Op::Ping).await
    }
}

/// Reads of the journal, and nothing else: what the engine hands to the faces. Reads run on
/// their own connection, off the async threads, beside the writer.
#[derive(Clone)]
pub struct Reader {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs a read query on the reader connection, off the async threads.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let reader = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = reader
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&conn)
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// Deliveries, newest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn deliveries(&self, filter: DeliveryFilter) -> Result<Vec<DeliveryRow>, StoreError> {
        self.read(move |c| query::deliveries(c, &filter)).await
    }

    /// One delivery.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn delivery(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        let filter = DeliveryFilter {
            id: Some(id.to_string()),
            ..DeliveryFilter::default()
        };
        self.read(move |c| query::deliveries(c, &filter).map(|mut rows| rows.pop()))
            .await
    }

    /// One event.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn event(&self, id: &str) -> Result<Option<EventRow>, StoreError> {
        let id = id.to_string();
        self.read(move |c| query::event(c, &id)).await
    }

    /// These events (those still kept), each with its deliveries oldest first, in one
    /// read: what a page of the console lists.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn events_with_deliveries(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<(EventRow, Vec<DeliveryRow>)>, StoreError> {
        self.read(move |c| {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(event) = query::event(c, &id)? else {
                    continue;
                };
                let filter = DeliveryFilter {
                    event_id: Some(id),
                    ..DeliveryFilter::default()
                };
                let mut deliveries = query::deliveries(c, &filter)?;
                deliveries.reverse();
                out.push((event, deliveries));
            }
            Ok(out)
        })
        .await
    }

    /// Events, newest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn events(
        &self,
        limit: usize,
        before: Option<i64>,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.read(move |c| query::events(c, limit, before)).await
    }

    /// The attempts of a delivery, in order.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn attempts(&self, delivery_id: &str) -> Result<Vec<AttemptRow>, StoreError> {
        let id = delivery_id.to_string();
        self.read(move |c| query::attempts(c, &id)).await
    }

    /// How many deliveries are in each status, and events in all.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn counts(&self) -> Result<StatusCounts, StoreError> {
        self.read(query::counts).await
    }

    /// Events newest first, before the cursor `before` (an event's `seq`), meeting every
    /// term.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn events_page(
        &self,
        before: Option<i64>,
        limit: usize,
        terms: Vec<Term>,
    ) -> Result<Vec<EventSummary>, StoreError> {
        self.read(move |c| feed::events_page(c, before, limit, &terms))
            .await
    }

    /// What was recorded after `from`.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn changes(&self, from: FeedPosition, limit: usize) -> Result<Changes, StoreError> {
        self.read(move |c| feed::changes(c, from, limit)).await
    }

    /// Deliveries by webhook key and state.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn webhook_stats(
        &self,
    ) -> Result<std::collections::HashMap<String, DeliveryTally>, StoreError> {
        self.read(feed::webhook_stats).await
    }

    /// The position after everything recorded now, and the oldest event's `seq`.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn head(&self) -> Result<(FeedPosition, i64), StoreError> {
        self.read(feed::head).await
    }

    /// Whether attempts are paused, for every process on this journal.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn paused(&self) -> Result<bool, StoreError> {
        self.read(|c| {
            let v: Option<String> = c
                .query_row("SELECT value FROM state WHERE key = 'paused'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            Ok(v.as_deref() == Some("true"))
        })
        .await
    }
}
