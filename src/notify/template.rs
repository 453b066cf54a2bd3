//! Message templates: a webhook's `template:` (or `template-file:`) renders the body it
//! sends, for any kind, with MiniJinja. Templates are data from the config, not code: an
//! unknown variable is an error, a render has a fuel budget and a recursion limit, there is
//! no loader (no file is read from a template), and the context holds no secret.
//!
//! The context (documented in the README):
//! - `event`: the normalised event (`kind`, `repo`, `ref`, `base_branch`, `head_branch`,
//!   `workspace`, `project`, `directory`, `user`, `success`, `pr` {`num`, `url`, `body`},
//!   `result_message`, `summary`, `drift` {`total`, `with_drift`, `with_errors`, `projects`}
//!   and, for herald's notices, `notice`);
//! - `raw`: the payload as received (credentials redacted);
//! - `webhook` {`name`, `kind`}; `herald` {`version`, `event_id`, `delivery_id`}.

use std::sync::{Arc, LazyLock};

use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::event::Event;

/// The most instructions one render may run: enough for any real message, a loop that
/// never ends is stopped.
pub const FUEL: u64 = 100_000;
/// The deepest nesting of calls and blocks.
pub const RECURSION: usize = 32;

/// The name the template is kept under in its environment.
const NAME: &str = "template";

/// A compiled template.
#[derive(Clone)]
pub struct Template {
    env: Arc<Environment<'static>>,
    source: Arc<str>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("bytes", &self.source.len())
            .finish_non_exhaustive()
    }
}

/// What went wrong, and where in the template (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", line.map(|l| format!(" (template line {l})")).unwrap_or_default())]
pub struct TemplateError {
    /// In a sentence.
    pub message: String,
    /// The template's line, when known.
    pub line: Option<usize>,
    /// The column on that line, when known.
    pub col: Option<usize>,
}

impl TemplateError {
    fn of(e: &Error, source: &str) -> Self {
        let line = e.line();
        let col = e.range().and_then(|r| {
            let before = source.get(..r.start)?;
            Some(before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1)
        });
        let message = match e.kind() {
            ErrorKind::OutOfFuel => format!(
                "the template ran out of fuel ({FUEL} steps): a loop that never ends, or far too much work for one message"
            ),
            ErrorKind::UndefinedError => format!(
                "{} (the context has event, raw, webhook and herald; see the README)",
                e.detail().unwrap_or("undefined value")
            ),
            _ => e
                .detail()
                .map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind())),
        };
        Self { message, line, col }
    }
}

/// An environment with herald's filters and limits.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION);
    // Rendering a body is not HTML: nothing is escaped unless a filter says so.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_filter("slack_escape", |s: String| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    });
    env.add_filter("md_escape", md_escape);
    env.add_filter("json", |v: Value| -> Result<String, Error> {
        serde_json::to_string(&v)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
    });
    env.add_filter("truncate_graphemes", |s: String, n: usize| {
        let count = s.graphemes(true).count();
        if count <= n {
            s
        } else {
            let mut out: String = s.graphemes(true).take(n.saturating_sub(1)).collect();
            out.push('…');
            out
        }
    });
    env.add_filter("last_lines", |s: String, n: usize| {
        let lines: Vec<&str> = s.trim_end().lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    });
    env.add_filter("strip_ansi", |s: String| crate::event::result::clean(&s));
    env
}

fn md_escape(s: String) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\`*_{}[]()#+-.!|<>~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

static CHECKER: LazyLock<Environment<'static>> = LazyLock::new(environment);

impl Template {
    /// Compiles `source`.
    ///
    /// # Errors
    /// A syntax error, with where it is.
    pub fn compile(source: &str) -> Result<Self, TemplateError> {
        // Syntax first, in a shared environment, so an error names the template's place.
        CHECKER
            .template_from_str(source)
            .map_err(|e| TemplateError::of(&e, source))?;
        let mut env = environment();
        env.add_template_owned(NAME, source.to_string())
            .map_err(|e| TemplateError::of(&e, source))?;
        Ok(Self {
            env: Arc::new(env),
            source: Arc::from(source),
        })
    }

    /// The template's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders it for `event` sent by `webhook`.
    ///
    /// # Errors
    /// An undefined value, a failed filter, fuel run out, with where.
    pub fn render(&self, cx: &Context<'_>) -> Result<String, TemplateError> {
        let t = self
            .env
            .get_template(NAME)
            .map_err(|e| TemplateError::of(&e, &self.source))?;
        t.render(Value::from(minijinja::value::Serde(cx)))
            .map_err(|e| TemplateError::of(&e, &self.source))
    }

    /// Renders it and reads the output as JSON (every kind posts JSON).
    ///
    /// # Errors
    /// A render error, or output that is not JSON (said with the output's start).
    pub fn render_json(&self, cx: &Context<'_>) -> Result<serde_json::Value, TemplateError> {
        let text = self.render(cx)?;
        serde_json::from_str(&text).map_err(|e| {
            let start: String = text.trim().chars().take(80).collect();
            TemplateError {
                message: format!(
                    "the template's output is not JSON ({e}); it began {start:?}: use the json filter for strings (\"{{{{ event.summary | json }}}}\")"
                ),
                line: None,
                col: None,
            }
        })
    }
}

/// What a template sees.
#[derive(Debug, Serialize)]
pub struct Context<'a> {
    /// The normalised event.
    pub event: Normalised<'a>,
    /// The payload as received (credentials redacted).
    pub raw: serde_json::Value,
    /// The webhook.
    pub webhook: WebhookInfo,
    /// herald's own.
    pub herald: HeraldInfo,
}

/// The webhook a render is for.
#[derive(Debug, Serialize)]
pub struct WebhookInfo {
    /// Its name, or `#index`.
    pub name: String,
    /// Its `kind:`.
    pub kind: &'static str,
}

/// herald's values.
#[derive(Debug, Serialize)]
pub struct HeraldInfo {
    /// herald's version.
    pub version: &'static str,
    /// The event's id in the journal.
    pub event_id: String,
    /// The delivery's id (the same on every retry).
    pub delivery_id: String,
}

/// The event, one shape for every kind of event.
#[derive(Debug, Default, Serialize)]
pub struct Normalised<'a> {
    /// apply, plan or drift (env0's are apply or drift too).
    pub kind: &'static str,
    /// Where it came from: atlantis, env0 or herald.
    pub source: &'static str,
    /// herald's one-line summary.
    pub summary: String,
    /// `owner/repo`.
    pub repo: String,
    /// The ref (drift) or the base branch (runs).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The PR's base branch.
    pub base_branch: String,
    /// The PR's head branch.
    pub head_branch: String,
    /// The workspace.
    pub workspace: String,
    /// The project name.
    pub project: String,
    /// The directory.
    pub directory: String,
    /// Who ran it.
    pub user: String,
    /// Whether the run succeeded, or the drift check found nothing.
    pub success: bool,
    /// The pull request.
    pub pr: Option<Pr<'a>>,
    /// The run's output (PR #5599), as sent.
    pub result_message: Option<&'a str>,
    /// Drift counts and projects.
    pub drift: Option<Drift<'a>>,
    /// herald's notice (`drift-failed`, `drift-stale`).
    pub notice: Option<&'a crate::event::DriftNotice>,
}

/// A pull request.
#[derive(Debug, Serialize)]
pub struct Pr<'a> {
    /// Its number.
    pub num: i64,
    /// Its web page.
    pub url: &'a str,
    /// Its description.
    pub body: &'a str,
}

/// A drift report's numbers.
#[derive(Debug, Serialize)]
pub struct Drift<'a> {
    /// Projects checked.
    pub total: u64,
    /// Projects with drift.
    pub with_drift: u64,
    /// Projects that errored.
    pub with_errors: usize,
    /// Every project, with every field (an empty `error` too, which Atlantis leaves out).
    pub projects: Vec<Project<'a>>,
}

/// One project of a drift report, every field present so a template may test any.
#[derive(Debug, Serialize)]
pub struct Project<'a> {
    /// Atlantis project name.
    pub project_name: &'a str,
    /// Repo-relative directory.
    pub path: &'a str,
    /// Terraform workspace.
    pub workspace: &'a str,
    /// Whether anything would change.
    pub has_drift: bool,
    /// Resources to add.
    pub to_add: u64,
    /// Resources to change.
    pub to_change: u64,
    /// Resources to destroy.
    pub to_destroy: u64,
    /// Resources to import.
    pub to_import: u64,
    /// Resources to forget.
    pub to_forget: u64,
    /// The plan's summary line.
    pub summary: &'a str,
    /// Why the project errored; empty when it did not.
    pub error: &'a str,
    /// The name to show (the project name, else its path and workspace).
    pub label: String,
}

impl<'a> Normalised<'a> {
    /// The normalised view of `event`.
    pub fn of(event: &'a Event) -> Self {
        let kind = event.kind().as_str();
        match event {
            Event::Apply(a) | Event::Plan(a) => Self {
                kind,
                source: "atlantis",
                summary: event.summary(),
                repo: a.repo.full_name.clone(),
                git_ref: a.pull.base_branch.clone(),
                base_branch: a.pull.base_branch.clone(),
                head_branch: a.pull.head_branch.clone(),
                workspace: a.workspace.clone(),
                project: a.project_name.clone(),
                directory: a.directory.clone(),
                user: a.user.username.clone(),
                success: a.success,
                pr: Some(Pr {
                    num: a.pull.num,
                    url: &a.pull.url,
                    body: &a.pull.body,
                }),
                result_message: a.result_message.as_deref(),
                ..Self::default()
            },
            Event::Drift(d) => {
                let r = &d.result;
                Self {
                    kind,
                    source: if d.env0.is_some() { "env0" } else { "atlantis" },
                    summary: event.summary(),
                    repo: r.repository.clone(),
                    git_ref: r.git_ref.clone(),
                    success: r.projects_with_drift == 0 && r.errored() == 0,
                    drift: Some(Drift {
                        total: r.total_projects,
                        with_drift: r.projects_with_drift,
                        with_errors: r.errored(),
                        projects: r
                            .projects
                            .iter()
                            .map(|p| Project {
                                project_name: &p.project_name,
                                path: &p.path,
                                workspace: &p.workspace,
                                has_drift: p.has_drift,
                                to_add: p.to_add,
                                to_change: p.to_change,
                                to_destroy: p.to_destroy,
                                to_import: p.to_import,
                                to_forget: p.to_forget,
                                summary: &p.summary,
                                error: &p.error,
                                label: p.label(),
                            })
                            .collect(),
                    }),
                    ..Self::default()
                }
            }
            Event::Notice(n) => Self {
                kind,
                source: "herald",
                summary: event.summary(),
                repo: n.repository.clone(),
                git_ref: n.git_ref.clone(),
                notice: Some(n.parsed()),
                ..Self::default()
            },
        }
    }
}

/// The context a webhook's template renders `event` in.
pub fn context<'a>(
    event: &'a Event,
    webhook: &crate::config::Webhook,
    ids: super::Ids<'_>,
) -> Context<'a> {
    Context {
        event: Normalised::of(event),
        raw: event.to_json(),
        webhook: WebhookInfo {
            name: webhook.label(),
            kind: webhook.target.kind(),
        },
        herald: HeraldInfo {
            version: crate::VERSION,
            event_id: ids.event.to_string(),
            delivery_id: ids.delivery.to_string(),
        },
    }
}
