//! HTTP webhooks against a real loopback receiver: Atlantis' HTTP tests (reference §7
//! #12–#18, #30–#33, #44–#49) and herald's delivery policy (signing, retries, timeouts,
//! isolation).

use std::time::{Duration, Instant};

use herald::dispatch::Selection;
use herald::notify::{Outcome, sign};

use crate::support::{Receiver, Reply, apply_fixture, deliver, drift_fixture, fire, load_ok};

fn http_config(url: &str, event: &str, extra: &str) -> String {
    format!("webhooks:\n  - event: {event}\n    kind: http\n    url: '{url}'\n{extra}")
}

#[tokio::test]
async fn t14_headers_are_sent_with_every_value_in_order() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let c = load_ok(
        &http_config(
            &rx.url("/hook"),
            "apply",
            "    workspace-regex: .*\n    branch-regex: .*\n",
        ),
        None,
        Some(r#"{"Authorization": "Bearer token", "X-Custom-Header": ["value1", "value2"]}"#),
    );
    let reports = fire(c, &apply_fixture()).await;
    assert_eq!(reports[0].outcome, Outcome::Delivered, "{reports:?}");
    let got = rx.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header_values("content-type"),
        vec!["application/json"]
    );
    assert_eq!(got[0].header_values("authorization"), vec!["Bearer token"]);
    assert_eq!(
        got[0].header_values("x-custom-header"),
        vec!["value1", "value2"]
    );
}

#[tokio::test]
async fn t15_t16_no_headers_and_any_2xx_succeeds() {
    for status in [200, 201, 202, 204] {
        let rx = Receiver::start(Reply::Status(status, "")).await;
        let reports = fire(
            load_ok(&http_config(&rx.url("/"), "apply", ""), None, None),
            &apply_fixture(),
        )
        .await;
        assert_eq!(reports[0].outcome, Outcome::Delivered, "status {status}");
        assert_eq!(
            rx.requests()[0].header_values("content-type"),
            vec!["application/json"]
        );
    }
}

#[tokio::test]
async fn t17_t47_500_is_an_error_naming_the_status() {
    let rx = Receiver::start(Reply::Status(500, "boom")).await;
    let reports = fire(
        load_ok(&http_config(&rx.url("/"), "apply", ""), None, None),
        &apply_fixture(),
    )
    .await;
    let error = reports[0].attempts[0].error.clone().unwrap_or_default();
    assert_eq!(reports[0].outcome, Outcome::Failed);
    assert!(
        error.contains("sending webhook") && error.contains("status 500"),
        "{error}"
    );
}

#[tokio::test]
async fn t18_no_request_when_a_filter_does_not_match() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    for extra in ["    workspace-regex: other\n", "    branch-regex: other\n"] {
        let reports = fire(
            load_ok(&http_config(&rx.url("/"), "apply", extra), None, None),
            &apply_fixture(),
        )
        .await;
        assert!(reports.is_empty());
    }
    assert!(rx.requests().is_empty());
}

#[tokio::test]
async fn body_is_the_atlantis_apply_json_with_credentials_redacted() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let body = std::fs::read(crate::support::repo_file(
        "examples/payloads/apply-failure.json",
    ))
    .expect("fixture");
    let event = herald::event::Event::Apply(herald::event::parse_apply(&body).expect("parses"));
    fire(
        load_ok(&http_config(&rx.url("/"), "apply", ""), None, None),
        &event,
    )
    .await;
    let got = rx.requests()[0].json();
    let keys: Vec<&String> = got.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "Workspace",
            "Repo",
            "Pull",
            "User",
            "Success",
            "Directory",
            "ProjectName"
        ]
    );
    let pull_keys: Vec<&String> = got["Pull"].as_object().expect("object").keys().collect();
    assert_eq!(
        pull_keys,
        [
            "Num",
            "HeadCommit",
            "URL",
            "HeadBranch",
            "BaseBranch",
            "HardenedNonPRRefCheckout",
            "Author",
            "Body",
            "State",
            "BaseRepo"
        ]
    );
    assert_eq!(got["Success"], false);
    assert_eq!(got["Repo"]["VCSHost"]["Type"], 0);
    let text = String::from_utf8_lossy(&rx.requests()[0].body).into_owned();
    assert!(
        !text.contains("example-vcs-token-0000"),
        "the VCS token must not be sent"
    );
    assert_eq!(
        got["Repo"]["CloneURL"],
        "https://atlantis-bot:<redacted>@github.com/acme/infrastructure.git"
    );
    assert_eq!(got["Pull"]["BaseRepo"]["CloneURL"], got["Repo"]["CloneURL"]);
}

#[tokio::test]
async fn herald_headers_and_standard_webhooks_signature() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let c = load_ok(
        &http_config(
            &rx.url("/"),
            "apply",
            &format!("    secret: {secret}\n    headers: {{X-Own: mine}}\n"),
        ),
        None,
        Some(r#"{"X-Global": "g"}"#),
    );
    let reports = fire(c, &apply_fixture()).await;
    let r = &rx.requests()[0];
    assert_eq!(r.header_values("x-herald-event"), vec!["apply"]);
    assert_eq!(
        r.header_values("x-herald-delivery"),
        vec![reports[0].delivery_id.clone()]
    );
    assert!(r.header_values("user-agent")[0].starts_with("herald/"));
    assert_eq!(r.header_values("x-global"), vec!["g"]);
    assert_eq!(r.header_values("x-own"), vec!["mine"]);
    let id = &r.header_values("webhook-id")[0];
    let ts: i64 = r.header_values("webhook-timestamp")[0]
        .parse()
        .expect("timestamp");
    let sig = &r.header_values("webhook-signature")[0];
    assert_eq!(id, &reports[0].delivery_id);
    assert!(
        sign::verify(secret, id, ts, &r.body, sig),
        "signature verifies against the raw body"
    );
    assert!(!sign::verify("whsec_b3RoZXI=", id, ts, &r.body, sig));
}

#[tokio::test]
async fn t12_t13_t31_every_matching_webhook_gets_it_once() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let one = format!(
        "  - {{event: drift, kind: http, url: '{}'}}\n",
        rx.url("/a")
    );
    let c = load_ok(&format!("webhooks:\n{}", one.repeat(3)), None, None);
    let reports = fire(c, &drift_fixture(1, 2)).await;
    assert_eq!(reports.len(), 3);
    assert!(reports.iter().all(|r| r.outcome == Outcome::Delivered));
    assert_eq!(rx.requests().len(), 3);
    let ids: std::collections::HashSet<String> = rx
        .requests()
        .iter()
        .map(|r| r.header_values("x-herald-delivery")[0].clone())
        .collect();
    assert_eq!(ids.len(), 3, "each delivery has its own id");
}

#[tokio::test]
async fn t32_a_failing_webhook_does_not_stop_the_others() {
    let bad = Receiver::start(Reply::Status(500, "")).await;
    let good = Receiver::start(Reply::Status(200, "")).await;
    let c = load_ok(
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n  - {{event: drift, kind: http, url: '{}'}}\n",
            bad.url("/"),
            good.url("/")
        ),
        None,
        None,
    );
    let reports = fire(c, &drift_fixture(1, 2)).await;
    assert_eq!(reports[0].outcome, Outcome::Failed);
    assert_eq!(reports[1].outcome, Outcome::Delivered);
    assert_eq!(good.requests().len(), 1);
}

#[tokio::test]
async fn t33_no_drift_webhooks_is_a_no_op() {
    assert!(
        fire(load_ok("webhooks: []\n", None, None), &drift_fixture(1, 2))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn t44_t45_t46_drift_body_and_headers() {
    let rx = Receiver::start(Reply::Status(202, "")).await;
    let c = load_ok(
        &http_config(&rx.url("/drift"), "drift", ""),
        None,
        Some(r#"{"Authorization": "Bearer drift-token"}"#),
    );
    let reports = fire(c, &drift_fixture(1, 2)).await;
    assert_eq!(reports[0].outcome, Outcome::Delivered);
    let r = &rx.requests()[0];
    assert_eq!(r.uri, "/drift");
    assert_eq!(r.header_values("authorization"), vec!["Bearer drift-token"]);
    assert_eq!(r.header_values("content-type"), vec!["application/json"]);
    let body = r.json();
    assert_eq!(body["repository"], "owner/repo");
    assert_eq!(body["detection_id"], "det-123");
    assert_eq!(body["projects_with_drift"], 1);
    assert_eq!(body["total_projects"], 2);
    assert_eq!(body["projects"].as_array().map(Vec::len), Some(2));
    assert!(
        body.get("env0").is_none(),
        "Atlantis drift stays exactly Atlantis' JSON"
    );
    assert!(
        body["projects"][0].get("error").is_none(),
        "empty error is omitted"
    );
}

#[tokio::test]
async fn t48_errors_never_show_url_credentials_path_or_query_tokens() {
    let rx = Receiver::start(Reply::Status(
        500,
        "failed posting to https://user:secret@internal.example/hooks/sensitive?token=super-secret",
    ))
    .await;
    let url = format!(
        "http://user:secret@{}/hooks/sensitive?token=super-secret",
        rx.addr
    );
    let c = load_ok(
        &http_config(&url, "drift", ""),
        None,
        Some(r#"{"X-Api-Key": "header-value-secret"}"#),
    );
    let reports = fire(c, &drift_fixture(1, 2)).await;
    let a = &reports[0].attempts[0];
    let shown = format!(
        "{} {} {}",
        a.error.clone().unwrap_or_default(),
        a.response,
        reports[0].target
    );
    assert!(shown.contains("status 500"), "{shown}");
    for secret in [
        "user:secret",
        "super-secret",
        "/hooks/sensitive",
        "header-value-secret",
    ] {
        assert!(
            !a.error.clone().unwrap_or_default().contains(secret),
            "{secret} in {shown}"
        );
        assert!(!a.response.contains(secret), "{secret} in {shown}");
    }
    assert!(
        !reports[0].target.contains("user:secret") && !reports[0].target.contains("super-secret")
    );
}

#[tokio::test]
async fn t49_transport_errors_never_show_credentials() {
    // Nothing listens on a port just closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = format!("http://user:secret@127.0.0.1:{port}/hook?access_token=super-secret");
    let reports = fire(
        load_ok(&http_config(&url, "drift", ""), None, None),
        &drift_fixture(1, 2),
    )
    .await;
    let a = &reports[0].attempts[0];
    let error = a.error.clone().unwrap_or_default();
    assert_eq!(
        a.outcome,
        Outcome::Retryable,
        "a refused connection is worth retrying"
    );
    assert!(error.contains("could not connect"), "{error}");
    assert!(
        !error.contains("user:secret") && !error.contains("super-secret"),
        "{error}"
    );
}

#[tokio::test]
async fn retries_after_5xx_keep_the_delivery_id_and_then_succeed() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    rx.push([Reply::Status(503, "busy"), Reply::Status(500, "")]);
    let c = load_ok(
        &http_config(
            &rx.url("/"),
            "drift",
            "    retry: {max-attempts: 4, schedule: [50ms]}\n",
        ),
        None,
        None,
    );
    let reports = deliver(c, &drift_fixture(1, 2), Selection::Route, None).await;
    let r = &reports[0];
    assert_eq!(r.outcome, Outcome::Delivered);
    assert_eq!(
        r.attempts.iter().map(|a| a.outcome).collect::<Vec<_>>(),
        [Outcome::Retryable, Outcome::Retryable, Outcome::Delivered]
    );
    let ids: Vec<String> = rx
        .requests()
        .iter()
        .map(|q| q.header_values("x-herald-delivery")[0].clone())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.iter().all(|i| i == &r.delivery_id),
        "same id on every retry: {ids:?}"
    );
}

#[tokio::test]
async fn final_failures_are_not_retried_and_retries_are_bounded() {
    for (status, attempts) in [
        (400, 1),
        (404, 1),
        (410, 1),
        (301, 1),
        (500, 3),
        (429, 3),
        (408, 3),
    ] {
        let rx = Receiver::start(Reply::Status(status, "")).await;
        let c = load_ok(
            &http_config(
                &rx.url("/"),
                "drift",
                "    retry: {max-attempts: 3, schedule: [10ms]}\n",
            ),
            None,
            None,
        );
        let reports = deliver(c, &drift_fixture(1, 2), Selection::Route, None).await;
        assert_eq!(reports[0].outcome, Outcome::Failed, "status {status}");
        assert_eq!(rx.requests().len(), attempts, "status {status}");
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    // The receiver asks for 1 s although the schedule says 10 ms.
    rx.push([Reply::RetryAfter(1)]);
    let c = load_ok(
        &http_config(
            &rx.url("/"),
            "drift",
            "    retry: {max-attempts: 2, schedule: [10ms]}\n",
        ),
        None,
        None,
    );
    let reports = deliver(c, &drift_fixture(1, 2), Selection::Route, None).await;
    assert_eq!(reports[0].attempts[0].outcome, Outcome::Retryable);
    assert_eq!(reports[0].outcome, Outcome::Delivered);
    let got = rx.requests();
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_and_does_not_delay_the_others() {
    let hang = Receiver::start(Reply::Hang).await;
    let good = Receiver::start(Reply::Status(200, "")).await;
    let c = load_ok(
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: '{}', timeout: 1s}}\n  - {{event: drift, kind: http, url: '{}'}}\n",
            hang.url("/"),
            good.url("/")
        ),
        None,
        None,
    );
    let start = Instant::now();
    let reports = deliver(c, &drift_fixture(1, 2), Selection::Route, Some(1)).await;
    let good_after = good.requests()[0].at - start;
    assert!(
        good_after < Duration::from_secs(1),
        "healthy webhook waited {good_after:?}"
    );
    assert_eq!(reports[1].outcome, Outcome::Delivered);
    let timed_out = &reports[0].attempts[0];
    assert_eq!(timed_out.outcome, Outcome::Retryable);
    assert!(
        timed_out
            .error
            .clone()
            .unwrap_or_default()
            .contains("timed out after 1s"),
        "{timed_out:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_configured_user_agent_replaces_heralds() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let c = load_ok(
        &http_config(
            &rx.url("/hook"),
            "apply",
            "    headers: {User-Agent: acme-relay/2, content-type: application/vnd.acme+json}\n",
        ),
        None,
        None,
    );
    let reports = fire(c, &apply_fixture()).await;
    assert_eq!(reports[0].outcome, Outcome::Delivered);
    let got = &rx.requests()[0];
    assert_eq!(got.header_values("user-agent"), vec!["acme-relay/2"]);
    assert_eq!(
        got.header_values("content-type"),
        vec!["application/vnd.acme+json"]
    );
}

#[tokio::test]
async fn a_token_echoed_without_its_scheme_or_cut_by_the_excerpt_is_scrubbed() {
    const TOKEN: &str = "sk-live-0123456789abcdef";
    let echo: &'static str = Box::leak(format!("invalid api key {TOKEN}").into_boxed_str());
    // The token straddles the excerpt's end: scrubbing after the cut would leave its head.
    let padded: &'static str = Box::leak(
        format!(
            "{}{TOKEN}",
            "x".repeat(herald::notify::RESPONSE_EXCERPT - 10)
        )
        .into_boxed_str(),
    );
    let rx = Receiver::start(Reply::Status(401, "")).await;
    rx.push([Reply::Status(401, echo), Reply::Status(401, padded)]);
    let c = load_ok(
        &http_config(&rx.url("/hook"), "apply", "    retry: {max-attempts: 1}\n"),
        None,
        Some(&format!(r#"{{"Authorization": "Bearer {TOKEN}"}}"#)),
    );
    for _ in 0..2 {
        let reports = fire(c.clone(), &apply_fixture()).await;
        let a = &reports[0].attempts[0];
        let shown = format!("{:?} {:?} {}", a.error, a.hint, a.response);
        assert!(!shown.contains("sk-live"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}

/// Verifies a request with the official `standardwebhooks` library (PyPI), as a receiver
/// would.
fn official_library_verifies(secret: &str, r: &crate::support::Recorded) -> Result<(), String> {
    let headers: serde_json::Map<String, serde_json::Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|h| (h.to_string(), serde_json::json!(r.header_values(h)[0])))
            .collect();
    let input = serde_json::json!({
        "secret": secret,
        "body": String::from_utf8_lossy(&r.body),
        "headers": headers,
    });
    let script = "import json, sys\nfrom standardwebhooks import Webhook\n\
        i = json.load(sys.stdin)\nWebhook(i['secret']).verify(i['body'], i['headers'])\n";
    let out = python(script, &input);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs a Python script with `input` as JSON on its standard input (CI installs Python's
/// `standardwebhooks`; the rest is the standard library).
fn python(script: &str, input: &serde_json::Value) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write");
    child.wait_with_output().expect("python3 ends")
}

#[tokio::test]
async fn signatures_verify_with_the_official_standardwebhooks_library() {
    let minted = sign::new_secret().expect("randomness");
    for secret in [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        // Unpadded base64, which the libraries accept.
        "whsec_aGVsbG8gd29ybGQgc2VjcmV0IGtleQ",
        // No prefix: the libraries read it as base64 too.
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        &minted,
    ] {
        let rx = Receiver::start(Reply::Status(200, "")).await;
        let c = load_ok(
            &http_config(&rx.url("/"), "apply", &format!("    secret: '{secret}'\n")),
            None,
            None,
        );
        let reports = fire(c, &apply_fixture()).await;
        assert_eq!(reports[0].outcome, Outcome::Delivered);
        let r = &rx.requests()[0];
        if let Err(e) = official_library_verifies(secret, r) {
            panic!("the official library rejects herald's signature with {secret}: {e}");
        }
    }
}

#[test]
fn secrets_decode_to_the_keys_pythons_base64_gives() {
    // Odd secrets: any length, padding anywhere, characters outside the alphabet.
    let alphabet: Vec<char> = "ABCabcxyz0129+/=-_ .".chars().collect();
    let mut rng = fastrand::Rng::with_seed(7);
    let secrets: Vec<String> = (0..400)
        .map(|_| {
            let len = rng.usize(0..24);
            (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect()
        })
        .collect();
    let script = "import base64, json, sys\nout = []\nfor s in json.load(sys.stdin):\n    try:\n        out.append(base64.b64decode(s + '==').hex())\n    except Exception:\n        out.append(None)\nprint(json.dumps(out))\n";
    let out = python(script, &serde_json::json!(secrets));
    let decoded: Vec<Option<String>> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        decoded.len(),
        secrets.len(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (s, want) in secrets.iter().zip(decoded) {
        // An empty key is refused by the libraries too (EmptyWebhookSecretError).
        let want = want.filter(|h| !h.is_empty());
        let got = sign::key(&format!("whsec_{s}")).ok().map(hex::encode);
        assert_eq!(got, want, "secret {s:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_atlantis_adds_reach_the_receiver_unchanged_and_in_order_after_a_replay_too() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let c = load_ok(
        &format!(
            "webhooks:\n  - {{event: apply, kind: http, url: '{}'}}\n  - {{event: drift, kind: http, url: '{}'}}\n",
            rx.url("/apply"),
            rx.url("/drift")
        ),
        None,
        None,
    );
    let server = crate::support::Server::start(c).await;
    // An apply as a newer Atlantis might send it: a field before the known ones, one
    // between them, one nested, the output of PR #5599, and the clone-URL credential.
    let apply = r#"{"ZFirst":1,"Workspace":"production","Repo":{"FullName":"acme/infra","Owner":"acme","Name":"infra","CloneURL":"https://bot:ghp_secret@github.com/acme/infra.git","SanitizedCloneURL":"https://bot:<redacted>@github.com/acme/infra.git","VCSHost":{"Hostname":"github.com","Type":0},"Extra":[1,{"b":2,"a":1}]},"ResultMessage":"Apply complete! Resources: 1 added.","Pull":{"Num":7,"URL":"https://github.com/acme/infra/pull/7","BaseBranch":"main","NewThing":null},"User":{"Username":"dev","Teams":null},"Success":true,"Directory":".","ProjectName":""}"#;
    let drift = r#"{"repository":"acme/infra","zeta":true,"ref":"main","detection_id":"d-1","projects_with_drift":0,"total_projects":1,"projects":[{"project_name":"p","path":"p","workspace":"default","has_drift":false,"to_add":0,"to_change":0,"to_destroy":0,"to_import":0,"to_forget":0,"summary":"","error":"","new_field":"kept"}],"errors":["from PR #6753"]}"#;
    let http = herald::notify::client().expect("client");
    let mut event_ids = Vec::new();
    for (route, body) in [("apply", apply), ("drift", drift)] {
        let r: serde_json::Value = http
            .post(format!("{}/events/{route}", server.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("posted")
            .json()
            .await
            .expect("json");
        event_ids.push(r["event_id"].as_str().expect("accepted").to_string());
    }
    for id in &event_ids {
        server.engine.replay(id, &[]).await.expect("replay");
    }
    assert!(
        crate::support::eventually(Duration::from_secs(5), async || rx.requests().len() == 4).await
    );
    let expected_apply = apply.replace("bot:ghp_secret@", "bot:<redacted>@");
    for r in rx.requests() {
        let got = String::from_utf8_lossy(&r.body).into_owned();
        let want = if r.uri == "/apply" {
            &expected_apply
        } else {
            drift
        };
        assert_eq!(&got, want, "{}", r.uri);
    }
}

/// Connections to a receiver are kept for the next attempts: a second burst as large as a
/// webhook's in-flight cap opens none (the client kept only 16 idle connections per host,
/// fewer than the 32 attempts in flight, and opened 16 again every burst).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_attempts_reuses_the_connections_of_the_last() {
    let rx = crate::support::Tally::start(Duration::from_millis(200)).await;
    let config = format!(
        "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
        rx.url
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let journal =
        herald::store::Journal::open(dir.path(), herald::store::Commit::Grouped).expect("journal");
    let engine = herald::dispatch::Engine::new(
        std::sync::Arc::new(load_ok(&config, None, None)),
        journal,
        herald::dispatch::EngineOptions::default(),
    )
    .expect("engine");
    let stop = tokio_util::sync::CancellationToken::new();
    let run = {
        let (e, s) = (engine.clone(), stop.clone());
        tokio::spawn(async move { e.run(s, Duration::from_secs(1)).await })
    };
    let burst = async |round: usize| {
        let accepts = (0..32).map(|_| {
            engine.accept(
                herald::intake::Source::Drift,
                crate::support::received(&drift_fixture(1, 1)),
                &Selection::Route,
            )
        });
        for r in futures::future::join_all(accepts).await {
            r.expect("accepted");
        }
        assert!(
            crate::support::eventually(Duration::from_secs(20), async || rx.answered()
                == 32 * round)
            .await,
            "burst {round} delivered"
        );
    };
    burst(1).await;
    let first = rx.connections();
    assert!(
        first >= 16,
        "the burst ran in parallel: {first} connections"
    );
    burst(2).await;
    let second = rx.connections() - first;
    assert_eq!(
        second, 0,
        "the second burst opened {second} new connections"
    );
    stop.cancel();
    run.await.expect("engine stops");
}
