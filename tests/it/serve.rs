//! The real `herald serve`: crash recovery, outages, rate limits, isolation, graceful stop
//! and reload. Each test starts the binary on a free loopback port with its own journal.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use herald::fake::Scenario;
use herald::fake::slack::{FakeSlack, Options as FakeOptions};
use serde_json::Value;

use crate::support::{Receiver, Reply, Serve, eventually, free_port};

fn drift_body(id: &str) -> Vec<u8> {
    serde_json::json!({"repository": "acme/infra", "ref": "main", "detection_id": id,
        "projects_with_drift": 1, "total_projects": 1, "projects": [{"project_name": "p", "path": "p", "workspace": "default",
        "has_drift": true, "to_add": 1, "to_change": 0, "to_destroy": 0, "to_import": 0, "to_forget": 0, "summary": "Plan: 1 to add, 0 to change, 0 to destroy."}]})
    .to_string()
    .into_bytes()
}

async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Option<Value> {
    let r = client
        .post(format!("{url}/events"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .ok()?;
    if r.status().as_u16() != 202 {
        return None;
    }
    r.json().await.ok()
}

fn received_ids(rx: &Receiver) -> Vec<String> {
    rx.requests()
        .iter()
        .map(|r| {
            r.json()["detection_id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("herald.yaml");
    std::fs::write(&p, text).expect("config");
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_half_way_loses_no_accepted_event() {
    // Slow enough (32 in flight x 150 ms: ~210/s) that deliveries are still pending when
    // the kill comes, however busy the machine is and so however slowly events come in.
    let rx = Receiver::start(Reply::Slow(150, 200)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
            rx.url("/hook")
        ),
    );
    let serve = Serve::start(&config, &dir.path().join("data"), free_port()).await;
    let client = herald::notify::client().expect("client");
    let url = serve.url.clone();
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let poster = {
        let accepted = accepted.clone();
        tokio::spawn(async move {
            futures::stream::iter(0..2000)
                .map(|i| {
                    let (client, url, accepted) = (client.clone(), url.clone(), accepted.clone());
                    async move {
                        let id = format!("crash-{i}");
                        if post(&client, &url, drift_body(&id)).await.is_some() {
                            accepted.lock().expect("lock").push(id);
                        }
                    }
                })
                .buffer_unordered(16)
                .collect::<Vec<()>>()
                .await;
        })
    };
    assert!(
        eventually(Duration::from_secs(60), async || accepted
            .lock()
            .expect("lock")
            .len()
            >= 1000)
        .await,
        "1000 events accepted"
    );
    let mut serve = serve;
    serve.child.start_kill().expect("SIGKILL");
    let _ = poster.await;
    let accepted: HashSet<String> = accepted.lock().expect("lock").iter().cloned().collect();
    let before_restart = received_ids(&rx).len();
    assert!(
        before_restart < accepted.len(),
        "the kill came before everything was delivered"
    );

    let serve = serve.restart().await;
    let all = eventually(Duration::from_secs(60), async || {
        let got: HashSet<String> = received_ids(&rx).into_iter().collect();
        accepted.is_subset(&got)
    })
    .await;
    let got = received_ids(&rx);
    let distinct: HashSet<&String> = got.iter().collect();
    let lost = accepted.iter().filter(|id| !distinct.contains(id)).count();
    eprintln!(
        "crash test: accepted {}, received {} ({} distinct, {} duplicates), lost {lost}",
        accepted.len(),
        got.len(),
        distinct.len(),
        got.len() - distinct.len()
    );
    assert!(all && lost == 0, "lost {lost} accepted events");
    let ids: HashSet<String> = rx
        .requests()
        .iter()
        .map(|r| r.header_values("x-herald-delivery")[0].clone())
        .collect();
    assert!(ids.len() >= accepted.len());
    drop(serve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_20_seconds_gets_everything_after() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: 'http://127.0.0.1:{port}/hook', retry: {{max-attempts: 40, schedule: [1s, 2s]}}}}\n"
        ),
    );
    let data = dir.path().join("data");
    let serve = Serve::start(&config, &data, free_port()).await;
    let client = herald::notify::client().expect("client");
    for i in 0..5 {
        assert!(
            post(&client, &serve.url, drift_body(&format!("outage-{i}")))
                .await
                .is_some()
        );
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    let rx = Receiver::start_on(port, Reply::Status(200, "")).await;
    assert!(
        eventually(Duration::from_secs(15), async || received_ids(&rx)
            .iter()
            .collect::<HashSet<_>>()
            .len()
            == 5)
        .await,
        "all five delivered once the receiver is up"
    );
    let out = crate::support::herald(
        &["log", "--json"],
        &[("HERALD_DATA_DIR", data.to_str().expect("utf-8"))],
    )
    .await;
    let log: Value = serde_json::from_str(&crate::support::stdout(&out)).expect("log json");
    let log = log.as_array().expect("list");
    assert_eq!(log.len(), 5);
    for entry in log {
        assert_eq!(entry["delivery"]["status"], "succeeded", "{entry}");
        let outcomes: Vec<&str> = entry["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .filter_map(|a| a["outcome"].as_str())
            .collect();
        assert!(
            outcomes.len() >= 3,
            "failed attempts are recorded: {outcomes:?}"
        );
        assert_eq!(outcomes.last(), Some(&"delivered"));
        assert!(
            outcomes[..outcomes.len() - 1]
                .iter()
                .all(|o| *o == "retryable"),
            "{outcomes:?}"
        );
    }
    drop(serve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_429_retry_after_is_waited_for_and_the_message_arrives_once() {
    let fake = FakeSlack::start(FakeOptions {
        token: Some("xoxb-t".into()),
        ..FakeOptions::default()
    })
    .await
    .expect("fake");
    fake.push([Scenario::RateLimited(2)]);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        "slack-token: xoxb-t\nwebhooks:\n  - {event: drift, kind: slack, channel: C1, retry: {schedule: [100ms]}}\n",
    );
    let api = fake.api_url();
    let serve = Serve::start_with(
        &config,
        &dir.path().join("data"),
        free_port(),
        &[("HERALD_SLACK_API_URL", &api)],
    )
    .await;
    let client = herald::notify::client().expect("client");
    assert!(
        post(&client, &serve.url, drift_body("rate"))
            .await
            .is_some()
    );
    assert!(
        eventually(Duration::from_secs(10), async || fake.received().len() == 2).await,
        "retried after the 429"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = fake.received();
    assert_eq!(got.len(), 2, "one rate-limited post, one delivered");
    assert!(
        got[1].at - got[0].at >= Duration::from_secs(2),
        "waited {:?}",
        got[1].at - got[0].at
    );
    assert_eq!(
        got.iter().filter(|m| m.answered == Scenario::Ok).count(),
        1,
        "the message arrives once"
    );
    serve.signal("-TERM");
    let (_, stderr) = serve.stderr_after_exit().await;
    assert!(
        stderr.contains("ratelimited"),
        "the log shows the rate limit: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_does_not_delay_another_webhook() {
    let hang = Receiver::start(Reply::Hang).await;
    let good = Receiver::start(Reply::Status(200, "")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n  - {{event: drift, kind: http, url: '{}'}}\n",
            hang.url("/"),
            good.url("/")
        ),
    );
    let serve = Serve::start(&config, &dir.path().join("data"), free_port()).await;
    let client = herald::notify::client().expect("client");
    for i in 0..20 {
        let sent = Instant::now();
        assert!(
            post(&client, &serve.url, drift_body(&format!("iso-{i}")))
                .await
                .is_some()
        );
        let ok = eventually(Duration::from_secs(1), async || good.requests().len() > i).await;
        assert!(
            ok,
            "event {i}: the healthy webhook waited more than 1 s ({:?})",
            sent.elapsed()
        );
    }
    assert!(
        !hang.requests().is_empty(),
        "the stalled webhook was tried too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_finishes_in_flight_and_keeps_the_rest() {
    let rx = Receiver::start(Reply::Slow(1500, 200)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
            rx.url("/")
        ),
    );
    let data = dir.path().join("data");
    let serve = Serve::start(&config, &data, free_port()).await;
    let client = herald::notify::client().expect("client");
    assert!(
        post(&client, &serve.url, drift_body("stop-0"))
            .await
            .is_some()
    );
    assert!(
        eventually(Duration::from_secs(5), async || rx.requests().len() == 1).await,
        "in flight"
    );
    serve.signal("-TERM");
    let port = serve.port;
    let (config_path, data_path) = (serve.config.clone(), serve.data.clone());
    let (status, stderr) = serve.stderr_after_exit().await;
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("stopping: no new events accepted"),
        "{stderr}"
    );
    // The attempt in flight finished and was journaled as delivered.
    let out = crate::support::herald(
        &["log", "--json"],
        &[("HERALD_DATA_DIR", data.to_str().expect("utf-8"))],
    )
    .await;
    let log: Value = serde_json::from_str(&crate::support::stdout(&out)).expect("json");
    assert_eq!(log[0]["delivery"]["status"], "succeeded", "{log}");
    // A new start serves again from the same journal.
    let serve = Serve::start(&config_path, &data_path, port).await;
    assert!(
        post(&client, &serve.url, drift_body("stop-1"))
            .await
            .is_some()
    );
    assert!(eventually(Duration::from_secs(5), async || rx.requests().len() == 2).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_good_config_and_rejects_a_bad_one() {
    let first = Receiver::start(Reply::Status(200, "")).await;
    let second = Receiver::start(Reply::Status(200, "")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
            first.url("/")
        ),
    );
    let serve = Serve::start(&config, &dir.path().join("data"), free_port()).await;
    let client = herald::notify::client().expect("client");
    assert!(post(&client, &serve.url, drift_body("a")).await.is_some());
    assert!(eventually(Duration::from_secs(5), async || first.requests().len() == 1).await);

    write_config(
        dir.path(),
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
            second.url("/")
        ),
    );
    serve.signal("-HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(post(&client, &serve.url, drift_body("b")).await.is_some());
    assert!(
        eventually(Duration::from_secs(5), async || second.requests().len()
            == 1)
        .await,
        "new config in use"
    );

    write_config(dir.path(), "webhooks:\n  - {event: drift, kind: teams}\n");
    serve.signal("-HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(post(&client, &serve.url, drift_body("c")).await.is_some());
    assert!(
        eventually(Duration::from_secs(5), async || second.requests().len()
            == 2)
        .await,
        "old config kept"
    );
    assert_eq!(first.requests().len(), 1);
    serve.signal("-TERM");
    let (_, stderr) = serve.stderr_after_exit().await;
    assert!(stderr.contains("config reloaded: 1 webhooks"), "{stderr}");
    assert!(
        stderr.contains("\"kind: teams\" not supported for drift webhooks"),
        "{stderr}"
    );
    assert!(stderr.contains("keeping the previous one"), "{stderr}");
}

#[tokio::test]
async fn refuses_an_open_address_without_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "webhooks: []\n");
    let out = crate::support::herald(
        &[
            "serve",
            "-c",
            config.to_str().expect("utf-8"),
            "--listen",
            "0.0.0.0:0",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        crate::support::stderr(&out)
            .contains("refusing to listen on 0.0.0.0:0 without an ingest token"),
        "{}",
        crate::support::stderr(&out)
    );
}

fn apply_body(n: usize) -> Vec<u8> {
    std::fs::read_to_string(crate::support::repo_file(
        "examples/payloads/apply-success.json",
    ))
    .expect("fixture")
    .replacen("\"Num\": 2137", &format!("\"Num\": {n}"), 1)
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_retries_follow_their_webhook_through_a_reordered_and_edited_config() {
    // The first attempts fail, so retries are pending when the config changes.
    let apply_rx = Receiver::start(Reply::Status(200, "")).await;
    apply_rx.push(std::iter::repeat_n(Reply::Status(503, ""), 3));
    let audit_old = Receiver::start(Reply::Status(200, "")).await;
    audit_old.push(std::iter::repeat_n(Reply::Status(503, ""), 3));
    let audit_new = Receiver::start(Reply::Status(200, "")).await;
    let drift_rx = Receiver::start(Reply::Status(200, "")).await;
    let retry = "retry: {max-attempts: 5, schedule: [2s]}";
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            "webhooks:\n  - {{event: apply, kind: http, url: '{}', {retry}}}\n  - {{name: audit, event: apply, kind: http, url: '{}', {retry}}}\n",
            apply_rx.url("/apply"),
            audit_old.url("/audit")
        ),
    );
    let serve = Serve::start(&config, &dir.path().join("data"), free_port()).await;
    let client = herald::notify::client().expect("client");
    for n in 1..=3 {
        let r = client
            .post(format!("{}/events/apply", serve.url))
            .header("content-type", "application/json")
            .body(apply_body(n))
            .send()
            .await
            .expect("posted");
        assert_eq!(r.status().as_u16(), 202);
    }
    assert!(
        eventually(Duration::from_secs(5), async || apply_rx.requests().len()
            == 3
            && audit_old.requests().len() == 3)
        .await
    );

    // A drift webhook now comes first (the apply webhook moves from #0 to #1), and "audit"
    // sends somewhere else.
    write_config(
        dir.path(),
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n  - {{event: apply, kind: http, url: '{}', {retry}}}\n  - {{name: audit, event: apply, kind: http, url: '{}', {retry}}}\n",
            drift_rx.url("/drift"),
            apply_rx.url("/apply"),
            audit_new.url("/audit")
        ),
    );
    serve.signal("-HUP");

    // The moved webhook keeps its retries; nothing reaches the drift webhook that took its
    // place, and audit's pending retries go neither to its new URL nor to its old one.
    assert!(
        eventually(Duration::from_secs(8), async || apply_rx.requests().len()
            == 6)
        .await,
        "the moved webhook got {} requests",
        apply_rx.requests().len()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        drift_rx.requests().len(),
        0,
        "apply retries reached the drift webhook"
    );
    assert_eq!(
        audit_new.requests().len(),
        0,
        "retries reached audit's new target"
    );
    assert_eq!(
        audit_old.requests().len(),
        3,
        "retries went on to audit's old target"
    );

    let out = crate::support::herald(
        &["log", "--json"],
        &[("HERALD_DATA_DIR", serve.data.to_str().expect("utf-8"))],
    )
    .await;
    let log: Value = serde_json::from_slice(&out.stdout).expect("json");
    let audit: Vec<&Value> = log
        .as_array()
        .expect("list")
        .iter()
        .filter(|d| d["delivery"]["webhook_label"] == "audit")
        .collect();
    assert_eq!(audit.len(), 3);
    for d in audit {
        assert_eq!(d["delivery"]["status"], "failed");
        let error = d["delivery"]["last_error"].as_str().unwrap_or_default();
        assert!(error.contains("now sends elsewhere"), "{error}");
    }
}
