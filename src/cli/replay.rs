//! `herald replay`: send a journaled event or delivery again, as new deliveries that point
//! at what they replay.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::{ArgMatches, Args};

use herald::store::{DeliveryFilter, DeliveryStatus};

use super::{Global, load_config};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// An event id (to every webhook it matches now) or a delivery id (to its webhook)
    #[arg(required_unless_present = "failed", conflicts_with = "failed")]
    id: Option<String>,
    /// Replay every failed delivery
    #[arg(long)]
    failed: bool,
    /// Send to this webhook instead (name or 0-based index); repeatable
    #[arg(long = "webhook", value_name = "SEL")]
    webhooks: Vec<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: super::RemoteArgs,
}

pub async fn run(global: &Global, matches: &ArgMatches, args: &ReplayArgs) -> Result<ExitCode> {
    if let Some(client) = args.remote.client()? {
        // The serve replays and attempts; what it queued is said here.
        let created = match &args.id {
            Some(id) if !args.failed => client.replay(id, &args.webhooks).await?,
            _ => client.replay_failed(&args.webhooks).await?,
        };
        if args.json {
            say_json!(serde_json::to_string_pretty(&created)?);
        } else if created.deliveries.is_empty() {
            say!("nothing to replay");
        } else {
            say!(
                "{} replay(s) queued on {}: {}",
                created.deliveries.len(),
                client.at(),
                created.deliveries.join(" ")
            );
            say!("`herald log --remote {}` shows how they went", client.at());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = Arc::new(load_config(global, matches)?);
    let mut webhooks = Vec::new();
    for sel in &args.webhooks {
        match config.select(sel) {
            Some(w) => webhooks.push(w.index),
            None => bail!("no webhook {sel:?} in the config"),
        }
    }
    let engine = super::engine::open(global, config).await?;
    let sources: Vec<String> = if args.failed {
        engine
            .reader()
            .deliveries(DeliveryFilter {
                status: Some(DeliveryStatus::Failed),
                ..DeliveryFilter::default()
            })
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect()
    } else {
        args.id.clone().into_iter().collect()
    };
    if sources.is_empty() {
        esay!("herald: no failed deliveries to replay");
        return Ok(ExitCode::SUCCESS);
    }
    let mut ids = Vec::new();
    for source in &sources {
        ids.extend(engine.replay(source, &webhooks).await?);
    }
    if ids.is_empty() {
        bail!("nothing to replay: no webhook matches the event now (choose one with --webhook)");
    }
    engine.attempt_now(&ids).await?;
    let all_ok = super::engine::print_outcomes(&engine, &ids, args.json).await?;
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
