//! `kind: msteams` (issue 15, item 1) against a fake Teams Workflows webhook that answers as
//! the real one does (202, empty body; 413 above 28 KB; a legacy "HTTP error 429" in a 200).

use std::time::Duration;

use herald::dispatch::Selection;
use herald::fake::teams::{FakeTeams, TeamsAnswer};
use herald::notify::Outcome;
use serde_json::{Value, json};

use crate::support::{apply_fixture, deliver, deliver_all, fire, load, load_errors, load_ok};

fn teams(url: &str, event: &str, extra: &str) -> herald::config::Config {
    load_ok(
        &format!("webhooks:\n  - {{event: {event}, kind: msteams, url: '{url}'{extra}}}\n"),
        None,
        None,
    )
}

#[test]
fn msteams_entries_are_checked_as_pr_5672_checks_them() {
    assert_eq!(
        load_errors("webhooks:\n  - {event: apply, kind: msteams}\n", None),
        ["must specify \"url\" if using a webhook of \"kind: msteams\""]
    );
    let warnings = |url: &str| {
        let (_, report) = load(
            &format!("webhooks:\n  - {{event: apply, kind: msteams, url: '{url}'}}\n"),
            None,
            None,
        )
        .expect("loads");
        report.to_string()
    };
    let real = "https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s3cr3t";
    assert!(!warnings(real).contains("warning"), "{}", warnings(real));
    let pa = "https://default0a1b.2c.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=x";
    assert!(!warnings(pa).contains("warning"), "{}", warnings(pa));
    let legacy = "https://acme.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456";
    assert!(
        warnings(legacy).contains("is not a Workflows (Power Automate) or Logic Apps host"),
        "{}",
        warnings(legacy)
    );
    let escaped = "https://prod-1.westus.logic.azure.com/workflows/a/triggers/manual/paths/invoke?api-version=1&amp;sig=x";
    assert!(
        warnings(escaped).contains("\"&amp;\""),
        "{}",
        warnings(escaped)
    );
    // The signature is a secret: masked wherever the webhook is shown.
    let c = teams(real, "apply", "");
    let shown = c.webhooks[0].target.display();
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(c.secret_values().iter().any(|s| s.contains("s3cr3t")));
}

#[tokio::test]
async fn an_apply_card_is_pr_5672s_and_202_is_accepted_by_power_automate() {
    let fake = FakeTeams::start().await.expect("fake teams");
    let reports = fire(teams(&fake.url(), "apply", ""), &apply_fixture()).await;
    assert_eq!(reports[0].outcome, Outcome::Delivered, "{reports:?}");
    assert!(
        reports[0].attempts[0]
            .hint
            .as_deref()
            .is_some_and(|h| h.starts_with("accepted by Power Automate")),
        "{reports:?}"
    );
    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].status, 202);
    assert_eq!(posts[0].content_type, "application/json; charset=utf-8");
    // Compact JSON, and exactly the card.
    assert!(!posts[0].bytes.contains(&b'\n'));
    insta::assert_snapshot!(
        serde_json::to_string_pretty(&posts[0].body).expect("json"),
        @r###"
    {
      "type": "message",
      "attachments": [
        {
          "contentType": "application/vnd.microsoft.card.adaptive",
          "contentUrl": null,
          "content": {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4",
            "msteams": {
              "width": "Full"
            },
            "body": [
              {
                "type": "TextBlock",
                "text": "Atlantis Apply succeeded",
                "weight": "Bolder",
                "size": "Medium",
                "wrap": true,
                "color": "Good"
              },
              {
                "type": "TextBlock",
                "text": "Repository: runatlantis/atlantis",
                "size": "Small",
                "wrap": true
              },
              {
                "type": "ColumnSet",
                "columns": [
                  {
                    "type": "Column",
                    "width": "auto",
                    "items": [
                      {
                        "type": "TextBlock",
                        "text": "**Workspace:**",
                        "weight": "Bolder"
                      }
                    ]
                  },
                  {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                      {
                        "type": "TextBlock",
                        "text": "production",
                        "wrap": true
                      }
                    ]
                  }
                ]
              },
              {
                "type": "ColumnSet",
                "columns": [
                  {
                    "type": "Column",
                    "width": "auto",
                    "items": [
                      {
                        "type": "TextBlock",
                        "text": "**Branch:**",
                        "weight": "Bolder"
                      }
                    ]
                  },
                  {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                      {
                        "type": "TextBlock",
                        "text": "main",
                        "wrap": true
                      }
                    ]
                  }
                ]
              },
              {
                "type": "ColumnSet",
                "columns": [
                  {
                    "type": "Column",
                    "width": "auto",
                    "items": [
                      {
                        "type": "TextBlock",
                        "text": "**User:**",
                        "weight": "Bolder"
                      }
                    ]
                  },
                  {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                      {
                        "type": "TextBlock",
                        "text": "lkysow",
                        "wrap": true
                      }
                    ]
                  }
                ]
              },
              {
                "type": "ColumnSet",
                "columns": [
                  {
                    "type": "Column",
                    "width": "auto",
                    "items": [
                      {
                        "type": "TextBlock",
                        "text": "**Directory:**",
                        "weight": "Bolder"
                      }
                    ]
                  },
                  {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                      {
                        "type": "TextBlock",
                        "text": "/",
                        "wrap": true
                      }
                    ]
                  }
                ]
              },
              {
                "type": "ColumnSet",
                "columns": [
                  {
                    "type": "Column",
                    "width": "auto",
                    "items": [
                      {
                        "type": "TextBlock",
                        "text": "**Pull Request:**",
                        "weight": "Bolder"
                      }
                    ]
                  },
                  {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                      {
                        "type": "TextBlock",
                        "text": "[#1](url)",
                        "wrap": true
                      }
                    ]
                  }
                ]
              }
            ]
          }
        }
      ]
    }
    "###
    );
}

#[tokio::test]
async fn throttling_is_retried_even_in_a_2xx_and_posts_are_paced_four_a_second() {
    let fake = FakeTeams::start().await.expect("fake teams");
    fake.push([
        TeamsAnswer::Throttled,
        TeamsAnswer::TooMany,
        TeamsAnswer::Unavailable,
    ]);
    let config = teams(
        &fake.url(),
        "apply",
        ", retry: {max-attempts: 4, schedule: [100ms]}",
    );
    let reports = deliver(config, &apply_fixture(), Selection::Route, None).await;
    let outcomes: Vec<Outcome> = reports[0].attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Retryable,
            Outcome::Retryable,
            Outcome::Retryable,
            Outcome::Delivered
        ]
    );
    assert!(
        reports[0].attempts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("throttled the post (\"HTTP error 429\")")),
        "{reports:?}"
    );
    // Retry-After: 1 was honoured before the attempt after the 429.
    let posts = fake.posts();
    assert!(posts[2].at - posts[1].at >= Duration::from_secs(1));

    // Eight at once to one workflow: never more than four in a second.
    let fake = FakeTeams::start().await.expect("fake teams");
    let events: Vec<_> = (0..8).map(|_| apply_fixture()).collect();
    let reports = deliver_all(
        teams(&fake.url(), "apply", ""),
        &events,
        Selection::Route,
        Some(1),
    )
    .await;
    assert!(reports.iter().all(|r| r.outcome == Outcome::Delivered));
    let mut at: Vec<_> = fake.posts().iter().map(|p| p.at).collect();
    at.sort();
    for pair in at.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(240),
            "posts {:?} apart",
            pair[1] - pair[0]
        );
    }
}

/// A drift report of `n` projects, every third drifted and every seventh errored.
fn big_drift(n: usize) -> herald::event::Event {
    let projects: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "project_name": format!("service-{i:05}"),
                "path": format!("terraform/services/service-{i:05}"),
                "workspace": if i % 2 == 0 { "default" } else { "production" },
                "has_drift": i % 3 == 0,
                "to_add": i % 5, "to_change": 1, "to_destroy": i % 2,
                "to_import": 0, "to_forget": 0,
                "summary": "Plan: 1 to add, 1 to change, 0 to destroy.",
                "error": if i % 7 == 0 { "running plan: the workspace is locked" } else { "" },
            })
        })
        .collect();
    let drifted = (0..n).filter(|i| i % 3 == 0).count();
    let body = json!({"repository": "acme/monorepo", "ref": "main", "detection_id": "d-16k",
        "projects_with_drift": drifted, "total_projects": n, "projects": projects});
    crate::support::received(&herald::event::Event::Drift(
        herald::event::parse_drift(body.to_string().as_bytes()).expect("parses"),
    ))
    .event
}

#[tokio::test]
async fn a_sixteen_thousand_project_drift_fits_teams_and_slack() {
    let event = big_drift(16_000);
    let fake = FakeTeams::start().await.expect("fake teams");
    let reports = fire(teams(&fake.url(), "drift", ""), &event).await;
    assert_eq!(reports[0].outcome, Outcome::Delivered, "{reports:?}");
    let post = &fake.posts()[0];
    assert_eq!(post.status, 202, "not refused as too large");
    assert!(
        post.bytes.len() <= herald::notify::msteams::MAX_BYTES,
        "{}",
        post.bytes.len()
    );
    let text = herald::notify::msteams::text_of(&post.body);
    assert_eq!(text[0], "Drift detected in acme/monorepo@main");
    assert!(
        text.iter().any(|l| l == "Projects with errors: 2286"),
        "{text:?}"
    );
    let more = text.last().expect("lines");
    assert!(
        more.starts_with("…and ") && more.ends_with(" more projects (see herald)"),
        "{more}"
    );
    // One row a project, drifted ones first (errored among them marked), as many as fit.
    let rows: Vec<&String> = text
        .iter()
        .filter(|l| l.starts_with("**service-"))
        .collect();
    assert!(rows.len() > 100, "{} rows", rows.len());
    assert_eq!(
        rows[0],
        "**service-00000** · terraform/services/service-00000 · ⚠ error: running plan: the workspace is locked"
    );
    let left: usize = more
        .trim_start_matches("…and ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert_eq!(rows.len() + left, 16_000);
    // A small report shows every project, with its counts.
    let small = fire(teams(&fake.url(), "drift", ""), &big_drift(30)).await;
    assert_eq!(small[0].outcome, Outcome::Delivered);
    let lines = herald::notify::msteams::text_of(&fake.posts()[1].body);
    assert!(
        lines.contains(
            &"**service-00003** · terraform/services/service-00003 (production) · +3 ~1 −1"
                .to_string()
        ),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("more projects")));

    // Slack: the message stays within what Slack takes (20 project fields, "…and K more").
    let m = herald::notify::slack::message(&event, Default::default());
    let body = herald::notify::slack::api_body("C1", &m).to_string();
    assert!(body.len() < 16_000, "{}", body.len());
    assert!(
        m.attachment.fields.len() <= 40,
        "{}",
        m.attachment.fields.len()
    );
}

#[tokio::test]
async fn drift_and_notices_preview_as_cards() {
    let config = teams(
        "https://prod-1.westus.logic.azure.com/workflows/a/triggers/manual/paths/invoke?sig=x",
        "drift",
        "",
    );
    let w = &config.webhooks[0];
    let (request, preview) =
        herald::notify::preview(&config, w, &crate::support::drift_fixture(1, 2), 60)
            .expect("preview");
    assert!(!request.url.contains("sig=x"), "{}", request.url);
    let herald::notify::kind::Preview::Message(r) = preview else {
        panic!("a card laid out")
    };
    assert_eq!(r.summary, "Drift detected in owner/repo@main");
    assert_eq!(r.bar, herald::notify::slack::render::Bar::Danger);
    // A drift-stale notice: its own card, amber.
    let notice = herald::intake::notice(&herald::event::DriftNotice {
        event: herald::event::NoticeKind::DriftStale,
        repository: "owner/repo".into(),
        git_ref: "main".into(),
        error: String::new(),
        status: None,
        atlantis: String::new(),
        last_report_at: Some("2026-12-05T08:00:00Z".into()),
        stale_after: Some("1day 2h".into()),
        silent_hours: Some(31),
    })
    .expect("a notice")
    .event;
    let (_, preview) = herald::notify::preview(&config, w, &notice, 60).expect("preview");
    let herald::notify::kind::Preview::Message(r) = preview else {
        panic!("a card laid out")
    };
    assert_eq!(
        r.summary,
        "No drift report for owner/repo@main for 31 h (expected within 1day 2h)"
    );
    assert_eq!(r.bar, herald::notify::slack::render::Bar::Other);
    assert!(
        r.lines
            .iter()
            .any(|l| l == "Last report: 2026-12-05T08:00:00Z"),
        "{r:?}"
    );
}
