//! The sample payloads of `examples/payloads/`, built into the binary so `herald fire`
//! works from any directory.

/// An Atlantis apply that succeeded.
pub const APPLY_SUCCESS: &str = include_str!("../../examples/payloads/apply-success.json");
/// An Atlantis drift report with drift.
pub const DRIFT: &str = include_str!("../../examples/payloads/drift-detected.json");
/// An env0 `com.env0.drift.detected` webhook.
pub const ENV0_DRIFT: &str = include_str!("../../examples/payloads/env0-drift-detected.json");
