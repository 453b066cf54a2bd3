//! herald as Atlantis' drift scheduler (Atlantis has none: its issue #3245): `serve` asks
//! Atlantis' drift API on each `drift-schedule:` entry's interval or cron times, turns the
//! answers into drift events (errored projects kept), records a failed detection as a
//! `drift-failed` notice, and tells the drift webhooks when a `repository@ref` stopped
//! reporting (`drift-stale-after`).
//!
//! Every occurrence is claimed in the journal before it runs ([`Engine::claim_run`]), so
//! replicas on one PostgreSQL run each occurrence once and never two runs of one schedule
//! at a time; the last run's outcome lives there too, for every console to read.

pub mod detect;
pub mod spec;
pub mod stale;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

pub use spec::{DriftSchedule, ProjectPath, When};

use crate::clock::now_ms;
use crate::dispatch::{Engine, Selection};
use crate::event::{DriftNotice, NoticeKind, Shape};
use crate::intake::{self, Source};

/// How often the scheduler looks at the clock.
const TICK: Duration = Duration::from_secs(1);

/// A run's lease beyond its own timeout: a replica that dies mid-run frees the schedule
/// this long after the run would have timed out.
const LEASE_SLACK_MS: i64 = 30_000;

/// What a run came to, as kept in the journal and shown by the consoles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Whether a report came of it.
    pub ok: bool,
    /// Atlantis' HTTP status, when it answered.
    pub status: Option<u16>,
    /// What happened, in a line.
    pub said: String,
    /// The event it was journaled as.
    pub event_id: Option<String>,
}

/// The occurrence to run now, if one is due: `last` is the occurrence last taken (by any
/// process), `started` when this scheduler started (a schedule that never ran is due at
/// once on an interval, at its next time on cron). A cron schedule that missed times
/// while herald was down runs once, for the latest of them, not once for each.
pub fn due(when: &When, last: Option<i64>, started: i64, now: i64) -> Option<i64> {
    match when {
        When::Every(_) => {
            let due = match last {
                Some(l) => when.next_after(l)?,
                None => started,
            };
            (now >= due).then_some(due)
        }
        When::Cron(..) => {
            let due = when.next_after(last.unwrap_or(started))?;
            if now < due {
                return None;
            }
            // The latest cron time at or before now: no catching up one by one.
            let mut latest = due;
            while let Some(next) = when.next_after(latest).filter(|n| *n <= now) {
                latest = next;
            }
            Some(latest)
        }
    }
}

/// When a schedule runs next after its last occurrence (or, never run, after `started`).
pub fn next_run(when: &When, last: Option<i64>, started: i64) -> Option<i64> {
    match (when, last) {
        (When::Every(_), None) => Some(started),
        (_, Some(l)) => when.next_after(l),
        (When::Cron(..), None) => when.next_after(started),
    }
}

/// Runs the scheduler until `shutdown`: each second, every due schedule is claimed and
/// run (each in a task of its own, so a slow Atlantis delays no other schedule), and
/// stale repositories are looked for.
pub async fn run(engine: Engine, shutdown: CancellationToken) {
    let client = match crate::notify::client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("the drift scheduler cannot start its HTTP client: {e}");
            return;
        }
    };
    let started = now_ms();
    let mut stale = stale::Watch::default();
    loop {
        tick(&engine, &client, started, now_ms()).await;
        stale.tick(&engine, now_ms()).await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(TICK) => {}
        }
    }
}

/// One look at every schedule at `now`: starts those due (in tasks of their own).
pub async fn tick(engine: &Engine, client: &reqwest::Client, started: i64, now: i64) {
    let config = engine.config();
    if config.herald.drift_schedule.is_empty() {
        return;
    }
    let runs = match engine.reader().runs().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("the drift scheduler cannot read its runs: {e}");
            return;
        }
    };
    for s in &config.herald.drift_schedule {
        let key = s.key();
        let last = runs.iter().find(|r| r.key == key).map(|r| r.occurrence);
        if let Some(occurrence) = due(&s.when, last, started, now) {
            start(engine, client, s, occurrence).await;
        }
    }
}

/// Runs `s` now, outside its schedule (the console's `r`); `false` when a run of it is
/// still going (here or on another replica).
///
/// # Errors
/// Journal errors.
pub async fn run_now(
    engine: &Engine,
    client: &reqwest::Client,
    s: &DriftSchedule,
) -> Result<bool, crate::store::StoreError> {
    // Later than any occurrence taken, even one stamped by a clock ahead of this one.
    let key = s.key();
    let last = engine
        .reader()
        .runs()
        .await?
        .into_iter()
        .find(|r| r.key == key)
        .map_or(0, |r| r.occurrence);
    let occurrence = now_ms().max(last + 1);
    let lease = lease_until(s);
    if !engine.claim_run(&key, occurrence, lease).await? {
        return Ok(false);
    }
    spawn_run(engine, client, s, occurrence);
    Ok(true)
}

/// A run's lease: its timeout and some slack from now (real time: a simulated occurrence
/// does not stretch it).
fn lease_until(s: &DriftSchedule) -> i64 {
    now_ms()
        .saturating_add(i64::try_from(s.timeout.as_millis()).unwrap_or(i64::MAX / 2))
        .saturating_add(LEASE_SLACK_MS)
}

async fn start(engine: &Engine, client: &reqwest::Client, s: &DriftSchedule, occurrence: i64) {
    match engine.claim_run(&s.key(), occurrence, lease_until(s)).await {
        Ok(true) => spawn_run(engine, client, s, occurrence),
        // Another replica has it, or a run is still going.
        Ok(false) => {}
        Err(e) => tracing::warn!("cannot claim the drift detection of {}: {e}", s.subject()),
    }
}

fn spawn_run(engine: &Engine, client: &reqwest::Client, s: &DriftSchedule, occurrence: i64) {
    let (engine, client, s) = (engine.clone(), client.clone(), s.clone());
    tokio::spawn(async move {
        let outcome = detect_and_record(&engine, &client, &s).await;
        let text = serde_json::to_string(&outcome).unwrap_or_default();
        if let Err(e) = engine.finish_run(&s.key(), occurrence, text).await {
            tracing::warn!("cannot record the end of {}'s detection: {e}", s.subject());
        }
    });
}

/// Asks Atlantis once and journals what came of it: the report, or a `drift-failed`
/// notice. Both go through the one intake and the engine, like a posted event.
pub async fn detect_and_record(
    engine: &Engine,
    client: &reqwest::Client,
    s: &DriftSchedule,
) -> Outcome {
    let detection = detect::detect(client, s, &engine.config().secret_values()).await;
    let (ok, status, received) = match detection {
        detect::Detection::Report { status, body } => {
            (true, Some(status), intake::read(&body, Some(Shape::Drift)))
        }
        detect::Detection::Failed { status, error } => {
            tracing::warn!("drift detection of {} failed: {error}", s.subject());
            let notice = DriftNotice {
                event: NoticeKind::DriftFailed,
                repository: s.repository.clone(),
                git_ref: s.git_ref.clone(),
                error,
                status,
                atlantis: crate::redact::url_origin(&s.atlantis_url),
                last_report_at: None,
                stale_after: None,
                silent_hours: None,
            };
            (
                false,
                status,
                intake::notice(&notice).map(intake::Inbound::Event),
            )
        }
    };
    let received = match received.map(intake::Inbound::into_event) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return failed(status, e.to_string()),
        Err(e) => {
            return failed(
                status,
                format!("Atlantis' answer is not a drift report: {e}"),
            );
        }
    };
    let said = received.event.summary();
    match engine
        .accept(Source::Scheduler, received, &Selection::Route)
        .await
    {
        Ok((
            crate::store::Recorded::New { event_id, .. }
            | crate::store::Recorded::Duplicate { event_id },
            _,
        )) => Outcome {
            ok,
            status,
            said,
            event_id: Some(event_id),
        },
        Err(e) => failed(status, format!("the journal did not take it: {e}")),
    }
}

fn failed(status: Option<u16>, said: String) -> Outcome {
    Outcome {
        ok: false,
        status,
        said,
        event_id: None,
    }
}
