//! `kind: msteams`: a Microsoft Teams channel through a Workflows (Power Automate) webhook,
//! the only incoming webhook Teams has left since the Office 365 connectors retired. The
//! body is an Adaptive Card 1.4 in a `message` envelope, as Atlantis' PR #5672 sends it for
//! runs (title coloured Good or Attention, the same facts, an "Open PR" action), and a
//! drift card of herald's (one row per project, errors shown). Workflows answers 202 and
//! may still fail to render the card later, so a 2xx is "accepted by Power Automate".

use std::time::Duration;

use serde_json::{Value, json};

use super::kind::{Answer, Build, Built, Destination, Entry, Finding, Pace, Preview, Spec, Target};
use super::{Attempt, Outcome, PrepareError, ShownRequest};
use crate::config::Config;
use crate::event::{DriftNotice, DriftReport, Event, NoticeKind, drift::display_dir};
use crate::secret::Secret;

/// `kind: msteams` for the config reader.
pub const SPEC: Spec = Spec {
    name: "msteams",
    keys: &["url"],
    parse,
};

/// The most bytes of compact JSON herald sends: Teams documents 28 KB for the whole
/// envelope, and cards of ~27.7 KB were seen refused, so rows are dropped below this.
pub const MAX_BYTES: usize = 26_000;

/// "If more than four requests are made in a second, the client connection is throttled."
const PACE: Duration = Duration::from_millis(250);

/// Hosts Workflows and Logic Apps URLs live on.
const HOSTS: [&str; 4] = [
    ".powerautomate.com",
    ".powerplatform.com",
    "flow.microsoft.com",
    ".logic.azure.com",
];

fn parse(e: &Entry<'_>, out: &mut Vec<Finding>) -> Option<Target> {
    let url = (e.field)("url");
    if url.is_empty() {
        // Atlantis PR #5672's words.
        out.push(Finding::Error(
            "",
            "must specify \"url\" if using a webhook of \"kind: msteams\"".into(),
        ));
        return Some(Target::new(Teams(Secret::new(url))));
    }
    if let Err(msg) = super::kind::check_url(&url) {
        out.push(Finding::Error("url", msg));
    } else {
        if url.contains("&amp;") {
            out.push(Finding::Warning(
                "url",
                "the url holds \"&amp;\": it was HTML-escaped when copied, and Workflows will refuse its signature; write \"&\"".into(),
            ));
        }
        let host = reqwest::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let known = HOSTS
            .iter()
            .any(|h| host.ends_with(h) || host == h.trim_start_matches('.'))
            || url.contains("/powerautomate/");
        if !known {
            out.push(Finding::Warning(
                "url",
                format!(
                    "\"{host}\" is not a Workflows (Power Automate) or Logic Apps host: a Teams channel takes cards through a workflow's \"When a Teams webhook request is received\" URL (the retired Office 365 connector URLs no longer work)"
                ),
            ));
        }
    }
    Some(Target::new(Teams(Secret::new(url))))
}

/// A Workflows URL (its `sig` query is the credential).
#[derive(Debug, Clone)]
pub struct Teams(Secret);

impl Destination for Teams {
    fn kind(&self) -> &'static str {
        "msteams"
    }
    fn display(&self) -> String {
        crate::redact::url_masked(self.0.expose())
    }
    fn describe(&self) -> String {
        format!(
            "Teams workflow {}",
            crate::redact::url_origin(self.0.expose())
        )
    }
    fn fingerprint(&self) -> String {
        format!("msteams {}", self.0.expose())
    }
    fn secrets(&self) -> Vec<String> {
        vec![self.0.expose().to_string()]
    }
    fn build(&self, cx: &Build<'_>) -> Result<Built, PrepareError> {
        let body = match cx.templated.clone() {
            // A template may render the card alone; it is sent in its envelope.
            Some(card) if card["type"] == "AdaptiveCard" => envelope(card),
            Some(message) if message["type"] == "message" => message,
            Some(_) => {
                return Err(PrepareError::Template(
                    "a Teams body is an Adaptive Card ({\"type\": \"AdaptiveCard\", ...}) or a message holding one ({\"type\": \"message\", \"attachments\": [...]})".into(),
                ));
            }
            None => envelope(card(cx.event)),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        if bytes.len() > MAX_BYTES {
            return Err(PrepareError::Template(format!(
                "the card is {} bytes; Teams refuses cards near 28 KB, herald sends at most {MAX_BYTES}",
                bytes.len()
            )));
        }
        Ok(Built {
            url: self.0.expose().to_string(),
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: bytes,
            secrets: vec![self.0.expose().to_string()],
        })
    }
    fn judge(&self, answer: &Answer<'_>, a: &mut Attempt) {
        judge(answer, a);
    }
    fn failure_verb(&self) -> &'static str {
        "posting to the Teams workflow at"
    }
    fn pace(&self, _config: &Config) -> Option<Pace> {
        Some(Pace {
            key: self.0.expose().to_string(),
            every: PACE,
        })
    }
    fn preview(&self, shown: &ShownRequest, width: usize) -> Preview {
        Preview::Message(rendered(&shown.body, width))
    }
}

/// Any 2xx is accepted; Workflows answers 202, and legacy endpoints said a 429 in a 200's
/// body. 408, 429 and 5xx are retried; 413 never is (herald keeps cards under 26 KB).
fn judge(answer: &Answer<'_>, a: &mut Attempt) {
    let status = answer.status;
    if (200..300).contains(&status) {
        if answer.raw.contains("HTTP error 429") {
            a.outcome = Outcome::Retryable;
            a.error = Some(format!(
                "the Teams workflow at \"{}\" answered {status} but throttled the post (\"HTTP error 429\")",
                answer.origin
            ));
            a.retry_after = answer.retry_after;
            return;
        }
        a.outcome = Outcome::Delivered;
        a.hint = Some(
            "accepted by Power Automate: a card that fails to render shows only in the flow's run history"
                .into(),
        );
        return;
    }
    let excerpt: String = answer.clean.chars().take(200).collect();
    let mut msg = format!(
        "posting to the Teams workflow at \"{}\": returned status {status}",
        answer.origin
    );
    if !excerpt.trim().is_empty() {
        msg.push_str(&format!(": {}", excerpt.trim()));
    }
    a.error = Some(msg);
    a.hint = match status {
        401 | 403 | 404 => Some(
            "the workflow URL is wrong or its signature (sig) no longer valid: copy the URL again from the flow's \"When a Teams webhook request is received\" trigger".into(),
        ),
        400 => Some("the workflow refused the card: its trigger must take Adaptive Cards (\"When a Teams webhook request is received\")".into()),
        413 => Some("the card was too large for Teams (28 KB)".into()),
        _ => None,
    };
    if status == 408 || status == 429 || status >= 500 {
        a.outcome = Outcome::Retryable;
        a.retry_after = answer.retry_after;
    }
}

/// The `message` envelope Workflows takes.
pub fn envelope(content: Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }],
    })
}

fn text_block(text: impl Into<String>) -> Value {
    json!({"type": "TextBlock", "text": text.into(), "wrap": true})
}

/// PR #5672's two-column row: a bold label and its value.
fn row(label: &str, value: impl Into<String>) -> Value {
    json!({"type": "ColumnSet", "columns": [
        {"type": "Column", "width": "auto", "items": [
            {"type": "TextBlock", "text": format!("**{label}:**"), "weight": "Bolder"}]},
        {"type": "Column", "width": "stretch", "items": [text_block(value)]},
    ]})
}

fn adaptive(body: Vec<Value>, actions: Vec<Value>) -> Value {
    let mut card = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    });
    if !actions.is_empty() {
        card["actions"] = Value::Array(actions);
    }
    card
}

/// The card for an event.
pub fn card(event: &Event) -> Value {
    match event {
        Event::Apply(a) | Event::Plan(a) => {
            let verb = if a.success { "succeeded" } else { "failed" };
            let mut body = vec![
                json!({"type": "TextBlock", "text": format!("Atlantis {} {verb}", event.step()),
                       "weight": "Bolder", "size": "Medium", "wrap": true,
                       "color": if a.success { "Good" } else { "Attention" }}),
                json!({"type": "TextBlock", "text": format!("Repository: {}", a.repo.full_name),
                       "size": "Small", "wrap": true}),
                row("Workspace", &a.workspace),
                row("Branch", &a.pull.base_branch),
                row("User", &a.user.username),
                row("Directory", display_dir(&a.directory)),
            ];
            if a.pull.num > 0 {
                body.push(row(
                    "Pull Request",
                    format!("[#{}]({})", a.pull.num, a.pull.url),
                ));
            }
            if !a.project_name.is_empty() {
                body.push(row("Project", &a.project_name));
            }
            if let Some(shown) = a
                .result_message
                .as_deref()
                .and_then(|m| crate::event::result::shown(m, 20, 4_000))
            {
                body.push(
                    json!({"type": "TextBlock", "text": shown, "fontType": "Monospace",
                                 "size": "Small", "wrap": true, "separator": true}),
                );
            }
            let actions = if a.pull.url.starts_with("http") {
                vec![json!({"type": "Action.OpenUrl", "title": "Open PR", "url": a.pull.url})]
            } else {
                Vec::new()
            };
            adaptive(body, actions)
        }
        Event::Drift(d) => drift_card(d),
        Event::Notice(n) => notice_card(n),
    }
}

fn drift_card(d: &DriftReport) -> Value {
    let r = &d.result;
    let errored = r.errored();
    let subject = format!("{}@{}", r.repository, r.git_ref);
    let (title, color) = if r.projects_with_drift > 0 {
        (format!("Drift detected in {subject}"), "Attention")
    } else if errored > 0 {
        (
            format!("Drift unknown in {subject}: {errored} projects errored"),
            "Warning",
        )
    } else {
        (format!("No drift in {subject}"), "Good")
    };
    let mut facts = vec![
        json!({"title": "Repository", "value": r.repository}),
        json!({"title": "Ref", "value": r.git_ref}),
        json!({"title": "Projects with drift", "value": format!("{} / {}", r.projects_with_drift, r.total_projects)}),
        json!({"title": "Detection ID", "value": r.detection_id}),
    ];
    if errored > 0 {
        facts.push(json!({"title": "Projects with errors", "value": errored.to_string()}));
    }
    if let Some(e) = d.env0.as_ref().filter(|e| !e.environment.is_empty()) {
        facts.push(json!({"title": "env0 environment", "value": e.environment}));
    }
    let head = vec![
        json!({"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium",
               "color": color, "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    // Drifted and errored projects first: they are what a reader acts on.
    let mut projects: Vec<_> = r.projects.iter().collect();
    projects.sort_by_key(|p| (!p.has_drift, p.error.is_empty()));
    let rows: Vec<Value> = projects
        .iter()
        .map(|p| {
            let (detail, color) = if !p.error.is_empty() {
                (
                    format!("⚠ error: {}", crate::event::drift::first_line(&p.error)),
                    "Warning",
                )
            } else if p.has_drift {
                (
                    format!("+{} ~{} −{}", p.to_add, p.to_change, p.to_destroy),
                    "Attention",
                )
            } else {
                ("no drift".to_string(), "Good")
            };
            let place = if p.workspace.is_empty() || p.workspace == "default" {
                display_dir(&p.path)
            } else {
                format!("{} ({})", display_dir(&p.path), p.workspace)
            };
            // One TextBlock a project: the densest row a card has (a ColumnSet costs three
            // times the bytes, and 26 KB is the budget).
            json!({"type": "TextBlock", "wrap": true, "color": color,
                   "text": format!("**{}** · {place} · {detail}", p.label())})
        })
        .collect();
    fit(head, rows, "projects")
}

/// The card with as many `rows` after `head` as keep its envelope within [`MAX_BYTES`],
/// and a last line saying how many were left out.
fn fit(head: Vec<Value>, rows: Vec<Value>, what: &str) -> Value {
    // Room kept for the "…and K more" line.
    const TAIL: usize = 120;
    let base =
        serde_json::to_vec(&envelope(adaptive(head.clone(), Vec::new()))).map_or(0, |b| b.len());
    let mut used = base;
    let mut body = head;
    let total = rows.len();
    let mut kept = 0;
    for r in rows {
        let len = serde_json::to_vec(&r).map_or(0, |b| b.len()) + 1;
        if used + len + TAIL > MAX_BYTES {
            break;
        }
        used += len;
        body.push(r);
        kept += 1;
    }
    if kept < total {
        body.push(json!({"type": "TextBlock", "isSubtle": true, "wrap": true,
            "text": format!("…and {} more {what} (see herald)", total - kept)}));
    }
    adaptive(body, Vec::new())
}

fn notice_card(n: &DriftNotice) -> Value {
    let color = match n.event {
        NoticeKind::DriftFailed => "Attention",
        NoticeKind::DriftStale => "Warning",
    };
    let mut facts = vec![
        json!({"title": "Repository", "value": n.repository}),
        json!({"title": "Ref", "value": n.git_ref}),
    ];
    if let Some(s) = n.status {
        facts.push(json!({"title": "Atlantis answered", "value": s.to_string()}));
    }
    if let Some(at) = &n.last_report_at {
        facts.push(json!({"title": "Last report", "value": at}));
    }
    let mut body = vec![
        json!({"type": "TextBlock", "text": n.summary(), "weight": "Bolder", "size": "Medium",
               "color": color, "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    if !n.error.is_empty() {
        body.push(text_block(crate::event::drift::first_line(&n.error)));
    }
    adaptive(body, Vec::new())
}

/// The card laid out as text for the console and `fire --dry-run`: its title as the
/// summary, the title's colour as the bar, the rest wrapped to `width`.
pub fn rendered(body: &Value, width: usize) -> super::slack::render::Rendered {
    use super::slack::render::{Bar, Rendered, wrap};
    let content = &body["attachments"][0]["content"];
    let bar = match content["body"][0]["color"].as_str() {
        Some("Good") => Bar::Good,
        Some("Attention") => Bar::Danger,
        Some(_) => Bar::Other,
        None => Bar::None,
    };
    let mut lines = text_of(content).into_iter();
    let summary = lines.next().unwrap_or_default();
    Rendered {
        summary,
        bar,
        lines: lines
            .flat_map(|l| wrap(&l, width.saturating_sub(2)))
            .collect(),
    }
}

/// The card's text, line by line, as Teams shows it roughly (for previews).
pub fn text_of(body: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                match o.get("type").and_then(Value::as_str) {
                    Some("TextBlock") => {
                        if let Some(t) = o.get("text").and_then(Value::as_str) {
                            out.extend(t.lines().map(str::to_string));
                        }
                        return;
                    }
                    Some("FactSet") => {
                        for f in o
                            .get("facts")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            out.push(format!(
                                "{}: {}",
                                f["title"].as_str().unwrap_or_default(),
                                f["value"].as_str().unwrap_or_default()
                            ));
                        }
                        return;
                    }
                    Some("ColumnSet") => {
                        let mut cells = Vec::new();
                        for c in o
                            .get("columns")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            let mut inner = Vec::new();
                            walk(c, &mut inner);
                            cells.push(inner.join(" "));
                        }
                        out.push(cells.join("  "));
                        return;
                    }
                    Some("Action.OpenUrl") => {
                        out.push(format!(
                            "[{}] {}",
                            o.get("title").and_then(Value::as_str).unwrap_or_default(),
                            o.get("url").and_then(Value::as_str).unwrap_or_default()
                        ));
                        return;
                    }
                    _ => {}
                }
                for (k, v) in o {
                    if k != "msteams" {
                        walk(v, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(body, &mut out);
    out
}
