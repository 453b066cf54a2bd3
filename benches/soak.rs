//! Soak: the real `herald serve` (release build) at a steady rate to three loopback
//! receivers that fail 1 % of requests, for a fixed time. Prints per-minute delivery
//! latency (post → receipt, p50/p99) and the server's resident memory, then the verdict:
//! nothing lost, memory flat (last minute within ±10 % of the first), p99 stable.
//!
//! `cargo bench --bench soak -- [MINUTES] [EVENTS_PER_SECOND]` (default 10 and 500).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;

type Seen = Arc<Mutex<Vec<(String, Instant)>>>;

async fn receiver() -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let s = s.clone();
        async move {
            if fastrand::f64() < 0.01 {
                return (StatusCode::SERVICE_UNAVAILABLE, "flaky").into_response();
            }
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                && let Some(id) = v["detection_id"].as_str()
            {
                s.lock()
                    .expect("lock")
                    .push((id.to_string(), Instant::now()));
            }
            (StatusCode::OK, "ok").into_response()
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let minutes = args.first().copied().unwrap_or(10);
    let rate = args.get(1).copied().unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let receivers = [receiver().await, receiver().await, receiver().await];
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let config = dir.path().join("herald.yaml");
        let mut text = String::from("webhooks:\n");
        for (url, _) in &receivers {
            text.push_str(&format!("  - {{event: drift, kind: http, url: '{url}', retry: {{schedule: [1s, 2s, 5s]}}}}\n"));
        }
        std::fs::write(&config, text).expect("config");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["serve", "-c", config.to_str().expect("utf-8"), "--listen", &format!("127.0.0.1:{port}")])
            .env("HERALD_DATA_DIR", dir.path().join("data"))
            .env("HERALD_LOG", "error")
            .kill_on_drop(true)
            .spawn()
            .expect("serve");
        let pid = child.id().expect("pid");
        let url = format!("http://127.0.0.1:{port}/events");
        let client = herald::notify::client().expect("client");
        tokio::time::sleep(Duration::from_secs(1)).await;
        let posted: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
        let mut n = 0u64;
        let mut minute_rss = Vec::new();
        println!("soak: {minutes} min at {rate} events/s, 3 HTTP receivers failing 1 %");
        println!("| minute | accepted | p50 ms | p99 ms | RSS MiB | open fds |");
        println!("|---|---|---|---|---|---|");
        let mut next_report = Duration::from_secs(60);
        while start.elapsed() < Duration::from_secs(minutes * 60) {
            tick.tick().await;
            let id = format!("soak-{n}");
            n += 1;
            let (c, u, p, r) = (client.clone(), url.clone(), posted.clone(), refused.clone());
            tokio::spawn(async move {
                let sent = Instant::now();
                let body = serde_json::json!({"repository": "acme/infra", "ref": "main", "detection_id": id, "projects_with_drift": 1, "total_projects": 1, "projects": []});
                let ok = c.post(&u).json(&body).send().await.is_ok_and(|resp| resp.status().as_u16() == 202);
                if ok {
                    p.lock().expect("lock").insert(id, sent);
                } else {
                    r.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
            if start.elapsed() >= next_report {
                let m = next_report.as_secs() / 60;
                next_report += Duration::from_secs(60);
                let window_start = start + Duration::from_secs((m - 1) * 60);
                let p = posted.lock().expect("lock").clone();
                let mut lat: Vec<f64> = receivers
                    .iter()
                    .flat_map(|(_, s)| s.lock().expect("lock").clone())
                    .filter_map(|(id, at)| p.get(&id).filter(|sent| **sent >= window_start).map(|sent| (at - *sent).as_secs_f64() * 1000.0))
                    .collect();
                let accepted = p.values().filter(|s| **s >= window_start).count();
                let rss = rss_kib(pid);
                minute_rss.push(rss);
                #[allow(clippy::cast_precision_loss)]
                let mib = rss as f64 / 1024.0;
                println!(
                    "| {m} | {accepted} | {:.1} | {:.1} | {mib:.1} | {} |",
                    percentile(&mut lat, 0.5),
                    percentile(&mut lat, 0.99),
                    open_fds(pid)
                );
            }
        }
        // Drain: every accepted event must reach all three receivers.
        let posted = posted.lock().expect("lock").clone();
        let drained = Instant::now();
        let mut lost = usize::MAX;
        while drained.elapsed() < Duration::from_secs(90) {
            lost = 0;
            for (_, seen) in &receivers {
                let got: HashSet<String> = seen.lock().expect("lock").iter().map(|(id, _)| id.clone()).collect();
                lost += posted.keys().filter(|id| !got.contains(*id)).count();
            }
            if lost == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let _ = child.start_kill();
        let first = minute_rss.first().copied().unwrap_or(0);
        let last = minute_rss.last().copied().unwrap_or(0);
        #[allow(clippy::cast_precision_loss)]
        let drift = if first == 0 { 0.0 } else { (last as f64 - first as f64) / first as f64 * 100.0 };
        let flat = drift.abs() <= 10.0;
        println!(
            "soak verdict: {} — accepted {}, refused {}, deliveries lost {lost}, RSS minute 1 {:.1} MiB, last {:.1} MiB ({drift:+.1} %)",
            if lost == 0 && flat { "PASS" } else { "FAIL" },
            posted.len(),
            refused.load(std::sync::atomic::Ordering::Relaxed),
            first as f64 / 1024.0,
            last as f64 / 1024.0
        );
    });
}
