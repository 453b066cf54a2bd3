//! The journal's tables on PostgreSQL and their migrations.
//!
//! `herald_schema` holds the version; migrations run under an advisory lock, so of several
//! replicas starting together one migrates and the others wait and find it done; a
//! database written by a newer herald is refused rather than misread.

use super::{Postgres, StoreError};

/// Migrations in order; entry `i` takes the schema from version `i` to `i + 1`.
///
/// `xid` records the writing transaction, which is what the live feed orders by: replicas
/// take sequence numbers in one order and commit in another, so "everything after seq N"
/// could skip a row committed late; "every transaction older than the oldest still open"
/// cannot (see `feed`).
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id          TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    summary     TEXT NOT NULL,
    dedupe_key  TEXT UNIQUE,
    body        TEXT NOT NULL,
    event       TEXT NOT NULL,
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX events_received ON events (received_at);
CREATE INDEX events_xid ON events (xid);

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook         BIGINT NOT NULL,
    webhook_key     TEXT NOT NULL,
    target          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_until     BIGINT,
    replay_of       TEXT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_created ON deliveries (created_at);
CREATE INDEX deliveries_status ON deliveries (status);
CREATE INDEX deliveries_open ON deliveries (webhook_key, next_attempt_at)
    WHERE status IN ('pending', 'retrying');

CREATE TABLE attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    started_at  BIGINT NOT NULL,
    latency_ms  BIGINT NOT NULL,
    outcome     TEXT NOT NULL,
    status      INTEGER,
    error       TEXT,
    hint        TEXT,
    request     TEXT NOT NULL,
    response    TEXT NOT NULL,
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX attempts_delivery ON attempts (delivery_id);
CREATE INDEX attempts_xid ON attempts (xid);

CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- The next free send slot per paced key (a Slack channel), shared by every replica.
CREATE TABLE pacing (key TEXT PRIMARY KEY, next_at BIGINT NOT NULL);
",
    // Live replicas, each seen within the last seconds: a webhook's in-flight cap is shared
    // among them for the events each accepts.
    r"
CREATE TABLE replicas (id TEXT PRIMARY KEY, seen_at BIGINT NOT NULL);
",
    // Jobs run on a schedule (drift detections, staleness notices): the occurrence last
    // taken by any replica and its lease, so each occurrence runs once in the fleet.
    r"
CREATE TABLE runs (
    key         TEXT PRIMARY KEY,
    occurrence  BIGINT NOT NULL,
    lease_until BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT
);
",
    // Chat messages herald may edit or reply under, per webhook and correlation key.
    r"
CREATE TABLE posted (
    key        TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    ts         TEXT NOT NULL,
    problem    BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);
",
];

/// The schema version this herald writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock migrations run under (any constant no other tool uses).
const MIGRATION_LOCK: i64 = 0x6865_7261_6c64_0001;

/// Brings the schema to [`VERSION`], once, whichever replica gets there first.
///
/// # Errors
/// Database errors, or a schema from a newer herald.
pub async fn prepare(pg: &Postgres) -> Result<(), StoreError> {
    let mut client = pg.client().await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| pg.error(&e))?;
    let result = migrate(pg, &mut client).await;
    if result.is_ok() {
        search_index(pg, &client).await;
    }
    let _unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    result
}

/// The summaries' trigram index, so a search for text few events hold reads only the
/// events that may hold it (as FTS5 does on SQLite). `pg_trgm` is a trusted extension (a
/// database's owner may create it); where it cannot be had, herald runs without it and
/// says so: search then reads every event.
async fn search_index(pg: &Postgres, client: &deadpool_postgres::Client) {
    let made = client
        .batch_execute(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm;
             CREATE INDEX IF NOT EXISTS events_summary_trgm ON events
                 USING gin (summary gin_trgm_ops);",
        )
        .await;
    if let Err(e) = made {
        tracing::warn!(
            "no trigram index on the journal at {}: text search reads every event ({}); \
             let herald's user create the pg_trgm extension to speed it up",
            pg.shown,
            super::why(&e)
        );
    }
}

async fn migrate(pg: &Postgres, client: &mut deadpool_postgres::Client) -> Result<(), StoreError> {
    let e = |err: tokio_postgres::Error| pg.error(&err);
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS herald_schema (version BIGINT NOT NULL)")
        .await
        .map_err(e)?;
    let current: i64 = client
        .query_one("SELECT coalesce(max(version), 0) FROM herald_schema", &[])
        .await
        .map_err(e)?
        .get(0);
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
        let tx = client.transaction().await.map_err(e)?;
        tx.batch_execute(sql).await.map_err(e)?;
        tx.execute(
            "INSERT INTO herald_schema (version) VALUES ($1)",
            &[&i64::try_from(i + 1).unwrap_or(i64::MAX)],
        )
        .await
        .map_err(e)?;
        tx.commit().await.map_err(e)?;
    }
    Ok(())
}
