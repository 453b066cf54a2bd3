//! The command line: flags shared by every command, and one module per command.

/// `println!` for text that may carry what others sent (event fields, receiver errors):
/// characters a terminal would act on are shown as escapes, never sent.
macro_rules! say {
    ($($arg:tt)*) => { println!("{}", herald::printable::clean(&format!($($arg)*))) };
}

/// `print!` with the same cleaning as [`say!`].
macro_rules! say_part {
    ($($arg:tt)*) => { print!("{}", herald::printable::clean(&format!($($arg)*))) };
}

/// `eprintln!` with the same cleaning as [`say!`].
macro_rules! esay {
    ($($arg:tt)*) => { eprintln!("{}", herald::printable::clean(&format!($($arg)*))) };
}

/// `eprint!` with the same cleaning as [`say!`].
macro_rules! esay_part {
    ($($arg:tt)*) => { eprint!("{}", herald::printable::clean(&format!($($arg)*))) };
}

/// Prints JSON text with C1 and bidi characters escaped: still the same JSON.
macro_rules! say_json {
    ($text:expr) => {
        println!("{}", herald::printable::json(&$text))
    };
}

mod check;
#[cfg(feature = "tui")]
mod console;
mod engine;
mod fire;
mod fixtures;
mod log;
mod matching;
mod render;
mod replay;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Parser, Subcommand, ValueEnum};

use herald::config::{self, Config, LoadOptions, Location, Report};

/// herald: Atlantis and env0 notifications, delivered and on screen.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Without a command, herald opens the console.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command takes: flag, then environment variable, then config-file key.
#[derive(Debug, Args)]
pub struct Global {
    /// Atlantis server config (or Helm values with `config: |`) [default: ./herald.yaml]
    #[arg(short, long, env = "HERALD_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Slack bot token (xoxb-...)
    #[arg(
        long,
        env = "ATLANTIS_SLACK_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "T"
    )]
    pub slack_token: Option<String>,
    /// JSON object of headers sent on every HTTP webhook; values a string or an array of strings
    #[arg(
        long,
        env = "ATLANTIS_WEBHOOK_HTTP_HEADERS",
        global = true,
        hide_env_values = true,
        value_name = "JSON"
    )]
    pub webhook_http_headers: Option<String>,
    /// Slack Web API base URL
    // A proxy URL may carry credentials: `--help` must not print the environment's value.
    #[arg(
        long,
        env = "HERALD_SLACK_API_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub slack_api_url: Option<String>,
    /// Whether Slack messages show the PR description (Atlantis' flag) [default: true]
    #[arg(
        long,
        env = "ATLANTIS_SLACK_INCLUDE_BODY",
        global = true,
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub slack_include_body: Option<bool>,
    /// Where the journal lives [default: the platform data dir, $XDG_DATA_HOME/herald]
    #[arg(long, env = "HERALD_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The journal: sqlite:DIR (the default: DIR is the data directory) or postgres://…
    /// (several serve replicas on one database; credentials are never shown)
    #[arg(
        long,
        env = "HERALD_JOURNAL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub journal: Option<String>,
    /// Ingest address for serve and the console
    #[arg(
        long,
        env = "HERALD_LISTEN",
        global = true,
        default_value = "127.0.0.1:4141",
        value_name = "ADDR"
    )]
    pub listen: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The console: webhooks, live events, drift, replay, test-fire, filter editing
    #[cfg(feature = "tui")]
    Tui(console::TuiArgs),
    /// The console with a fake Slack, a fake receiver and sample events: nothing to set up
    #[cfg(feature = "tui")]
    Demo(console::TuiArgs),
    /// Validate the config: every problem as FILE:LINE:COL, Slack token tested once
    Check(check::CheckArgs),
    /// Show, for each webhook, whether an event would be sent to it and why
    Match(matching::MatchArgs),
    /// Send a payload (a bundled fixture by default) through the dispatcher
    Fire(fire::FireArgs),
    /// Print the exact body a webhook sends for a payload (its template rendered)
    Render(render::RenderArgs),
    /// Run the engine and the ingest API without the console
    Serve(serve::ServeArgs),
    /// Send a journaled event or delivery again (or every failed delivery)
    Replay(replay::ReplayArgs),
    /// Show the journal's deliveries, newest first
    Log(log::LogArgs),
    /// Mint a Standard Webhooks signing secret (`whsec_` + 32 random bytes) for `secret:`
    Secret,
}

/// The `--event` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventArg {
    /// An Atlantis apply result.
    Apply,
    /// An Atlantis plan result (Atlantis PR #5978).
    Plan,
    /// An Atlantis drift report.
    Drift,
    /// An env0 webhook (drift detected or test).
    Env0,
}

/// Runs the parsed command.
pub async fn run(cli: Cli, matches: &ArgMatches) -> Result<ExitCode> {
    let Some(command) = &cli.command else {
        #[cfg(feature = "tui")]
        return console::tui(&cli.global, matches, &console::TuiArgs::default()).await;
        #[cfg(not(feature = "tui"))]
        anyhow::bail!("this herald was built without the console; see herald --help");
    };
    match command {
        #[cfg(feature = "tui")]
        Command::Tui(args) => console::tui(&cli.global, matches, args).await,
        #[cfg(feature = "tui")]
        Command::Demo(args) => console::demo(args).await,
        Command::Check(args) => check::run(&cli.global, matches, args).await,
        Command::Match(args) => matching::run(&cli.global, matches, args),
        Command::Fire(args) => fire::run(&cli.global, matches, args).await,
        Command::Render(args) => render::run(&cli.global, matches, args),
        Command::Serve(args) => serve::run(&cli.global, matches, args).await,
        Command::Replay(args) => replay::run(&cli.global, matches, args).await,
        Command::Log(args) => log::run(&cli.global, args).await,
        Command::Secret => {
            let secret = herald::notify::sign::new_secret()
                .map_err(|e| anyhow::anyhow!("the operating system gives no randomness: {e}"))?;
            say!("{secret}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Logs to stderr; `HERALD_LOG` overrides the level (`debug`, `herald=trace`, ...).
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _already = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .try_init();
}

/// Where a global option's value came from, looked up in the subcommand's matches too
/// (clap propagates global options there).
fn origin(matches: &ArgMatches, id: &str, flag: &str, env: &str) -> Location {
    let source = matches
        .subcommand()
        .and_then(|(_, sub)| sub.value_source(id))
        .or_else(|| matches.value_source(id));
    match source {
        Some(ValueSource::EnvVariable) => Location::Env(env.to_string()),
        _ => Location::Flag(flag.to_string()),
    }
}

/// The load options the flags and environment give.
pub fn load_options(global: &Global, matches: &ArgMatches) -> LoadOptions {
    LoadOptions {
        path: global.config.clone().or_else(config::default_path),
        slack_token: global.slack_token.clone().map(|t| {
            (
                t,
                origin(
                    matches,
                    "slack_token",
                    "--slack-token",
                    "ATLANTIS_SLACK_TOKEN",
                ),
            )
        }),
        http_headers: global.webhook_http_headers.clone().map(|h| {
            (
                h,
                origin(
                    matches,
                    "webhook_http_headers",
                    "--webhook-http-headers",
                    "ATLANTIS_WEBHOOK_HTTP_HEADERS",
                ),
            )
        }),
        slack_api_url: global.slack_api_url.clone(),
        slack_include_body: global.slack_include_body,
        ..LoadOptions::default()
    }
}

/// Loads the config for a command that needs a valid one; on errors prints them (to
/// stderr) and fails. Warnings are printed too, since they explain surprising routing.
pub fn load_config(global: &Global, matches: &ArgMatches) -> Result<Config> {
    let opts = load_options(global, matches);
    if opts.path.is_none() {
        anyhow::bail!("no config: give --config FILE (or HERALD_CONFIG), or create ./herald.yaml");
    }
    match config::load(&opts) {
        Ok((config, report)) => {
            esay_part!("{report}");
            Ok(config)
        }
        Err(report) => {
            esay_part!("{report}");
            Err(anyhow::anyhow!(errors_summary(&report)))
        }
    }
}

fn errors_summary(report: &Report) -> String {
    let n = report.errors();
    format!(
        "{}: {n} error{} in the config (see above)",
        report.file,
        if n == 1 { "" } else { "s" }
    )
}

/// Reads a payload file.
/// Where a command acts: a `herald serve`'s operator API instead of the local journal.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RemoteArgs {
    /// Act on the herald serve at this URL through its operator API instead of a local journal
    #[arg(long, env = "HERALD_REMOTE", value_name = "URL")]
    pub remote: Option<String>,
    /// The operator (or, to read, viewer) token of that serve's API
    #[arg(
        long,
        env = "HERALD_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

impl RemoteArgs {
    /// The API client, when `--remote` is given.
    ///
    /// # Errors
    /// A URL that is not http(s).
    pub fn client(&self) -> Result<Option<herald::api::client::Client>> {
        self.remote
            .as_deref()
            .map(|url| herald::api::client::Client::remote(url, self.token.clone()))
            .transpose()
            .map_err(Into::into)
    }
}

pub fn read_payload(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the payload {}", path.display()))
}
