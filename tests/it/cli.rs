//! The real `herald` binary: `check`, `match` and `fire`.

use herald::fake::Scenario;
use serde_json::Value;

use crate::support::{
    Receiver, Reply, TOKEN, config_file, fake_slack as fake, herald, repo_file, stderr, stdout,
};

#[tokio::test]
async fn check_passes_on_every_example_config() {
    let env = [
        ("SLACK_BOT_TOKEN", "xoxb-example"),
        ("RECEIVER_TOKEN", "receiver-token"),
        ("HERALD_INGEST_TOKEN", "ingest-token"),
        (
            "AUDIT_SIGNING_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        (
            "SLACK_DRIFT_WEBHOOK_URL",
            "https://hooks.slack.com/services/T0/B0/XYZ",
        ),
        ("ATLANTIS_API_SECRET", "atlantis-api-secret"),
        ("TEAMS_SIG", "teams-signature-0123456789"),
    ];
    let dir = repo_file("examples/configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("configs") {
        let path = entry.expect("entry").path();
        let out = herald(
            &["check", "--offline", "-c", path.to_str().expect("utf-8")],
            &env,
        )
        .await;
        assert!(
            out.status.success(),
            "{}:\n{}{}",
            path.display(),
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stdout(&out).trim_end().ends_with(": OK"),
            "{}",
            stdout(&out)
        );
        checked += 1;
    }
    assert!(checked >= 3);
}

#[tokio::test]
async fn check_reports_five_mistakes_at_once() {
    let (_dir, path) = config_file(
        "\
slack-token: xoxb-t
webhooks:
  - event: apply
    kind: slack
    workspace-regex: '(prod'
  - event: deploy
    kind: http
    url: https://x.example
  - kind: http
  - event: drift
    kind: teams
    url: https://x.example
",
    );
    let out = herald(
        &["check", "--offline", "-c", path.to_str().expect("utf-8")],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let errors: Vec<&str> = text.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(errors.len(), 5, "{text}");
    let p = path.display().to_string();
    for (line, col) in [(3, 5), (5, 22), (6, 12), (9, 5), (11, 11)] {
        assert!(
            text.contains(&format!("{p}:{line}:{col}: error: ")),
            "no error at {line}:{col}:\n{text}"
        );
    }
    assert!(text.contains("5 errors"), "{text}");
}

#[tokio::test]
async fn check_tests_the_slack_token_once() {
    let fake = fake().await;
    let (_dir, path) = config_file(
        "webhooks:\n  - {event: apply, kind: slack, channel: a}\n  - {event: apply, kind: slack, channel: b}\n  - {event: drift, kind: slack, channel: c}\n",
    );
    let p = path.to_str().expect("utf-8");
    let api = fake.api_url();
    let out = herald(
        &["check", "-c", p, "--slack-api-url", &api],
        &[("ATLANTIS_SLACK_TOKEN", TOKEN)],
    )
    .await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        fake.auth_tests(),
        1,
        "one auth.test per token, not per entry"
    );

    let out = herald(
        &["check", "-c", p, "--slack-api-url", &api],
        &[("ATLANTIS_SLACK_TOKEN", "xoxb-wrong-value")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("$ATLANTIS_SLACK_TOKEN: error: testing slack authentication: invalid_auth. Verify your slack-token is valid"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("xoxb-wrong-value"));
    let out = herald(
        &["check", "--offline", "-c", p],
        &[("ATLANTIS_SLACK_TOKEN", "xoxb-wrong-value")],
    )
    .await;
    assert!(out.status.success(), "--offline skips auth.test");
    assert_eq!(fake.auth_tests(), 2);
}

#[tokio::test]
async fn fire_posts_the_exact_atlantis_attachment_to_slack() {
    let fake = fake().await;
    let config = repo_file("examples/configs/atlantis-server.yaml");
    let api = fake.api_url();
    let out = herald(
        &[
            "fire",
            "--event",
            "apply",
            "--webhook",
            "0",
            "-c",
            config.to_str().expect("utf-8"),
            "--slack-api-url",
            &api,
            "--slack-token",
            TOKEN,
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).starts_with("ok     #0 slack C0123456789: delivered (200"),
        "{}",
        stdout(&out)
    );
    let got = fake.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].channel, "C0123456789");
    let att = &got[0].body["attachments"][0];
    assert_eq!(att["color"], "good");
    assert_eq!(
        att["text"],
        "Apply succeeded for <https://github.com/acme/infrastructure/pull/2137|acme/infrastructure>"
    );
    let fields: Vec<(String, String, bool)> = att["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["title"].as_str().unwrap_or_default().into(),
                f["value"].as_str().unwrap_or_default().into(),
                f["short"] == true,
            )
        })
        .collect();
    assert_eq!(
        fields,
        vec![
            ("Workspace".into(), "production".into(), true),
            ("Branch".into(), "feature/rds-storage-autoscaling".into(), true),
            ("User".into(), "octocat".into(), true),
            ("Directory".into(), "terraform/databases".into(), true),
            (
                "Description".into(),
                "Enable storage autoscaling on the orders database (max 500 GiB) &amp; raise the alarm threshold to 85%.".into(),
                false
            ),
        ]
    );
}

#[tokio::test]
async fn fire_reports_slack_failures_with_a_hint_and_exit_1() {
    let fake = fake().await;
    fake.push([Scenario::Error("not_in_channel".into())]);
    let config = repo_file("examples/configs/atlantis-server.yaml");
    let api = fake.api_url();
    let out = herald(
        &[
            "fire",
            "--event",
            "apply",
            "--webhook",
            "0",
            "-c",
            config.to_str().expect("utf-8"),
            "--slack-api-url",
            &api,
            "--slack-token",
            TOKEN,
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("FAILED #0 slack C0123456789: not_in_channel"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("hint: the bot is not in the channel"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn fire_at_a_closed_port_fails_readably_without_secrets() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let (_dir, path) = config_file(&format!(
        "webhooks:\n  - event: apply\n    kind: http\n    url: http://bob:hunter2hunter2@127.0.0.1:{port}/hooks/private?token=tok-123456789\n"
    ));
    let out = herald(
        &[
            "fire",
            "--event",
            "apply",
            "--webhook",
            "0",
            "-c",
            path.to_str().expect("utf-8"),
            "--webhook-http-headers",
            r#"{"Authorization": "Bearer header-secret-value"}"#,
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains(&format!(
            "sending webhook to \"http://127.0.0.1:{port}\": could not connect"
        )),
        "{all}"
    );
    assert!(all.contains("hint: is the receiver running"), "{all}");
    for secret in ["hunter2hunter2", "tok-123456789", "header-secret-value"] {
        assert!(!all.contains(secret), "{secret} shown:\n{all}");
    }
    // The error itself names only the origin, as Atlantis' drift errors do; the path is
    // shown once, as the webhook's target, so two webhooks on one host can be told apart.
    let error_part = all.split(": sending webhook").nth(1).expect("error text");
    assert!(!error_part.contains("/hooks/private"), "{all}");
}

#[tokio::test]
async fn fire_dry_run_shows_exact_requests_with_secrets_masked() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let (_dir, path) = config_file(&format!(
        "slack-token: xoxb-very-secret-token\nwebhooks:\n  - {{event: apply, kind: slack, channel: C1}}\n  - event: apply\n    kind: http\n    url: http://u:pw-secret-1@{}/h?key=query-secret\n    headers: {{X-Api-Key: own-secret-value}}\n    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
        rx.addr
    ));
    let out = herald(
        &[
            "fire",
            "--event",
            "apply",
            "--dry-run",
            "--json",
            "-c",
            path.to_str().expect("utf-8"),
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for secret in [
        "xoxb-very-secret-token",
        "pw-secret-1",
        "query-secret",
        "own-secret-value",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ] {
        assert!(!text.contains(secret), "{secret} shown:\n{text}");
    }
    let shown: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        shown[0]["request"]["url"],
        "http://127.0.0.1:0/chat.postMessage"
            .replace("http://127.0.0.1:0", "https://slack.com/api")
    );
    let headers = shown[0]["request"]["headers"].as_array().expect("headers");
    assert!(
        headers
            .iter()
            .any(|h| h[0] == "Authorization" && h[1] == "Bearer xoxb-<redacted>"),
        "{headers:?}"
    );
    assert_eq!(shown[0]["request"]["body"]["channel"], "C1");
    assert!(
        shown[1]["request"]["url"]
            .as_str()
            .expect("url")
            .ends_with("/h?key=<redacted>")
    );
    assert!(rx.requests().is_empty(), "a dry run sends nothing");
}

#[tokio::test]
async fn fire_json_reports_every_attempt() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let (_dir, path) = config_file(&format!(
        "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
        rx.url("/d")
    ));
    let payload = repo_file("examples/payloads/drift-clean.json");
    let out = herald(
        &[
            "fire",
            "--event",
            "drift",
            "--payload",
            payload.to_str().expect("utf-8"),
            "--json",
            "-c",
            path.to_str().expect("utf-8"),
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(v[0]["delivery"]["status"], "succeeded");
    assert_eq!(v[0]["attempts"][0]["status"], 200);
    assert_eq!(v[0]["attempts"][0]["outcome"], "delivered");
    assert_eq!(rx.requests()[0].json()["projects_with_drift"], 0);
}

#[tokio::test]
async fn fire_env0_routes_to_drift_webhooks_and_acknowledges_tests() {
    let rx = Receiver::start(Reply::Status(204, "")).await;
    let (_dir, path) = config_file(&format!(
        "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
        rx.url("/d")
    ));
    let p = path.to_str().expect("utf-8");
    let out = herald(&["fire", "--event", "env0", "-c", p], &[]).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let body = rx.requests()[0].json();
    assert_eq!(body["repository"], "acme/payments-infra");
    assert_eq!(body["env0"]["environment"], "payments-prod");
    let test = repo_file("examples/payloads/env0-test.json");
    let out = herald(
        &[
            "fire",
            "--event",
            "env0",
            "--payload",
            test.to_str().expect("utf-8"),
            "-c",
            p,
        ],
        &[],
    )
    .await;
    assert!(out.status.success());
    assert!(stderr(&out).contains("test event"), "{}", stderr(&out));
    assert_eq!(rx.requests().len(), 1, "the test event is not sent");
}

#[tokio::test]
async fn fire_names_unknown_webhooks() {
    let (_dir, path) = config_file(
        "webhooks:\n  - {name: audit, event: drift, kind: http, url: 'https://x.example'}\n",
    );
    let out = herald(
        &[
            "fire",
            "--event",
            "drift",
            "--webhook",
            "nope",
            "--dry-run",
            "-c",
            path.to_str().expect("utf-8"),
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no webhook \"nope\": use a name or an index from 0 to 0 (audit)"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn match_explains_each_webhook() {
    let (_dir, path) = config_file(
        "webhooks:\n  - {name: prod, event: apply, kind: http, url: 'https://x.example', workspace-regex: prod}\n  - {name: staging, event: apply, kind: http, url: 'https://x.example', workspace-regex: '^staging$', branch-regex: '^main$'}\n  - {name: drift, event: drift, kind: http, url: 'https://x.example'}\n",
    );
    let p = path.to_str().expect("utf-8");
    let out = herald(
        &[
            "match",
            "--event",
            "apply",
            "--workspace",
            "preprod",
            "--branch",
            "main",
            "-c",
            p,
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("prod http https://x.example (apply): MATCH"),
        "{text}"
    );
    assert!(
        text.contains("workspace-regex \"prod\" matched workspace \"preprod\" at pre[prod]"),
        "{text}"
    );
    assert!(
        text.contains("staging http https://x.example (apply): no match"),
        "{text}"
    );
    assert!(
        text.contains("workspace-regex \"^staging$\" did not match workspace \"preprod\""),
        "{text}"
    );
    assert!(text.contains("this webhook is for drift events"), "{text}");
    // The unanchored pattern is warned about on stderr.
    assert!(
        stderr(&out).contains("\"prod\" also matches \"preprod\""),
        "{}",
        stderr(&out)
    );

    let out = herald(
        &[
            "match",
            "--event",
            "apply",
            "--workspace",
            "dev",
            "--json",
            "-c",
            p,
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "nothing matched");
    let v: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(v["webhooks"][0]["matched"], false);
    assert_eq!(v["webhooks"][0]["tests"][0]["value"], "dev");

    let payload = repo_file("examples/payloads/drift-detected.json");
    let out = herald(
        &[
            "match",
            "--event",
            "drift",
            "--payload",
            payload.to_str().expect("utf-8"),
            "-c",
            p,
        ],
        &[],
    )
    .await;
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("drift http https://x.example (drift): MATCH"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn help_never_prints_a_credential_from_the_environment() {
    let env = [
        (
            "HERALD_SLACK_API_URL",
            "https://user:PLANTED-proxy-pass@proxy.example/api",
        ),
        ("ATLANTIS_SLACK_TOKEN", "xoxb-PLANTED-token"),
        (
            "ATLANTIS_WEBHOOK_HTTP_HEADERS",
            r#"{"Authorization": "Bearer PLANTED-header"}"#,
        ),
    ];
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["fire", "--help"],
    ] {
        let out = herald(&args, &env).await;
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(text.contains("HERALD_SLACK_API_URL"), "{text}");
        assert!(!text.contains("PLANTED"), "{args:?}:\n{text}");
    }
}

#[tokio::test]
async fn fire_asks_for_force_before_sending_to_a_webhook_of_the_other_kind() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let (_dir, path) = config_file(&format!(
        "webhooks:\n  - {{name: applies, event: apply, kind: http, url: '{}'}}\n",
        rx.url("/a")
    ));
    let p = path.to_str().expect("utf-8");
    let out = herald(&["fire", "--event", "env0", "--webhook", "0", "-c", p], &[]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("webhook applies is for apply events and this is a drift event")
            && stderr(&out).contains("--force"),
        "{}",
        stderr(&out)
    );
    assert!(rx.requests().is_empty(), "nothing was sent without --force");
    let out = herald(
        &[
            "fire",
            "--event",
            "env0",
            "--webhook",
            "0",
            "--force",
            "-c",
            p,
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn log_reads_without_creating_and_shows_replays_and_requests() {
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path().to_str().expect("utf-8");
    let env = [("HERALD_DATA_DIR", d)];
    let out = herald(&["log"], &env).await;
    assert!(out.status.success());
    assert!(
        stdout(&out).starts_with("no journal in "),
        "{}",
        stdout(&out)
    );
    assert!(
        !data.path().join(herald::store::FILE_NAME).exists(),
        "reading the log created an empty journal"
    );

    let rx = Receiver::start(Reply::Status(200, "")).await;
    let (_dir, path) = config_file(&format!(
        "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
        rx.url("/d")
    ));
    let p = path.to_str().expect("utf-8");
    let out = herald(&["fire", "--event", "drift", "--json", "-c", p], &env).await;
    let fired: Value = serde_json::from_str(&stdout(&out)).expect("json");
    let id = fired[0]["delivery"]["id"].as_str().expect("id").to_string();
    let out = herald(&["replay", &id, "-c", p], &env).await;
    assert!(out.status.success(), "{}", stderr(&out));

    let out = herald(&["log"], &env).await;
    assert!(
        stdout(&out).contains(&format!("replay of {id}")),
        "{}",
        stdout(&out)
    );
    let out = herald(&["log", "--json"], &env).await;
    let log: Value = serde_json::from_str(&stdout(&out)).expect("json");
    let request = &log[0]["attempts"][0]["request"];
    assert_eq!(
        request["method"], "POST",
        "the request is an object: {request}"
    );
    assert!(request["headers"].is_array(), "{request}");
}

/// An event that no webhook takes is still received and journaled, so `log` lists it, as
/// text and JSON, instead of leaving the operator to wonder whether it arrived.
#[tokio::test]
async fn log_lists_events_no_webhook_took() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let (_cfg, path) = config_file(&format!(
        "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
        rx.url("/d")
    ));
    let data = dir.path().join("data");
    let serve = crate::support::Serve::start(&path, &data, crate::support::free_port()).await;
    let body = std::fs::read_to_string(repo_file("examples/payloads/apply-success.json"))
        .expect("fixture");
    crate::support::post_event(&serve.url, "/events/apply", body).await;
    let env = [("HERALD_DATA_DIR", data.to_str().expect("utf-8"))];
    let out = herald(&["log"], &env).await;
    let text = stdout(&out);
    assert!(text.contains("no webhook took it"), "{text}");
    assert!(text.contains("Apply succeeded"), "{text}");
    let out = herald(&["log", "--json"], &env).await;
    let log: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert!(log[0]["delivery"].is_null(), "{log}");
    assert_eq!(log[0]["event"]["kind"], "apply", "{log}");
    let out = herald(&["log", "--status", "failed"], &env).await;
    assert!(
        !stdout(&out).contains("no webhook took it"),
        "{}",
        stdout(&out)
    );
    assert!(rx.requests().is_empty());
}

/// `log`, `replay` and `fire` act on a production `serve` through its operator API with
/// `--remote` and a token, the same way they act on a local journal; a viewer token reads
/// but may not act; nothing is read from or written to a local data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_replay_and_fire_take_remote() {
    const OP: &str = "op-K4rT9wQz2LmX7vNb";
    const VIEW: &str = "view-P8sD3fHj6KqW1zYc";
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (_cfg, path) = config_file(&format!(
        "herald:\n  operator-token: {OP}\n  viewer-token: {VIEW}\nwebhooks:\n  - {{name: audit, event: drift, kind: http, url: '{}'}}\n  - {{name: plans, event: apply, kind: http, url: '{}'}}\n",
        rx.url("/d"),
        rx.url("/a")
    ));
    let serve =
        crate::support::Serve::start(&path, &dir.path().join("data"), crate::support::free_port())
            .await;
    let local = tempfile::tempdir().expect("tempdir");
    let ld = local.path().to_str().expect("utf-8");
    let op = [
        ("HERALD_DATA_DIR", ld),
        ("HERALD_REMOTE", serve.url.as_str()),
        ("HERALD_TOKEN", OP),
    ];

    let out = herald(
        &["fire", "--event", "drift", "--webhook", "audit", "--json"],
        &op,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let fired: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(fired[0]["delivery"]["status"], "succeeded", "{fired}");
    assert_eq!(rx.requests().len(), 1);

    let out = herald(&["log", "--json"], &op).await;
    let log: Value = serde_json::from_str(&stdout(&out)).expect("json");
    let id = log[0]["delivery"]["id"]
        .as_str()
        .expect("a delivery")
        .to_string();
    assert_eq!(log[0]["attempts"][0]["request"]["method"], "POST", "{log}");

    let out = herald(&["replay", &id], &op).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 replay(s) queued"),
        "{}",
        stdout(&out)
    );
    assert!(
        crate::support::eventually(std::time::Duration::from_secs(10), async || rx
            .requests()
            .len()
            == 2)
        .await,
        "serve sends the replay"
    );
    let out = herald(&["log"], &op).await;
    assert!(
        stdout(&out).contains(&format!("replay of {id}")),
        "{}",
        stdout(&out)
    );

    let viewer = [
        ("HERALD_DATA_DIR", ld),
        ("HERALD_REMOTE", serve.url.as_str()),
        ("HERALD_TOKEN", VIEW),
    ];
    let out = herald(&["log"], &viewer).await;
    assert!(out.status.success(), "a viewer reads: {}", stderr(&out));
    let out = herald(&["replay", &id], &viewer).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("may only read"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(VIEW), "the token is not echoed");
    assert_eq!(rx.requests().len(), 2, "nothing sent for the viewer");
    assert!(
        std::fs::read_dir(local.path())
            .expect("dir")
            .next()
            .is_none(),
        "no local journal was created"
    );

    // A drift event to a webhook for apply events asks --force, as a local fire does.
    let out = herald(&["fire", "--event", "drift", "--webhook", "plans"], &op).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("webhook plans is for apply events and this is a drift event")
            && stderr(&out).contains("--force"),
        "{}",
        stderr(&out)
    );
    assert_eq!(rx.requests().len(), 2, "nothing sent without --force");
    let out = herald(
        &["fire", "--event", "drift", "--webhook", "plans", "--force"],
        &op,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rx.requests().len(), 3, "sent with --force");
}

/// `--remote https://…` speaks TLS (rustls) to a `serve` behind a TLS front, trusting a
/// private CA given by `SSL_CERT_FILE`; without it the certificate is refused with a
/// sentence that says so, and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_over_https_trusts_the_ca_it_is_given_and_names_an_untrusted_one() {
    const OP: &str = "op-Z1xC5vB8nM3qW6eR";
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (_cfg, path) = config_file(&format!(
        "herald:\n  operator-token: {OP}\nwebhooks:\n  - {{name: audit, event: drift, kind: http, url: '{}'}}\n",
        rx.url("/d")
    ));
    let port = crate::support::free_port();
    let serve = crate::support::Serve::start(&path, &dir.path().join("data"), port).await;
    let front = crate::support::TlsFront::start(([127, 0, 0, 1], port).into()).await;
    let ca = front.ca.to_str().expect("utf-8");
    let trusting = [
        ("HERALD_REMOTE", front.url.as_str()),
        ("HERALD_TOKEN", OP),
        ("SSL_CERT_FILE", ca),
    ];

    let out = herald(
        &["fire", "--event", "drift", "--webhook", "audit", "--json"],
        &trusting,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rx.requests().len(), 1, "fired through the TLS front");
    let out = herald(&["log"], &trusting).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("audit"), "{}", stdout(&out));
    assert!(
        front.handshakes.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "each command went through TLS"
    );

    // The system's roots do not know the private CA.
    let empty = tempfile::tempdir().expect("tempdir");
    let no_roots = empty.path().join("none.pem");
    std::fs::write(&no_roots, "").expect("write");
    let untrusting = [
        ("HERALD_REMOTE", front.url.as_str()),
        ("HERALD_TOKEN", OP),
        ("SSL_CERT_FILE", no_roots.to_str().expect("utf-8")),
    ];
    let out = herald(
        &["fire", "--event", "drift", "--webhook", "audit"],
        &untrusting,
    )
    .await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("certificate"), "{err}");
    assert!(err.contains(&front.url), "names where: {err}");
    assert!(!err.contains(OP), "the token is not echoed: {err}");
    assert_eq!(rx.requests().len(), 1, "nothing sent");
    drop(serve);
}
