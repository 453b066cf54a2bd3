//! Slack messages, built exactly as Atlantis builds them.
//!
//! Atlantis posts one legacy attachment (colour bar, text, short fields) with an empty
//! `text`. herald keeps that attachment field for field and adds what Atlantis lacks: a
//! plain `text`/`fallback` summary for notifications and screen readers, `&`, `<` and `>`
//! escaped, and, for drift, the drifted projects with their counts.

use serde::Serialize;
use serde_json::{Value, json};
use unicode_segmentation::UnicodeSegmentation;

use crate::event::{DriftReport, Event, drift::display_dir};

/// The longest PR description shown, in grapheme clusters (Atlantis' limit).
pub const DESCRIPTION_LIMIT: usize = 1000;
/// At most this many drifted projects get a field of their own.
pub const MAX_PROJECT_FIELDS: usize = 20;
/// The "Result" field shows at most this many last lines of a run's `ResultMessage`...
pub const RESULT_LINES: usize = 20;
/// ...and at most this many grapheme clusters (a field's text must stay well inside the
/// 3,000 characters Slack allows a section).
pub const RESULT_GRAPHEMES: usize = 1000;
/// At most this many errored projects are named in a drift message.
pub const MAX_ERROR_FIELDS: usize = 10;

/// What the config says about how messages look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// `slack-include-body`: whether the PR description is shown.
    pub include_body: bool,
}

impl Default for Style {
    fn default() -> Self {
        Self { include_body: true }
    }
}

impl Style {
    /// The style `config` asks for.
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            include_body: config.slack_include_body,
        }
    }
}

/// One attachment field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Title, shown bold.
    pub title: String,
    /// Value (Slack mrkdwn).
    pub value: String,
    /// Side by side with its neighbour.
    pub short: bool,
}

/// The legacy attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    /// Plain summary for notifications.
    pub fallback: String,
    /// `good` or `danger`.
    pub color: String,
    /// The headline.
    pub text: String,
    /// The fields, in Atlantis' order.
    pub fields: Vec<Field>,
}

/// A message: summary text plus one attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Plain summary (Slack's notification text).
    pub text: String,
    /// The attachment.
    pub attachment: Attachment,
}

/// Escapes the three characters Slack treats as markup.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A URL as the target of a Slack link `<url|label>`: escaped like any text, and with `|`
/// percent-encoded, since Slack ends the URL at the first `|` and takes the rest as the
/// label (a Pull.URL `https://evil|Approve` would otherwise show "Approve" as the link).
pub fn link_url(url: &str) -> String {
    escape(url).replace('|', "%7C")
}

/// Cuts a PR description the way Atlantis does: more than 1000 grapheme clusters become
/// the first 999 plus `…`, never splitting a cluster.
pub fn truncate_description(body: &str) -> String {
    let mut graphemes = body.grapheme_indices(true);
    match graphemes.nth(DESCRIPTION_LIMIT) {
        None => body.to_string(),
        Some(_) => {
            let cut = body
                .grapheme_indices(true)
                .nth(DESCRIPTION_LIMIT - 1)
                .map_or(body.len(), |(i, _)| i);
            format!("{}…", &body[..cut])
        }
    }
}

fn field(title: &str, value: impl Into<String>, short: bool) -> Field {
    Field {
        title: title.to_string(),
        value: value.into(),
        short,
    }
}

/// The message for an event.
pub fn message(event: &Event, style: Style) -> Message {
    let summary = escape(&event.summary());
    let attachment = match event {
        Event::Apply(a) | Event::Plan(a) => {
            let verb = if a.success { "succeeded" } else { "failed" };
            let mut fields = vec![
                field("Workspace", escape(&a.workspace), true),
                field("Branch", escape(&a.pull.head_branch), true),
                field("User", escape(&a.user.username), true),
                field("Directory", escape(&display_dir_exact(&a.directory)), true),
            ];
            if style.include_body && !a.pull.body.is_empty() {
                fields.push(field(
                    "Description",
                    escape(&truncate_description(&a.pull.body)),
                    false,
                ));
            }
            if let Some(shown) = a
                .result_message
                .as_deref()
                .and_then(|m| crate::event::result::shown(m, RESULT_LINES, RESULT_GRAPHEMES))
            {
                fields.push(field("Result", format!("```{}```", escape(&shown)), false));
            }
            Attachment {
                fallback: summary.clone(),
                color: if a.success { "good" } else { "danger" }.to_string(),
                text: format!(
                    "{} {verb} for <{}|{}>",
                    event.step(),
                    link_url(&a.pull.url),
                    escape(&a.repo.full_name)
                ),
                fields,
            }
        }
        Event::Drift(d) => drift_attachment(d, summary.clone()),
        Event::Notice(n) => notice_attachment(n, summary.clone()),
    };
    Message {
        text: summary,
        attachment,
    }
}

/// Atlantis rewrites exactly `.` to `/` in Slack's Directory field (an empty directory
/// stays empty there).
fn display_dir_exact(dir: &str) -> String {
    if dir == "." {
        "/".to_string()
    } else {
        dir.to_string()
    }
}

fn drift_attachment(d: &DriftReport, fallback: String) -> Attachment {
    let r = &d.result;
    let drifted = r.projects_with_drift > 0;
    let mut fields = vec![
        field("Repository", escape(&r.repository), true),
        field("Ref", escape(&r.git_ref), true),
        field(
            "Projects with drift",
            format!("{} / {}", r.projects_with_drift, r.total_projects),
            true,
        ),
        field("Detection ID", escape(&r.detection_id), true),
    ];
    let drifted_projects: Vec<_> = r.projects.iter().filter(|p| p.has_drift).collect();
    for p in drifted_projects.iter().take(MAX_PROJECT_FIELDS) {
        let mut value = format!(
            "{} to add, {} to change, {} to destroy",
            p.to_add, p.to_change, p.to_destroy
        );
        if p.to_import > 0 {
            value.push_str(&format!(", {} to import", p.to_import));
        }
        if p.to_forget > 0 {
            value.push_str(&format!(", {} to forget", p.to_forget));
        }
        let dir = display_dir(&p.path);
        if !p.project_name.is_empty() && dir != "/" {
            value.push_str(&format!(" ({})", escape(&dir)));
        }
        fields.push(field(&escape(&p.label()), value, true));
    }
    if drifted_projects.len() > MAX_PROJECT_FIELDS {
        fields.push(field(
            "More",
            format!(
                "…and {} more drifted projects",
                drifted_projects.len() - MAX_PROJECT_FIELDS
            ),
            false,
        ));
    }
    let errored: Vec<_> = r.projects.iter().filter(|p| !p.error.is_empty()).collect();
    for p in errored.iter().take(MAX_ERROR_FIELDS) {
        fields.push(field(
            &format!("⚠ {}", escape(&p.label())),
            format!(
                "error: {}",
                escape(&crate::event::drift::first_line(&p.error))
            ),
            false,
        ));
    }
    if errored.len() > MAX_ERROR_FIELDS {
        fields.push(field(
            "More errors",
            format!(
                "…and {} more errored projects",
                errored.len() - MAX_ERROR_FIELDS
            ),
            false,
        ));
    }
    if let Some(e) = &d.env0 {
        if !e.environment.is_empty() {
            let env = if e.url.is_empty() {
                escape(&e.environment)
            } else {
                format!("<{}|{}>", link_url(&e.url), escape(&e.environment))
            };
            fields.push(field("env0 environment", env, true));
        }
        if !e.cause.is_empty() {
            fields.push(field("Cause", escape(&e.cause), true));
        }
    }
    let mut text = if drifted {
        format!("Drift detected in {}", escape(&r.repository))
    } else {
        format!("No drift in {}", escape(&r.repository))
    };
    if !errored.is_empty() {
        text.push_str(&format!(
            " ({} of {} projects errored)",
            errored.len(),
            r.total_projects
        ));
    }
    Attachment {
        fallback,
        // Red for drift, amber when only errors leave it unknown, green when clean.
        color: if drifted {
            "danger"
        } else if errored.is_empty() {
            "good"
        } else {
            "warning"
        }
        .to_string(),
        text,
        fields,
    }
}

/// A notice: red for a failed detection, amber for reports that stopped coming.
fn notice_attachment(n: &crate::event::DriftNotice, fallback: String) -> Attachment {
    use crate::event::NoticeKind;
    let mut fields = vec![
        field("Repository", escape(&n.repository), true),
        field("Ref", escape(&n.git_ref), true),
    ];
    match n.event {
        NoticeKind::DriftFailed => {
            if let Some(status) = n.status {
                fields.push(field("Atlantis answered", status.to_string(), true));
            }
            if !n.atlantis.is_empty() {
                fields.push(field("Atlantis", escape(&n.atlantis), true));
            }
            fields.push(field(
                "Error",
                escape(&crate::event::drift::first_line(&n.error)),
                false,
            ));
        }
        NoticeKind::DriftStale => {
            if let Some(at) = &n.last_report_at {
                fields.push(field("Last report", escape(at), true));
            }
            if let Some(after) = &n.stale_after {
                fields.push(field("Expected within", escape(after), true));
            }
        }
    }
    Attachment {
        fallback: fallback.clone(),
        color: match n.event {
            NoticeKind::DriftFailed => "danger",
            NoticeKind::DriftStale => "warning",
        }
        .to_string(),
        text: fallback,
        fields,
    }
}

/// The JSON body of `chat.postMessage`.
pub fn api_body(channel: &str, m: &Message) -> Value {
    json!({
        "channel": channel,
        "text": m.text,
        "attachments": [m.attachment],
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

/// The JSON body of an incoming-webhook post (the channel is fixed by the URL).
pub fn incoming_body(m: &Message) -> Value {
    json!({
        "text": m.text,
        "attachments": [m.attachment],
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_grapheme_clusters() {
        let long = "a".repeat(1500);
        let cut = truncate_description(&long);
        assert_eq!(cut.graphemes(true).count(), 1000);
        assert!(cut.ends_with('…'));
        let exact = "a".repeat(1000);
        assert_eq!(truncate_description(&exact), exact);
        let technologist = "\u{1F9D1}\u{200D}\u{1F4BB}";
        let body = format!("{}{technologist}bc", "a".repeat(998));
        let cut = truncate_description(&body);
        assert_eq!(cut.graphemes(true).count(), 1000);
        assert!(cut.ends_with(&format!("{technologist}…")));
        assert!(!cut.contains('b'));
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("a & <b>"), "a &amp; &lt;b&gt;");
    }
}
