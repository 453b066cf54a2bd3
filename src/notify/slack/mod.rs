//! `kind: slack`: a channel through the Web API's `chat.postMessage` with the bot token, or
//! (with `url:` and no channel) an incoming webhook, whose URL is itself the credential.

pub mod message;
pub mod render;

use std::time::Duration;

use serde_json::Value;

pub use message::*;

use super::kind::{Answer, Build, Built, Destination, Entry, Finding, Pace, Preview, Spec, Target};

/// Slack's documented rate for posting to one channel: one message a second.
const SLACK_PACE: Duration = Duration::from_secs(1);
use super::{Attempt, Outcome, PrepareError, ShownRequest};
use crate::config::{Config, EventKind};
use crate::secret::Secret;

/// `kind: slack` for the config reader.
pub const SPEC: Spec = Spec {
    name: "slack",
    keys: &["channel", "url", "update"],
    parse,
};

/// `update:`: one message per thing (opt-in; Atlantis posts a new message each time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// The thing's message is edited with each event (`chat.update`).
    Edit,
    /// Each event is a reply in the thing's thread, sent to the channel too when it got
    /// worse.
    Thread,
}

fn parse(e: &Entry<'_>, out: &mut Vec<Finding>) -> Option<Target> {
    let channel = (e.field)("channel");
    let url = (e.field)("url");
    let drift = e.event == EventKind::Drift;
    let update = match (e.field)("update").as_str() {
        "" => None,
        "edit" => Some(Update::Edit),
        "thread" => Some(Update::Thread),
        other => {
            out.push(Finding::Error(
                "update",
                format!("\"update: {other}\" is not one of edit, thread"),
            ));
            None
        }
    };
    if update.is_some() && channel.is_empty() && !url.is_empty() {
        out.push(Finding::Error(
            "update",
            "\"update\" needs a bot token and a \"channel\": an incoming webhook's posts cannot be edited or replied to".into(),
        ));
    }
    if channel.is_empty() && !url.is_empty() {
        // herald: a Slack incoming webhook (Atlantis issue #2661).
        if let Err(msg) = super::kind::check_url(&url) {
            out.push(Finding::Error("url", msg));
        }
        return Some(Target::new(Incoming(Secret::new(url))));
    }
    if !e.has_slack_token {
        out.push(Finding::Error(
            "kind",
            if drift {
                "must specify top-level \"slack-token\" if using a drift webhook of \"kind: slack\""
            } else {
                "must specify top-level \"slack-token\" if using a webhook of \"kind: slack\""
            }
            .into(),
        ));
    }
    if channel.is_empty() {
        out.push(Finding::Error(
            "channel",
            if drift {
                "must specify \"channel\" for drift webhook of \"kind: slack\""
            } else {
                "must specify \"channel\" if using a webhook of \"kind: slack\""
            }
            .into(),
        ));
    } else if channel.starts_with('#') {
        out.push(Finding::Warning(
            "channel",
            format!(
                "channel \"{channel}\" starts with '#': Slack expects the name without it, \
                 or better the channel ID (such as C0123456789)"
            ),
        ));
    }
    Some(Target::new(Channel {
        name: channel,
        update,
    }))
}

/// A channel, posted to with `chat.postMessage` and the bot token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The channel (an id is safest).
    pub name: String,
    /// Whether one message per thing is edited or threaded.
    pub update: Option<Update>,
}

impl Channel {
    /// A channel posted to anew with each event, as Atlantis does.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            update: None,
        }
    }
}

/// What one message per thing is kept for: a drift report's `repository@ref` (an env0
/// report's environment, see [`crate::event::DriftReport::key`]); a run's
/// repository, PR, project and workspace (its plan and apply share it); herald's notices
/// join their repository's drift.
pub fn correlation(event: &crate::event::Event) -> String {
    use crate::event::Event;
    match event {
        Event::Apply(a) | Event::Plan(a) => format!(
            "run:{}#{}:{}@{}",
            a.repo.full_name,
            a.pull.num,
            if a.project_name.is_empty() {
                &a.directory
            } else {
                &a.project_name
            },
            a.workspace
        ),
        Event::Drift(d) => format!("drift:{}", d.key()),
        Event::Notice(n) => format!("drift:{}@{}", n.repository, n.git_ref),
    }
}

/// Slack's answers that say the remembered message is no longer there to edit or reply to.
fn thread_gone(code: &str) -> bool {
    matches!(
        code,
        "message_not_found" | "cant_update_message" | "edit_window_closed" | "thread_not_found"
    )
}

/// An incoming webhook; the URL is the credential.
#[derive(Debug, Clone)]
pub struct Incoming(pub Secret);

fn json_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

impl Destination for Channel {
    fn kind(&self) -> &'static str {
        "slack"
    }
    fn display(&self) -> String {
        self.name.clone()
    }
    fn describe(&self) -> String {
        match self.update {
            None => format!("Slack channel {}", self.name),
            Some(Update::Edit) => format!(
                "Slack channel {} (one message per thing, edited)",
                self.name
            ),
            Some(Update::Thread) => format!("Slack channel {} (one thread per thing)", self.name),
        }
    }
    fn fingerprint(&self) -> String {
        format!("slack-channel {}", self.name)
    }
    fn correlation(&self, event: &crate::event::Event) -> Option<String> {
        self.update.map(|_| correlation(event))
    }
    fn uses_slack_token(&self) -> bool {
        true
    }
    fn build(&self, cx: &Build<'_>) -> Result<Built, PrepareError> {
        let token = cx
            .config
            .slack_token
            .as_ref()
            .ok_or(PrepareError::NoSlackToken)?;
        let mut body = match cx.templated.clone() {
            // A template's message goes to the webhook's channel unless it names one.
            Some(mut m) => {
                if let Some(o) = m.as_object_mut() {
                    o.entry("channel")
                        .or_insert_with(|| Value::String(self.name.clone()));
                }
                m
            }
            None => api_body(&self.name, &message(cx.event, Style::of(cx.config))),
        };
        let method = match (self.update, cx.thread) {
            (Some(Update::Edit), Some(m)) => {
                body["channel"] = Value::String(m.channel.clone());
                body["ts"] = Value::String(m.ts.clone());
                "chat.update"
            }
            (Some(Update::Thread), Some(m)) => {
                body["thread_ts"] = Value::String(m.ts.clone());
                // A reply is seen in the channel too when the state got worse.
                if cx.event.is_problem() && !m.problem {
                    body["reply_broadcast"] = Value::Bool(true);
                }
                "chat.postMessage"
            }
            _ => "chat.postMessage",
        };
        Ok(Built {
            url: format!("{}/{method}", cx.config.slack_api_url),
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/json; charset=utf-8".into(),
                ),
                ("Authorization".into(), format!("Bearer {}", token.expose())),
            ],
            body: json_bytes(&body),
            secrets: vec![token.expose().to_string()],
        })
    }
    fn judge(&self, a: &Answer<'_>, attempt: &mut Attempt) {
        judge_api(a, attempt);
    }
    fn failure_verb(&self) -> &'static str {
        "posting to Slack at"
    }
    fn pace(&self, config: &Config) -> Option<Pace> {
        Some(Pace {
            key: format!("{}#{}", config.slack_api_url, self.name),
            every: SLACK_PACE,
        })
    }
    fn preview(&self, shown: &ShownRequest, width: usize) -> Preview {
        Preview::Message(render::render(&shown.body, width))
    }
}

impl Destination for Incoming {
    fn kind(&self) -> &'static str {
        "slack"
    }
    fn display(&self) -> String {
        crate::redact::secret_path_url(self.0.expose())
    }
    fn describe(&self) -> String {
        format!("Slack incoming webhook {}", self.display())
    }
    fn fingerprint(&self) -> String {
        format!("slack-incoming {}", self.0.expose())
    }
    fn secrets(&self) -> Vec<String> {
        vec![self.0.expose().to_string()]
    }
    fn build(&self, cx: &Build<'_>) -> Result<Built, PrepareError> {
        Ok(Built {
            url: self.0.expose().to_string(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: json_bytes(
                &cx.templated
                    .clone()
                    .unwrap_or_else(|| incoming_body(&message(cx.event, Style::of(cx.config)))),
            ),
            secrets: vec![self.0.expose().to_string()],
        })
    }
    fn judge(&self, a: &Answer<'_>, attempt: &mut Attempt) {
        judge_incoming(a, attempt);
    }
    fn failure_verb(&self) -> &'static str {
        "posting to Slack at"
    }
    fn pace(&self, _config: &Config) -> Option<Pace> {
        Some(Pace {
            key: self.0.expose().to_string(),
            every: SLACK_PACE,
        })
    }
    fn shown_url(&self, url: &str) -> String {
        crate::redact::secret_path_url(url)
    }
    fn preview(&self, shown: &ShownRequest, width: usize) -> Preview {
        Preview::Message(render::render(&shown.body, width))
    }
}

/// `chat.postMessage`: a 200 with `ok:false` is still a failure, named by its error code.
fn judge_api(answer: &Answer<'_>, a: &mut Attempt) {
    let status = answer.status;
    if status == 429 {
        a.outcome = Outcome::Retryable;
        let wait = answer.retry_after.unwrap_or(Duration::from_secs(1));
        a.retry_after = Some(wait);
        a.error = Some(format!(
            "ratelimited: slack rate limit exceeded, retry after {}s",
            wait.as_secs()
        ));
        a.hint = hint("ratelimited", &Value::Null);
        return;
    }
    if status != 200 {
        // Slack sends HTML with its 5xx: the status line is all there is to say.
        let reason = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        a.error = Some(
            format!("slack server error: {status} {reason}")
                .trim_end()
                .to_string(),
        );
        a.outcome = if status >= 500 || status == 408 {
            Outcome::Retryable
        } else {
            Outcome::Failed
        };
        return;
    }
    let Ok(json) = serde_json::from_str::<Value>(answer.raw) else {
        a.error = Some("invalid response from Slack: the body is not JSON".to_string());
        a.outcome = Outcome::Failed;
        return;
    };
    if json.get("ok").and_then(Value::as_bool) == Some(true) {
        a.outcome = Outcome::Delivered;
        if let (Some(c), Some(ts)) = (json["channel"].as_str(), json["ts"].as_str()) {
            a.posted = Some((c.to_string(), ts.to_string()));
        }
        return;
    }
    let code = json
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("unknown_error")
        .to_string();
    a.outcome = if is_retryable_error(&code) {
        Outcome::Retryable
    } else {
        Outcome::Failed
    };
    a.hint = hint(&code, &json);
    if thread_gone(&code) {
        // The message was deleted or is too old to edit: the next attempt posts anew.
        a.forget_thread = true;
        a.outcome = Outcome::Retryable;
        a.retry_after = Some(Duration::ZERO);
        a.hint = Some("the message this webhook keeps is gone or can no longer be edited: the next attempt posts a new one".into());
    }
    a.error = Some(code);
}

/// An incoming webhook: success is 200 with the body `ok`; errors are plain-text codes.
fn judge_incoming(answer: &Answer<'_>, a: &mut Attempt) {
    let body = answer.raw.trim();
    match answer.status {
        200 if body == "ok" => a.outcome = Outcome::Delivered,
        200 => {
            a.outcome = Outcome::Failed;
            a.error = Some(
                "invalid response from the Slack incoming webhook (expected \"ok\")".to_string(),
            );
        }
        429 => {
            a.outcome = Outcome::Retryable;
            a.retry_after = Some(answer.retry_after.unwrap_or(Duration::from_secs(1)));
            a.error = Some("ratelimited".to_string());
        }
        s => {
            a.outcome = if s >= 500 || s == 408 {
                Outcome::Retryable
            } else {
                Outcome::Failed
            };
            let code: String = body.chars().take(100).collect();
            a.hint = hint(&code, &Value::Null);
            a.error = Some(if code.is_empty() || code.starts_with('<') {
                format!("slack incoming webhook returned status {s}")
            } else {
                code
            });
        }
    }
}

/// Slack error codes worth another try (rate limits and Slack's own transient failures).
/// Everything else is a configuration or payload problem that a retry cannot fix.
pub fn is_retryable_error(code: &str) -> bool {
    matches!(
        code,
        "ratelimited"
            | "rate_limited"
            | "internal_error"
            | "service_unavailable"
            | "request_timeout"
    )
}

/// What to do about a Slack error, for the common ones.
pub fn hint(code: &str, detail: &Value) -> Option<String> {
    let h = match code {
        "not_in_channel" => {
            "the bot is not in the channel: invite it (/invite @your-bot) or add the chat:write.public scope"
        }
        "channel_not_found" => {
            "Slack cannot see that channel: use the channel ID (such as C0123456789, under the channel's name > About) and, for a private channel, invite the bot"
        }
        "is_archived" => "the channel is archived: unarchive it or choose another channel",
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" => {
            "the slack-token is wrong, revoked or expired: copy the Bot User OAuth Token (xoxb-...) again"
        }
        "missing_scope" => {
            let needed = detail
                .get("needed")
                .and_then(Value::as_str)
                .unwrap_or("chat:write");
            return Some(format!(
                "the token lacks the scope {needed}: add it under OAuth & Permissions and reinstall the app"
            ));
        }
        "no_service" | "invalid_token" | "no_team" | "team_disabled" => {
            "the incoming-webhook URL was revoked or is wrong: create a new one"
        }
        "channel_is_archived" => "the webhook's channel is archived",
        "ratelimited" | "rate_limited" => {
            "Slack is rate limiting this app: herald waits and retries"
        }
        "msg_too_long" | "attachment_payload_limit_exceeded" => "the message is too long for Slack",
        _ => return None,
    };
    Some(h.to_string())
}

/// What Slack's `auth.test` says about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthInfo {
    /// Workspace name.
    pub team: String,
    /// The bot user's name.
    pub user: String,
}

/// Calls Slack's `auth.test` once for a token.
///
/// # Errors
/// The Slack error code (`invalid_auth`), the HTTP status line, or the transport error,
/// free of the token.
pub async fn auth_test(
    client: &reqwest::Client,
    api_url: &str,
    token: &str,
) -> Result<AuthInfo, String> {
    let response = client
        .post(format!("{api_url}/auth.test"))
        .timeout(crate::config::DEFAULT_TIMEOUT)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send()
        .await
        .map_err(|e| crate::redact::sanitize(&super::root_cause(&e), &[token]))?;
    let status = response.status();
    if status.as_u16() == 429 {
        return Err("slack rate limit exceeded".to_string());
    }
    if !status.is_success() {
        return Err(format!("slack server error: {status}"));
    }
    let json: Value = response
        .json()
        .await
        .map_err(|_| "invalid response from Slack: the body is not JSON".to_string())?;
    if json.get("ok").and_then(Value::as_bool) == Some(true) {
        let s = |k: &str| {
            json.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok(AuthInfo {
            team: s("team"),
            user: s("user"),
        })
    } else {
        Err(json
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error")
            .to_string())
    }
}
