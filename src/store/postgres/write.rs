//! Writes, each one transaction: events with their deliveries, attempts, claims, and the
//! journal's upkeep.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::{Postgres, u32_of};
use crate::clock::now_ms;
use crate::config::WebhookKey;
use crate::event::Event;
use crate::store::backend::Claim;
use crate::store::{
    AttemptRecord, Claimed, KnownWebhook, NewDelivery, NewEvent, NextState, Recorded, Reschedule,
    StoreError,
};

/// Pruning runs on one replica at a time.
const PRUNE_LOCK: i64 = 0x6865_7261_6c64_0003;

const OPEN: &str = "status IN ('pending', 'retrying')";

/// Runs `f` in a transaction and commits it.
async fn in_tx<T>(
    pg: &Postgres,
    f: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, tokio_postgres::Error>,
) -> Result<T, StoreError> {
    let mut client = pg.client().await?;
    let tx = client.transaction().await.map_err(|e| pg.error(&e))?;
    let out = f(&tx).await.map_err(|e| pg.error(&e))?;
    tx.commit().await.map_err(|e| pg.error(&e))?;
    Ok(out)
}

/// An event and its deliveries in one statement (so one round trip, committed alone): a
/// repeated dedupe key inserts nothing and names the first event instead.
const RECORD: &str = "
WITH e AS (
    INSERT INTO events (id, received_at, source, kind, summary, dedupe_key, body, event)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (dedupe_key) DO NOTHING RETURNING id
), d AS (
    INSERT INTO deliveries (id, event_id, webhook, webhook_key, target, kind, status, attempts,
                            next_attempt_at, replay_of, created_at, updated_at, lease_until)
    SELECT u.id, e.id, u.webhook, u.key, u.target, u.kind, 'pending', 0, $2, u.replay_of,
           $2, $2, u.lease
    FROM e, unnest($9::TEXT[], $10::BIGINT[], $11::TEXT[], $12::TEXT[], $13::TEXT[],
                   $14::TEXT[], $15::BIGINT[])
         AS u (id, webhook, key, target, kind, replay_of, lease)
    RETURNING 1
)
SELECT (SELECT count(*) FROM e), (SELECT id FROM events WHERE dedupe_key = $6)";

pub(super) async fn record_event(pg: &Postgres, e: NewEvent) -> Result<Recorded, StoreError> {
    let event_json = serde_json::to_string(&e.event)
        .map_err(|err| StoreError::Corrupt(e.id.clone(), err.to_string()))?;
    let summary = e.event.summary();
    let kind = e.event.kind().as_str();
    let ds = &e.deliveries;
    let ids: Vec<&str> = ds.iter().map(|d| d.id.as_str()).collect();
    let webhooks: Vec<i64> = ds
        .iter()
        .map(|d| i64::try_from(d.webhook).unwrap_or(i64::MAX))
        .collect();
    let keys: Vec<&str> = ds.iter().map(|d| d.key.as_str()).collect();
    let targets: Vec<&str> = ds.iter().map(|d| d.target.as_str()).collect();
    let kinds: Vec<&str> = ds.iter().map(|d| d.kind.as_str()).collect();
    let replay_of: Vec<Option<&str>> = ds.iter().map(|d| d.replay_of.as_deref()).collect();
    let leases: Vec<Option<i64>> = ds.iter().map(|d| d.lease_until).collect();
    let client = pg.client().await?;
    let stmt = client
        .prepare_cached(RECORD)
        .await
        .map_err(|err| pg.error(&err))?;
    let row = client
        .query_one(
            &stmt,
            &[
                &e.id,
                &now_ms(),
                &e.source.as_str(),
                &kind,
                &summary,
                &e.dedupe_key,
                &e.body,
                &event_json,
                &ids,
                &webhooks,
                &keys,
                &targets,
                &kinds,
                &replay_of,
                &leases,
            ],
        )
        .await
        .map_err(|err| pg.error(&err))?;
    if row.get::<_, i64>(0) == 0 {
        // Only a dedupe key conflicts: the first event with it is the answer.
        let first: Option<String> = row.get(1);
        return Ok(Recorded::Duplicate {
            event_id: first.unwrap_or_default(),
        });
    }
    Ok(Recorded::New {
        event_id: e.id,
        deliveries: ds.len(),
    })
}

async fn insert_delivery(
    tx: &Transaction<'_>,
    event_id: &str,
    d: &NewDelivery,
    now: i64,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "INSERT INTO deliveries (id, event_id, webhook, webhook_key, target, kind, status, attempts,
                                 next_attempt_at, replay_of, created_at, updated_at, lease_until)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8, $7, $7, $9)",
        &[
            &d.id,
            &event_id,
            &i64::try_from(d.webhook).unwrap_or(i64::MAX),
            &d.key,
            &d.target,
            &d.kind,
            &now,
            &d.replay_of,
            &d.lease_until,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn add_deliveries(
    pg: &Postgres,
    event_id: String,
    deliveries: Vec<NewDelivery>,
) -> Result<(), StoreError> {
    in_tx(pg, async |tx| {
        let now = now_ms();
        for d in &deliveries {
            insert_delivery(tx, &event_id, d, now).await?;
        }
        // Due now and leased to nobody: whichever replica has room takes them.
        tx.execute("SELECT pg_notify($1, 'work')", &[&super::CHANNEL])
            .await?;
        Ok(())
    })
    .await
}

/// An attempt and its delivery's new state in one statement.
const ATTEMPT: &str = "
WITH a AS (
    INSERT INTO attempts (delivery_id, number, started_at, latency_ms, outcome, status,
                          error, hint, request, response)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
)
UPDATE deliveries SET status = $11, attempts = $2, next_attempt_at = $12, lease_until = NULL,
       last_error = $7, updated_at = $13
WHERE id = $1";

pub(super) async fn record_attempt(
    pg: &Postgres,
    a: AttemptRecord,
    next: NextState,
) -> Result<(), StoreError> {
    let client = pg.client().await?;
    let stmt = client
        .prepare_cached(ATTEMPT)
        .await
        .map_err(|e| pg.error(&e))?;
    client
        .execute(
            &stmt,
            &[
                &a.delivery_id,
                &i32::try_from(a.number).unwrap_or(i32::MAX),
                &a.started_at,
                &a.latency_ms,
                &a.outcome.as_str(),
                &a.status.map(i32::from),
                &a.error,
                &a.hint,
                &a.request,
                &a.response,
                &next.status.as_str(),
                &next.next_attempt_at,
                &now_ms(),
            ],
        )
        .await
        .map_err(|e| pg.error(&e))?;
    Ok(())
}

/// A due row picked by a claim, before it is leased.
struct Picked {
    id: String,
    event_id: String,
    webhook: i64,
    key: String,
    attempts: i32,
}

fn picked(r: &tokio_postgres::Row) -> Picked {
    Picked {
        id: r.get(0),
        event_id: r.get(1),
        webhook: r.get(2),
        key: r.get(3),
        attempts: r.get(4),
    }
}

const PICK: &str =
    "SELECT d.id, d.event_id, d.webhook, d.webhook_key, d.attempts FROM deliveries d";
const DUE: &str = "d.status IN ('pending', 'retrying') AND d.next_attempt_at <= $1
                   AND (d.lease_until IS NULL OR d.lease_until < $1)";

pub(super) async fn claim(pg: &Postgres, c: Claim) -> Result<Vec<Claimed>, StoreError> {
    let rows = in_tx(pg, async |tx| {
        // Each replica keeps to its share of a webhook's cap (the engine divides it among
        // the live replicas), so a claim needs no count of the others' leases; rows another
        // replica is taking are skipped, not waited for.
        let mut busy = c.busy.clone();
        let mut rows: Vec<Picked> = Vec::new();
        if let Some(ids) = &c.only {
            let pick = tx
                .prepare_cached(&format!(
                    "{PICK} WHERE d.id = $2 AND {DUE} FOR UPDATE SKIP LOCKED"
                ))
                .await?;
            for id in ids.iter().take(c.limit) {
                if let Some(r) = tx.query_opt(&pick, &[&c.now, id]).await? {
                    let p = picked(&r);
                    if busy.room(&p.key) > 0 {
                        busy.take(&p.key, 1);
                        rows.push(p);
                    }
                }
            }
        } else {
            let pick = tx
                .prepare_cached(&format!(
                    "{PICK} WHERE d.webhook_key = $2 AND {DUE}
                     ORDER BY d.next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED"
                ))
                .await?;
            for key in busy.rotation() {
                let want = busy.room(&key).min(c.limit - rows.len());
                if want == 0 {
                    continue;
                }
                let want_sql = i64::try_from(want).unwrap_or(0);
                let got: Vec<Picked> = tx
                    .query(&pick, &[&c.now, &key, &want_sql])
                    .await?
                    .iter()
                    .map(picked)
                    .collect();
                busy.take(&key, got.len());
                rows.extend(got);
                if rows.len() >= c.limit {
                    break;
                }
            }
        }
        if rows.is_empty() {
            return Ok((rows, Vec::new()));
        }
        let ids: Vec<&str> = rows.iter().map(|p| p.id.as_str()).collect();
        let lease = tx
            .prepare_cached("UPDATE deliveries SET lease_until = $2 WHERE id = ANY($1)")
            .await?;
        tx.execute(&lease, &[&ids, &c.lease_until]).await?;
        let event_ids: Vec<&str> = rows.iter().map(|p| p.event_id.as_str()).collect();
        let read = tx
            .prepare_cached("SELECT id, event FROM events WHERE id = ANY($1)")
            .await?;
        let events = tx
            .query(&read, &[&event_ids])
            .await?
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect::<Vec<_>>();
        Ok((rows, events))
    })
    .await?;
    let (rows, events) = rows;
    // The deliveries of one event share its decoded event.
    let mut decoded: HashMap<String, Arc<Event>> = HashMap::new();
    for (id, text) in events {
        let e: Event = serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(id.clone(), e.to_string()))?;
        decoded.insert(id, Arc::new(e));
    }
    rows.into_iter()
        .map(|p| {
            let event = decoded
                .get(&p.event_id)
                .cloned()
                .ok_or_else(|| StoreError::Corrupt(p.id.clone(), "its event is gone".into()))?;
            Ok(Claimed {
                id: p.id,
                event_id: p.event_id,
                webhook: usize::try_from(p.webhook).unwrap_or(usize::MAX),
                key: p.key,
                attempts: u32_of(p.attempts),
                event,
            })
        })
        .collect()
}

pub(super) async fn give_up(pg: &Postgres, id: String, reason: String) -> Result<(), StoreError> {
    in_tx(pg, async |tx| {
        tx.execute(
            &format!(
                "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_until = NULL,
                 last_error = $2, updated_at = $3 WHERE id = $1 AND {OPEN}"
            ),
            &[&id, &reason, &now_ms()],
        )
        .await?;
        Ok(())
    })
    .await
}

pub(super) async fn prune(
    pg: &Postgres,
    older_than: i64,
    max_events: u64,
) -> Result<usize, StoreError> {
    in_tx(pg, async |tx| {
        let mine: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&PRUNE_LOCK])
            .await?
            .get(0);
        if !mine {
            // Another replica is pruning now.
            return Ok(0);
        }
        let unfinished = format!(
            "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.{OPEN})"
        );
        let mut n = tx
            .execute(
                &format!("DELETE FROM events WHERE received_at < $1 AND NOT {unfinished}"),
                &[&older_than],
            )
            .await?;
        let total: i64 = tx
            .query_one("SELECT count(*) FROM events", &[])
            .await?
            .get(0);
        let excess = total - i64::try_from(max_events).unwrap_or(i64::MAX);
        if excess > 0 {
            n += tx
                .execute(
                    &format!(
                        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE NOT {unfinished}
                         ORDER BY received_at LIMIT $1)"
                    ),
                    &[&excess],
                )
                .await?;
        }
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    })
    .await
}

pub(super) async fn reschedule(pg: &Postgres, r: Reschedule) -> Result<usize, StoreError> {
    in_tx(pg, async |tx| {
        let mut changed = tx
            .execute(
                &format!(
                    "UPDATE deliveries SET next_attempt_at = next_attempt_at - (updated_at - $1::BIGINT),
                         lease_until = lease_until - (updated_at - $1::BIGINT), updated_at = $1::BIGINT
                     WHERE {OPEN} AND updated_at > $1::BIGINT + 1000"
                ),
                &[&r.now],
            )
            .await?;
        for (column, bound) in [
            ("next_attempt_at", r.max_wait),
            ("lease_until", r.max_lease),
        ] {
            changed += tx
                .execute(
                    &format!(
                        "UPDATE deliveries SET {column} = $1::BIGINT WHERE {OPEN} AND {column} > $1::BIGINT"
                    ),
                    &[&(r.now + bound)],
                )
                .await?;
        }
        Ok(usize::try_from(changed).unwrap_or(usize::MAX))
    })
    .await
}

pub(super) async fn settle(
    pg: &Postgres,
    webhooks: Vec<KnownWebhook>,
) -> Result<usize, StoreError> {
    in_tx(pg, async |tx| {
        let now = now_ms();
        for w in &webhooks {
            tx.execute(
                &format!(
                    "UPDATE deliveries SET webhook_key = $1
                     WHERE webhook_key = $2 AND kind = $3 AND target = $4 AND {OPEN}"
                ),
                &[&w.key, &w.legacy, &w.kind, &w.target],
            )
            .await?;
        }
        let known: std::collections::HashSet<&str> =
            webhooks.iter().map(|w| w.key.as_str()).collect();
        let open: Vec<String> = tx
            .query(
                &format!("SELECT DISTINCT webhook_key FROM deliveries WHERE {OPEN}"),
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut settled = 0;
        for key in open.iter().filter(|k| !known.contains(k.as_str())) {
            let why = crate::store::settled_why(&webhooks, &WebhookKey::from_stored(key.as_str()));
            let params: [&(dyn ToSql + Sync); 3] = [key, &why, &now];
            settled += tx
                .execute(
                    &format!(
                        "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL,
                             lease_until = NULL, last_error = $2, updated_at = $3
                         WHERE webhook_key = $1 AND {OPEN} AND (lease_until IS NULL OR lease_until < $3)"
                    ),
                    &params,
                )
                .await?;
        }
        Ok(usize::try_from(settled).unwrap_or(usize::MAX))
    })
    .await
}

pub(super) async fn set_state(
    pg: &Postgres,
    key: &'static str,
    value: String,
) -> Result<(), StoreError> {
    in_tx(pg, async |tx| {
        tx.execute(
            "INSERT INTO state (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )
        .await?;
        // Every replica listening hears it at the commit (see `listen`).
        tx.execute("SELECT pg_notify($1, $2)", &[&super::CHANNEL, &key])
            .await?;
        Ok(())
    })
    .await
}

pub(super) async fn ping(pg: &Postgres) -> Result<(), StoreError> {
    let client = pg.client().await?;
    let standby: bool = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .map_err(|e| pg.error(&e))?
        .get(0);
    if standby {
        return Err(StoreError::Postgres {
            at: pg.shown.clone(),
            why: "the database is a read-only standby".into(),
        });
    }
    Ok(())
}

/// The next send slot on `key`, `interval_ms` after the last one any replica took: one
/// statement, so two replicas asking at once get two slots.
pub(super) async fn reserve_slot(
    pg: &Postgres,
    key: String,
    interval_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let client = pg.client().await?;
    let row = client
        .query_one(
            "INSERT INTO pacing (key, next_at) VALUES ($1, $2::BIGINT + $3::BIGINT)
             ON CONFLICT (key) DO UPDATE
                 SET next_at = GREATEST(pacing.next_at, $2::BIGINT) + $3::BIGINT
             RETURNING next_at - $3::BIGINT",
            &[&key, &now_ms(), &interval_ms],
        )
        .await
        .map_err(|e| pg.error(&e))?;
    Ok(Some(row.get(0)))
}

/// A replica not seen for this long (ms) is no longer counted.
const ALIVE_MS: i64 = 10_000;

/// Notes `replica` alive, forgets long-gone ones, and counts the live.
pub(super) async fn heartbeat(pg: &Postgres, replica: String) -> Result<usize, StoreError> {
    in_tx(pg, async |tx| {
        let now = now_ms();
        tx.execute(
            "INSERT INTO replicas (id, seen_at) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
            &[&replica, &now],
        )
        .await?;
        tx.execute(
            "DELETE FROM replicas WHERE seen_at < $1",
            &[&(now - 6 * ALIVE_MS)],
        )
        .await?;
        let live: i64 = tx
            .query_one(
                "SELECT count(*) FROM replicas WHERE seen_at >= $1",
                &[&(now - ALIVE_MS)],
            )
            .await?
            .get(0);
        Ok(usize::try_from(live).unwrap_or(1).max(1))
    })
    .await
}

/// Takes an occurrence of a job for this replica (see `Backend::claim_run`): one upsert,
/// so "not taken yet" and "take it" are one step whichever replica asks first.
pub(super) async fn claim_run(
    pg: &Postgres,
    key: String,
    occurrence: i64,
    lease_until: i64,
) -> Result<bool, StoreError> {
    let client = pg.client().await?;
    let n = client
        .execute(
            "INSERT INTO runs (key, occurrence, lease_until) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE
                 SET occurrence = excluded.occurrence, lease_until = excluded.lease_until
                 WHERE runs.occurrence < excluded.occurrence AND runs.lease_until < $4::BIGINT",
            &[&key, &occurrence, &lease_until, &now_ms()],
        )
        .await
        .map_err(|e| pg.error(&e))?;
    Ok(n > 0)
}

pub(super) async fn finish_run(
    pg: &Postgres,
    key: String,
    occurrence: i64,
    outcome: String,
) -> Result<(), StoreError> {
    let client = pg.client().await?;
    client
        .execute(
            "UPDATE runs SET lease_until = 0, finished_at = $3::BIGINT, outcome = $4
             WHERE key = $1 AND occurrence = $2",
            &[&key, &occurrence, &now_ms(), &outcome],
        )
        .await
        .map_err(|e| pg.error(&e))?;
    Ok(())
}

pub(super) async fn set_posted(
    pg: &Postgres,
    key: String,
    message: Option<crate::store::PostedMessage>,
) -> Result<(), StoreError> {
    let client = pg.client().await?;
    let done = match message {
        Some(m) => {
            client
                .execute(
                    "INSERT INTO posted (key, channel, ts, problem, updated_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (key) DO UPDATE SET channel = excluded.channel,
                         ts = excluded.ts, problem = excluded.problem,
                         updated_at = excluded.updated_at",
                    &[&key, &m.channel, &m.ts, &m.problem, &now_ms()],
                )
                .await
        }
        None => {
            client
                .execute("DELETE FROM posted WHERE key = $1", &[&key])
                .await
        }
    };
    done.map_err(|e| pg.error(&e))?;
    Ok(())
}
