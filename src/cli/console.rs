//! `herald` / `herald tui` and `herald demo`: the console.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{ArgMatches, Args};
use tokio_util::sync::CancellationToken;

use herald::api::client::Client;
use herald::config;
use herald::dispatch::{Engine, EngineOptions};
use herald::store::{Commit, Journal};
use herald::tui::run::{Options, Target, TuiError};
use herald::tui::theme::Theme;

use super::{Global, fixtures, load_config, load_options};

#[derive(Debug, Args, Default)]
pub struct TuiArgs {
    /// Theme: default, light, high-contrast, nord, or a path to a .toml file
    #[arg(long, value_name = "NAME|FILE")]
    theme: Option<String>,
    #[command(flatten)]
    remote: super::RemoteArgs,
    /// Refuse every action from this console (replay, fire, pause, filters), whatever the token allows
    #[arg(long)]
    readonly: bool,
}

/// The theme: `--theme`, else the config's `herald.theme`, else the default; `NO_COLOR`
/// (set and not empty) turns colour off whatever the theme.
fn theme(args: &TuiArgs, configured: Option<&str>) -> Result<Theme> {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return Ok(Theme::mono());
    }
    let name = args
        .theme
        .clone()
        .or_else(|| configured.map(str::to_string))
        .unwrap_or_else(|| "default".into());
    Ok(Theme::load(&name)?)
}

fn no_terminal() -> Result<ExitCode> {
    esay!("herald: {}", TuiError::NoTerminal);
    Ok(ExitCode::from(2))
}

fn is_terminal() -> bool {
    use std::io::IsTerminal as _;
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

pub async fn tui(global: &Global, matches: &ArgMatches, args: &TuiArgs) -> Result<ExitCode> {
    if !is_terminal() {
        return no_terminal();
    }
    if let Some(client) = args.remote.client()? {
        // The serve holds the config; only the look is chosen here.
        let theme = theme(args, None)?;
        return run(Target::Remote(client), theme, args.readonly).await;
    }
    let config = Arc::new(load_config(global, matches)?);
    let theme = theme(args, config.herald.theme.as_deref())?;
    let addr: SocketAddr = global
        .listen
        .parse()
        .with_context(|| format!("--listen {:?} is not an address", global.listen))?;
    if !addr.ip().is_loopback() && config.herald.ingest_token.is_none() {
        anyhow::bail!(
            "refusing to listen on {addr} without an ingest token: set herald.ingest-token (or use 127.0.0.1)"
        );
    }
    // A `serve` already answering there would otherwise meet a second engine (and a
    // bare "Address already in use"): say what is there and what to do.
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            if serve_at(addr).await {
                // A serve is there: attach to it rather than start a second engine.
                let client = Client::remote(&format!("http://{addr}"), args.remote.token.clone())?;
                return run(Target::Remote(client), theme, args.readonly).await;
            }
            return Err(e).with_context(|| {
                format!(
                    "cannot listen on {addr}: something else uses it; give --listen another address"
                )
            });
        }
        Err(e) => return Err(e).with_context(|| format!("cannot listen on {addr}")),
    };
    let engine = super::engine::open(global, config).await?;
    log_to_file(global)?;
    let target = Target::InProcess {
        engine,
        listener,
        load: Box::new(load_options(global, matches)),
    };
    run(target, theme, args.readonly).await
}

/// Whether a herald `serve` answers at `addr`: its operator API answers, or refuses the
/// console for want of a token (which is still a serve to attach to, with `--token`).
async fn serve_at(addr: SocketAddr) -> bool {
    let Ok(client) = Client::remote(&format!("http://{addr}"), None) else {
        return false;
    };
    let answer = tokio::time::timeout(Duration::from_secs(2), client.status()).await;
    match answer {
        Ok(Ok(_)) => true,
        // herald's own refusal names its operator API; another program's 401 does not.
        Ok(Err(herald::api::client::ClientError::Api { error, .. })) => {
            error.contains("operator API")
        }
        _ => false,
    }
}

pub async fn demo(args: &TuiArgs) -> Result<ExitCode> {
    if !is_terminal() {
        return no_terminal();
    }
    let demo = herald::demo::Demo::start()
        .await
        .context("starting the demo's fake Slack and receiver")?;
    // Removed when this function returns, however it returns (a bad --theme included).
    let tmp = tempfile::Builder::new()
        .prefix("herald-demo-")
        .tempdir()
        .context("creating the demo's temporary directory")?;
    let dir = tmp.path();
    let path = dir.join("herald.yaml");
    std::fs::write(&path, &demo.config)?;
    let load = config::LoadOptions {
        path: Some(path.clone()),
        slack_api_url: Some(demo.slack.api_url()),
        ..config::LoadOptions::default()
    };
    let (config, _) =
        config::load(&load).map_err(|r| anyhow::anyhow!("the demo config does not load:\n{r}"))?;
    let config = Arc::new(config);
    let theme = theme(args, config.herald.theme.as_deref())?;
    let journal = Journal::open(&dir.join("data"), Commit::Grouped)?;
    let engine = Engine::new(config, journal, EngineOptions::default())?;
    // The demo takes any free port, so it never clashes with a real herald.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let stop = CancellationToken::new();
    tokio::spawn(herald::demo::feed(
        engine.clone(),
        Duration::from_secs(3),
        stop.clone(),
    ));
    let target = Target::InProcess {
        engine,
        listener,
        load: Box::new(load),
    };
    let code = run(target, theme, args.readonly).await;
    stop.cancel();
    drop(tmp);
    code
}

async fn run(target: Target, theme: Theme, readonly: bool) -> Result<ExitCode> {
    let mut fx: Vec<(String, String)> = fixtures::all()
        .map(|(n, b)| (n.to_string(), b.to_string()))
        .collect();
    fx.sort();
    let options = Options {
        theme,
        fixtures: fx,
        readonly,
    };
    match herald::tui::run::run(target, options).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(TuiError::NoTerminal) => no_terminal(),
        Err(e @ TuiError::Attach { .. }) => {
            esay!("herald: {e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

/// The console owns the screen, so logs go to a file in the data directory.
fn log_to_file(global: &Global) -> Result<()> {
    let dir = super::engine::data_dir(global)?;
    std::fs::create_dir_all(&dir)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("herald.log"))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _already = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .try_init();
    Ok(())
}
