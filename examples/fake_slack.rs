//! A fake Slack Web API on 127.0.0.1 to test-fire herald at, without a Slack workspace.
//!
//! ```text
//! cargo run --example fake_slack -- --port 4190 --token xoxb-test
//! herald --slack-api-url http://127.0.0.1:4190/api --slack-token xoxb-test \
//!     fire --event apply --webhook 0 -c examples/configs/atlantis-server.yaml
//! ```
//!
//! Every message is printed as Slack would show it. To make it fail, start it with
//! `--answer not_in_channel` (or `channel_not_found`, `invalid_auth`, `429:2`, `500`,
//! `hang`, any Slack error code), or while it runs:
//! `curl -d not_in_channel http://127.0.0.1:4190/_fake/next` (the next answer) or
//! `curl -d 500 http://127.0.0.1:4190/_fake/default` (every answer from now on).

use clap::Parser;
use herald::fake::slack::{FakeSlack, Options, Scenario};

#[derive(Parser)]
#[command(about = "A fake Slack Web API on 127.0.0.1")]
struct Args {
    /// Port on 127.0.0.1
    #[arg(long, default_value_t = 4190)]
    port: u16,
    /// The only token accepted (any non-empty token when not given)
    #[arg(long)]
    token: Option<String>,
    /// How to answer posts: ok, not_in_channel, channel_not_found, invalid_auth, 429:N, 500, hang, ...
    #[arg(long, default_value = "ok")]
    answer: Scenario,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let color = std::env::var_os("NO_COLOR").is_none();
    let fake = FakeSlack::start(Options {
        port: args.port,
        token: args.token,
        default: args.answer,
        print: Some(color),
        channels: Vec::new(),
    })
    .await?;
    println!("fake Slack listening: --slack-api-url {}", fake.api_url());
    println!("incoming webhook URL: {}", fake.incoming_url());
    println!("Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
