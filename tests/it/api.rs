//! The operator API, route by route, against the in-process engine on a loopback port:
//! answers, paging edges, bad input as 4xx JSON, the live stream and its resumption, and
//! who may do what.

use std::time::Duration;

use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::{Receiver, Reply, Server, eventually, load_ok, repo_file};

fn config(rx: &Receiver, extra: &str) -> herald::config::Config {
    load_ok(
        &format!(
            "{extra}webhooks:\n  - {{name: audit, event: apply, kind: http, url: '{}?token=very-secret-token'}}\n  - {{name: drifts, event: drift, kind: http, url: '{}'}}\n",
            rx.url("/apply"),
            rx.url("/drift")
        ),
        None,
        None,
    )
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    fn new(server: &Server, token: Option<&str>) -> Self {
        Self {
            http: herald::notify::client().expect("client"),
            base: format!("{}/api/v1", server.url),
            token: token.map(str::to_string),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            "PUT" => self.http.put(url),
            _ => self.http.post(url),
        };
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().await.expect("answer");
        let status = r.status().as_u16();
        let text = r.text().await.expect("text");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

async fn post_events(server: &Server, n: usize, drift: bool) {
    let http = herald::notify::client().expect("client");
    for i in 0..n {
        let body = if drift {
            json!({"repository": "acme/infra", "ref": "main", "detection_id": format!("d-{i}"),
                "projects_with_drift": 0, "total_projects": 0, "projects": []})
            .to_string()
        } else {
            std::fs::read_to_string(repo_file("examples/payloads/apply-success.json"))
                .expect("fixture")
        };
        let r = http
            .post(format!("{}/events", server.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("posted");
        assert_eq!(r.status().as_u16(), 202);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_webhooks_and_paging_through_events() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let server = Server::start(config(&rx, "")).await;
    let api = Client::new(&server, None);
    post_events(&server, 15, true).await;
    post_events(&server, 10, false).await;

    let (s, status) = api.call("GET", "/status", None).await;
    assert_eq!(s, 200, "{status}");
    assert_eq!(status["paused"], false);
    assert_eq!(status["counts"]["events"], 25);
    assert_eq!(status["version"], herald::VERSION);

    let (s, hooks) = api.call("GET", "/webhooks", None).await;
    assert_eq!(s, 200);
    assert_eq!(hooks["webhooks"][0]["name"], "audit");
    let target = hooks["webhooks"][0]["target"].as_str().expect("target");
    assert!(
        !target.contains("very-secret-token") && target.contains("token=<redacted>"),
        "{target}"
    );
    assert!(
        eventually(Duration::from_secs(5), async || {
            api.call("GET", "/webhooks", None).await.1["webhooks"][1]["deliveries"]["succeeded"]
                == 15
        })
        .await
    );

    // Three pages of 10, 10 and 5, newest first, with no event twice.
    let mut seen = Vec::new();
    let mut before: Option<i64> = None;
    for expected in [10, 10, 5] {
        let path = match before {
            Some(b) => format!("/events?limit=10&before={b}"),
            None => "/events?limit=10".to_string(),
        };
        let (s, page) = api.call("GET", &path, None).await;
        assert_eq!(s, 200, "{page}");
        let events = page["events"].as_array().expect("events");
        assert_eq!(events.len(), expected, "{page}");
        seen.extend(
            events
                .iter()
                .map(|e| e["id"].as_str().expect("id").to_string()),
        );
        before = page["next"].as_i64();
    }
    assert_eq!(before, None, "the last page has no next cursor");
    seen.dedup();
    assert_eq!(seen.len(), 25);

    let (_, drift) = api
        .call("GET", "/events?q=kind:drift&limit=100", None)
        .await;
    assert_eq!(drift["events"].as_array().map(Vec::len), Some(15));
    let (_, not_drift) = api
        .call("GET", "/events?q=!kind:drift&limit=100", None)
        .await;
    assert_eq!(not_drift["events"].as_array().map(Vec::len), Some(10));
    let (_, by_hook) = api
        .call("GET", "/events?q=webhook:audit&limit=100", None)
        .await;
    assert_eq!(by_hook["events"].as_array().map(Vec::len), Some(10));
    let (_, text) = api
        .call("GET", "/events?q=acme/infra%20kind:drift&limit=100", None)
        .await;
    assert_eq!(text["events"].as_array().map(Vec::len), Some(15));

    for bad in [
        "/events?limit=0",
        "/events?limit=1001",
        "/events?q=colour:red",
        "/events?q=status:",
    ] {
        let (s, e) = api.call("GET", bad, None).await;
        assert_eq!(s, 400, "{bad}: {e}");
        assert!(e["error"].is_string() && e["detail"].is_string(), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_event_replays_fire_pause_and_reload() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    rx.push([Reply::Status(404, "gone")]);
    let server = Server::start(config(&rx, "")).await;
    let api = Client::new(&server, None);
    post_events(&server, 1, false).await;
    let (_, page) = api.call("GET", "/events", None).await;
    let id = page["events"][0]["id"].as_str().expect("id").to_string();
    assert!(
        eventually(Duration::from_secs(5), async || api
            .call("GET", &format!("/events/{id}"), None)
            .await
            .1["deliveries"][0]["delivery"]["status"]
            == "failed")
        .await
    );
    let (s, detail) = api.call("GET", &format!("/events/{id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(detail["event"]["kind"], "apply");
    assert_eq!(detail["deliveries"][0]["attempts"][0]["status"], 404);
    assert!(
        !detail.to_string().contains("very-secret-token"),
        "{detail}"
    );
    let (s, _) = api.call("GET", "/events/no-such-id", None).await;
    assert_eq!(s, 404);

    // Replays: the event, one delivery, every failed one.
    let (s, r) = api
        .call("POST", &format!("/events/{id}/replay"), None)
        .await;
    assert_eq!(s, 202, "{r}");
    assert_eq!(r["deliveries"].as_array().map(Vec::len), Some(1));
    let delivery = detail["deliveries"][0]["delivery"]["id"]
        .as_str()
        .expect("id");
    let (s, r) = api
        .call(
            "POST",
            &format!("/deliveries/{delivery}/replay"),
            Some(json!({"webhooks": ["audit"]})),
        )
        .await;
    assert_eq!(s, 202, "{r}");
    let (s, r) = api
        .call("POST", "/replay", Some(json!({"failed": true})))
        .await;
    assert_eq!(s, 202, "{r}");
    assert!(eventually(Duration::from_secs(5), async || rx.requests().len() >= 4).await);
    for (path, body, status) in [
        ("/events/nope/replay", None, 404),
        ("/replay", Some(json!({})), 400),
        ("/replay", Some(json!({"failed": true, "colour": 1})), 400),
        (
            &format!("/events/{id}/replay") as &str,
            Some(json!({"webhooks": ["nope"]})),
            400,
        ),
    ] {
        let (s, e) = api.call("POST", path, body).await;
        assert_eq!(s, status, "{path}: {e}");
        assert!(e["error"].is_string(), "{e}");
    }

    // Test-fire answers with the outcome.
    let payload: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("examples/payloads/drift-clean.json")).expect("fixture"),
    )
    .expect("json");
    let (s, fired) = api
        .call(
            "POST",
            "/fire",
            Some(json!({"payload": payload, "webhooks": ["drifts"]})),
        )
        .await;
    assert_eq!(s, 200, "{fired}");
    assert_eq!(fired["deliveries"][0]["delivery"]["status"], "succeeded");
    let (s, _) = api
        .call(
            "POST",
            "/fire",
            Some(json!({"payload": {"hello": 1}, "webhooks": ["drifts"]})),
        )
        .await;
    assert_eq!(s, 400);

    // Pause is the journal's: another process on it sees it.
    let (s, p) = api.call("POST", "/pause", None).await;
    assert_eq!((s, &p["paused"]), (200, &json!(true)));
    let (_, status) = api.call("GET", "/status", None).await;
    assert_eq!(status["paused"], true);
    let other = herald::store::Journal::open(
        server
            .engine
            .reader()
            .file()
            .expect("a SQLite journal")
            .parent()
            .expect("dir"),
        herald::store::Commit::Grouped,
    )
    .expect("journal");
    assert!(other.reader().paused().await.expect("state"));
    let (s, _) = api.call("POST", "/resume", None).await;
    assert_eq!(s, 200);
    assert!(!other.reader().paused().await.expect("state"));

    // This in-process herald has no file to reload.
    let (s, e) = api.call("POST", "/reload", None).await;
    assert_eq!(s, 501, "{e}");
}

/// Reads server-sent events until `want` items are seen; returns (event name, id, data).
async fn read_sse(resp: reqwest::Response, want: usize) -> Vec<(String, String, Value)> {
    let mut resp = resp;
    let mut text = String::new();
    let mut items = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while items.len() < want {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("stream items within 10 s")
            .expect("chunk")
            .expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let (mut name, mut id, mut data) =
                (String::from("message"), String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if !data.is_empty() {
                items.push((name, id, serde_json::from_str(&data).unwrap_or(Value::Null)));
            }
        }
    }
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_follows_and_resumes_where_the_client_left() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let server = Server::start(config(&rx, "")).await;
    let http = herald::notify::client().expect("client");
    let url = format!("{}/api/v1/stream", server.url);
    let live = http.get(&url).send().await.expect("stream");
    assert_eq!(live.status().as_u16(), 200);
    assert!(
        live.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/event-stream")
    );
    let poster = {
        let url = server.url.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let http = herald::notify::client().expect("client");
            for i in 0..3 {
                let body = json!({"repository": "acme/infra", "ref": "main", "detection_id": format!("s-{i}"),
                    "projects_with_drift": 0, "total_projects": 0, "projects": []});
                http.post(format!("{url}/events"))
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                    .expect("posted");
            }
        })
    };
    // The state first, then three events and their three attempts.
    let items = read_sse(live, 7).await;
    poster.await.expect("poster");
    assert_eq!(items[0].0, "state");
    assert_eq!(items[0].2["paused"], false);
    let recorded: Vec<_> = items.iter().filter(|i| i.0 == "recorded").collect();
    let attempted: Vec<_> = items.iter().filter(|i| i.0 == "attempted").collect();
    assert_eq!((recorded.len(), attempted.len()), (3, 3), "{items:?}");

    // Resuming after the first recorded event gives the rest, once each.
    let first = &recorded[0].1;
    let resumed = http
        .get(&url)
        .header("last-event-id", first)
        .send()
        .await
        .expect("stream");
    let again = read_sse(resumed, 6).await;
    let names: Vec<&str> = again.iter().map(|i| i.0.as_str()).collect();
    assert_eq!(
        names.iter().filter(|n| **n == "recorded").count(),
        2,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| **n == "attempted").count(),
        3,
        "{names:?}"
    );

    // An id from another journal (ahead of this one) asks the client to reload.
    let odd = http
        .get(&url)
        .header("last-event-id", "999999.999999")
        .send()
        .await
        .expect("stream");
    let reset = read_sse(odd, 1).await;
    assert_eq!(reset[0].0, "reset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_decide_who_reads_and_who_acts() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let server = Server::start(config(
        &rx,
        "herald:\n  ingest-token: ingest-token-0123456789\n  operator-token: op-token-0123456789\n  viewer-token: view-token-0123456789\n",
    ))
    .await;
    let nobody = Client::new(&server, None);
    let wrong = Client::new(&server, Some("not-a-token"));
    let viewer = Client::new(&server, Some("view-token-0123456789"));
    let operator = Client::new(&server, Some("op-token-0123456789"));
    for c in [&nobody, &wrong] {
        let (s, e) = c.call("GET", "/status", None).await;
        assert_eq!(s, 401, "{e}");
        assert_eq!(e["error"], "missing or wrong operator API token");
    }
    assert_eq!(viewer.call("GET", "/status", None).await.0, 200);
    assert_eq!(viewer.call("GET", "/events", None).await.0, 200);
    let (s, e) = viewer.call("POST", "/pause", None).await;
    assert_eq!(s, 403, "{e}");
    assert_eq!(e["error"], "the viewer token may only read");
    assert_eq!(operator.call("POST", "/pause", None).await.0, 200);
    assert_eq!(operator.call("POST", "/resume", None).await.0, 200);
    let (s, _) = operator.call("GET", "/events?limit=5", None).await;
    assert_eq!(s, 200);
    // The ingest API is not the operator API's door, nor the reverse.
    let ingest = Client::new(&server, Some("ingest-token-0123456789"));
    let (s, e) = ingest.call("GET", "/status", None).await;
    assert_eq!(s, 401, "the ingest token reads nothing: {e}");
    let r = herald::notify::client()
        .expect("client")
        .post(format!("{}/events", server.url))
        .bearer_auth("op-token-0123456789")
        .header("content-type", "application/json")
        .body(std::fs::read(repo_file("examples/payloads/drift-clean.json")).expect("fixture"))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        r.status().as_u16(),
        401,
        "the operator token posts no event"
    );
}

#[tokio::test]
async fn without_tokens_only_this_machine_may_use_the_api() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let journal =
        herald::store::Journal::open(dir.path(), herald::store::Commit::Grouped).expect("journal");
    let engine = herald::dispatch::Engine::new(
        std::sync::Arc::new(config(&rx, "")),
        journal,
        herald::dispatch::EngineOptions::default(),
    )
    .expect("engine");
    let router = herald::ingest::router(engine);
    for (peer, status) in [("127.0.0.1:40000", 200), ("192.0.2.7:40000", 403)] {
        let mut req = axum::http::Request::get("/api/v1/status")
            .body(axum::body::Body::empty())
            .expect("request");
        req.extensions_mut()
            .insert(herald::api::Peer(peer.parse().expect("addr")));
        let r = router.clone().oneshot(req).await.expect("answer");
        assert_eq!(r.status().as_u16(), status, "{peer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_are_applied_to_the_running_engine_and_written_to_the_file() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let server = Server::start(config(&rx, "")).await;
    let api = Client::new(&server, None);
    let (s, r) = api
        .call(
            "PUT",
            "/webhooks/audit/filters",
            Some(json!({"workspace-regex": "^staging$"})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["workspace_regex"], "^staging$");
    // The fixture's workspace is "production": audit no longer takes it.
    let http = herald::notify::client().expect("client");
    let posted: Value = http
        .post(format!("{}/events/apply", server.url))
        .header("content-type", "application/json")
        .body(std::fs::read(repo_file("examples/payloads/apply-success.json")).expect("fixture"))
        .send()
        .await
        .expect("posted")
        .json()
        .await
        .expect("json");
    assert_eq!(posted["deliveries"], 0, "{posted}");
    for (path, body, status, error) in [
        (
            "/webhooks/audit/filters",
            json!({"branch-regex": "^(main"}),
            400,
            "error parsing regexp: missing closing ): `^(main`",
        ),
        (
            "/webhooks/nope/filters",
            json!({"branch-regex": "x"}),
            404,
            "no such webhook",
        ),
        (
            "/webhooks/audit/filters",
            json!({}),
            400,
            "nothing to change",
        ),
        (
            "/webhooks/audit/filters",
            json!({"branch-regex": "x", "write": true}),
            409,
            "no config file to write",
        ),
    ] {
        let (s, e) = api.call("PUT", path, Some(body)).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (status, Some(error)),
            "{path}: {e}"
        );
    }

    // With the real `serve` and its file: written in place, comments kept, and in use.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("herald.yaml");
    std::fs::write(
        &path,
        format!("# production hooks\nwebhooks:\n  - name: audit   # the auditors\n    event: apply\n    kind: http\n    url: '{}'\n", rx.url("/a")),
    )
    .expect("config");
    let serve =
        crate::support::Serve::start(&path, &dir.path().join("data"), crate::support::free_port())
            .await;
    let url = format!("{}/api/v1/webhooks/0/filters", serve.url);
    let r = http
        .put(&url)
        .header("content-type", "application/json")
        .body(json!({"branch-regex": "^release/", "write": true}).to_string())
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    let text = std::fs::read_to_string(&path).expect("config");
    assert!(
        text.starts_with("# production hooks\n") && text.contains("# the auditors"),
        "{text}"
    );
    assert!(text.contains("branch-regex: ^release/"), "{text}");
    let hooks: Value = http
        .get(format!("{}/api/v1/webhooks", serve.url))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(hooks["webhooks"][0]["branch_regex"], "^release/");
}

/// `POST /preview`: the exact request a webhook would get, secrets masked, for a journaled
/// event or a payload, sending nothing; a viewer may ask; bad asks are 4xx JSON.
/// `GET /slack`: no webhook needs the token here, so it says so.
#[tokio::test]
async fn preview_shows_the_request_and_sends_nothing() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let server = Server::start(config(
        &rx,
        "herald:\n  operator-token: op-token-0123456789\n  viewer-token: view-token-0123456789\n",
    ))
    .await;
    let viewer = Client::new(&server, Some("view-token-0123456789"));
    let payload: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("examples/payloads/apply-success.json")).expect("f"),
    )
    .expect("json");
    let (s, p) = viewer
        .call(
            "POST",
            "/preview",
            Some(json!({"webhook": "audit", "payload": payload})),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["webhook"], "audit");
    assert_eq!(p["request"]["method"], "POST");
    let url = p["request"]["url"].as_str().expect("url");
    assert!(!url.contains("very-secret-token"), "masked: {url}");
    assert!(p["preview"]["json"]["Workspace"].is_string(), "{p}");
    assert!(rx.requests().is_empty(), "a preview sends nothing");

    let (s, e) = viewer
        .call(
            "POST",
            "/preview",
            Some(json!({"webhook": "nope", "payload": {}})),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["error"]
            .as_str()
            .is_some_and(|t| t.contains("no webhook")),
        "{e}"
    );
    let (s, e) = viewer
        .call("POST", "/preview", Some(json!({"webhook": "audit"})))
        .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("say what to preview")),
        "{e}"
    );
    let (s, e) = viewer
        .call(
            "POST",
            "/preview",
            Some(json!({"webhook": "audit", "event_id": "no-such-event"})),
        )
        .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (404, Some("no such event")),
        "{e}"
    );
    let (s, e) = Client::new(&server, None)
        .call(
            "POST",
            "/preview",
            Some(json!({"webhook": "audit", "payload": {}})),
        )
        .await;
    assert_eq!(s, 401, "{e}");

    let (s, slack) = viewer.call("GET", "/slack", None).await;
    assert_eq!((s, slack), (200, json!("not_needed")));
}
