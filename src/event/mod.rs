//! The events herald receives: Atlantis apply results, Atlantis drift reports and env0
//! webhooks, read into one [`Event`] type that routing and delivery work on.

pub mod apply;
pub mod drift;
pub mod env0;
pub mod notice;
mod relayed;
pub mod result;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use apply::ApplyResult;
pub use drift::{DriftProject, DriftResult};
pub use env0::{Env0Context, Env0Event};
pub use notice::{DriftNotice, NoticeKind};
pub use relayed::Relayed;

use crate::config::EventKind;

/// A drift report: Atlantis' `DriftResult`, plus env0's details when it came from env0.
/// It serialises as the Atlantis JSON, with an extra `env0` member only for env0 reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// The Atlantis-shaped report.
    #[serde(flatten)]
    pub result: DriftResult,
    /// env0 details, when the report came from env0.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub env0: Option<Env0Context>,
}

impl DriftReport {
    /// What the report is about, the same for every report of it: `repository@ref` for
    /// Atlantis, the environment for env0 (one repository and ref may back several env0
    /// environments). Alerts are deduplicated, messages edited and threads kept by it.
    pub fn key(&self) -> String {
        match self.env0.as_ref().filter(|e| !e.environment_id.is_empty()) {
            Some(e) => format!("env0:{}", e.environment_id),
            None => format!("{}@{}", self.result.repository, self.result.git_ref),
        }
    }
}

/// An event ready to route and deliver. In the journal it is stored as
/// `{"kind": "apply"|"plan"|"drift", "data": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "lowercase")]
pub enum Event {
    /// An Atlantis apply result.
    Apply(Relayed<ApplyResult>),
    /// An Atlantis plan result (PR #5978: the apply's keys with `"Event": "plan"` first).
    Plan(Relayed<ApplyResult>),
    /// A drift report (from Atlantis or env0).
    Drift(Relayed<DriftReport>),
    /// herald's own word to drift webhooks: a scheduled detection failed, or reports
    /// stopped coming.
    Notice(Relayed<DriftNotice>),
}

impl Event {
    /// Which webhooks it is for.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Apply(_) => EventKind::Apply,
            Event::Plan(_) => EventKind::Plan,
            Event::Drift(_) | Event::Notice(_) => EventKind::Drift,
        }
    }

    /// The run result of an apply or a plan (one shape, two events).
    pub fn run(&self) -> Option<&ApplyResult> {
        match self {
            Event::Apply(a) | Event::Plan(a) => Some(a),
            Event::Drift(_) | Event::Notice(_) => None,
        }
    }

    /// `Apply` or `Plan`: the word Atlantis starts a run's Slack text with.
    pub fn step(&self) -> &'static str {
        match self {
            Event::Plan(_) => "Plan",
            Event::Apply(_) | Event::Drift(_) | Event::Notice(_) => "Apply",
        }
    }

    /// The body an HTTP webhook receives: the Atlantis JSON.
    pub fn to_json(&self) -> Value {
        match self {
            Event::Apply(a) | Event::Plan(a) => serde_json::to_value(a),
            Event::Drift(d) => serde_json::to_value(d),
            Event::Notice(n) => serde_json::to_value(n),
        }
        .unwrap_or(Value::Null)
    }

    /// One line saying what happened, for lists, logs and Slack's notification text.
    pub fn summary(&self) -> String {
        match self {
            Event::Apply(a) | Event::Plan(a) => {
                let verb = if a.success { "succeeded" } else { "failed" };
                let project = if a.project_name.is_empty() {
                    format!("dir {}", drift::display_dir(&a.directory))
                } else {
                    format!("project {}", a.project_name)
                };
                let mut s = format!(
                    "{} {verb} for {}: {project}, workspace {}",
                    self.step(),
                    a.repo.full_name,
                    a.workspace
                );
                if a.pull.num > 0 {
                    s.push_str(&format!(", PR #{}", a.pull.num));
                }
                s
            }
            Event::Drift(d) => {
                let r = &d.result;
                let name = d
                    .env0
                    .as_ref()
                    .filter(|e| !e.environment.is_empty())
                    .map(|e| format!("{} ({})", r.repository, e.environment))
                    .unwrap_or_else(|| r.repository.clone());
                let mut s = if r.projects_with_drift > 0 {
                    format!(
                        "Drift detected in {name}: {} of {} projects drifted",
                        r.projects_with_drift, r.total_projects
                    )
                } else {
                    format!("No drift in {name} ({} projects checked)", r.total_projects)
                };
                let errored = r.errored();
                if errored > 0 {
                    s.push_str(&format!(", {errored} errored"));
                }
                s
            }
            Event::Notice(n) => n.summary(),
        }
    }

    /// Whether the event reports a problem (a failed apply, drift found): the console
    /// shows it red, and green otherwise, apart from how its deliveries went.
    pub fn is_problem(&self) -> bool {
        match self {
            Event::Apply(a) | Event::Plan(a) => !a.success,
            Event::Drift(d) => d.result.projects_with_drift > 0,
            Event::Notice(_) => true,
        }
    }

    /// Whether a drift report has projects that errored (their plan failed, or a lock
    /// was held): Atlantis drops such reports (its #6753); herald sends them, marked.
    pub fn has_errors(&self) -> bool {
        match self {
            Event::Drift(d) => d.result.errored() > 0,
            // A failed detection is the whole run erroring: `drift-errors: only` takes it.
            Event::Notice(n) => n.event == NoticeKind::DriftFailed,
            Event::Apply(_) | Event::Plan(_) => false,
        }
    }

    /// Every value the filters test, in [`Subject::ALL`]'s order, or `None` when this kind
    /// of event is not filtered: one look at the event for all four (routing's hot path).
    pub fn subjects(&self) -> Option<[&str; 4]> {
        self.run().map(|a| {
            [
                a.workspace.as_str(),
                a.pull.base_branch.as_str(),
                a.project_name.as_str(),
                a.directory.as_str(),
            ]
        })
    }

    /// The value filter `s` is tested against, or `None` when this kind of event is not
    /// filtered (a drift report goes to every drift webhook, as in Atlantis). Routing, the
    /// filter editor and `herald match` ask this, never the event's variant, so a new event
    /// kind is filtered by saying which values it has.
    pub fn subject(&self, s: Subject) -> Option<&str> {
        self.subjects().map(|v| v[s.index()])
    }
}

/// A value of an event that a webhook's regex filter is tested against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// `workspace-regex`, tested against the workspace.
    Workspace,
    /// `branch-regex`, tested against the PR's base branch.
    BaseBranch,
    /// `project-regex` (Atlantis PR #5557), tested against the project name.
    Project,
    /// `directory-regex` (Atlantis PR #5557), tested against the project's directory.
    Directory,
}

impl Subject {
    /// Every filter, in Atlantis' order of compiling and testing (PR #5557 adds the last
    /// two after the released pair).
    pub const ALL: [Subject; 4] = [
        Subject::Workspace,
        Subject::BaseBranch,
        Subject::Project,
        Subject::Directory,
    ];

    /// The config key of its filter.
    pub fn key(self) -> &'static str {
        match self {
            Subject::Workspace => "workspace-regex",
            Subject::BaseBranch => "branch-regex",
            Subject::Project => "project-regex",
            Subject::Directory => "directory-regex",
        }
    }

    /// What the value is, in words.
    pub fn noun(self) -> &'static str {
        match self {
            Subject::Workspace => "workspace",
            Subject::BaseBranch => "base branch",
            Subject::Project => "project",
            Subject::Directory => "directory",
        }
    }

    /// Its place in [`Subject::ALL`].
    pub fn index(self) -> usize {
        match self {
            Subject::Workspace => 0,
            Subject::BaseBranch => 1,
            Subject::Project => 2,
            Subject::Directory => 3,
        }
    }

    /// The filter named by its config key.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// Why a body is not a valid event; `detail` names the field or the line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
pub struct EventError {
    /// What is wrong.
    pub message: String,
    /// Where: a JSON path such as `Pull.Num`, or `line 3, column 7`.
    pub detail: String,
}

impl EventError {
    fn missing(field: &str) -> Self {
        Self {
            message: format!("missing field `{field}`"),
            detail: field.to_string(),
        }
    }

    pub(crate) fn from_json(e: &serde_path_to_error::Error<serde_json::Error>) -> Self {
        let inner = e.inner();
        let path = e.path().to_string();
        let syntax = matches!(
            inner.classify(),
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof
        );
        let detail = if syntax || path == "." || path.is_empty() {
            format!("line {}, column {}", inner.line(), inner.column())
        } else {
            path
        };
        let message = if syntax {
            format!("invalid JSON: {}", strip_position(&inner.to_string()))
        } else {
            strip_position(&inner.to_string())
        };
        Self { message, detail }
    }
}

impl EventError {
    /// A typed read of a JSON tree that failed, for readers outside this module.
    pub(crate) fn from_json_value(e: &serde_path_to_error::Error<serde_json::Error>) -> Self {
        Self::from_value(e)
    }

    /// A typed read of a JSON tree that failed: the path of the field.
    fn from_value(e: &serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = e.path().to_string();
        Self {
            message: strip_position(&e.inner().to_string()),
            detail: if path.is_empty() { ".".into() } else { path },
        }
    }
}

fn strip_position(s: &str) -> String {
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// The shapes herald accepts on `POST /events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Atlantis `ApplyResult`.
    Apply,
    /// Atlantis plan result (PR #5978's `EventResult` with `"Event": "plan"`).
    Plan,
    /// Atlantis drift payload.
    Drift,
    /// env0 webhook envelope.
    Env0,
    /// herald's own drift notice (from its scheduler; never detected in a post).
    Notice,
}

/// Tells the shape of a JSON body by its keys.
pub fn detect(body: &Value) -> Option<Shape> {
    let obj = body.as_object()?;
    if obj
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("com.env0."))
        || (obj.contains_key("type") && obj.contains_key("data"))
    {
        Some(Shape::Env0)
    } else if obj.contains_key("Workspace")
        || obj.contains_key("Pull")
        || obj.contains_key("Success")
    {
        if obj.get("Event").and_then(Value::as_str) == Some("plan") {
            Some(Shape::Plan)
        } else {
            Some(Shape::Apply)
        }
    } else if obj.contains_key("detection_id")
        || obj.contains_key("projects_with_drift")
        || obj.contains_key("projects")
    {
        Some(Shape::Drift)
    } else {
        None
    }
}

/// Reads an Atlantis apply result; clone-URL passwords are redacted on the way in.
///
/// # Errors
/// Bad JSON or a missing or mistyped field, named.
pub fn parse_apply(body: &[u8]) -> Result<Relayed<ApplyResult>, EventError> {
    apply_from_tree(tree(body)?)
}

/// An apply result from its JSON tree (see [`tree`]); the tree is kept for relaying, with
/// its clone-URL credentials redacted like the typed view's.
///
/// # Errors
/// A missing or mistyped field, named.
pub fn apply_from_tree(mut raw: Value) -> Result<Relayed<ApplyResult>, EventError> {
    let mut a: ApplyResult =
        serde_path_to_error::deserialize(&raw).map_err(|e| EventError::from_value(&e))?;
    a.redact();
    apply::redact_tree(&mut raw);
    Ok(Relayed::received(a, raw))
}

/// The JSON tree of a body, keys in their order: read once, then told apart, typed and
/// kept.
///
/// # Errors
/// Bad JSON, with its line and column.
pub fn tree(body: &[u8]) -> Result<Value, EventError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| EventError::from_json(&e))
}

/// Reads an Atlantis drift payload.
///
/// # Errors
/// Bad JSON or a missing or mistyped field, named.
pub fn parse_drift(body: &[u8]) -> Result<Relayed<DriftReport>, EventError> {
    drift_from_tree(tree(body)?)
}

/// A drift payload from its JSON tree (see [`tree`]), the tree kept for relaying.
///
/// # Errors
/// A missing or mistyped field, named.
pub fn drift_from_tree(raw: Value) -> Result<Relayed<DriftReport>, EventError> {
    let result: DriftResult =
        serde_path_to_error::deserialize(&raw).map_err(|e| EventError::from_value(&e))?;
    Ok(Relayed::received(DriftReport { result, env0: None }, raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        let e = parse_apply(br#"{"Workspace":"w","Pull":{"Num":"x"},"Success":true}"#)
            .expect_err("bad");
        assert_eq!(e.detail, "Pull.Num");
        let e = parse_apply(br#"{"Workspace":"w","Pull":{}}"#).expect_err("bad");
        assert!(e.message.contains("Success"), "{e}");
        let e = parse_apply(b"{\n  \"Workspace\": ,").expect_err("bad");
        assert!(e.message.starts_with("invalid JSON"), "{e}");
        assert!(e.detail.starts_with("line 2"), "{e}");
    }

    #[test]
    fn clone_url_password_is_redacted_on_read() {
        let a = parse_apply(br#"{"Workspace":"w","Repo":{"CloneURL":"https://u:tok@h/o/r.git"},"Pull":{"BaseRepo":{"CloneURL":"https://u:tok@h/o/r.git"}},"Success":true}"#)
            .expect("ok");
        assert_eq!(a.repo.clone_url, "https://u:<redacted>@h/o/r.git");
        assert_eq!(a.pull.base_repo.clone_url, "https://u:<redacted>@h/o/r.git");
        assert!(!serde_json::to_string(&a).expect("json").contains("tok@"));
    }
}
