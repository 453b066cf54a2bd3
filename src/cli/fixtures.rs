//! The sample payloads of `examples/payloads/`, built into the binary so `herald fire`
//! works from any directory.

/// An Atlantis apply that succeeded.
pub const APPLY_SUCCESS: &str = include_str!("../../examples/payloads/apply-success.json");
/// An Atlantis plan that failed, with a long coloured `ResultMessage`.
pub const PLAN_FAILURE: &str = include_str!("../../examples/payloads/plan-failure.json");
/// An Atlantis drift report with drift.
pub const DRIFT: &str = include_str!("../../examples/payloads/drift-detected.json");
/// An env0 `com.env0.drift.detected` webhook.
pub const ENV0_DRIFT: &str = include_str!("../../examples/payloads/env0-drift-detected.json");

/// Every bundled payload, for the console's test-fire: (file name, JSON).
#[cfg(feature = "tui")]
pub const ALL: [(&str, &str); 9] = [
    ("apply-success.json", APPLY_SUCCESS),
    (
        "apply-failure.json",
        include_str!("../../examples/payloads/apply-failure.json"),
    ),
    (
        "plan-success.json",
        include_str!("../../examples/payloads/plan-success.json"),
    ),
    ("plan-failure.json", PLAN_FAILURE),
    ("drift-detected.json", DRIFT),
    (
        "drift-clean.json",
        include_str!("../../examples/payloads/drift-clean.json"),
    ),
    (
        "drift-errored.json",
        include_str!("../../examples/payloads/drift-errored.json"),
    ),
    ("env0-drift-detected.json", ENV0_DRIFT),
    (
        "env0-test.json",
        include_str!("../../examples/payloads/env0-test.json"),
    ),
];

/// The bundled payloads a webhook of `kind` may get, for `herald check` to render its
/// template against: (file name, JSON).
pub fn of_kind(kind: herald::config::EventKind) -> Vec<(&'static str, &'static str)> {
    use herald::config::EventKind;
    match kind {
        EventKind::Apply => vec![
            ("apply-success.json", APPLY_SUCCESS),
            (
                "apply-failure.json",
                include_str!("../../examples/payloads/apply-failure.json"),
            ),
            (
                "env0-deploy-failed.json",
                include_str!("../../examples/payloads/env0-deploy-failed.json"),
            ),
        ],
        EventKind::Plan => vec![
            (
                "plan-success.json",
                include_str!("../../examples/payloads/plan-success.json"),
            ),
            ("plan-failure.json", PLAN_FAILURE),
        ],
        EventKind::Drift => vec![
            ("drift-detected.json", DRIFT),
            (
                "drift-clean.json",
                include_str!("../../examples/payloads/drift-clean.json"),
            ),
            (
                "drift-errored.json",
                include_str!("../../examples/payloads/drift-errored.json"),
            ),
            ("env0-drift-detected.json", ENV0_DRIFT),
        ],
    }
}
