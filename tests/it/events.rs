//! The example payloads and the three inbound shapes.

use herald::event::{self, Event, Shape};
use herald::intake::{self, Inbound, Received};

use crate::support::payload;

#[test]
fn every_fixture_is_detected_by_shape() {
    let kind = |name: &str| match intake::read(&payload(name), None).expect(name) {
        Inbound::Event(Received {
            event: Event::Apply(a),
            ..
        }) => format!("apply success={}", a.success),
        Inbound::Event(Received {
            event: Event::Plan(a),
            ..
        }) => format!("plan success={}", a.success),
        Inbound::Event(Received {
            event: Event::Drift(d),
            ..
        }) => format!(
            "drift {}/{} errored {}",
            d.result.projects_with_drift,
            d.result.total_projects,
            d.result.errored()
        ),
        Inbound::Event(Received {
            event: Event::Notice(n),
            ..
        }) => format!("notice {}", n.event.as_str()),
        Inbound::Env0Test { .. } => "env0 test".to_string(),
        Inbound::Ignored { kind } => kind,
    };
    assert_eq!(kind("apply-success.json"), "apply success=true");
    assert_eq!(kind("apply-failure.json"), "apply success=false");
    assert_eq!(kind("plan-success.json"), "plan success=true");
    assert_eq!(kind("plan-failure.json"), "plan success=false");
    assert_eq!(kind("drift-detected.json"), "drift 2/3 errored 0");
    assert_eq!(kind("drift-errored.json"), "drift 1/3 errored 1");
    assert_eq!(kind("drift-clean.json"), "drift 0/2 errored 0");
    assert_eq!(kind("env0-drift-detected.json"), "drift 1/1 errored 0");
    assert_eq!(kind("env0-test.json"), "env0 test");
}

#[test]
fn apply_failure_fixture_has_a_long_multibyte_description() {
    let a = event::parse_apply(&payload("apply-failure.json")).expect("parses");
    use unicode_segmentation::UnicodeSegmentation;
    assert!(a.pull.body.graphemes(true).count() > 1000);
    assert!(!a.pull.body.is_ascii());
}

#[test]
fn env0_drift_is_normalised_to_an_atlantis_shaped_report() {
    let Ok(Inbound::Event(Received {
        event: Event::Drift(d),
        ..
    })) = intake::read(&payload("env0-drift-detected.json"), Some(Shape::Env0))
    else {
        panic!("env0 drift")
    };
    let r = &d.result;
    assert_eq!(r.repository, "acme/payments-infra");
    assert_eq!(r.git_ref, "main");
    assert_eq!(r.detection_id, "7c1e9a4b-2d3f-4e5a-8b6c-9d0e1f2a3b4c");
    let p = &r.projects[0];
    assert_eq!((p.to_add, p.to_change, p.to_destroy), (1, 2, 1));
    assert_eq!(p.project_name, "payments-prod");
    assert_eq!(p.path, "terraform/payments");
    assert!(p.has_drift);
    let e = d.env0.as_ref().expect("env0 context");
    assert_eq!(e.environment, "payments-prod");
    assert_eq!(e.project, "Payments");
    assert_eq!(e.organization, "Acme Corp");
    assert!(
        e.url
            .ends_with("/deployments/0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d")
    );
    assert_eq!(e.drift_status, "DRIFTED");
    assert!(e.scheduled);
    assert_eq!(
        e.cause,
        "2 unapplied commits (latest by hanako@acme.example 4b825dc)"
    );
    let actions: Vec<&str> = e.resources.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["create", "delete", "update", "update"]);
    // The tokens in the payload are never kept.
    let kept = serde_json::to_string(&d).expect("json");
    for secret in [
        "eyJhbGciOiJSUzI1NiIs",
        "ghs_exampleVcsAccessToken",
        "format_version",
        "example-sensitive-value",
    ] {
        assert!(!kept.contains(secret), "{secret} kept");
    }
}

#[test]
fn scrubbed_env0_body_keeps_no_token() {
    let mut v: serde_json::Value =
        serde_json::from_slice(&payload("env0-drift-detected.json")).expect("json");
    event::env0::scrub(&mut v);
    let s = v.to_string();
    for secret in [
        "eyJhbGciOiJSUzI1NiIs",
        "ghs_exampleVcsAccessToken",
        "tfPlanJson",
        "example-sensitive-value",
        "443, 22",
    ] {
        assert!(!s.contains(secret), "{secret} left after scrub");
    }
    assert!(s.contains("payments-prod"));
}

#[test]
fn bad_bodies_get_clear_errors() {
    let e = intake::read(b"not json", None).expect_err("bad");
    assert!(e.message.starts_with("invalid JSON"), "{e}");
    let e = intake::read(br#"{"hello": 1}"#, None).expect_err("unknown shape");
    assert_eq!(e.message, "unknown event shape");
    assert!(e.detail.contains("an Atlantis apply or plan result"), "{e}");
    assert!(e.detail.contains("/events/plan"), "{e}");
    let e = event::parse_drift(br#"{"ref": "main"}"#).expect_err("missing");
    assert!(e.message.contains("repository"), "{e}");
    let e = intake::read(
        br#"{"type": "com.env0.drift.detected", "data": null}"#,
        Some(Shape::Env0),
    )
    .expect_err("no data");
    assert!(e.message.contains("data"), "{e}");
}
