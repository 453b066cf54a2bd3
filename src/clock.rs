//! The wall clock, read in one place: journal times are Unix milliseconds, signatures take
//! Unix seconds, and people read RFC 3339. (How a step of this clock is noticed and
//! corrected for is `dispatch::clock`'s job.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds (0 before 1970, saturating far in the future).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Now, in Unix seconds.
pub fn now_secs() -> i64 {
    now_ms() / 1000
}

/// Unix milliseconds as an RFC 3339 time to the second, in UTC.
pub fn rfc3339(ms: i64) -> humantime::Rfc3339Timestamp {
    humantime::format_rfc3339_seconds(
        UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)),
    )
}
