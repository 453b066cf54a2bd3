//! What a `herald: drift-schedule:` entry says: which repository to ask Atlantis about,
//! and when.

use std::time::Duration;

use crate::secret::Secret;

/// When a schedule runs: a fixed interval, or a cron expression (five fields, UTC).
#[derive(Debug, Clone)]
pub enum When {
    /// `every: 6h`: one run each interval, counted from the last one.
    Every(Duration),
    /// `cron: "0 */6 * * *"`: at the times the expression names (UTC).
    Cron(Box<croner::Cron>, String),
}

impl When {
    /// The first run strictly after `after_ms` (Unix ms); `None` when a cron expression
    /// names no later time.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match self {
            When::Every(d) => {
                Some(after_ms.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
            }
            When::Cron(cron, _) => {
                let at = chrono::DateTime::from_timestamp_millis(after_ms)?;
                cron.find_next_occurrence(&at, false)
                    .ok()
                    .map(|t| t.timestamp_millis())
            }
        }
    }

    /// As written: `every 6h` or `cron "0 */6 * * *"`.
    pub fn describe(&self) -> String {
        match self {
            When::Every(d) => format!("every {}", humantime::format_duration(*d)),
            When::Cron(_, text) => format!("cron \"{text}\" (UTC)"),
        }
    }
}

/// Parses a five-field cron expression (minute hour day-of-month month day-of-week).
///
/// # Errors
/// What is wrong with it, in the cron parser's words.
pub fn cron(text: &str) -> Result<croner::Cron, String> {
    if text.split_whitespace().count() != 5 {
        return Err(format!(
            "cron \"{text}\" must have five fields (minute hour day-of-month month day-of-week)"
        ));
    }
    croner::parser::CronParser::builder()
        .build()
        .parse(text)
        .map_err(|e| format!("cron \"{text}\" is not valid: {e}"))
}

/// One directory and workspace to check, as Atlantis' `paths` takes them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProjectPath {
    /// Repo-relative directory.
    pub directory: String,
    /// Terraform workspace.
    pub workspace: String,
}

/// One `drift-schedule:` entry.
#[derive(Debug, Clone)]
pub struct DriftSchedule {
    /// Atlantis' base URL (`https://atlantis.example.com`).
    pub atlantis_url: String,
    /// `owner/repo`, as Atlantis' drift API takes it.
    pub repository: String,
    /// The ref to check.
    pub git_ref: String,
    /// `Github`, `Gitlab` or `Gitea`.
    pub vcs: String,
    /// Atlantis' `base_branch`, needed for SHAs, tags and ambiguous refs.
    pub base_branch: Option<String>,
    /// Project names to check (none: all).
    pub projects: Vec<String>,
    /// Directories and workspaces to check (none: all).
    pub paths: Vec<ProjectPath>,
    /// When.
    pub when: When,
    /// Atlantis' `--api-secret`, sent as `X-Atlantis-Token`.
    pub api_secret: Secret,
    /// How long one detection may take (Atlantis plans every project before answering).
    pub timeout: Duration,
    /// Line of the entry, for messages.
    pub line: usize,
}

impl DriftSchedule {
    /// Its identity, the same on every replica and across restarts: `repository@ref`
    /// and the Atlantis it asks.
    pub fn key(&self) -> String {
        format!(
            "drift-schedule:{}@{}|{}",
            self.repository,
            self.git_ref,
            crate::redact::url_origin(&self.atlantis_url)
        )
    }

    /// `repository@ref`, as drift reports are known by.
    pub fn subject(&self) -> String {
        format!("{}@{}", self.repository, self.git_ref)
    }
}
