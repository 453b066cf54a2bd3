//! The journal and the commands over it: retention, replay, log.

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use herald::dispatch::{Engine, EngineOptions, Selection};
use herald::store::{Commit, DeliveryFilter, DeliveryStatus, Journal};
use serde_json::Value;

use crate::support::{
    Receiver, Reply, config_file, drift_fixture, eventually, herald, load_ok, stderr, stdout,
};

#[tokio::test]
async fn prune_keeps_unfinished_events_and_honours_the_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let config = format!(
        "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
        rx.url("/")
    );
    let (journal, engine) = engine_in(dir.path(), &config, EngineOptions::default());
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.extend(accept_drift(&engine).await);
    }
    // Deliver the first four; the fifth stays pending.
    engine.attempt_now(&ids[..4]).await.expect("attempts");
    assert_eq!(
        journal.prune(i64::MAX / 2, 2).await.expect("prune"),
        3,
        "down to two, oldest first"
    );
    let left = journal
        .reader()
        .deliveries(DeliveryFilter::default())
        .await
        .expect("rows");
    assert_eq!(left.len(), 2);
    assert!(
        left.iter().any(|d| d.status == DeliveryStatus::Pending),
        "the unfinished event is kept"
    );
    // By age: everything finished is older than "now minus zero".
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(journal.prune(0, 1_000_000).await.expect("prune"), 1);
    assert_eq!(journal.reader().counts().await.expect("counts").events, 1);
}

#[tokio::test]
async fn reopening_keeps_the_schema_and_rejects_a_newer_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(Journal::open(dir.path(), Commit::Grouped).expect("first open"));
    drop(Journal::open(dir.path(), Commit::Grouped).expect("second open migrates nothing"));
    let conn = rusqlite::Connection::open(dir.path().join(herald::store::FILE_NAME)).expect("open");
    conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(conn);
    let err = Journal::open(dir.path(), Commit::Grouped).expect_err("a newer schema is refused");
    assert!(err.to_string().contains("newer than this herald"), "{err}");
}

#[tokio::test]
async fn replay_log_and_failed() {
    // Two receivers, so which delivery fails does not depend on which request lands first.
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let bad_rx = Receiver::start(Reply::Status(200, "")).await;
    let (_dir, path) = config_file(&format!(
        "webhooks:\n  - {{name: good, event: drift, kind: http, url: '{}'}}\n  - {{name: bad, event: drift, kind: http, url: '{}', retry: {{max-attempts: 1}}}}\n",
        rx.url("/good"),
        bad_rx.url("/bad")
    ));
    bad_rx.push([Reply::Status(404, "gone")]);
    let data = tempfile::tempdir().expect("data");
    let d = data.path().to_str().expect("utf-8");
    let p = path.to_str().expect("utf-8");
    let env = [("HERALD_DATA_DIR", d)];
    let out = herald(&["fire", "--event", "drift", "--json", "-c", p], &env).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "one delivery failed: {}",
        stdout(&out)
    );
    let fired: Value = serde_json::from_str(&stdout(&out)).expect("json");
    let event_id = fired[0]["delivery"]["event_id"]
        .as_str()
        .expect("event id")
        .to_string();

    let out = herald(&["log", "--status", "failed", "--json"], &env).await;
    let failed: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(failed.as_array().map(Vec::len), Some(1));
    assert_eq!(failed[0]["attempts"][0]["status"], 404);
    let failed_id = failed[0]["delivery"]["id"]
        .as_str()
        .expect("id")
        .to_string();

    // Replay the failed delivery: the receiver now answers 200.
    let out = herald(&["replay", &failed_id, "-c", p], &env).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).starts_with("ok     bad http"),
        "{}",
        stdout(&out)
    );
    // Replay the whole event to one named webhook.
    let out = herald(
        &["replay", &event_id, "--webhook", "good", "--json", "-c", p],
        &env,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let replayed: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(replayed[0]["delivery"]["replay_of"], event_id.as_str());
    assert_eq!(replayed[0]["delivery"]["webhook_label"], "good");

    let out = herald(&["log", "--json", "--limit", "10"], &env).await;
    let all: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(
        all.as_array().map(Vec::len),
        Some(4),
        "two fired, two replays"
    );
    assert_eq!(
        all[1]["delivery"]["replay_of"],
        failed_id.as_str(),
        "newest first"
    );
    let out = herald(&["log"], &env).await;
    assert!(stdout(&out).contains("failed"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("sending webhook to"),
        "the error is shown: {}",
        stdout(&out)
    );

    // --failed replays every failed delivery; with none left failing, all succeed.
    let out = herald(&["replay", "--failed", "-c", p], &env).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        eventually(Duration::from_secs(2), async || rx.requests().len()
            + bad_rx.requests().len()
            == 5)
        .await
    );
    let out = herald(&["replay", "no-such-id", "-c", p], &env).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no event or delivery with id no-such-id"),
        "{}",
        stderr(&out)
    );
}

/// A backlog larger than a webhook's cap drains as attempts end, not a cap's worth per
/// poll: with the poll at a minute, 60 events through a cap of 4 must still be quick.
/// (Attempts that ended once woke nobody, and each poll took 32: 136 events/s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_beyond_the_cap_drains_without_waiting_for_the_poll() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start(Reply::Slow(5, 200)).await;
    let config = format!(
        "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
        rx.url("/")
    );
    let (journal, engine) = engine_in(
        dir.path(),
        &config,
        EngineOptions {
            max_in_flight: 64,
            per_webhook: 4,
            poll: Duration::from_secs(60),
        },
    );
    let (shutdown, runner) = run_engine(&engine);
    tokio::time::sleep(Duration::from_millis(100)).await;
    futures::future::join_all((0..60).map(|_| accept_drift(&engine))).await;
    assert!(
        eventually(Duration::from_secs(10), async || rx.requests().len() >= 60).await,
        "all 60 delivered long before the poll; got {}",
        rx.requests().len()
    );
    // The receiver answers before each attempt is journaled: give the last writes a moment.
    let all_journaled = eventually(Duration::from_secs(5), async || {
        journal.reader().counts().await.expect("counts").succeeded == 60
    })
    .await;
    let counts = journal.reader().counts().await.expect("counts");
    assert!(all_journaled, "{counts:?}");
    assert_eq!(counts.succeeded, 60, "{counts:?}");
    shutdown.cancel();
    runner.await.expect("run ends");
}

/// Deliveries left pending for a webhook that is gone from the config are settled at the
/// next start (failed, saying so), not left pending forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_of_a_removed_webhook_are_settled_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let two = format!(
        "webhooks:\n  - {{name: kept, event: drift, kind: http, url: '{}'}}\n  - {{name: gone, event: drift, kind: http, url: '{}'}}\n",
        rx.url("/kept"),
        rx.url("/gone")
    );
    {
        let (_, engine) = engine_in(dir.path(), &two, EngineOptions::default());
        // No run loop: both deliveries stay pending in the journal.
        accept_drift(&engine).await;
    }
    let one = format!(
        "webhooks:\n  - {{name: kept, event: drift, kind: http, url: '{}'}}\n",
        rx.url("/kept")
    );
    let (journal, engine) = engine_in(dir.path(), &one, EngineOptions::default());
    let (shutdown, runner) = run_engine(&engine);
    let settled = eventually(Duration::from_secs(5), async || {
        let c = journal.reader().counts().await.expect("counts");
        c.succeeded == 1 && c.failed == 1
    })
    .await;
    let rows = journal
        .reader()
        .deliveries(DeliveryFilter::default())
        .await
        .expect("rows");
    assert!(settled, "{rows:?}");
    let gone = rows
        .iter()
        .find(|d| d.webhook_label == "gone")
        .expect("gone row");
    assert_eq!(gone.status, DeliveryStatus::Failed);
    assert!(
        gone.last_error
            .as_deref()
            .is_some_and(|e| e.contains("was removed from the config")),
        "{gone:?}"
    );
    assert_eq!(rx.requests().len(), 1, "only the kept webhook was sent to");
    shutdown.cancel();
    runner.await.expect("run ends");
}

/// A journal in `dir` and an engine over it with the config `text`.
fn engine_in(dir: &Path, text: &str, options: EngineOptions) -> (Journal, Engine) {
    let journal = Journal::open(dir, Commit::Grouped).expect("journal");
    let config = std::sync::Arc::new(load_ok(text, None, None));
    let engine = Engine::new(config, journal.clone(), options).expect("engine");
    (journal, engine)
}

/// Accepts one drift event as the ingest API does; returns its delivery ids.
async fn accept_drift(engine: &Engine) -> Vec<String> {
    engine
        .accept(
            herald::intake::Source::Drift,
            crate::support::received(&drift_fixture(1, 2)),
            &Selection::Route,
        )
        .await
        .expect("accept")
        .1
}

/// Runs the engine's loop until the token is cancelled.
fn run_engine(engine: &Engine) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let shutdown = CancellationToken::new();
    let (e, s) = (engine.clone(), shutdown.clone());
    (
        shutdown,
        tokio::spawn(async move { e.run(s, Duration::from_secs(1)).await }),
    )
}

/// Characters a terminal acts on: ESC (CSI, OSC), BEL, C1's CSI and the bidi override.
fn has_terminal_controls(text: &str) -> bool {
    text.chars().any(|c| {
        matches!(c, '\x1b' | '\x07' | '\r' | '\u{9b}' | '\u{9d}')
            || ('\u{202a}'..='\u{202e}').contains(&c)
    })
}

#[tokio::test]
async fn log_shows_escape_sequences_from_posters_and_receivers_without_sending_them() {
    // A receiver whose error text tries to write the clipboard and clear the screen.
    let rx = Receiver::start(Reply::Status(
        400,
        "bad\x1b]52;c;cHduZWQ=\x07 request\x1b[2J\u{9b}31m",
    ))
    .await;
    let (dir, path) = config_file(&format!(
        "webhooks:\n  - {{name: hostile, event: drift, kind: http, url: '{}', retry: {{max-attempts: 1}}}}\n",
        rx.url("/")
    ));
    let payload = dir.path().join("drift.json");
    std::fs::write(
        &payload,
        serde_json::json!({"repository": "acme/\u{1b}]0;pwned\u{7}infra\u{202e}gnp.exe", "ref": "main\u{1b}[1;31m",
            "detection_id": "d-1", "projects_with_drift": 0, "total_projects": 0, "projects": []})
        .to_string(),
    )
    .expect("payload");
    let data = tempfile::tempdir().expect("tempdir");
    let env = [("HERALD_DATA_DIR", data.path().to_str().expect("utf-8"))];
    let p = path.to_str().expect("utf-8");
    let out = herald(
        &[
            "fire",
            "--event",
            "drift",
            "--payload",
            payload.to_str().expect("utf-8"),
            "-c",
            p,
        ],
        &env,
    )
    .await;
    let fired = format!("{}{}", stdout(&out), stderr(&out));
    assert!(fired.contains("hostile"), "{fired}");
    assert!(!has_terminal_controls(&fired), "fire printed {fired:?}");

    let out = herald(&["log"], &env).await;
    let text = stdout(&out);
    assert!(text.contains("\\x1b]52"), "shown as an escape: {text}");
    assert!(!has_terminal_controls(&text), "log printed {text:?}");

    let out = herald(&["log", "--json"], &env).await;
    let json = stdout(&out);
    assert!(!has_terminal_controls(&json), "log --json printed {json:?}");
    let v: Value = serde_json::from_str(&json).expect("still valid JSON");
    assert!(
        v[0]["attempts"][0]["response"]
            .as_str()
            .is_some_and(|r| r.contains('\x1b') && r.contains('\u{9b}')),
        "the stored text is the same value: {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_set_by_a_clock_that_was_ahead_are_brought_in_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let config = format!(
        "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
        rx.url("/")
    );
    let (journal, engine) = engine_in(dir.path(), &config, EngineOptions::default());
    let ids = accept_drift(&engine).await;
    // The clock read ten days ahead when an attempt scheduled the retry two seconds on,
    // and was then stepped back to the right time.
    let then = herald::clock::now_ms() + 10 * 24 * 3600 * 1000_i64;
    let conn = rusqlite::Connection::open(journal.file().expect("a SQLite journal")).expect("open");
    conn.execute(
        "UPDATE deliveries SET status = 'retrying', updated_at = ?1, next_attempt_at = ?1 + 2000, lease_until = NULL",
        [then],
    )
    .expect("update");
    drop(conn);
    let shutdown = CancellationToken::new();
    let (e, s) = (engine.clone(), shutdown.clone());
    let run = tokio::spawn(async move { e.run(s, Duration::from_secs(1)).await });
    let delivered = eventually(Duration::from_secs(5), async || {
        journal
            .reader()
            .delivery(&ids[0])
            .await
            .expect("row")
            .is_some_and(|d| d.status == DeliveryStatus::Succeeded)
    })
    .await;
    shutdown.cancel();
    let _ = run.await;
    assert!(delivered, "a retry ten days out was not brought in");
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_write_ahead_log_stops_intake_and_shows_in_healthz() {
    let s = crate::support::Server::start(load_ok("webhooks: []\n", None, None)).await;
    let client = herald::notify::client().expect("client");
    let post = async || {
        client
            .post(format!("{}/events", s.url))
            .header("content-type", "application/json")
            .body(drift_fixture_body())
            .send()
            .await
            .expect("answer")
    };
    assert_eq!(post().await.status().as_u16(), 202);
    let mut wal = s
        .engine
        .reader()
        .file()
        .expect("a SQLite journal")
        .as_os_str()
        .to_owned();
    wal.push("-wal");
    std::fs::remove_file(&wal).expect("the WAL exists while herald runs");
    // Accepting now would "commit" into a deleted file and be lost at the next start.
    let r = post().await;
    assert_eq!(r.status().as_u16(), 503, "{:?}", r.text().await);
    let health = client
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .expect("answer");
    assert_eq!(health.status().as_u16(), 503);
    let text = health.text().await.expect("text");
    assert!(
        text.contains("write-ahead log") && text.contains("deleted"),
        "{text}"
    );
}

fn drift_fixture_body() -> Vec<u8> {
    std::fs::read(crate::support::repo_file(
        "examples/payloads/drift-clean.json",
    ))
    .expect("fixture")
}

#[tokio::test]
async fn a_read_only_journal_says_so() {
    let data = tempfile::tempdir().expect("tempdir");
    drop(Journal::open(data.path(), Commit::Grouped).expect("journal"));
    let db = data.path().join(herald::store::FILE_NAME);
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    // Root writes any file: run herald as `nobody` then, who may read the journal only.
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_herald"),
        ]);
        c
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
    };
    let out = cmd
        .args(["log"])
        .env("HERALD_DATA_DIR", data.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("herald runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("read-only for this user") && err.contains("check its owner and mode"),
        "{err}"
    );
}

/// A drift event of `repository`, whose summary names it.
fn drift_of(repository: &str) -> herald::event::Event {
    let body = serde_json::json!({"repository": repository, "ref": "main", "detection_id": "det-1",
        "projects_with_drift": 0, "total_projects": 0, "projects": []});
    herald::event::Event::Drift(
        herald::event::parse_drift(body.to_string().as_bytes()).expect("drift body"),
    )
}

/// The summaries of the events a text search finds, newest first.
async fn found(journal: &Journal, text: &str) -> Vec<String> {
    let term = herald::store::Term {
        field: herald::store::Field::Text,
        value: text.into(),
        negate: false,
    };
    journal
        .reader()
        .events_page(None, 100, vec![term])
        .await
        .expect("search")
        .into_iter()
        .map(|e| e.summary)
        .collect()
}

#[tokio::test]
async fn text_search_uses_the_trigram_index_exactly_after_an_upgrade_and_a_prune() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No webhook takes drift: every event is finished at once, so prune may take any.
    let config = "webhooks:\n  - {event: apply, kind: http, url: 'http://127.0.0.1:9/'}\n";
    {
        let (_journal, engine) = engine_in(dir.path(), config, EngineOptions::default());
        for repo in ["abcd/bcde", "x/abcde", "acme/oldest", "ACME/other"] {
            engine
                .accept(
                    herald::intake::Source::Drift,
                    crate::support::received(&drift_of(repo)),
                    &Selection::Route,
                )
                .await
                .expect("accept");
        }
    }
    // As a journal of the previous schema (4) was: no index of the summaries.
    let file = dir.path().join(herald::store::FILE_NAME);
    let conn = rusqlite::Connection::open(&file).expect("open");
    conn.execute_batch(
        "DROP TRIGGER events_text_delete;
         DROP TABLE events_text; DROP TABLE runs; DROP TABLE posted; PRAGMA user_version = 4;",
    )
    .expect("downgrade");
    drop(conn);

    let journal = Journal::open(dir.path(), Commit::Grouped).expect("upgrade");
    assert_eq!(
        found(&journal, "abcde").await.len(),
        1,
        "before the index has caught up"
    );
    // The writer indexes what it has not seen once it is idle.
    let indexed = |trigram: &str| {
        let conn = rusqlite::Connection::open(&file).expect("open");
        conn.query_row(
            "SELECT count(*) FROM events_text WHERE events_text MATCH ?1",
            [format!("\"{trigram}\"")],
            |r| r.get::<_, i64>(0),
        )
        .expect("the index")
    };
    assert!(
        eventually(Duration::from_secs(10), async || indexed("cde") == 2).await,
        "the writer indexes the events once it idles"
    );
    let hits = found(&journal, "abcde").await;
    assert_eq!(
        hits.len(),
        1,
        "'abcd/bcde' has every trigram of 'abcde' but not the text: {hits:?}"
    );
    assert!(hits[0].contains("x/abcde"), "{hits:?}");
    let hits = found(&journal, "E/OTH").await;
    assert!(
        hits.len() == 1 && hits[0].contains("ACME/other"),
        "any case: {hits:?}"
    );
    assert_eq!(found(&journal, "acme/").await.len(), 2, "both acme events");
    assert_eq!(found(&journal, "nowhere").await, Vec::<String>::new());
    assert_eq!(
        found(&journal, "x/").await.len(),
        1,
        "under three characters: scanned"
    );

    // New events are indexed as they come, and pruned ones leave the index.
    let engine = Engine::new(
        std::sync::Arc::new(load_ok(config, None, None)),
        journal.clone(),
        EngineOptions::default(),
    )
    .expect("engine");
    engine
        .accept(
            herald::intake::Source::Drift,
            crate::support::received(&drift_of("late/arrival")),
            &Selection::Route,
        )
        .await
        .expect("accept");
    assert_eq!(
        found(&journal, "late/arr").await.len(),
        1,
        "not indexed yet"
    );
    assert_eq!(journal.prune(i64::MAX / 2, 1).await.expect("prune"), 4);
    assert_eq!(found(&journal, "acme/").await, Vec::<String>::new());
    let hits = found(&journal, "late/arr").await;
    assert!(
        hits.len() == 1 && hits[0].contains("late/arrival"),
        "{hits:?}"
    );
    assert!(
        eventually(Duration::from_secs(10), async || indexed("arr") == 1).await,
        "a journal pruned to one event goes on being indexed"
    );
    assert_eq!(
        found(&journal, "late/arr").await.len(),
        1,
        "through the index"
    );
    let conn = rusqlite::Connection::open(&file).expect("open");
    conn.execute(
        "INSERT INTO events_text(events_text) VALUES ('integrity-check')",
        [],
    )
    .expect("the index agrees with the events");
}
