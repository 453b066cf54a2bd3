//! `herald log`: the journal's deliveries, newest first.

use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};

use herald::store::{Commit, DeliveryFilter, DeliveryStatus, Journal};

use super::Global;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatusArg {
    Pending,
    Retrying,
    Succeeded,
    Failed,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only deliveries in this state
    #[arg(long, value_enum)]
    status: Option<StatusArg>,
    /// At most this many
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print JSON (one object per delivery, with its attempts)
    #[arg(long)]
    json: bool,
}

pub async fn run(global: &Global, args: &LogArgs) -> Result<ExitCode> {
    let dir = super::engine::data_dir(global)?;
    // Reading must not create: a journal opened here would be an empty one left behind.
    if !dir.join(herald::store::FILE_NAME).exists() {
        if args.json {
            say_json!("[]");
        } else {
            say!(
                "no journal in {}: nothing was recorded there (is --data-dir / HERALD_DATA_DIR the one `herald serve` uses?)",
                dir.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let journal = Journal::open(&dir, Commit::Grouped)
        .with_context(|| format!("opening the journal in {}", dir.display()))?;
    let status = args.status.map(|s| match s {
        StatusArg::Pending => DeliveryStatus::Pending,
        StatusArg::Retrying => DeliveryStatus::Retrying,
        StatusArg::Succeeded => DeliveryStatus::Succeeded,
        StatusArg::Failed => DeliveryStatus::Failed,
    });
    let rows = journal
        .deliveries(DeliveryFilter {
            status,
            limit: args.limit,
            ..DeliveryFilter::default()
        })
        .await?;
    if args.json {
        let mut list = Vec::with_capacity(rows.len());
        for r in &rows {
            list.push(
                serde_json::json!({"delivery": r, "attempts": journal.attempts(&r.id).await?}),
            );
        }
        say_json!(serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        say!("no deliveries in {}", journal.path().display());
    }
    for r in rows {
        let when = humantime::format_rfc3339_seconds(
            UNIX_EPOCH + Duration::from_millis(u64::try_from(r.created_at).unwrap_or(0)),
        );
        say!(
            "{when}  {:<9} {:>2}x  {} {} {}  {}",
            r.status.as_str(),
            r.attempts,
            r.webhook_label,
            r.kind,
            r.target,
            r.summary
        );
        match &r.replay_of {
            Some(of) => say!(
                "    delivery {}  event {}  replay of {of}",
                r.id,
                r.event_id
            ),
            None => say!("    delivery {}  event {}", r.id, r.event_id),
        }
        if let Some(e) = r
            .last_error
            .filter(|_| r.status != DeliveryStatus::Succeeded)
        {
            say!("    {e}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
