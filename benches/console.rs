//! Console frame render time and start-up load with a long journal, against an empty one.
//!
//! `cargo bench --bench console [-- EVENTS]` (default 100000). The console holds a window of
//! the newest events, so neither figure should grow with the journal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald::config::{LoadOptions, load_str};
use herald::dispatch::{Engine, EngineOptions, Selection};
use herald::event::{self, Inbound};
use herald::store::{Commit, Journal};
use herald::tui::app::{App, Message};
use herald::tui::theme::Theme;
use herald::tui::{run::load_window, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const CONFIG: &str = "webhooks:\n  - {event: drift, kind: http, url: 'http://127.0.0.1:9/x'}\n  - {event: apply, kind: http, url: 'http://127.0.0.1:9/y'}\n";
const PAYLOADS: [&str; 3] = [
    include_str!("../examples/payloads/drift-detected.json"),
    include_str!("../examples/payloads/apply-success.json"),
    include_str!("../examples/payloads/drift-clean.json"),
];

struct Figures {
    load: Duration,
    frame: Duration,
}

async fn measure(events: usize) -> Figures {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let (config, _) = load_str(CONFIG, "bench.yaml", &LoadOptions::default()).expect("config");
    let config = Arc::new(config);
    let journal = Journal::open(dir.path(), Commit::Grouped).expect("journal");
    let engine = Engine::new(config.clone(), journal, EngineOptions::default()).expect("engine");
    let parsed: Vec<_> = PAYLOADS
        .iter()
        .map(|p| match event::parse_any(p.as_bytes()).expect("fixture") {
            Inbound::Event(e) => e,
            _ => unreachable!("fixtures are events"),
        })
        .collect();
    // Fill the journal, 512 events in flight at a time (grouped commits).
    let mut done = 0;
    while done < events {
        let batch = (events - done).min(512);
        let futures = (0..batch).map(|i| {
            let e = parsed[(done + i) % parsed.len()].clone();
            let engine = engine.clone();
            async move {
                engine
                    .accept("bench", e, String::new(), None, &Selection::Route)
                    .await
            }
        });
        for r in futures::future::join_all(futures).await {
            r.expect("journaled");
        }
        done += batch;
    }
    let started = Instant::now();
    let window = load_window(&engine).await.expect("load");
    let load = started.elapsed();
    let mut app = App::new(config, "127.0.0.1:4141".into(), Vec::new());
    app.apply(Message::Loaded(window));
    app.update(herald::tui::app::Action::Resize(160, 48));
    let theme = Theme::load("default").expect("theme");
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    let frames = 300u32;
    let started = Instant::now();
    for i in 0..frames {
        // Move the selection so every frame differs.
        app.update(if i % 2 == 0 {
            herald::tui::app::Action::Down
        } else {
            herald::tui::app::Action::Up
        });
        terminal
            .draw(|f| view::draw(f, &app, &theme))
            .expect("draw");
    }
    Figures {
        load,
        frame: started.elapsed() / frames,
    }
}

fn main() {
    let events = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000usize);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let empty = measure(0).await;
        let full = measure(events).await;
        println!("console, 160x48, Events pane, default theme");
        println!("| journal | frame render | window load at start |");
        println!("|---|---|---|");
        println!(
            "| empty (baseline) | {:.3} ms | {:.1} ms |",
            ms(empty.frame),
            ms(empty.load)
        );
        println!(
            "| {events} events | {:.3} ms | {:.1} ms |",
            ms(full.frame),
            ms(full.load)
        );
        println!(
            "ratio full / empty: frame {:.2}x, load {:.1}x",
            ms(full.frame) / ms(empty.frame).max(1e-6),
            ms(full.load) / ms(empty.load).max(1e-6)
        );
    });
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
