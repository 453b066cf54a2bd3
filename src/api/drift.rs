//! `GET /drift` (the scheduler's schedules, their last and next runs, and when each
//! repository last reported) and `POST /drift/run` (a schedule run now: the console's `r`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Api, unavailable, wire};
use crate::clock::now_ms;
use crate::ingest::Problem;
use crate::schedule;

/// How far back `seen` looks when no `drift-stale-after` says (a week).
const SEEN_WINDOW_MS: i64 = 7 * 24 * 3_600_000;

pub(super) async fn get(State(api): State<Api>) -> Response {
    let config = api.engine.config();
    let reader = api.engine.reader();
    let now = now_ms();
    let runs = match reader.runs().await {
        Ok(r) => r,
        Err(e) => return unavailable(&e),
    };
    let stale_after = config.herald.drift_stale_after;
    let stale_ms = stale_after.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let window = stale_ms.map_or(SEEN_WINDOW_MS, |s| s.saturating_mul(3).max(SEEN_WINDOW_MS));
    // Consoles ask every few seconds: the journal is read for last reports only where
    // staleness or a schedule makes them worth showing.
    let watched = stale_after.is_some() || !config.herald.drift_schedule.is_empty();
    let mut seen = if watched {
        match reader.drift_seen(now.saturating_sub(window)).await {
            Ok(s) => s,
            Err(e) => return unavailable(&e),
        }
    } else {
        Vec::new()
    };
    seen.sort_by_key(|s| std::cmp::Reverse(s.last_at));
    let schedules = config
        .herald
        .drift_schedule
        .iter()
        .map(|s| {
            let key = s.key();
            let run = runs.iter().find(|r| r.key == key);
            let outcome: Option<schedule::Outcome> = run
                .and_then(|r| r.outcome.as_deref())
                .and_then(|o| serde_json::from_str(o).ok());
            let last = run.map(|r| r.occurrence);
            wire::Schedule {
                subject: s.subject(),
                atlantis: crate::redact::url_origin(&s.atlantis_url),
                when: s.when.describe(),
                last_run_at: last,
                last_finished_at: run.and_then(|r| r.finished_at),
                last_ok: outcome.as_ref().map(|o| o.ok),
                last_said: outcome.map(|o| o.said),
                running: run.is_some_and(|r| r.lease_until > now),
                next_run_at: schedule::next_run(&s.when, last, now),
                key,
            }
        })
        .collect();
    Json(wire::DriftWatch {
        stale_after_ms: stale_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        schedules,
        seen: seen
            .into_iter()
            .map(|s| wire::Seen {
                subject: format!("{}@{}", s.repository, s.git_ref),
                stale: stale_ms.is_some_and(|ms| now - s.last_at > ms),
                last_at: s.last_at,
            })
            .collect(),
    })
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Run {
    /// A schedule's key, or its `repository@ref`.
    schedule: String,
}

pub(super) async fn run(State(api): State<Api>, bytes: Bytes) -> Response {
    let req: Run = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return Problem::new(
                StatusCode::BAD_REQUEST,
                format!("invalid request body: {e}"),
                "send {\"schedule\": KEY or \"owner/repo@ref\"}",
            )
            .into_response();
        }
    };
    let config = api.engine.config();
    let Some(s) = config
        .herald
        .drift_schedule
        .iter()
        .find(|s| s.key() == req.schedule || s.subject() == req.schedule)
    else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "no such drift schedule",
            format!(
                "{:?} names none of herald.drift-schedule ({})",
                req.schedule,
                config
                    .herald
                    .drift_schedule
                    .iter()
                    .map(crate::schedule::DriftSchedule::subject)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .into_response();
    };
    let client = match crate::notify::client() {
        Ok(c) => c,
        Err(e) => {
            return Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot build an HTTP client",
                e.to_string(),
            )
            .into_response();
        }
    };
    match schedule::run_now(&api.engine, &client, s).await {
        Ok(true) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"started": s.subject(), "key": s.key()})),
        )
            .into_response(),
        Ok(false) => Problem::new(
            StatusCode::CONFLICT,
            format!("{} is being checked now", s.subject()),
            "a run of this schedule is going (here or on another replica); its result comes as a drift event",
        )
        .into_response(),
        Err(e) => unavailable(&e),
    }
}
