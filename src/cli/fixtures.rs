//! The sample payloads of `examples/payloads/`, built into the binary so `herald fire`
//! works from any directory, the console can test-fire them and `herald check` can render
//! templates against them.

use herald::config::EventKind;

/// An Atlantis apply that succeeded.
pub const APPLY_SUCCESS: &str = include_str!("../../examples/payloads/apply-success.json");
/// An Atlantis plan that failed, with a long coloured `ResultMessage`.
pub const PLAN_FAILURE: &str = include_str!("../../examples/payloads/plan-failure.json");
/// An Atlantis drift report with drift.
pub const DRIFT: &str = include_str!("../../examples/payloads/drift-detected.json");
/// An env0 `com.env0.drift.detected` webhook.
pub const ENV0_DRIFT: &str = include_str!("../../examples/payloads/env0-drift-detected.json");

/// Every bundled payload: (file name, the event kind it is, JSON). env0's test event is
/// none (it sends nothing).
const BUNDLED: [(&str, Option<EventKind>, &str); 10] = [
    ("apply-success.json", Some(EventKind::Apply), APPLY_SUCCESS),
    (
        "apply-failure.json",
        Some(EventKind::Apply),
        include_str!("../../examples/payloads/apply-failure.json"),
    ),
    (
        "plan-success.json",
        Some(EventKind::Plan),
        include_str!("../../examples/payloads/plan-success.json"),
    ),
    ("plan-failure.json", Some(EventKind::Plan), PLAN_FAILURE),
    ("drift-detected.json", Some(EventKind::Drift), DRIFT),
    (
        "drift-clean.json",
        Some(EventKind::Drift),
        include_str!("../../examples/payloads/drift-clean.json"),
    ),
    (
        "drift-errored.json",
        Some(EventKind::Drift),
        include_str!("../../examples/payloads/drift-errored.json"),
    ),
    (
        "env0-drift-detected.json",
        Some(EventKind::Drift),
        ENV0_DRIFT,
    ),
    (
        "env0-deploy-failed.json",
        Some(EventKind::Apply),
        include_str!("../../examples/payloads/env0-deploy-failed.json"),
    ),
    (
        "env0-test.json",
        None,
        include_str!("../../examples/payloads/env0-test.json"),
    ),
];

/// Every bundled payload, for the console's test-fire: (file name, JSON).
#[cfg(feature = "tui")]
pub fn all() -> impl Iterator<Item = (&'static str, &'static str)> {
    BUNDLED.iter().map(|(name, _, json)| (*name, *json))
}

/// The bundled payloads a webhook of `kind` may get, for `herald check` to render its
/// template against: (file name, JSON).
pub fn of_kind(kind: EventKind) -> Vec<(&'static str, &'static str)> {
    BUNDLED
        .iter()
        .filter(|(_, k, _)| *k == Some(kind))
        .map(|(name, _, json)| (*name, *json))
        .collect()
}
