//! `POST /preview`: the exact request a webhook would get for an event (a journaled one or
//! a payload), and how its destination shows it; `GET /slack`: whether the Slack token
//! works. The console asks these instead of building requests itself, so a remote console
//! shows what the server would send, with the server's config and secrets kept there.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::act::{body, select};
use super::{Api, unavailable, wire};
use crate::ingest::Problem;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Ask {
    /// The webhook, by name or index.
    webhook: String,
    /// A journaled event.
    event_id: Option<String>,
    /// Or a payload in any shape herald takes.
    payload: Option<Value>,
    /// The column width the preview is laid out for.
    width: Option<usize>,
}

pub(super) async fn preview(State(api): State<Api>, bytes: Bytes) -> Response {
    let ask: Ask = match body(&bytes) {
        Ok(a) => a,
        Err(p) => return p.into_response(),
    };
    let index = match select(&api, std::slice::from_ref(&ask.webhook)) {
        Ok(w) => w[0],
        Err(p) => return p.into_response(),
    };
    let event = match (&ask.event_id, &ask.payload) {
        (Some(id), None) => match api.engine.reader().event(id).await {
            Ok(Some(row)) => row.event,
            Ok(None) => return super::read::no_event(id),
            Err(e) => return unavailable(&e),
        },
        (None, Some(payload)) => {
            let read = crate::intake::read(payload.to_string().as_bytes(), None)
                .map_err(|e| e.to_string())
                .and_then(|i| i.into_event().map_err(|e| e.to_string()));
            match read {
                Ok(r) => r.event,
                Err(e) => {
                    return Problem::new(StatusCode::BAD_REQUEST, "this payload is not sent", e)
                        .into_response();
                }
            }
        }
        _ => {
            return Problem::new(
                StatusCode::BAD_REQUEST,
                "say what to preview",
                "give either \"event_id\" or \"payload\"",
            )
            .into_response();
        }
    };
    let config = api.engine.config();
    let webhook = &config.webhooks[index];
    match crate::notify::preview(
        &config,
        webhook,
        &event,
        ask.width.unwrap_or(60).clamp(20, 400),
    ) {
        Ok((request, preview)) => Json(wire::PreviewAnswer {
            webhook: webhook.label(),
            request,
            preview,
        })
        .into_response(),
        Err(e) => Problem::new(
            StatusCode::CONFLICT,
            "this webhook cannot be sent to",
            e.to_string(),
        )
        .into_response(),
    }
}

/// `GET /slack`: Slack's `auth.test` for the configured token, when a webhook needs it.
pub(super) async fn slack(State(api): State<Api>) -> Response {
    let config = api.engine.config();
    let needed = config.webhooks.iter().any(|w| w.target.uses_slack_token());
    let answer = match (needed, &config.slack_token) {
        (false, _) | (true, None) => wire::SlackAuth::NotNeeded,
        (true, Some(token)) => match crate::notify::client() {
            Ok(c) => {
                match crate::notify::slack::auth_test(&c, &config.slack_api_url, token.expose())
                    .await
                {
                    Ok(info) => wire::SlackAuth::Ok(info.team),
                    Err(e) => wire::SlackAuth::Failed(e),
                }
            }
            Err(e) => wire::SlackAuth::Failed(e.to_string()),
        },
    };
    Json(answer).into_response()
}
