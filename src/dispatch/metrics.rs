//! Counters for `GET /metrics`, kept in atomics so that counting costs the hot paths
//! nothing but an increment.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::EventKind;
use crate::store::StatusCounts;

/// Upper bounds (seconds) of the attempt-latency histogram buckets.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Events accepted, by kind ([`EventKind::index`]).
    events: [AtomicU64; EventKind::ALL.len()],
    /// Requests refused (4xx) by the ingest API.
    pub rejected: AtomicU64,
    /// Attempts by outcome.
    pub attempts_delivered: AtomicU64,
    /// Retryable failures.
    pub attempts_retryable: AtomicU64,
    /// Final failures.
    pub attempts_failed: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_sum_us: AtomicU64,
    latency_count: AtomicU64,
}

impl Metrics {
    /// Counts one accepted event.
    pub fn count_event(&self, kind: EventKind) {
        self.events[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Records one attempt's latency.
    pub fn observe(&self, latency: Duration) {
        let secs = latency.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_sum_us.fetch_add(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with delivery counts read from the journal and the
    /// engine's places in flight.
    pub fn render(&self, counts: &StatusCounts, in_flight: usize) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP herald_events_total Events accepted, by kind.\n# TYPE herald_events_total counter"
        );
        for kind in EventKind::ALL {
            let _ = writeln!(
                out,
                "herald_events_total{{kind=\"{}\"}} {}",
                kind.as_str(),
                get(&self.events[kind.index()])
            );
        }
        let _ = writeln!(
            out,
            "# HELP herald_ingest_rejected_total Requests refused with a 4xx.\n# TYPE herald_ingest_rejected_total counter"
        );
        let _ = writeln!(out, "herald_ingest_rejected_total {}", get(&self.rejected));
        let _ = writeln!(
            out,
            "# HELP herald_deliveries Deliveries in the journal, by status.\n# TYPE herald_deliveries gauge"
        );
        for (status, n) in [
            ("pending", counts.pending),
            ("retrying", counts.retrying),
            ("succeeded", counts.succeeded),
            ("failed", counts.failed),
        ] {
            let _ = writeln!(out, "herald_deliveries{{status=\"{status}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP herald_queue_depth Deliveries waiting for an attempt.\n# TYPE herald_queue_depth gauge"
        );
        let _ = writeln!(
            out,
            "herald_queue_depth {}",
            counts.pending + counts.retrying
        );
        let _ = writeln!(
            out,
            "# HELP herald_deliveries_in_flight Attempts this process has in flight (places taken).\n# TYPE herald_deliveries_in_flight gauge\nherald_deliveries_in_flight {in_flight}"
        );
        let _ = writeln!(
            out,
            "# HELP herald_deliveries_leased Open deliveries under a lease (taken by a worker of any process).\n# TYPE herald_deliveries_leased gauge\nherald_deliveries_leased {}",
            counts.leased
        );
        let _ = writeln!(
            out,
            "# HELP herald_attempts_total Attempts, by outcome.\n# TYPE herald_attempts_total counter"
        );
        for (outcome, a) in [
            ("delivered", &self.attempts_delivered),
            ("retryable", &self.attempts_retryable),
            ("failed", &self.attempts_failed),
        ] {
            let _ = writeln!(
                out,
                "herald_attempts_total{{outcome=\"{outcome}\"}} {}",
                get(a)
            );
        }
        let _ = writeln!(
            out,
            "# HELP herald_attempt_duration_seconds Time from sending to the answer.\n# TYPE herald_attempt_duration_seconds histogram"
        );
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "herald_attempt_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                get(&self.buckets[i])
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(
            out,
            "herald_attempt_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        #[allow(clippy::cast_precision_loss)]
        let sum = get(&self.latency_sum_us) as f64 / 1e6;
        let _ = writeln!(out, "herald_attempt_duration_seconds_sum {sum}");
        let _ = writeln!(out, "herald_attempt_duration_seconds_count {count}");
        out
    }
}
