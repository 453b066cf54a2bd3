//! The operator API's bodies as types, written by the server and read by its client (the
//! console, in-process or remote), so both sides agree by construction.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::EventKind;
use crate::event::Event;
use crate::intake::Source;
use crate::notify::{Preview, ShownRequest};
use crate::store::{
    AttemptRow, DeliveryRow, DeliveryStatus, DeliveryTally, EventSummary, StatusCounts,
};

/// `GET /status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    /// herald's version.
    pub version: String,
    /// Which journal it runs on.
    pub journal: JournalInfo,
    /// Whether attempts are paused (for every process on the journal).
    pub paused: bool,
    /// Deliveries this process is attempting now.
    pub in_flight: usize,
    /// How many webhooks are configured.
    pub webhooks: usize,
    /// Deliveries by state, events in all.
    pub counts: StatusCounts,
}

/// The journal behind a `serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JournalInfo {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Where it is, on the server (a PostgreSQL URL's password masked).
    pub path: String,
}

/// One configured webhook, as it may be shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    /// 0-based position in the config.
    pub index: usize,
    /// Its identity across reloads.
    pub id: String,
    /// Its `name:`.
    pub name: Option<String>,
    /// Its name, or `#index`.
    pub label: String,
    /// Which event it takes.
    pub event: EventKind,
    /// `kind:`.
    pub kind: String,
    /// The destination, secrets masked.
    pub target: String,
    /// The destination in a few words (`Slack channel C012`).
    pub describe: String,
    /// Whether it posts with the Slack bot token.
    pub slack_token: bool,
    /// `workspace-regex` as written.
    pub workspace_regex: String,
    /// `branch-regex` as written.
    pub branch_regex: String,
    /// `project-regex` as written.
    #[serde(default)]
    pub project_regex: String,
    /// `directory-regex` as written.
    #[serde(default)]
    pub directory_regex: String,
    /// `drift-errors:` (include, skip or only).
    #[serde(default)]
    pub drift_errors: String,
    /// Time allowed for one attempt, in milliseconds.
    pub timeout_ms: u64,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The names of its own headers (values are not shown: they may be credentials).
    pub headers: Vec<String>,
    /// Whether its requests carry a Standard Webhooks signature.
    pub signed: bool,
    /// Its deliveries by state.
    pub deliveries: DeliveryTally,
}

impl Webhook {
    /// Its pattern of filter `s`, as written.
    pub fn pattern(&self, s: crate::event::Subject) -> &str {
        use crate::event::Subject;
        match s {
            Subject::Workspace => &self.workspace_regex,
            Subject::BaseBranch => &self.branch_regex,
            Subject::Project => &self.project_regex,
            Subject::Directory => &self.directory_regex,
        }
    }
}

/// The webhooks of `config` as the API shows them, with their deliveries by state (keyed
/// by webhook key; a webhook without deliveries has none).
pub fn webhooks(
    config: &crate::config::Config,
    stats: &std::collections::HashMap<String, DeliveryTally>,
) -> Vec<Webhook> {
    config
        .webhooks
        .iter()
        .map(|w| Webhook {
            index: w.index,
            id: w.key.to_string(),
            name: w.name.clone(),
            label: w.label(),
            event: w.event,
            kind: w.target.kind().to_string(),
            target: w.target.display(),
            describe: w.target.describe(),
            slack_token: w.target.uses_slack_token(),
            workspace_regex: w.workspace_regex.pattern().to_string(),
            branch_regex: w.branch_regex.pattern().to_string(),
            project_regex: w.project_regex.pattern().to_string(),
            directory_regex: w.directory_regex.pattern().to_string(),
            drift_errors: w.drift_errors.as_str().to_string(),
            timeout_ms: u64::try_from(w.timeout.as_millis()).unwrap_or(u64::MAX),
            max_attempts: w.retry.max_attempts,
            headers: w.headers.iter().map(|(k, _)| k.clone()).collect(),
            signed: w.secret.is_some(),
            deliveries: stats.get(w.key.as_str()).copied().unwrap_or_default(),
        })
        .collect()
}

/// `GET /webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhooks {
    /// In config order.
    pub webhooks: Vec<Webhook>,
}

/// `GET /events`: a page of summaries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page {
    /// Newest first.
    pub events: Vec<EventSummary>,
    /// The cursor of the next (older) page; absent on the last.
    pub next: Option<i64>,
}

/// A delivery in brief, as a list row shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its id.
    pub id: String,
    /// The webhook's label.
    pub label: String,
    /// Its state.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub error: Option<String>,
}

/// An event with what the console lists of it: the event itself and its deliveries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FullEvent {
    /// Its position and summary.
    #[serde(flatten)]
    pub summary: EventSummary,
    /// The normalised event.
    pub event: Event,
    /// Its deliveries, oldest first.
    pub delivery_list: Vec<Delivery>,
}

/// `GET /events?full=true`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FullPage {
    /// Newest first.
    pub events: Vec<FullEvent>,
    /// The cursor of the next (older) page; absent on the last.
    pub next: Option<i64>,
}

/// `GET /events/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventDetail {
    /// The event.
    pub event: EventMeta,
    /// Its deliveries with every attempt.
    pub deliveries: Vec<DeliveryDetail>,
}

/// An event's facts and received body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventMeta {
    /// Its id.
    pub id: String,
    /// Received (Unix ms).
    pub received_at: i64,
    /// Where it came from.
    pub source: Source,
    /// One line.
    pub summary: String,
    /// Its kind.
    pub kind: EventKind,
    /// The body as received, secrets removed.
    pub body: Value,
}

/// A delivery with its attempts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryDetail {
    /// The delivery.
    pub delivery: DeliveryRow,
    /// Its attempts, in order.
    pub attempts: Vec<AttemptRow>,
}

/// `POST /preview`: the request a webhook would get, and how it looks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreviewAnswer {
    /// The webhook's label.
    pub webhook: String,
    /// The request, secrets masked.
    pub request: ShownRequest,
    /// The body laid out as the destination shows it.
    pub preview: Preview,
}

/// The answer of an action that creates deliveries (replays).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Created {
    /// The new deliveries' ids.
    pub deliveries: Vec<String>,
}

/// `POST /fire`: each delivery's outcome once attempted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fired {
    /// The deliveries with their attempts.
    pub deliveries: Vec<DeliveryDetail>,
}

/// `GET /slack`: what Slack's `auth.test` says of the configured token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlackAuth {
    /// No webhook posts with the token.
    NotNeeded,
    /// Valid, for this workspace.
    Ok(String),
    /// Slack's error.
    Failed(String),
}

/// An item of `GET /stream`.
#[derive(Debug, Clone)]
pub enum StreamItem {
    /// An event was recorded.
    Recorded(Box<FullEvent>),
    /// An attempt was recorded.
    Attempted(crate::store::Attempted),
    /// The engine state.
    State {
        /// Paused or not.
        paused: bool,
    },
    /// The client missed more than the journal keeps: reload.
    Reset,
}

/// `GET /drift`: what herald's drift scheduler and staleness watch know.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftWatch {
    /// `drift-stale-after`, in milliseconds, when set.
    pub stale_after_ms: Option<u64>,
    /// Every `drift-schedule:` entry, in config order.
    pub schedules: Vec<Schedule>,
    /// The newest report of each `repository@ref` seen lately, newest first.
    pub seen: Vec<Seen>,
}

/// One drift schedule and its last run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Its identity (what `POST /drift/run` takes).
    pub key: String,
    /// `repository@ref`.
    pub subject: String,
    /// The Atlantis it asks, as `scheme://host`.
    pub atlantis: String,
    /// `every 6h` or `cron "0 */6 * * *" (UTC)`.
    pub when: String,
    /// When its last run started (Unix ms).
    pub last_run_at: Option<i64>,
    /// When its last run finished (Unix ms).
    pub last_finished_at: Option<i64>,
    /// Whether the last finished run brought a report.
    pub last_ok: Option<bool>,
    /// What the last finished run came to.
    pub last_said: Option<String>,
    /// A run is going now (here or on another replica).
    pub running: bool,
    /// When it runs next (Unix ms).
    pub next_run_at: Option<i64>,
}

/// When a `repository@ref` last reported drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// `repository@ref`.
    pub subject: String,
    /// When its newest report came (Unix ms).
    pub last_at: i64,
    /// Older than `drift-stale-after`.
    pub stale: bool,
}
