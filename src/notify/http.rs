//! `kind: http`: a POST of the event's JSON as Atlantis sent it, with the configured
//! headers and, when the webhook has a `secret:`, a Standard Webhooks signature.

use super::kind::{Answer, Build, Built, Destination, Entry, Finding, Spec, Target};
use super::{Attempt, Outcome, PrepareError, sign};

/// `kind: http` for the config reader.
pub const SPEC: Spec = Spec {
    name: "http",
    keys: &["url"],
    parse,
};

fn parse(e: &Entry<'_>, out: &mut Vec<Finding>) -> Option<Target> {
    let url = (e.field)("url");
    if url.is_empty() {
        out.push(Finding::Error(
            "",
            if e.event == crate::config::EventKind::Drift {
                "must specify \"url\" for drift webhook of \"kind: http\""
            } else {
                "must specify \"url\" if using a webhook of \"kind: http\""
            }
            .into(),
        ));
    } else if let Err(msg) = super::kind::check_url(&url) {
        out.push(Finding::Error("url", msg));
    }
    Some(Target::new(Http(url)))
}

/// A receiver's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http(pub String);

impl Destination for Http {
    fn kind(&self) -> &'static str {
        "http"
    }
    fn display(&self) -> String {
        crate::redact::url_masked(&self.0)
    }
    fn describe(&self) -> String {
        format!("POST {}", self.display())
    }
    fn fingerprint(&self) -> String {
        format!("http {}", self.0)
    }
    fn build(&self, cx: &Build<'_>) -> Result<Built, PrepareError> {
        let mut headers = Vec::new();
        let mut secrets = Vec::new();
        let configured = cx
            .config
            .http_headers
            .iter()
            .chain(cx.webhook.headers.iter());
        for (name, values) in configured {
            for v in values {
                secrets.extend(crate::secret::header_secrets(name, v));
                headers.push((name.clone(), v.clone()));
            }
        }
        super::default_header(&mut headers, "Content-Type", "application/json".into());
        let body = serde_json::to_vec(cx.templated.as_ref().unwrap_or(&cx.event.to_json()))
            .unwrap_or_default();
        headers.push(("X-Herald-Event".into(), cx.event.kind().as_str().into()));
        headers.push(("X-Herald-Delivery".into(), cx.delivery_id.into()));
        if let Some(secret) = &cx.webhook.secret {
            secrets.push(secret.expose().to_string());
            headers.push(("webhook-id".into(), cx.delivery_id.into()));
            headers.push(("webhook-timestamp".into(), cx.timestamp.to_string()));
            headers.push((
                "webhook-signature".into(),
                sign::signature(secret.expose(), cx.delivery_id, cx.timestamp, &body),
            ));
        }
        Ok(Built {
            url: self.0.clone(),
            headers,
            body,
            secrets,
        })
    }

    /// Any 2xx is success; 408, 429 and 5xx are worth another try; a redirect is reported
    /// with where it points, since following it would turn the POST into a GET.
    fn judge(&self, answer: &Answer<'_>, a: &mut Attempt) {
        let status = answer.status;
        if (200..300).contains(&status) {
            a.outcome = Outcome::Delivered;
            return;
        }
        let excerpt: String = answer.clean.chars().take(200).collect();
        let mut msg = format!(
            "sending webhook to \"{}\": returned status {status}",
            answer.origin
        );
        if !excerpt.trim().is_empty() {
            msg.push_str(&format!(": {}", excerpt.trim()));
        }
        a.error = Some(msg);
        if status == 408 || status == 429 || status >= 500 {
            a.outcome = Outcome::Retryable;
            a.retry_after = answer.retry_after;
        } else if (300..400).contains(&status) {
            a.hint = Some(format!(
                "the receiver redirects{}; herald does not follow redirects (a POST would become a GET): configure the final URL",
                answer
                    .location
                    .as_ref()
                    .map(|l| format!(" to {l}"))
                    .unwrap_or_default()
            ));
        }
    }
}
