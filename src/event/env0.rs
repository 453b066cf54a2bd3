//! env0 webhooks: `com.env0.drift.detected` normalised to a drift report, deployments and
//! destroys that succeeded or failed normalised to apply results, the test event
//! recognised, everything else acknowledged and ignored.
//!
//! env0's payload is large, loosely typed (numbers sometimes arrive as strings) and full of
//! optional or null members, so it is read leniently from a JSON value rather than through
//! a strict struct; only the fields a drift report needs are kept, and never the tokens.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::drift::{DriftProject, DriftResult};
use super::{DriftReport, EventError};

/// The env0 event type herald turns into drift reports.
pub const DRIFT_DETECTED: &str = "com.env0.drift.detected";
/// env0's "Send test event".
pub const WEBHOOK_TEST: &str = "com.env0.webhook.test";

/// env0's run results that herald sends as apply results: a deployment or a destroy that
/// ended, well or not.
pub const RUN_RESULTS: [&str; 4] = [
    "com.env0.deploy.succeeded",
    "com.env0.deploy.failed",
    "com.env0.destroy.succeeded",
    "com.env0.destroy.failed",
];

/// Keys whose values herald never keeps, wherever they appear in an env0 body.
const NEVER_KEPT: [&str; 3] = ["oidcToken", "vcsAccessToken", "tfPlanJson"];

/// What an env0 webhook is, once read. Short-lived (one per request), so the size
/// difference between variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Env0Event {
    /// A drift detection result, ready to route.
    Drift(DriftReport),
    /// A deployment or destroy that ended, as an Atlantis apply result.
    Run(super::ApplyResult),
    /// The "Send test event" of env0's UI: acknowledged, logged, not dispatched.
    Test {
        /// The envelope id.
        id: String,
    },
    /// Another env0 event type: acknowledged and ignored.
    Other {
        /// Its `type`.
        kind: String,
        /// The envelope id.
        id: String,
    },
}

/// env0-specific facts kept beside the Atlantis-shaped report, for the console and Slack.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Env0Context {
    /// The envelope `id` (env0's dedupe key).
    pub event_id: String,
    /// The envelope `type`.
    pub event_type: String,
    /// Environment name.
    pub environment: String,
    /// Environment id.
    pub environment_id: String,
    /// env0 project name.
    pub project: String,
    /// Organisation name.
    pub organization: String,
    /// Link to the deployment (or the environment) in env0.
    pub url: String,
    /// The deployment's status (SUCCESS, FAILURE, ...).
    pub status: String,
    /// `environment.driftStatus` (OK, DRIFTED, ERROR, ...).
    pub drift_status: String,
    /// Who started the run.
    pub started_by: String,
    /// True for a scheduled drift check.
    pub scheduled: bool,
    /// The commit checked.
    pub commit: String,
    /// The repository URL as env0 gave it.
    pub repository_url: String,
    /// When the run finished (or started), as env0 wrote it.
    pub time: String,
    /// Changed resources, sorted by action then address, at most [`MAX_RESOURCES`].
    pub resources: Vec<ResourceChange>,
    /// Resources left out of `resources`.
    pub more_resources: usize,
    /// Why it drifted, such as "2 unapplied commits (latest by a@b.c 1a2b3c4)".
    pub cause: String,
}

/// At most this many resource changes are kept per report.
pub const MAX_RESOURCES: usize = 50;

/// One changed resource.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceChange {
    /// Resource address.
    pub address: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// create, update, delete, recreate.
    pub action: String,
    /// True when the change was made outside Terraform.
    pub drift_by_cloud: bool,
}

/// Reads an env0 webhook body. Its id is the body's own: the `x-env0-event-id` header is
/// not covered by the signature, so nothing is taken from it.
///
/// # Errors
/// When the body is not an env0 envelope (no `type`) or a drift event has no `data`.
pub fn parse(body: &Value) -> Result<Env0Event, EventError> {
    let kind = text(body, &["type"]).ok_or_else(|| EventError::missing("type"))?;
    let id = text(body, &["id"]).unwrap_or_default().to_string();
    match kind {
        WEBHOOK_TEST => Ok(Env0Event::Test { id }),
        DRIFT_DETECTED => {
            let data = body
                .get("data")
                .filter(|d| d.is_object())
                .ok_or_else(|| EventError::missing("data"))?;
            Ok(Env0Event::Drift(drift(body, data, kind, id)))
        }
        run if RUN_RESULTS.contains(&run) => {
            let data = body
                .get("data")
                .filter(|d| d.is_object())
                .ok_or_else(|| EventError::missing("data"))?;
            Ok(Env0Event::Run(apply(data, run)))
        }
        other => Ok(Env0Event::Other {
            kind: other.to_string(),
            id,
        }),
    }
}

/// The parts of an env0 `data` that drift reports and run results both read.
struct Parts<'a> {
    dl: &'a Value,
    env: &'a Value,
    vars: &'a Value,
    repository_url: String,
    revision: String,
}

impl<'a> Parts<'a> {
    fn of(data: &'a Value) -> Self {
        let dl = data.get("deploymentLog").unwrap_or(&Value::Null);
        let env = data.get("environment").unwrap_or(&Value::Null);
        let latest = env.get("latestDeploymentLog").unwrap_or(&Value::Null);
        Self {
            dl,
            env,
            vars: dl
                .get("customEnv0EnvironmentVariables")
                .unwrap_or(&Value::Null),
            repository_url: first(&[
                text(dl, &["blueprintRepository"]),
                text(data, &["blueprint", "repository"]),
                text(latest, &["blueprintRepository"]),
            ]),
            revision: first(&[
                text(dl, &["blueprintRevision"]),
                text(data, &["blueprint", "revision"]),
                text(dl, &["gitMetadata", "branch"]),
            ]),
        }
    }
}

fn drift(body: &Value, data: &Value, kind: &str, id: String) -> DriftReport {
    let Parts {
        dl,
        env,
        vars,
        repository_url,
        revision: git_ref,
    } = Parts::of(data);
    let path = first(&[
        text(dl, &["blueprintPath"]),
        text(data, &["blueprint", "path"]),
    ]);
    let environment = first(&[text(env, &["name"]), text(vars, &["environmentName"])]);
    let workspace = first(&[
        text(env, &["workspaceName"]),
        text(vars, &["workspaceName"]),
    ]);
    let drift_status = first(&[text(env, &["driftStatus"])]);
    let has_drift = kind == DRIFT_DETECTED
        || dl.get("driftDetected").and_then(Value::as_bool) == Some(true)
        || drift_status == "DRIFTED";

    let summary_obj = dl.get("planSummary").unwrap_or(&Value::Null);
    let to_add = number(summary_obj.get("added"));
    let to_change = number(summary_obj.get("changed"));
    let to_destroy = number(summary_obj.get("destroyed"));
    let to_import = number(summary_obj.get("imported"));
    let summary = if to_import > 0 {
        format!(
            "Plan: {to_import} to import, {to_add} to add, {to_change} to change, {to_destroy} to destroy."
        )
    } else {
        format!("Plan: {to_add} to add, {to_change} to change, {to_destroy} to destroy.")
    };

    let mut resources: Vec<ResourceChange> = dl
        .get("plan")
        .and_then(|p| p.get("resourceChanges"))
        .and_then(Value::as_array)
        .map(|changes| {
            changes
                .iter()
                .map(|c| ResourceChange {
                    address: first(&[text(c, &["path"]), text(c, &["name"])]),
                    resource_type: first(&[text(c, &["type"])]),
                    action: first(&[text(c, &["action"])]),
                    drift_by_cloud: c
                        .get("driftByCloud")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default();
    resources.sort_by(|a, b| a.action.cmp(&b.action).then(a.address.cmp(&b.address)));
    let more_resources = resources.len().saturating_sub(MAX_RESOURCES);
    resources.truncate(MAX_RESOURCES);

    let cause = dl
        .get("driftCause")
        .and_then(|c| c.get("unappliedCommits"))
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .map(|commits| {
            let latest = commits
                .iter()
                .max_by_key(|c| text(c, &["timestamp"]).unwrap_or_default());
            let who = latest
                .and_then(|c| text(c, &["userEmail"]))
                .unwrap_or("unknown");
            let sha: String = latest
                .and_then(|c| text(c, &["commitHash"]))
                .unwrap_or_default()
                .chars()
                .take(7)
                .collect();
            let n = commits.len();
            let s = if n == 1 { "" } else { "s" };
            format!("{n} unapplied commit{s} (latest by {who} {sha})").replace(" )", ")")
        })
        .unwrap_or_default();

    let context = Env0Context {
        event_id: id.clone(),
        event_type: kind.to_string(),
        environment: environment.clone(),
        environment_id: first(&[text(env, &["id"]), text(dl, &["environmentId"])]),
        project: first(&[
            text(data, &["project", "name"]),
            text(vars, &["projectName"]),
        ]),
        organization: first(&[text(data, &["organization", "name"])]),
        url: first(&[text(dl, &["url"]), text(env, &["url"])]),
        status: first(&[text(dl, &["status"])]),
        drift_status,
        started_by: first(&[
            text(dl, &["startedByUser", "name"]),
            text(dl, &["startedByUser", "email"]),
            text(dl, &["startedBy"]),
        ]),
        scheduled: dl
            .get("isScheduledRun")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        commit: first(&[
            text(data, &["gitRevision"]),
            text(dl, &["gitMetadata", "commit"]),
            text(vars, &["commitHash"]),
        ]),
        repository_url: repository_url.clone(),
        time: first(&[
            text(dl, &["finishedAt"]),
            text(dl, &["startedAt"]),
            text(dl, &["queuedAt"]),
            text(body, &["time"]),
        ]),
        resources,
        more_resources,
        cause,
    };
    let project = DriftProject {
        project_name: environment,
        path,
        workspace,
        has_drift,
        to_add,
        to_change,
        to_destroy,
        to_import,
        to_forget: 0,
        summary,
        error: String::new(),
    };
    DriftReport {
        result: DriftResult {
            repository: repo_display(&repository_url),
            git_ref,
            detection_id: if id.is_empty() {
                first(&[text(dl, &["id"])])
            } else {
                id
            },
            projects_with_drift: u64::from(has_drift),
            total_projects: 1,
            projects: vec![project],
        },
        env0: Some(context),
    }
}

/// An env0 deployment or destroy as Atlantis' apply result: what `workspace-regex`,
/// `branch-regex`, `project-regex` and `directory-regex` test is the environment's
/// workspace, the deployed revision, the environment's name and the template's path; the
/// "PR" link is the deployment in env0; a failure's error is the `ResultMessage`.
fn apply(data: &Value, kind: &str) -> super::ApplyResult {
    let Parts {
        dl,
        env,
        vars,
        repository_url,
        revision,
    } = Parts::of(data);
    let full_name = repo_display(&repository_url);
    let (owner, name) = full_name
        .rsplit_once('/')
        .map_or((String::new(), full_name.clone()), |(o, n)| {
            (o.to_string(), n.to_string())
        });
    let failed = kind.ends_with(".failed");
    let error = match dl.get("error") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| Value::Object(o.clone()).to_string(), str::to_string),
        _ => String::new(),
    };
    let command = first(&[text(dl, &["failedCommand"])]);
    let result_message = [error, command]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let tree = serde_json::json!({
        "Workspace": first(&[text(env, &["workspaceName"]), text(vars, &["workspaceName"])]),
        "Repo": {"FullName": full_name, "Owner": owner, "Name": name, "CloneURL": repository_url},
        "Pull": {
            "Num": dl.get("prNumber").and_then(Value::as_i64).unwrap_or(0),
            "HeadCommit": first(&[text(data, &["gitRevision"]), text(dl, &["gitMetadata", "commit"]), text(vars, &["commitHash"])]),
            "URL": first(&[text(dl, &["url"]), text(env, &["url"])]),
            "HeadBranch": first(&[text(dl, &["gitMetadata", "branch"]), text(vars, &["prSourceBranch"]), Some(revision.as_str())]),
            "BaseBranch": revision,
            "Author": first(&[text(vars, &["prAuthor"])]),
        },
        "User": {"Username": first(&[
            text(dl, &["startedByUser", "name"]),
            text(vars, &["deployerName"]),
            text(dl, &["startedBy"]),
        ])},
        "Success": !failed,
        "Directory": first(&[text(dl, &["blueprintPath"]), text(data, &["blueprint", "path"])]),
        "ProjectName": first(&[text(env, &["name"]), text(vars, &["environmentName"])]),
    });
    // Every key above has the type ApplyResult reads, so this never falls back.
    let mut a: super::ApplyResult = serde_json::from_value(tree).unwrap_or_default();
    a.result_message = (failed && !result_message.is_empty()).then_some(result_message);
    a.redact();
    a
}

/// Removes what must never be stored from an env0 body: tokens, the plan JSON, resource
/// attribute values (which can hold secrets) and sensitive variable values.
pub fn scrub(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in NEVER_KEPT {
                map.remove(key);
            }
            map.remove("attributes");
            if map.get("isSensitive").and_then(Value::as_bool) == Some(true)
                && let Some(v) = map.get_mut("value")
            {
                *v = Value::String(crate::redact::REDACTED.to_string());
            }
            map.values_mut().for_each(scrub);
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// `owner/name` from a repository URL (`https://github.com/acme/infra.git` → `acme/infra`).
pub fn repo_display(url: &str) -> String {
    let s = url.trim().trim_end_matches('/').trim_end_matches(".git");
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let s = s.rsplit_once('@').map_or(s, |(_, rest)| rest);
    let s = s
        .split_once(':')
        .filter(|(host, _)| host.contains('.'))
        .map_or(s, |(_, p)| p);
    let parts: Vec<&str> = s.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() >= 3 && parts[0].contains('.') {
        parts[1..].join("/")
    } else {
        parts.join("/")
    }
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

fn first(options: &[Option<&str>]) -> String {
    options
        .iter()
        .flatten()
        .next()
        .copied()
        .unwrap_or_default()
        .to_string()
}

/// A count that may arrive as a number or a numeric string.
fn number(v: Option<&Value>) -> u64 {
    let f = match v {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.trim().parse::<f64>().unwrap_or(0.0),
        _ => 0.0,
    };
    if f.is_finite() && f > 0.0 {
        // Counts are whole numbers; anything else is rounded, never negative.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = f.round() as u64;
        n
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repo_display_forms() {
        assert_eq!(
            repo_display("https://github.com/acme/infra.git"),
            "acme/infra"
        );
        assert_eq!(repo_display("git@github.com:acme/infra.git"), "acme/infra");
        assert_eq!(
            repo_display("https://gitlab.com/g/sub/infra"),
            "g/sub/infra"
        );
        assert_eq!(repo_display("acme/infra"), "acme/infra");
    }

    #[test]
    fn lenient_numbers_and_missing_fields() {
        let body = json!({"type": DRIFT_DETECTED, "id": "e1", "data": {
            "deploymentLog": {"planSummary": {"added": "2", "changed": 1.0, "destroyed": null}}
        }});
        let Env0Event::Drift(r) = parse(&body).expect("parses") else {
            panic!("not drift")
        };
        let p = &r.result.projects[0];
        assert_eq!((p.to_add, p.to_change, p.to_destroy), (2, 1, 0));
        assert!(p.has_drift);
        assert_eq!(r.result.detection_id, "e1");
    }

    #[test]
    fn test_event_and_unknown_types() {
        assert_eq!(
            parse(&json!({"type": WEBHOOK_TEST, "id": "t"})),
            Ok(Env0Event::Test { id: "t".into() })
        );
        assert!(
            matches!(parse(&json!({"type": "com.env0.budget.exceeded", "id": "b"})), Ok(Env0Event::Other { id, .. }) if id == "b")
        );
        assert!(parse(&json!({"type": DRIFT_DETECTED})).is_err());
        // A deployment that ended is an apply result, and needs its data like drift does.
        assert!(parse(&json!({"type": "com.env0.deploy.succeeded", "id": "b"})).is_err());
        let Ok(Env0Event::Run(a)) = parse(&json!({"type": "com.env0.destroy.failed", "id": "d",
            "data": {"deploymentLog": {"error": "state locked", "blueprintRepository": "https://github.com/o/r.git"},
                     "environment": {"name": "prod", "workspaceName": "prod-ws"}}}))
        else {
            panic!("a run result")
        };
        assert!(!a.success);
        assert_eq!(
            (
                a.repo.full_name.as_str(),
                a.workspace.as_str(),
                a.project_name.as_str()
            ),
            ("o/r", "prod-ws", "prod")
        );
        assert_eq!(a.result_message.as_deref(), Some("state locked"));
    }

    #[test]
    fn scrub_removes_tokens_everywhere() {
        let mut v = json!({"data": {"deploymentLog": {"customEnv0EnvironmentVariables": {"oidcToken": "eyJ", "vcsAccessToken": "ghs_x", "projectName": "p"}},
            "environment": {"latestDeploymentLog": {"customEnv0EnvironmentVariables": {"tfPlanJson": "{}"}}}}});
        scrub(&mut v);
        let s = v.to_string();
        assert!(!s.contains("eyJ") && !s.contains("ghs_x") && !s.contains("tfPlanJson"));
        assert!(s.contains("projectName"));
    }
}
