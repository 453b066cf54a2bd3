//! The reading routes: status, webhooks, events paged over the whole journal, one event.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::{Api, unavailable, wire};
use crate::ingest::Problem;
use crate::store::{DeliveryFilter, Field, Term};

/// `GET /status`: version, journal, engine state (shared by every process on the
/// journal), counts.
pub(super) async fn status(State(api): State<Api>) -> Response {
    let journal = api.engine.reader();
    let (counts, paused) = match (journal.counts().await, journal.paused().await) {
        (Ok(c), Ok(p)) => (c, p),
        (Err(e), _) | (_, Err(e)) => return unavailable(&e),
    };
    Json(wire::Status {
        version: crate::VERSION.to_string(),
        journal: wire::JournalInfo {
            backend: journal.kind().into(),
            path: journal.at(),
        },
        paused,
        in_flight: api.engine.in_flight(),
        webhooks: api.engine.config().webhooks.len(),
        counts,
    })
    .into_response()
}

/// `GET /webhooks`: every webhook with its target masked and its deliveries by state.
pub(super) async fn webhooks(State(api): State<Api>) -> Response {
    let stats = match api.engine.reader().webhook_stats().await {
        Ok(s) => s,
        Err(e) => return unavailable(&e),
    };
    let config = api.engine.config();
    let webhooks = wire::webhooks(&config, &stats);
    Json(wire::Webhooks { webhooks }).into_response()
}

#[derive(Debug, Deserialize)]
pub(super) struct Page {
    before: Option<i64>,
    limit: Option<usize>,
    q: Option<String>,
    /// Each event with the event itself and its deliveries (what the console lists).
    #[serde(default)]
    full: bool,
}

/// The most events one page holds.
const MAX_PAGE: usize = 1000;

/// `GET /events?before=SEQ&limit=N&q=QUERY`: newest first; `next` is the cursor of the
/// following (older) page, absent on the last.
pub(super) async fn events(State(api): State<Api>, Query(page): Query<Page>) -> Response {
    let limit = page.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Problem::new(
            StatusCode::BAD_REQUEST,
            "limit out of range",
            format!("limit is 1 to {MAX_PAGE}"),
        )
        .into_response();
    }
    let terms = match parse_query(page.q.as_deref().unwrap_or_default()) {
        Ok(t) => t,
        Err(p) => return p.into_response(),
    };
    match api
        .engine
        .reader()
        .events_page(page.before, limit, terms)
        .await
    {
        Ok(events) => {
            let next = (events.len() == limit)
                .then(|| events.last().map(|e| e.seq))
                .flatten();
            if !page.full {
                return Json(wire::Page { events, next }).into_response();
            }
            match full_events(api.engine.reader(), events).await {
                Ok(events) => Json(wire::FullPage { events, next }).into_response(),
                Err(e) => unavailable(&e),
            }
        }
        Err(e) => unavailable(&e),
    }
}

/// The answer for an event id the journal does not have (or no longer keeps).
pub(super) fn no_event(id: &str) -> Response {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no such event",
        format!("no event has id {id}"),
    )
    .into_response()
}

/// The events with the event itself and their deliveries: what the console lists, for a
/// page and for the stream's new events alike.
pub(super) async fn full_events(
    reader: &crate::store::Reader,
    events: Vec<crate::store::EventSummary>,
) -> Result<Vec<wire::FullEvent>, crate::store::StoreError> {
    let ids = events.iter().map(|e| e.id.clone()).collect();
    let mut rows = reader
        .events_with_deliveries(ids)
        .await?
        .into_iter()
        .peekable();
    let mut out = Vec::with_capacity(events.len());
    for summary in events {
        // An event pruned between the two reads is left out.
        let Some((row, deliveries)) = rows.next_if(|(r, _)| r.id == summary.id) else {
            continue;
        };
        out.push(wire::FullEvent {
            summary,
            event: row.event,
            delivery_list: deliveries
                .into_iter()
                .map(|d| wire::Delivery {
                    id: d.id,
                    label: d.webhook_label,
                    status: d.status,
                    attempts: d.attempts,
                    error: d.last_error,
                })
                .collect(),
        });
    }
    Ok(out)
}

/// Reads `q`: words are searched in the summary (or match an id), `kind:`, `status:`,
/// `webhook:` and `error:` test a field, `!` before a term inverts it.
fn parse_query(q: &str) -> Result<Vec<Term>, Problem> {
    q.split_whitespace()
        .map(|word| {
            let (negate, word) = match word.strip_prefix('!') {
                Some(w) => (true, w),
                None => (false, word),
            };
            let (field, value) = match word.split_once(':') {
                Some(("kind", v)) => (Field::Kind, v),
                Some(("status", v)) => (Field::Status, v),
                Some(("webhook", v)) => (Field::Webhook, v),
                Some(("error", v)) => (Field::Error, v),
                Some((other, _)) if !other.contains('/') && !other.is_empty() => {
                    return Err(Problem::new(
                        StatusCode::BAD_REQUEST,
                        format!("unknown search field {other:?}"),
                        "fields are kind:, status:, webhook: and error:; other words search the summary",
                    ));
                }
                _ => (Field::Text, word),
            };
            if value.is_empty() {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    format!("empty search term {word:?}"),
                    "give a value after the colon, such as status:failed",
                ));
            }
            Ok(Term {
                field,
                value: value.to_string(),
                negate,
            })
        })
        .collect()
}

/// `GET /events/{id}`: the event (its stored body, secrets removed), its deliveries and
/// every attempt.
pub(super) async fn event(State(api): State<Api>, Path(id): Path<String>) -> Response {
    let journal = api.engine.reader();
    let event = match journal.event(&id).await {
        Ok(Some(e)) => e,
        Ok(None) => return no_event(&id),
        Err(e) => return unavailable(&e),
    };
    let rows = match journal
        .deliveries(DeliveryFilter {
            event_id: Some(id),
            ..DeliveryFilter::default()
        })
        .await
    {
        Ok(r) => r,
        Err(e) => return unavailable(&e),
    };
    let mut deliveries = Vec::with_capacity(rows.len());
    for d in rows {
        match journal.attempts(&d.id).await {
            Ok(attempts) => deliveries.push(wire::DeliveryDetail {
                delivery: d,
                attempts,
            }),
            Err(e) => return unavailable(&e),
        }
    }
    let body: Value = serde_json::from_str(&event.body).unwrap_or(Value::String(event.body));
    Json(wire::EventDetail {
        event: wire::EventMeta {
            id: event.id,
            received_at: event.received_at,
            source: event.source,
            summary: event.summary,
            kind: event.event.kind(),
            body,
        },
        deliveries,
    })
    .into_response()
}
