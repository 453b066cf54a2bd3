//! The index of event summaries that lets a search for rare text skip the events that
//! cannot hold it.
//!
//! An FTS5 table of the summaries' trigrams (`detail='none'`: small, and it only has to
//! name candidates, which the search tests again exactly). It is filled by the writer in
//! batches, not row by row: a trigger per insert halved durable ingest (each grouped
//! commit wrote an index segment of its own), while 5,000 summaries at a time cost ~15 µs
//! each. So the index runs a little behind the journal; `state.text_indexed` says how far
//! it reaches, and a search scans the events after that mark the old way.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// The state key holding the rowid of the last event indexed.
const MARK: &str = "text_indexed";

/// Events indexed in one transaction.
const BATCH: i64 = 5_000;

/// How far behind the writer lets the index fall while busy: past it, it indexes a batch
/// between two groups of writes even under load.
pub const MAX_LAG: i64 = 20_000;

/// The rowid of the last event indexed.
///
/// # Errors
/// SQLite errors.
pub fn mark(c: &Connection) -> Result<i64, StoreError> {
    let v: Option<i64> = c
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM state WHERE key = ?1",
            [MARK],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.unwrap_or(0))
}

/// How many events (by rowid) the index has not seen yet.
///
/// # Errors
/// SQLite errors.
pub fn lag(c: &Connection) -> Result<i64, StoreError> {
    let newest: i64 = c.query_row("SELECT coalesce(max(rowid), 0) FROM events", [], |r| {
        r.get(0)
    })?;
    Ok((newest - mark(c)?).max(0))
}

/// Indexes the next batch of events in one transaction; returns how many.
///
/// # Errors
/// SQLite errors; nothing is indexed then.
pub fn index_batch(c: &mut Connection) -> Result<usize, StoreError> {
    let tx = c.transaction()?;
    let newest: i64 = tx.query_row("SELECT coalesce(max(rowid), 0) FROM events", [], |r| {
        r.get(0)
    })?;
    // A journal pruned empty hands out small rowids again: everything still stored was
    // indexed (and deleted rows left the index by trigger), so the mark comes down.
    let from = mark(&tx)?.min(newest);
    let n = tx.execute(
        "INSERT INTO events_text (rowid, summary)
         SELECT rowid, summary FROM events WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        params![from, BATCH],
    )?;
    let to: i64 = tx.query_row(
        "SELECT coalesce(max(rowid), ?1) FROM
            (SELECT rowid FROM events WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)",
        params![from, BATCH],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![MARK, to.to_string()],
    )?;
    tx.commit()?;
    Ok(n)
}

/// The index query for `text`: every trigram of it, each quoted, joined by AND (the index
/// keeps no positions, so a phrase cannot be asked; the events holding all the trigrams
/// are a superset of those holding the text). `None` under three characters.
pub fn query(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 3 {
        return None;
    }
    let mut seen = std::collections::HashSet::new();
    let terms: Vec<String> = chars
        .windows(3)
        .map(|w| w.iter().collect::<String>())
        .filter(|t| seen.insert(t.clone()))
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    Some(terms.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::query;

    #[test]
    fn a_query_names_each_trigram_once_quoted() {
        assert_eq!(query("ab"), None);
        assert_eq!(query("abab").as_deref(), Some(r#""aba" AND "bab""#));
        assert_eq!(query(r#"a"b"#).as_deref(), Some(r#""a""b""#));
    }
}
