//! Loading an Atlantis server config (or Helm values) into herald's webhook list.
//!
//! The file is the one Atlantis reads with `--config`: top-level keys are server flag names
//! (herald ignores those it has no use for), `webhooks:` is the list, and `slack-token` and
//! `webhook-http-headers` may be keys too. A Helm values file, where the same YAML sits in a
//! `config: |` string, loads as well. Every problem is collected and reported at once with
//! its position ([`Report`]); a config with an error is never half-loaded.

mod diag;
pub mod filter;
pub mod go_json;
pub mod headers;
mod load;
mod save;
mod validate;
mod writeback;
pub mod yaml_pos;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use diag::{Diagnostic, Location, Report, Severity};
pub use filter::Filter;
pub use headers::Headers;
pub use load::{default_path, load, load_str};
pub use save::{SaveError, WriteFiltersError, Written, save_with_backup, write_filters};
pub use validate::parse_duration;
pub use writeback::{WriteBackError, set_webhook_value};

use crate::secret::Secret;

/// The events a webhook may be for: Atlantis' two, and plan results as Atlantis PR #5978
/// defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// An apply finished (successfully or not).
    Apply,
    /// A plan finished (successfully or not).
    Plan,
    /// A drift detection run finished.
    Drift,
}

impl EventKind {
    /// Every kind, in the order they are counted and listed.
    pub const ALL: [EventKind; 3] = [EventKind::Apply, EventKind::Plan, EventKind::Drift];

    /// Its place in [`EventKind::ALL`].
    pub fn index(self) -> usize {
        match self {
            EventKind::Apply => 0,
            EventKind::Plan => 1,
            EventKind::Drift => 2,
        }
    }

    /// `apply`, `plan` or `drift`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Apply => "apply",
            EventKind::Plan => "plan",
            EventKind::Drift => "drift",
        }
    }

    /// Whether its events are runs (apply or plan), which the regex filters test.
    pub fn is_run(self) -> bool {
        matches!(self, EventKind::Apply | EventKind::Plan)
    }
}

pub use crate::notify::Target;

/// How often and how long a failing delivery is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Waits before the 2nd, 3rd, ... attempt; the last one repeats when there are more
    /// attempts than entries.
    pub schedule: Vec<Duration>,
}

impl Default for RetryPolicy {
    /// Six attempts over about 15 minutes: waits of 10 s, 30 s, 90 s, 4.5 min and 8 min
    /// (tripling, capped), so a receiver restarting or a short outage is ridden out while
    /// a dead one is given up on within a quarter of an hour.
    fn default() -> Self {
        Self {
            max_attempts: 6,
            schedule: [10, 30, 90, 270, 480]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        }
    }
}

impl RetryPolicy {
    /// The wait after attempt number `attempt` (1-based) failed, before jitter; `None` when
    /// no attempt is left.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let i = (attempt as usize).saturating_sub(1);
        Some(
            self.schedule
                .get(i)
                .or(self.schedule.last())
                .copied()
                .unwrap_or(Duration::from_secs(10)),
        )
    }
}

/// The default time one attempt may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One entry of `webhooks:`, validated.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// 0-based position in the list; `--webhook 0` selects the first.
    pub index: usize,
    /// herald's optional `name:`, usable instead of the index.
    pub name: Option<String>,
    /// Which event it is for.
    pub event: EventKind,
    /// Where it sends.
    pub target: Target,
    /// `workspace-regex` (apply only; drift entries always match).
    pub workspace_regex: Filter,
    /// `branch-regex`, tested against the PR's base branch (apply only).
    pub branch_regex: Filter,
    /// `project-regex` (Atlantis PR #5557), tested against the project name.
    pub project_regex: Filter,
    /// `directory-regex` (Atlantis PR #5557), tested against the project's directory.
    pub directory_regex: Filter,
    /// `drift-errors:` which drift reports with errored projects it takes.
    pub drift_errors: DriftErrors,
    /// `template:` or `template-file:`: what renders the body it sends.
    pub template: Option<crate::notify::template::Template>,
    /// herald's per-webhook `headers:`, sent after the global ones.
    pub headers: Headers,
    /// herald's `secret:`; when set, requests carry a Standard Webhooks signature.
    pub secret: Option<Secret>,
    /// Time allowed for one attempt.
    pub timeout: Duration,
    /// Retry schedule.
    pub retry: RetryPolicy,
    /// Line of the entry in the file, for messages.
    pub line: usize,
    /// Its identity across reloads (see [`WebhookKey`]); set once the whole list is read.
    pub key: WebhookKey,
}

/// What a stored delivery names its webhook by, so that it reaches the webhook it was made
/// for after the config is edited and reloaded, or none: its name (or, unnamed, its event
/// and kind, and which of identical entries it is) together with a fingerprint of its
/// target. An entry that only moved in the list keeps its key; one that was removed or now
/// sends elsewhere has none of its old deliveries' keys, and those are settled instead of
/// being sent to whatever took its place.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct WebhookKey(String);

impl WebhookKey {
    /// Unnamed webhooks' identities start with this, which a name may not.
    pub const UNNAMED: char = '@';

    /// The key of a webhook named `name` (or unnamed: its event and kind, and `nth` among
    /// identical entries) sending to `target`.
    pub fn new(name: Option<&str>, event: EventKind, target: &Target, nth: usize) -> Self {
        use sha2::Digest as _;
        let raw = target.fingerprint();
        let hash = hex::encode(&sha2::Sha256::digest(raw.as_bytes())[..4]);
        let ident = match name {
            Some(n) => n.to_string(),
            None if nth > 1 => format!(
                "{}{}:{}#{nth}",
                Self::UNNAMED,
                event.as_str(),
                target.kind()
            ),
            None => format!("{}{}:{}", Self::UNNAMED, event.as_str(), target.kind()),
        };
        Self(format!("{ident}|{hash}"))
    }

    /// Reads a stored key.
    pub fn from_stored(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part that names the webhook (its name, or `@event:kind`), without the target's
    /// fingerprint: the same for a webhook that changed only its target.
    pub fn ident(&self) -> &str {
        self.0.rsplit_once('|').map_or(&self.0, |(i, _)| i)
    }

    /// The webhook in a sentence: `webhook "audit"`, or `the unnamed apply/http webhook`.
    pub fn describe(&self) -> String {
        let ident = self.ident();
        match ident.strip_prefix(Self::UNNAMED) {
            Some(what) => format!(
                "the unnamed {} webhook",
                what.split('#').next().unwrap_or(what).replace(':', "/")
            ),
            None => format!("webhook \"{ident}\""),
        }
    }

    /// How the webhook is shown: its name, or `#index` (its position when the delivery
    /// was made) for an unnamed one.
    pub fn display(&self, index: usize) -> String {
        let ident = self.ident();
        if ident.starts_with(Self::UNNAMED) || ident.starts_with('#') {
            format!("#{index}")
        } else {
            ident.to_string()
        }
    }
}

impl std::fmt::Display for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Webhook {
    /// Its filter of `s`.
    pub fn filter(&self, s: crate::event::Subject) -> &Filter {
        match s {
            crate::event::Subject::Workspace => &self.workspace_regex,
            crate::event::Subject::BaseBranch => &self.branch_regex,
            crate::event::Subject::Project => &self.project_regex,
            crate::event::Subject::Directory => &self.directory_regex,
        }
    }

    /// Its filter of `s`, to change.
    pub fn filter_mut(&mut self, s: crate::event::Subject) -> &mut Filter {
        match s {
            crate::event::Subject::Workspace => &mut self.workspace_regex,
            crate::event::Subject::BaseBranch => &mut self.branch_regex,
            crate::event::Subject::Project => &mut self.project_regex,
            crate::event::Subject::Directory => &mut self.directory_regex,
        }
    }

    /// `name` when set, otherwise `#index`: how the webhook is named in output.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!("#{}", self.index),
        }
    }
}

/// Which drift reports whose projects partly errored a drift webhook takes (`drift-errors:`).
/// Atlantis sends none of them (its issue #6753); herald sends them by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DriftErrors {
    /// Every report, errored or not (the default).
    #[default]
    Include,
    /// Only reports without an errored project (Atlantis' behaviour).
    Skip,
    /// Only reports with an errored project (an errors channel).
    Only,
}

impl DriftErrors {
    /// The config value.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftErrors::Include => "include",
            DriftErrors::Skip => "skip",
            DriftErrors::Only => "only",
        }
    }

    /// Whether a report with (`true`) or without errored projects is taken.
    pub fn takes(self, errored: bool) -> bool {
        match self {
            DriftErrors::Include => true,
            DriftErrors::Skip => !errored,
            DriftErrors::Only => errored,
        }
    }
}

/// herald-only settings from the top-level `herald:` map.
#[derive(Debug, Clone, Default)]
pub struct HeraldSettings {
    /// Bearer token required on the ingest API.
    pub ingest_token: Option<Secret>,
    /// Secret of env0's `x-env0-signature`.
    pub env0_secret: Option<Secret>,
    /// Bearer token of the operator API that may read and act.
    pub operator_token: Option<Secret>,
    /// Bearer token of the operator API that may only read and stream.
    pub viewer_token: Option<Secret>,
    /// Journal rows older than this are pruned.
    pub retention_max_age: Option<Duration>,
    /// At most this many events are kept.
    pub retention_max_events: Option<u64>,
    /// Console theme name or file.
    pub theme: Option<String>,
    /// `journal:` (`sqlite:DIR` or a PostgreSQL URL, which may hold a password), when
    /// neither `--journal` nor `HERALD_JOURNAL` gives one.
    pub journal: Option<Secret>,
    /// `drift-schedule:`: Atlantis drift detections `serve` asks for.
    pub drift_schedule: Vec<crate::schedule::DriftSchedule>,
    /// `drift-stale-after:`: how long a `repository@ref` may send no drift report before
    /// the drift webhooks are told.
    pub drift_stale_after: Option<Duration>,
}

/// A loaded, valid configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
    /// The webhooks in file order.
    pub webhooks: Vec<Webhook>,
    /// Slack bot token (flag, then environment, then file).
    pub slack_token: Option<Secret>,
    /// Where the token came from, for messages about it.
    pub slack_token_location: Option<Location>,
    /// Headers sent on every HTTP webhook.
    pub http_headers: Headers,
    /// Slack Web API base URL, without a trailing slash.
    pub slack_api_url: String,
    /// `slack-include-body` (Atlantis PR #6794): false leaves the PR description out of
    /// Slack messages.
    pub slack_include_body: bool,
    /// herald-only settings.
    pub herald: HeraldSettings,
}

impl Config {
    /// Every secret value in the config, for scrubbing them out of texts from outside
    /// (error messages, response bodies that echo a request).
    pub fn secret_values(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        out.extend(self.slack_token.iter().map(|s| s.expose().to_string()));
        let headers = self
            .http_headers
            .iter()
            .chain(self.webhooks.iter().flat_map(|w| w.headers.iter()));
        for (name, values) in headers {
            for v in values {
                out.extend(crate::secret::header_secrets(name, v));
            }
        }
        for w in &self.webhooks {
            out.extend(w.secret.iter().map(|s| s.expose().to_string()));
            out.extend(w.target.secrets());
        }
        out.extend(
            self.herald
                .ingest_token
                .iter()
                .map(|s| s.expose().to_string()),
        );
        out.extend(
            [
                &self.herald.env0_secret,
                &self.herald.operator_token,
                &self.herald.viewer_token,
            ]
            .into_iter()
            .flatten()
            .map(|s| s.expose().to_string()),
        );
        out.extend(
            self.herald
                .drift_schedule
                .iter()
                .map(|s| s.api_secret.expose().to_string()),
        );
        out.retain(|s| !s.is_empty());
        out
    }

    /// This config with webhook `index`'s filter `key` (`workspace-regex` or
    /// `branch-regex`) set to `pattern`, compiled in Atlantis' dialect.
    ///
    /// # Errors
    /// The pattern's problem, as Go words it.
    pub fn with_filter(
        &self,
        index: usize,
        key: &str,
        pattern: &str,
    ) -> Result<Self, filter::RegexProblem> {
        let filter = Filter::compile(pattern)?;
        let mut c = self.clone();
        if let (Some(w), Some(s)) = (
            c.webhooks.get_mut(index),
            crate::event::Subject::from_key(key),
        ) {
            *w.filter_mut(s) = filter;
        }
        Ok(c)
    }

    /// Finds a webhook by `name` or 0-based index.
    pub fn select(&self, sel: &str) -> Option<&Webhook> {
        self.webhooks
            .iter()
            .find(|w| w.name.as_deref() == Some(sel))
            .or_else(|| sel.parse::<usize>().ok().and_then(|i| self.webhooks.get(i)))
    }
}

/// How `${VAR}` in the config is resolved.
pub type VarLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the command line and environment add to the file.
#[derive(Clone)]
pub struct LoadOptions {
    /// The config file; `None` loads an empty config.
    pub path: Option<PathBuf>,
    /// `--slack-token` / `ATLANTIS_SLACK_TOKEN`, with where it came from.
    pub slack_token: Option<(String, Location)>,
    /// `--webhook-http-headers` / `ATLANTIS_WEBHOOK_HTTP_HEADERS`, with where it came from.
    pub http_headers: Option<(String, Location)>,
    /// `--slack-api-url` / `HERALD_SLACK_API_URL`.
    pub slack_api_url: Option<String>,
    /// `--slack-include-body` / `ATLANTIS_SLACK_INCLUDE_BODY`, when given (it wins over the
    /// file's `slack-include-body`).
    pub slack_include_body: Option<bool>,
    /// How `${VAR}` is looked up; the process environment unless a test says otherwise.
    pub vars: VarLookup,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            path: None,
            slack_token: None,
            http_headers: None,
            slack_api_url: None,
            slack_include_body: None,
            vars: Arc::new(|name| std::env::var(name).ok()),
        }
    }
}

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("path", &self.path)
            .field(
                "slack_token",
                &self.slack_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "http_headers",
                &self.http_headers.as_ref().map(|_| "<redacted>"),
            )
            .field("slack_api_url", &self.slack_api_url)
            .finish_non_exhaustive()
    }
}

/// The public Slack Web API.
pub const SLACK_API_URL: &str = "https://slack.com/api";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_retry_is_six_attempts_in_about_fifteen_minutes() {
        let p = RetryPolicy::default();
        let total: Duration = (1..p.max_attempts).filter_map(|a| p.delay_after(a)).sum();
        assert_eq!(p.delay_after(6), None);
        assert!(total > Duration::from_secs(13 * 60) && total < Duration::from_secs(16 * 60));
    }
}
