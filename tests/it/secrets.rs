//! The secrets audit: known secret strings are planted everywhere a user can put one (Slack
//! token, header values, a signing secret, credentials in a clone URL and in a webhook URL,
//! env0's tokens, the ingest token), herald is run for real, and every place it writes or
//! shows text is searched: the journal file, its logs, `herald log --json`, `fire --dry-run`,
//! error messages and rendered console frames. Zero hits is the only pass.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use herald::intake::Inbound;
use herald::tui::app::{Action, App, Message, Pane};
use herald::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::process::Command;

use crate::support::{Receiver, Reply, eventually, free_port, herald, repo_file, stderr, stdout};

const SECRETS: [&str; 12] = [
    "xoxb-PLANTED-slack-token-1111",
    "PLANTED-header-2222",
    "PLANTED-header-3333",
    "PLANTED-signing-secret-4444",
    "PLANTED-vcs-5555",
    "PLANTED-url-6666",
    "PLANTED-query-7777",
    "PLANTED-oidc-8888",
    "PLANTED-vcs-access-9999",
    "PLANTED-ingest-0000",
    "PLANTED-env0-secret-aaaa",
    "PLANTED-atlantis-bbbb",
];

fn config(receiver: &Receiver) -> String {
    format!(
        "slack-token: xoxb-PLANTED-slack-token-1111\n\
         webhook-http-headers: '{{\"Authorization\": \"Bearer PLANTED-header-2222\"}}'\n\
         herald:\n  ingest-token: PLANTED-ingest-0000\n  env0-secret: PLANTED-env0-secret-aaaa\n\
         \x20 drift-schedule:\n    - {{atlantis-url: 'http://{addr}', repository: acme/infra, ref: main, type: Github, every: 1h, api-secret: PLANTED-atlantis-bbbb, timeout: 5s}}\n\
         webhooks:\n\
         \x20 - name: audit\n    event: apply\n    kind: http\n    url: http://user:PLANTED-url-6666@{addr}/hook?token=PLANTED-query-7777\n\
         \x20   headers: {{X-Api-Key: PLANTED-header-3333}}\n    secret: PLANTED-signing-secret-4444\n    retry: {{max-attempts: 1}}\n\
         \x20 - name: drift\n    event: drift\n    kind: http\n    url: http://user:PLANTED-url-6666@{addr}/drift?token=PLANTED-query-7777\n    retry: {{max-attempts: 1}}\n\
         \x20 - name: slack\n    event: apply\n    kind: slack\n    channel: C1\n    retry: {{max-attempts: 1}}\n",
        addr = receiver.addr
    )
}

fn apply_body() -> String {
    std::fs::read_to_string(repo_file("examples/payloads/apply-success.json"))
        .expect("fixture")
        .replace(
            "https://atlantis-bot:@github.com",
            "https://bot:PLANTED-vcs-5555@github.com",
        )
}

fn env0_body() -> String {
    std::fs::read_to_string(repo_file("examples/payloads/env0-drift-detected.json"))
        .expect("fixture")
        .replace(
            "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.example-oidc-token-payload.signature",
            "PLANTED-oidc-8888",
        )
        .replace(
            "ghs_exampleVcsAccessToken0000000000000000",
            "PLANTED-vcs-access-9999",
        )
}

fn hits(place: &str, text: &str, found: &mut Vec<String>) {
    for s in SECRETS {
        if text.contains(s) {
            found.push(format!("{s} in {place}"));
        }
    }
}

fn file_text(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_appear_nowhere() {
    // The receiver fails and echoes secrets back, as a misbehaving proxy might.
    // Among the echoes: the bearer token without its scheme, as in `invalid api key TOKEN`.
    let rx = Receiver::start(Reply::Status(500, "upstream said: Bearer PLANTED-header-2222 key PLANTED-header-3333 via http://user:PLANTED-url-6666@internal/x?token=PLANTED-query-7777; invalid api key PLANTED-header-2222; X-Atlantis-Token: PLANTED-atlantis-bbbb")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("herald.yaml");
    std::fs::write(&cfg, config(&rx)).expect("config");
    let data = dir.path().join("data");
    let port = free_port();
    let mut found = Vec::new();
    let mut places = Vec::new();

    // 1. serve: ingest with the token, an apply with a credentialed clone URL, a signed env0 drift.
    let child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "serve",
            "-c",
            cfg.to_str().expect("utf-8"),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("HERALD_DATA_DIR", &data)
        .env("HERALD_LOG", "debug")
        .env(
            "HERALD_SLACK_API_URL",
            format!("http://127.0.0.1:{}/api", free_port()),
        )
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve");
    let client = herald::notify::client().expect("client");
    let url = format!("http://127.0.0.1:{port}");
    assert!(
        eventually(Duration::from_secs(15), async || client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .is_ok())
        .await,
        "serve up"
    );
    let post = async |path: &str, body: String, extra: Option<(&str, String)>| {
        let mut req = client
            .post(format!("{url}{path}"))
            .header("content-type", "application/json")
            .header("authorization", "Bearer PLANTED-ingest-0000");
        if let Some((k, v)) = extra {
            req = req.header(k, v);
        }
        req.body(body).send().await.expect("post").status().as_u16()
    };
    assert_eq!(post("/events/apply", apply_body(), None).await, 202);
    let env0 = env0_body();
    let sig = herald::ingest::auth::env0_signature("PLANTED-env0-secret-aaaa", env0.as_bytes());
    assert_eq!(
        post("/events/env0", env0, Some(("x-env0-signature", sig))).await,
        202
    );
    // A rejected request must not echo the token either.
    let bad = client
        .post(format!("{url}/events"))
        .header("authorization", "Bearer PLANTED-ingest-0000x")
        .body("{}")
        .send()
        .await
        .expect("post");
    hits(
        "a 401 answer",
        &bad.text().await.unwrap_or_default(),
        &mut found,
    );
    assert!(
        eventually(Duration::from_secs(15), async || rx.requests().len() >= 2).await,
        "deliveries attempted"
    );
    // The drift schedule asked "Atlantis" (the echoing receiver) and reported the failure
    // to the drift webhook; what the operator API says of it is searched too.
    assert!(
        eventually(Duration::from_secs(15), async || {
            let uris: Vec<String> = rx.requests().iter().map(|r| r.uri.clone()).collect();
            uris.iter().any(|u| u == "/api/drift/detect")
                && uris.iter().any(|u| u.starts_with("/drift"))
        })
        .await,
        "the drift schedule ran and its failure was delivered"
    );
    let drift = client
        .get(format!("{url}/api/v1/drift"))
        .send()
        .await
        .expect("GET /api/v1/drift");
    let drift = drift.text().await.unwrap_or_default();
    assert!(drift.contains("acme/infra@main"), "{drift}");
    hits("GET /api/v1/drift", &drift, &mut found);
    places.push("operator API: GET /drift");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().expect("pid").to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("stops")
        .expect("output");
    let logs = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        logs.contains("failed"),
        "the logs do talk about the failures: {logs}"
    );
    hits("serve logs", &logs, &mut found);
    places.push("serve logs (debug)");

    // 2. The journal file and its write-ahead log.
    for name in ["journal.sqlite3", "journal.sqlite3-wal"] {
        hits(name, &file_text(&data.join(name)), &mut found);
    }
    places.push("journal file and WAL");

    // 3. herald log, text and JSON.
    let env = [("HERALD_DATA_DIR", data.to_str().expect("utf-8"))];
    for args in [vec!["log", "--json"], vec!["log"]] {
        let o = herald(&args, &env).await;
        assert!(o.status.success());
        assert!(
            stdout(&o).contains("status 500"),
            "the log shows the failure"
        );
        hits(
            &args.join(" "),
            &format!("{}{}", stdout(&o), stderr(&o)),
            &mut found,
        );
    }
    places.push("herald log, herald log --json");

    // 4. fire --dry-run and a real fire (its errors), check.
    let payload = dir.path().join("apply.json");
    std::fs::write(&payload, apply_body()).expect("payload");
    let c = cfg.to_str().expect("utf-8");
    let p = payload.to_str().expect("utf-8");
    for args in [
        vec![
            "fire",
            "--event",
            "apply",
            "--payload",
            p,
            "--dry-run",
            "-c",
            c,
        ],
        vec![
            "fire",
            "--event",
            "apply",
            "--payload",
            p,
            "--dry-run",
            "--json",
            "-c",
            c,
        ],
        vec!["fire", "--event", "apply", "--payload", p, "-c", c],
        vec![
            "fire",
            "--event",
            "apply",
            "--payload",
            p,
            "--json",
            "-c",
            c,
        ],
        vec![
            "check",
            "-c",
            c,
            "--slack-api-url",
            "http://127.0.0.1:9/api",
        ],
        vec![
            "match",
            "--event",
            "apply",
            "--payload",
            p,
            "--json",
            "-c",
            c,
        ],
    ] {
        let o = herald(&args, &env).await;
        hits(
            &args[..args.len().min(5)].join(" "),
            &format!("{}{}", stdout(&o), stderr(&o)),
            &mut found,
        );
    }
    places.push("fire --dry-run [--json], fire [--json] errors, check, match");

    // 5. Console frames of the same config and events.
    let (config, _) = herald::config::load(&herald::config::LoadOptions {
        path: Some(cfg.clone()),
        ..herald::config::LoadOptions::default()
    })
    .expect("config");
    let journal =
        herald::store::Journal::open(&data, herald::store::Commit::Grouped).expect("journal");
    let engine = herald::dispatch::Engine::new(
        Arc::new(config.clone()),
        journal.clone(),
        herald::dispatch::EngineOptions::default(),
    )
    .expect("engine");
    let client = herald::api::Api::new(engine.clone(), None).local_client();
    let (window, _) = herald::tui::run::load_page(&client).await.expect("window");
    assert!(!window.is_empty());
    let mut app = App::new(
        client.webhooks().await.expect("webhooks"),
        "127.0.0.1:4141".into(),
        vec![("apply.json".into(), apply_body())],
    );
    app.apply(Message::Loaded(window.clone()));
    app.update(Action::Resize(140, 50));
    let theme = Theme::load("default").expect("theme");
    let mut frames = Vec::new();
    let mut frame = |app: &App| {
        let mut t = Terminal::new(TestBackend::new(140, 50)).expect("terminal");
        t.draw(|f| herald::tui::view::draw(f, app, &theme))
            .expect("draw");
        frames.push(t.backend().to_string());
    };
    for pane in Pane::ALL {
        app.update(Action::Pane(pane));
        for _ in 0..window.len() {
            frame(&app);
            app.update(Action::Down);
        }
    }
    // Every event's detail, every tab, with its stored body and attempts.
    app.update(Action::Pane(Pane::Events));
    app.update(Action::Top);
    for e in &window {
        app.update(Action::Enter);
        let body = journal
            .reader()
            .event(&e.id)
            .await
            .expect("read")
            .map(|r| r.body)
            .unwrap_or_default();
        let mut attempts = Vec::new();
        for d in &e.deliveries {
            attempts.push((
                d.id.clone(),
                journal.reader().attempts(&d.id).await.expect("attempts"),
            ));
        }
        app.apply(Message::Detail {
            event_id: e.id.clone(),
            body,
            attempts,
        });
        for _ in 0..3 {
            frame(&app);
            app.update(Action::Next);
        }
        app.update(Action::Back);
        app.update(Action::Down);
    }
    // Test-fire previews for every webhook.
    app.update(Action::Pane(Pane::Webhooks));
    app.update(Action::Fire);
    for _ in 0..3 {
        frame(&app);
        app.update(Action::Next);
        app.update(Action::Down);
        app.update(Action::Toggle);
        app.update(Action::Prev);
    }
    for (i, f) in frames.iter().enumerate() {
        hits(&format!("console frame {i}"), f, &mut found);
    }
    places.push("console frames: every pane and row, every detail tab, test-fire previews");
    assert!(matches!(
        herald::intake::read(apply_body().as_bytes(), None),
        Ok(Inbound::Event(_))
    ));

    eprintln!(
        "secrets audit: {} planted secrets, searched: {}; hits: {}",
        SECRETS.len(),
        places.join("; "),
        found.len()
    );
    assert!(found.is_empty(), "secrets found:\n{}", found.join("\n"));
}

/// env0's tokens in the bundled fixture.
const ENV0_TOKENS: [&str; 2] = ["eyJhbGciOiJSUzI1NiIs", "ghs_exampleVcsAccessToken"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env0_tokens_are_kept_by_no_entry_point() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let config = format!(
        "webhooks:\n  - {{name: d, event: drift, kind: http, url: '{}'}}\n",
        rx.url("/")
    );
    let server = crate::support::Server::start(crate::support::load_ok(&config, None, None)).await;
    let body =
        std::fs::read(repo_file("examples/payloads/env0-drift-detected.json")).expect("fixture");
    assert!(
        ENV0_TOKENS
            .iter()
            .all(|t| String::from_utf8_lossy(&body).contains(t))
    );

    // The ingest API.
    let client = herald::notify::client().expect("client");
    let posted: serde_json::Value = client
        .post(format!("{}/events/env0", server.url))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("posted")
        .json()
        .await
        .expect("json");
    let event_id = posted["event_id"].as_str().expect("accepted").to_string();
    // The console's test-fire.
    server
        .engine
        .test_fire(&body, &[0])
        .await
        .expect("test-fire");
    // A replay of the posted event.
    server.engine.replay(&event_id, &[]).await.expect("replay");
    // The demo's feed (its fifth sample is the env0 fixture).
    let stop = tokio_util::sync::CancellationToken::new();
    let feed = tokio::spawn(herald::demo::feed(
        server.engine.clone(),
        Duration::from_millis(5),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    feed.await.expect("feed");
    // `herald fire` with the bundled env0 fixture, into the same journal.
    let data = server
        .engine
        .reader()
        .file()
        .expect("a SQLite journal")
        .parent()
        .expect("dir")
        .to_path_buf();
    let (_cfg_dir, cfg) = crate::support::config_file(&config);
    let env = [("HERALD_DATA_DIR", data.to_str().expect("utf-8"))];
    let out = herald(
        &[
            "fire",
            "--event",
            "env0",
            "-c",
            cfg.to_str().expect("utf-8"),
        ],
        &env,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        eventually(Duration::from_secs(5), async || rx.requests().len() >= 4).await,
        "every path delivered"
    );

    let mut found = Vec::new();
    let db = server
        .engine
        .reader()
        .file()
        .expect("a SQLite journal")
        .to_path_buf();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let mut texts = vec![
        ("the journal file", file_text(&db)),
        ("its write-ahead log", file_text(Path::new(&wal))),
    ];
    for args in [vec!["log", "--json"], vec!["log"]] {
        let out = herald(&args, &env).await;
        texts.push(("herald log", stdout(&out)));
    }
    for (place, text) in &texts {
        for t in ENV0_TOKENS {
            if text.contains(t) {
                found.push(format!("{t} in {place}"));
            }
        }
    }
    assert!(
        texts[0].1.len() + texts[1].1.len() > 0,
        "the journal was read"
    );
    assert!(found.is_empty(), "env0 tokens kept: {found:?}");
}
