//! The kernel's wall clock: milliseconds since the epoch, as its records keep time (capability
//! records, remote comms' `lastActiveTime`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch, as the records keep time.
pub fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
