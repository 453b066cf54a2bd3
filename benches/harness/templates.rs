//! Template rendering: what a webhook's `template:` costs per event, beside building the
//! same kind's own body (the plain path) in the same run, for the bundled templates of
//! `examples/templates/`.

use std::time::Instant;

use herald::config::load_str;
use herald::intake::{self, Inbound};

use super::{Options, Row};

/// The bundled templates with the kind and event each is for.
const TEMPLATES: [(&str, &str, &str, &str); 3] = [
    (
        "slack-compact.j2",
        "kind: slack\n    channel: C1",
        "apply",
        include_str!("../../examples/templates/slack-compact.j2"),
    ),
    (
        "teams-drift.j2",
        "kind: msteams\n    url: https://prod-1.westus.logic.azure.com/workflows/a/triggers/manual/paths/invoke?sig=x",
        "drift",
        include_str!("../../examples/templates/teams-drift.j2"),
    ),
    (
        "http-summary.j2",
        "kind: http\n    url: https://x.example/h",
        "apply",
        include_str!("../../examples/templates/http-summary.j2"),
    ),
];

fn config(keys: &str, event: &str, template: Option<&str>) -> herald::config::Config {
    let mut text = format!("slack-token: xoxb-bench\nwebhooks:\n  - event: {event}\n    {keys}\n");
    if let Some(t) = template {
        text.push_str("    template: |\n");
        for l in t.lines() {
            text.push_str(&format!("      {l}\n"));
        }
    }
    load_str(&text, "bench.yaml", &herald::config::LoadOptions::default())
        .expect("the bench config loads")
        .0
}

/// Microseconds per `notify::prepare` (render, parse, the kind's build) over `n` runs.
fn per_prepare(c: &herald::config::Config, event: &herald::event::Event, n: u64) -> f64 {
    let w = &c.webhooks[0];
    let started = Instant::now();
    for _ in 0..n {
        let r =
            herald::notify::prepare(c, w, event, herald::notify::Ids::SHOWN, 0).expect("prepares");
        std::hint::black_box(r);
    }
    started.elapsed().as_secs_f64() * 1e6 / n as f64
}

pub fn rows(o: &Options) -> Vec<Row> {
    let n = o.size(20_000, 500);
    let events = |kind: &str| {
        let body: &[u8] = if kind == "drift" {
            include_bytes!("../../examples/payloads/drift-detected.json")
        } else {
            include_bytes!("../../examples/payloads/apply-failure.json")
        };
        match intake::read(body, None) {
            Ok(Inbound::Event(r)) => r.event,
            _ => panic!("fixture"),
        }
    };
    TEMPLATES
        .iter()
        .map(|(name, keys, kind, source)| {
            let event = events(kind);
            let plain = per_prepare(&config(keys, kind, None), &event, n);
            let templated = per_prepare(&config(keys, kind, Some(source)), &event, n);
            Row {
                figure: format!("template `{name}`: one body prepared ({kind} event, mean of {n})"),
                measured: format!("{templated:.1} µs"),
                baseline: format!("the kind's own body: {plain:.1} µs"),
                ratio: format!("{:.2}×", templated / plain),
                target: "< 20 µs".into(),
                met: templated < 20.0,
                gap: "rendering walks the whole context (the raw payload included) into MiniJinja values on every render; a context built lazily (objects that look up fields on demand) would leave untouched fields alone",
            }
        })
        .collect()
}
