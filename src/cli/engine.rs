//! Opening the journal and the engine for the commands that deliver.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};

use herald::config::Config;
use herald::dispatch::{Engine, EngineOptions};
use herald::store::{AttemptRow, Commit, DeliveryRow, DeliveryStatus, Journal};

use super::Global;

/// The data directory: `--data-dir`, `HERALD_DATA_DIR`, or the platform's data directory.
pub fn data_dir(global: &Global) -> Result<PathBuf> {
    match &global.data_dir {
        Some(d) => Ok(d.clone()),
        None => dirs::data_dir()
            .map(|d| d.join("herald"))
            .context("no data directory: set --data-dir or HERALD_DATA_DIR"),
    }
}

/// Where the journal is: `--journal` (or `HERALD_JOURNAL`), else the config's
/// `herald.journal`, else SQLite in the data directory.
pub fn location(global: &Global, config: Option<&Config>) -> Result<herald::store::Location> {
    let from_config = config.and_then(|c| c.herald.journal.as_ref());
    Ok(match (&global.journal, from_config) {
        (Some(url), _) => herald::store::Location::parse(url)?,
        (None, Some(url)) => herald::store::Location::parse(url.expose())?,
        (None, None) => herald::store::Location::Sqlite(data_dir(global)?),
    })
}

/// Opens the journal [`location`] names.
pub async fn journal(global: &Global, config: Option<&Config>) -> Result<Journal> {
    let location = location(global, config)?;
    let shown = location.to_string();
    herald::store::open(location, Commit::Grouped)
        .await
        .with_context(|| format!("opening the journal {shown}"))
}

/// Opens the journal and an engine over it.
pub async fn open(global: &Global, config: Arc<Config>) -> Result<Engine> {
    let journal = journal(global, Some(&config)).await?;
    Ok(Engine::new(config, journal, EngineOptions::default())?)
}

/// Prints the outcome of deliveries (for `fire` and `replay`); true when all succeeded.
pub async fn print_outcomes(engine: &Engine, ids: &[String], json: bool) -> Result<bool> {
    let mut out = Vec::new();
    for id in ids {
        if let Some(r) = engine.reader().delivery(id).await? {
            let attempts = engine.reader().attempts(&r.id).await?;
            out.push((r, attempts));
        }
    }
    Ok(print_rows(&out, json)? && out.len() == ids.len())
}

/// Prints deliveries with their attempts (or JSON); true when every one succeeded.
///
/// # Errors
/// When JSON cannot be written.
pub fn print_rows(out: &[(DeliveryRow, Vec<AttemptRow>)], json: bool) -> Result<bool> {
    if json {
        let list: Vec<_> = out
            .iter()
            .map(|(r, a)| serde_json::json!({"delivery": r, "attempts": a}))
            .collect();
        say_json!(serde_json::to_string_pretty(&list)?);
    } else {
        for (r, attempts) in out {
            let last = attempts.last();
            let tries = if attempts.len() > 1 {
                format!(", {} attempts", attempts.len())
            } else {
                String::new()
            };
            match r.status {
                DeliveryStatus::Succeeded => say!(
                    "ok     {} {} {}: delivered ({}, {} ms{tries})",
                    r.webhook_label,
                    r.kind,
                    r.target,
                    last.and_then(|a| a.status)
                        .map_or("-".to_string(), |s| s.to_string()),
                    last.map_or(0, |a| a.latency_ms)
                ),
                status => {
                    let word = if status == DeliveryStatus::Failed {
                        "FAILED"
                    } else {
                        "RETRY "
                    };
                    say!(
                        "{word} {} {} {}: {}{tries}",
                        r.webhook_label,
                        r.kind,
                        r.target,
                        r.last_error.clone().unwrap_or_else(|| "failed".into())
                    );
                    if let Some(h) = last.and_then(|a| a.hint.clone()) {
                        say!("       hint: {h}");
                    }
                    if status != DeliveryStatus::Failed {
                        say!(
                            "       left in the journal as {}: `herald serve` retries it",
                            status.as_str()
                        );
                    }
                }
            }
        }
    }
    Ok(out
        .iter()
        .all(|(r, _)| r.status == DeliveryStatus::Succeeded))
}
