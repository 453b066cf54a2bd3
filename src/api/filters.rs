//! `PUT /webhooks/{id}/filters`: a webhook's `workspace-regex`, `branch-regex`,
//! `project-regex` and `directory-regex` changed
//! in the running engine, and with `"write": true` in the config file too, by the same
//! [`config::write_filters`] the console uses (comments and layout kept, a backup beside
//! it, nothing written that would not load).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::Api;
use crate::config;
use crate::ingest::Problem;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Filters {
    #[serde(rename = "workspace-regex")]
    workspace: Option<String>,
    #[serde(rename = "branch-regex")]
    branch: Option<String>,
    #[serde(rename = "project-regex")]
    project: Option<String>,
    #[serde(rename = "directory-regex")]
    directory: Option<String>,
    #[serde(default)]
    write: bool,
}

fn bad(error: impl Into<String>, detail: impl Into<String>) -> Response {
    Problem::new(StatusCode::BAD_REQUEST, error, detail).into_response()
}

pub(super) async fn put(State(api): State<Api>, Path(id): Path<String>, bytes: Bytes) -> Response {
    let req: Filters = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return bad(
                format!("invalid request body: {e}"),
                format!("line {}, column {}", e.line(), e.column()),
            );
        }
    };
    let current = api.engine.config();
    let Some(w) = current
        .webhooks
        .iter()
        .find(|w| w.key.as_str() == id)
        .or_else(|| current.select(&id))
    else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "no such webhook",
            format!("no webhook has id, name or index {id:?}"),
        )
        .into_response();
    };
    let index = w.index;
    let mut changed = (*current).clone();
    let mut fields: Vec<(&'static str, &str)> = Vec::new();
    for (key, pattern) in [
        ("workspace-regex", &req.workspace),
        ("branch-regex", &req.branch),
        ("project-regex", &req.project),
        ("directory-regex", &req.directory),
    ] {
        let Some(pattern) = pattern else { continue };
        changed = match changed.with_filter(index, key, pattern) {
            Ok(c) => c,
            Err(p) => {
                return Problem::new(
                    StatusCode::BAD_REQUEST,
                    p.message,
                    format!("{key}, at character {}", p.offset),
                )
                .into_response();
            }
        };
        fields.push((key, pattern));
    }
    if fields.is_empty() {
        return bad(
            "nothing to change",
            "give one or more of \"workspace-regex\", \"branch-regex\", \"project-regex\", \"directory-regex\"",
        );
    }
    let mut said = String::new();
    if req.write {
        let written = match &api.load {
            Some(load) => config::write_filters(&current, load, index, &fields),
            None => Err(config::WriteFiltersError::NoFile),
        };
        match written {
            Ok(w) => {
                // What was written: also the other filter when it was applied but not saved.
                let asked: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
                let earlier: Vec<&str> = w
                    .keys
                    .iter()
                    .copied()
                    .filter(|k| !asked.contains(k))
                    .collect();
                let what = if earlier.is_empty() {
                    asked.join(" and ")
                } else {
                    format!(
                        "{} and {} (applied earlier, unsaved until now)",
                        asked.join(" and "),
                        earlier.join(" and ")
                    )
                };
                let file = w
                    .config
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                said = format!(
                    "wrote {what} of webhook {} to {file} (backup {})",
                    w.config
                        .webhooks
                        .get(index)
                        .map_or_else(|| format!("#{index}"), config::Webhook::label),
                    w.backup.display()
                );
                api.engine.reload(Arc::new(w.config));
            }
            Err(config::WriteFiltersError::NoFile) => {
                return Problem::new(
                    StatusCode::CONFLICT,
                    "no config file to write",
                    "this herald runs without one; apply without \"write\"",
                )
                .into_response();
            }
            Err(e @ config::WriteFiltersError::WouldNotLoad(_)) => {
                return Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "the edited file would not load; nothing was written",
                    e.to_string(),
                )
                .into_response();
            }
            Err(e) => {
                return Problem::new(
                    StatusCode::CONFLICT,
                    "cannot write the config file",
                    e.to_string(),
                )
                .into_response();
            }
        }
    } else {
        api.engine.reload(Arc::new(changed));
    }
    let now = api.engine.config();
    let w = &now.webhooks[index];
    Json(json!({
        "webhook": w.label(),
        "workspace_regex": w.workspace_regex.pattern(),
        "branch_regex": w.branch_regex.pattern(),
        "project_regex": w.project_regex.pattern(),
        "directory_regex": w.directory_regex.pattern(),
        "written": req.write,
        "said": said,
    }))
    .into_response()
}
