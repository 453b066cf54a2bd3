//! What the operator API reads beyond the log: events paged by a cursor over the whole
//! journal with field filters, and the feed of changes a live stream follows.
//!
//! The cursor and the feed's positions are rowids: events and attempts are only ever
//! appended, so "everything after rowid N" is exact, whichever process wrote it.

use rusqlite::{Connection, params_from_iter, types::Value as Sql};

use super::StoreError;
use crate::store::rows::{
    Attempted, Changes, DeliveryTally, EventSummary, FeedPosition, Field, Term, webhook_label,
};

/// The newest events before `before` (a `seq`), at most `limit`, that meet every term.
pub fn events_page(
    c: &Connection,
    before: Option<i64>,
    limit: usize,
    terms: &[Term],
) -> Result<Vec<EventSummary>, StoreError> {
    let mut sql = String::from(
        "SELECT e.rowid, e.id, e.received_at, e.source, e.kind, e.summary,
            (SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending'),
            (SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id AND d.status = 'retrying'),
            (SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id AND d.status = 'succeeded'),
            (SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id AND d.status = 'failed')
         FROM events e WHERE 1",
    );
    let mut args: Vec<Sql> = Vec::new();
    if let Some(b) = before {
        sql.push_str(" AND e.rowid < ?");
        args.push(Sql::Integer(b));
    }
    for t in terms {
        // A status few deliveries have (failed, pending, retrying, as a rule) is looked up
        // through its index, and its events fetched by rowid: testing it event by event
        // read the whole table to find none (2.5 s at 1,000,000 events).
        if t.field == Field::Status && !t.negate && rare_status(c, &t.value)? {
            sql.push_str(
                " AND e.rowid IN (SELECT ev.rowid FROM deliveries d JOIN events ev ON ev.id = d.event_id
                    WHERE d.status = lower(?))",
            );
            args.push(Sql::Text(t.value.clone()));
            continue;
        }
        // Text few summaries hold: its candidates are the indexed events the index names,
        // the events after the index's mark and the event of that id; the test below
        // keeps the exact ones.
        if t.field == Field::Text
            && !t.negate
            && let Some(query) = rare_text(c, &t.value)?
        {
            sql.push_str(
                " AND e.rowid IN (SELECT rowid FROM events_text WHERE events_text MATCH ?
                    UNION ALL SELECT rowid FROM events WHERE rowid > ?
                    UNION ALL SELECT rowid FROM events WHERE id = ?)",
            );
            args.push(Sql::Text(query));
            args.push(Sql::Integer(super::text::mark(c)?));
            args.push(Sql::Text(t.value.clone()));
        }
        let test = match t.field {
            Field::Text => "(instr(lower(e.summary), lower(?)) > 0 OR e.id = ?)",
            Field::Kind => "(e.kind = lower(?))",
            Field::Status => {
                "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = lower(?))"
            }
            Field::Webhook => {
                "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id
                    AND (d.webhook_key = ? OR substr(d.webhook_key, 1, length(?) + 1) = ? || '|'))"
            }
            Field::Error => {
                "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id
                    AND instr(lower(coalesce(d.last_error, '')), lower(?)) > 0)"
            }
        };
        // Each placeholder takes the term's value (`?` marks the repeated ones).
        let uses = test.matches('?').count();
        sql.push_str(if t.negate { " AND NOT " } else { " AND " });
        sql.push_str(test);
        for _ in 0..uses {
            args.push(Sql::Text(t.value.clone()));
        }
    }
    sql.push_str(" ORDER BY e.rowid DESC LIMIT ?");
    args.push(Sql::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), summary_row)?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(StoreError::from)
}

/// At most this many deliveries in a state make it rare enough to look its events up
/// through the status index rather than testing every event.
const RARE: i64 = 20_000;

/// Whether fewer than [`RARE`] deliveries are in `status` (counted on the index, stopping
/// at the bound).
fn rare_status(c: &Connection, status: &str) -> Result<bool, StoreError> {
    let n: i64 = c.query_row(
        "SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE status = lower(?1) LIMIT ?2)",
        rusqlite::params![status, RARE],
        |r| r.get(0),
    )?;
    Ok(n < RARE)
}

/// The index query for `text` when fewer than [`RARE`] indexed summaries may hold it;
/// `None` when it is too short for trigrams or common (then testing events newest first
/// meets a page of them soon).
fn rare_text(c: &Connection, text: &str) -> Result<Option<String>, StoreError> {
    let Some(query) = super::text::query(text) else {
        return Ok(None);
    };
    let n: i64 = c.query_row(
        "SELECT count(*) FROM (SELECT 1 FROM events_text WHERE events_text MATCH ?1 LIMIT ?2)",
        rusqlite::params![query, RARE],
        |r| r.get(0),
    )?;
    Ok((n < RARE).then_some(query))
}

/// A row of rowid, id, received_at, source, kind, summary and the four tallies.
fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventSummary> {
    Ok(EventSummary {
        seq: r.get(0)?,
        mark: r.get(0)?,
        id: r.get(1)?,
        received_at: r.get(2)?,
        source: r.get(3)?,
        kind: r.get(4)?,
        summary: r.get(5)?,
        deliveries: DeliveryTally {
            pending: r.get(6)?,
            retrying: r.get(7)?,
            succeeded: r.get(8)?,
            failed: r.get(9)?,
        },
    })
}

/// The changes after `from`, oldest first, at most `limit` of each kind.
pub fn changes(c: &Connection, from: FeedPosition, limit: usize) -> Result<Changes, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let events = events_after(c, from.event, limit)?;
    let mut stmt = c.prepare_cached(
        "SELECT a.id, a.delivery_id, d.event_id, d.webhook_key, a.number, a.outcome, a.status,
                a.error, d.status, d.webhook
         FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
         WHERE a.id > ?1 ORDER BY a.id LIMIT ?2",
    )?;
    let attempts = stmt
        .query_map([from.attempt, limit], |r| {
            Ok(Attempted {
                seq: r.get(0)?,
                mark: r.get(0)?,
                delivery_id: r.get(1)?,
                event_id: r.get(2)?,
                webhook_key: r.get(3)?,
                webhook_label: webhook_label(r.get(3)?, r.get(9)?),
                number: r.get(4)?,
                outcome: r.get(5)?,
                status: r.get(6)?,
                error: r.get(7)?,
                delivery_status: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Changes { events, attempts })
}

fn events_after(c: &Connection, after: i64, limit: i64) -> Result<Vec<EventSummary>, StoreError> {
    // A new event's deliveries are not counted in the feed: the tallies read 0.
    let mut stmt = c.prepare_cached(
        "SELECT e.rowid, e.id, e.received_at, e.source, e.kind, e.summary, 0, 0, 0, 0
         FROM events e WHERE e.rowid > ?1 ORDER BY e.rowid LIMIT ?2",
    )?;
    let rows = stmt.query_map([after, limit], summary_row)?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(StoreError::from)
}

/// The position after everything in the journal now, and the oldest event still kept
/// (a client behind it has missed pruned rows and must reload).
pub fn head(c: &Connection) -> Result<(FeedPosition, i64), StoreError> {
    let (event, oldest): (i64, i64) = c.query_row(
        "SELECT coalesce(max(rowid), 0), coalesce(min(rowid), 0) FROM events",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let attempt: i64 = c.query_row("SELECT coalesce(max(id), 0) FROM attempts", [], |r| {
        r.get(0)
    })?;
    Ok((FeedPosition { event, attempt }, oldest))
}

/// Deliveries by webhook key and state.
pub fn webhook_stats(
    c: &Connection,
) -> Result<std::collections::HashMap<String, DeliveryTally>, StoreError> {
    let mut out: std::collections::HashMap<String, DeliveryTally> =
        std::collections::HashMap::new();
    let mut stmt = c.prepare_cached(
        "SELECT webhook_key, status, COUNT(*) FROM deliveries GROUP BY webhook_key, status",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, u32>(2)?,
        ))
    })?;
    for row in rows {
        let (key, status, n) = row?;
        let t = out.entry(key).or_default();
        match status.as_str() {
            "pending" => t.pending = n,
            "retrying" => t.retrying = n,
            "succeeded" => t.succeeded = n,
            _ => t.failed += n,
        }
    }
    Ok(out)
}
