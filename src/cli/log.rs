//! `herald log`: the journal's deliveries, and the events no webhook took, newest first.

use herald::clock::rfc3339;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};

use herald::store::{Commit, DeliveryFilter, DeliveryRow, DeliveryStatus, EventSummary, Journal};

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
    #[command(flatten)]
    remote: super::RemoteArgs,
}

pub async fn run(global: &Global, args: &LogArgs) -> Result<ExitCode> {
    let status = args.status.map(|s| match s {
        StatusArg::Pending => DeliveryStatus::Pending,
        StatusArg::Retrying => DeliveryStatus::Retrying,
        StatusArg::Succeeded => DeliveryStatus::Succeeded,
        StatusArg::Failed => DeliveryStatus::Failed,
    });
    if let Some(client) = args.remote.client()? {
        let lines = remote(&client, status, args.limit).await?;
        return print(lines, args.json, &client.at(), args.limit);
    }
    let dir = match super::engine::location(global, None)? {
        herald::store::Location::Sqlite(dir) => dir,
        herald::store::Location::Postgres(_) => {
            let opened = super::engine::journal(global, None).await?;
            return list(opened.reader(), status, args).await;
        }
    };
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
    let opened = Journal::open(&dir, Commit::Grouped)
        .with_context(|| format!("opening the journal in {}", dir.display()))?;
    list(opened.reader(), status, args).await
}

/// Prints the journal's deliveries (and events no webhook took), newest first.
async fn list(
    journal: &herald::store::Reader,
    status: Option<DeliveryStatus>,
    args: &LogArgs,
) -> Result<ExitCode> {
    let rows = journal
        .deliveries(DeliveryFilter {
            status,
            limit: args.limit,
            ..DeliveryFilter::default()
        })
        .await?;
    // Events no webhook took have no delivery, but they were received and journaled: they
    // are listed too (unless a status is asked for), so `log` shows everything that came in.
    let unrouted: Vec<EventSummary> = if status.is_none() {
        journal
            .events_page(None, args.limit, Vec::new())
            .await?
            .into_iter()
            .filter(|e| {
                let t = e.deliveries;
                t.pending + t.retrying + t.succeeded + t.failed == 0
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut lines = Vec::with_capacity(rows.len() + unrouted.len());
    for r in rows {
        let attempts = if args.json {
            journal.attempts(&r.id).await?
        } else {
            Vec::new()
        };
        lines.push(Line::Delivery(r, attempts));
    }
    lines.extend(unrouted.into_iter().map(Line::Unrouted));
    print(lines, args.json, &journal.at(), args.limit)
}

/// The log of a `serve`, through its operator API: the newest events (with a delivery in
/// `status`, when given), each with its deliveries and their attempts.
async fn remote(
    client: &herald::api::client::Client,
    status: Option<DeliveryStatus>,
    limit: usize,
) -> Result<Vec<Line>> {
    let q = status
        .map(|s| format!("status:{}", s.as_str()))
        .unwrap_or_default();
    let page = client.events(None, limit.clamp(1, 1000), &q).await?;
    let mut lines = Vec::new();
    for e in page.events {
        if e.delivery_list.is_empty() {
            if status.is_none() {
                lines.push(Line::Unrouted(e.summary));
            }
            continue;
        }
        let detail = client.event(&e.summary.id).await?;
        for d in detail.deliveries {
            if status.is_none_or(|s| d.delivery.status == s) {
                lines.push(Line::Delivery(d.delivery, d.attempts));
            }
        }
    }
    Ok(lines)
}

/// Prints the log: the newest `limit` lines.
fn print(mut lines: Vec<Line>, json: bool, place: &str, limit: usize) -> Result<ExitCode> {
    lines.sort_by_key(|l| std::cmp::Reverse(l.at()));
    lines.truncate(limit);
    if json {
        let list: Vec<_> = lines
            .iter()
            .map(|l| match l {
                Line::Delivery(r, attempts) => {
                    serde_json::json!({"delivery": r, "attempts": attempts})
                }
                Line::Unrouted(e) => {
                    serde_json::json!({"event": e, "delivery": null, "attempts": []})
                }
            })
            .collect();
        say_json!(serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if lines.is_empty() {
        say!("no events in {place}");
    }
    for line in lines {
        let r = match line {
            Line::Delivery(r, _) => r,
            Line::Unrouted(e) => {
                say!(
                    "{}  {:<9} {:>2}   no webhook took it  {}",
                    rfc3339(e.received_at),
                    "unrouted",
                    "",
                    e.summary
                );
                say!("    event {}  from {}", e.id, e.source);
                continue;
            }
        };
        let when = rfc3339(r.created_at);
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

/// One line of the log: a delivery, or an event that no webhook took.
enum Line {
    Delivery(DeliveryRow, Vec<herald::store::AttemptRow>),
    Unrouted(EventSummary),
}

impl Line {
    /// When it happened (Unix ms), for the newest-first order.
    fn at(&self) -> i64 {
        match self {
            Line::Delivery(r, _) => r.created_at,
            Line::Unrouted(e) => e.received_at,
        }
    }
}
