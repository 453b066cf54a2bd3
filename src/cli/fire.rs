//! `herald fire`: send a payload through the dispatcher, or show exactly what would be sent.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::{ArgMatches, Args};

use herald::config::Config;
use std::time::Duration;

use herald::dispatch::{self, CoreEvent, Dispatcher, Selection};
use herald::event::Shape;
use herald::intake::{self, Inbound, Received, Source};
use herald::notify;

use super::{EventArg, Global, fixtures, load_config, read_payload};

#[derive(Debug, Args)]
pub struct FireArgs {
    /// Which event
    #[arg(long, value_enum)]
    event: EventArg,
    /// The payload [default: the bundled fixture for the event]
    #[arg(long, value_name = "FILE")]
    payload: Option<PathBuf>,
    /// Send to this webhook (name or 0-based index) whatever its filters; repeatable
    #[arg(long = "webhook", value_name = "SEL")]
    webhooks: Vec<String>,
    /// Print the exact requests (secrets masked) and send nothing
    #[arg(long)]
    dry_run: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Send to a --webhook made for the other event kind (an apply webhook gets a drift report)
    #[arg(long)]
    force: bool,
    /// Retry failed deliveries as each webhook's retry policy says (default: one attempt)
    #[arg(long)]
    retry: bool,
    #[command(flatten)]
    remote: super::RemoteArgs,
}

pub async fn run(global: &Global, matches: &ArgMatches, args: &FireArgs) -> Result<ExitCode> {
    let Some(received) = read_event(args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    if let Some(client) = args.remote.client()? {
        return remote(&client, args, &received).await;
    }
    let config = Arc::new(load_config(global, matches)?);
    let event = received.event.clone();
    let selection = select(&config, &args.webhooks)?;
    let dispatcher = Dispatcher::new(config.clone())?;
    let targets = dispatcher.targets(&event, &selection);
    if let Some(w) = targets.iter().find(|w| w.event != event.kind())
        && !args.force
    {
        bail!(
            "webhook {} is for {} events and this is a {} event: its receiver may not expect it; add --force to send it anyway",
            w.label(),
            w.event.as_str(),
            event.kind().as_str()
        );
    }
    if targets.is_empty() {
        esay!(
            "herald: no webhook takes this {} event; `herald match` shows why, --webhook SEL sends regardless",
            event.kind().as_str()
        );
        return Ok(ExitCode::FAILURE);
    }
    if args.dry_run {
        let shown: Vec<_> = targets
            .iter()
            .map(|w| {
                notify::prepare(
                    &config,
                    w,
                    &event,
                    notify::Ids {
                        event: "",
                        delivery: &dispatch::new_delivery_id(),
                        thread: None,
                    },
                    0,
                )
                .map(|r| (w.label(), r.shown()))
            })
            .collect::<Result<_, _>>()?;
        if args.json {
            let list: Vec<_> = shown
                .iter()
                .map(|(label, r)| serde_json::json!({"webhook": label, "request": r}))
                .collect();
            say_json!(serde_json::to_string_pretty(&list)?);
        } else {
            for (label, r) in shown {
                say!("# webhook {label}");
                say!("{} {}", r.method, r.url);
                for (k, v) in &r.headers {
                    say!("{k}: {v}");
                }
                say!("\n{}\n", serde_json::to_string_pretty(&r.body)?);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }

    let engine = super::engine::open(global, config.clone()).await?;
    let (_, ids) = engine.accept(Source::Fire, received, &selection).await?;
    let mut events = engine.subscribe();
    let quiet = args.json;
    let progress = tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            if let CoreEvent::Attempted {
                label,
                number,
                attempt,
                retry_in: Some(wait),
                ..
            } = e
                && !quiet
            {
                esay!(
                    "{label} attempt {number}: {}; retrying in {}",
                    attempt.error.as_deref().unwrap_or("failed"),
                    humantime::format_duration(Duration::from_secs(wait.as_secs().max(1)))
                );
            }
        }
    });
    engine
        .drive(&ids, if args.retry { None } else { Some(1) })
        .await?;
    progress.abort();
    let all_ok = super::engine::print_outcomes(&engine, &ids, args.json).await?;
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The event to send, or `None` for env0's test event (acknowledged, nothing to send).
/// `fire --remote`: the serve builds, sends and journals; its config decides the requests.
async fn remote(
    client: &herald::api::client::Client,
    args: &FireArgs,
    received: &Received,
) -> Result<ExitCode> {
    if args.webhooks.is_empty() {
        bail!(
            "with --remote, name the webhooks to fire at (--webhook SEL; `herald tui --remote` or GET /api/v1/webhooks lists them)"
        );
    }
    if !args.force {
        let known = client.webhooks().await?;
        let kind = received.event.kind();
        for sel in &args.webhooks {
            // As `Config::select` reads a selector: a name first, then an index.
            let chosen = known
                .iter()
                .find(|w| w.name.as_deref() == Some(sel.as_str()))
                .or_else(|| sel.parse::<usize>().ok().and_then(|i| known.get(i)));
            if let Some(w) = chosen.filter(|w| w.event != kind) {
                bail!(
                    "webhook {} is for {} events and this is a {} event: its receiver may not expect it; add --force to send it anyway",
                    w.label,
                    w.event.as_str(),
                    kind.as_str()
                );
            }
        }
    }
    // What was read here is what is sent: the body as journaled (secrets scrubbed).
    let payload: serde_json::Value = serde_json::from_str(&received.body)?;
    if args.dry_run {
        let mut shown = Vec::new();
        for sel in &args.webhooks {
            let p = client
                .preview(
                    sel,
                    herald::api::client::Preview::Payload(payload.clone()),
                    80,
                )
                .await?;
            shown.push(p);
        }
        if args.json {
            let list: Vec<_> = shown
                .iter()
                .map(|p| serde_json::json!({"webhook": p.webhook, "request": p.request}))
                .collect();
            say_json!(serde_json::to_string_pretty(&list)?);
        } else {
            for p in shown {
                say!("# webhook {}", p.webhook);
                say!("{} {}", p.request.method, p.request.url);
                for (k, v) in &p.request.headers {
                    say!("{k}: {v}");
                }
                say!("\n{}\n", serde_json::to_string_pretty(&p.request.body)?);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let fired = client.fire(payload, &args.webhooks).await?;
    let rows: Vec<_> = fired
        .deliveries
        .into_iter()
        .map(|d| (d.delivery, d.attempts))
        .collect();
    let all_ok = super::engine::print_rows(&rows, args.json)?;
    Ok(if all_ok && !rows.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read_event(args: &FireArgs) -> Result<Option<Received>> {
    let bytes = match &args.payload {
        Some(p) => read_payload(p)?,
        None => match args.event {
            EventArg::Apply => fixtures::APPLY_SUCCESS,
            EventArg::Plan => fixtures::PLAN_FAILURE,
            EventArg::Drift => fixtures::DRIFT,
            EventArg::Env0 => fixtures::ENV0_DRIFT,
        }
        .as_bytes()
        .to_vec(),
    };
    let name = args.payload.as_ref().map_or_else(
        || "the bundled fixture".to_string(),
        |p| p.display().to_string(),
    );
    let shape = match args.event {
        EventArg::Apply => Shape::Apply,
        EventArg::Plan => Shape::Plan,
        EventArg::Drift => Shape::Drift,
        EventArg::Env0 => Shape::Env0,
    };
    match intake::read(&bytes, Some(shape)) {
        Ok(Inbound::Event(r)) => Ok(Some(r)),
        Ok(Inbound::Env0Test { .. }) => {
            esay!("herald: {name} is env0's test event: herald acknowledges it and sends nothing");
            Ok(None)
        }
        Ok(Inbound::Ignored { kind }) => {
            bail!("{name} is an env0 {kind} event, which herald does not send")
        }
        Err(e) => Err(
            anyhow::anyhow!("{name} is not a valid {:?} payload: {e}", args.event)
                .context("reading the payload"),
        ),
    }
}

fn select(config: &Config, sels: &[String]) -> Result<Selection> {
    if sels.is_empty() {
        return Ok(Selection::Route);
    }
    let mut indexes = Vec::new();
    for sel in sels {
        match config.select(sel) {
            Some(w) => indexes.push(w.index),
            None => {
                let known: Vec<String> = config.webhooks.iter().map(|w| w.label()).collect();
                bail!(
                    "no webhook {sel:?}: use a name or an index from 0 to {} ({})",
                    config.webhooks.len().saturating_sub(1),
                    known.join(", ")
                );
            }
        }
    }
    Ok(Selection::Only(indexes))
}
