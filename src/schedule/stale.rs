//! Drift that is never silenced: a `repository@ref` that reported drift before and has
//! sent no report (pushed by Atlantis or pulled by the scheduler) for `drift-stale-after`
//! gets a `drift-stale` notice to the drift webhooks, once per silence.

use std::time::Duration;

use crate::dispatch::{Engine, Selection};
use crate::event::{DriftNotice, NoticeKind};
use crate::intake::{self, Source};
use crate::store::DriftSeen;

/// How often the journal is asked which repositories went quiet.
const EVERY_MS: i64 = 30_000;

/// How far back reports are looked for, in multiples of `drift-stale-after`: a repository
/// quiet for longer was told about already (at one multiple), and is forgotten after.
const LOOKBACK: u32 = 3;

/// The job key of a repository's staleness (one notice per silence: its occurrence is the
/// last report's time).
pub fn key(seen: &DriftSeen) -> String {
    format!("drift-stale:{}@{}", seen.repository, seen.git_ref)
}

/// The repositories whose newest report is older than `after` at `now`.
pub fn stale(seen: &[DriftSeen], now: i64, after: Duration) -> Vec<&DriftSeen> {
    let after = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
    seen.iter()
        .filter(|s| now.saturating_sub(s.last_at) > after)
        .collect()
}

/// The notice for one stale repository.
pub fn notice(seen: &DriftSeen, now: i64, after: Duration) -> DriftNotice {
    DriftNotice {
        event: NoticeKind::DriftStale,
        repository: seen.repository.clone(),
        git_ref: seen.git_ref.clone(),
        error: String::new(),
        status: None,
        atlantis: String::new(),
        last_report_at: Some(crate::clock::rfc3339(seen.last_at).to_string()),
        stale_after: Some(humantime::format_duration(after).to_string()),
        silent_hours: Some(u64::try_from((now - seen.last_at) / 3_600_000).unwrap_or(0)),
    }
}

/// The staleness watch of one scheduler.
#[derive(Debug, Default)]
pub struct Watch {
    last_look: i64,
}

impl Watch {
    /// Looks (every 30 s) for repositories gone quiet at `now` and tells the drift
    /// webhooks of each, once per silence in the whole fleet.
    pub async fn tick(&mut self, engine: &Engine, now: i64) {
        let Some(after) = engine.config().herald.drift_stale_after else {
            return;
        };
        if now - self.last_look < EVERY_MS {
            return;
        }
        self.last_look = now;
        check(engine, now, after).await;
    }
}

/// Sends a `drift-stale` notice for every repository quiet for longer than `after` at
/// `now` that was not told about for this silence yet; returns how many were sent.
pub async fn check(engine: &Engine, now: i64, after: Duration) -> usize {
    let window = i64::try_from(after.saturating_mul(LOOKBACK).as_millis()).unwrap_or(i64::MAX);
    let seen = match engine.reader().drift_seen(now.saturating_sub(window)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot read when drift reports last came: {e}");
            return 0;
        }
    };
    let mut sent = 0;
    for s in stale(&seen, now, after) {
        // Claimed at the last report's time, with no lease: the first process to see this
        // silence tells of it; a new report starts a new one.
        match engine.claim_run(&key(s), s.last_at, 0).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!("cannot claim the staleness notice of {}: {e}", key(s));
                continue;
            }
        }
        let n = notice(s, now, after);
        let outcome = match intake::notice(&n) {
            Ok(received) => match engine
                .accept(Source::Scheduler, received, &Selection::Route)
                .await
            {
                Ok(_) => {
                    sent += 1;
                    n.summary()
                }
                Err(e) => format!("not journaled: {e}"),
            },
            Err(e) => format!("not built: {e}"),
        };
        let said =
            serde_json::json!({"ok": true, "status": null, "said": outcome, "event_id": null});
        if let Err(e) = engine
            .finish_run(&key(s), s.last_at, said.to_string())
            .await
        {
            tracing::warn!("cannot record the staleness notice of {}: {e}", key(s));
        }
    }
    sent
}
