//! The single writer: takes every write request waiting in its queue, applies them in one
//! transaction (each in its own savepoint, so one failure spoils no other), commits once,
//! then answers them all. Under load many requests share one fsync; alone, a request is
//! committed at once.

use crate::clock::now_ms;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::oneshot;

use crate::event::Event;

use super::files::Files;
use crate::config::WebhookKey;
use crate::store::backend::Claim;
use crate::store::{
    AttemptRecord, ClaimLimits, Claimed, Commit, KnownWebhook, NewDelivery, NewEvent, NextState,
    Recorded, Reschedule, StoreError,
};

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Largest group of writes in one transaction.
const MAX_GROUP: usize = 2048;

/// A write request.
pub enum Op {
    Event(Box<NewEvent>, Reply<Recorded>),
    AddDeliveries(String, Vec<NewDelivery>, Reply<()>),
    Attempt(Box<AttemptRecord>, NextState, Reply<()>),
    Claim {
        claim: Claim,
        reply: Reply<Vec<Claimed>>,
    },
    GiveUp(String, String, Reply<()>),
    Prune {
        older_than: i64,
        max_events: u64,
        reply: Reply<usize>,
    },
    Ping(Reply<()>),
    Reschedule(Reschedule, Reply<usize>),
    Settle(Vec<KnownWebhook>, Reply<usize>),
    SetState(String, String, Reply<()>),
    ClaimRun(String, i64, i64, Reply<usize>),
    FinishRun(String, i64, String, Reply<()>),
    SetPosted(String, Option<super::super::PostedMessage>, Reply<()>),
}

/// A result waiting for the commit before it is sent.
enum Done {
    Recorded(Reply<Recorded>, Result<Recorded, StoreError>),
    Unit(Reply<()>, Result<(), StoreError>),
    Claimed(Reply<Vec<Claimed>>, Result<Vec<Claimed>, StoreError>),
    Count(Reply<usize>, Result<usize, StoreError>),
}

impl Done {
    /// Answers the request: its own result, or the commit's error if the commit failed
    /// (then nothing of the group was stored).
    fn send(self, commit_error: Option<&str>) {
        fn answer<T>(tx: Reply<T>, r: Result<T, StoreError>, commit_error: Option<&str>) {
            let r = match commit_error {
                Some(e) => Err(StoreError::Commit(e.to_string())),
                None => r,
            };
            // A receiver that stopped waiting (a client that hung up) is no error here.
            let _gone = tx.send(r);
        }
        match self {
            Done::Recorded(tx, r) => answer(tx, r, commit_error),
            Done::Unit(tx, r) => answer(tx, r, commit_error),
            Done::Claimed(tx, r) => answer(tx, r, commit_error),
            Done::Count(tx, r) => answer(tx, r, commit_error),
        }
    }
}

/// Starts the writer thread.
pub fn spawn(conn: Connection, commit: Commit, files: Files) -> Sender<Op> {
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("herald-journal".into())
        .spawn(move || run(conn, &rx, commit, &files))
        .expect("the journal thread starts");
    tx
}

/// How long the writer waits with nothing to do before it brings the search index up to
/// date.
const IDLE: std::time::Duration = std::time::Duration::from_secs(1);

fn run(mut conn: Connection, rx: &Receiver<Op>, commit: Commit, files: &Files) {
    let mut broken = false;
    // Whether the index is still behind after a batch made while idle: then the next one
    // follows as soon as nothing else waits.
    let mut behind = false;
    loop {
        let first = match rx.recv_timeout(if behind { Duration::ZERO } else { IDLE }) {
            Ok(op) => op,
            Err(RecvTimeoutError::Timeout) => {
                behind = index_text(&mut conn, 1);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut group = vec![first];
        if commit == Commit::Grouped {
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(op) => group.push(op),
                    Err(_) => break,
                }
            }
        }
        // A commit to files that are no longer the journal's would be lost at the next
        // start: refuse it, so the client is told and sends again.
        if let Err(e) = files.check() {
            if !broken {
                tracing::error!("{e}");
                broken = true;
            }
            let error = || StoreError::Files(e.clone());
            group.into_iter().for_each(|op| fail_op(op, &error));
            continue;
        }
        broken = false;
        let mut tx = match conn.transaction() {
            Ok(tx) => tx,
            Err(e) => {
                let e = e.to_string();
                let error = || StoreError::Commit(e.clone());
                group.into_iter().for_each(|op| fail_op(op, &error));
                continue;
            }
        };
        let done: Vec<Done> = group.into_iter().map(|op| apply(&mut tx, op)).collect();
        let commit_error = tx.commit().err().map(|e| e.to_string());
        for d in done {
            d.send(commit_error.as_deref());
        }
        behind = index_text(&mut conn, super::text::MAX_LAG);
    }
}

/// Indexes a batch of summaries for search when at least `lag` events wait for it;
/// returns whether some still wait. A failure costs only speed (a search scans what is
/// not indexed), so it is logged, and not tried again before the writer idles again.
fn index_text(conn: &mut Connection, lag: i64) -> bool {
    let step = |conn: &mut Connection| -> Result<bool, StoreError> {
        if super::text::lag(conn)? < lag {
            return Ok(false);
        }
        super::text::index_batch(conn)?;
        Ok(super::text::lag(conn)? > 0)
    };
    step(conn).unwrap_or_else(|e| {
        tracing::warn!("cannot index event summaries for search: {e}");
        false
    })
}

/// Answers a request that never ran: the journal's files are gone, or the transaction
/// could not start.
fn fail_op(op: Op, error: &impl Fn() -> StoreError) {
    let _gone = match op {
        Op::Event(_, r) => r.send(Err(error())).is_ok(),
        Op::AddDeliveries(_, _, r)
        | Op::Attempt(_, _, r)
        | Op::GiveUp(_, _, r)
        | Op::Ping(r)
        | Op::SetState(_, _, r)
        | Op::FinishRun(_, _, _, r)
        | Op::SetPosted(_, _, r) => r.send(Err(error())).is_ok(),
        Op::ClaimRun(_, _, _, r) => r.send(Err(error())).is_ok(),
        Op::Claim { reply, .. } => reply.send(Err(error())).is_ok(),
        Op::Prune { reply, .. } | Op::Reschedule(_, reply) | Op::Settle(_, reply) => {
            reply.send(Err(error())).is_ok()
        }
    };
}

/// Runs `f` in a savepoint: its writes stay only if it succeeds.
fn savepoint<T>(
    tx: &mut Transaction<'_>,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let sp = tx.savepoint()?;
    let r = f(&sp)?;
    sp.commit()?;
    Ok(r)
}

fn apply(tx: &mut Transaction<'_>, op: Op) -> Done {
    match op {
        Op::Event(e, reply) => Done::Recorded(reply, savepoint(tx, |t| insert_event(t, &e))),
        Op::AddDeliveries(event_id, ds, reply) => Done::Unit(
            reply,
            savepoint(tx, |t| {
                let now = now_ms();
                for d in &ds {
                    insert_delivery(t, &event_id, d, now)?;
                }
                Ok(())
            }),
        ),
        Op::Attempt(a, next, reply) => {
            Done::Unit(reply, savepoint(tx, |t| insert_attempt(t, &a, next)))
        }
        Op::Claim { claim: c, reply } => Done::Claimed(
            reply,
            savepoint(tx, |t| {
                claim(t, c.now, c.limit, c.lease_until, c.only.as_deref(), c.busy)
            }),
        ),
        Op::GiveUp(id, reason, reply) => Done::Unit(
            reply,
            savepoint(tx, |t| {
                t.execute(
                    "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_until = NULL,
                     last_error = ?2, updated_at = ?3 WHERE id = ?1 AND status IN ('pending', 'retrying')",
                    params![id, reason, now_ms()],
                )?;
                Ok(())
            }),
        ),
        Op::Prune {
            older_than,
            max_events,
            reply,
        } => Done::Count(reply, savepoint(tx, |t| prune(t, older_than, max_events))),
        Op::Reschedule(r, reply) => Done::Count(reply, savepoint(tx, |t| reschedule(t, &r))),
        Op::Settle(webhooks, reply) => Done::Count(reply, savepoint(tx, |t| settle(t, &webhooks))),
        Op::SetState(key, value, reply) => Done::Unit(
            reply,
            savepoint(tx, |t| {
                t.execute(
                    "INSERT INTO state (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![key, value],
                )?;
                Ok(())
            }),
        ),
        Op::ClaimRun(key, occurrence, lease_until, reply) => Done::Count(
            reply,
            savepoint(tx, |t| {
                // A later occurrence only, and only when no run is leased: the upsert's
                // condition makes "taken" and "take it" one step.
                Ok(t.execute(
                    "INSERT INTO runs (key, occurrence, lease_until) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key) DO UPDATE
                         SET occurrence = excluded.occurrence, lease_until = excluded.lease_until
                         WHERE runs.occurrence < excluded.occurrence AND runs.lease_until < ?4",
                    params![key, occurrence, lease_until, now_ms()],
                )?)
            }),
        ),
        Op::FinishRun(key, occurrence, outcome, reply) => Done::Unit(
            reply,
            savepoint(tx, |t| {
                t.execute(
                    "UPDATE runs SET lease_until = 0, finished_at = ?3, outcome = ?4
                     WHERE key = ?1 AND occurrence = ?2",
                    params![key, occurrence, now_ms(), outcome],
                )?;
                Ok(())
            }),
        ),
        Op::SetPosted(key, message, reply) => Done::Unit(
            reply,
            savepoint(tx, |t| {
                match message {
                    Some(m) => t.execute(
                        "INSERT INTO posted (key, channel, ts, problem, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (key) DO UPDATE SET channel = excluded.channel,
                             ts = excluded.ts, problem = excluded.problem,
                             updated_at = excluded.updated_at",
                        params![key, m.channel, m.ts, m.problem, now_ms()],
                    )?,
                    None => t.execute("DELETE FROM posted WHERE key = ?1", params![key])?,
                };
                Ok(())
            }),
        ),
        Op::Ping(reply) => Done::Unit(
            reply,
            savepoint(tx, |t| {
                t.execute_batch("CREATE TEMP TABLE IF NOT EXISTS ping(x); DELETE FROM ping;")?;
                Ok(())
            }),
        ),
    }
}

/// Moves open deliveries' due times and leases back after the wall clock stepped back:
/// a row last written "in the future" was written before the step, so its times move back
/// by how far ahead it was written, which keeps each retry's wait as it was scheduled.
/// Anything still further ahead than a schedule allows is brought in to that bound.
fn reschedule(t: &Connection, r: &Reschedule) -> Result<usize, StoreError> {
    const OPEN: &str = "status IN ('pending', 'retrying')";
    let mut changed = t.execute(
        &format!(
            "UPDATE deliveries SET next_attempt_at = next_attempt_at - (updated_at - ?1),
                 lease_until = lease_until - (updated_at - ?1), updated_at = ?1
             WHERE {OPEN} AND updated_at > ?1 + 1000"
        ),
        params![r.now],
    )?;
    for (column, bound) in [
        ("next_attempt_at", r.max_wait),
        ("lease_until", r.max_lease),
    ] {
        changed += t.execute(
            &format!("UPDATE deliveries SET {column} = ?1 WHERE {OPEN} AND {column} > ?1"),
            params![r.now + bound],
        )?;
    }
    Ok(changed)
}

fn settle(t: &Connection, webhooks: &[KnownWebhook]) -> Result<usize, StoreError> {
    const OPEN: &str = "status IN ('pending', 'retrying')";
    let now = now_ms();
    let mut adopt = t.prepare_cached(&format!(
        "UPDATE deliveries SET webhook_key = ?1
         WHERE webhook_key = ?2 AND kind = ?3 AND target = ?4 AND {OPEN}"
    ))?;
    for w in webhooks {
        adopt.execute(params![w.key, w.legacy, w.kind, w.target])?;
    }
    let known: std::collections::HashSet<&str> = webhooks.iter().map(|w| w.key.as_str()).collect();
    let open: Vec<String> = t
        .prepare_cached(&format!(
            "SELECT DISTINCT webhook_key FROM deliveries WHERE {OPEN}"
        ))?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut fail = t.prepare_cached(&format!(
        "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_until = NULL,
             last_error = ?2, updated_at = ?3
         WHERE webhook_key = ?1 AND {OPEN} AND (lease_until IS NULL OR lease_until < ?3)"
    ))?;
    let mut settled = 0;
    for key in open.iter().filter(|k| !known.contains(k.as_str())) {
        let why = crate::store::settled_why(webhooks, &WebhookKey::from_stored(key.as_str()));
        settled += fail.execute(params![key, why, now])?;
    }
    Ok(settled)
}

fn insert_event(t: &Connection, e: &NewEvent) -> Result<Recorded, StoreError> {
    if let Some(key) = &e.dedupe_key {
        let first: Option<String> = t
            .query_row("SELECT id FROM events WHERE dedupe_key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(event_id) = first {
            return Ok(Recorded::Duplicate { event_id });
        }
    }
    let now = now_ms();
    let event_json = serde_json::to_string(&e.event)
        .map_err(|err| StoreError::Corrupt(e.id.clone(), err.to_string()))?;
    t.prepare_cached(
        "INSERT INTO events (id, received_at, source, kind, summary, dedupe_key, body, event)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        e.id,
        now,
        e.source.as_str(),
        e.event.kind().as_str(),
        e.event.summary(),
        e.dedupe_key,
        e.body,
        event_json
    ])?;
    for d in &e.deliveries {
        insert_delivery(t, &e.id, d, now)?;
    }
    Ok(Recorded::New {
        event_id: e.id.clone(),
        deliveries: e.deliveries.len(),
    })
}

fn insert_delivery(
    t: &Connection,
    event_id: &str,
    d: &NewDelivery,
    now: i64,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO deliveries (id, event_id, webhook, webhook_key, target, kind, status, attempts,
                                 next_attempt_at, replay_of, created_at, updated_at, lease_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?8, ?7, ?7, ?9)",
    )?
    .execute(params![
        d.id,
        event_id,
        i64::try_from(d.webhook).unwrap_or(i64::MAX),
        d.key,
        d.target,
        d.kind,
        now,
        d.replay_of,
        d.lease_until
    ])?;
    Ok(())
}

fn insert_attempt(t: &Connection, a: &AttemptRecord, next: NextState) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO attempts (delivery_id, number, started_at, latency_ms, outcome, status, error, hint, request, response)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        a.delivery_id,
        a.number,
        a.started_at,
        a.latency_ms,
        a.outcome.as_str(),
        a.status,
        a.error,
        a.hint,
        a.request,
        a.response
    ])?;
    t.prepare_cached(
        "UPDATE deliveries SET status = ?2, attempts = ?3, next_attempt_at = ?4, lease_until = NULL,
                last_error = ?5, updated_at = ?6 WHERE id = ?1",
    )?
    .execute(params![
        a.delivery_id,
        next.status.as_str(),
        a.number,
        next.next_attempt_at,
        a.error,
        now_ms()
    ])?;
    Ok(())
}

/// A due row picked by a claim, before it is leased.
struct Picked {
    id: String,
    event_id: String,
    webhook: i64,
    key: String,
    attempts: u32,
}

const PICK: &str =
    "SELECT d.id, d.event_id, d.webhook, d.webhook_key, d.attempts FROM deliveries d";
const DUE: &str = "d.status IN ('pending', 'retrying') AND d.next_attempt_at <= ?1
                   AND (d.lease_until IS NULL OR d.lease_until < ?1)";

fn picked(r: &rusqlite::Row<'_>) -> rusqlite::Result<Picked> {
    Ok(Picked {
        id: r.get(0)?,
        event_id: r.get(1)?,
        webhook: r.get(2)?,
        key: r.get(3)?,
        attempts: r.get(4)?,
    })
}

fn claim(
    t: &Connection,
    now: i64,
    limit: usize,
    lease_until: i64,
    only: Option<&[String]>,
    mut busy: ClaimLimits,
) -> Result<Vec<Claimed>, StoreError> {
    let mut rows: Vec<Picked> = Vec::new();
    if let Some(ids) = only {
        let mut stmt = t.prepare_cached(&format!("{PICK} WHERE d.id = ?2 AND {DUE}"))?;
        for id in ids.iter().take(limit) {
            if let Some(p) = stmt.query_row(params![now, id], picked).optional()?
                && busy.room(&p.key) > 0
            {
                busy.take(&p.key, 1);
                rows.push(p);
            }
        }
    } else {
        // Each configured webhook with room, its oldest due rows first (the partial
        // index deliveries_open makes this a seek, however long another's backlog is).
        let mut stmt = t.prepare_cached(&format!(
            "{PICK} WHERE d.webhook_key = ?2 AND {DUE} ORDER BY d.next_attempt_at LIMIT ?3"
        ))?;
        for key in busy.rotation() {
            let want = busy.room(&key).min(limit - rows.len());
            if want == 0 {
                continue;
            }
            let got: Vec<Picked> = stmt
                .query_map(params![now, key, i64::try_from(want).unwrap_or(0)], picked)?
                .collect::<rusqlite::Result<_>>()?;
            busy.take(&key, got.len());
            rows.extend(got);
            if rows.len() >= limit {
                break;
            }
        }
    }
    let mut lease = t.prepare_cached("UPDATE deliveries SET lease_until = ?2 WHERE id = ?1")?;
    let mut event = t.prepare_cached("SELECT event FROM events WHERE id = ?1")?;
    // The deliveries of one event share its decoded event.
    let mut events: std::collections::HashMap<String, Arc<Event>> =
        std::collections::HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for p in rows {
        lease.execute(params![p.id, lease_until])?;
        let decoded = match events.get(&p.event_id) {
            Some(e) => e.clone(),
            None => {
                let text: String = event.query_row([&p.event_id], |r| r.get(0))?;
                let e: Arc<Event> = Arc::new(
                    serde_json::from_str(&text)
                        .map_err(|e| StoreError::Corrupt(p.event_id.clone(), e.to_string()))?,
                );
                events.insert(p.event_id.clone(), e.clone());
                e
            }
        };
        out.push(Claimed {
            id: p.id,
            event_id: p.event_id,
            webhook: usize::try_from(p.webhook).unwrap_or(usize::MAX),
            key: p.key,
            attempts: p.attempts,
            event: decoded,
        });
    }
    Ok(out)
}

fn prune(t: &Connection, older_than: i64, max_events: u64) -> Result<usize, StoreError> {
    let unfinished = "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status IN ('pending', 'retrying'))";
    let mut n = t.execute(
        &format!("DELETE FROM events WHERE received_at < ?1 AND NOT {unfinished}"),
        [older_than],
    )?;
    let total: i64 = t.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
    let excess = total - i64::try_from(max_events).unwrap_or(i64::MAX);
    if excess > 0 {
        n += t.execute(
            &format!(
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE NOT {unfinished} ORDER BY received_at LIMIT ?1)"
            ),
            [excess],
        )?;
    }
    Ok(n)
}
