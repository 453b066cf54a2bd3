//! The journal on a real PostgreSQL (a cluster the tests start, see `pg`): the same
//! contract as SQLite, and several `serve` replicas on one database.

use std::sync::Arc;
use std::time::Duration;

use herald::dispatch::{Engine, EngineOptions, Selection};
use herald::intake::{Inbound, Source};
use herald::store::{Commit, FeedPosition, Field, Journal, Location, Recorded, Term};
use tokio_util::sync::CancellationToken;

use crate::support::{Receiver, Reply, eventually, load_ok};

async fn journal(url: &str) -> Journal {
    herald::store::open(Location::Postgres(url.to_string()), Commit::Grouped)
        .await
        .expect("the PostgreSQL journal opens")
}

fn read(body: &[u8]) -> herald::intake::Received {
    match herald::intake::read(body, None) {
        Ok(Inbound::Event(r)) => r,
        _ => panic!("fixture"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_contract_holds_on_postgres() {
    let url = crate::pg::database().await;
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let config = format!(
        "webhooks:\n  - {{name: audit, event: drift, kind: http, url: '{}'}}\n",
        rx.url("/d")
    );
    let journal = journal(&url).await;
    assert!(journal.at().starts_with("postgres://"), "{}", journal.at());
    let engine = Engine::new(
        Arc::new(load_ok(&config, None, None)),
        journal.clone(),
        EngineOptions::default(),
    )
    .expect("engine");
    let stop = CancellationToken::new();
    let run = {
        let (e, s) = (engine.clone(), stop.clone());
        tokio::spawn(async move { e.run(s, Duration::from_secs(1)).await })
    };
    let (head, _) = journal.reader().head().await.expect("head");

    // Accepted, journaled, delivered, attempted once each.
    let drift = include_bytes!("../../examples/payloads/drift-detected.json");
    for _ in 0..5 {
        let (recorded, ids) = engine
            .accept(Source::Drift, read(drift), &Selection::Route)
            .await
            .expect("accept");
        assert!(matches!(recorded, Recorded::New { deliveries: 1, .. }));
        assert_eq!(ids.len(), 1);
    }
    assert!(
        eventually(Duration::from_secs(10), async || rx.requests().len() == 5).await,
        "every event delivered: {}",
        rx.requests().len()
    );
    let counts = journal.reader().counts().await.expect("counts");
    assert!(
        eventually(Duration::from_secs(5), async || journal
            .reader()
            .counts()
            .await
            .is_ok_and(|c| c.succeeded == 5))
        .await,
        "{counts:?}"
    );
    let log = journal
        .reader()
        .deliveries(herald::store::DeliveryFilter::default())
        .await
        .expect("log");
    assert_eq!(log.len(), 5);
    assert_eq!(log[0].webhook_label, "audit");
    let attempts = journal
        .reader()
        .attempts(&log[0].id)
        .await
        .expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, Some(200));

    // env0's dedupe is the database's unique constraint.
    let env0 = include_bytes!("../../examples/payloads/env0-drift-detected.json");
    let (first, _) = engine
        .accept(Source::Env0, read(env0), &Selection::Route)
        .await
        .expect("env0");
    let (again, _) = engine
        .accept(Source::Env0, read(env0), &Selection::Route)
        .await
        .expect("env0 again");
    let Recorded::New { event_id, .. } = first else {
        panic!("{first:?}")
    };
    assert_eq!(again, Recorded::Duplicate { event_id });

    // Search and paging.
    let term = |field, value: &str, negate| Term {
        field,
        value: value.into(),
        negate,
    };
    let page = |terms| journal.reader().events_page(None, 100, terms);
    assert_eq!(page(vec![]).await.expect("page").len(), 6);
    assert_eq!(
        page(vec![term(Field::Webhook, "audit", false)])
            .await
            .expect("page")
            .len(),
        6
    );
    assert_eq!(
        page(vec![term(Field::Status, "failed", false)])
            .await
            .expect("page")
            .len(),
        0
    );
    // Text: any case, LIKE's wildcards taken literally (the query is an ILIKE).
    assert_eq!(
        page(vec![term(Field::Text, "ACME/INFRA", false)])
            .await
            .expect("page")
            .len(),
        5
    );
    for literal in ["acme_infra", "acme%structure"] {
        assert_eq!(
            page(vec![term(Field::Text, literal, false)])
                .await
                .expect("page")
                .len(),
            0,
            "{literal} is not a pattern"
        );
    }
    let newest = page(vec![]).await.expect("page");
    let older = journal
        .reader()
        .events_page(Some(newest[2].seq), 100, vec![])
        .await
        .expect("older");
    assert_eq!(older.len(), 3, "the cursor pages");
    assert_eq!(older[0].id, newest[3].id);

    // The live feed: everything after the head, once; nothing after its own end.
    let changes = journal.reader().changes(head, 100).await.expect("changes");
    assert_eq!(changes.events.len(), 6, "{:?}", changes.events);
    assert_eq!(changes.attempts.len(), 6, "5 drift + 1 env0 delivered");
    let end = FeedPosition {
        event: changes.events.last().expect("one").mark,
        attempt: changes.attempts.last().expect("one").mark,
    };
    let after = journal.reader().changes(end, 100).await.expect("changes");
    assert!(after.events.is_empty() && after.attempts.is_empty());

    // Pause is shared state, and another process on the database hears of the change.
    let other = self::journal(&url).await;
    let mut told = other.notifications().expect("PostgreSQL tells");
    assert!(!journal.reader().paused().await.expect("paused"));
    journal.set_paused(true).await.expect("pause");
    tokio::time::timeout(Duration::from_secs(5), told.recv())
        .await
        .expect("the other process is told of the pause")
        .expect("open");
    assert!(other.reader().paused().await.expect("paused"));
    // So is a replay, which any replica with room may take.
    journal
        .add_deliveries(
            &log[0].event_id,
            vec![herald::store::NewDelivery {
                id: uuid::Uuid::now_v7().to_string(),
                webhook: 0,
                key: log[0].webhook_key.clone(),
                target: log[0].target.clone(),
                kind: log[0].kind.clone(),
                replay_of: Some(log[0].id.clone()),
                lease_until: None,
            }],
        )
        .await
        .expect("replay");
    tokio::time::timeout(Duration::from_secs(5), told.recv())
        .await
        .expect("the other process is told of the replay")
        .expect("open");
    journal.ping().await.expect("writable");
    // A clock that stepped back: nothing was written ahead of now, so nothing moves.
    let moved = journal
        .reschedule(herald::store::Reschedule {
            now: herald::clock::now_ms(),
            max_wait: 3_600_000,
            max_lease: 60_000,
        })
        .await
        .expect("reschedule runs on PostgreSQL");
    assert_eq!(moved, 0);

    // Send slots are handed out one interval apart, whoever asks.
    let first = journal
        .reserve_slot("C1", 1000)
        .await
        .expect("slot")
        .expect("shared");
    let second = journal
        .reserve_slot("C1", 1000)
        .await
        .expect("slot")
        .expect("shared");
    assert_eq!(second, first + 1000);

    // Pruning keeps what is unfinished.
    assert_eq!(journal.prune(i64::MAX / 2, 2).await.expect("prune"), 4);
    assert_eq!(journal.reader().counts().await.expect("counts").events, 2);

    stop.cancel();
    run.await.expect("engine stops");

    // A database written by a newer herald is refused.
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute("INSERT INTO herald_schema (version) VALUES (99)")
        .await
        .expect("bump");
    let err = herald::store::open(Location::Postgres(url.clone()), Commit::Grouped)
        .await
        .expect_err("newer schema");
    assert!(err.to_string().contains("newer than this herald"), "{err}");
}

#[tokio::test]
async fn a_wrong_journal_url_says_what_it_takes_and_hides_the_password() {
    let err = Location::parse("mysql://u:hunter2@db/x").expect_err("not a journal");
    let text = err.to_string();
    assert!(text.contains("sqlite:DIR or postgres://"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    // Nothing listens on port 9: the error names where, masked.
    let err = herald::store::open(
        Location::Postgres("postgres://herald:hunter2@127.0.0.1:9/db".into()),
        Commit::Grouped,
    )
    .await
    .expect_err("unreachable");
    let text = err.to_string();
    assert!(text.contains("127.0.0.1:9"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

/// `n` real `serve` replicas with `config`, each its own data directory under `data`, on
/// the journal `env` names.
async fn replicas(
    config: &std::path::Path,
    data: &std::path::Path,
    n: usize,
    env: &[(&str, &str)],
) -> Vec<crate::support::Serve> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(
            crate::support::Serve::start_with(
                config,
                &data.join(format!("r{i}")),
                crate::support::free_port(),
                env,
            )
            .await,
        );
    }
    out
}

/// Posts `n` numbered drift events at once, round-robin across `fleet`, each answered 202.
async fn post_all_at_once(fleet: &[crate::support::Serve], n: usize) {
    let client = reqwest::Client::new();
    let posts = (0..n).map(|i| {
        client
            .post(format!("{}/events/drift", fleet[i % fleet.len()].url))
            .header("content-type", "application/json")
            .body(numbered_drift(i))
            .send()
    });
    for answer in futures::future::join_all(posts).await {
        assert_eq!(answer.expect("post").status(), 202);
    }
}

/// A drift body with a detection id the receiver can count by.
fn numbered_drift(n: usize) -> String {
    format!(
        r#"{{"repository":"acme/infra","ref":"main","detection_id":"flood-{n}","projects_with_drift":1,"total_projects":1,"projects":[{{"name":"net","path":"net","workspace":"default","has_drift":true,"to_add":1,"to_change":0,"to_destroy":0}}]}}"#
    )
}

/// The N of `"detection_id":"flood-N"` in a delivered body.
fn flood_number(body: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(body).ok()?;
    let at = text.find("flood-")? + "flood-".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// Three replicas on one database take a flood posted round-robin while one of them is
/// killed (SIGKILL) and restarted: every event answered 202 is delivered (at least once;
/// duplicates counted), and no delivery is attempted by two replicas at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_lose_nothing_when_one_is_killed_mid_flood() {
    const EVENTS: usize = 3_000;
    let url = crate::pg::database().await;
    let rx = Receiver::start(Reply::Slow(150, 200)).await;
    let (_cfg, path) = crate::support::config_file(&format!(
        "webhooks:\n  - {{name: audit, event: drift, kind: http, url: '{}', timeout: 2s}}\n",
        rx.url("/d")
    ));
    let data = tempfile::tempdir().expect("tempdir");
    let env = [("HERALD_JOURNAL", url.as_str())];
    let mut replicas: Vec<Option<crate::support::Serve>> = replicas(&path, data.path(), 3, &env)
        .await
        .into_iter()
        .map(Some)
        .collect();
    let urls: Vec<String> = replicas
        .iter()
        .map(|r| r.as_ref().expect("up").url.clone())
        .collect();
    let client = reqwest::Client::new();
    let mut accepted = Vec::new();
    let mut refused = 0;
    // Twelve at a time to a slow receiver, so the killed replica has attempts in flight
    // and leases that the others must wait out.
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(12) {
        if chunk[0] / 12 == EVENTS / 36 {
            let r = replicas[1].take().expect("replica 1");
            r.signal("-KILL");
            drop(r);
        }
        let answers = futures::future::join_all(chunk.iter().map(|&n| {
            client
                .post(format!("{}/events/drift", urls[n % 3]))
                .header("content-type", "application/json")
                .body(numbered_drift(n))
                .send()
        }))
        .await;
        for (&n, answer) in chunk.iter().zip(answers) {
            match answer {
                Ok(r) if r.status() == 202 => accepted.push(n),
                _ => refused += 1,
            }
        }
    }
    // Restarted on the same database.
    let port: u16 = urls[1]
        .rsplit(':')
        .next()
        .expect("port")
        .parse()
        .expect("port");
    replicas[1] =
        Some(crate::support::Serve::start_with(&path, &data.path().join("r1"), port, &env).await);
    assert!(
        refused > 0 && refused < EVENTS / 2,
        "{refused} refused while down"
    );

    let delivered = |rx: &Receiver| {
        let mut seen = std::collections::HashMap::<usize, usize>::new();
        for r in rx.requests() {
            if let Some(n) = flood_number(&r.body) {
                *seen.entry(n).or_default() += 1;
            }
        }
        seen
    };
    let all = eventually(Duration::from_secs(60), async || {
        let seen = delivered(&rx);
        accepted.iter().all(|n| seen.contains_key(n))
    })
    .await;
    let seen = delivered(&rx);
    let missing: Vec<_> = accepted.iter().filter(|n| !seen.contains_key(n)).collect();
    assert!(
        all,
        "{} accepted events never delivered: {missing:?}",
        missing.len()
    );
    // The deliveries the killed replica had in flight stay open until their leases end;
    // then another replica attempts them again (arrived twice: at least once, never lost).
    let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let open = async || -> i64 {
        db.query_one(
            "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'retrying')",
            &[],
        )
        .await
        .expect("query")
        .get(0)
    };
    assert!(
        eventually(Duration::from_secs(60), async || open().await == 0).await,
        "{} deliveries still open",
        open().await
    );
    let succeeded: i64 = db
        .query_one(
            "SELECT count(*) FROM deliveries WHERE status = 'succeeded'",
            &[],
        )
        .await
        .expect("query")
        .get(0);
    assert_eq!(succeeded, i64::try_from(accepted.len()).expect("count"));
    let seen = delivered(&rx);
    let duplicates: usize = seen.values().map(|c| c - 1).sum();
    eprintln!(
        "{} accepted, {refused} refused while a replica was down, {duplicates} delivered twice",
        accepted.len()
    );

    // No delivery attempted by two replicas at the same moment: each attempt number once,
    // and one attempt ended before the next began.
    let twice: i64 = db
        .query_one(
            "SELECT count(*) FROM (SELECT delivery_id, number FROM attempts
             GROUP BY delivery_id, number HAVING count(*) > 1) t",
            &[],
        )
        .await
        .expect("query")
        .get(0);
    assert_eq!(twice, 0, "an attempt number was used twice");
    let overlapping: i64 = db
        .query_one(
            "SELECT count(*) FROM attempts a JOIN attempts b
               ON a.delivery_id = b.delivery_id AND a.number < b.number
             WHERE b.started_at < a.started_at + a.latency_ms",
            &[],
        )
        .await
        .expect("query")
        .get(0);
    assert_eq!(overlapping, 0, "two attempts of one delivery overlapped");
    drop(replicas);
}

/// Replicas share what an operator sees and does: a console's stream attached to one
/// replica shows the events and attempts another made, and a pause asked of one stops
/// deliveries on all of them until it is lifted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_stream_and_the_pause() {
    use futures::StreamExt as _;
    use herald::api::wire::StreamItem;
    let url = crate::pg::database().await;
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let (_cfg, path) = crate::support::config_file(&format!(
        "webhooks:\n  - {{name: audit, event: drift, kind: http, url: '{}'}}\n",
        rx.url("/d")
    ));
    let data = tempfile::tempdir().expect("tempdir");
    let env = [("HERALD_JOURNAL", url.as_str())];
    let mut both = replicas(&path, data.path(), 2, &env).await;
    let (b, a) = (both.pop().expect("b"), both.pop().expect("a"));
    let console = herald::api::client::Client::remote(&a.url, None).expect("client");
    let mut items = console.stream(None).await.expect("stream");
    let post = |to: &str, n: usize| {
        reqwest::Client::new()
            .post(format!("{to}/events/drift"))
            .header("content-type", "application/json")
            .body(numbered_drift(n))
            .send()
    };
    assert_eq!(post(&b.url, 1).await.expect("post").status(), 202);
    let (mut recorded, mut attempted) = (false, false);
    let seen = tokio::time::timeout(Duration::from_secs(15), async {
        while !(recorded && attempted) {
            match items.next().await {
                Some(Ok((_, StreamItem::Recorded(e)))) => {
                    recorded |= e.summary.summary.contains("acme/infra");
                }
                Some(Ok((_, StreamItem::Attempted(at)))) => {
                    attempted |= at.webhook_label == "audit"
                }
                Some(Ok(_)) => {}
                other => panic!("stream ended: {other:?}"),
            }
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "A's stream shows B's event ({recorded}) and attempt ({attempted})"
    );

    // Paused through A: B accepts but sends nothing. The pause is shared state in the
    // journal, and B is told of it at once (NOTIFY; without it, it read it every 500 ms).
    console.pause(true).await.expect("pause");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rx.requests().len();
    assert_eq!(post(&b.url, 2).await.expect("post").status(), 202);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rx.requests().len(), before, "B obeys a pause asked of A");
    console.pause(false).await.expect("resume");
    assert!(
        eventually(Duration::from_secs(10), async || rx.requests().len()
            == before + 1)
        .await,
        "sent once resumed"
    );
    drop((a, b));
}

/// PostgreSQL itself restarted mid-flood: while it is down the replica answers 503 (it
/// accepts nothing it cannot store) and `/healthz` says not ready; it recovers by itself
/// once the database is back, and every event it answered 202 is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_mid_flood_loses_nothing_accepted() {
    let cluster = crate::pg::Cluster::start();
    let url = cluster.database().await;
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let (_cfg, path) = crate::support::config_file(&format!(
        "webhooks:\n  - {{name: audit, event: drift, kind: http, url: '{}', timeout: 2s}}\n",
        rx.url("/d")
    ));
    let data = tempfile::tempdir().expect("tempdir");
    let serve = crate::support::Serve::start_with(
        &path,
        data.path(),
        crate::support::free_port(),
        &[("HERALD_JOURNAL", url.as_str())],
    )
    .await;
    let client = reqwest::Client::new();
    let post = async |n: usize| {
        client
            .post(format!("{}/events/drift", serve.url))
            .header("content-type", "application/json")
            .body(numbered_drift(n))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let health = async || {
        client
            .get(format!("{}/healthz", serve.url))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let mut accepted = Vec::new();
    let mut n = 0;
    for _ in 0..50 {
        if post(n).await == 202 {
            accepted.push(n);
        }
        n += 1;
    }
    assert_eq!(accepted.len(), 50);

    cluster.stop();
    let mut while_down = Vec::new();
    for _ in 0..10 {
        while_down.push(post(n).await);
        n += 1;
    }
    assert!(
        while_down.iter().all(|s| *s == 503),
        "nothing accepted that cannot be stored: {while_down:?}"
    );
    assert_eq!(health().await, 503, "not ready while the database is down");

    cluster.resume();
    assert!(
        eventually(Duration::from_secs(30), async || health().await == 200).await,
        "ready again by itself"
    );
    for _ in 0..50 {
        if post(n).await == 202 {
            accepted.push(n);
        }
        n += 1;
    }
    assert_eq!(
        accepted.len(),
        100,
        "accepted again once the database is back"
    );
    let delivered = || {
        rx.requests()
            .iter()
            .filter_map(|r| flood_number(&r.body))
            .collect::<std::collections::HashSet<_>>()
    };
    assert!(
        eventually(Duration::from_secs(60), async || {
            let got = delivered();
            accepted.iter().all(|n| got.contains(n))
        })
        .await,
        "every accepted event delivered; missing {:?}",
        accepted
            .iter()
            .filter(|n| !delivered().contains(n))
            .collect::<Vec<_>>()
    );
    drop(serve);
}

/// Slack's one post per second per channel holds across replicas: three `serve` on one
/// database, six events to one channel posted round-robin at once, arrive about a second
/// apart (each replica alone would post its two a second apart, but all three at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_pacing_holds_across_replicas() {
    let url = crate::pg::database().await;
    let slack = crate::support::fake_slack().await;
    let (_cfg, path) = crate::support::config_file(
        "webhooks:\n  - event: drift\n    kind: slack\n    channel: ops\n",
    );
    let data = tempfile::tempdir().expect("tempdir");
    let api = slack.api_url();
    let env = [
        ("HERALD_JOURNAL", url.as_str()),
        ("ATLANTIS_SLACK_TOKEN", crate::support::TOKEN),
        ("HERALD_SLACK_API_URL", api.as_str()),
    ];
    let replicas = replicas(&path, data.path(), 3, &env).await;
    post_all_at_once(&replicas, 6).await;
    assert!(
        eventually(Duration::from_secs(20), async || slack.received().len()
            == 6)
        .await,
        "{} of 6 posted",
        slack.received().len()
    );
    let mut at: Vec<_> = slack.received().iter().map(|r| r.at).collect();
    at.sort();
    let gaps: Vec<u128> = at.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    assert!(
        gaps.iter().all(|g| *g >= 900),
        "posts to one channel about a second apart across replicas: {gaps:?} ms"
    );
    drop(replicas);
}

/// `herald.journal` in the config file chooses the journal when neither `--journal` nor
/// `HERALD_JOURNAL` does, and the operator API's status names it, the password masked; a
/// value that is no journal is an error at its line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_file_may_name_the_journal() {
    let url = crate::pg::database().await;
    let with_password = url.replace("postgres://herald@", "postgres://herald:s3cr3t-pw@");
    let (_cfg, path) = crate::support::config_file(&format!(
        "herald:\n  journal: '{with_password}'\nwebhooks:\n  - {{event: drift, kind: http, url: 'http://127.0.0.1:9/'}}\n"
    ));
    let data = tempfile::tempdir().expect("tempdir");
    let serve = crate::support::Serve::start(&path, data.path(), crate::support::free_port()).await;
    let status: serde_json::Value = reqwest::get(format!("{}/api/v1/status", serve.url))
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(status["journal"]["backend"], "postgres", "{status}");
    let shown = status["journal"]["path"].as_str().expect("path");
    assert!(
        shown.starts_with("postgres://herald:") && !shown.contains("s3cr3t-pw"),
        "{shown}"
    );
    drop(serve);

    let (_cfg, bad) =
        crate::support::config_file("herald:\n  journal: 'mysql://u:pw@db/x'\nwebhooks: []\n");
    let out = crate::support::herald(&["check", "-c", bad.to_str().expect("utf-8")], &[]).await;
    assert!(!out.status.success());
    let err = format!(
        "{}{}",
        crate::support::stdout(&out),
        crate::support::stderr(&out)
    );
    assert!(
        err.contains(":2:") && err.contains("sqlite:DIR or postgres://"),
        "{err}"
    );
    assert!(!err.contains("pw@"), "{err}");
}

/// A webhook's in-flight cap (32) holds for the fleet: three replicas each accepting 50
/// events at once to a slow receiver never have more than 32 requests at it together
/// (each sends what it accepts within its share, the rest is claimed against every
/// replica's leases); before, each sent up to 32 of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_flight_cap_holds_across_replicas() {
    let url = crate::pg::database().await;
    let rx = crate::support::Tally::start(Duration::from_millis(300)).await;
    let (_cfg, path) = crate::support::config_file(&format!(
        "webhooks:\n  - {{name: audit, event: drift, kind: http, url: '{}'}}\n",
        rx.url
    ));
    let data = tempfile::tempdir().expect("tempdir");
    let env = [("HERALD_JOURNAL", url.as_str())];
    let fleet = replicas(&path, data.path(), 3, &env).await;
    // Each has counted the others (they say they are alive every 2 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    post_all_at_once(&fleet, 150).await;
    assert!(
        eventually(Duration::from_secs(60), async || rx.answered() >= 150).await,
        "{} of 150 delivered",
        rx.answered()
    );
    let most = rx.peak();
    assert!(
        most <= 32,
        "{most} requests at once to one webhook across the fleet"
    );
    assert!(most >= 16, "the fleet did send in parallel: {most}");
    drop(fleet);
}

/// The drift scheduler on replicas sharing one database: each occurrence is claimed in
/// PostgreSQL, so two replicas looking at the same moment ask Atlantis once, and a run on
/// demand is refused while one is going; a staleness notice goes out once for the fleet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_run_each_drift_schedule_occurrence_once() {
    use herald::fake::atlantis::{Answer, FakeAtlantis};
    let url = crate::pg::database().await;
    let atlantis = FakeAtlantis::start(crate::support::ATLANTIS_API_SECRET)
        .await
        .expect("fake atlantis");
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let config = Arc::new(load_ok(
        &format!(
            "herald:\n  drift-stale-after: 26h\n  drift-schedule:\n    - {{atlantis-url: '{}', repository: acme/infra, ref: main, type: Github, every: 6h, api-secret: '${{ATLANTIS_API_SECRET}}'}}\nwebhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
            atlantis.url(),
            rx.url("/d")
        ),
        None,
        None,
    ));
    let stop = CancellationToken::new();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let e = Engine::new(
            config.clone(),
            journal(&url).await,
            EngineOptions::default(),
        )
        .expect("engine");
        let (run, s) = (e.clone(), stop.clone());
        tokio::spawn(async move { run.run(s, Duration::from_secs(1)).await });
        replicas.push(e);
    }
    let client = herald::notify::client().expect("client");
    let now = herald::clock::now_ms();
    atlantis.push([Answer::Hang(Duration::from_millis(600))]);
    let s = config.herald.drift_schedule[0].clone();
    let (a, b) = (&replicas[0], &replicas[1]);
    tokio::join!(
        herald::schedule::tick(a, &client, now, now),
        herald::schedule::tick(b, &client, now, now),
    );
    assert!(
        !herald::schedule::run_now(b, &client, &s)
            .await
            .expect("journal"),
        "refused while A's run is going"
    );
    assert!(eventually(Duration::from_secs(5), async || rx.requests().len() == 1).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(atlantis.calls().len(), 1);
    // B's console sees A's run, finished.
    let runs = b.reader().runs().await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert!(runs[0].finished_at.is_some() && runs[0].outcome.is_some());
    // 27 hours on (simulated), the report is stale: one notice for both replicas.
    let after = config.herald.drift_stale_after.expect("set");
    let (x, y) = tokio::join!(
        herald::schedule::stale::check(a, now + 27 * 3_600_000, after),
        herald::schedule::stale::check(b, now + 27 * 3_600_000, after),
    );
    assert_eq!(x + y, 1);
    assert!(eventually(Duration::from_secs(5), async || rx.requests().len() == 2).await);
    assert_eq!(rx.requests()[1].json()["event"], "drift-stale");
    stop.cancel();
}
