//! `herald: drift-schedule:` and `drift-stale-after:`, checked with Atlantis' own words for
//! what its drift API would refuse (so a schedule that loads is one Atlantis takes).

use std::time::Duration;

use serde_yaml::Value;

use super::{Ctx, Field};
use crate::schedule::{DriftSchedule, ProjectPath, When, spec};
use crate::secret::Secret;

/// The keys of one entry.
const KEYS: [&str; 11] = [
    "atlantis-url",
    "repository",
    "ref",
    "type",
    "base-branch",
    "projects",
    "paths",
    "every",
    "cron",
    "api-secret",
    "timeout",
];

/// How long one detection may take unless `timeout:` says (Atlantis plans every project
/// before it answers).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

impl Ctx<'_> {
    /// The `drift-schedule:` list.
    pub(super) fn drift_schedules(&mut self, f: Field<'_>) -> Vec<DriftSchedule> {
        let Value::Sequence(items) = f.value else {
            if !f.value.is_null() {
                self.error(f.pos, "\"drift-schedule\" must be a list of schedules");
            }
            return Vec::new();
        };
        let mut out: Vec<DriftSchedule> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let node = f.node.and_then(|n| n.item(i));
            let pos = node.map_or(f.pos, super::Node::pos);
            let Some(s) = self.drift_schedule(item, node, pos) else {
                continue;
            };
            if out.iter().any(|o| o.key() == s.key()) {
                self.error(
                    pos,
                    format!(
                        "{} is scheduled twice for the same Atlantis; keep one entry",
                        s.subject()
                    ),
                );
                continue;
            }
            out.push(s);
        }
        out
    }

    #[allow(clippy::too_many_lines)]
    fn drift_schedule(
        &mut self,
        value: &Value,
        node: Option<&super::Node>,
        pos: super::Pos,
    ) -> Option<DriftSchedule> {
        let Value::Mapping(map) = value else {
            self.error(
                pos,
                "a drift-schedule entry must be a mapping with atlantis-url, repository, ref, type, every or cron, and api-secret",
            );
            return None;
        };
        for key in map.keys().filter_map(Value::as_str) {
            if !KEYS.contains(&key) {
                let p = node.and_then(|n| n.entry(key)).map_or(pos, |e| e.key_pos);
                self.error(
                    p,
                    format!(
                        "unknown key \"{key}\" in a drift-schedule entry (expected one of: {})",
                        KEYS.join(", ")
                    ),
                );
            }
        }
        let get = |key: &str| Field::of(value, node, pos, key);
        let at = |key: &str| get(key).map_or(pos, |f| f.pos);
        let mut ok = true;
        let text = |this: &mut Self, key: &str| {
            get(key)
                .and_then(|f| this.string(f, key))
                .unwrap_or_default()
        };
        let atlantis_url = text(self, "atlantis-url");
        let repository = text(self, "repository");
        let git_ref = text(self, "ref");
        let vcs = text(self, "type");
        let base_branch = text(self, "base-branch");
        let secret = text(self, "api-secret");

        if atlantis_url.is_empty() {
            self.error(
                pos,
                "a drift-schedule entry needs \"atlantis-url\" (Atlantis' base URL)",
            );
            ok = false;
        } else if let Err(e) = crate::notify::kind::check_url(&atlantis_url) {
            self.error(at("atlantis-url"), format!("\"atlantis-url\": {e}"));
            ok = false;
        }
        // Atlantis' own validation messages (its drift API answers them as 400).
        if repository.trim().is_empty() {
            self.error(at("repository"), "repository is required");
            ok = false;
        }
        if git_ref.trim().is_empty() {
            self.error(at("ref"), "ref is required");
            ok = false;
        }
        if vcs.is_empty() {
            self.error(at("type"), "type is required");
            ok = false;
        } else if !["Github", "Gitlab", "Gitea"].contains(&vcs.as_str()) {
            self.error(at("type"), "type must be one of: Github, Gitlab, Gitea");
            ok = false;
        }
        let projects = match get("projects") {
            None => Vec::new(),
            Some(f) => self.strings(f, "projects", &mut ok),
        };
        if projects.iter().any(|p| p.trim().is_empty()) {
            self.error(at("projects"), "project names cannot be empty");
            ok = false;
        }
        let paths = match get("paths") {
            None => Vec::new(),
            Some(f) => self.paths(f, &mut ok),
        };
        if !projects.is_empty() && !paths.is_empty() {
            self.error(at("paths"), "projects and paths cannot both be set");
            ok = false;
        }
        let when = match (get("every"), get("cron")) {
            (Some(_), Some(_)) => {
                self.error(at("cron"), "give \"every\" or \"cron\", not both");
                ok = false;
                None
            }
            (None, None) => {
                self.error(
                    pos,
                    "a drift-schedule entry needs \"every\" (such as 6h) or \"cron\" (such as \"0 */6 * * *\")",
                );
                ok = false;
                None
            }
            (Some(f), None) => {
                let every = self.duration(f, "every", &mut ok);
                if let Some(d) = every
                    && d < Duration::from_secs(600)
                {
                    self.warn(
                        f.pos,
                        format!(
                            "\"every: {}\" asks Atlantis to plan every project that often; drift rarely needs more than hourly",
                            humantime::format_duration(d)
                        ),
                    );
                }
                every.map(When::Every)
            }
            (None, Some(f)) => {
                let expr = self.string(f, "cron").unwrap_or_default();
                match spec::cron(expr.trim()) {
                    Ok(c) => Some(When::Cron(Box::new(c), expr.trim().to_string())),
                    Err(e) => {
                        self.error(f.pos, e);
                        ok = false;
                        None
                    }
                }
            }
        };
        if secret.is_empty() {
            self.error(
                at("api-secret"),
                "a drift-schedule entry needs \"api-secret\" (Atlantis' --api-secret; write ${ATLANTIS_API_SECRET} to read it from the environment)",
            );
            ok = false;
        } else if get("api-secret")
            .and_then(|f| f.value.as_str())
            .is_some_and(|raw| !raw.contains("${"))
        {
            self.warn(
                at("api-secret"),
                "\"api-secret\" is written in the file; read it from the environment instead (${ATLANTIS_API_SECRET})",
            );
        }
        let timeout = match get("timeout") {
            None => DEFAULT_TIMEOUT,
            Some(f) => self
                .duration(f, "timeout", &mut ok)
                .unwrap_or(DEFAULT_TIMEOUT),
        };
        let when = when?;
        ok.then(|| DriftSchedule {
            atlantis_url: atlantis_url.trim_end_matches('/').to_string(),
            repository: repository.trim().to_string(),
            git_ref: git_ref.trim().to_string(),
            vcs,
            base_branch: (!base_branch.is_empty()).then_some(base_branch),
            projects,
            paths,
            when,
            api_secret: Secret::new(secret),
            timeout,
            line: pos.line + self.shift.0,
        })
    }

    /// A list of strings.
    fn strings(&mut self, f: Field<'_>, key: &str, ok: &mut bool) -> Vec<String> {
        let Value::Sequence(items) = f.value else {
            self.error(f.pos, format!("\"{key}\" must be a list"));
            *ok = false;
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => self.expand(s, f.pos),
                Value::Number(n) => Some(n.to_string()),
                _ => {
                    self.error(f.pos, format!("\"{key}\" must be a list of names"));
                    *ok = false;
                    None
                }
            })
            .collect()
    }

    /// `paths: [{directory, workspace}]`.
    fn paths(&mut self, f: Field<'_>, ok: &mut bool) -> Vec<ProjectPath> {
        let Value::Sequence(items) = f.value else {
            self.error(f.pos, "\"paths\" must be a list of {directory, workspace}");
            *ok = false;
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let dir = item
                .get("directory")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let ws = item
                .get("workspace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            // Atlantis takes literal, clean, repo-relative directories only.
            let clean = dir == "."
                || (!dir.is_empty()
                    && !dir.starts_with('/')
                    && dir
                        .split('/')
                        .all(|p| !p.is_empty() && p != ".." && p != "."));
            if !clean {
                self.error(f.pos, "path directories must be clean repo-relative paths");
                *ok = false;
                continue;
            }
            out.push(ProjectPath {
                directory: dir.to_string(),
                workspace: ws.to_string(),
            });
        }
        out
    }
}
