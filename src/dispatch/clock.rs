//! Noticing that the wall clock stepped back.
//!
//! Due times and leases are stored as wall-clock times, since they must outlive the process
//! and be read by others. When NTP or an operator steps the clock back by an hour, every
//! retry and every lease would wait an extra hour. The engine compares the wall clock with
//! the monotonic clock as it runs and, on a step back (and at every start, since a step may
//! have happened while herald was down), has the journal move back the open times of rows
//! written before the step, and bring in any that lie further ahead than a schedule allows.

use std::time::{Duration, Instant};

/// Steps smaller than this are timer noise, not a clock change.
const TOLERANCE: Duration = Duration::from_secs(1);

/// The last reading of both clocks.
#[derive(Debug, Clone, Copy)]
pub struct ClockWatch {
    wall_ms: i64,
    mono: Instant,
}

impl ClockWatch {
    /// Starts watching from these readings.
    pub fn new(wall_ms: i64, mono: Instant) -> Self {
        Self { wall_ms, mono }
    }

    /// Takes new readings; returns how far the wall clock stepped back since the last ones
    /// (in ms) when it did by more than the tolerance.
    pub fn observe(&mut self, wall_ms: i64, mono: Instant) -> Option<i64> {
        let mono_ms =
            i64::try_from(mono.saturating_duration_since(self.mono).as_millis()).unwrap_or(0);
        let wall_elapsed = wall_ms - self.wall_ms;
        *self = Self { wall_ms, mono };
        let back = mono_ms - wall_elapsed;
        (back > i64::try_from(TOLERANCE.as_millis()).unwrap_or(i64::MAX)).then_some(back)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_back_is_seen_and_measured() {
        let t0 = Instant::now();
        let mut w = ClockWatch::new(1_000_000, t0);
        // 250 ms pass on both clocks: nothing.
        assert_eq!(w.observe(1_000_250, t0 + Duration::from_millis(250)), None);
        // 250 ms pass, but the wall clock reads an hour earlier.
        let back = w.observe(1_000_500 - 3_600_000, t0 + Duration::from_millis(500));
        assert_eq!(back, Some(3_600_000));
        // A step forward is no step back; small jitter is ignored.
        assert_eq!(w.observe(5_000_000, t0 + Duration::from_millis(750)), None);
        assert_eq!(w.observe(4_999_900, t0 + Duration::from_millis(1000)), None);
    }
}
