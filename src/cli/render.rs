//! `herald render`: the exact body a webhook sends for a payload (its template's output,
//! checked as the destination checks it), or why it would not be sent.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{ArgMatches, Args};

use herald::intake::{self, Inbound};
use herald::notify;

use super::{Global, fixtures, load_config, read_payload};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The webhook (name or 0-based index)
    #[arg(long = "webhook", value_name = "SEL")]
    webhook: String,
    /// The payload [default: the first bundled fixture of the webhook's event]
    #[arg(long, value_name = "FILE")]
    payload: Option<PathBuf>,
}

pub fn run(global: &Global, matches: &ArgMatches, args: &RenderArgs) -> Result<ExitCode> {
    let config = load_config(global, matches)?;
    let Some(w) = config.select(&args.webhook) else {
        bail!(
            "no webhook is named or numbered {:?} (names: {})",
            args.webhook,
            config
                .webhooks
                .iter()
                .map(herald::config::Webhook::label)
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let bytes = match &args.payload {
        Some(p) => read_payload(p)?,
        None => fixtures::of_kind(w.event)
            .first()
            .map(|(_, json)| json.as_bytes().to_vec())
            .context("no bundled fixture for this event")?,
    };
    let event = match intake::read(&bytes, None)? {
        Inbound::Event(r) => r.event,
        other => bail!("this payload sends nothing: {:?}", other.into_event().err()),
    };
    match notify::prepare(
        &config,
        w,
        &event,
        notify::Ids::SHOWN,
        herald::clock::now_secs(),
    ) {
        Ok(request) => {
            let shown = request.shown();
            say!("{}", serde_json::to_string_pretty(&shown.body)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            esay!("herald: webhook {}: {e}", w.label());
            Ok(ExitCode::FAILURE)
        }
    }
}
