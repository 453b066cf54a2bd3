//! Delivery through the real `herald serve`: throughput against the receiver's own ceiling,
//! fan-out, latency from ingest to the first attempt, and isolation from a stalled webhook.

use std::time::{Duration, Instant};

use super::herald::{Serve, drift_config};
use super::net::{Behaviour, Receiver, blast, drift_body, latencies, paced, percentile};
use super::{Options, Row, median, thousands};

const CONNECTIONS: u64 = 64;

/// The templated webhook's body: a small summary, as a receiver that wants less than
/// Atlantis' whole payload would configure.
const TEMPLATE: &str = r#", template: '{"summary": {{ event.summary | json }}, "ok": {{ event.success | tojson }}, "repo": {{ event.repo | json }}}'"#;
const WARM: u64 = 200;

/// The receiver's ceiling: the same client posting the same body straight to it.
async fn ceiling(events: u64) -> f64 {
    let r = Receiver::start(Behaviour::Ok, false).await;
    blast(r.addr, "/hook", WARM, CONNECTIONS, drift_body).await;
    let (took, ok) = blast(r.addr, "/hook", events, CONNECTIONS, drift_body).await;
    assert_eq!(ok, events);
    events as f64 / took.as_secs_f64()
}

/// Events/s from the first post until the receiver has every delivery (`fan_out` per
/// event), through `herald serve` with `fan_out` HTTP webhooks to one receiver.
async fn through_herald(events: u64, fan_out: u64) -> Through {
    through_herald_with(events, fan_out, "").await
}

/// [`through_herald`] with `extra` keys on every webhook (a `template:`).
async fn through_herald_with(events: u64, fan_out: u64, extra: &str) -> Through {
    let r = Receiver::start(Behaviour::Ok, false).await;
    let urls: Vec<String> = (0..fan_out).map(|i| r.url(&format!("/hook/{i}"))).collect();
    let serve = Serve::start(&drift_config(&urls, extra)).await;
    blast(serve.addr, "/events/drift", WARM, CONNECTIONS, drift_body).await;
    r.wait_for(WARM * fan_out, Duration::from_secs(60))
        .await
        .expect("warm-up delivered");
    let start = Instant::now();
    let (accepted_in, ok) =
        blast(serve.addr, "/events/drift", events, CONNECTIONS, drift_body).await;
    assert_eq!(ok, events, "every event was accepted");
    let done = r
        .wait_for((WARM + events) * fan_out, Duration::from_secs(300))
        .await
        .expect("every delivery arrived");
    Through {
        rate: (events * fan_out) as f64 / (done - start).as_secs_f64(),
        accepted_in,
        delivered_in: done - start,
        connections: r.connections(),
        deliveries: (WARM + events) * fan_out,
    }
}

/// A throughput run: deliveries/s, and when the last event was accepted and delivered.
struct Through {
    rate: f64,
    accepted_in: Duration,
    delivered_in: Duration,
    /// Connections the receiver accepted from herald over the run, warm-up included.
    connections: u64,
    /// Deliveries it received over the run, warm-up included.
    deliveries: u64,
}

impl Through {
    fn timing(&self) -> String {
        format!(
            "all accepted after {:.2} s, all delivered after {:.2} s",
            self.accepted_in.as_secs_f64(),
            self.delivered_in.as_secs_f64()
        )
    }
}

/// Delivery latency (due time of the post → receipt) at `rate` through herald, and the
/// same client posting straight to a receiver at that rate.
async fn latency(config_for: impl Fn(&Receiver) -> String, rate: u64, secs: u64) -> (f64, f64) {
    let r = Receiver::start(Behaviour::Ok, true).await;
    let serve = Serve::start(&config_for(&r)).await;
    blast(serve.addr, "/events/drift", WARM, 8, drift_body).await;
    r.wait_for(WARM, Duration::from_secs(30))
        .await
        .expect("warm-up");
    r.take_seen();
    let total = rate * secs;
    let p = paced(serve.addr, "/events/drift", total, rate, Instant::now()).await;
    assert_eq!(p.ok, total, "every event was accepted");
    r.wait_for(WARM + total, Duration::from_secs(60)).await;
    let mut l = latencies(&p, &r.take_seen());
    assert!(
        l.len() as u64 >= total,
        "every event was delivered ({} of {total})",
        l.len()
    );
    (percentile(&mut l, 0.5), percentile(&mut l, 0.99))
}

async fn direct_latency(rate: u64, secs: u64) -> (f64, f64) {
    let r = Receiver::start(Behaviour::Ok, true).await;
    let p = paced(r.addr, "/hook", rate * secs, rate, Instant::now()).await;
    let mut l = latencies(&p, &r.take_seen());
    (percentile(&mut l, 0.5), percentile(&mut l, 0.99))
}

pub async fn rows(o: &Options) -> Vec<Row> {
    let events = o.size(20_000, 300);
    let fan_events = o.size(5_000, 100);
    let ceiling = ceiling(events).await;
    let one = through_herald(events, 1).await;
    let templated = through_herald_with(events, 1, TEMPLATE).await;
    let eight = through_herald(fan_events, 8).await;
    vec![
        Row {
            figure: format!(
                "end-to-end with a template: the same 1 HTTP webhook rendering a summary body ({} events)",
                thousands(events as f64)
            ),
            measured: format!(
                "{} events/s ({})",
                thousands(templated.rate),
                templated.timing()
            ),
            baseline: format!("untemplated, same run: {} events/s", thousands(one.rate)),
            ratio: format!("{:.2}×", templated.rate / one.rate),
            target: "≥ 0.9× untemplated".into(),
            met: templated.rate / one.rate >= 0.9,
            gap: "a render builds MiniJinja values of the whole context (the raw payload included) per attempt; a lazily looked-up context would skip what the template does not read",
        },
        Row {
            figure: format!(
                "end-to-end: events/s from ingest to delivered, 1 HTTP webhook ({} events)",
                thousands(events as f64)
            ),
            measured: format!("{} events/s ({})", thousands(one.rate), one.timing()),
            baseline: format!("receiver's ceiling: {} requests/s", thousands(ceiling)),
            ratio: format!("{:.2}", one.rate / ceiling),
            target: "≥ 0.33 of the ceiling".into(),
            met: one.rate / ceiling >= 0.33,
            gap: GAP_E2E,
        },
        Row {
            figure: format!(
                "fan-out: deliveries/s with 8 HTTP webhooks per event ({} events)",
                thousands(fan_events as f64)
            ),
            measured: format!(
                "{} deliveries/s ({})",
                thousands(eight.rate),
                eight.timing()
            ),
            baseline: format!("receiver's ceiling: {} requests/s", thousands(ceiling)),
            ratio: format!("{:.2}", eight.rate / ceiling),
            target: "≥ 0.5 of the ceiling".into(),
            met: eight.rate / ceiling >= 0.5,
            gap: GAP_FAN_OUT,
        },
        {
            let per_1000 = one.connections as f64 * 1000.0 / one.deliveries as f64;
            // The load generator opens its connections once per blast and keeps them.
            let client = (2 * CONNECTIONS) as f64 * 1000.0 / (WARM + events) as f64;
            Row {
                figure: format!(
                    "outbound connections: new connections per 1,000 deliveries, 1 HTTP webhook ({} events)",
                    thousands(events as f64)
                ),
                measured: format!("{per_1000:.1} ({} connections)", one.connections),
                baseline: format!(
                    "the load generator, {CONNECTIONS} kept-alive connections per run: {client:.1}"
                ),
                ratio: format!("{:.1}×", per_1000 / client),
                target: "≤ 5".into(),
                met: per_1000 <= 5.0,
                gap: "each connection herald opens to a receiver is a TCP and (for https) TLS handshake the receiver pays for too.",
            }
        },
    ]
}

pub async fn latency_rows(o: &Options) -> Vec<Row> {
    // Three rounds of 5 s, alternating with the baseline, and the median of each figure:
    // a p99 moves with whatever else the shared machine does in those seconds (the
    // baseline's own p99 jumps from 2 to 14 ms at times), and one bad stretch should not
    // decide the row.
    let (rate, secs, rounds) = (o.size(1_000, 200), o.size(5, 1), o.size(3, 1));
    let one_hook = |r: &Receiver| drift_config(&[r.url("/hook")], "");
    let (mut direct, mut herald) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        direct.push(direct_latency(rate, secs).await);
        herald.push(latency(one_hook, rate, secs).await);
    }
    let med = |v: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| median(v.iter().map(f).collect());
    let (d50, d99) = (med(&direct, |x| x.0), med(&direct, |x| x.1));
    let (p50, p99) = (med(&herald, |x| x.0), med(&herald, |x| x.1));
    let each: Vec<String> = herald.iter().map(|x| format!("{:.1}", x.1)).collect();
    vec![Row {
        figure: format!(
            "latency, ingest → first attempt received, at {rate} events/s (median of {rounds} rounds of {secs} s; p99 per round {} ms)",
            each.join(", ")
        ),
        measured: format!("p50 {p50:.2} ms, p99 {p99:.2} ms"),
        baseline: format!("client → receiver directly: p50 {d50:.2} ms, p99 {d99:.2} ms"),
        ratio: format!("p99 {:.1}×", p99 / d99),
        target: "p99 ≤ 5 ms".into(),
        met: p99 <= 5.0,
        gap: GAP_LATENCY,
    }]
}

pub async fn isolation_rows(o: &Options) -> Vec<Row> {
    // The healthy webhook's latency with a second webhook that answers, then with one that
    // never does (it times out after 10 s and is retried), alternating twice so a noisy
    // moment does not decide the ratio.
    let (iso_rate, iso_secs) = (200, o.size(10, 1));
    let mut base = Vec::new();
    let mut stalled = Vec::new();
    for _ in 0..o.size(2, 1) {
        let other = Receiver::start(Behaviour::Ok, false).await;
        let with_ok = |r: &Receiver| drift_config(&[r.url("/hook"), other.url("/other")], "");
        base.push(latency(with_ok, iso_rate, iso_secs).await);
        let stall = Receiver::start(Behaviour::Stall, false).await;
        let with_stall = |r: &Receiver| drift_config(&[r.url("/hook"), stall.url("/never")], "");
        stalled.push(latency(with_stall, iso_rate, iso_secs).await);
    }
    let (b50, b99) = (
        median(base.iter().map(|b| b.0).collect()),
        median(base.iter().map(|b| b.1).collect()),
    );
    let (s50, s99) = (
        median(stalled.iter().map(|b| b.0).collect()),
        median(stalled.iter().map(|b| b.1).collect()),
    );
    let iso = s50 / b50;
    vec![Row {
        figure: format!(
            "isolation: healthy webhook's delivery latency while another never answers ({iso_rate} events/s)"
        ),
        measured: format!("p50 {s50:.2} ms, p99 {s99:.2} ms"),
        baseline: format!("second webhook healthy: p50 {b50:.2} ms, p99 {b99:.2} ms"),
        ratio: format!("{iso:.2}× (p99 {:.2}×)", s99 / b99),
        target: "≤ 1.1×".into(),
        met: iso <= 1.1,
        gap: GAP_ISOLATION,
    }]
}

const GAP_E2E: &str = "the ceiling is a hyper client posting to a hyper server that does nothing (~100,000 requests/s); herald, on the same two cores as that client and receiver, parses each event, commits it with an fsync, sends it with reqwest and commits the attempt with another. Durable ingest alone tops out near 20,000 events/s, so end-to-end cannot pass ~0.2 of this ceiling; 0.33 would take journaling an event's attempts together (one commit per event, not per delivery), a lighter outbound client than reqwest, or cores the load generator and receiver do not share.";
const GAP_FAN_OUT: &str = "each delivery is an outbound request plus an attempt row (with the exact request and answer, for the console) committed with an fsync; the profile is flat (network writes, WAL writes, fsync, allocation, JSON), with no one hot spot left. Closing it: one journal write per event for all its attempts, and keeping the request text only for failed attempts.";
const GAP_LATENCY: &str = "the figure includes the 202's fsync and the outbound request, and a p99 here moves with the shared machine: in quiet stretches it is 2.7 to 4.2 ms, in busy ones 15 to 30 ms, while the client → receiver baseline jumps from 2 to 14 ms at the same moments. WAL checkpoints were ruled out (the same spread with checkpoints off). Closing it for good: a machine whose other tenants are quiet, or cores set aside for herald apart from the load generator.";
const GAP_ISOLATION: &str = "a claim of due deliveries walking the stalled webhook's growing backlog (fixed: claims now seek each webhook's rows through a partial index).";
