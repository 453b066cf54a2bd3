//! `herald serve`: the engine and the ingest API, headless.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{ArgMatches, Args};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use herald::config::{self, Config};
use herald::dispatch::Engine;

use super::{Global, load_config, load_options};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen on a non-loopback address without an ingest token (anyone who reaches the
    /// port can then post events)
    #[arg(long)]
    insecure_no_token: bool,
    /// How long attempts in flight may finish after SIGINT/SIGTERM
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    grace: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    config::parse_duration(s)
}

/// Retention defaults: 30 days, a million events.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
const DEFAULT_MAX_EVENTS: u64 = 1_000_000;

pub async fn run(global: &Global, matches: &ArgMatches, args: &ServeArgs) -> Result<ExitCode> {
    super::init_logging("info");
    let config = Arc::new(load_config(global, matches)?);
    let addr: SocketAddr = global.listen.parse().with_context(|| {
        format!(
            "--listen {:?} is not an address such as 127.0.0.1:4141",
            global.listen
        )
    })?;
    refuse_open_listen(addr, &config, args.insecure_no_token)?;
    let engine = super::engine::open(global, config.clone()).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let shutdown = CancellationToken::new();
    tracing::info!(
        "listening on http://{}, journal {}, {} webhooks",
        listener.local_addr()?,
        engine.reader().at(),
        config.webhooks.len()
    );

    let worker = tokio::spawn({
        let (engine, shutdown, grace) = (engine.clone(), shutdown.clone(), args.grace);
        async move { engine.run(shutdown, grace).await }
    });
    tokio::spawn(prune_forever(engine.clone(), shutdown.clone()));
    tokio::spawn(herald::schedule::run(engine.clone(), shutdown.clone()));
    tokio::spawn(signals(
        engine.clone(),
        load_options(global, matches),
        shutdown.clone(),
    ));
    herald::ingest::serve_with(
        listener,
        engine,
        shutdown.clone(),
        herald::ingest::Limits::default(),
        Some(load_options(global, matches)),
    )
    .await?;
    // The listener is closed: let the workers finish what is in flight.
    let _ = worker.await;
    tracing::info!("stopped; anything not delivered stays in the journal for the next start");
    Ok(ExitCode::SUCCESS)
}

/// On a non-loopback address, an ingest token is required unless explicitly waived.
fn refuse_open_listen(addr: SocketAddr, config: &Config, insecure: bool) -> Result<()> {
    if !addr.ip().is_loopback() && config.herald.ingest_token.is_none() && !insecure {
        bail!(
            "refusing to listen on {addr} without an ingest token: anyone who reaches it could post events \
             that go to your Slack and receivers. Set herald.ingest-token in the config (clients then send \
             Authorization: Bearer <token>), or pass --insecure-no-token"
        );
    }
    Ok(())
}

/// SIGINT/SIGTERM stop; SIGHUP reloads the config (a bad one is reported and ignored).
async fn signals(engine: Engine, opts: config::LoadOptions, shutdown: CancellationToken) {
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = hup.recv() => match config::load(&opts) {
                Ok((new, report)) => {
                    for line in report.to_string().lines() {
                        tracing::warn!("{line}");
                    }
                    tracing::info!("config reloaded: {} webhooks", new.webhooks.len());
                    engine.reload(Arc::new(new));
                }
                Err(report) => {
                    for line in report.to_string().lines() {
                        tracing::error!("{line}");
                    }
                    tracing::error!("the new config has errors; keeping the previous one");
                }
            },
        }
    }
    tracing::info!("stopping: no new events accepted");
    shutdown.cancel();
}

async fn prune_forever(engine: Engine, shutdown: CancellationToken) {
    loop {
        let settings = engine.config().herald.clone();
        let max_age = settings.retention_max_age.unwrap_or(DEFAULT_MAX_AGE);
        let max_events = settings.retention_max_events.unwrap_or(DEFAULT_MAX_EVENTS);
        match engine.prune(max_age, max_events).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("pruned {n} old events from the journal"),
            Err(e) => tracing::error!("cannot prune the journal: {e}"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}
