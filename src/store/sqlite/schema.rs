//! The journal's tables and their migrations.
//!
//! `PRAGMA user_version` holds the schema version; each migration moves it up by one inside
//! a transaction, so a journal written by an older herald is upgraded in place on open and
//! one from a newer herald is refused rather than misread.

use rusqlite::Connection;

use super::StoreError;

/// Migrations in order; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    summary     TEXT NOT NULL,
    dedupe_key  TEXT UNIQUE,
    body        TEXT NOT NULL,
    event       TEXT NOT NULL
);
CREATE INDEX events_received ON events(received_at);

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    webhook         INTEGER NOT NULL,
    webhook_label   TEXT NOT NULL,
    target          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_until     INTEGER,
    replay_of       TEXT,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
CREATE INDEX deliveries_event ON deliveries(event_id);
CREATE INDEX deliveries_created ON deliveries(created_at);

CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    latency_ms  INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    status      INTEGER,
    error       TEXT,
    hint        TEXT,
    request     TEXT NOT NULL,
    response    TEXT NOT NULL
);
CREATE INDEX attempts_delivery ON attempts(delivery_id);
",
    // Open deliveries by webhook, in due order: a claim asks each webhook with room for its
    // next due rows instead of walking every due row (a stalled webhook's backlog made each
    // claim O(backlog)). Partial, so finished deliveries cost the index nothing.
    r"
CREATE INDEX deliveries_open ON deliveries(webhook_label, next_attempt_at)
    WHERE status IN ('pending', 'retrying');
",
    // A delivery names its webhook by a key that survives reordering (its name or what it
    // is, with a fingerprint of its target), no longer by `#index`. Rows of older versions
    // keep their label as key until the engine adopts them (see `Journal::settle`).
    r"
ALTER TABLE deliveries RENAME COLUMN webhook_label TO webhook_key;
",
    // State every process on the journal shares: whether attempts are paused.
    r"
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
",
    // The summaries' trigrams, so a search for text few events hold need not read every
    // event (2.5 s at 1,000,000); filled in batches by the writer (see `store::text`).
    // Rows leave it with their event; only rows the index has seen, or FTS5 would be told
    // to remove terms it never held.
    r"
CREATE VIRTUAL TABLE events_text USING fts5(
    summary, content='events', content_rowid='rowid', tokenize='trigram', detail='none'
);
CREATE TRIGGER events_text_delete AFTER DELETE ON events
WHEN old.rowid <= (SELECT CAST(value AS INTEGER) FROM state WHERE key = 'text_indexed')
BEGIN
    INSERT INTO events_text (events_text, rowid, summary) VALUES ('delete', old.rowid, old.summary);
END;
",
    // Jobs herald runs on a schedule (drift detections, staleness notices): the occurrence
    // last taken and its lease, so each occurrence runs once; its last outcome, for the
    // console.
    r"
CREATE TABLE runs (
    key         TEXT PRIMARY KEY,
    occurrence  INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT
);
",
    // Chat messages herald may edit or reply under (Slack's update: edit|thread), per
    // webhook and correlation key.
    r"
CREATE TABLE posted (
    key        TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    ts         TEXT NOT NULL,
    problem    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
",
];

/// The schema version this herald writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Sets the connection up and brings the schema to [`VERSION`].
///
/// # Errors
/// SQLite errors, or a journal from a newer herald.
pub fn prepare(conn: &mut Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk (the WAL fsynced) before herald answers 202.
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Checkpoint every 4,000 pages (16 MiB of WAL) rather than SQLite's 1,000: a page
    // rewritten by many commits in between is copied back to the database once.
    conn.pragma_update(None, "wal_autocheckpoint", 4000)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > VERSION {
        return Err(StoreError::NewerSchema {
            found: current,
            supported: VERSION,
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
    }
    Ok(())
}
