//! `kind: pagerduty`: PagerDuty Events API v2. Drift triggers an alert and a report
//! without drift resolves it (one alert per `repository@ref`, its `dedup_key`); a failed
//! run triggers and the next successful run of the same project resolves; herald's
//! notices trigger. Summaries ≤ 1,024 characters, events ≤ 512,000 bytes.

use serde_json::{Value, json};

use super::digest::{Digest, Verdict, cut};
use super::kind::{Answer, Build, Built, Destination, Entry, Finding, Preview, Spec, Target};
use super::slack::render::{Bar, Rendered};
use super::{Attempt, Outcome, PrepareError, ShownRequest};
use crate::event::{Event, NoticeKind};
use crate::secret::Secret;

/// `kind: pagerduty` for the config reader.
pub const SPEC: Spec = Spec {
    name: "pagerduty",
    keys: &["routing-key", "url"],
    parse,
};

/// PagerDuty's Events API v2.
pub const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// The longest summary PagerDuty takes.
pub const SUMMARY: usize = 1_024;
/// The largest event PagerDuty takes.
pub const MAX_BYTES: usize = 512_000;

fn parse(e: &Entry<'_>, out: &mut Vec<Finding>) -> Option<Target> {
    let key = (e.field)("routing-key");
    let url = (e.field)("url");
    if key.is_empty() {
        out.push(Finding::Error(
            "",
            "must specify \"routing-key\" (the integration key of a PagerDuty Events API v2 integration) if using a webhook of \"kind: pagerduty\"".into(),
        ));
    } else if key.len() != 32 || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        out.push(Finding::Warning(
            "routing-key",
            format!(
                "a PagerDuty integration key is 32 letters and digits (this one is {} characters): copy it from the service's Events API v2 integration",
                key.chars().count()
            ),
        ));
    }
    let url = if url.is_empty() {
        EVENTS_URL.to_string()
    } else {
        if let Err(msg) = super::kind::check_url(&url) {
            out.push(Finding::Error("url", msg));
        }
        url
    };
    Some(Target::new(PagerDuty {
        routing_key: Secret::new(key),
        url,
    }))
}

/// An Events API v2 integration.
#[derive(Debug, Clone)]
pub struct PagerDuty {
    routing_key: Secret,
    url: String,
}

/// What the alert of `event` is known by: drift by `repository@ref`, a run by its project.
pub fn dedup_key(event: &Event) -> String {
    match event {
        Event::Apply(a) | Event::Plan(a) => format!(
            "{}:{}/{}@{}",
            event.kind().as_str(),
            a.repo.full_name,
            if a.project_name.is_empty() {
                &a.directory
            } else {
                &a.project_name
            },
            a.workspace
        ),
        Event::Drift(d) => d.key(),
        Event::Notice(n) => format!("{}@{}:{}", n.repository, n.git_ref, n.event.as_str()),
    }
}

/// The Events API v2 body for `event`.
pub fn body(routing_key: &str, event: &Event) -> Value {
    let d = Digest::of(event);
    let resolve = match event {
        Event::Drift(r) => r.result.projects_with_drift == 0 && r.result.errored() == 0,
        Event::Apply(a) | Event::Plan(a) => a.success,
        Event::Notice(_) => false,
    };
    let key = dedup_key(event);
    if resolve {
        return json!({"routing_key": routing_key, "event_action": "resolve", "dedup_key": key});
    }
    let severity = match (d.verdict, event) {
        (_, Event::Notice(n)) if n.event == NoticeKind::DriftStale => "warning",
        (Verdict::Warn, _) => "warning",
        _ => "error",
    };
    let source = match event {
        Event::Apply(a) | Event::Plan(a) => a.repo.full_name.clone(),
        Event::Drift(r) => r.result.repository.clone(),
        Event::Notice(n) => n.repository.clone(),
    };
    let details: serde_json::Map<String, Value> = d
        .facts
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .chain(std::iter::once((
            "rows".to_string(),
            json!(d.rows.iter().take(200).collect::<Vec<_>>()),
        )))
        .collect();
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": cut(&d.title, SUMMARY),
            "source": source,
            "severity": severity,
            "component": event.kind().as_str(),
            "group": "herald",
            "class": match event {
                Event::Notice(n) => n.event.as_str(),
                _ => event.kind().as_str(),
            },
            "custom_details": details,
        },
        "client": "herald",
    });
    if let Some(link) = &d.link {
        body["links"] = json!([{"href": link, "text": "Open"}]);
    }
    // Never over PagerDuty's limit: the details go first, as Alertmanager does.
    if serde_json::to_vec(&body).map_or(0, |b| b.len()) > MAX_BYTES {
        body["payload"]["custom_details"] =
            json!({"note": "details left out: over PagerDuty's 512 KB"});
    }
    body
}

impl Destination for PagerDuty {
    fn kind(&self) -> &'static str {
        "pagerduty"
    }
    fn display(&self) -> String {
        format!(
            "{} (routing key <redacted>)",
            crate::redact::url_masked(&self.url)
        )
    }
    fn describe(&self) -> String {
        "PagerDuty Events API v2".into()
    }
    fn fingerprint(&self) -> String {
        format!("pagerduty {} {}", self.url, self.routing_key.expose())
    }
    fn secrets(&self) -> Vec<String> {
        vec![self.routing_key.expose().to_string()]
    }
    fn build(&self, cx: &Build<'_>) -> Result<Built, PrepareError> {
        Ok(Built {
            url: self.url.clone(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(&match cx.templated.clone() {
                // The key is herald's to add: a template never sees a secret.
                Some(mut b) => match b.as_object_mut() {
                    Some(o) => {
                        o.insert("routing_key".into(), json!(self.routing_key.expose()));
                        b
                    }
                    None => {
                        return Err(PrepareError::Template(
                            "a PagerDuty body is an Events v2 object ({\"event_action\": ..., ...})".into(),
                        ));
                    }
                },
                None => body(self.routing_key.expose(), cx.event),
            })
            .unwrap_or_default(),
            secrets: vec![self.routing_key.expose().to_string()],
        })
    }
    /// `202 {"status": "success"}` is success; 400 says what is invalid; 429 and 5xx are
    /// retried.
    fn judge(&self, answer: &Answer<'_>, a: &mut Attempt) {
        let said: Value = serde_json::from_str(answer.raw).unwrap_or_default();
        if (200..300).contains(&answer.status) {
            a.outcome = Outcome::Delivered;
            return;
        }
        let errors: Vec<&str> = said["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        a.error = Some(format!(
            "sending to PagerDuty at \"{}\": returned status {}: {}{}",
            answer.origin,
            answer.status,
            said["message"].as_str().unwrap_or("no message"),
            if errors.is_empty() {
                String::new()
            } else {
                format!(" ({})", errors.join("; "))
            }
        ));
        match answer.status {
            429 | 408 => {
                a.outcome = Outcome::Retryable;
                a.retry_after = answer.retry_after;
            }
            s if s >= 500 => a.outcome = Outcome::Retryable,
            400 if errors.iter().any(|e| e.contains("routing_key")) => {
                a.hint = Some("the routing key is not an Events API v2 integration key".into());
            }
            _ => {}
        }
    }
    fn failure_verb(&self) -> &'static str {
        "sending to PagerDuty at"
    }
    /// What PagerDuty will do: trigger (with severity and summary) or resolve, and the
    /// alert's key.
    fn preview(&self, shown: &ShownRequest, _width: usize) -> Preview {
        let b = &shown.body;
        let action = b["event_action"].as_str().unwrap_or_default();
        let summary = match action {
            "trigger" => format!(
                "trigger ({}): {}",
                b["payload"]["severity"].as_str().unwrap_or_default(),
                b["payload"]["summary"].as_str().unwrap_or_default()
            ),
            other => format!("{other} the alert"),
        };
        let mut lines = vec![format!(
            "dedup_key {}",
            b["dedup_key"].as_str().unwrap_or_default()
        )];
        if let Some(details) = b["payload"]["custom_details"].as_object() {
            for (k, v) in details {
                if let Some(s) = v.as_str() {
                    lines.push(format!("{k}: {s}"));
                }
            }
        }
        Preview::Message(Rendered {
            summary,
            bar: if action == "resolve" {
                Bar::Good
            } else {
                Bar::Danger
            },
            lines,
        })
    }
}
