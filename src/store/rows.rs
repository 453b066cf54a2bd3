//! What the journal gives back, whichever backend keeps it: rows of the log, of an event
//! and its attempts, the counts, and the operator API's pages and feed.

use serde::{Deserialize, Serialize};

use super::DeliveryStatus;
use crate::event::Event;

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only this status.
    pub status: Option<DeliveryStatus>,
    /// Only this event's.
    pub event_id: Option<String>,
    /// Only this delivery.
    pub id: Option<String>,
    /// At most this many (0 = no limit).
    pub limit: usize,
}

/// A delivery with its event's summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryRow {
    /// Delivery id.
    pub id: String,
    /// Event id.
    pub event_id: String,
    /// `apply` or `drift`.
    pub event_kind: String,
    /// The event's one-line summary.
    pub summary: String,
    /// Webhook index when created.
    pub webhook: usize,
    /// The webhook as shown: its name, or `#index` when the delivery was made.
    pub webhook_label: String,
    /// The webhook's key (`config::WebhookKey`).
    pub webhook_key: String,
    /// Destination, masked.
    pub target: String,
    /// `slack` or `http`.
    pub kind: String,
    /// Status.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// Next attempt (Unix ms) when retrying.
    pub next_attempt_at: Option<i64>,
    /// The last error.
    pub last_error: Option<String>,
    /// What it replays.
    pub replay_of: Option<String>,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
}

/// A stored event.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    /// Event id.
    pub id: String,
    /// Received (Unix ms).
    pub received_at: i64,
    /// `apply`, `drift`, `env0` or `fire`.
    pub source: crate::intake::Source,
    /// One-line summary.
    pub summary: String,
    /// The received body, secrets removed.
    pub body: String,
    /// The normalised event.
    pub event: Event,
}

/// A stored attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptRow {
    /// 1-based number.
    pub number: u32,
    /// Start (Unix ms).
    pub started_at: i64,
    /// Duration (ms).
    pub latency_ms: i64,
    /// How it ended.
    pub outcome: crate::notify::Outcome,
    /// HTTP status.
    pub status: Option<u16>,
    /// Error.
    pub error: Option<String>,
    /// Hint.
    pub hint: Option<String>,
    /// The request as it was shown (method, masked URL and headers, body): stored as JSON
    /// text, given as the object it is.
    #[serde(serialize_with = "json_text", deserialize_with = "text_of_json")]
    pub request: String,
    /// Response excerpt.
    pub response: String,
}

/// Reads JSON given as the object it is back into its text (see [`json_text`]).
fn text_of_json<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

/// Writes stored JSON text as the JSON it holds (text that is not JSON, as a string).
fn json_text<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => v.serialize(s),
        Err(_) => s.serialize_str(text),
    }
}

/// Deliveries per status, and events in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// Events stored.
    pub events: u64,
    /// Pending deliveries.
    pub pending: u64,
    /// Retrying deliveries.
    pub retrying: u64,
    /// Succeeded deliveries.
    pub succeeded: u64,
    /// Failed deliveries.
    pub failed: u64,
    /// Open deliveries whose lease has not run out: taken by a worker (this process's or
    /// another's). A number that stays up while nothing is in flight is a stuck lease.
    pub leased: u64,
}

/// How a delivery names its webhook: the stored key's name, or `#index` (its position
/// when the delivery was made) for an unnamed one.
pub fn webhook_label(key: String, index: i64) -> String {
    crate::config::WebhookKey::from_stored(key)
        .display(usize::try_from(index).unwrap_or(usize::MAX))
}

/// One condition of an event search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// What is tested.
    pub field: Field,
    /// The value looked for (text: a case-insensitive substring).
    pub value: String,
    /// `!`: events that do not meet it.
    pub negate: bool,
}

/// What a search term looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The summary or the id.
    Text,
    /// `kind:` apply or drift.
    Kind,
    /// `status:` a delivery in that state.
    Status,
    /// `webhook:` a delivery to the webhook of that name (or key).
    Webhook,
    /// `error:` a delivery whose last error contains the text.
    Error,
}

/// An event in a listing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventSummary {
    /// Its position: pass it as `before` for the next page.
    pub seq: i64,
    /// Its position in the live feed (see [`FeedPosition`]); not sent.
    #[serde(skip)]
    pub mark: i64,
    /// Event id.
    pub id: String,
    /// Received (Unix ms).
    pub received_at: i64,
    /// Where it came from.
    pub source: crate::intake::Source,
    /// `apply` or `drift`.
    pub kind: String,
    /// One line.
    pub summary: String,
    /// Its deliveries by status.
    pub deliveries: DeliveryTally,
}

/// How many of an event's deliveries are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryTally {
    /// Not attempted yet.
    pub pending: u32,
    /// Waiting for a retry.
    pub retrying: u32,
    /// Delivered.
    pub succeeded: u32,
    /// Failed for good.
    pub failed: u32,
}

/// A position in the feed: the last event and the last attempt seen, as the backend orders
/// them (SQLite: rowids, which one writer hands out in commit order; PostgreSQL: the
/// writing transactions' ids, read only once every older transaction has ended, since
/// replicas commit out of order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedPosition {
    /// The last event seen.
    pub event: i64,
    /// The last attempt seen.
    pub attempt: i64,
}

impl FeedPosition {
    /// As an SSE id: `EVENT.ATTEMPT`.
    pub fn to_id(self) -> String {
        format!("{}.{}", self.event, self.attempt)
    }

    /// Reads an SSE id back.
    pub fn parse(s: &str) -> Option<Self> {
        let (e, a) = s.trim().split_once('.')?;
        Some(Self {
            event: e.parse().ok()?,
            attempt: a.parse().ok()?,
        })
    }
}

/// What was recorded after a feed position: new events and new attempts, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Events recorded (their tallies read 0: the feed does not count them).
    pub events: Vec<EventSummary>,
    /// Attempts recorded.
    pub attempts: Vec<Attempted>,
}

/// An attempt as the feed tells it (`"type": "attempted"` on the wire).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename = "attempted")]
pub struct Attempted {
    /// The attempt's number in the journal.
    pub seq: i64,
    /// Its position in the live feed (see [`FeedPosition`]); not sent.
    #[serde(skip)]
    pub mark: i64,
    /// The delivery.
    pub delivery_id: String,
    /// Its event.
    pub event_id: String,
    /// The webhook's key.
    pub webhook_key: String,
    /// The webhook as shown: its name, or `#index` when the delivery was made.
    pub webhook_label: String,
    /// 1-based number.
    pub number: u32,
    /// How it ended.
    pub outcome: crate::notify::Outcome,
    /// HTTP status.
    pub status: Option<u16>,
    /// The error.
    pub error: Option<String>,
    /// The delivery's state now.
    pub delivery_status: DeliveryStatus,
}

/// A job's last run (a drift schedule, a staleness notice), shared by every process on the
/// journal so that each occurrence runs once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRow {
    /// The job.
    pub key: String,
    /// The occurrence last taken (Unix ms).
    pub occurrence: i64,
    /// Taken until (Unix ms); in the past once it finished.
    pub lease_until: i64,
    /// When its last run finished (Unix ms).
    pub finished_at: Option<i64>,
    /// What its last run came to (JSON, the job's own words).
    pub outcome: Option<String>,
}

/// The newest drift report of one `repository@ref`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftSeen {
    /// `owner/repo`.
    pub repository: String,
    /// The ref.
    pub git_ref: String,
    /// When its newest report was received (Unix ms).
    pub last_at: i64,
}

/// A chat message herald posted and may edit or reply under (Slack's `update: edit|thread`),
/// kept per webhook and correlation key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostedMessage {
    /// The channel id Slack answered with.
    pub channel: String,
    /// The message's `ts`.
    pub ts: String,
    /// Whether the last event it said was a problem (a reply broadcasts when it gets worse).
    pub problem: bool,
}
