//! herald as Atlantis' drift scheduler (issue 16, items 6 and 7): a fake Atlantis drift
//! API on loopback (200, 207 with errored projects, 401, 500, a hang), schedules due by
//! interval and cron at simulated times (no waiting for hours), one run per occurrence
//! across engines on one journal, and staleness notices.

use std::sync::Arc;
use std::time::Duration;

use herald::dispatch::{Engine, EngineOptions};
use herald::fake::atlantis::{Answer, FakeAtlantis};
use herald::schedule::{self, When};
use herald::store::{Commit, Journal};
use serde_json::Value;

use crate::support::{Receiver, Reply, eventually, load, load_errors, load_ok};

const SECRET: &str = crate::support::ATLANTIS_API_SECRET;
const HOUR: i64 = 3_600_000;

/// A config with one drift webhook to `rx` and one schedule against `atlantis`.
fn config(rx: &Receiver, atlantis: &str, when: &str, extra: &str) -> herald::config::Config {
    load_ok(
        &format!(
            "herald:\n  drift-schedule:\n    - atlantis-url: {atlantis}\n      repository: acme/infra\n      ref: main\n      type: Github\n      {when}\n      api-secret: ${{ATLANTIS_API_SECRET}}\n      timeout: 2s\n{extra}webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
            rx.url("/drift")
        ),
        None,
        None,
    )
}

async fn engine_on(config: herald::config::Config, journal: Journal) -> Engine {
    let engine = Engine::new(Arc::new(config), journal, EngineOptions::default()).expect("engine");
    let (e, stop) = (engine.clone(), tokio_util::sync::CancellationToken::new());
    let s = stop.clone();
    tokio::spawn(async move { e.run(s, Duration::from_secs(1)).await });
    // The engine's loop stops when the test's runtime does.
    std::mem::forget(stop);
    engine
}

async fn engine(config: herald::config::Config) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(dir.path(), Commit::Grouped).expect("journal");
    (engine_on(config, journal).await, dir)
}

/// Posts a bundled drift fixture to the engine as Atlantis would.
async fn report(engine: &Engine, name: &str) {
    let body = crate::support::payload(name);
    let r = herald::intake::read(&body, None)
        .expect("reads")
        .into_event()
        .expect("event");
    engine
        .accept(
            herald::intake::Source::Drift,
            r,
            &herald::dispatch::Selection::Route,
        )
        .await
        .expect("journaled");
}

fn at(text: &str) -> i64 {
    humantime::parse_rfc3339(text)
        .expect("time")
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
        .try_into()
        .expect("ms")
}

#[test]
fn intervals_and_cron_fall_due_as_written() {
    let every = When::Every(Duration::from_secs(6 * 3600));
    let start = at("2026-12-01T00:00:00Z");
    // Never run: due at once; then each interval after the last run.
    assert_eq!(schedule::due(&every, None, start, start), Some(start));
    assert_eq!(
        schedule::due(&every, Some(start), start, start + 6 * HOUR - 1),
        None
    );
    assert_eq!(
        schedule::due(&every, Some(start), start, start + 6 * HOUR),
        Some(start + 6 * HOUR)
    );
    let cron = When::Cron(
        Box::new(herald::schedule::spec::cron("0 */6 * * *").expect("cron")),
        "0 */6 * * *".into(),
    );
    // Never run: the next cron time after start, not at once.
    assert_eq!(
        schedule::due(&cron, None, start + 60_000, start + 60_000),
        None
    );
    assert_eq!(
        schedule::due(&cron, None, start + 60_000, at("2026-12-01T06:00:30Z")),
        Some(at("2026-12-01T06:00:00Z"))
    );
    assert_eq!(
        schedule::due(
            &cron,
            Some(at("2026-12-01T06:00:00Z")),
            start,
            at("2026-12-01T11:59:59Z")
        ),
        None
    );
    // Down for a day: one run for the latest missed time, not four.
    assert_eq!(
        schedule::due(
            &cron,
            Some(at("2026-12-01T06:00:00Z")),
            start,
            at("2026-12-02T07:10:00Z")
        ),
        Some(at("2026-12-02T06:00:00Z"))
    );
    assert_eq!(
        schedule::next_run(&cron, Some(at("2026-12-02T06:00:00Z")), start),
        Some(at("2026-12-02T12:00:00Z"))
    );
    assert!(herald::schedule::spec::cron("0 */6 * *").is_err());
    assert!(herald::schedule::spec::cron("61 * * * *").is_err());
}

#[test]
fn schedules_are_checked_with_atlantis_words() {
    let entry = |body: &str| {
        format!(
            "herald:\n  drift-schedule:\n    - {{atlantis-url: 'http://a.example', api-secret: x, every: 6h, {body}}}\nwebhooks: []\n"
        )
    };
    assert_eq!(
        load_errors(&entry("ref: main, type: Github"), None),
        ["repository is required"]
    );
    assert_eq!(
        load_errors(&entry("repository: a/b, ref: main, type: github"), None),
        ["type must be one of: Github, Gitlab, Gitea"]
    );
    assert_eq!(
        load_errors(
            &entry(
                "repository: a/b, ref: main, type: Github, projects: [x], paths: [{directory: d}]"
            ),
            None
        ),
        ["projects and paths cannot both be set"]
    );
    assert_eq!(
        load_errors(
            &entry("repository: a/b, ref: main, type: Github, paths: [{directory: ../up}]"),
            None
        ),
        ["path directories must be clean repo-relative paths"]
    );
    assert_eq!(
        load_errors(
            &entry("repository: a/b, ref: main, type: Github, cron: '0 * * * *'"),
            None
        ),
        ["give \"every\" or \"cron\", not both"]
    );
    let errors = load_errors(
        "herald:\n  drift-schedule:\n    - {atlantis-url: 'http://a.example', repository: a/b, ref: main, type: Github, cron: 'every day'}\nwebhooks: []\n",
        None,
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("cron \"every day\" must have five fields")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("needs \"api-secret\"")),
        "{errors:?}"
    );
    // A secret written in the file works but is warned about; one from the environment is not.
    let (_, report) = load(
        &entry("repository: a/b, ref: main, type: Github"),
        None,
        None,
    )
    .expect("loads");
    assert!(
        report
            .to_string()
            .contains("\"api-secret\" is written in the file"),
        "{report}"
    );
}

#[tokio::test]
async fn detections_become_drift_events_and_failures_become_notices() {
    let atlantis = FakeAtlantis::start(SECRET).await.expect("fake atlantis");
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let c = config(&rx, &atlantis.url(), "every: 6h", "");
    assert!(
        !format!("{:?}", c.herald.drift_schedule).contains(SECRET),
        "the secret is not shown"
    );
    let s = c.herald.drift_schedule[0].clone();
    let (engine, _dir) = engine(c).await;
    let client = herald::notify::client().expect("client");
    atlantis.push([
        Answer::Clean {
            drifted: 1,
            total: 2,
        },
        Answer::Partial {
            drifted: 1,
            errored: 1,
            total: 3,
        },
        Answer::Internal,
        Answer::Hang(Duration::from_secs(5)),
    ]);
    let outcomes = [
        schedule::detect_and_record(&engine, &client, &s).await,
        schedule::detect_and_record(&engine, &client, &s).await,
        schedule::detect_and_record(&engine, &client, &s).await,
        schedule::detect_and_record(&engine, &client, &s).await,
    ];
    let got: Vec<(bool, Option<u16>)> = outcomes.iter().map(|o| (o.ok, o.status)).collect();
    assert_eq!(
        got,
        [
            (true, Some(200)),
            (true, Some(207)),
            (false, Some(500)),
            (false, None)
        ]
    );
    assert!(
        outcomes[3].said.contains("no answer from"),
        "{:?}",
        outcomes[3]
    );
    // What Atlantis was asked: its request body, with the token.
    let calls = atlantis.calls();
    assert_eq!(calls[0].token.as_deref(), Some(SECRET));
    assert_eq!(
        calls[0].body,
        serde_json::json!({"repository": "acme/infra", "ref": "main", "type": "Github"})
    );
    assert!(
        eventually(Duration::from_secs(10), async || rx.requests().len() == 4).await,
        "{} delivered",
        rx.requests().len()
    );
    let bodies: Vec<Value> = rx.requests().iter().map(|r| r.json()).collect();
    // The reports are Atlantis' drift webhook payload, errored projects kept.
    assert_eq!(bodies[0]["projects_with_drift"], 1);
    assert_eq!(bodies[0]["total_projects"], 2);
    assert_eq!(bodies[0]["projects"][0]["path"], "infra/project1");
    assert_eq!(bodies[0]["projects"][0]["to_change"], 2);
    assert!(bodies[0]["projects"][1].get("error").is_none());
    assert!(
        bodies[1]["projects"][1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("currently locked"))
    );
    // The failures are drift-failed notices, the secret nowhere.
    assert_eq!(bodies[2]["event"], "drift-failed");
    assert_eq!(bodies[2]["status"], 500);
    assert_eq!(bodies[2]["error"], "internal server error");
    assert_eq!(bodies[3]["event"], "drift-failed");
    assert!(bodies[3].get("status").is_none());
    for b in &bodies {
        assert!(!b.to_string().contains(SECRET));
    }

    // A wrong secret is Atlantis' 401, said as Atlantis says it.
    let mut wrong = s.clone();
    wrong.api_secret = herald::secret::Secret::new("not-it".to_string());
    let o = schedule::detect_and_record(&engine, &client, &wrong).await;
    assert_eq!((o.ok, o.status), (false, Some(401)));
    assert!(o.said.contains("invalid or missing API token"), "{o:?}");
}

#[tokio::test]
async fn each_occurrence_runs_once_and_never_twice_at_a_time() {
    let atlantis = FakeAtlantis::start(SECRET).await.expect("fake atlantis");
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let c = config(&rx, &atlantis.url(), "every: 6h", "");
    // Two engines on one journal, as two replicas on one database.
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(dir.path(), Commit::Grouped).expect("journal");
    let a = engine_on(c.clone(), journal.clone()).await;
    let b = engine_on(c, journal).await;
    let client = herald::notify::client().expect("client");
    let start = herald::clock::now_ms();
    atlantis.push([Answer::Hang(Duration::from_millis(800))]);
    // Both look at the same moment, several times while the first run hangs.
    for _ in 0..3 {
        schedule::tick(&a, &client, start, start).await;
        schedule::tick(&b, &client, start, start).await;
    }
    // A run now is refused while one is going.
    let s = a.config().herald.drift_schedule[0].clone();
    assert!(!schedule::run_now(&b, &client, &s).await.expect("journal"));
    assert!(
        eventually(Duration::from_secs(5), async || {
            a.reader()
                .runs()
                .await
                .is_ok_and(|r| r[0].finished_at.is_some())
        })
        .await
    );
    assert_eq!(atlantis.calls().len(), 1, "one occurrence, one call");
    // Six hours later (simulated), the next occurrence; again once for both.
    for e in [&a, &b, &a] {
        schedule::tick(e, &client, start, start + 6 * 3_600_000).await;
    }
    assert!(eventually(Duration::from_secs(5), async || atlantis.calls().len() == 2).await);
    // Done: now a run on demand goes.
    assert!(
        eventually(Duration::from_secs(5), async || {
            schedule::run_now(&b, &client, &s).await.unwrap_or(false)
        })
        .await
    );
    assert!(eventually(Duration::from_secs(5), async || atlantis.calls().len() == 3).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(atlantis.calls().len(), 3);
    assert_eq!(atlantis.peak(), 1, "never two at a time");
}

#[tokio::test]
async fn a_repository_that_stops_reporting_is_told_of_once_per_silence() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let c = load_ok(
        &format!(
            "herald:\n  drift-stale-after: 26h\nwebhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
            rx.url("/drift")
        ),
        None,
        None,
    );
    let after = c.herald.drift_stale_after.expect("set");
    let (engine, _dir) = engine(c).await;
    for name in ["drift-detected.json", "env0-drift-detected.json"] {
        report(&engine, name).await;
    }
    let now = herald::clock::now_ms();
    // Not yet stale.
    assert_eq!(
        schedule::stale::check(&engine, now + 25 * HOUR, after).await,
        0
    );
    // 31 hours on: both repositories are told of, once.
    assert_eq!(
        schedule::stale::check(&engine, now + 31 * HOUR, after).await,
        2
    );
    assert_eq!(
        schedule::stale::check(&engine, now + 32 * HOUR, after).await,
        0
    );
    assert!(eventually(Duration::from_secs(5), async || rx.requests().len() == 4).await);
    let notices: Vec<Value> = rx.requests()[2..].iter().map(|r| r.json()).collect();
    let mut repos: Vec<&str> = notices
        .iter()
        .map(|n| {
            assert_eq!(n["event"], "drift-stale");
            assert_eq!(n["silent_hours"], 31);
            assert_eq!(n["stale_after"], "1day 2h");
            n["repository"].as_str().expect("repository")
        })
        .collect();
    repos.sort_unstable();
    assert_eq!(repos, ["acme/infrastructure", "acme/payments-infra"]);
    // A notice is not a report: it does not reset the silence, and a new report does.
    report(&engine, "drift-clean.json").await;
    let seen = engine.reader().drift_seen(0).await.expect("seen");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        schedule::stale::check(&engine, now + 33 * HOUR, after).await,
        1
    );
}

#[tokio::test]
async fn serve_runs_the_schedules_and_the_api_shows_and_runs_them() {
    let atlantis = FakeAtlantis::start(SECRET).await.expect("fake atlantis");
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("herald.yaml");
    std::fs::write(
        &cfg,
        format!(
            "herald:\n  operator-token: op-token-1234567890\n  viewer-token: view-token-1234567890\n  drift-stale-after: 26h\n  drift-schedule:\n    - {{atlantis-url: '{}', repository: acme/infra, ref: main, type: Github, every: 1h, api-secret: '${{ATLANTIS_API_SECRET}}'}}\nwebhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
            atlantis.url(),
            rx.url("/drift")
        ),
    )
    .expect("config");
    let port = crate::support::free_port();
    let serve = crate::support::Serve::start_with(
        &cfg,
        &dir.path().join("data"),
        port,
        &[("ATLANTIS_API_SECRET", SECRET)],
    )
    .await;
    // Never run, on an interval: the first run is at start.
    assert!(
        eventually(Duration::from_secs(10), async || rx.requests().len() == 1).await,
        "the scheduled report was delivered"
    );
    assert_eq!(rx.requests()[0].json()["repository"], "acme/infra");
    let client = herald::notify::client().expect("client");
    let get = async |token: &str| -> Value {
        client
            .get(format!("{}/api/v1/drift", serve.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /drift")
            .json()
            .await
            .expect("json")
    };
    let watch = get("view-token-1234567890").await;
    assert!(
        eventually(Duration::from_secs(5), async || {
            get("view-token-1234567890").await["schedules"][0]["last_ok"] == true
        })
        .await,
        "{watch}"
    );
    let watch = get("view-token-1234567890").await;
    let s = &watch["schedules"][0];
    assert_eq!(s["subject"], "acme/infra@main");
    assert_eq!(s["when"], "every 1h");
    assert_eq!(s["running"], false);
    let next = s["next_run_at"].as_i64().expect("next") - s["last_run_at"].as_i64().expect("last");
    assert_eq!(next, 3_600_000);
    assert_eq!(watch["seen"][0]["subject"], "acme/infra@main");
    assert_eq!(watch["seen"][0]["stale"], false);
    assert!(!watch.to_string().contains(SECRET));
    // Running one now: the viewer may not, the operator may.
    let run = async |token: &str, body: &str| {
        client
            .post(format!("{}/api/v1/drift/run", serve.url))
            .bearer_auth(token)
            .body(body.to_string())
            .send()
            .await
            .expect("POST /drift/run")
            .status()
            .as_u16()
    };
    assert_eq!(
        run(
            "view-token-1234567890",
            r#"{"schedule": "acme/infra@main"}"#
        )
        .await,
        403
    );
    assert_eq!(
        run("op-token-1234567890", r#"{"schedule": "nope@main"}"#).await,
        404
    );
    atlantis.push([Answer::Hang(Duration::from_millis(800))]);
    assert_eq!(
        run("op-token-1234567890", r#"{"schedule": "acme/infra@main"}"#).await,
        202
    );
    assert_eq!(
        run("op-token-1234567890", r#"{"schedule": "acme/infra@main"}"#).await,
        409,
        "refused while the run goes"
    );
    assert!(eventually(Duration::from_secs(5), async || rx.requests().len() == 2).await);
    assert_eq!(atlantis.calls().len(), 2);
}
