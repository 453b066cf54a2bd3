//! Building and sending one request to one webhook, and judging the answer.
//!
//! [`prepare`] turns an event and a webhook into the exact request (so `fire --dry-run`
//! shows precisely what [`send`] would send), and [`send`] makes one attempt and classifies
//! the result as delivered, worth retrying, or failed for good. Retrying itself is the
//! dispatcher's job.

pub mod digest;
pub mod discord;
pub mod googlechat;
pub mod http;
pub mod kind;
pub mod msteams;
pub mod pagerduty;
pub mod sign;
pub mod slack;
pub mod template;

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::config::{Config, Webhook};
use crate::event::Event;
use crate::redact;
pub use kind::{Preview, Target};

/// The most of a response body kept for the record.
pub const RESPONSE_EXCERPT: usize = 4096;

/// The most of a response body read to judge it. Slack's `chat.postMessage` echoes the whole
/// posted message, so a long or non-ASCII one answers with several KiB; what is beyond this
/// is read and dropped, so the connection can be reused.
pub const RESPONSE_READ_LIMIT: usize = 1024 * 1024;

/// One request, ready to send.
#[derive(Clone)]
pub struct Request {
    /// The destination's kind, which judges the answer.
    pub target: Target,
    /// Destination (may carry credentials: never print it as is).
    pub url: String,
    /// Header lines in send order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Time allowed for the attempt.
    pub timeout: Duration,
    /// Values that must not appear in anything shown (credentials in headers, tokens, the
    /// URL's).
    secrets: Vec<String>,
    /// Every other secret of the config (see [`Request::scrub_also`]).
    config_secrets: std::sync::Arc<[String]>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("kind", &self.target.kind())
            .field("url", &redact::url_masked(&self.url))
            .finish_non_exhaustive()
    }
}

/// A request as it may be shown: URL and secret header values masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ShownRequest {
    /// Method (always POST).
    pub method: String,
    /// URL with credentials masked.
    pub url: String,
    /// Headers, secret values masked.
    pub headers: Vec<(String, String)>,
    /// The body (JSON).
    pub body: Value,
}

impl Request {
    /// The request with its secrets masked.
    pub fn shown(&self) -> ShownRequest {
        let headers = self
            .headers
            .iter()
            .map(|(k, v)| {
                let secret = crate::secret::is_secret_header(k, v);
                let v = if k.eq_ignore_ascii_case("authorization") {
                    match v.split_once(' ') {
                        Some((scheme, token)) => format!("{scheme} {}", crate::secret::mask(token)),
                        None => redact::REDACTED.to_string(),
                    }
                } else if secret {
                    redact::REDACTED.to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect();
        // A body may carry a credential of its own (PagerDuty's routing key): masked as
        // everywhere else, so neither the journal nor a preview holds it.
        let mut body = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        mask_strings(&mut body, &self.secrets);
        ShownRequest {
            method: "POST".into(),
            url: self.target.shown_url(&self.url),
            headers,
            body,
        }
    }

    /// Also scrubs these values out of the answer: every secret of the config, not only
    /// this request's, since a receiver or proxy may echo anything back. The dispatcher
    /// computes the list once per configuration, not once per attempt.
    pub fn scrub_also(&mut self, config_secrets: std::sync::Arc<[String]>) {
        self.config_secrets = config_secrets;
    }

    /// Scrubs the secrets (and URLs) out of a text.
    pub fn sanitize(&self, text: &str) -> String {
        let refs: Vec<&str> = self
            .secrets
            .iter()
            .chain(self.config_secrets.iter())
            .map(String::as_str)
            .collect();
        redact::sanitize(text, &refs)
    }
}

/// Why a request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    /// A Slack channel webhook without a token.
    #[error("no Slack token: set --slack-token, ATLANTIS_SLACK_TOKEN or slack-token in the config")]
    NoSlackToken,
    /// The webhook's template did not render, or rendered what the destination refuses.
    #[error("the webhook's template: {0}")]
    Template(String),
}

/// The journal's ids of what a request delivers: the delivery's is sent as
/// `X-Herald-Delivery` (the same on every retry) and as the signature's message id; both are
/// a template's `herald.event_id` and `herald.delivery_id`. A request built to be shown, not
/// sent (a dry run, a preview), has made-up ones.
#[derive(Debug, Clone, Copy)]
pub struct Ids<'a> {
    /// The event's id (empty when there is no journaled event).
    pub event: &'a str,
    /// The delivery's id.
    pub delivery: &'a str,
    /// The message the webhook keeps for the event's thing (`update: edit|thread`).
    pub thread: Option<&'a crate::store::PostedMessage>,
}

impl Ids<'static> {
    /// Ids for a request that is only shown.
    pub const SHOWN: Ids<'static> = Ids {
        event: "",
        delivery: "preview",
        thread: None,
    };
}

/// Builds the request that delivers `event` to `webhook`.
///
/// # Errors
/// [`PrepareError`] when the config lacks what the webhook needs.
pub fn prepare(
    config: &Config,
    webhook: &Webhook,
    event: &Event,
    ids: Ids<'_>,
    timestamp: i64,
) -> Result<Request, PrepareError> {
    let delivery_id = ids.delivery;
    // A template renders the body; the kind still adds what it must (a channel, a key)
    // and checks its limits, so a template cannot post what the destination refuses.
    let templated = match &webhook.template {
        Some(t) => Some(
            t.render_json(&template::context(event, webhook, ids))
                .map_err(|e| PrepareError::Template(e.to_string()))?,
        ),
        None => None,
    };
    let kind::Built {
        url,
        mut headers,
        body,
        mut secrets,
    } = webhook.target.build(&kind::Build {
        config,
        webhook,
        event,
        delivery_id,
        timestamp,
        templated,
        thread: ids.thread,
    })?;
    default_header(
        &mut headers,
        "User-Agent",
        format!("herald/{}", crate::VERSION),
    );
    // URL credentials and query tokens are secrets too.
    if let Ok(u) = reqwest::Url::parse(&url) {
        if let Some(p) = u.password() {
            secrets.push(p.to_string());
        }
        if !u.username().is_empty() && u.password().is_none() {
            secrets.push(u.username().to_string());
        }
        secrets.extend(
            u.query_pairs()
                .map(|(_, v)| v.into_owned())
                .filter(|v| v.len() >= 8),
        );
    }
    secrets.retain(|s| s.len() >= crate::secret::MIN_SECRET_LEN);
    Ok(Request {
        target: webhook.target.clone(),
        url,
        headers,
        body,
        timeout: webhook.timeout,
        secrets,
        config_secrets: std::sync::Arc::from(Vec::new()),
    })
}

/// Replaces every secret inside the strings of `v` with `<redacted>`.
fn mask_strings(v: &mut Value, secrets: &[String]) {
    match v {
        Value::String(s) => {
            for secret in secrets {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), redact::REDACTED);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| mask_strings(i, secrets)),
        Value::Object(map) => map.values_mut().for_each(|i| mask_strings(i, secrets)),
        _ => {}
    }
}

/// Adds one of herald's headers unless a configured header of that name replaces it.
pub(crate) fn default_header(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
        headers.push((name.into(), value));
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The destination accepted it.
    Delivered,
    /// It failed in a way another attempt may fix (timeout, 5xx, 429, rate limit).
    Retryable,
    /// It failed in a way another attempt cannot fix (4xx, Slack `not_in_channel`, ...).
    Failed,
}

impl Outcome {
    /// The word journaled and shown: `delivered`, `retryable`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retryable => "retryable",
            Outcome::Failed => "failed",
        }
    }

    /// Reads a journaled word; anything unknown reads as `failed`, never as delivered.
    pub fn parse(s: &str) -> Self {
        match s {
            "delivered" => Outcome::Delivered,
            "retryable" => Outcome::Retryable,
            _ => Outcome::Failed,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The record of one attempt. Every text in it is already free of secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// How it ended.
    pub outcome: Outcome,
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    /// What went wrong (a Slack error code such as `not_in_channel`, or a sentence).
    pub error: Option<String>,
    /// What to do about it, for common failures.
    pub hint: Option<String>,
    /// How long the destination asked to wait (`Retry-After`).
    #[serde(with = "opt_secs")]
    pub retry_after: Option<Duration>,
    /// The start of the response body.
    pub response: String,
    /// Time from sending to the answer (or the failure).
    #[serde(with = "millis")]
    pub latency: Duration,
    /// The message a chat answered it posted or edited, as (channel, ts), for a webhook
    /// that edits or threads (Slack's `update:`).
    #[serde(skip)]
    pub posted: Option<(String, String)>,
    /// The chat said the remembered message is gone or cannot be edited: forget it, so the
    /// next attempt posts a new one.
    #[serde(skip)]
    pub forget_thread: bool,
}

mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

mod opt_secs {
    use std::time::Duration;

    #[allow(clippy::ref_option)]
    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
}

/// The HTTP client every delivery uses: rustls with *ring*, no redirects (a redirect that
/// turns a POST into a GET silently drops the event, so a 3xx is reported instead), no
/// global timeout (each attempt sets its own), and an idle pool of 16 per destination, half
/// the per-webhook cap of attempts in flight: with 8, a busy webhook's extra connections
/// were closed after every request and opened again for the next (end-to-end +17 % at 32);
/// with 32, resident memory rose and fell with the pool's fill (+11 % over a 10-minute
/// soak). Idle connections close after 30 s, so memory and file descriptors return to a
/// steady level after a burst.
///
/// # Errors
/// When the TLS stack cannot be set up.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    crate::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // As many idle connections per host as attempts can be in flight at once: with
        // fewer (16 against 32 per webhook), every attempt that ended beyond the pool's
        // size closed a connection the next attempt opened again (~300 new connections
        // per 1,000 deliveries).
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .user_agent(format!("herald/{}", crate::VERSION))
        .build()
}

/// The most attempts in flight at once in one process (the engine's default), and so the
/// most connections to one host the client keeps for reuse.
pub const MAX_IN_FLIGHT: usize = 256;

/// Makes one attempt.
pub async fn send(client: &reqwest::Client, req: &Request) -> Attempt {
    let started = Instant::now();
    let mut builder = client
        .post(&req.url)
        .timeout(req.timeout)
        .body(req.body.clone());
    for (name, value) in &req.headers {
        builder = builder.header(name, value);
    }
    let response = match builder.send().await {
        Ok(r) => r,
        Err(e) => return transport_failure(req, &e, started.elapsed()),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(parse_retry_after);
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(redact::url_origin);
    let body = match read_body(response, req.timeout.saturating_sub(started.elapsed())).await {
        Ok(b) => b,
        Err(e) => return transport_failure(req, &e, started.elapsed()),
    };
    let latency = started.elapsed();
    let raw = String::from_utf8_lossy(&body);
    let mut attempt = Attempt {
        outcome: Outcome::Failed,
        status: Some(status),
        error: None,
        hint: None,
        retry_after: None,
        response: String::new(),
        latency,
        posted: None,
        forget_thread: false,
    };
    // Judged on the answer as it came (scrubbing first once turned `"ok":true` into
    // `"ok":<redacted>`); what is kept and shown is scrubbed, whole, and only then cut, so
    // no secret is split by the cut and left half in place.
    let clean = req.sanitize(&raw);
    req.target.judge(
        &kind::Answer {
            status,
            raw: &raw,
            clean: &clean,
            retry_after,
            location,
            origin: redact::url_origin(&req.url),
        },
        &mut attempt,
    );
    attempt.error = attempt.error.map(|e| req.sanitize(&e));
    attempt.hint = attempt.hint.map(|h| req.sanitize(&h));
    attempt.response = excerpt(clean, RESPONSE_EXCERPT);
    attempt
}

/// The start of `text`, at most `max` bytes, cut at a character boundary.
fn excerpt(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Reads the body, keeping at most [`RESPONSE_READ_LIMIT`] bytes and dropping the rest,
/// so a huge or endless answer neither fills memory nor holds the attempt past its timeout.
async fn read_body(
    mut response: reqwest::Response,
    time_left: Duration,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut out = Vec::new();
    let read = async {
        while let Some(chunk) = response.chunk().await? {
            let room = RESPONSE_READ_LIMIT.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        Ok::<(), reqwest::Error>(())
    };
    // A body that trickles past the deadline is cut where it stands; the status has
    // already decided the outcome.
    let _timed_out = tokio::time::timeout(time_left.max(Duration::from_millis(100)), read).await;
    Ok(out)
}

/// `Retry-After` in seconds; an HTTP date or garbage counts as one second, Slack's minimum.
fn parse_retry_after(v: &str) -> Duration {
    v.trim().parse::<u64>().map_or(Duration::from_secs(1), |s| {
        Duration::from_secs(s).clamp(Duration::from_secs(1), RETRY_AFTER_MAX)
    })
}

/// The longest `Retry-After` honoured.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);

fn transport_failure(req: &Request, e: &reqwest::Error, latency: Duration) -> Attempt {
    let origin = redact::url_origin(&req.url);
    let what = if e.is_timeout() {
        format!(
            "timed out after {}",
            humantime::format_duration(req.timeout)
        )
    } else if e.is_connect() {
        format!("could not connect: {}", root_cause(e))
    } else {
        root_cause(e)
    };
    let verb = req.target.failure_verb();
    Attempt {
        outcome: Outcome::Retryable,
        status: None,
        error: Some(req.sanitize(&format!("{verb} \"{origin}\": {what}"))),
        hint: e
            .is_connect()
            .then(|| "is the receiver running and reachable from here?".to_string()),
        retry_after: None,
        response: String::new(),
        latency,
        posted: None,
        forget_thread: false,
    }
}

/// The innermost cause of an error, without the URL reqwest puts in its own message.
pub(crate) fn root_cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

/// The request `webhook` would get for `event`, as it may be shown, and how it looks to a
/// person in a column `width` wide: what `fire --dry-run`, the console's test-fire and its
/// detail view show, built by the same [`prepare`] that sends.
///
/// # Errors
/// [`PrepareError`] when the config lacks what the webhook needs.
pub fn preview(
    config: &Config,
    webhook: &Webhook,
    event: &Event,
    width: usize,
) -> Result<(ShownRequest, Preview), PrepareError> {
    let shown = prepare(config, webhook, event, Ids::SHOWN, 0)?.shown();
    let look = webhook.target.preview(&shown, width);
    Ok((shown, look))
}
