//! Durable ingest throughput: events/s answered 202 by the ingest API with grouped commits,
//! against the same with one commit (one fsync) per event, in the same run.
//!
//! `cargo bench --bench ingest [-- EVENTS CONCURRENCY]` (defaults 4000 and 64). Everything
//! runs on 127.0.0.1; the journal is in a temporary directory on the project's disk.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt as _;
use herald::config::{LoadOptions, load_str};
use herald::dispatch::{Engine, EngineOptions};
use herald::store::{Commit, Journal};
use tokio_util::sync::CancellationToken;

const BODY: &str = include_str!("../examples/payloads/drift-detected.json");

/// Posts `events` drift events with `concurrency` requests in flight; returns events/s.
async fn run(commit: Commit, events: usize, concurrency: usize) -> f64 {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let (config, _) = load_str(
        "webhooks:\n  - {event: drift, kind: http, url: 'http://127.0.0.1:9/never-called'}\n",
        "bench.yaml",
        &LoadOptions::default(),
    )
    .expect("config");
    let journal = Journal::open(dir.path(), commit).expect("journal");
    // No workers run: this measures accepting and journaling, not delivery.
    let engine = Engine::new(Arc::new(config), journal, EngineOptions::default()).expect("engine");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/events/drift",
        listener.local_addr().expect("addr")
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(herald::ingest::serve(
        listener,
        engine.clone(),
        shutdown.clone(),
    ));
    let client = herald::notify::client().expect("client");
    let started = Instant::now();
    let accepted = futures::stream::iter(0..events)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(BODY)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().as_u16() == 202)
            }
        })
        .buffer_unordered(concurrency)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let elapsed = started.elapsed();
    shutdown.cancel();
    assert_eq!(accepted, events, "every request was accepted");
    let stored = engine.journal().counts().await.expect("counts").events;
    assert_eq!(
        usize::try_from(stored).unwrap_or(0),
        events,
        "every event is in the journal"
    );
    #[allow(clippy::cast_precision_loss)]
    let rate = events as f64 / elapsed.as_secs_f64().max(1e-9);
    rate
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(4000);
    let concurrency = args.get(1).copied().unwrap_or(64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // Warm up (page cache, connection pool, SQLite file creation).
        run(Commit::Grouped, 200, concurrency).await;
        let each = run(Commit::EachWrite, events, concurrency).await;
        let grouped = run(Commit::Grouped, events, concurrency).await;
        println!("durable ingest, {events} drift events, {concurrency} requests in flight, 1 delivery each, synchronous=FULL");
        println!("| mode | events/s |");
        println!("|---|---|");
        println!("| one commit per event (baseline) | {each:.0} |");
        println!("| grouped commits | {grouped:.0} |");
        println!("ratio grouped / per-event: {:.2}x", grouped / each);
    });
}
