//! Read queries: the log, one event, a delivery's attempts, counts.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{DeliveryStatus, StoreError};
use crate::store::rows::{
    AttemptRow, DeliveryFilter, DeliveryRow, EventRow, StatusCounts, webhook_label,
};

const DELIVERY_COLUMNS: &str =
    "d.id, d.event_id, e.kind, e.summary, d.webhook, d.webhook_key, d.target, d.kind, d.status,
     d.attempts, d.next_attempt_at, d.last_error, d.replay_of, d.created_at, d.updated_at";

fn delivery_row(r: &Row<'_>) -> rusqlite::Result<DeliveryRow> {
    let status: String = r.get(8)?;
    Ok(DeliveryRow {
        id: r.get(0)?,
        event_id: r.get(1)?,
        event_kind: r.get(2)?,
        summary: r.get(3)?,
        webhook: usize::try_from(r.get::<_, i64>(4)?).unwrap_or(usize::MAX),
        webhook_label: webhook_label(r.get(5)?, r.get(4)?),
        webhook_key: r.get(5)?,
        target: r.get(6)?,
        kind: r.get(7)?,
        status: DeliveryStatus::parse(&status).unwrap_or(DeliveryStatus::Failed),
        attempts: r.get(9)?,
        next_attempt_at: r.get(10)?,
        last_error: r.get(11)?,
        replay_of: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

/// Deliveries, newest first.
pub fn deliveries(c: &Connection, f: &DeliveryFilter) -> Result<Vec<DeliveryRow>, StoreError> {
    let limit = if f.limit == 0 {
        i64::MAX
    } else {
        i64::try_from(f.limit).unwrap_or(i64::MAX)
    };
    // Only the conditions given go into the query: `(?1 IS NULL OR d.status = ?1)` reads
    // the same but keeps SQLite from using an index, so one event's deliveries were found
    // by scanning every delivery (1.4 s for a console page of 200 events at 20,000).
    let mut conditions = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(status) = f.status {
        conditions.push("d.status = ?");
        args.push(status.as_str().to_string().into());
    }
    if let Some(event) = &f.event_id {
        conditions.push("d.event_id = ?");
        args.push(event.clone().into());
    }
    if let Some(id) = &f.id {
        conditions.push("d.id = ?");
        args.push(id.clone().into());
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    args.push(limit.into());
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
         {filter} ORDER BY d.created_at DESC, d.rowid DESC LIMIT ?"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), delivery_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An event row as read, before its JSON is decoded (decoding can fail, and a row closure
/// can only return SQLite's errors).
struct RawEvent {
    id: String,
    received_at: i64,
    source: crate::intake::Source,
    summary: String,
    body: String,
    event: String,
}

fn event_row(r: &Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok(RawEvent {
        id: r.get(0)?,
        received_at: r.get(1)?,
        source: r.get(2)?,
        summary: r.get(3)?,
        body: r.get(4)?,
        event: r.get(5)?,
    })
}

fn finish(raw: RawEvent) -> Result<EventRow, StoreError> {
    let event = serde_json::from_str(&raw.event)
        .map_err(|err| StoreError::Corrupt(raw.id.clone(), err.to_string()))?;
    Ok(EventRow {
        id: raw.id,
        received_at: raw.received_at,
        source: raw.source,
        summary: raw.summary,
        body: raw.body,
        event,
    })
}

/// One event.
pub fn event(c: &Connection, id: &str) -> Result<Option<EventRow>, StoreError> {
    let row = c
        .prepare_cached(
            "SELECT id, received_at, source, summary, body, event FROM events WHERE id = ?1",
        )?
        .query_row([id], event_row)
        .optional()?;
    row.map(finish).transpose()
}

/// Events, newest first, optionally only those received before `before` (Unix ms).
pub fn events(
    c: &Connection,
    limit: usize,
    before: Option<i64>,
) -> Result<Vec<EventRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, received_at, source, summary, body, event FROM events
         WHERE (?1 IS NULL OR received_at < ?1) ORDER BY received_at DESC, rowid DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(
        params![before, i64::try_from(limit).unwrap_or(i64::MAX)],
        event_row,
    )?;
    rows.map(|r| r.map_err(StoreError::from).and_then(finish))
        .collect()
}

/// The attempts of a delivery, in order.
pub fn attempts(c: &Connection, delivery_id: &str) -> Result<Vec<AttemptRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT number, started_at, latency_ms, outcome, status, error, hint, request, response
         FROM attempts WHERE delivery_id = ?1 ORDER BY number, id",
    )?;
    let rows = stmt.query_map([delivery_id], |r| {
        Ok(AttemptRow {
            number: r.get(0)?,
            started_at: r.get(1)?,
            latency_ms: r.get(2)?,
            outcome: r.get(3)?,
            status: r.get(4)?,
            error: r.get(5)?,
            hint: r.get(6)?,
            request: r.get(7)?,
            response: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deliveries per status and events in all.
pub fn counts(c: &Connection) -> Result<StatusCounts, StoreError> {
    let mut out = StatusCounts {
        events: c
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))?
            .unsigned_abs(),
        ..StatusCounts::default()
    };
    let mut stmt = c.prepare_cached("SELECT status, COUNT(*) FROM deliveries GROUP BY status")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.unsigned_abs()))
    })?;
    for row in rows {
        let (status, n) = row?;
        match DeliveryStatus::parse(&status) {
            Some(DeliveryStatus::Pending) => out.pending = n,
            Some(DeliveryStatus::Retrying) => out.retrying = n,
            Some(DeliveryStatus::Succeeded) => out.succeeded = n,
            Some(DeliveryStatus::Failed) => out.failed = n,
            None => {}
        }
    }
    out.leased = c
        .query_row(
            "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'retrying') AND lease_until > ?1",
            [crate::clock::now_ms()],
            |r| r.get::<_, i64>(0),
        )?
        .unsigned_abs();
    Ok(out)
}
