//! The ingest API in-process: answers, bad input, tokens and signatures, dedupe, and the
//! journal behind a 202.

use std::time::Duration;

use herald::store::{DeliveryFilter, DeliveryStatus};

use crate::support::{Receiver, Reply, Server, eventually, load_ok, payload, post};

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn accepted_events_are_journaled_before_the_answer_and_then_delivered() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let config = load_ok(
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n  - {{event: apply, kind: http, url: '{}', workspace-regex: '^production$'}}\n",
            rx.url("/drift"),
            rx.url("/apply")
        ),
        None,
        None,
    );
    let s = Server::start(config).await;
    let (status, body) = post(
        &format!("{}/events", s.url),
        payload("drift-detected.json"),
        &[JSON],
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["deliveries"], 1);
    let event_id = body["event_id"].as_str().expect("id").to_string();
    // On disk already when the 202 came.
    assert!(
        s.engine
            .reader()
            .event(&event_id)
            .await
            .expect("read")
            .is_some()
    );
    let (status, body) = post(
        &format!("{}/events/apply", s.url),
        payload("apply-success.json"),
        &[JSON],
    )
    .await;
    assert_eq!((status, body["deliveries"].as_u64()), (202, Some(1)));
    assert!(
        eventually(Duration::from_secs(5), async || rx.requests().len() == 2).await,
        "both delivered"
    );
    let delivered = eventually(Duration::from_secs(5), async || {
        s.engine
            .reader()
            .counts()
            .await
            .is_ok_and(|c| c.succeeded == 2)
    })
    .await;
    assert!(delivered);
    // The stored apply body has no clone-URL password.
    let e = s
        .engine
        .reader()
        .event(&event_id)
        .await
        .expect("read")
        .expect("event");
    assert_eq!(e.source, herald::intake::Source::Drift);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_the_server_keeps_serving() {
    let s = Server::start(load_ok("webhooks: []\n", None, None)).await;
    let events = format!("{}/events", s.url);
    let ten_mib = vec![b'a'; 10 * 1024 * 1024];
    // (name, body, headers, expected status, part of the error)
    type Case<'a> = (&'a str, Vec<u8>, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "malformed JSON",
            b"{\"repository\": ".to_vec(),
            vec![JSON],
            400,
            "invalid JSON",
        ),
        (
            "wrong types",
            br#"{"repository": 3, "projects": []}"#.to_vec(),
            vec![JSON],
            400,
            "invalid type",
        ),
        ("empty body", Vec::new(), vec![JSON], 400, "empty body"),
        ("10 MiB body", ten_mib, vec![JSON], 413, "body too large"),
        (
            "invalid UTF-8",
            b"{\"repository\": \"\xff\"}".to_vec(),
            vec![JSON],
            400,
            "not valid UTF-8",
        ),
        (
            "wrong content type",
            b"{}".to_vec(),
            vec![("content-type", "text/plain")],
            415,
            "must be JSON",
        ),
        (
            "unknown shape",
            br#"{"hello": 1}"#.to_vec(),
            vec![JSON],
            400,
            "unknown event shape",
        ),
        (
            "not an object",
            b"[1, 2]".to_vec(),
            vec![JSON],
            400,
            "unknown event shape",
        ),
    ];
    for (name, body, headers, want, text) in cases {
        let (status, answer) = post(&events, body, &headers).await;
        assert_eq!(status, want, "{name}: {answer}");
        assert!(
            answer["error"].as_str().unwrap_or_default().contains(text),
            "{name}: {answer}"
        );
        assert!(answer.get("detail").is_some(), "{name}: {answer}");
        // A good request right after each bad one still works.
        let (ok, _) = post(&events, payload("drift-clean.json"), &[JSON]).await;
        assert_eq!(ok, 202, "after {name}");
    }
    let (status, answer) = post(
        &format!("{}/events/drift", s.url),
        br#"{"repository": "a/b", "projects": [{"to_add": "x"}]}"#.to_vec(),
        &[JSON],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["detail"], "projects[0].to_add", "{answer}");
}

#[tokio::test]
async fn ingest_token_and_env0_signature() {
    let config = load_ok(
        "herald:\n  ingest-token: tok-abcdefghijkl\n  env0-secret: env0-shared-secret\nwebhooks: []\n",
        None,
        None,
    );
    let s = Server::start(config).await;
    let url = format!("{}/events", s.url);
    let (status, _) = post(&url, payload("drift-clean.json"), &[JSON]).await;
    assert_eq!(status, 401);
    let (status, _) = post(
        &url,
        payload("drift-clean.json"),
        &[JSON, ("authorization", "Bearer wrong")],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post(
        &url,
        payload("drift-clean.json"),
        &[JSON, ("authorization", "Bearer tok-abcdefghijkl")],
    )
    .await;
    assert_eq!(status, 202);

    let env0 = payload("env0-drift-detected.json");
    let auth = ("authorization", "Bearer tok-abcdefghijkl");
    let (status, answer) = post(
        &format!("{}/events/env0", s.url),
        env0.clone(),
        &[JSON, auth],
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"], "missing env0 signature");
    let bad = herald::ingest::auth::env0_signature("not-the-secret", &env0);
    let (status, answer) = post(
        &format!("{}/events/env0", s.url),
        env0.clone(),
        &[JSON, auth, ("x-env0-signature", &bad)],
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("env0 signature does not match"))
    );
    let good = herald::ingest::auth::env0_signature("env0-shared-secret", &env0);
    // A valid env0 signature stands in for the bearer token (env0 cannot send one).
    let (status, first) = post(
        &format!("{}/events/env0", s.url),
        env0.clone(),
        &[JSON, ("x-env-zero-signature", &format!("sha256={good}"))],
    )
    .await;
    assert_eq!(status, 202, "{first}");
    // A repeated env0 event id: the first event's id, nothing dispatched again.
    let (status, again) = post(
        &format!("{}/events/env0", s.url),
        env0,
        &[JSON, ("x-env0-signature", &good)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(again["event_id"], first["event_id"]);
    assert_eq!(again["duplicate"], true);
    assert_eq!(s.engine.reader().counts().await.expect("counts").events, 2);
}

#[tokio::test]
async fn env0_test_event_is_acknowledged_not_dispatched() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let s = Server::start(load_ok(
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
            rx.url("/")
        ),
        None,
        None,
    ))
    .await;
    let (status, answer) = post(
        &format!("{}/events", s.url),
        payload("env0-test.json"),
        &[JSON],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(
        &format!("{}/events/env0", s.url),
        br#"{"type": "com.env0.budget.exceeded", "id": "x", "data": {}}"#.to_vec(),
        &[JSON],
    )
    .await;
    // (Deployments that ended are apply results now: see `forward::env0_deployments_...`.)
    assert_eq!(
        (status, answer["ignored"].as_str()),
        (202, Some("com.env0.budget.exceeded"))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.requests().is_empty());
    assert_eq!(s.engine.reader().counts().await.expect("counts").events, 0);
}

#[tokio::test]
async fn env0_bodies_are_stored_without_tokens() {
    let s = Server::start(load_ok("webhooks: []\n", None, None)).await;
    let (status, answer) = post(
        &format!("{}/events/env0", s.url),
        payload("env0-drift-detected.json"),
        &[JSON],
    )
    .await;
    assert_eq!(status, 202);
    let e = s
        .engine
        .reader()
        .event(answer["event_id"].as_str().expect("id"))
        .await
        .expect("read")
        .expect("event");
    for secret in [
        "eyJhbGciOiJSUzI1NiIs",
        "ghs_exampleVcsAccessToken",
        "tfPlanJson",
        "example-sensitive-value",
    ] {
        assert!(!e.body.contains(secret), "{secret} stored");
    }
    let bytes =
        std::fs::read(s.engine.reader().file().expect("a SQLite journal")).expect("journal file");
    let wal = std::fs::read(
        s.engine
            .reader()
            .file()
            .expect("a SQLite journal")
            .with_extension("sqlite3-wal"),
    )
    .unwrap_or_default();
    for secret in ["ghs_exampleVcsAccessToken", "eyJhbGciOiJSUzI1NiIs"] {
        let hit = |b: &[u8]| b.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!hit(&bytes) && !hit(&wal), "{secret} in the journal file");
    }
}

#[tokio::test]
async fn healthz_and_metrics() {
    let rx = Receiver::start(Reply::Status(500, "")).await;
    let s = Server::start(load_ok(
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: '{}', retry: {{max-attempts: 1}}}}\n",
            rx.url("/")
        ),
        None,
        None,
    ))
    .await;
    let client = herald::notify::client().expect("client");
    let health = client
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    post(
        &format!("{}/events", s.url),
        payload("drift-detected.json"),
        &[JSON],
    )
    .await;
    post(&format!("{}/events", s.url), b"{".to_vec(), &[JSON]).await;
    assert!(
        eventually(Duration::from_secs(5), async || {
            s.engine
                .reader()
                .deliveries(DeliveryFilter::default())
                .await
                .expect("rows")[0]
                .status
                == DeliveryStatus::Failed
        })
        .await
    );
    let text = client
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        "herald_events_total{kind=\"drift\"} 1",
        "herald_ingest_rejected_total 1",
        "herald_deliveries{status=\"failed\"} 1",
        "herald_queue_depth 0",
        "herald_attempts_total{outcome=\"retryable\"} 1",
        "herald_attempt_duration_seconds_count 1",
    ] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
}

#[tokio::test]
async fn an_env0_body_without_id_cannot_be_replayed_under_a_new_event_id_header() {
    let config = load_ok(
        "herald:\n  env0-secret: env0-shared-secret\nwebhooks: []\n",
        None,
        None,
    );
    let s = Server::start(config).await;
    let mut body: serde_json::Value =
        serde_json::from_slice(&payload("env0-drift-detected.json")).expect("fixture");
    body.as_object_mut().expect("object").remove("id");
    let body = body.to_string().into_bytes();
    let sig = herald::ingest::auth::env0_signature("env0-shared-secret", &body);
    let url = format!("{}/events/env0", s.url);
    let (status, first) = post(
        &url,
        body.clone(),
        &[
            JSON,
            ("x-env0-signature", &sig),
            ("x-env0-event-id", "evt-1"),
        ],
    )
    .await;
    assert_eq!(status, 202, "{first}");
    let (status, again) = post(
        &url,
        body,
        &[
            JSON,
            ("x-env0-signature", &sig),
            ("x-env0-event-id", "evt-2-forged"),
        ],
    )
    .await;
    assert_eq!(
        (status, &again["duplicate"]),
        (200, &serde_json::json!(true)),
        "{again}"
    );
    assert_eq!(again["event_id"], first["event_id"]);
    assert_eq!(s.engine.reader().counts().await.expect("counts").events, 1);
}
