//! The console with a long journal: frame render time (in process, into ratatui's
//! `TestBackend`), and the real `herald tui` in a pseudo-terminal: time to its first
//! frame, to the journal's window on screen, and its resident memory. Each against an
//! empty journal in the same run.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald::config::{LoadOptions, load_str};
use herald::dispatch::{Engine, EngineOptions, Selection};
use herald::intake::{self, Inbound, Received, Source};
use herald::store::{Commit, Journal};
use herald::tui::app::{Action, App, Message};
use herald::tui::theme::Theme;
use herald::tui::{run::load_page, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::io::AsyncReadExt as _;

use super::herald::{binary, rss_kib, scratch};
use super::net::drift_body;
use super::{Options, Row, median, ms, thousands};

/// A repository one event in [`NEEDLE_EVERY`] names (the rest name `acme/infra`).
pub(super) const NEEDLE: &str = "acme/needle";
/// See [`NEEDLE`].
pub(super) const NEEDLE_EVERY: u64 = 250_000;

pub(super) const CONFIG: &str = "webhooks:\n  - {event: drift, kind: http, url: 'http://127.0.0.1:9/x'}\n  - {event: apply, kind: http, url: 'http://127.0.0.1:9/y'}\n";

/// Journals `n` events (drift with and without drift, and applies), then marks their
/// deliveries delivered, as in a journal that has been in use for a long time.
pub(super) async fn fill(dir: &Path, n: u64) {
    let (config, _) = load_str(CONFIG, "bench.yaml", &LoadOptions::default()).expect("config");
    let journal = Journal::open(dir, Commit::Grouped).expect("journal");
    let engine = Engine::new(Arc::new(config), journal, EngineOptions::default()).expect("engine");
    let read = |body: &[u8]| -> Received {
        match intake::read(body, None) {
            Ok(Inbound::Event(r)) => r,
            _ => panic!("fixture"),
        }
    };
    let apply = read(include_bytes!("../../examples/payloads/apply-success.json"));
    let clean = read(include_bytes!("../../examples/payloads/drift-clean.json"));
    let started = Instant::now();
    let mut done = 0;
    let mut reported = Instant::now();
    while done < n {
        let batch = (n - done).min(1024);
        let futures = (done..done + batch).map(|i| {
            let engine = engine.clone();
            let received = match i % 3 {
                // A repository only a few events name, spread from the oldest on: what
                // an operator searching for one incident looks for.
                _ if i % NEEDLE_EVERY == 7 => read(
                    String::from_utf8_lossy(&drift_body(i))
                        .replace("acme/infra", NEEDLE)
                        .as_bytes(),
                ),
                0 => read(&drift_body(i)),
                1 => apply.clone(),
                _ => clean.clone(),
            };
            async move {
                engine
                    .accept(Source::Demo, received, &Selection::Route)
                    .await
            }
        });
        for r in futures::future::join_all(futures).await {
            r.expect("journaled");
        }
        done += batch;
        if reported.elapsed() > Duration::from_secs(10) {
            reported = Instant::now();
            eprintln!(
                "  filling the journal: {} of {} events ({:.0}/s)",
                thousands(done as f64),
                thousands(n as f64),
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    drop(engine);
    let conn = rusqlite::Connection::open(dir.join(herald::store::FILE_NAME)).expect("open");
    conn.execute_batch(
        "UPDATE deliveries SET status = 'succeeded', attempts = 1, next_attempt_at = NULL; PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .expect("mark delivered");
}

/// Mean frame render time of the Events pane at 160x48, moving the selection each frame.
async fn frame(dir: &Path) -> Duration {
    let (config, _) = load_str(CONFIG, "bench.yaml", &LoadOptions::default()).expect("config");
    let config = Arc::new(config);
    let journal = Journal::open(dir, Commit::Grouped).expect("journal");
    let engine = Engine::new(config.clone(), journal, EngineOptions::default()).expect("engine");
    let client = herald::api::Api::new(engine, None).local_client();
    let (window, _) = load_page(&client).await.expect("load");
    let webhooks = client.webhooks().await.expect("webhooks");
    let mut app = App::new(webhooks, "127.0.0.1:4141".into(), Vec::new());
    app.apply(Message::Loaded(window));
    app.update(Action::Resize(160, 48));
    let theme = Theme::load("default").expect("theme");
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    let frames = 300u32;
    let started = Instant::now();
    for i in 0..frames {
        app.update(if i % 2 == 0 { Action::Down } else { Action::Up });
        terminal
            .draw(|f| view::draw(f, &app, &theme))
            .expect("draw");
    }
    started.elapsed() / frames
}

/// One start of a program in a 160x48 pseudo-terminal (`script`): when each marker first
/// appeared on its output, and the program's resident memory once the last one had.
struct Launch {
    marks: Vec<Option<Duration>>,
    rss_kib: u64,
}

async fn launch(command: &str, data_dir: &Path, markers: &[&str]) -> Launch {
    let shell = format!("stty rows 48 cols 160; exec {command}");
    let started = Instant::now();
    let mut child = tokio::process::Command::new("script")
        .args(["-qfec", &shell, "/dev/null"])
        .env("HERALD_DATA_DIR", data_dir)
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("script (util-linux) runs");
    let mut out = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut marks = vec![None; markers.len()];
    let mut buf = [0u8; 65_536];
    let deadline = started + Duration::from_secs(60);
    while marks.iter().any(Option::is_none) && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), out.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => break,
        }
        let at = started.elapsed();
        for (m, mark) in markers.iter().zip(marks.iter_mut()) {
            if mark.is_none() && seen.windows(m.len()).any(|w| w == m.as_bytes()) {
                *mark = Some(at);
            }
        }
    }
    // Let the program settle (the first frame comes before the window's load ends).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().expect("pid");
    let program = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok());
    let rss = program.map_or(0, rss_kib);
    if let Some(p) = program {
        let _ = std::process::Command::new("kill")
            .arg(p.to_string())
            .status();
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    Launch {
        marks,
        rss_kib: rss,
    }
}

pub async fn rows(o: &Options) -> Vec<Row> {
    let n = o.console_events;
    let empty = scratch();
    let full = scratch();
    let t = Instant::now();
    fill(full.path(), n).await;
    let fill_s = t.elapsed().as_secs_f64();
    let size_mib = std::fs::metadata(full.path().join(herald::store::FILE_NAME))
        .map_or(0.0, |m| m.len() as f64 / 1024.0 / 1024.0);
    eprintln!(
        "  journal of {} events: {size_mib:.0} MiB, filled in {fill_s:.0} s",
        thousands(n as f64)
    );
    Journal::open(empty.path(), Commit::Grouped).expect("empty journal");
    let frame_empty = frame(empty.path()).await;
    let frame_full = frame(full.path()).await;

    let config = full.path().join("herald.yaml");
    std::fs::write(&config, CONFIG).expect("config");
    let tui = format!(
        "{} tui -c {} --listen 127.0.0.1:0",
        binary(),
        config.display()
    );
    let title = format!("herald {}", env!("CARGO_PKG_VERSION"));
    let runs = o.size(5, 1);
    let (mut base, mut first_empty, mut first_full, mut loaded, mut rss_e, mut rss_f) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let b = launch("printf herald-ready", empty.path(), &["herald-ready"]).await;
        base.push(ms(b.marks[0].expect("the shell prints")));
        let e = launch(&tui, empty.path(), &[&title]).await;
        first_empty.push(ms(e.marks[0].expect("herald tui draws a frame")));
        rss_e.push(e.rss_kib as f64 / 1024.0);
        let f = launch(&tui, full.path(), &[&title, "acme/infra"]).await;
        first_full.push(ms(f.marks[0].expect("herald tui draws a frame")));
        loaded.push(ms(f.marks[1].expect("the window of events shows")));
        rss_f.push(f.rss_kib as f64 / 1024.0);
    }
    let (base, first_empty, first_full, loaded) = (
        median(base),
        median(first_empty),
        median(first_full),
        median(loaded),
    );
    let (rss_e, rss_f) = (median(rss_e), median(rss_f));
    let events = thousands(n as f64);
    vec![
        Row {
            figure: format!(
                "console: frame render, Events pane 160x48, {events} events in the journal ({size_mib:.0} MiB)"
            ),
            measured: format!("{:.3} ms", ms(frame_full)),
            baseline: format!("empty journal: {:.3} ms", ms(frame_empty)),
            ratio: format!("{:.2}×", ms(frame_full) / ms(frame_empty)),
            target: "≤ 2 ms".into(),
            met: ms(frame_full) <= 2.0,
            gap: "the frame is built from the window in memory, not the journal; a miss here is drawing work.",
        },
        Row {
            figure: format!(
                "console: resident memory of `herald tui` with {events} events, window loaded"
            ),
            measured: format!("{rss_f:.1} MiB"),
            baseline: format!("empty journal: {rss_e:.1} MiB"),
            ratio: format!("{:.2}×", rss_f / rss_e),
            target: "≤ 150 MB".into(),
            met: rss_f * 1.048_576 <= 150.0,
            gap: "the console keeps a window of the newest events, not the journal.",
        },
        Row {
            figure: format!(
                "start-up to first frame: `herald tui` in a pseudo-terminal, {events} events (median of {runs})"
            ),
            measured: format!("{first_full:.1} ms (events on screen at {loaded:.1} ms)"),
            baseline: format!(
                "the pseudo-terminal running `printf`: {base:.1} ms; empty journal: {first_empty:.1} ms"
            ),
            ratio: format!("herald's own part {:.1} ms", first_full - base),
            target: "≤ 100 ms".into(),
            met: first_full <= 100.0,
            gap: "the first frame waits for nothing but the config and the journal's open.",
        },
    ]
}
