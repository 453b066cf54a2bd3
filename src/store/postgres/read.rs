//! Reads: the log, events, attempts, counts, the operator API's pages and its live feed.

use std::collections::HashMap;

use tokio_postgres::types::ToSql;

use super::{Postgres, u32_of};
use crate::clock::now_ms;
use crate::store::{
    AttemptRow, Attempted, Changes, DeliveryFilter, DeliveryRow, DeliveryStatus, DeliveryTally,
    EventRow, EventSummary, FeedPosition, Field, StatusCounts, StoreError, Term,
    rows::webhook_label,
};

/// Boxed query parameters, built as conditions are added.
type Params = Vec<Box<dyn ToSql + Sync + Send>>;

fn refs(params: &Params) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

async fn query(
    pg: &Postgres,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let client = pg.client().await?;
    let stmt = client.prepare_cached(sql).await.map_err(|e| pg.error(&e))?;
    client.query(&stmt, params).await.map_err(|e| pg.error(&e))
}

const DELIVERY_COLUMNS: &str =
    "d.id, d.event_id, e.kind, e.summary, d.webhook, d.webhook_key, d.target, d.kind, d.status,
     d.attempts, d.next_attempt_at, d.last_error, d.replay_of, d.created_at, d.updated_at";

fn delivery_row(r: &tokio_postgres::Row) -> DeliveryRow {
    let status: String = r.get(8);
    DeliveryRow {
        id: r.get(0),
        event_id: r.get(1),
        event_kind: r.get(2),
        summary: r.get(3),
        webhook: usize::try_from(r.get::<_, i64>(4)).unwrap_or(usize::MAX),
        webhook_label: webhook_label(r.get(5), r.get(4)),
        webhook_key: r.get(5),
        target: r.get(6),
        kind: r.get(7),
        status: DeliveryStatus::parse(&status).unwrap_or(DeliveryStatus::Failed),
        attempts: u32_of(r.get(9)),
        next_attempt_at: r.get(10),
        last_error: r.get(11),
        replay_of: r.get(12),
        created_at: r.get(13),
        updated_at: r.get(14),
    }
}

pub(super) async fn deliveries(
    pg: &Postgres,
    f: DeliveryFilter,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let mut conditions = Vec::new();
    let mut params: Params = Vec::new();
    if let Some(status) = f.status {
        params.push(Box::new(status.as_str()));
        conditions.push(format!("d.status = ${}", params.len()));
    }
    if let Some(event) = f.event_id {
        params.push(Box::new(event));
        conditions.push(format!("d.event_id = ${}", params.len()));
    }
    if let Some(id) = f.id {
        params.push(Box::new(id));
        conditions.push(format!("d.id = ${}", params.len()));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let limit = if f.limit == 0 {
        i64::MAX
    } else {
        i64::try_from(f.limit).unwrap_or(i64::MAX)
    };
    params.push(Box::new(limit));
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
         {filter} ORDER BY d.created_at DESC, d.id DESC LIMIT ${}",
        params.len()
    );
    Ok(query(pg, &sql, &refs(&params))
        .await?
        .iter()
        .map(delivery_row)
        .collect())
}

const EVENT_COLUMNS: &str = "id, received_at, source, summary, body, event";

fn event_row(r: &tokio_postgres::Row) -> Result<EventRow, StoreError> {
    let id: String = r.get(0);
    let source: String = r.get(2);
    let text: String = r.get(5);
    let event = serde_json::from_str(&text)
        .map_err(|err| StoreError::Corrupt(id.clone(), err.to_string()))?;
    Ok(EventRow {
        source: crate::intake::Source::parse(&source)
            .ok_or_else(|| StoreError::Corrupt(id.clone(), format!("source {source:?}")))?,
        id,
        received_at: r.get(1),
        summary: r.get(3),
        body: r.get(4),
        event,
    })
}

pub(super) async fn event(pg: &Postgres, id: String) -> Result<Option<EventRow>, StoreError> {
    query(
        pg,
        &format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1"),
        &[&id],
    )
    .await?
    .first()
    .map(event_row)
    .transpose()
}

pub(super) async fn events_with_deliveries(
    pg: &Postgres,
    ids: Vec<String>,
) -> Result<Vec<(EventRow, Vec<DeliveryRow>)>, StoreError> {
    let events = query(
        pg,
        &format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ANY($1)"),
        &[&ids],
    )
    .await?;
    let mut by_id: HashMap<String, EventRow> = HashMap::new();
    for r in &events {
        let e = event_row(r)?;
        by_id.insert(e.id.clone(), e);
    }
    let mut deliveries: HashMap<String, Vec<DeliveryRow>> = HashMap::new();
    let rows = query(
        pg,
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
             WHERE d.event_id = ANY($1) ORDER BY d.created_at, d.id"
        ),
        &[&ids],
    )
    .await?;
    for r in &rows {
        let d = delivery_row(r);
        deliveries.entry(d.event_id.clone()).or_default().push(d);
    }
    Ok(ids
        .into_iter()
        .filter_map(|id| {
            let event = by_id.remove(&id)?;
            Some((event, deliveries.remove(&id).unwrap_or_default()))
        })
        .collect())
}

pub(super) async fn events(
    pg: &Postgres,
    limit: usize,
    before: Option<i64>,
) -> Result<Vec<EventRow>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    query(
        pg,
        &format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE ($1::BIGINT IS NULL OR received_at < $1)
             ORDER BY received_at DESC, seq DESC LIMIT $2"
        ),
        &[&before, &limit],
    )
    .await?
    .iter()
    .map(event_row)
    .collect()
}

pub(super) async fn attempts(
    pg: &Postgres,
    delivery_id: String,
) -> Result<Vec<AttemptRow>, StoreError> {
    Ok(query(
        pg,
        "SELECT number, started_at, latency_ms, outcome, status, error, hint, request, response
         FROM attempts WHERE delivery_id = $1 ORDER BY number, id",
        &[&delivery_id],
    )
    .await?
    .iter()
    .map(|r| AttemptRow {
        number: u32_of(r.get(0)),
        started_at: r.get(1),
        latency_ms: r.get(2),
        outcome: crate::notify::Outcome::parse(r.get(3)),
        status: r
            .get::<_, Option<i32>>(4)
            .and_then(|s| u16::try_from(s).ok()),
        error: r.get(5),
        hint: r.get(6),
        request: r.get(7),
        response: r.get(8),
    })
    .collect())
}

pub(super) async fn counts(pg: &Postgres) -> Result<StatusCounts, StoreError> {
    let events: i64 = query(pg, "SELECT count(*) FROM events", &[]).await?[0].get(0);
    let mut out = StatusCounts {
        events: events.unsigned_abs(),
        ..StatusCounts::default()
    };
    for r in query(
        pg,
        "SELECT status, count(*) FROM deliveries GROUP BY status",
        &[],
    )
    .await?
    {
        let n = r.get::<_, i64>(1).unsigned_abs();
        match DeliveryStatus::parse(r.get(0)) {
            Some(DeliveryStatus::Pending) => out.pending = n,
            Some(DeliveryStatus::Retrying) => out.retrying = n,
            Some(DeliveryStatus::Succeeded) => out.succeeded = n,
            Some(DeliveryStatus::Failed) => out.failed = n,
            None => {}
        }
    }
    let leased: i64 = query(
        pg,
        "SELECT count(*) FROM deliveries
         WHERE status IN ('pending', 'retrying') AND lease_until > $1",
        &[&now_ms()],
    )
    .await?[0]
        .get(0);
    out.leased = leased.unsigned_abs();
    Ok(out)
}

const SUMMARY_COLUMNS: &str = "e.seq, e.id, e.received_at, e.source, e.kind, e.summary,
    (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending'),
    (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id AND d.status = 'retrying'),
    (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id AND d.status = 'succeeded'),
    (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id AND d.status = 'failed')";

fn summary_row(r: &tokio_postgres::Row, mark: i64) -> EventSummary {
    let count = |i: usize| u32::try_from(r.get::<_, i64>(i)).unwrap_or(u32::MAX);
    let source: String = r.get(3);
    EventSummary {
        seq: r.get(0),
        mark,
        id: r.get(1),
        received_at: r.get(2),
        source: crate::intake::Source::parse(&source).unwrap_or(crate::intake::Source::Apply),
        kind: r.get(4),
        summary: r.get(5),
        deliveries: DeliveryTally {
            pending: count(6),
            retrying: count(7),
            succeeded: count(8),
            failed: count(9),
        },
    }
}

pub(super) async fn events_page(
    pg: &Postgres,
    before: Option<i64>,
    limit: usize,
    terms: Vec<Term>,
) -> Result<Vec<EventSummary>, StoreError> {
    let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM events e WHERE TRUE");
    let mut params: Params = Vec::new();
    if let Some(b) = before {
        params.push(Box::new(b));
        sql.push_str(&format!(" AND e.seq < ${}", params.len()));
    }
    for t in terms {
        params.push(Box::new(t.value.clone()));
        let n = params.len();
        let test = match t.field {
            // ILIKE on the summary can use its trigram index (see `schema`).
            Field::Text => {
                params.push(Box::new(format!("%{}%", like_escaped(&t.value))));
                let pattern = params.len();
                format!("(e.summary ILIKE ${pattern} ESCAPE '\\' OR e.id = ${n})")
            }
            Field::Kind => format!("(e.kind = lower(${n}))"),
            Field::Status => format!(
                "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = lower(${n}))"
            ),
            Field::Webhook => format!(
                "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id
                    AND (d.webhook_key = ${n} OR starts_with(d.webhook_key, ${n} || '|')))"
            ),
            Field::Error => format!(
                "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id
                    AND strpos(lower(coalesce(d.last_error, '')), lower(${n})) > 0)"
            ),
        };
        sql.push_str(if t.negate { " AND NOT " } else { " AND " });
        sql.push_str(&test);
    }
    params.push(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
    sql.push_str(&format!(" ORDER BY e.seq DESC LIMIT ${}", params.len()));
    Ok(query(pg, &sql, &refs(&params))
        .await?
        .iter()
        .map(|r| {
            let seq = r.get(0);
            summary_row(r, seq)
        })
        .collect())
}

/// `text` with LIKE's wildcards taken literally.
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The oldest transaction still open: every row written by an older one is committed (or
/// never will be), so the feed may pass it.
const SETTLED: &str = "pg_snapshot_xmin(pg_current_snapshot())";

pub(super) async fn changes(
    pg: &Postgres,
    from: FeedPosition,
    limit: usize,
) -> Result<Changes, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    // A position is the last writing transaction seen (its id as a number); each event and
    // each attempt is written by a transaction of its own.
    let events = query(
        pg,
        &format!(
            "SELECT e.seq, e.id, e.received_at, e.source, e.kind, e.summary, 0::BIGINT, 0::BIGINT,
                    0::BIGINT, 0::BIGINT, e.xid::text::BIGINT
             FROM events e
             WHERE e.xid > $1::BIGINT::text::xid8 AND e.xid < {SETTLED}
             ORDER BY e.xid, e.seq LIMIT $2"
        ),
        &[&from.event, &limit],
    )
    .await?
    .iter()
    .map(|r| summary_row(r, r.get(10)))
    .collect();
    let attempts = query(
        pg,
        &format!(
            "SELECT a.id, a.delivery_id, d.event_id, d.webhook_key, a.number, a.outcome, a.status,
                    a.error, d.status, d.webhook, a.xid::text::BIGINT
             FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
             WHERE a.xid > $1::BIGINT::text::xid8 AND a.xid < {SETTLED}
             ORDER BY a.xid, a.id LIMIT $2"
        ),
        &[&from.attempt, &limit],
    )
    .await?
    .iter()
    .map(|r| {
        let status: String = r.get(8);
        Attempted {
            seq: r.get(0),
            mark: r.get(10),
            delivery_id: r.get(1),
            event_id: r.get(2),
            webhook_key: r.get(3),
            webhook_label: webhook_label(r.get(3), r.get(9)),
            number: u32_of(r.get(4)),
            outcome: crate::notify::Outcome::parse(r.get(5)),
            status: r
                .get::<_, Option<i32>>(6)
                .and_then(|s| u16::try_from(s).ok()),
            error: r.get(7),
            delivery_status: DeliveryStatus::parse(&status).unwrap_or(DeliveryStatus::Failed),
        }
    })
    .collect();
    Ok(Changes { events, attempts })
}

pub(super) async fn head(pg: &Postgres) -> Result<(FeedPosition, i64), StoreError> {
    let r = &query(
        pg,
        &format!(
            "SELECT {SETTLED}::text::BIGINT - 1,
                    coalesce((SELECT min(xid)::text::BIGINT FROM events), 0)"
        ),
        &[],
    )
    .await?[0];
    let settled: i64 = r.get(0);
    Ok((
        FeedPosition {
            event: settled,
            attempt: settled,
        },
        r.get(1),
    ))
}

pub(super) async fn webhook_stats(
    pg: &Postgres,
) -> Result<HashMap<String, DeliveryTally>, StoreError> {
    let mut out: HashMap<String, DeliveryTally> = HashMap::new();
    for r in query(
        pg,
        "SELECT webhook_key, status, count(*) FROM deliveries GROUP BY webhook_key, status",
        &[],
    )
    .await?
    {
        let t = out.entry(r.get(0)).or_default();
        let n = u32::try_from(r.get::<_, i64>(2)).unwrap_or(u32::MAX);
        match r.get::<_, &str>(1) {
            "pending" => t.pending = n,
            "retrying" => t.retrying = n,
            "succeeded" => t.succeeded = n,
            _ => t.failed += n,
        }
    }
    Ok(out)
}

pub(super) async fn state(pg: &Postgres, key: &'static str) -> Result<Option<String>, StoreError> {
    Ok(query(pg, "SELECT value FROM state WHERE key = $1", &[&key])
        .await?
        .first()
        .map(|r| r.get(0)))
}

pub(super) async fn runs(pg: &Postgres) -> Result<Vec<crate::store::RunRow>, StoreError> {
    Ok(query(
        pg,
        "SELECT key, occurrence, lease_until, finished_at, outcome FROM runs ORDER BY key",
        &[],
    )
    .await?
    .iter()
    .map(|r| crate::store::RunRow {
        key: r.get(0),
        occurrence: r.get(1),
        lease_until: r.get(2),
        finished_at: r.get(3),
        outcome: r.get(4),
    })
    .collect())
}

pub(super) async fn drift_seen(
    pg: &Postgres,
    since: i64,
) -> Result<Vec<crate::store::DriftSeen>, StoreError> {
    // Drift reports only: a notice about a repository is not a report from it.
    Ok(query(
        pg,
        "SELECT j -> 'data' ->> 'repository', j -> 'data' ->> 'ref', MAX(received_at)
         FROM (SELECT event::jsonb AS j, received_at FROM events
               WHERE received_at >= $1 AND kind = 'drift') e
         WHERE j ->> 'kind' = 'drift'
         GROUP BY 1, 2",
        &[&since],
    )
    .await?
    .iter()
    .map(|r| crate::store::DriftSeen {
        repository: r.get::<_, Option<String>>(0).unwrap_or_default(),
        git_ref: r.get::<_, Option<String>>(1).unwrap_or_default(),
        last_at: r.get(2),
    })
    .collect())
}

pub(super) async fn posted(
    pg: &Postgres,
    key: String,
) -> Result<Option<crate::store::PostedMessage>, StoreError> {
    Ok(query(
        pg,
        "SELECT channel, ts, problem FROM posted WHERE key = $1",
        &[&key],
    )
    .await?
    .first()
    .map(|r| crate::store::PostedMessage {
        channel: r.get(0),
        ts: r.get(1),
        problem: r.get(2),
    }))
}
