//! Ahead of Atlantis (issue 16): plan results (PR #5978), `ResultMessage` (PR #5599),
//! `project-regex`/`directory-regex` (PR #5557), `slack-include-body` (PR #6794) and drift
//! reports with errored projects (Atlantis' #6753), through the real ingest API, a real
//! HTTP receiver and the fake Slack.

use std::time::Duration;

use herald::route;
use serde_json::Value;
use unicode_segmentation::UnicodeSegmentation;

use crate::support::{
    Receiver, Reply, Server, TOKEN, eventually, fake_slack, load_errors, load_ok, payload,
    received, repo_file,
};

async fn post(url: &str, body: Vec<u8>) -> (u16, Value) {
    crate::support::post(url, body, &[("content-type", "application/json")]).await
}

/// The keys of a JSON object in their order.
fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect::<Vec<_>>()
}

#[tokio::test]
async fn plan_results_go_to_plan_webhooks_as_sent_and_to_slack_with_their_result() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let slack = fake_slack().await;
    let mut config = load_ok(
        &format!(
            "webhooks:\n  - {{name: plans, event: plan, kind: http, url: '{}', project-regex: '^databases-', directory-regex: 'terraform/(databases|networking)'}}\n  - {{name: applies, event: apply, kind: http, url: '{}'}}\n  - {{name: plans-slack, event: plan, kind: slack, channel: C1}}\n  - {{name: other-dir, event: plan, kind: http, url: '{}', directory-regex: '^environments/'}}\n",
            rx.url("/plan"),
            rx.url("/apply"),
            rx.url("/other"),
        ),
        Some(TOKEN),
        None,
    );
    config.slack_api_url = slack.api_url();
    let s = Server::start(config).await;

    // The dedicated route and detection on /events both read it as a plan.
    let (status, body) = post(
        &format!("{}/events/plan", s.url),
        payload("plan-failure.json"),
    )
    .await;
    assert_eq!(
        (status, body["deliveries"].as_u64()),
        (202, Some(2)),
        "{body}"
    );
    let (status, body) = post(&format!("{}/events", s.url), payload("plan-success.json")).await;
    assert_eq!(
        (status, body["deliveries"].as_u64()),
        (202, Some(2)),
        "{body}"
    );
    // A run without "Event" posted to /events/plan is read as the route says: a plan.
    let (status, body) = post(
        &format!("{}/events/plan", s.url),
        payload("apply-success.json"),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    // A plan posted to the apply route is refused, saying where it belongs.
    let (status, body) = post(
        &format!("{}/events/apply", s.url),
        payload("plan-failure.json"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("/events/plan"),
        "the answer says where it belongs: {body}"
    );

    assert!(
        eventually(Duration::from_secs(10), async || rx.requests().len() >= 3
            && slack.received().len() >= 3)
        .await,
        "delivered: {} http, {} slack",
        rx.requests().len(),
        slack.received().len()
    );
    // /metrics counts plans as their own kind.
    let metrics = herald::notify::client()
        .expect("client")
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("herald_events_total{kind=\"plan\"} 3"),
        "{metrics}"
    );
    let got = rx.requests();
    assert!(
        got.iter().all(|r| r.uri == "/plan"),
        "only the plan webhook whose project and directory match gets plans: {:?}",
        got.iter().map(|r| &r.uri).collect::<Vec<_>>()
    );
    // The HTTP receiver gets the body as Atlantis sent it: "Event" first, ResultMessage
    // last and unchanged (colour codes and all), only the clone-URL password redacted.
    let sent: Value = serde_json::from_slice(&payload("plan-failure.json")).expect("json");
    let first = got[0].json();
    assert_eq!(keys(&first), keys(&sent));
    assert_eq!(keys(&first)[0], "Event");
    assert_eq!(first["ResultMessage"], sent["ResultMessage"]);
    assert!(
        first["ResultMessage"]
            .as_str()
            .is_some_and(|m| m.contains('\u{1b}'))
    );
    assert_eq!(first["Pull"], sent["Pull"].clone().tap_clone_urls());

    // Slack: PR #5978's text, Atlantis' fields, and a Result field with the last lines of
    // the output, without colour codes or the module URL's password.
    let posts = slack.received();
    let failed = posts
        .iter()
        .find(|p| p.body["attachments"][0]["color"] == "danger")
        .expect("the failed plan was posted");
    let a = &failed.body["attachments"][0];
    assert_eq!(
        a["text"],
        "Plan failed for <https://github.com/acme/infrastructure/pull/2137|acme/infrastructure>"
    );
    let result = a["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["title"] == "Result")
        .expect("a Result field")["value"]
        .as_str()
        .expect("text")
        .to_string();
    assert!(
        result.contains("instance_class must start with db."),
        "{result}"
    );
    assert!(!result.contains('\u{1b}'), "colour codes left: {result:?}");
    assert!(!result.contains("pg[1]:"), "only the last lines: {result}");
    assert!(result.graphemes(true).count() <= 1_010, "{}", result.len());
    assert!(
        !failed.body.to_string().contains("example-vcs-token"),
        "a credential reached Slack"
    );
    assert!(
        a["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .any(|f| f["title"] == "Description")
    );
}

#[tokio::test]
async fn slack_include_body_false_leaves_the_description_out() {
    let slack = fake_slack().await;
    let text =
        "slack-include-body: false\nwebhooks:\n  - {event: apply, kind: slack, channel: C1}\n";
    let mut config = load_ok(text, Some(TOKEN), None);
    assert!(!config.slack_include_body);
    config.slack_api_url = slack.api_url();
    let s = Server::start(config).await;
    let (status, _) = post(
        &format!("{}/events/apply", s.url),
        payload("apply-failure.json"),
    )
    .await;
    assert_eq!(status, 202);
    assert!(eventually(Duration::from_secs(5), async || slack.received().len() == 1).await);
    let fields = slack.received()[0].body["attachments"][0]["fields"].clone();
    let titles: Vec<&str> = fields
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["title"].as_str())
        .collect();
    assert_eq!(titles, ["Workspace", "Branch", "User", "Directory"]);
    // The default keeps Atlantis' behaviour: the description is shown.
    let config = load_ok(
        "webhooks:\n  - {event: apply, kind: slack, channel: C1}\n",
        Some(TOKEN),
        None,
    );
    assert!(config.slack_include_body);
    assert_eq!(
        load_errors("slack-include-body: maybe\nwebhooks: []\n", Some(TOKEN)),
        ["\"slack-include-body\" must be true or false"]
    );
}

#[tokio::test]
async fn drift_reports_with_errored_projects_are_sent_as_each_webhook_asks() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let slack = fake_slack().await;
    let mut config = load_ok(
        &format!(
            "webhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n  - {{event: drift, kind: http, url: '{}', drift-errors: skip}}\n  - {{event: drift, kind: http, url: '{}', drift-errors: only}}\n  - {{event: drift, kind: slack, channel: C1}}\n",
            rx.url("/include"),
            rx.url("/skip"),
            rx.url("/only"),
        ),
        Some(TOKEN),
        None,
    );
    config.slack_api_url = slack.api_url();
    let s = Server::start(config).await;
    let (status, body) = post(
        &format!("{}/events/drift", s.url),
        payload("drift-errored.json"),
    )
    .await;
    assert_eq!(
        (status, body["deliveries"].as_u64()),
        (202, Some(3)),
        "{body}"
    );
    let (status, body) = post(
        &format!("{}/events/drift", s.url),
        payload("drift-detected.json"),
    )
    .await;
    assert_eq!(
        (status, body["deliveries"].as_u64()),
        (202, Some(3)),
        "{body}"
    );
    assert!(
        eventually(Duration::from_secs(10), async || rx.requests().len() == 4
            && slack.received().len() == 2)
        .await
    );
    let mut uris: Vec<(String, bool)> = rx
        .requests()
        .iter()
        .map(|r| (r.uri.clone(), r.json()["projects"][1]["error"].is_string()))
        .collect();
    uris.sort();
    assert_eq!(
        uris,
        [
            ("/include".to_string(), false),
            ("/include".to_string(), true),
            ("/only".to_string(), true),
            ("/skip".to_string(), false),
        ]
    );
    // Slack marks the errored project with its error's first line.
    let posts = slack.received();
    let errored = posts
        .iter()
        .find(|p| p.body.to_string().contains("errored"))
        .expect("the errored report");
    let a = &errored.body["attachments"][0];
    assert_eq!(
        a["text"],
        "Drift detected in acme/infrastructure (1 of 3 projects errored)"
    );
    let field = a["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["title"] == "⚠ databases-production")
        .expect("the errored project's field");
    assert_eq!(
        field["value"],
        "error: plan failed: the default workspace at path terraform/databases is currently locked by another command that is running for this pull request."
    );
}

#[test]
fn a_report_with_only_errors_is_amber_not_green() {
    let mut d: herald::event::DriftResult =
        serde_json::from_slice(&payload("drift-clean.json")).expect("fixture");
    d.projects[0].error = "\u{1b}[31mError:\u{1b}[0m state lock\nmore".into();
    let event =
        herald::event::Event::Drift(herald::event::Relayed::new(herald::event::DriftReport {
            result: d,
            env0: None,
        }));
    let event = received(&event).event;
    assert!(event.has_errors() && !event.is_problem());
    let m = herald::notify::slack::message(&event, Default::default());
    assert_eq!(m.attachment.color, "warning");
    assert!(m.text.ends_with(", 1 errored"), "{}", m.text);
    assert!(
        m.attachment
            .fields
            .iter()
            .any(|f| f.value == "error: Error: state lock"),
        "{:?}",
        m.attachment.fields
    );
}

#[test]
fn project_and_directory_filters_are_pr_5557s() {
    let config = load_ok(
        "webhooks:\n  - {event: apply, kind: http, url: 'http://h/', project-regex: '.*-service', directory-regex: 'environments/(production|staging)/.*'}\n  - {event: apply, kind: http, url: 'http://h/', project-regex: '', directory-regex: ''}\n",
        None,
        None,
    );
    let run = |project: &str, dir: &str| {
        let mut a: herald::event::ApplyResult =
            serde_json::from_slice(&payload("apply-success.json")).expect("fixture");
        a.project_name = project.into();
        a.directory = dir.into();
        received(&herald::event::Event::Apply(herald::event::Relayed::new(a))).event
    };
    let m = |e: &herald::event::Event| {
        config
            .webhooks
            .iter()
            .map(|w| route::matches(w, e))
            .collect::<Vec<_>>()
    };
    // Unanchored, all four must match, empty matches everything.
    assert_eq!(
        m(&run("billing-service", "environments/production/billing")),
        [true, true]
    );
    assert_eq!(
        m(&run("billing-service-v2", "x/environments/staging/y")),
        [true, true]
    );
    assert_eq!(
        m(&run("billing-service", "environments/dev/billing")),
        [false, true]
    );
    assert_eq!(
        m(&run("billing", "environments/production/billing")),
        [false, true]
    );
    // The evidence names all four tested values.
    let d = route::decide(&config.webhooks[0], &run("a-service", "environments/dev/x"));
    let json = serde_json::to_value(&d).expect("json");
    let tested: Vec<&str> = json["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .filter_map(|t| t["key"].as_str())
        .collect();
    assert_eq!(
        tested,
        [
            "workspace-regex",
            "branch-regex",
            "project-regex",
            "directory-regex"
        ]
    );

    // Compiled whatever the kind (PR #5557 compiles them before the kind check), each
    // error at its own key, Go's words.
    let errors = load_errors(
        "webhooks:\n  - {event: apply, kind: nope, project-regex: '(', directory-regex: '[z-a]'}\n",
        None,
    );
    assert_eq!(
        errors,
        [
            "\"kind: nope\" not supported. Only \"kind: slack\", \"kind: http\", \"kind: msteams\", \"kind: discord\", \"kind: googlechat\", and \"kind: pagerduty\" are supported right now",
            "error parsing regexp: missing closing ): `(`",
            "error parsing regexp: invalid character class range: `z-a`"
        ]
    );
    // An unknown event keeps released Atlantis' words; plan is accepted.
    assert_eq!(
        load_errors(
            "webhooks:\n  - {event: destroy, kind: http, url: 'http://h/'}\n",
            None
        ),
        [
            "\"event: destroy\" not supported. Only \"event: apply\" and \"event: drift\" are supported"
        ]
    );
    assert_eq!(
        load_errors(
            "webhooks:\n  - {event: drift, kind: http, url: 'http://h/', drift-errors: sometimes}\n",
            None
        ),
        ["\"drift-errors: sometimes\" is not one of include, skip, only"]
    );
}

/// Redacts the clone URLs of a `Pull` tree as herald does on the way in.
trait TapCloneUrls {
    fn tap_clone_urls(self) -> Self;
}

impl TapCloneUrls for Value {
    fn tap_clone_urls(mut self) -> Self {
        for key in ["CloneURL", "SanitizedCloneURL"] {
            if let Some(Value::String(u)) = self["BaseRepo"].get_mut(key) {
                *u = herald::redact::clone_url(u);
            }
        }
        self
    }
}

#[tokio::test]
async fn env0_deployments_that_ended_are_apply_results() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let config = load_ok(
        &format!(
            "webhooks:\n  - {{event: apply, kind: http, url: '{}', project-regex: '^payments-', directory-regex: '^terraform/'}}\n  - {{event: drift, kind: http, url: '{}'}}\n",
            rx.url("/apply"),
            rx.url("/drift")
        ),
        None,
        None,
    );
    let s = Server::start(config).await;
    let (status, body) = post(
        &format!("{}/events/env0", s.url),
        payload("env0-deploy-failed.json"),
    )
    .await;
    assert_eq!(
        (status, body["deliveries"].as_u64()),
        (202, Some(1)),
        "{body}"
    );
    // A repeat of the same env0 event is recognised, as env0's drift events are.
    let (status, again) = post(
        &format!("{}/events/env0", s.url),
        payload("env0-deploy-failed.json"),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert!(eventually(Duration::from_secs(5), async || rx.requests().len() == 1).await);
    let got = rx.requests()[0].json();
    assert_eq!(rx.requests()[0].uri, "/apply");
    assert_eq!(got["Success"], false);
    assert_eq!(got["Workspace"], "payments-prod");
    assert_eq!(got["ProjectName"], "payments-prod");
    assert_eq!(got["Directory"], "terraform/payments");
    assert_eq!(got["Repo"]["FullName"], "acme/payments-infra");
    assert_eq!(got["Pull"]["BaseBranch"], "main");
    assert!(
        got["Pull"]["URL"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://app.env0.com/")),
        "{got}"
    );
    let result = got["ResultMessage"]
        .as_str()
        .expect("the error is the result");
    assert!(
        result.contains("db.t2.micro is not supported") && result.ends_with("terraform apply"),
        "{result}"
    );
    let raw = String::from_utf8(payload("env0-deploy-failed.json")).expect("utf-8");
    assert!(raw.contains("ghs_example"), "the fixture carries a token");
    assert!(
        !String::from_utf8_lossy(&rx.requests()[0].body).contains("ghs_example"),
        "no env0 token relayed"
    );
    // Other env0 types are still acknowledged and not sent.
    let (status, body) = post(
        &format!("{}/events/env0", s.url),
        br#"{"type": "com.env0.budget.exceeded", "id": "b1", "data": {}}"#.to_vec(),
    )
    .await;
    assert_eq!(
        (status, body["ignored"].as_str()),
        (202, Some("com.env0.budget.exceeded"))
    );
}

#[tokio::test]
async fn a_ten_thousand_line_result_fits_slack_and_reaches_http_whole() {
    let rx = Receiver::start(Reply::Status(200, "")).await;
    let slack = fake_slack().await;
    let mut config = load_ok(
        &format!(
            "webhooks:\n  - {{event: apply, kind: http, url: '{}'}}\n  - {{event: apply, kind: slack, channel: C1}}\n",
            rx.url("/apply")
        ),
        Some(TOKEN),
        None,
    );
    config.slack_api_url = slack.api_url();
    let s = Server::start(config).await;
    let mut run: Value = serde_json::from_slice(&payload("apply-success.json")).expect("fixture");
    let message: String = (1..=10_000)
        .map(|i| {
            format!(
                "\u{1b}[1maws_s3_object.o[{i}]: Creation complete after 1s [id=o-{i}]\u{1b}[0m\n"
            )
        })
        .collect();
    run["ResultMessage"] = Value::String(message.clone());
    let (status, body) = post(
        &format!("{}/events/apply", s.url),
        serde_json::to_vec(&run).expect("json"),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert!(
        eventually(Duration::from_secs(10), async || rx.requests().len() == 1
            && slack.received().len() == 1)
        .await
    );
    assert_eq!(rx.requests()[0].json()["ResultMessage"], message.as_str());
    let post = &slack.received()[0].body;
    let fields = post["attachments"][0]["fields"].as_array().expect("fields");
    let result = fields
        .iter()
        .find(|f| f["title"] == "Result")
        .and_then(|f| f["value"].as_str())
        .expect("Result");
    assert!(
        result.contains("o[10000]") && !result.contains("o[9980]:"),
        "{result}"
    );
    assert!(result.lines().count() <= 22, "{result}");
    assert!(result.chars().count() < 3_000, "within a Slack section");
}

#[tokio::test]
async fn the_commands_know_plans_and_schedules() {
    let env = [
        ("SLACK_BOT_TOKEN", "xoxb-example"),
        ("ATLANTIS_API_SECRET", "atlantis-api-secret-cli"),
    ];
    let path = repo_file("examples/configs/ahead-of-atlantis.yaml");
    let p = path.to_str().expect("utf-8");
    let out = crate::support::herald(&["check", "--offline", "-c", p], &env).await;
    let text = crate::support::stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        crate::support::stderr(&out)
    );
    assert!(
        text.contains("4 webhooks (1 apply, 1 plan, 2 drift), 2 drift schedules (acme/infrastructure@main every 6h via http://atlantis:4141; acme/payments-infra@main cron \"30 6 * * 1-5\" (UTC) via http://atlantis:4141), stale after 1day 2h: OK"),
        "{text}"
    );
    assert!(!text.contains("atlantis-api-secret-cli"));
    // match: a plan, tested by all four filters.
    let out = crate::support::herald(
        &[
            "match",
            "--event",
            "plan",
            "--workspace",
            "default",
            "--branch",
            "main",
            "--project",
            "billing-service",
            "--directory",
            "environments/production/billing",
            "-c",
            p,
        ],
        &env,
    )
    .await;
    let text = crate::support::stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("service-plans slack"), "{text}");
    assert!(text.contains("(plan): MATCH"), "{text}");
    assert!(
        text.contains("project-regex \".*-service\" matched project \"billing-service\""),
        "{text}"
    );
    assert!(text.contains("applies http"), "{text}");
    assert!(text.contains("this webhook is for apply events"), "{text}");
    // fire --dry-run: the bundled plan fixture, as the Slack webhook would get it.
    let out = crate::support::herald(
        &[
            "fire",
            "--event",
            "plan",
            "--webhook",
            "service-plans",
            "--dry-run",
            "--json",
            "-c",
            p,
        ],
        &env,
    )
    .await;
    let text = crate::support::stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        crate::support::stderr(&out)
    );
    assert!(text.contains("Plan failed for"), "{text}");
    assert!(text.contains("\"Result\""), "{text}");
    assert!(
        !text.contains("Description"),
        "slack-include-body: false: {text}"
    );
}
