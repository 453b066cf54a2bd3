//! `herald match`: for each webhook, would this event be sent, and why.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{ArgMatches, Args};

use herald::config::{Config, EventKind};
use herald::event::{ApplyResult, DriftReport, DriftResult, Event, Relayed, Subject};
use herald::intake::{self, Inbound};
use herald::route::{self, Decision, Reason};

use super::{Global, load_config, read_payload};

#[derive(Debug, Args)]
pub struct MatchArgs {
    /// Which event
    #[arg(long, value_enum)]
    event: MatchEvent,
    /// A payload file (Atlantis apply or drift JSON, or an env0 webhook)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["workspace", "branch", "project", "directory"])]
    payload: Option<PathBuf>,
    /// The run's workspace
    #[arg(long, value_name = "W")]
    workspace: Option<String>,
    /// The PR's base branch
    #[arg(long, value_name = "B")]
    branch: Option<String>,
    /// The run's project name (what project-regex is tested against)
    #[arg(long, value_name = "P")]
    project: Option<String>,
    /// The run's directory (what directory-regex is tested against)
    #[arg(long, value_name = "DIR")]
    directory: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MatchEvent {
    Apply,
    Plan,
    Drift,
}

pub fn run(global: &Global, matches: &ArgMatches, args: &MatchArgs) -> Result<ExitCode> {
    let config = load_config(global, matches)?;
    let event = build_event(args)?;
    let decisions = route::decide_all(&config.webhooks, &event);
    if args.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "event": event.kind(),
                "workspace": event.subject(Subject::Workspace),
                "base_branch": event.subject(Subject::BaseBranch),
                "project": event.subject(Subject::Project),
                "directory": event.subject(Subject::Directory),
                "webhooks": decisions,
            }))?
        );
    } else {
        say_part!("{}", explain(&config, &event, &decisions));
    }
    Ok(if decisions.iter().any(|d| d.matched) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn build_event(args: &MatchArgs) -> Result<Event> {
    let want = match args.event {
        MatchEvent::Apply => EventKind::Apply,
        MatchEvent::Plan => EventKind::Plan,
        MatchEvent::Drift => EventKind::Drift,
    };
    let event = match &args.payload {
        Some(path) => match intake::read(&read_payload(path)?, None)? {
            Inbound::Event(r) => r.event,
            Inbound::Env0Test { .. } => bail!(
                "{} is env0's test event, which is never sent to webhooks",
                path.display()
            ),
            Inbound::Ignored { kind } => bail!(
                "{} is an env0 {kind} event, which herald does not send",
                path.display()
            ),
        },
        None => match want {
            EventKind::Apply | EventKind::Plan => {
                let mut a: ApplyResult =
                    serde_json::from_str(r#"{"Workspace":"","Pull":{},"Success":true}"#)?;
                a.workspace = args
                    .workspace
                    .clone()
                    .unwrap_or_else(|| "default".to_string());
                a.pull.base_branch = args.branch.clone().unwrap_or_else(|| "main".to_string());
                a.project_name = args.project.clone().unwrap_or_default();
                a.directory = args.directory.clone().unwrap_or_else(|| ".".to_string());
                if want == EventKind::Plan {
                    a.event = Some("plan".into());
                    Event::Plan(Relayed::new(a))
                } else {
                    Event::Apply(Relayed::new(a))
                }
            }
            EventKind::Drift => Event::Drift(Relayed::new(DriftReport {
                result: DriftResult {
                    repository: String::new(),
                    git_ref: args.branch.clone().unwrap_or_default(),
                    detection_id: String::new(),
                    projects_with_drift: 0,
                    total_projects: 0,
                    projects: Vec::new(),
                },
                env0: None,
            })),
        },
    };
    if event.kind() != want {
        bail!(
            "the payload is {} event, not {}",
            article(event.kind()),
            article(want)
        );
    }
    Ok(event)
}

fn article(k: EventKind) -> String {
    match k {
        EventKind::Apply => "an apply".to_string(),
        EventKind::Plan => "a plan".to_string(),
        EventKind::Drift => "a drift".to_string(),
    }
}

/// The human-readable explanation.
fn explain(config: &Config, event: &Event, decisions: &[Decision]) -> String {
    let mut out = match event {
        Event::Apply(a) | Event::Plan(a) => format!(
            "{} event: workspace {:?}, base branch {:?}, project {:?}, directory {:?}\n",
            event.kind().as_str(),
            a.workspace,
            a.pull.base_branch,
            a.project_name,
            a.directory
        ),
        Event::Drift(_) | Event::Notice(_) => "drift event\n".to_string(),
    };
    if decisions.is_empty() {
        out.push_str("no webhooks are configured\n");
    }
    for d in decisions {
        let w = &config.webhooks[d.index];
        let verdict = if d.matched { "MATCH" } else { "no match" };
        out.push_str(&format!(
            "{} {} {} ({}): {verdict}\n",
            w.label(),
            w.target.kind(),
            w.target.display(),
            w.event.as_str()
        ));
        match &d.reason {
            Reason::OtherEvent { webhook } => {
                out.push_str(&format!(
                    "    this webhook is for {} events\n",
                    webhook.as_str()
                ));
            }
            Reason::Drift => out
                .push_str("    drift webhooks receive every drift report (filters do not apply)\n"),
            Reason::DriftErrors { setting, errored } => out.push_str(&if *errored {
                format!("    drift-errors: {setting} leaves out reports with errored projects\n")
            } else {
                format!("    drift-errors: {setting} takes only reports with errored projects\n")
            }),
            Reason::Filters { tests } => {
                for t in tests {
                    let line = if t.pattern.is_empty() {
                        format!("{} is unset: matches every {}", t.key, t.subject)
                    } else if t.matched {
                        format!(
                            "{} {:?} matched {} {:?} at {}",
                            t.key,
                            t.pattern,
                            t.subject,
                            t.value,
                            t.marked()
                        )
                    } else {
                        format!(
                            "{} {:?} did not match {} {:?}",
                            t.key, t.pattern, t.subject, t.value
                        )
                    };
                    out.push_str(&format!("    {line}\n"));
                }
            }
        }
    }
    out
}
