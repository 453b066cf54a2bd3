//! `PUT /webhooks/{id}/filters`: a webhook's `workspace-regex` and `branch-regex` changed
//! in the running engine, and with `"write": true` in the config file too (comments and
//! layout kept, a backup beside it).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::Api;
use crate::config::{self, Filter};
use crate::ingest::Problem;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Filters {
    #[serde(rename = "workspace-regex")]
    workspace: Option<String>,
    #[serde(rename = "branch-regex")]
    branch: Option<String>,
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
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for (key, pattern) in [
        ("workspace-regex", &req.workspace),
        ("branch-regex", &req.branch),
    ] {
        let Some(pattern) = pattern else { continue };
        let filter = match Filter::compile(pattern) {
            Ok(f) => f,
            Err(p) => {
                return Problem::new(
                    StatusCode::BAD_REQUEST,
                    p.message,
                    format!("{key}, at character {}", p.offset),
                )
                .into_response();
            }
        };
        let hook = &mut changed.webhooks[index];
        if key == "workspace-regex" {
            hook.workspace_regex = filter;
        } else {
            hook.branch_regex = filter;
        }
        fields.push((key, pattern));
    }
    if fields.is_empty() {
        return bad(
            "nothing to change",
            "give \"workspace-regex\" and/or \"branch-regex\"",
        );
    }
    if req.write {
        if let Err(p) = write(&api, &current, index, &fields) {
            return p.into_response();
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
        "written": req.write,
    }))
    .into_response()
}

/// Writes the values into the config file, then reloads from it; a file that would not
/// load is put back as it was.
fn write(
    api: &Api,
    current: &config::Config,
    index: usize,
    fields: &[(&str, &str)],
) -> Result<(), Problem> {
    let (Some(path), Some(reload)) = (current.path.clone(), api.reload.clone()) else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "no config file to write",
            "this herald runs without one; apply without \"write\"",
        ));
    };
    let conflict =
        |what: String| Problem::new(StatusCode::CONFLICT, what, path.display().to_string());
    let old = std::fs::read_to_string(&path)
        .map_err(|e| conflict(format!("cannot read the config file: {e}")))?;
    let mut new = old.clone();
    for (key, pattern) in fields {
        new = config::set_webhook_value(&new, index, key, pattern)
            .map_err(|e| conflict(e.to_string()))?;
    }
    config::save_with_backup(&path, &old, &new).map_err(|e| conflict(e.to_string()))?;
    match reload() {
        Ok(c) => {
            api.engine.reload(Arc::new(c));
            Ok(())
        }
        Err(report) => {
            let _ = config::save_with_backup(&path, &new, &old);
            Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the edited file would not load; it was put back",
                report,
            ))
        }
    }
}
