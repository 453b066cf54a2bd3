//! Soak: the real `herald serve` at 1,000 events/s to three receivers that fail 1 % of
//! requests (so retries run all along). Memory must end where the first minute left it
//! (±10 %), and every accepted event must reach every receiver.

use std::time::{Duration, Instant};

use super::herald::{Serve, drift_config};
use super::net::{Behaviour, Receiver, latencies, paced, percentile};
use super::{Options, Row, thousands};

const RATE: u64 = 1_000;

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// Takes what each receiver got since the last call, marks those events as delivered to
/// it, and returns the receipts.
fn collect(receivers: &[Receiver], got: &mut [Vec<bool>]) -> Vec<(u64, Instant)> {
    let mut all = Vec::new();
    for (r, g) in receivers.iter().zip(got.iter_mut()) {
        let seen = r.take_seen();
        for (id, _) in &seen {
            if let Some(slot) = usize::try_from(*id).ok().and_then(|i| g.get_mut(i)) {
                *slot = true;
            }
        }
        all.extend(seen);
    }
    all
}

pub async fn rows(o: &Options) -> (Vec<Row>, String) {
    let receivers = [
        Receiver::start(Behaviour::FlakyOnePercent, true).await,
        Receiver::start(Behaviour::FlakyOnePercent, true).await,
        Receiver::start(Behaviour::FlakyOnePercent, true).await,
    ];
    let urls: Vec<String> = receivers.iter().map(|r| r.url("/hook")).collect();
    let serve = Serve::start(&drift_config(&urls, ", retry: {schedule: [1s, 2s, 5s]}")).await;
    let total = RATE * o.soak.as_secs();
    let interval = (o.soak / 10)
        .max(Duration::from_secs(1))
        .min(Duration::from_secs(60));
    let start = Instant::now() + Duration::from_millis(200);
    let addr = serve.addr;
    let pacer = tokio::spawn(async move { paced(addr, "/events/drift", total, RATE, start).await });
    let schedule = super::net::Paced {
        start,
        period: Duration::from_secs_f64(1.0 / RATE as f64),
        ok: 0,
    };
    let slots = usize::try_from(total).unwrap_or(0);
    let mut got: Vec<Vec<bool>> = vec![vec![false; slots]; receivers.len()];
    let mut table = String::from(
        "| minute | delivered | p50 ms | p99 ms | RSS MiB | open fds |\n|---|---|---|---|---|---|\n",
    );
    let mut rss = Vec::new();
    let mut k = 1u32;
    while start + interval * k <= start + o.soak {
        tokio::time::sleep_until((start + interval * k).into()).await;
        let window = collect(&receivers, &mut got);
        let mut l = latencies(&schedule, &window);
        let kib = serve.rss_kib();
        rss.push(kib as f64 / 1024.0);
        let line = format!(
            "| {:.1} | {} | {:.1} | {:.1} | {:.1} | {} |",
            (interval * k).as_secs_f64() / 60.0,
            thousands(window.len() as f64),
            percentile(&mut l, 0.5),
            percentile(&mut l, 0.99),
            kib as f64 / 1024.0,
            open_fds(serve.pid)
        );
        // Progress: the soak is the long part of a full run.
        eprintln!("  soak {line}");
        table.push_str(&line);
        table.push('\n');
        k += 1;
    }
    let sent = pacer.await.expect("pacer");
    // Drain: retries of the last minute's failures take up to 1 + 2 + 5 s.
    let drained = Instant::now();
    let mut missing = u64::MAX;
    while drained.elapsed() < Duration::from_secs(90) {
        collect(&receivers, &mut got);
        missing = got
            .iter()
            .map(|g| g.iter().filter(|s| !**s).count() as u64)
            .sum();
        if missing == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let refused = total - sent.ok;
    let (first, last) = (
        rss.first().copied().unwrap_or(0.0),
        rss.last().copied().unwrap_or(0.0),
    );
    let drift = (last - first) / first * 100.0;
    let minutes = o.soak.as_secs_f64() / 60.0;
    let row = Row {
        figure: format!(
            "memory: `herald serve` at {RATE} events/s for {minutes:.1} min, 3 receivers failing 1 % ({} events, {} deliveries, {refused} refused, {missing} lost)",
            thousands(total as f64),
            thousands((total * 3) as f64)
        ),
        measured: format!("last interval {last:.1} MiB ({drift:+.1} %)"),
        baseline: format!("first interval: {first:.1} MiB"),
        ratio: format!("{:.3}", last / first),
        target: "±10 %, nothing lost".into(),
        met: drift.abs() <= 10.0 && missing == 0 && refused == 0,
        gap: "see the soak history below.",
    };
    (vec![row], table)
}
