//! Atlantis' webhook-builder tests (reference §7, #1–#11, #23, #34–#43) and the
//! `--webhook-http-headers` tests, as config loading in herald, plus herald's own checks.

use herald::config::{EventKind, Location, Severity, Target};

use crate::support::{load, load_errors, load_ok};

const VALID_SLACK: &str = "webhooks:\n  - event: apply\n    kind: slack\n    channel: validchannel\n    workspace-regex: .*\n    branch-regex: .*\n";

fn one(event: &str, kind: &str, extra: &str) -> String {
    format!("webhooks:\n  - event: {event}\n    kind: {kind}\n{extra}")
}

#[test]
fn t01_t02_t03_invalid_regexes_are_reported_with_the_go_prefix() {
    for extra in [
        "    channel: c\n    workspace-regex: \"(\"\n",
        "    channel: c\n    branch-regex: \"(\"\n",
        "    channel: c\n    workspace-regex: \"(\"\n    branch-regex: \"(\"\n",
    ] {
        let errors = load_errors(&one("apply", "slack", extra), Some("xoxb-t"));
        assert!(!errors.is_empty());
        assert!(
            errors.iter().all(|e| e.contains("error parsing regexp")),
            "{errors:?}"
        );
    }
    // Both bad: both reported, not just the first.
    let errors = load_errors(
        &one(
            "apply",
            "slack",
            "    channel: c\n    workspace-regex: \"(\"\n    branch-regex: \"[\"\n",
        ),
        Some("t"),
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
}

#[test]
fn t04_drift_entries_skip_regex_parsing() {
    let c = load_ok(
        &one(
            "drift",
            "http",
            "    url: https://x.example/h\n    workspace-regex: \"(\"\n    branch-regex: \"(\"\n",
        ),
        None,
        None,
    );
    assert_eq!(c.webhooks.len(), 1);
    assert_eq!(
        c.webhooks
            .iter()
            .filter(|w| w.event == EventKind::Apply)
            .count(),
        0
    );
    // herald says the keys do nothing, as a warning.
    let (_, report) = load(
        &one(
            "drift",
            "http",
            "    url: https://x.example/h\n    workspace-regex: \"(\"\n",
        ),
        None,
        None,
    )
    .expect("loads");
    assert!(report.diagnostics.iter().any(
        |d| d.severity == Severity::Warning && d.message.contains("ignored on drift webhooks")
    ));
}

#[test]
fn t05_t07_missing_event_or_kind() {
    let exact = "must specify \"kind\" and \"event\" keys for webhooks";
    assert_eq!(
        load_errors(
            "webhooks:\n  - kind: http\n    url: https://x.example\n",
            None
        ),
        vec![exact]
    );
    assert_eq!(
        load_errors(
            "webhooks:\n  - event: apply\n    url: https://x.example\n",
            None
        ),
        vec![exact]
    );
    // An empty kind on a drift entry fails with the apply-side message, as in Atlantis.
    assert_eq!(
        load_errors("webhooks:\n  - event: drift\n    kind: \"\"\n", None),
        vec![exact]
    );
}

#[test]
fn t06_unsupported_event() {
    assert_eq!(
        load_errors(
            &one("badevent", "http", "    url: https://x.example\n"),
            None
        ),
        vec![
            "\"event: badevent\" not supported. Only \"event: apply\" and \"event: drift\" are supported"
        ]
    );
}

/// Atlantis v0.47 says `Only "kind: slack" and "kind: http" are supported right now`; with
/// more kinds herald lists them all, in the words of Atlantis' PR #5672 (which adds msteams).
#[test]
fn t08_unsupported_kind() {
    assert_eq!(
        load_errors(&one("apply", "badkind", ""), None),
        vec![
            "\"kind: badkind\" not supported. Only \"kind: slack\", \"kind: http\", \"kind: msteams\", \"kind: discord\", \"kind: googlechat\", and \"kind: pagerduty\" are supported right now"
        ]
    );
}

#[test]
fn t09_no_entries() {
    assert!(load_ok("", None, None).webhooks.is_empty());
    assert!(
        load_ok("webhooks: []\n", Some(""), None)
            .webhooks
            .is_empty()
    );
    assert!(load_ok("port: 4141\n", None, None).webhooks.is_empty());
}

#[test]
fn t10_t11_valid_slack_configs() {
    let c = load_ok(VALID_SLACK, Some("xoxb-t"), None);
    assert_eq!(c.webhooks.len(), 1);
    assert_eq!(
        c.webhooks[0].target,
        Target::new(herald::notify::slack::Channel::new("validchannel"))
    );
    let body: String = VALID_SLACK
        .lines()
        .skip(1)
        .map(|l| format!("{l}\n"))
        .collect();
    let c = load_ok(
        &format!("webhooks:\n{}", body.repeat(5)),
        Some("xoxb-t"),
        None,
    );
    assert_eq!(c.webhooks.len(), 5);
}

#[test]
fn t23_empty_token_counts_as_unset() {
    let errors = load_errors(VALID_SLACK, Some(""));
    assert_eq!(
        errors,
        vec!["must specify top-level \"slack-token\" if using a webhook of \"kind: slack\""]
    );
    assert!(load(VALID_SLACK, Some("random"), None).is_ok());
}

#[test]
fn slack_apply_entry_needs_a_channel() {
    assert_eq!(
        load_errors(&one("apply", "slack", ""), Some("t")),
        vec!["must specify \"channel\" if using a webhook of \"kind: slack\""]
    );
}

#[test]
fn http_apply_entry_needs_a_url() {
    assert_eq!(
        load_errors(&one("apply", "http", ""), None),
        vec!["must specify \"url\" if using a webhook of \"kind: http\""]
    );
}

#[test]
fn t34_t35_drift_builder_with_no_or_only_apply_entries() {
    assert!(load_ok("webhooks:\n", None, None).webhooks.is_empty());
    let c = load_ok(VALID_SLACK, Some("t"), None);
    assert_eq!(
        c.webhooks
            .iter()
            .filter(|w| w.event == EventKind::Drift)
            .count(),
        0
    );
}

#[test]
fn t36_to_t42_drift_entries() {
    let c = load_ok(
        &one("drift", "slack", "    channel: drift-alerts\n"),
        Some("t"),
        None,
    );
    assert_eq!(
        c.webhooks[0].target,
        Target::new(herald::notify::slack::Channel::new("drift-alerts"))
    );
    assert_eq!(
        load_errors(&one("drift", "slack", "    channel: drift-alerts\n"), None),
        vec!["must specify top-level \"slack-token\" if using a drift webhook of \"kind: slack\""]
    );
    assert_eq!(
        load_errors(&one("drift", "slack", ""), Some("t")),
        vec!["must specify \"channel\" for drift webhook of \"kind: slack\""]
    );
    assert_eq!(
        load_ok(
            &one("drift", "http", "    url: https://x.example\n"),
            None,
            None
        )
        .webhooks
        .len(),
        1
    );
    assert_eq!(
        load_errors(&one("drift", "http", ""), None),
        vec!["must specify \"url\" for drift webhook of \"kind: http\""]
    );
    assert_eq!(
        load_errors(&one("drift", "unsupported", ""), None),
        vec![
            "\"kind: unsupported\" not supported for drift webhooks. Only \"kind: slack\", \"kind: http\", \"kind: msteams\", \"kind: discord\", \"kind: googlechat\", and \"kind: pagerduty\" are supported"
        ]
    );
    let errors = load_errors("webhooks:\n  - event: drift\n", None);
    assert!(errors[0].contains("kind"), "{errors:?}");
}

#[test]
fn t43_mixed_configs() {
    let text = "webhooks:\n  - {event: apply, kind: slack, channel: a}\n  - {event: drift, kind: slack, channel: b}\n  - {event: drift, kind: http, url: 'https://x.example'}\n";
    let c = load_ok(text, Some("t"), None);
    assert_eq!(
        c.webhooks
            .iter()
            .filter(|w| w.event == EventKind::Drift)
            .count(),
        2
    );
}

#[test]
fn header_flag_cases_from_atlantis_user_config_tests() {
    let c = load_ok("", None, Some(""));
    assert!(c.http_headers.is_empty());
    let c = load_ok(
        "",
        None,
        Some(r#"{"Authorization":"Bearer some-token","X-Custom-Header":["value1","value2"]}"#),
    );
    assert_eq!(c.http_headers.len(), 2);
    assert_eq!(c.http_headers[1].1, vec!["value1", "value2"]);
    let err = |h: &str| match load("", None, Some(h)) {
        Err(r) => r.diagnostics[0].message.clone(),
        Ok(_) => panic!("{h} should fail"),
    };
    assert_eq!(
        err(r#"{"X-Custom-Header":true}"#),
        "invalid --webhook-http-headers: expected string or array, got bool"
    );
    assert_eq!(
        err(r#"{"X-Custom-Header":[1, 2]}"#),
        "invalid --webhook-http-headers: expected string array element, got float64"
    );
    assert_eq!(
        err(r#"["a"]"#),
        "invalid --webhook-http-headers: json: cannot unmarshal array into Go value of type map[string]interface {}"
    );
    // The flag's location is named, since it has no line.
    let r = load("", None, Some("{")).expect_err("bad");
    assert_eq!(
        r.diagnostics[0].location,
        Location::Flag("--webhook-http-headers".into())
    );
}

#[test]
fn file_keys_and_flag_precedence() {
    let text = "slack-token: xoxb-file\nwebhook-http-headers: '{\"X-A\": \"file\"}'\n";
    let c = load_ok(text, None, None);
    assert_eq!(
        c.slack_token.as_ref().map(|t| t.expose().to_string()),
        Some("xoxb-file".into())
    );
    assert_eq!(
        c.http_headers,
        vec![("X-A".to_string(), vec!["file".to_string()])]
    );
    let c = load_ok(text, Some("xoxb-flag"), Some(r#"{"X-A": "flag"}"#));
    assert_eq!(
        c.slack_token.as_ref().map(|t| t.expose().to_string()),
        Some("xoxb-flag".into())
    );
    assert_eq!(c.http_headers[0].1, vec!["flag"]);
    // A YAML mapping works in the file too.
    let c = load_ok("webhook-http-headers:\n  X-B: [one, two]\n", None, None);
    assert_eq!(c.http_headers[0].1, vec!["one", "two"]);
}

#[test]
fn env_expansion_and_unset_variables() {
    let c = load_ok("slack-token: ${TEST_TOKEN}\n", None, None);
    assert_eq!(
        c.slack_token.as_ref().map(|t| t.expose().to_string()),
        Some("xoxb-from-env".into())
    );
    let r = load("slack-token: ${NOPE_NOT_SET}\n", None, None).expect_err("unset var");
    assert_eq!(
        r.diagnostics[0].message,
        "environment variable NOPE_NOT_SET is not set (used as ${NOPE_NOT_SET})"
    );
    assert_eq!(
        r.diagnostics[0].location,
        Location::File(herald::config::yaml_pos::Pos { line: 1, col: 14 })
    );
}

#[test]
fn every_problem_is_reported_at_once_with_its_position() {
    let text = "\
webhooks:
  - event: apply
    kind: slack
    channel: c
    workspace-regex: \"(prod\"
  - event: deploy
    kind: http
  - kind: http
  - event: apply
    kind: teams
  - event: drift
    kind: http
";
    let r = load(text, Some("t"), None).expect_err("bad");
    let shown = r.to_string();
    let lines: Vec<&str> = shown.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(lines.len(), 5, "{shown}");
    assert!(
        lines[0]
            .starts_with("test.yaml:5:22: error: error parsing regexp: missing closing ): `(prod`"),
        "{shown}"
    );
    assert!(
        shown.contains("    (prod\n    ^\n"),
        "caret under the position:\n{shown}"
    );
    assert!(
        lines[1].starts_with("test.yaml:6:12: error: \"event: deploy\" not supported"),
        "{shown}"
    );
    assert!(
        lines[2].starts_with("test.yaml:8:5: error: must specify \"kind\" and \"event\""),
        "{shown}"
    );
    assert!(
        lines[3].starts_with("test.yaml:10:11: error: \"kind: teams\""),
        "{shown}"
    );
    assert!(
        lines[4].starts_with("test.yaml:11:5: error: must specify \"url\" for drift webhook"),
        "{shown}"
    );
}

#[test]
fn caret_points_inside_the_pattern() {
    let r = load(
        &one(
            "apply",
            "http",
            "    url: https://x.example\n    branch-regex: 'main|(rel'\n",
        ),
        None,
        None,
    )
    .expect_err("bad");
    assert_eq!(
        r.diagnostics[0].notes,
        vec!["main|(rel".to_string(), "     ^".to_string()]
    );
}

#[test]
fn helm_values_are_read_with_positions_in_the_outer_file() {
    let text = "image:\n  tag: v0.47.0\nconfig: |\n  ---\n  webhooks:\n    - event: apply\n      kind: http\n      url: https://x.example\n      branch-regex: '[a'\n";
    let r = load(text, None, None).expect_err("bad regex");
    let d = &r.diagnostics[0];
    assert_eq!(
        d.location,
        Location::File(herald::config::yaml_pos::Pos { line: 9, col: 21 }),
        "{r}"
    );
    let ok = text.replace("'[a'", "'^main$'");
    assert_eq!(load_ok(&ok, None, None).webhooks.len(), 1);
}

#[test]
fn warnings_for_unanchored_names_unknown_keys_and_wrong_files() {
    let (_, r) = load(
        &one(
            "apply",
            "http",
            "    url: https://x.example\n    workspace-regex: prod\n    branch_regex: main\n",
        ),
        None,
        None,
    )
    .expect("loads");
    let warnings: Vec<&str> = r
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| d.message.as_str())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("\"prod\" also matches \"preprod\"") && w.contains("^prod$")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("did you mean \"branch-regex\"")),
        "{warnings:?}"
    );
    // Anchored patterns and real regexes do not warn.
    let (_, r) = load(
        &one(
            "apply",
            "http",
            "    url: https://x.example\n    workspace-regex: ^prod$\n",
        ),
        None,
        None,
    )
    .expect("loads");
    assert_eq!(r.warnings(), 0, "{r}");

    let (_, r) = load("repos:\n  - id: /.*/\nwebhooks: []\n", None, None).expect("loads");
    assert!(r.diagnostics[0].message.contains("repos.yaml"), "{r}");
    let (_, r) = load("version: 3\nprojects:\n  - dir: .\n", None, None).expect("loads");
    assert!(r.diagnostics[0].message.contains("atlantis.yaml"), "{r}");
}

#[test]
fn herald_extensions_load() {
    let text = "webhooks:\n  - name: audit\n    event: apply\n    kind: http\n    url: https://x.example\n    headers: {X-T: [a, b]}\n    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n    timeout: 1500ms\n    retry: {max-attempts: 3, schedule: [1s, 2s]}\n  - event: drift\n    kind: slack\n    url: https://hooks.slack.com/services/T/B/X\n";
    let c = load_ok(text, None, None);
    let w = &c.webhooks[0];
    assert_eq!(w.name.as_deref(), Some("audit"));
    assert_eq!(w.timeout, std::time::Duration::from_millis(1500));
    assert_eq!(w.retry.max_attempts, 3);
    assert_eq!(w.headers[0].1, vec!["a", "b"]);
    assert_eq!(
        c.webhooks[1].target.describe(),
        "Slack incoming webhook https://hooks.slack.com/services/<redacted>"
    );
    assert_eq!(c.select("audit").map(|w| w.index), Some(0));
    assert_eq!(c.select("1").map(|w| w.index), Some(1));
    // No secret shows in the webhook's display form.
    assert_eq!(
        c.webhooks[1].target.display(),
        "https://hooks.slack.com/services/<redacted>"
    );

    let errors = load_errors(
        &one(
            "apply",
            "http",
            "    url: https://x.example\n    timeout: soon\n    retry: {max-attempts: 0}\n",
        ),
        None,
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    let errors = load_errors(
        "webhooks:\n  - {name: a, event: drift, kind: http, url: 'https://x.example'}\n  - {name: a, event: drift, kind: http, url: 'https://y.example'}\n",
        None,
    );
    assert!(errors[0].contains("already used"), "{errors:?}");
    let errors = load_errors(&one("apply", "http", "    url: ftp://x.example\n"), None);
    assert!(errors[0].contains("http:// or https://"), "{errors:?}");
}

#[test]
fn syntax_errors_are_located() {
    let r = load("webhooks:\n  - event: apply\n   kind: [\n", None, None).expect_err("bad yaml");
    assert!(r.diagnostics[0].message.starts_with("invalid YAML"), "{r}");
    assert!(
        matches!(r.diagnostics[0].location, Location::File(p) if p.line >= 2),
        "{r}"
    );
}

#[test]
fn yaml_merge_keys_are_resolved_as_atlantis_does() {
    let text = "\
hook-defaults: &defaults
  event: apply
  kind: http
  workspace-regex: ^prod
webhooks:
  - <<: *defaults
    url: http://127.0.0.1:9/a
  - <<: [*defaults]
    event: drift
    url: http://127.0.0.1:9/b
";
    let c = load_ok(text, None, None);
    assert_eq!(c.webhooks.len(), 2);
    assert_eq!(c.webhooks[0].event, EventKind::Apply);
    assert_eq!(c.webhooks[0].target.describe(), "POST http://127.0.0.1:9/a");
    assert_eq!(
        c.webhooks[1].event,
        EventKind::Drift,
        "an entry's own key wins"
    );

    // A problem in a merged value points where it is written: in the anchored mapping.
    let bad = text.replace("workspace-regex: ^prod", "workspace-regex: ^(prod");
    let report = load(&bad, None, None).expect_err("invalid");
    let error = report
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
        .expect("an error");
    assert_eq!(
        error.location,
        Location::File(herald::config::yaml_pos::Pos { line: 4, col: 20 }),
        "{report}"
    );
}
