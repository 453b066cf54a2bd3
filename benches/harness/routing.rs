//! Routing: 1,000 webhooks × 10,000 apply events through `route::matches`, the function
//! the dispatcher calls for every event and webhook.

use std::time::Instant;

use herald::config::{LoadOptions, load_str};
use herald::event::{Event, Relayed};
use herald::intake::{self, Inbound, Received};

use super::{Options, Row, thousands};

/// A config of `n` webhooks in the shapes people write: apply webhooks with workspace and
/// branch filters (anchored, alternations, character classes, unset), Slack and HTTP, and
/// a few drift webhooks.
pub fn big_config(n: usize) -> String {
    let mut s = String::from(
        "slack-token: xoxb-bench-token\nwebhook-http-headers: '{\"Authorization\": \"Bearer bench\"}'\nwebhooks:\n",
    );
    for i in 0..n {
        let (ws, br) = match i % 5 {
            0 => (format!("^prod-{i}$"), "^main$".to_string()),
            1 => (format!("(stage|prod)-{}", i % 50), String::new()),
            2 => (String::new(), "^release/v[0-9]+\\.[0-9]+$".to_string()),
            3 => (
                format!("^team-{}-[a-z]+$", i % 20),
                "main|master".to_string(),
            ),
            _ => (String::new(), String::new()),
        };
        let target = if i % 2 == 0 {
            format!("kind: slack\n    channel: c-{i}")
        } else {
            format!("kind: http\n    url: https://hooks.example.com/herald/{i}")
        };
        let event = if i % 50 == 49 { "drift" } else { "apply" };
        s.push_str(&format!(
            "  - event: {event}\n    {target}\n    workspace-regex: '{ws}'\n    branch-regex: '{br}'\n"
        ));
    }
    s
}

fn events(n: usize) -> Vec<Event> {
    let Ok(Inbound::Event(Received {
        event: Event::Apply(base),
        ..
    })) = intake::read(
        include_bytes!("../../examples/payloads/apply-success.json"),
        None,
    )
    else {
        panic!("the apply fixture parses");
    };
    (0..n)
        .map(|i| {
            let mut a = base.parsed().clone();
            a.workspace = match i % 4 {
                0 => format!("prod-{}", i % 1000),
                1 => format!("stage-{}", i % 50),
                2 => format!("team-{}-core", i % 20),
                _ => "default".into(),
            };
            a.pull.base_branch = match i % 3 {
                0 => "main".into(),
                1 => format!("release/v1.{}", i % 10),
                _ => "feature/x".into(),
            };
            Event::Apply(Relayed::new(a))
        })
        .collect()
}

pub fn rows(o: &Options) -> Vec<Row> {
    let hooks = 1_000;
    let n = usize::try_from(o.size(10_000, 200)).unwrap_or(200);
    let (config, _) = load_str(&big_config(hooks), "bench.yaml", &LoadOptions::default())
        .expect("the generated config loads");
    let events = events(n);
    let started = Instant::now();
    let mut matched = 0u64;
    for e in &events {
        for w in &config.webhooks {
            matched += u64::from(herald::route::matches(w, e));
        }
    }
    let took = started.elapsed();
    let decisions = (hooks * n) as f64;
    let rate = decisions / took.as_secs_f64();
    assert!(matched > 0, "some events match");
    vec![Row {
        figure: format!(
            "routing: {} webhooks × {} apply events ({} matched)",
            thousands(hooks as f64),
            thousands(n as f64),
            thousands(matched as f64)
        ),
        measured: format!("{:.1} M decisions/s", rate / 1e6),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "≥ 5 M decisions/s".into(),
        met: rate >= 5e6,
        gap: "each decision runs up to two regexes.",
    }]
}
