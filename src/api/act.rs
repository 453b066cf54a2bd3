//! The acting routes (operator token): replay, test-fire, pause and resume, reload.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Api, unavailable, wire};
use crate::clock::now_ms;
use crate::dispatch::{FireError, ReplayError};
use crate::ingest::Problem;
use crate::store::{DeliveryFilter, DeliveryStatus};

/// An optional JSON body: absent or empty reads as the default.
pub(super) fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &Bytes) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            format!("invalid request body: {e}"),
            format!("line {}, column {}", e.line(), e.column()),
        )
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Targets {
    /// Webhooks by name or index; none: as routing decides (event) or its own (delivery).
    #[serde(default)]
    webhooks: Vec<String>,
}

/// Webhook selectors to indexes.
pub(super) fn select(api: &Api, sels: &[String]) -> Result<Vec<usize>, Problem> {
    let config = api.engine.config();
    sels.iter()
        .map(|s| {
            config.select(s).map(|w| w.index).ok_or_else(|| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    format!("no webhook {s:?}"),
                    "name a webhook by its name or 0-based index (GET /api/v1/webhooks lists them)",
                )
            })
        })
        .collect()
}

async fn replay_one(api: &Api, id: &str, bytes: &Bytes) -> Response {
    let targets: Targets = match body(bytes) {
        Ok(t) => t,
        Err(p) => return p.into_response(),
    };
    let webhooks = match select(api, &targets.webhooks) {
        Ok(w) => w,
        Err(p) => return p.into_response(),
    };
    match api.engine.replay(id, &webhooks).await {
        Ok(ids) => (
            StatusCode::ACCEPTED,
            Json(wire::Created { deliveries: ids }),
        )
            .into_response(),
        Err(ReplayError::NotFound(id)) => Problem::new(
            StatusCode::NOT_FOUND,
            "nothing to replay",
            format!("no event or delivery has id {id}"),
        )
        .into_response(),
        Err(e @ ReplayError::WebhookGone(_)) => Problem::new(
            StatusCode::CONFLICT,
            e.to_string(),
            "give \"webhooks\": [...]",
        )
        .into_response(),
        Err(ReplayError::Store(e)) => unavailable(&e),
    }
}

/// `POST /events/{id}/replay` (`{"webhooks": [...]}` optional).
pub(super) async fn replay_event(
    State(api): State<Api>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    replay_one(&api, &id, &bytes).await
}

/// `POST /deliveries/{id}/replay` (`{"webhooks": [...]}` optional).
pub(super) async fn replay_delivery(
    State(api): State<Api>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    replay_one(&api, &id, &bytes).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplayMany {
    /// Every failed delivery (the only selection there is, and it must be said).
    #[serde(default)]
    failed: bool,
    /// Only those created at or after this time (Unix ms).
    since: Option<i64>,
    /// To these webhooks instead of their own.
    #[serde(default)]
    webhooks: Vec<String>,
}

/// `POST /replay` (`{"failed": true, "since": MS, "webhooks": [...]}`).
pub(super) async fn replay_many(State(api): State<Api>, bytes: Bytes) -> Response {
    let req: ReplayMany = match body(&bytes) {
        Ok(r) => r,
        Err(p) => return p.into_response(),
    };
    if !req.failed {
        return Problem::new(
            StatusCode::BAD_REQUEST,
            "say what to replay",
            "send {\"failed\": true} (optionally \"since\" in Unix ms and \"webhooks\")",
        )
        .into_response();
    }
    let webhooks = match select(&api, &req.webhooks) {
        Ok(w) => w,
        Err(p) => return p.into_response(),
    };
    let failed = match api
        .engine
        .reader()
        .deliveries(DeliveryFilter {
            status: Some(DeliveryStatus::Failed),
            ..DeliveryFilter::default()
        })
        .await
    {
        Ok(f) => f,
        Err(e) => return unavailable(&e),
    };
    let since = req.since.unwrap_or(i64::MIN);
    let mut ids = Vec::new();
    let mut skipped = Vec::new();
    for d in failed.iter().filter(|d| d.created_at >= since) {
        match api.engine.replay(&d.id, &webhooks).await {
            Ok(new) => ids.extend(new),
            Err(ReplayError::Store(e)) => return unavailable(&e),
            Err(e) => skipped.push(json!({"delivery": d.id, "why": e.to_string()})),
        }
    }
    (
        StatusCode::ACCEPTED,
        Json(json!({"deliveries": ids, "skipped": skipped})),
    )
        .into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Fire {
    /// The payload: a JSON object (any of the shapes herald takes).
    payload: Value,
    /// The webhooks it goes to, whatever their filters.
    webhooks: Vec<String>,
}

/// `POST /fire`: sends a payload to the given webhooks now and answers with each
/// delivery's outcome.
pub(super) async fn fire(State(api): State<Api>, bytes: Bytes) -> Response {
    let req: Fire = match body(&bytes) {
        Ok(r) => r,
        Err(p) => return p.into_response(),
    };
    if req.webhooks.is_empty() {
        return Problem::new(
            StatusCode::BAD_REQUEST,
            "no webhook to fire at",
            "give \"webhooks\": [name or index, ...]",
        )
        .into_response();
    }
    let webhooks = match select(&api, &req.webhooks) {
        Ok(w) => w,
        Err(p) => return p.into_response(),
    };
    let payload = req.payload.to_string();
    let ids = match api.engine.test_fire(payload.as_bytes(), &webhooks).await {
        Ok(ids) => ids,
        Err(FireError::Store(e)) => return unavailable(&e),
        Err(e) => {
            return Problem::new(
                StatusCode::BAD_REQUEST,
                "this payload is not sent",
                e.to_string(),
            )
            .into_response();
        }
    };
    let journal = api.engine.reader();
    let mut out = Vec::new();
    for id in ids {
        let (Ok(Some(d)), Ok(attempts)) =
            (journal.delivery(&id).await, journal.attempts(&id).await)
        else {
            continue;
        };
        out.push(wire::DeliveryDetail {
            delivery: d,
            attempts,
        });
    }
    Json(wire::Fired { deliveries: out }).into_response()
}

async fn set_paused(api: &Api, paused: bool) -> Response {
    match api.engine.set_paused(paused).await {
        Ok(()) => Json(json!({"paused": paused, "at": now_ms()})).into_response(),
        Err(e) => unavailable(&e),
    }
}

/// `POST /pause`: no attempt starts, in any process on this journal, until resumed.
pub(super) async fn pause(State(api): State<Api>) -> Response {
    set_paused(&api, true).await
}

/// `POST /resume`.
pub(super) async fn resume(State(api): State<Api>) -> Response {
    set_paused(&api, false).await
}

/// `POST /reload`: re-reads the config file; one with errors is refused and the running
/// one kept.
pub(super) async fn reload(State(api): State<Api>) -> Response {
    let Some(load) = &api.load else {
        return Problem::new(
            StatusCode::NOT_IMPLEMENTED,
            "nothing to reload",
            "this herald runs without a config file",
        )
        .into_response();
    };
    match crate::config::load(load) {
        Ok((config, _)) => {
            let n = config.webhooks.len();
            api.engine.reload(Arc::new(config));
            Json(json!({"reloaded": true, "webhooks": n})).into_response()
        }
        Err(report) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the config file has errors; the running config is kept",
            report.to_string(),
        )
        .into_response(),
    }
}
