//! Atlantis' drift payload (`DriftResult`, snake_case), also the shape env0 drift is
//! normalised to, so that one consumer handles both.

use serde::{Deserialize, Serialize};

/// A drift detection run as Atlantis' drift webhook sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftResult {
    /// `owner/repo` as the caller of the drift API gave it.
    pub repository: String,
    /// The ref that was checked.
    #[serde(rename = "ref", default)]
    pub git_ref: String,
    /// The run's id.
    #[serde(default)]
    pub detection_id: String,
    /// Number of projects with drift.
    #[serde(default)]
    pub projects_with_drift: u64,
    /// Number of projects checked.
    #[serde(default)]
    pub total_projects: u64,
    /// One entry per project (never null).
    #[serde(default)]
    pub projects: Vec<DriftProject>,
}

impl DriftResult {
    /// How many projects errored (a non-empty `error`).
    pub fn errored(&self) -> usize {
        self.projects.iter().filter(|p| !p.error.is_empty()).count()
    }
}

/// One project of a drift run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DriftProject {
    /// Atlantis project name.
    pub project_name: String,
    /// Repo-relative directory.
    pub path: String,
    /// Terraform workspace.
    pub workspace: String,
    /// True when anything would change.
    pub has_drift: bool,
    /// Resources to add.
    pub to_add: u64,
    /// Resources to change.
    pub to_change: u64,
    /// Resources to destroy.
    pub to_destroy: u64,
    /// Resources to import.
    pub to_import: u64,
    /// Resources to forget.
    pub to_forget: u64,
    /// The plan's one-line summary.
    pub summary: String,
    /// Omitted when empty, as in Atlantis.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

impl DriftProject {
    /// The name to show: the project name, else its path and workspace.
    pub fn label(&self) -> String {
        if !self.project_name.is_empty() {
            self.project_name.clone()
        } else if self.workspace.is_empty() || self.workspace == "default" {
            display_dir(&self.path)
        } else {
            format!("{} ({})", display_dir(&self.path), self.workspace)
        }
    }
}

/// A directory as Atlantis shows it in Slack: exactly `.` (or nothing) becomes `/`.
pub fn display_dir(dir: &str) -> String {
    if dir.is_empty() || dir == "." {
        "/".to_string()
    } else {
        dir.to_string()
    }
}

/// The first non-empty line of an error, cleaned as a result message is (no colour codes,
/// no URL passwords), at most 300 characters.
pub fn first_line(error: &str) -> String {
    let clean = super::result::clean(error);
    let line = clean
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    match line.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}
