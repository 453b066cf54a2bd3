//! The journal in one SQLite file in the data directory: the embedded default.
//!
//! All writes go through one writer thread that groups whatever is waiting into one
//! transaction (one fsync for many requests); reads use their own connection, which WAL
//! mode lets run beside the writer.

mod feed;
mod files;
mod query;
mod schema;
mod text;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::FutureExt as _;
use rusqlite::{Connection, OptionalExtension as _};
use tokio::sync::oneshot;

use super::backend::{Backend, Claim, Fut};
use super::{
    AttemptRecord, AttemptRow, Changes, Claimed, Commit, DeliveryFilter, DeliveryRow,
    DeliveryStatus, DeliveryTally, DriftSeen, EventRow, EventSummary, FeedPosition, KnownWebhook,
    NewDelivery, NewEvent, NextState, Recorded, Reschedule, RunRow, StatusCounts, StoreError, Term,
};
use writer::Op;

pub use schema::VERSION;

/// The journal's file name inside the data directory.
pub const FILE_NAME: &str = "journal.sqlite3";

/// The journal in `dir/journal.sqlite3`.
pub struct Sqlite {
    path: PathBuf,
    writer: std::sync::mpsc::Sender<Op>,
    reader: Arc<Mutex<Connection>>,
}

impl Sqlite {
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
            path,
            writer,
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    async fn call<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Op,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.writer.send(op(tx)).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs a read query on the reader connection, off the async threads.
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Fut<'_, T> {
        let reader = self.reader.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let conn = reader
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                f(&conn)
            })
            .await
            .map_err(|_| StoreError::Closed)?
        }
        .boxed()
    }
}

impl Backend for Sqlite {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn at(&self) -> String {
        self.path.display().to_string()
    }

    fn file(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn record_event(&self, event: NewEvent) -> Fut<'_, Recorded> {
        self.call(move |reply| Op::Event(Box::new(event), reply))
            .boxed()
    }

    fn add_deliveries(&self, event_id: String, deliveries: Vec<NewDelivery>) -> Fut<'_, ()> {
        self.call(move |reply| Op::AddDeliveries(event_id, deliveries, reply))
            .boxed()
    }

    fn record_attempt(&self, attempt: AttemptRecord, next: NextState) -> Fut<'_, ()> {
        self.call(move |reply| Op::Attempt(Box::new(attempt), next, reply))
            .boxed()
    }

    fn claim_due(&self, claim: Claim) -> Fut<'_, Vec<Claimed>> {
        self.call(move |reply| Op::Claim { claim, reply }).boxed()
    }

    fn give_up(&self, delivery_id: String, reason: String) -> Fut<'_, ()> {
        self.call(move |reply| Op::GiveUp(delivery_id, reason, reply))
            .boxed()
    }

    fn prune(&self, older_than: i64, max_events: u64) -> Fut<'_, usize> {
        self.call(move |reply| Op::Prune {
            older_than,
            max_events,
            reply,
        })
        .boxed()
    }

    fn reschedule(&self, r: Reschedule) -> Fut<'_, usize> {
        self.call(move |reply| Op::Reschedule(r, reply)).boxed()
    }

    fn settle(&self, webhooks: Vec<KnownWebhook>) -> Fut<'_, usize> {
        self.call(move |reply| Op::Settle(webhooks, reply)).boxed()
    }

    fn set_state(&self, key: &'static str, value: String) -> Fut<'_, ()> {
        self.call(move |reply| Op::SetState(key.to_string(), value, reply))
            .boxed()
    }

    fn ping(&self) -> Fut<'_, ()> {
        self.call(Op::Ping).boxed()
    }

    fn claim_run(&self, key: String, occurrence: i64, lease_until: i64) -> Fut<'_, bool> {
        let taken = self.call(move |reply| Op::ClaimRun(key, occurrence, lease_until, reply));
        async move { Ok(taken.await? > 0) }.boxed()
    }

    fn finish_run(&self, key: String, occurrence: i64, outcome: String) -> Fut<'_, ()> {
        self.call(move |reply| Op::FinishRun(key, occurrence, outcome, reply))
            .boxed()
    }

    fn set_posted(&self, key: String, message: Option<super::PostedMessage>) -> Fut<'_, ()> {
        self.call(move |reply| Op::SetPosted(key, message, reply))
            .boxed()
    }

    fn deliveries(&self, filter: DeliveryFilter) -> Fut<'_, Vec<DeliveryRow>> {
        self.read(move |c| query::deliveries(c, &filter))
    }

    fn event(&self, id: String) -> Fut<'_, Option<EventRow>> {
        self.read(move |c| query::event(c, &id))
    }

    fn events_with_deliveries(
        &self,
        ids: Vec<String>,
    ) -> Fut<'_, Vec<(EventRow, Vec<DeliveryRow>)>> {
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
    }

    fn events(&self, limit: usize, before: Option<i64>) -> Fut<'_, Vec<EventRow>> {
        self.read(move |c| query::events(c, limit, before))
    }

    fn attempts(&self, delivery_id: String) -> Fut<'_, Vec<AttemptRow>> {
        self.read(move |c| query::attempts(c, &delivery_id))
    }

    fn counts(&self) -> Fut<'_, StatusCounts> {
        self.read(query::counts)
    }

    fn events_page(
        &self,
        before: Option<i64>,
        limit: usize,
        terms: Vec<Term>,
    ) -> Fut<'_, Vec<EventSummary>> {
        self.read(move |c| feed::events_page(c, before, limit, &terms))
    }

    fn changes(&self, from: FeedPosition, limit: usize) -> Fut<'_, Changes> {
        self.read(move |c| feed::changes(c, from, limit))
    }

    fn webhook_stats(&self) -> Fut<'_, HashMap<String, DeliveryTally>> {
        self.read(feed::webhook_stats)
    }

    fn head(&self) -> Fut<'_, (FeedPosition, i64)> {
        self.read(feed::head)
    }

    fn runs(&self) -> Fut<'_, Vec<RunRow>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT key, occurrence, lease_until, finished_at, outcome FROM runs ORDER BY key",
            )?;
            let rows = st.query_map([], |r| {
                Ok(RunRow {
                    key: r.get(0)?,
                    occurrence: r.get(1)?,
                    lease_until: r.get(2)?,
                    finished_at: r.get(3)?,
                    outcome: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn posted(&self, key: String) -> Fut<'_, Option<super::PostedMessage>> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT channel, ts, problem FROM posted WHERE key = ?1",
                [key],
                |r| {
                    Ok(super::PostedMessage {
                        channel: r.get(0)?,
                        ts: r.get(1)?,
                        problem: r.get(2)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn drift_seen(&self, since: i64) -> Fut<'_, Vec<DriftSeen>> {
        self.read(move |c| {
            // Drift reports only: a notice about a repository is not a report from it.
            let mut st = c.prepare_cached(
                "SELECT json_extract(event, '$.data.repository') AS repo,
                        json_extract(event, '$.data.ref') AS git_ref, MAX(received_at)
                 FROM events
                 WHERE received_at >= ?1 AND kind = 'drift' AND json_extract(event, '$.kind') = 'drift'
                 GROUP BY repo, git_ref",
            )?;
            let rows = st.query_map([since], |r| {
                Ok(DriftSeen {
                    repository: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    git_ref: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    last_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn state(&self, key: &'static str) -> Fut<'_, Option<String>> {
        self.read(move |c| {
            Ok(
                c.query_row("SELECT value FROM state WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
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

impl rusqlite::types::FromSql for crate::notify::Outcome {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        Ok(crate::notify::Outcome::parse(v.as_str()?))
    }
}
