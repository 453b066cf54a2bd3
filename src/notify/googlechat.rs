//! `kind: googlechat`: a Google Chat space's incoming webhook. A text message (≤ 4,096
//! characters) in a thread per subject (`repository@ref` for drift, the PR for runs), so
//! one repository's reports stay together; `REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD` starts a
//! thread when there is none yet, where a plain reply would silently start a new one.

use serde_json::json;

use super::digest::{Digest, Verdict};
use super::kind::{Answer, Build, Built, Destination, Entry, Finding, Pace, Preview, Spec, Target};
use super::slack::render::{Bar, Rendered, wrap};
use super::{Attempt, Outcome, PrepareError, ShownRequest};
use crate::config::Config;
use crate::event::Event;
use crate::secret::Secret;

/// `kind: googlechat` for the config reader.
pub const SPEC: Spec = Spec {
    name: "googlechat",
    keys: &["url"],
    parse,
};

/// The longest message text Google Chat takes.
pub const TEXT: usize = 4_096;

fn parse(e: &Entry<'_>, out: &mut Vec<Finding>) -> Option<Target> {
    let url = (e.field)("url");
    if url.is_empty() {
        out.push(Finding::Error(
            "",
            "must specify \"url\" if using a webhook of \"kind: googlechat\"".into(),
        ));
    } else if let Err(msg) = super::kind::check_url(&url) {
        out.push(Finding::Error("url", msg));
    } else if !(url.contains("key=") && url.contains("token=")) {
        out.push(Finding::Warning(
            "url",
            "a Google Chat webhook URL carries key= and token= (Apps & integrations → Webhooks → copy the URL whole)".into(),
        ));
    }
    Some(Target::new(GoogleChat(Secret::new(url))))
}

/// A Google Chat webhook URL (its `key` and `token` are the credential).
#[derive(Debug, Clone)]
pub struct GoogleChat(Secret);

/// The thread an event belongs to.
pub fn thread_key(event: &Event) -> String {
    match event {
        Event::Apply(a) | Event::Plan(a) => format!("{}#{}", a.repo.full_name, a.pull.num),
        Event::Drift(d) => d.key(),
        Event::Notice(n) => format!("{}@{}", n.repository, n.git_ref),
    }
}

/// The JSON body Google Chat takes for `event`.
pub fn body(event: &Event) -> serde_json::Value {
    let d = Digest::of(event);
    let mark = match d.verdict {
        Verdict::Good => "✅",
        Verdict::Bad => "🔴",
        Verdict::Warn => "⚠️",
    };
    let mut text = format!("{mark} *{}*\n", d.title);
    if let Some(link) = &d.link {
        text.push_str(&format!("<{link}|Open>\n"));
    }
    let room = TEXT.saturating_sub(text.chars().count());
    text.push_str(&d.body(|k, v| format!("*{k}:* {v}"), room));
    json!({"text": text, "thread": {"threadKey": thread_key(event)}})
}

impl Destination for GoogleChat {
    fn kind(&self) -> &'static str {
        "googlechat"
    }
    fn display(&self) -> String {
        crate::redact::url_masked(self.0.expose())
    }
    fn describe(&self) -> String {
        format!(
            "Google Chat space {}",
            crate::redact::url_origin(self.0.expose())
        )
    }
    fn fingerprint(&self) -> String {
        format!("googlechat {}", self.0.expose())
    }
    fn secrets(&self) -> Vec<String> {
        vec![self.0.expose().to_string()]
    }
    fn build(&self, cx: &Build<'_>) -> Result<Built, PrepareError> {
        let url = self.0.expose();
        let sep = if url.contains('?') { '&' } else { '?' };
        Ok(Built {
            url: format!("{url}{sep}messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"),
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=UTF-8".into(),
            )],
            body: serde_json::to_vec(&match cx.templated.clone() {
                Some(mut b) => {
                    if let Some(o) = b.as_object_mut() {
                        o.entry("thread")
                            .or_insert_with(|| json!({"threadKey": thread_key(cx.event)}));
                    }
                    b
                }
                None => body(cx.event),
            })
            .unwrap_or_default(),
            secrets: vec![url.to_string()],
        })
    }
    fn judge(&self, answer: &Answer<'_>, a: &mut Attempt) {
        if (200..300).contains(&answer.status) {
            a.outcome = Outcome::Delivered;
            return;
        }
        let said: serde_json::Value = serde_json::from_str(answer.raw).unwrap_or_default();
        let message = said["error"]["message"].as_str().unwrap_or_default();
        a.error = Some(format!(
            "posting to Google Chat at \"{}\": returned status {}{}",
            answer.origin,
            answer.status,
            if message.is_empty() {
                String::new()
            } else {
                format!(": {}", crate::redact::sanitize(message, &[]))
            }
        ));
        match answer.status {
            429 | 408 => {
                a.outcome = Outcome::Retryable;
                a.retry_after = answer.retry_after;
            }
            s if s >= 500 => a.outcome = Outcome::Retryable,
            400 | 401 | 403 | 404 => {
                a.hint = Some("the webhook's key or token is wrong, or the webhook was deleted: copy its URL again from the space's Apps & integrations".into());
            }
            _ => {}
        }
    }
    fn failure_verb(&self) -> &'static str {
        "posting to Google Chat at"
    }
    /// The message as the space shows it, its thread named.
    fn preview(&self, shown: &ShownRequest, width: usize) -> Preview {
        let text = shown.body["text"].as_str().unwrap_or_default();
        let mut lines = text.lines();
        let summary = lines.next().unwrap_or_default().replace('*', "");
        let mut out: Vec<String> = lines
            .flat_map(|l| wrap(&l.replace('*', ""), width.saturating_sub(2)))
            .collect();
        if let Some(key) = shown.body["thread"]["threadKey"].as_str() {
            out.push(format!("(in thread {key})"));
        }
        Preview::Message(Rendered {
            summary,
            bar: Bar::None,
            lines: out,
        })
    }
    fn pace(&self, _config: &Config) -> Option<Pace> {
        // Google Chat takes one message a second per space.
        Some(Pace {
            key: self.0.expose().to_string(),
            every: std::time::Duration::from_secs(1),
        })
    }
}
