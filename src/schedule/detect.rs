//! One call of Atlantis' drift API, `POST {atlantis-url}/api/drift/detect`, and what its
//! answer amounts to: a drift report shaped exactly as Atlantis' own drift webhook would
//! send it (errored projects kept), or why there is none.

use serde_json::{Value, json};

use super::spec::DriftSchedule;

/// What one detection came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Detection {
    /// Atlantis answered 200 (no project errored) or 207 (some did): the report, as the
    /// JSON of Atlantis' drift webhook.
    Report {
        /// 200 or 207.
        status: u16,
        /// The drift payload.
        body: Vec<u8>,
    },
    /// No report came of it.
    Failed {
        /// Atlantis' status, when it answered.
        status: Option<u16>,
        /// Why, in a sentence, the API secret masked.
        error: String,
    },
}

/// The request body Atlantis' drift API takes (see its `DetectDrift` handler).
pub fn request_body(s: &DriftSchedule) -> Value {
    let mut body = json!({
        "repository": s.repository,
        "ref": s.git_ref,
        "type": s.vcs,
    });
    if let Some(b) = &s.base_branch {
        body["base_branch"] = json!(b);
    }
    if !s.projects.is_empty() {
        body["projects"] = json!(s.projects);
    }
    if !s.paths.is_empty() {
        body["paths"] = json!(s.paths);
    }
    body
}

/// Asks Atlantis to detect drift now, as the schedule says. `secrets` are every secret of
/// the config: what Atlantis (or a proxy before it) answers is quoted in the error, and an
/// answer may echo any of them.
pub async fn detect(client: &reqwest::Client, s: &DriftSchedule, secrets: &[String]) -> Detection {
    let url = format!("{}/api/drift/detect", s.atlantis_url.trim_end_matches('/'));
    let secret = s.api_secret.expose();
    let mut all: Vec<&str> = secrets.iter().map(String::as_str).collect();
    all.push(secret);
    let masked = |text: &str| crate::redact::sanitize(text, &all);
    let sent = client
        .post(&url)
        .header("X-Atlantis-Token", secret)
        .json(&request_body(s))
        .timeout(s.timeout)
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_timeout() {
                format!(
                    "no answer from {} within {}",
                    crate::redact::url_origin(&url),
                    humantime::format_duration(s.timeout)
                )
            } else {
                format!(
                    "cannot reach {}: {}",
                    crate::redact::url_origin(&url),
                    crate::notify::root_cause(&e)
                )
            };
            return Detection::Failed {
                status: None,
                error: masked(&why),
            };
        }
    };
    let status = resp.status().as_u16();
    let text = match resp.text().await {
        Ok(t) => t,
        Err(e) => {
            return Detection::Failed {
                status: Some(status),
                error: masked(&format!("the answer could not be read: {e}")),
            };
        }
    };
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !matches!(status, 200 | 207) {
        // Atlantis' envelope: {"success": false, "error": {"code", "message", "details"}}.
        let message = answer["error"]["message"]
            .as_str()
            .map(str::to_string)
            .or_else(|| answer["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| {
                let t = text.trim();
                if t.is_empty() {
                    "an empty answer".to_string()
                } else {
                    t.chars().take(300).collect()
                }
            });
        let details: Vec<String> = answer["error"]["details"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["message"].as_str().map(str::to_string))
            .collect();
        let error = if details.is_empty() {
            message
        } else {
            format!("{message}: {}", details.join("; "))
        };
        return Detection::Failed {
            status: Some(status),
            error: masked(&error),
        };
    }
    match report(s, &answer["data"]) {
        Some(body) => Detection::Report {
            status,
            body: serde_json::to_vec(&body).unwrap_or_default(),
        },
        None => Detection::Failed {
            status: Some(status),
            error: "Atlantis answered without a drift result (no \"data\")".into(),
        },
    }
}

/// The drift webhook's payload from the detect answer's `data`, as Atlantis builds it:
/// the requested repository as given, the ref of the first project (else the request's,
/// `refs/heads/` stripped), the run id, counts, and each project with its error.
pub fn report(s: &DriftSchedule, data: &Value) -> Option<Value> {
    let data = data.as_object()?;
    let projects: Vec<Value> = data
        .get("projects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let drift = &p["drift"];
            let n = |k: &str| drift[k].as_u64().unwrap_or(0);
            let mut out = json!({
                "project_name": p["project_name"].as_str().unwrap_or_default(),
                "path": p["directory"].as_str().or(p["path"].as_str()).unwrap_or_default(),
                "workspace": p["workspace"].as_str().unwrap_or_default(),
                "has_drift": p["has_drift"].as_bool().unwrap_or(false),
                "to_add": n("to_add"),
                "to_change": n("to_change"),
                "to_destroy": n("to_destroy"),
                "to_import": n("to_import"),
                "to_forget": n("to_forget"),
                "summary": drift["summary"].as_str().unwrap_or_default(),
            });
            if let Some(e) = p["error"].as_str().filter(|e| !e.is_empty()) {
                out["error"] = json!(e);
            }
            out
        })
        .collect();
    let git_ref = data
        .get("projects")
        .and_then(|p| p.get(0))
        .and_then(|p| p["ref"].as_str())
        .map_or_else(
            || {
                s.git_ref
                    .trim()
                    .trim_start_matches("refs/heads/")
                    .to_string()
            },
            str::to_string,
        );
    let drifted = projects
        .iter()
        .filter(|p| p["has_drift"].as_bool() == Some(true))
        .count();
    Some(json!({
        "repository": s.repository,
        "ref": git_ref,
        "detection_id": data.get("id").and_then(Value::as_str).unwrap_or_default(),
        "projects_with_drift": drifted,
        "total_projects": projects.len(),
        "projects": projects,
    }))
}
