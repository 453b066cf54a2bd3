//! Message templates (issue 15, item 3): MiniJinja with strict undefined, a fuel budget and
//! no loader; the body any kind sends; errors located in the template; `herald check` and
//! `herald render` agree with what is sent.

use herald::fake::teams::FakeTeams;
use herald::notify::Outcome;
use proptest::prelude::*;

use crate::support::{
    TOKEN, apply_fixture, config_file, drift_fixture, fake_slack, fire, herald, load, load_ok,
    repo_file, stderr, stdout,
};

fn with_template(kind_keys: &str, event: &str, template: &str) -> herald::config::Config {
    let indented: String = template.lines().map(|l| format!("      {l}\n")).collect();
    load_ok(
        &format!("webhooks:\n  - event: {event}\n    {kind_keys}\n    template: |\n{indented}"),
        Some(TOKEN),
        None,
    )
}

const SLACK_TEXT: &str = r#"{"text": {{ ("*" ~ event.repo ~ "* " ~ (event.summary | slack_escape)) | json }},
 "unfurl_links": false}"#;

#[tokio::test]
async fn a_template_renders_the_body_and_the_kind_adds_what_it_must() {
    let slack = fake_slack().await;
    let mut c = with_template("kind: slack\n    channel: C42", "apply", SLACK_TEXT);
    c.slack_api_url = slack.api_url();
    let reports = fire(c, &apply_fixture()).await;
    assert_eq!(reports[0].outcome, Outcome::Delivered, "{reports:?}");
    let got = &slack.received()[0];
    assert_eq!(got.channel, "C42", "the webhook's channel is added");
    assert_eq!(
        got.body["text"],
        "*runatlantis/atlantis* Apply succeeded for runatlantis/atlantis: dir /, workspace production, PR #1"
    );

    // herald's ids are the journal's: the event's and the delivery's.
    let rx = crate::support::Receiver::start(crate::support::Reply::Status(200, "")).await;
    let c = with_template(
        &format!("kind: http\n    url: '{}'", rx.url("/t")),
        "apply",
        r#"{"event": {{ herald.event_id | json }}, "delivery": {{ herald.delivery_id | json }}}"#,
    );
    let reports = fire(c, &apply_fixture()).await;
    let got = rx.requests()[0].json();
    assert_eq!(got["delivery"], reports[0].delivery_id.as_str());
    assert_eq!(got["event"].as_str().map(str::len), Some(36), "{got}");

    // A Teams template may render the card alone: it is sent in its envelope.
    let teams = FakeTeams::start().await.expect("fake teams");
    let card = r#"{"type": "AdaptiveCard", "version": "1.4", "body": [
  {"type": "TextBlock", "text": {{ event.summary | json }}},
  {% for p in event.drift.projects if p.has_drift %}{"type": "TextBlock", "text": {{ (p.project_name ~ ": +" ~ p.to_add) | json }}}{{ "," if not loop.last }}{% endfor %}
]}"#;
    let c = with_template(
        &format!("kind: msteams\n    url: '{}'", teams.url()),
        "drift",
        card,
    );
    let reports = fire(c, &drift_fixture(1, 2)).await;
    assert_eq!(reports[0].outcome, Outcome::Delivered, "{reports:?}");
    let body = &teams.posts()[0].body;
    assert_eq!(body["type"], "message");
    assert_eq!(
        body["attachments"][0]["content"]["body"][1]["text"],
        "project1: +1"
    );
}

#[tokio::test]
async fn what_cannot_be_sent_is_an_attempt_that_fails_clearly() {
    let slack = fake_slack().await;
    for (template, said) in [
        ("{{ event.nope }}", "undefined"),
        (
            "not json {{ event.repo }}",
            "the template's output is not json",
        ),
        (
            "{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}",
            "ran out of fuel",
        ),
        (
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
            "recursion",
        ),
    ] {
        let mut c = with_template("kind: slack\n    channel: C1", "apply", template);
        c.slack_api_url = slack.api_url();
        let reports = fire(c, &apply_fixture()).await;
        assert_eq!(reports[0].outcome, Outcome::Failed, "{template}");
        let error = reports[0].attempts[0].error.clone().unwrap_or_default();
        assert!(error.to_lowercase().contains(said), "{template}: {error}");
    }
    assert!(slack.received().is_empty(), "nothing malformed was posted");
}

#[tokio::test]
async fn check_locates_template_errors_and_render_prints_the_body() {
    // A syntax error is FILE:LINE:COL inside the template block.
    let (_dir, path) = config_file(
        "webhooks:\n  - name: chat\n    event: apply\n    kind: http\n    url: https://x.example/h\n    template: |\n      {\"text\": {{ event.repo | json }},\n       \"oops\": {% if %}}\n",
    );
    let out = herald(
        &["check", "--offline", "-c", path.to_str().expect("utf-8")],
        &[],
    )
    .await;
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(":8:"),
        "the template's second line is the file's eighth: {text}"
    );
    assert!(text.contains("error: template: syntax error"), "{text}");

    // A template-file's error points into that file.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("card.j2"),
        "{\n  \"text\": {{ event.repo | json }}\n  {{ }\n}\n",
    )
    .expect("template");
    let cfg = dir.path().join("herald.yaml");
    std::fs::write(
        &cfg,
        "webhooks:\n  - {event: apply, kind: http, url: 'https://x.example/h', template-file: card.j2}\n",
    )
    .expect("config");
    let out = herald(
        &["check", "--offline", "-c", cfg.to_str().expect("utf-8")],
        &[],
    )
    .await;
    let text = stdout(&out);
    assert!(text.contains("card.j2:3:"), "{text}");

    // A template that compiles but fails on a real event is found by check.
    let (_dir, path) = config_file(
        "webhooks:\n  - name: drifty\n    event: drift\n    kind: http\n    url: https://x.example/h\n    template: '{\"n\": {{ event.pr.num }}}'\n",
    );
    let out = herald(
        &["check", "--offline", "-c", path.to_str().expect("utf-8")],
        &[],
    )
    .await;
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("webhook drifty on drift-detected.json")
            || text.contains("on drift-clean.json"),
        "{text}"
    );

    // render prints exactly what is sent.
    let (_dir, path) = config_file(&format!(
        "webhooks:\n  - name: chat\n    event: apply\n    kind: http\n    url: https://x.example/h\n    template: '{}'\n",
        r#"{"who": {{ event.user | json }}, "ok": {{ event.success | tojson }}}"#
    ));
    let payload = repo_file("examples/payloads/apply-failure.json");
    let out = herald(
        &[
            "render",
            "--webhook",
            "chat",
            "--payload",
            payload.to_str().expect("utf-8"),
            "-c",
            path.to_str().expect("utf-8"),
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let body: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(body, serde_json::json!({"who": "hanako", "ok": false}));
}

#[test]
fn the_context_holds_no_secret() {
    let (c, _) = load(
        "slack-token: xoxb-secret-in-context-test\nwebhooks:\n  - {event: drift, kind: pagerduty, routing-key: R0UT1NGKEY0123456789abcdefABCDEF, template: '{\"event_action\": \"trigger\", \"all\": {{ raw | tojson }}, \"w\": {{ webhook | tojson }}, \"h\": {{ herald | tojson }}}'}\n",
        None,
        None,
    )
    .expect("loads");
    let w = &c.webhooks[0];
    let request = herald::notify::prepare(
        &c,
        w,
        &drift_fixture(1, 2),
        herald::notify::Ids {
            event: "e1",
            delivery: "d1",
            thread: None,
        },
        0,
    )
    .expect("renders");
    let body = String::from_utf8(request.shown().body.to_string().into_bytes()).expect("utf-8");
    assert!(!body.contains("xoxb-secret"), "{body}");
    assert!(body.contains(r#""event_id":"e1""#), "{body}");
    // herald adds the routing key itself (masked when shown).
    assert!(body.contains("\"routing_key\""), "{body}");
    assert!(!body.contains("R0UT1NGKEY0123456789abcdefABCDEF"), "{body}");
}

/// The templates every event is rendered through in the property test.
const SET: [&str; 5] = [
    SLACK_TEXT,
    r#"{"s": {{ event.summary | truncate_graphemes(10) | json }}, "r": {{ (event.result_message or "") | strip_ansi | last_lines(3) | json }}}"#,
    r#"{"m": {{ event.repo | md_escape | json }}, "d": {{ (event.drift.with_drift if event.drift else 0) | tojson }}}"#,
    r#"{% for k, v in raw | items %}{{ k }}{% endfor %}"#,
    r#"{"loop": "{% for i in range(100) %}{% for j in range(100) %}{{ i * j }}{% endfor %}{% endfor %}"}"#,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_event_through_any_template_renders_or_fails_cleanly(
        workspace in "\\PC{0,40}",
        project in "\\PC{0,20}",
        which in 0usize..SET.len(),
        drift in any::<bool>(),
    ) {
        let kind_keys = "kind: http\n    url: https://x.example/h";
        let c = with_template(kind_keys, if drift { "drift" } else { "apply" }, SET[which]);
        let event = if drift {
            drift_fixture(1, 3)
        } else {
            let mut a: herald::event::ApplyResult = serde_json::from_str(
                r#"{"Workspace":"","Pull":{},"Success":true}"#).expect("apply");
            a.workspace = workspace;
            a.project_name = project;
            a.result_message = Some("\u{1b}[31mError\u{1b}[0m\nline 2\nline 3\nline 4".into());
            herald::event::Event::Apply(herald::event::Relayed::new(a))
        };
        match herald::notify::prepare(&c, &c.webhooks[0], &event, herald::notify::Ids::SHOWN, 0) {
            Ok(r) => prop_assert!(r.shown().body.is_object() || r.shown().body.is_array() || r.shown().body.is_string()),
            Err(e) => prop_assert!(e.to_string().starts_with("the webhook's template: ")),
        }
    }
}

#[test]
fn rendering_is_the_same_every_time() {
    let c = with_template(
        "kind: http\n    url: https://x.example/h",
        "apply",
        SLACK_TEXT,
    );
    let t = c.webhooks[0].template.clone().expect("template");
    let event = apply_fixture();
    let cx = herald::notify::template::context(&event, &c.webhooks[0], herald::notify::Ids::SHOWN);
    // The same event renders to the same bytes: check, render and sending agree.
    let first = t.render(&cx).expect("renders");
    for _ in 0..100 {
        assert_eq!(t.render(&cx).expect("renders"), first);
    }
}
