//! `kind: discord`, `kind: googlechat`, `kind: pagerduty`, and Mattermost through
//! `kind: slack` + `url` (issue 15, item 2), each against a fake that answers as the real
//! service does.

use std::time::Duration;

use herald::dispatch::Selection;
use herald::fake::chat::{FakeChat, Service};
use herald::notify::Outcome;

use crate::support::{apply_fixture, deliver, drift_fixture, fire, load_errors, load_ok};

const ROUTING_KEY: &str = "R0UT1NGKEY0123456789abcdefABCDEF";

fn config(kind: &str, event: &str, keys: &str) -> herald::config::Config {
    load_ok(
        &format!(
            "webhooks:\n  - {{event: {event}, kind: {kind}, {keys}, retry: {{max-attempts: 3, schedule: [50ms]}}}}\n"
        ),
        None,
        None,
    )
}

fn failed_apply() -> herald::event::Event {
    let body = std::fs::read(crate::support::repo_file(
        "examples/payloads/apply-failure.json",
    ))
    .expect("fixture");
    herald::intake::read(&body, None)
        .expect("reads")
        .into_event()
        .expect("event")
        .event
}

#[test]
fn each_kind_says_what_it_needs() {
    for (kind, msg) in [
        (
            "discord",
            "must specify \"url\" if using a webhook of \"kind: discord\"",
        ),
        (
            "googlechat",
            "must specify \"url\" if using a webhook of \"kind: googlechat\"",
        ),
    ] {
        assert_eq!(
            load_errors(
                &format!("webhooks:\n  - {{event: apply, kind: {kind}}}\n"),
                None
            ),
            [msg]
        );
    }
    let errors = load_errors("webhooks:\n  - {event: drift, kind: pagerduty}\n", None);
    assert!(
        errors[0].starts_with("must specify \"routing-key\""),
        "{errors:?}"
    );
    // Secrets are masked wherever a webhook is shown.
    let c = config("pagerduty", "drift", &format!("routing-key: {ROUTING_KEY}"));
    assert!(!c.webhooks[0].target.display().contains(ROUTING_KEY));
    // The key travels in PagerDuty's body: what is shown and journaled of it is masked.
    let (shown, _) =
        herald::notify::preview(&c, &c.webhooks[0], &drift_fixture(1, 2), 80).expect("preview");
    assert_eq!(shown.body["routing_key"], "<redacted>");
    let c = config(
        "googlechat",
        "drift",
        "url: 'https://chat.googleapis.com/v1/spaces/A/messages?key=k1&token=t1'",
    );
    let shown = c.webhooks[0].target.display();
    assert!(!shown.contains("k1") && !shown.contains("t1"), "{shown}");
}

#[tokio::test]
async fn discord_gets_one_embed_within_its_limits_and_waits_when_throttled() {
    let fake = FakeChat::start(Service::Discord).await.expect("fake");
    fake.throttle(1);
    let c = config("discord", "apply", &format!("url: '{}'", fake.url()));
    let reports = deliver(c, &failed_apply(), Selection::Route, None).await;
    assert_eq!(reports[0].outcome, Outcome::Delivered, "{reports:?}");
    let posts = fake.posts();
    assert_eq!(
        posts.iter().map(|p| p.status).collect::<Vec<_>>(),
        [429, 204]
    );
    // Retry-After (1 s) was waited for.
    assert!(posts[1].at - posts[0].at >= Duration::from_secs(1));
    let e = &posts[1].body["embeds"][0];
    assert_eq!(e["title"], "Apply failed for acme/infrastructure");
    assert_eq!(e["color"], 0x99_2D22);
    assert_eq!(e["url"], "https://github.com/acme/infrastructure/pull/2141");
    assert!(
        e["description"]
            .as_str()
            .is_some_and(|d| d.contains("**Workspace:** staging"))
    );
    assert_eq!(
        posts[1].body["allowed_mentions"]["parse"],
        serde_json::json!([])
    );
    // A drift of thousands of projects still fits Discord's 4,096.
    let fake = FakeChat::start(Service::Discord).await.expect("fake");
    let big = drift_fixture(1, 3000);
    let mut d = match big {
        herald::event::Event::Drift(d) => d.parsed().clone(),
        _ => unreachable!(),
    };
    for p in &mut d.result.projects {
        p.has_drift = true;
    }
    d.result.projects_with_drift = 3000;
    let event =
        crate::support::received(&herald::event::Event::Drift(herald::event::Relayed::new(d)))
            .event;
    let reports = fire(
        config("discord", "drift", &format!("url: '{}'", fake.url())),
        &event,
    )
    .await;
    assert_eq!(reports[0].outcome, Outcome::Delivered, "{reports:?}");
    let description = fake.posts()[0].body["embeds"][0]["description"]
        .as_str()
        .expect("text")
        .to_string();
    assert!(description.chars().count() <= 4_096);
    assert!(description.ends_with(" more"), "{description}");
}

#[tokio::test]
async fn google_chat_threads_a_repositorys_reports() {
    let fake = FakeChat::start(Service::GoogleChat).await.expect("fake");
    let c = config("googlechat", "drift", &format!("url: '{}'", fake.url()));
    for drifted in [1, 0] {
        let reports = fire(c.clone(), &drift_fixture(drifted, 2)).await;
        assert_eq!(reports[0].outcome, Outcome::Delivered, "{reports:?}");
    }
    let posts = fake.posts();
    assert_eq!(posts.len(), 2);
    for p in &posts {
        assert!(
            p.uri
                .ends_with("&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"),
            "{}",
            p.uri
        );
        assert_eq!(p.body["thread"]["threadKey"], "owner/repo@main");
    }
    assert!(
        posts[0].body["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("🔴 *Drift detected in owner/repo@main*"))
    );
    assert!(
        posts[1].body["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("✅ *No drift in owner/repo@main*"))
    );
}

#[tokio::test]
async fn pagerduty_triggers_on_drift_and_resolves_when_it_is_gone() {
    let fake = FakeChat::start(Service::PagerDuty).await.expect("fake");
    let c = config(
        "pagerduty",
        "drift",
        &format!("routing-key: {ROUTING_KEY}, url: '{}'", fake.url()),
    );
    for drifted in [1, 0] {
        let reports = fire(c.clone(), &drift_fixture(drifted, 2)).await;
        assert_eq!(reports[0].outcome, Outcome::Delivered, "{reports:?}");
    }
    let posts = fake.posts();
    assert_eq!(posts[0].status, 202);
    assert_eq!(posts[0].body["event_action"], "trigger");
    assert_eq!(posts[0].body["dedup_key"], "owner/repo@main");
    assert_eq!(posts[0].body["payload"]["severity"], "error");
    assert_eq!(
        posts[0].body["payload"]["summary"],
        "Drift detected in owner/repo@main"
    );
    assert_eq!(posts[1].body["event_action"], "resolve");
    assert_eq!(posts[1].body["dedup_key"], "owner/repo@main");
    // A failed apply triggers; PagerDuty's 400 for a wrong key is final, with a hint.
    let c = config(
        "pagerduty",
        "apply",
        &format!("routing-key: {ROUTING_KEY}, url: '{}'", fake.url()),
    );
    let reports = fire(c, &apply_fixture()).await;
    assert_eq!(
        reports[0].outcome,
        Outcome::Delivered,
        "a successful apply resolves"
    );
    let last = fake.posts().last().expect("post").body.clone();
    assert_eq!(last["event_action"], "resolve");
    assert_eq!(last["dedup_key"], "apply:runatlantis/atlantis/.@production");
    let reports = fire(
        config(
            "pagerduty",
            "apply",
            &format!("routing-key: short, url: '{}'", fake.url()),
        ),
        &failed_apply(),
    )
    .await;
    assert_eq!(reports[0].outcome, Outcome::Failed);
    let error = reports[0].attempts[0].error.clone().unwrap_or_default();
    assert!(error.contains("Event object is invalid"), "{error}");
    assert_eq!(reports[0].attempts.len(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn mattermost_takes_slacks_incoming_webhook_body() {
    let fake = FakeChat::start(Service::Mattermost).await.expect("fake");
    let c = config("slack", "drift", &format!("url: '{}'", fake.url()));
    let reports = fire(c, &drift_fixture(1, 2)).await;
    assert_eq!(reports[0].outcome, Outcome::Delivered, "{reports:?}");
    let p = &fake.posts()[0];
    assert_eq!(p.status, 200);
    assert_eq!(p.body["attachments"][0]["color"], "danger");
    assert!(p.uri.starts_with("/hooks/"));
}

#[tokio::test]
async fn the_demo_sends_to_teams_and_pagerduty_too() {
    let demo = herald::demo::Demo::start().await.expect("demo");
    let (c, report) = herald::config::load_str(
        &demo.config,
        "demo.yaml",
        &herald::config::LoadOptions::default(),
    )
    .expect("the demo config loads");
    assert_eq!(report.errors(), 0, "{report}");
    let kinds: Vec<&str> = c.webhooks.iter().map(|w| w.target.kind()).collect();
    assert!(
        kinds.contains(&"msteams") && kinds.contains(&"pagerduty"),
        "{kinds:?}"
    );
    let reports = fire(c.clone(), &drift_fixture(1, 2)).await;
    assert!(
        demo.pagerduty.posts().iter().any(|p| p.status == 202),
        "{reports:?}"
    );
    let reports = fire(c, &apply_fixture()).await;
    assert!(
        demo.teams.posts().iter().any(|p| p.status == 202),
        "{reports:?}"
    );
}

#[test]
fn every_kind_previews_as_its_destination_shows_it() {
    use herald::notify::kind::Preview;
    use herald::notify::slack::render::Bar;
    let preview = |kind: &str, keys: &str, event: &herald::event::Event| {
        let c = config(kind, "drift", keys);
        match herald::notify::preview(&c, &c.webhooks[0], event, 60).expect("preview") {
            (_, Preview::Message(r)) => r,
            (_, Preview::Json(j)) => panic!("{kind} previews as JSON: {j}"),
        }
    };
    let drift = drift_fixture(1, 2);
    let d = preview(
        "discord",
        "url: 'https://discord.com/api/webhooks/1/t0k3n'",
        &drift,
    );
    assert_eq!(
        (d.bar, d.lines[0].as_str()),
        (Bar::Danger, "Drift detected in owner/repo@main")
    );
    assert!(d.lines.iter().any(|l| l == "project1: +1 ~2 −0"), "{d:?}");
    let g = preview(
        "googlechat",
        "url: 'https://chat.googleapis.com/v1/spaces/A/messages?key=k&token=t'",
        &drift,
    );
    assert_eq!(g.summary, "🔴 Drift detected in owner/repo@main");
    assert_eq!(
        g.lines.last().map(String::as_str),
        Some("(in thread owner/repo@main)")
    );
    let p = preview("pagerduty", &format!("routing-key: {ROUTING_KEY}"), &drift);
    assert_eq!(
        p.summary,
        "trigger (error): Drift detected in owner/repo@main"
    );
    assert_eq!(p.lines[0], "dedup_key owner/repo@main");
    let p = preview(
        "pagerduty",
        &format!("routing-key: {ROUTING_KEY}"),
        &drift_fixture(0, 2),
    );
    assert_eq!(
        (p.summary.as_str(), p.bar),
        ("resolve the alert", Bar::Good)
    );
}

#[test]
fn env0_environments_of_one_repository_are_alerted_and_threaded_apart() {
    let read = |body: &[u8]| {
        herald::intake::read(body, None)
            .expect("reads")
            .into_event()
            .expect("event")
            .event
    };
    let prod = crate::support::payload("env0-drift-detected.json");
    let mut staging: serde_json::Value = serde_json::from_slice(&prod).expect("json");
    staging["data"]["environment"]["id"] = serde_json::json!("0f9e8d7c-staging");
    staging["data"]["deploymentLog"]["environmentId"] = serde_json::json!("0f9e8d7c-staging");
    staging["data"]["deploymentLog"]["customEnv0EnvironmentVariables"]["environmentId"] =
        serde_json::json!("0f9e8d7c-staging");
    let (a, b) = (read(&prod), read(staging.to_string().as_bytes()));
    // Same repository and ref, two environments: two alerts, two threads.
    assert_ne!(
        herald::notify::pagerduty::dedup_key(&a),
        herald::notify::pagerduty::dedup_key(&b)
    );
    assert_ne!(
        herald::notify::slack::correlation(&a),
        herald::notify::slack::correlation(&b)
    );
    assert_ne!(
        herald::notify::googlechat::thread_key(&a),
        herald::notify::googlechat::thread_key(&b)
    );
    // Atlantis' reports are known by repository@ref.
    assert_eq!(
        herald::notify::pagerduty::dedup_key(&drift_fixture(1, 2)),
        "owner/repo@main"
    );
}
