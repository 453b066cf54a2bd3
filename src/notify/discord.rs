//! `kind: discord`: a Discord channel webhook. One embed (title, description, colour, a
//! link) within Discord's limits: content 2,000 characters, title 256, description 4,096;
//! mentions are never parsed, so text from a PR cannot ping a channel.

use serde_json::json;

use super::digest::{Digest, Verdict, cut};
use super::kind::{Answer, Build, Built, Destination, Entry, Finding, Pace, Preview, Spec, Target};
use super::slack::render::{Bar, Rendered, wrap};
use super::{Attempt, Outcome, PrepareError, ShownRequest};
use crate::config::Config;
use crate::secret::Secret;

/// `kind: discord` for the config reader.
pub const SPEC: Spec = Spec {
    name: "discord",
    keys: &["url"],
    parse,
};

/// Discord's limits (characters).
pub const CONTENT: usize = 2_000;
/// An embed's title.
pub const TITLE: usize = 256;
/// An embed's description.
pub const DESCRIPTION: usize = 4_096;

fn parse(e: &Entry<'_>, out: &mut Vec<Finding>) -> Option<Target> {
    let url = (e.field)("url");
    if url.is_empty() {
        out.push(Finding::Error(
            "",
            "must specify \"url\" if using a webhook of \"kind: discord\"".into(),
        ));
    } else if let Err(msg) = super::kind::check_url(&url) {
        out.push(Finding::Error("url", msg));
    } else if !url.contains("/api/webhooks/") {
        out.push(Finding::Warning(
            "url",
            "a Discord webhook URL has /api/webhooks/ID/TOKEN in its path (Channel settings → Integrations → Webhooks → Copy Webhook URL)".into(),
        ));
    }
    Some(Target::new(Discord(Secret::new(url))))
}

/// A Discord webhook URL (its path holds the token).
#[derive(Debug, Clone)]
pub struct Discord(Secret);

/// The JSON body Discord takes for `event`.
pub fn body(event: &crate::event::Event) -> serde_json::Value {
    let d = Digest::of(event);
    let color = match d.verdict {
        Verdict::Good => 0x2E_CC71,
        Verdict::Bad => 0x99_2D22,
        Verdict::Warn => 0xE6_7E22,
    };
    let mut embed = json!({
        "title": cut(&d.title, TITLE),
        "description": d.body(|k, v| format!("**{k}:** {v}"), DESCRIPTION),
        "color": color,
    });
    if let Some(link) = &d.link {
        embed["url"] = json!(link);
    }
    json!({
        "content": cut(&event.summary(), CONTENT),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    })
}

impl Destination for Discord {
    fn kind(&self) -> &'static str {
        "discord"
    }
    fn display(&self) -> String {
        crate::redact::secret_path_url(self.0.expose())
    }
    fn describe(&self) -> String {
        format!(
            "Discord webhook {}",
            crate::redact::url_origin(self.0.expose())
        )
    }
    fn fingerprint(&self) -> String {
        format!("discord {}", self.0.expose())
    }
    fn secrets(&self) -> Vec<String> {
        vec![self.0.expose().to_string()]
    }
    fn build(&self, cx: &Build<'_>) -> Result<Built, PrepareError> {
        Ok(Built {
            url: self.0.expose().to_string(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(&match cx.templated.clone() {
                Some(mut b) => {
                    let content = b["content"].as_str().map_or(0, |c| c.chars().count());
                    if content > CONTENT {
                        return Err(PrepareError::Template(format!(
                            "\"content\" is {content} characters; Discord takes {CONTENT}"
                        )));
                    }
                    if let Some(o) = b.as_object_mut() {
                        o.entry("allowed_mentions")
                            .or_insert_with(|| json!({"parse": []}));
                    }
                    b
                }
                None => body(cx.event),
            })
            .unwrap_or_default(),
            secrets: vec![self.0.expose().to_string()],
        })
    }
    /// 204 (or 200 with `?wait=true`) is success; 429 waits as Discord says; 5xx retried.
    fn judge(&self, answer: &Answer<'_>, a: &mut Attempt) {
        if (200..300).contains(&answer.status) {
            a.outcome = Outcome::Delivered;
            return;
        }
        let said: serde_json::Value = serde_json::from_str(answer.raw).unwrap_or_default();
        let message = said["message"].as_str().unwrap_or_default();
        a.error = Some(format!(
            "posting to Discord at \"{}\": returned status {}{}",
            answer.origin,
            answer.status,
            if message.is_empty() {
                String::new()
            } else {
                format!(": {message}")
            }
        ));
        match answer.status {
            429 => {
                a.outcome = Outcome::Retryable;
                // Discord says how long in its body (seconds, fractional) and the header.
                a.retry_after = answer.retry_after.or_else(|| {
                    said["retry_after"]
                        .as_f64()
                        .map(|s| std::time::Duration::from_secs_f64(s.clamp(0.0, 600.0)))
                });
            }
            s if s >= 500 || s == 408 => a.outcome = Outcome::Retryable,
            401 | 404 => {
                a.hint = Some("the webhook was deleted or its token is wrong: copy its URL again from the channel's Integrations".into());
            }
            _ => {}
        }
    }
    fn failure_verb(&self) -> &'static str {
        "posting to Discord at"
    }
    fn pace(&self, _config: &Config) -> Option<Pace> {
        // Discord allows 5 requests in 2 s per webhook.
        Some(Pace {
            key: self.0.expose().to_string(),
            every: std::time::Duration::from_millis(400),
        })
    }
    fn shown_url(&self, url: &str) -> String {
        crate::redact::secret_path_url(url)
    }
    /// The embed as Discord shows it: its title over a bar of its colour, then the text.
    fn preview(&self, shown: &ShownRequest, width: usize) -> Preview {
        let e = &shown.body["embeds"][0];
        let bar = match e["color"].as_u64() {
            Some(0x2E_CC71) => Bar::Good,
            Some(0x99_2D22) => Bar::Danger,
            Some(_) => Bar::Other,
            None => Bar::None,
        };
        let mut lines = vec![e["title"].as_str().unwrap_or_default().to_string()];
        for l in e["description"].as_str().unwrap_or_default().lines() {
            lines.extend(wrap(&l.replace("**", ""), width.saturating_sub(2)));
        }
        Preview::Message(Rendered {
            summary: shown.body["content"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            bar,
            lines,
        })
    }
}
