//! What herald itself says about drift: a scheduled detection that failed (Atlantis'
//! drift API answered an error, or not at all) and a repository whose drift reports
//! stopped coming. Both go to the drift webhooks, as env0's `driftFailed` and HCP
//! Terraform's `assessment:failed` do, so silence is never mistaken for "no drift".

use serde::{Deserialize, Serialize};

/// Which notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// A scheduled drift detection failed: no report came of it.
    DriftFailed,
    /// No drift report came for a `repository@ref` for longer than `drift-stale-after`.
    DriftStale,
}

impl NoticeKind {
    /// `drift-failed` or `drift-stale`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::DriftFailed => "drift-failed",
            NoticeKind::DriftStale => "drift-stale",
        }
    }
}

/// A notice as drift receivers get it (`"event"` first, so a receiver tells it from a
/// drift report by one key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftNotice {
    /// `drift-failed` or `drift-stale`.
    pub event: NoticeKind,
    /// `owner/repo`.
    pub repository: String,
    /// The ref.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// What went wrong (drift-failed), secrets masked.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Atlantis' HTTP status, when it answered (drift-failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The Atlantis asked, as `scheme://host` (drift-failed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub atlantis: String,
    /// When the last report came, RFC 3339 (drift-stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_report_at: Option<String>,
    /// How long reports may stay away (`drift-stale-after`), as written (drift-stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<String>,
    /// How long since the last report, in whole hours (drift-stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent_hours: Option<u64>,
}

impl DriftNotice {
    /// One line saying what happened.
    pub fn summary(&self) -> String {
        let subject = format!("{}@{}", self.repository, self.git_ref);
        match self.event {
            NoticeKind::DriftFailed => {
                let status = self.status.map(|s| format!("{s} ")).unwrap_or_default();
                format!(
                    "Drift detection failed for {subject}: {status}{}",
                    super::drift::first_line(&self.error)
                )
            }
            NoticeKind::DriftStale => format!(
                "No drift report for {subject} for {} h (expected within {})",
                self.silent_hours.unwrap_or(0),
                self.stale_after.as_deref().unwrap_or("?")
            ),
        }
    }
}
