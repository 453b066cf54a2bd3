//! Slack delivery against herald's fake Slack Web API: Atlantis' Slack tests (reference
//! §7 #19–#29, #50–#51) and the failure scenarios of reference `slack-and-env0.md` §7.

use std::time::Duration;

use herald::dispatch::Selection;
use herald::fake::Scenario;
use herald::fake::slack::FakeSlack;
use herald::notify::{self, Outcome, slack};
use serde_json::json;
use unicode_segmentation::UnicodeSegmentation;

use crate::support::{
    DeliveryReport, TOKEN, apply_fixture, deliver, deliver_all, drift_fixture, fake_slack as fake,
    fire, load_ok,
};

fn slack_config(fake: &FakeSlack, event: &str, extra: &str) -> herald::config::Config {
    let mut c = load_ok(
        &format!(
            "webhooks:\n  - event: {event}\n    kind: slack\n    channel: somechannel\n{extra}"
        ),
        Some(TOKEN),
        None,
    );
    c.slack_api_url = fake.api_url();
    c
}

#[tokio::test]
async fn t19_posts_once_with_the_exact_atlantis_attachment() {
    let fake = fake().await;
    let reports = fire(
        slack_config(
            &fake,
            "apply",
            "    workspace-regex: .*\n    branch-regex: .*\n",
        ),
        &apply_fixture(),
    )
    .await;
    assert_eq!(reports[0].outcome, Outcome::Delivered, "{reports:?}");
    let got = fake.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].channel, "somechannel");
    assert_eq!(
        got[0].body["attachments"],
        json!([{
            "fallback": "Apply succeeded for runatlantis/atlantis: dir /, workspace production, PR #1",
            "color": "good",
            "text": "Apply succeeded for <url|runatlantis/atlantis>",
            "fields": [
                {"title": "Workspace", "value": "production", "short": true},
                {"title": "Branch", "value": "feature-branch", "short": true},
                {"title": "User", "value": "lkysow", "short": true},
                {"title": "Directory", "value": "/", "short": true}
            ]
        }])
    );
    assert_eq!(
        got[0].body["text"],
        "Apply succeeded for runatlantis/atlantis: dir /, workspace production, PR #1"
    );
    assert_eq!(got[0].body["unfurl_links"], false);
}

#[tokio::test]
async fn t20_no_post_when_filters_do_not_match() {
    let fake = fake().await;
    let reports = fire(
        slack_config(
            &fake,
            "apply",
            "    workspace-regex: weirdemv\n    branch-regex: weirdemv\n",
        ),
        &apply_fixture(),
    )
    .await;
    assert!(reports.is_empty());
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn t21_t22_auth_test() {
    let fake = fake().await;
    let client = notify::client().expect("client");
    let ok = notify::slack::auth_test(&client, &fake.api_url(), TOKEN)
        .await
        .expect("valid token");
    assert_eq!(ok.user, "herald-bot");
    let err = notify::slack::auth_test(&client, &fake.api_url(), "xoxb-wrong")
        .await
        .expect_err("bad token");
    assert_eq!(err, "invalid_auth");
    assert_eq!(fake.auth_tests(), 2);
}

fn apply_with(body: &str, head: &str) -> herald::event::Event {
    let json = json!({"Workspace": "w", "Repo": {"FullName": "o/r"}, "Pull": {"URL": "u", "HeadBranch": head, "BaseBranch": "main", "Body": body}, "Success": false, "Directory": "modules/x"});
    herald::event::Event::Apply(
        herald::event::parse_apply(json.to_string().as_bytes()).expect("apply"),
    )
}

fn field(m: &slack::Message, title: &str) -> Option<slack::Field> {
    m.attachment
        .fields
        .iter()
        .find(|f| f.title == title)
        .cloned()
}

#[test]
fn t24_to_t29_attachment_fields() {
    let m = slack::message(&apply_with("", "feature-branch"), slack::Style::default());
    assert_eq!(
        field(&m, "Branch").map(|f| (f.value, f.short)),
        Some(("feature-branch".into(), true))
    );
    assert_eq!(m.attachment.color, "danger");
    assert_eq!(m.attachment.text, "Apply failed for <u|o/r>");
    assert_eq!(
        field(&m, "Directory").map(|f| f.value),
        Some("modules/x".into())
    );
    assert!(
        field(&m, "Description").is_none(),
        "t25: no Description for an empty body"
    );

    let m = slack::message(
        &apply_with("a pull request description", "b"),
        slack::Style::default(),
    );
    assert_eq!(
        field(&m, "Description").map(|f| (f.value, f.short)),
        Some(("a pull request description".into(), false))
    );

    let m = slack::message(&apply_with(&"a".repeat(1500), "b"), slack::Style::default());
    let d = field(&m, "Description").expect("description").value;
    assert_eq!(d.graphemes(true).count(), 1000);
    assert!(d.ends_with('…'));

    let exact = "a".repeat(1000);
    assert_eq!(
        field(
            &slack::message(&apply_with(&exact, "b"), slack::Style::default()),
            "Description"
        )
        .map(|f| f.value),
        Some(exact)
    );

    let technologist = "\u{1F9D1}\u{200D}\u{1F4BB}";
    let m = slack::message(
        &apply_with(&format!("{}{technologist}bc", "a".repeat(998)), "b"),
        slack::Style::default(),
    );
    let d = field(&m, "Description").expect("description").value;
    assert_eq!(d.graphemes(true).count(), 1000);
    assert!(d.ends_with(&format!("{technologist}…")));
    assert!(!d.contains('b'));
}

#[test]
fn markup_characters_are_escaped_everywhere() {
    let m = slack::message(
        &apply_with("fix <script> & more", "feat/<x>"),
        slack::Style::default(),
    );
    assert_eq!(
        field(&m, "Description").map(|f| f.value),
        Some("fix &lt;script&gt; &amp; more".into())
    );
    assert_eq!(
        field(&m, "Branch").map(|f| f.value),
        Some("feat/&lt;x&gt;".into())
    );
}

#[tokio::test]
async fn t50_t51_drift_posts_red_or_green_with_the_drifted_projects() {
    let fake = fake().await;
    fire(slack_config(&fake, "drift", ""), &drift_fixture(1, 1)).await;
    fire(slack_config(&fake, "drift", ""), &drift_fixture(0, 3)).await;
    let got = fake.received();
    assert_eq!(got.len(), 2, "a clean report is posted too");
    let red = &got[0].body["attachments"][0];
    assert_eq!(red["color"], "danger");
    assert_eq!(red["text"], "Drift detected in owner/repo");
    let titles: Vec<&str> = red["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "Repository",
            "Ref",
            "Projects with drift",
            "Detection ID",
            "project1"
        ]
    );
    assert_eq!(red["fields"][2]["value"], "1 / 1");
    assert_eq!(red["fields"][3]["value"], "det-123");
    assert_eq!(
        red["fields"][4]["value"],
        "1 to add, 2 to change, 0 to destroy (infra/project1)"
    );
    let green = &got[1].body["attachments"][0];
    assert_eq!(green["color"], "good");
    assert_eq!(green["text"], "No drift in owner/repo");
    assert_eq!(green["fields"][2]["value"], "0 / 3");
    assert_eq!(green["fields"].as_array().map(Vec::len), Some(4));
}

/// Fires one apply at the fake answering `scenario`, with `attempts` allowed.
async fn scenario(s: Scenario, attempts: u32, timeout: &str) -> (DeliveryReport, FakeSlack) {
    let fake = fake().await;
    fake.push([s]);
    let c = slack_config(
        &fake,
        "apply",
        &format!("    timeout: {timeout}\n    retry: {{schedule: [100ms]}}\n"),
    );
    let mut reports = deliver(c, &apply_fixture(), Selection::Route, Some(attempts)).await;
    (reports.remove(0), fake)
}

#[tokio::test]
async fn slack_errors_are_final_with_a_hint() {
    for (code, hint_part) in [
        ("not_in_channel", "invite"),
        ("channel_not_found", "channel ID"),
        ("invalid_auth", "slack-token"),
        ("is_archived", "archived"),
    ] {
        let (r, fake) = scenario(Scenario::Error(code.into()), 3, "5s").await;
        assert_eq!(r.outcome, Outcome::Failed, "{code}");
        assert_eq!(r.attempts.len(), 1, "{code} is not retried");
        assert_eq!(r.attempts[0].error.as_deref(), Some(code));
        assert!(
            r.attempts[0]
                .hint
                .clone()
                .unwrap_or_default()
                .contains(hint_part),
            "{code}: {:?}",
            r.attempts[0].hint
        );
        assert_eq!(fake.received().len(), 1);
    }
}

#[tokio::test]
async fn a_wrong_token_is_rejected_by_slack() {
    let fake = fake().await;
    let mut c = slack_config(&fake, "apply", "");
    c.slack_token = Some(herald::secret::Secret::new("xoxb-not-the-one"));
    let r = fire(c, &apply_fixture()).await;
    assert_eq!(r[0].attempts[0].error.as_deref(), Some("invalid_auth"));
    assert!(
        fake.received().is_empty(),
        "nothing posted with a bad token"
    );
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after_and_delivers_once() {
    let (r, fake) = scenario(Scenario::RateLimited(2), 3, "5s").await;
    assert_eq!(r.outcome, Outcome::Delivered);
    assert_eq!(r.attempts[0].outcome, Outcome::Retryable);
    assert!(
        r.attempts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.ends_with("retry after 2s")),
        "{:?}",
        r.attempts[0]
    );
    let got = fake.received();
    assert_eq!(got.len(), 2);
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
}

#[tokio::test]
async fn html_500_is_retryable_and_not_parsed() {
    let (r, _fake) = scenario(Scenario::ServerError, 2, "5s").await;
    assert_eq!(r.attempts[0].outcome, Outcome::Retryable);
    assert_eq!(
        r.attempts[0].error.as_deref(),
        Some("slack server error: 500 Internal Server Error")
    );
    assert_eq!(r.outcome, Outcome::Delivered);
}

#[tokio::test]
async fn transient_slack_errors_are_retried() {
    let (r, _fake) = scenario(Scenario::Error("internal_error".into()), 2, "5s").await;
    assert_eq!(
        r.attempts.iter().map(|a| a.outcome).collect::<Vec<_>>(),
        [Outcome::Retryable, Outcome::Delivered]
    );
}

#[tokio::test]
async fn a_slack_that_never_answers_times_out() {
    let (r, _fake) = scenario(Scenario::Hang, 1, "700ms").await;
    assert_eq!(r.outcome, Outcome::Failed);
    let a = &r.attempts[0];
    assert_eq!(a.outcome, Outcome::Retryable);
    assert!(
        a.error
            .clone()
            .unwrap_or_default()
            .contains("timed out after 700ms"),
        "{a:?}"
    );
    assert!(a.latency < Duration::from_secs(3));
}

#[tokio::test]
async fn posts_to_one_channel_are_paced() {
    let fake = fake().await;
    let c = slack_config(&fake, "apply", "");
    let e = apply_fixture();
    let both = deliver_all(c, &[e.clone(), e], Selection::Route, Some(1)).await;
    assert_eq!(
        (both[0].outcome, both[1].outcome),
        (Outcome::Delivered, Outcome::Delivered)
    );
    let got = fake.received();
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_millis(950), "two posts {gap:?} apart");
}

#[tokio::test]
async fn incoming_webhooks_post_the_same_message() {
    let fake = fake().await;
    let c = load_ok(
        &format!(
            "webhooks:\n  - event: drift\n    kind: slack\n    url: {}\n",
            fake.incoming_url()
        ),
        None,
        None,
    );
    let r = fire(c.clone(), &drift_fixture(1, 2)).await;
    assert_eq!(r[0].outcome, Outcome::Delivered, "{r:?}");
    assert_eq!(fake.received()[0].body["attachments"][0]["color"], "danger");
    assert!(
        !r[0].target.contains("fakesecretpath"),
        "the URL is the secret: {}",
        r[0].target
    );

    fake.push([Scenario::Error("no_service".into())]);
    let r = fire(c, &drift_fixture(1, 2)).await;
    assert_eq!(r[0].outcome, Outcome::Failed);
    assert_eq!(r[0].attempts[0].error.as_deref(), Some("no_service"));
    assert!(
        r[0].attempts[0]
            .hint
            .clone()
            .unwrap_or_default()
            .contains("revoked")
    );
}

#[test]
fn a_bar_in_the_pull_url_cannot_take_over_the_link_label() {
    let json = json!({"Workspace": "w", "Repo": {"FullName": "o/r"}, "Pull": {"URL": "https://evil.example/x|Approve this PR", "HeadBranch": "h", "BaseBranch": "main"}, "Success": true, "Directory": "."});
    let e = herald::event::Event::Apply(
        herald::event::parse_apply(json.to_string().as_bytes()).expect("apply"),
    );
    let text = slack::message(&e, slack::Style::default()).attachment.text;
    assert_eq!(
        text,
        "Apply succeeded for <https://evil.example/x%7CApprove this PR|o/r>"
    );
}

#[tokio::test]
async fn a_long_non_ascii_post_is_delivered_though_slack_echoes_it_at_length() {
    let fake = fake().await;
    // 999 characters of description, each echoed by Slack as a six-byte \\u escape.
    let event = apply_with(&"説明".repeat(600), "feature/説明");
    let reports = fire(slack_config(&fake, "apply", ""), &event).await;
    let attempt = &reports[0].attempts[0];
    assert_eq!(reports[0].outcome, Outcome::Delivered, "{attempt:?}");
    assert_eq!(fake.received().len(), 1);
    // The answer was judged whole, and only an excerpt of it kept.
    assert!(attempt.response.len() <= notify::RESPONSE_EXCERPT);
    assert!(attempt.response.starts_with(r#"{"ok":true"#));
}

#[tokio::test]
async fn a_harmless_header_value_does_not_break_slack_answers() {
    let fake = fake().await;
    let mut c = load_ok(
        "webhooks:\n  - event: apply\n    kind: slack\n    channel: somechannel\n  - event: apply\n    kind: http\n    url: http://127.0.0.1:9/\n    headers: {X-Debug: 'true', Accept: application/json}\n",
        Some(TOKEN),
        None,
    );
    c.slack_api_url = fake.api_url();
    let report = deliver(c, &apply_fixture(), Selection::Only(vec![0]), Some(1)).await;
    assert_eq!(report[0].outcome, Outcome::Delivered, "{report:?}");
    assert!(report[0].attempts[0].response.contains(r#""ok":true"#));
}

/// A drift payload for `owner/repo@main` with `drifted` of 2 projects drifted.
fn drift_body(drifted: u64) -> Vec<u8> {
    crate::support::drift_fixture(drifted, 2)
        .to_json()
        .to_string()
        .into_bytes()
}

async fn post_drift(url: &str, drifted: u64) {
    crate::support::post_event(url, "/events/drift", drift_body(drifted)).await;
}

#[tokio::test]
async fn update_edit_keeps_one_message_per_repository_and_posts_anew_when_it_is_gone() {
    let fake = fake().await;
    let mut c = slack_config(&fake, "drift", "    update: edit\n");
    c.webhooks[0].retry.schedule = vec![std::time::Duration::from_millis(50)];
    let s = crate::support::Server::start(c).await;
    let arrived = async |n: usize| {
        crate::support::eventually(std::time::Duration::from_secs(5), async || {
            fake.received().len() == n
        })
        .await
    };
    post_drift(&s.url, 1).await;
    assert!(arrived(1).await);
    post_drift(&s.url, 0).await;
    assert!(arrived(2).await);
    let got = fake.received();
    assert_eq!(got[0].method, "chat.postMessage");
    assert_eq!(
        got[1].method, "chat.update",
        "the second report edits the first"
    );
    // chat.update takes the channel's id from Slack's answer, not the configured name.
    assert_eq!(
        got[1].body["channel"],
        herald::fake::slack::channel_id("somechannel").as_str()
    );
    assert_ne!(got[1].body["channel"], "somechannel");
    let ts = got[1].body["ts"].as_str().expect("ts").to_string();
    assert_eq!(ts, "1503435956.000001");
    assert_eq!(got[1].body["attachments"][0]["color"], "good");
    // Someone deletes the message: the next report's edit is refused, and it is posted anew.
    fake.delete(&got[0].channel, &ts);
    post_drift(&s.url, 1).await;
    assert!(
        arrived(4).await,
        "{:?}",
        fake.received().iter().map(|r| r.method).collect::<Vec<_>>()
    );
    let got = fake.received();
    assert_eq!(
        got.iter().map(|r| r.method).collect::<Vec<_>>(),
        [
            "chat.postMessage",
            "chat.update",
            "chat.update",
            "chat.postMessage"
        ]
    );
    assert!(got[3].body.get("ts").is_none());
}

#[tokio::test]
async fn update_thread_replies_under_the_first_and_broadcasts_when_worse() {
    let fake = fake().await;
    let s =
        crate::support::Server::start(slack_config(&fake, "drift", "    update: thread\n")).await;
    let arrived = async |n: usize| {
        crate::support::eventually(std::time::Duration::from_secs(5), async || {
            fake.received().len() == n
        })
        .await
    };
    post_drift(&s.url, 0).await;
    assert!(arrived(1).await);
    post_drift(&s.url, 0).await;
    assert!(arrived(2).await);
    post_drift(&s.url, 1).await;
    assert!(arrived(3).await);
    let got = fake.received();
    assert!(got[0].body.get("thread_ts").is_none());
    assert_eq!(got[1].body["thread_ts"], "1503435956.000001");
    assert!(
        got[1].body.get("reply_broadcast").is_none(),
        "no worse: not broadcast"
    );
    assert_eq!(got[2].body["thread_ts"], "1503435956.000001");
    assert_eq!(
        got[2].body["reply_broadcast"], true,
        "drift appeared: the channel sees it"
    );
}

#[test]
fn update_needs_a_channel_and_says_its_modes() {
    assert_eq!(
        crate::support::load_errors(
            "webhooks:\n  - {event: drift, kind: slack, url: 'https://hooks.slack.com/services/T/B/X', update: edit}\n",
            None
        ),
        [
            "\"update\" needs a bot token and a \"channel\": an incoming webhook's posts cannot be edited or replied to"
        ]
    );
    assert_eq!(
        crate::support::load_errors(
            "slack-token: xoxb-t\nwebhooks:\n  - {event: drift, kind: slack, channel: C1, update: sometimes}\n",
            None
        ),
        ["\"update: sometimes\" is not one of edit, thread"]
    );
}

#[tokio::test]
async fn two_events_of_one_thing_at_once_make_one_message() {
    let fake = fake().await;
    let c = slack_config(&fake, "drift", "    update: edit\n");
    let events = [
        crate::support::drift_fixture(1, 2),
        crate::support::drift_fixture(0, 2),
    ];
    let reports =
        crate::support::deliver_all(c, &events, herald::dispatch::Selection::Route, Some(1)).await;
    assert!(
        reports.iter().all(|r| r.outcome == Outcome::Delivered),
        "{reports:?}"
    );
    let methods: Vec<&str> = fake.received().iter().map(|r| r.method).collect();
    assert_eq!(methods, ["chat.postMessage", "chat.update"]);
}
