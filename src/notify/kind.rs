//! The seam between the dispatch core and the protocols it speaks.
//!
//! Each delivery kind (`kind:` in the config) is one module that reads its config entry,
//! builds its request, judges its answer, says how it is paced and renders its preview;
//! the rest of herald holds a [`Target`] and asks it. Adding a kind is one module plus one
//! line in [`KINDS`]: nothing else matches on kinds, so nothing can silently treat a new
//! kind as another one.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{Attempt, PrepareError, ShownRequest};
use crate::config::{Config, EventKind, Webhook};
use crate::event::Event;

/// Every delivery kind herald knows, in the order `herald check` names them.
pub const KINDS: &[Spec] = &[
    super::slack::SPEC,
    super::http::SPEC,
    super::msteams::SPEC,
    super::discord::SPEC,
    super::googlechat::SPEC,
    super::pagerduty::SPEC,
];

/// What the config reader needs of a kind: its `kind:` value and how to read an entry.
pub struct Spec {
    /// The value of `kind:`.
    pub name: &'static str,
    /// The entry keys it reads (besides those every webhook has).
    pub keys: &'static [&'static str],
    /// Reads the kind's own keys of one entry into a destination, or says what is wrong.
    pub parse: fn(&Entry<'_>, &mut Vec<Finding>) -> Option<Target>,
}

/// The kind-specific view of one webhook entry, for [`Spec::parse`].
pub struct Entry<'a> {
    /// Which event the entry is for (Atlantis words some errors per event).
    pub event: EventKind,
    /// A key's value as text, `${VAR}` expanded; empty when absent.
    pub field: &'a dyn Fn(&str) -> String,
    /// Whether a Slack bot token is configured (flag, environment or file).
    pub has_slack_token: bool,
}

/// A problem a kind found in its entry, positioned at a key's value (or at the entry when
/// the key is `""`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The entry cannot be used.
    Error(&'static str, String),
    /// The entry works, but probably not as meant.
    Warning(&'static str, String),
}

/// `url` as a destination: an `http://` or `https://` URL with a host.
///
/// # Errors
/// The problem in a sentence, the URL's credentials masked.
pub fn check_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(u) => Err(format!(
            "url \"{}\" must be an http:// or https:// URL with a host (got scheme \"{}\")",
            crate::redact::url_masked(url),
            u.scheme()
        )),
        Err(e) => Err(format!(
            "url \"{}\" is not a valid URL: {e}",
            crate::redact::url_masked(url)
        )),
    }
}

/// How a destination's sends are spaced: attempts with the same key go `every` apart, in
/// this process or, on a shared journal, across every replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pace {
    /// What is rate-limited (a channel, a URL); may be a secret, never shown.
    pub key: String,
    /// The least time between two sends on it.
    pub every: Duration,
}

/// What a kind puts into a request; [`super::prepare`] adds what every kind shares.
pub struct Built {
    /// Where to POST.
    pub url: String,
    /// Header lines in send order.
    pub headers: Vec<(String, String)>,
    /// The body, serialised (a signature signs exactly these bytes).
    pub body: Vec<u8>,
    /// Values that must never be shown (tokens, signing keys, secret header values).
    pub secrets: Vec<String>,
}

/// What a kind may use to build a request.
pub struct Build<'a> {
    /// The whole config (global headers, the Slack token and API URL).
    pub config: &'a Config,
    /// The webhook the request is for.
    pub webhook: &'a Webhook,
    /// The event.
    pub event: &'a Event,
    /// The delivery's id, the same on every retry.
    pub delivery_id: &'a str,
    /// Unix seconds, for signatures.
    pub timestamp: i64,
    /// The webhook template's output, when it has one: the body to send instead of the
    /// kind's own (the kind adds what it must and checks its limits).
    pub templated: Option<Value>,
    /// The message this webhook keeps for the event's thing, when it keeps one.
    pub thread: Option<&'a crate::store::PostedMessage>,
}

/// An answer as it came, for [`Destination::judge`].
pub struct Answer<'a> {
    /// The HTTP status.
    pub status: u16,
    /// The body as received (judge on this: scrubbing may change what is judged).
    pub raw: &'a str,
    /// The body with every secret scrubbed (quote only this).
    pub clean: &'a str,
    /// `Retry-After`, when sent.
    pub retry_after: Option<Duration>,
    /// `Location`'s origin, for a redirect.
    pub location: Option<String>,
    /// The origin the request went to, for messages.
    pub origin: String,
}

/// How a request looks to a person: the body as JSON, or the message as the chat shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preview {
    /// The body is the message (plain HTTP receivers).
    Json(Value),
    /// A chat message laid out as the chat shows it.
    Message(super::slack::render::Rendered),
}

/// One delivery kind's behaviour for one configured destination.
pub trait Destination: Send + Sync + fmt::Debug {
    /// The value of `kind:` it came from.
    fn kind(&self) -> &'static str;
    /// The destination as it may be shown: secrets masked.
    fn display(&self) -> String;
    /// The destination in a few words for the console (`Slack channel C012`).
    fn describe(&self) -> String;
    /// What it is, credentials included, hashed into the webhook's identity so that a
    /// webhook sending elsewhere is a different webhook. Never shown.
    fn fingerprint(&self) -> String;
    /// Config values it holds that are secrets (an incoming-webhook URL is one).
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }
    /// What the message it keeps for `event` is known by, when it keeps one message per
    /// thing (Slack's `update: edit|thread`); `None` posts anew each time.
    fn correlation(&self, _event: &Event) -> Option<String> {
        None
    }
    /// Whether it posts with the Slack bot token (so `auth.test` is worth calling).
    fn uses_slack_token(&self) -> bool {
        false
    }
    /// Builds the request.
    ///
    /// # Errors
    /// When the config lacks what the destination needs.
    fn build(&self, cx: &Build<'_>) -> Result<Built, PrepareError>;
    /// Judges an answer, filling the attempt's outcome, error, hint and retry wait.
    fn judge(&self, answer: &Answer<'_>, attempt: &mut Attempt);
    /// How a failure to reach it starts: `sending webhook to`.
    fn failure_verb(&self) -> &'static str {
        "sending webhook to"
    }
    /// Attempts with the same key are spaced by the pacer (Slack: one post a second per
    /// channel; Teams: four a second per URL); `None` sends unpaced.
    fn pace(&self, _config: &Config) -> Option<Pace> {
        None
    }
    /// The request's URL as it may be shown.
    fn shown_url(&self, url: &str) -> String {
        crate::redact::url_masked(url)
    }
    /// How the request looks to a person, in a column `width` wide.
    fn preview(&self, shown: &ShownRequest, _width: usize) -> Preview {
        Preview::Json(shown.body.clone())
    }
}

/// Where a webhook sends: one kind's destination, shared cheaply between the config, the
/// requests built from it and the console.
#[derive(Clone)]
pub struct Target(Arc<dyn Destination>);

impl Target {
    /// Wraps a kind's destination.
    pub fn new(d: impl Destination + 'static) -> Self {
        Self(Arc::new(d))
    }
}

impl std::ops::Deref for Target {
    type Target = dyn Destination;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.fingerprint() == other.fingerprint()
    }
}

impl Eq for Target {}
