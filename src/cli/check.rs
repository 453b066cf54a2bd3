//! `herald check`: every problem of the config at once, located, and the Slack token
//! tested once.

use std::process::ExitCode;

use anyhow::Result;
use clap::{ArgMatches, Args};

use herald::config::{self, Config, Diagnostic, EventKind, Location, Report};
use herald::notify;

use super::{Global, load_options};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Do not call Slack's auth.test
    #[arg(long)]
    offline: bool,
    /// Exit 1 on warnings too
    #[arg(long)]
    strict: bool,
}

pub async fn run(global: &Global, matches: &ArgMatches, args: &CheckArgs) -> Result<ExitCode> {
    let opts = load_options(global, matches);
    if opts.path.is_none() {
        anyhow::bail!(
            "no config to check: give --config FILE (or HERALD_CONFIG), or create ./herald.yaml"
        );
    }
    let (config, mut report) = match config::load(&opts) {
        Ok((c, r)) => (Some(c), r),
        Err(r) => (None, r),
    };
    if let (Some(config), false) = (&config, args.offline)
        && let Some(d) = test_slack_token(config).await
    {
        report.push(d);
    }
    if let Some(config) = &config {
        for d in render_templates(config) {
            report.push(d);
        }
    }
    say_part!("{report}");
    let summary = match &config {
        Some(c) if report.errors() == 0 => format!("{}: {}", report.file, describe(c)),
        _ => report.file.clone(),
    };
    say!("{summary}: {}", counts(&report));
    let failed = report.errors() > 0 || (args.strict && report.warnings() > 0);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Renders every webhook's template against every bundled payload of its event, as it
/// would be sent (the destination's own checks included): a template that fails on a
/// real shape of event is an error here, not a failed delivery later.
fn render_templates(config: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for w in config.webhooks.iter().filter(|w| w.template.is_some()) {
        for (name, json) in super::fixtures::of_kind(w.event) {
            let Ok(herald::intake::Inbound::Event(r)) = herald::intake::read(json.as_bytes(), None)
            else {
                continue;
            };
            if let Err(e) = notify::prepare(config, w, &r.event, notify::Ids::SHOWN, 0) {
                out.push(Diagnostic::error(
                    Location::File(config::yaml_pos::Pos {
                        line: w.line,
                        col: 1,
                    }),
                    format!("webhook {} on {name}: {e}", w.label()),
                ));
            }
        }
    }
    out
}

/// Calls `auth.test` once for the token, when a webhook needs it. Atlantis calls it once
/// per Slack apply entry and never for drift entries; once per token is enough and covers
/// both.
async fn test_slack_token(config: &Config) -> Option<Diagnostic> {
    let token = config.slack_token.as_ref()?;
    let first = config
        .webhooks
        .iter()
        .find(|w| w.target.uses_slack_token())?;
    let client = match notify::client() {
        Ok(c) => c,
        Err(e) => {
            return Some(Diagnostic::error(
                Location::Flag("herald".into()),
                format!("cannot set up HTTP: {e}"),
            ));
        }
    };
    let result = notify::slack::auth_test(&client, &config.slack_api_url, token.expose()).await;
    let err = result.err()?;
    let location = config
        .slack_token_location
        .clone()
        .unwrap_or(Location::File(config::yaml_pos::Pos {
            line: first.line,
            col: 1,
        }));
    Some(Diagnostic::error(
        location,
        format!("testing slack authentication: {err}. Verify your slack-token is valid"),
    ))
}

fn describe(c: &Config) -> String {
    let n = c.webhooks.len();
    let count = |k: EventKind| c.webhooks.iter().filter(|w| w.event == k).count();
    let plan = count(EventKind::Plan);
    // Plan webhooks are named only when there are some: the line stays as it was for a
    // config Atlantis reads today.
    let plans = if plan > 0 {
        format!(", {plan} plan")
    } else {
        String::new()
    };
    let mut line = format!(
        "{n} webhook{} ({} apply{plans}, {} drift)",
        if n == 1 { "" } else { "s" },
        count(EventKind::Apply),
        count(EventKind::Drift)
    );
    // The schedules serve will run, said as they will run (secrets never shown).
    let schedules = &c.herald.drift_schedule;
    if !schedules.is_empty() {
        let each: Vec<String> = schedules
            .iter()
            .map(|s| {
                format!(
                    "{} {} via {}",
                    s.subject(),
                    s.when.describe(),
                    herald::redact::url_origin(&s.atlantis_url)
                )
            })
            .collect();
        line.push_str(&format!(
            ", {} drift schedule{} ({})",
            schedules.len(),
            if schedules.len() == 1 { "" } else { "s" },
            each.join("; ")
        ));
    }
    if let Some(d) = c.herald.drift_stale_after {
        line.push_str(&format!(", stale after {}", humantime::format_duration(d)));
    }
    line
}

fn counts(r: &Report) -> String {
    let (e, w) = (r.errors(), r.warnings());
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if e == 0 && w == 0 {
        "OK".to_string()
    } else {
        format!("{}, {}", plural(e, "error"), plural(w, "warning"))
    }
}
