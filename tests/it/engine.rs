//! The engine's bookkeeping under cancellation: places in flight and leases must come back
//! on every path, or a webhook silently stops being served.

use std::time::Duration;

use herald::dispatch::Selection;

use crate::support::{Receiver, Reply, Server, apply_fixture, eventually, load_ok};

/// Reads one unlabelled sample of the Prometheus text.
fn sample(metrics: &str, name: &str) -> Option<u64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingests_cancelled_mid_commit_give_their_places_back() {
    let rx = Receiver::start(Reply::Status(200, "ok")).await;
    let config = load_ok(
        &format!(
            "webhooks:\n  - event: apply\n    kind: http\n    url: {}\n",
            rx.url("/hook")
        ),
        None,
        None,
    );
    let server = Server::start(config).await;
    let client = herald::notify::client().expect("client");
    // The engine's loop is running once the first accepted event is delivered.
    server
        .engine
        .accept(
            herald::intake::Source::Apply,
            crate::support::received(&apply_fixture()),
            &Selection::Route,
        )
        .await
        .expect("accept");
    assert!(eventually(Duration::from_secs(5), async || rx.requests().len() == 1).await);

    // Callers that go away while the commit is under way: a client that disconnects, a
    // request deadline that fires.
    let mut cancelled = 0;
    for _ in 0..300 {
        let accept = server.engine.accept(
            herald::intake::Source::Apply,
            crate::support::received(&apply_fixture()),
            &Selection::Route,
        );
        if tokio::time::timeout(Duration::from_micros(10), accept)
            .await
            .is_err()
        {
            cancelled += 1;
        }
    }
    assert!(cancelled > 0, "no accept was cancelled mid-commit");

    // Every committed delivery is attempted now (not after its lease runs out) and every
    // place is given back.
    let settled = eventually(Duration::from_secs(5), async || {
        let counts = server.engine.reader().counts().await.expect("counts");
        counts.pending + counts.retrying == 0 && server.engine.in_flight() == 0
    })
    .await;
    let counts = server.engine.reader().counts().await.expect("counts");
    assert!(
        settled,
        "{} places still held, {} deliveries open ({} leased) after {cancelled} cancelled ingests",
        server.engine.in_flight(),
        counts.pending + counts.retrying,
        counts.leased
    );
    assert_eq!(
        usize::try_from(counts.succeeded).expect("count"),
        rx.requests().len()
    );

    let metrics = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert_eq!(sample(&metrics, "herald_deliveries_in_flight"), Some(0));
    assert_eq!(sample(&metrics, "herald_deliveries_leased"), Some(0));
}
