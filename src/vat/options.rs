//! `creationOptions` (spec §3.2; accepted and ignored by the reference): the per-vat limits
//! ocapd reads there, checked when a subcluster is launched so that a bad value is refused
//! before anything starts. Other keys are left alone, as the reference leaves them.

use serde_json::Value;
use std::time::Duration;

/// The longest delivery budget a vat may ask for.
const MAX_DELIVERY_TIMEOUT_MS: u64 = 3_600_000;
/// Bounds of a vat's memory limit: SES and liveslots alone take about 5 MiB.
const MEMORY_LIMIT_MIB: std::ops::RangeInclusive<u64> = 16..=16_384;

/// The limits a vat's `creationOptions` set; `None` leaves the daemon's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreationOptions {
    /// `deliveryTimeoutMs`: how long each of this vat's deliveries (and its start) may take,
    /// instead of the daemon's `--delivery-timeout`.
    pub delivery_timeout: Option<Duration>,
    /// `memoryLimitMiB`: what the vat's QuickJS runtime may allocate, instead of 128 MiB.
    pub memory_limit: Option<usize>,
}

impl CreationOptions {
    /// Reads and checks the options of a `VatConfig`.
    pub fn from_config(config: &Value) -> Result<CreationOptions, String> {
        let Some(options) = config.get("creationOptions") else {
            return Ok(CreationOptions::default());
        };
        let delivery_timeout = whole(options, "deliveryTimeoutMs", 1..=MAX_DELIVERY_TIMEOUT_MS)?
            .map(Duration::from_millis);
        let memory_limit = whole(options, "memoryLimitMiB", MEMORY_LIMIT_MIB)?;
        if memory_limit.is_some() && options.get("worker").is_some() {
            return Err(
                "creationOptions.memoryLimitMiB applies to vats in the built-in runtime, \
                 not to a worker process"
                    .into(),
            );
        }
        Ok(CreationOptions {
            delivery_timeout,
            memory_limit: memory_limit.map(|mib| (mib as usize) << 20),
        })
    }
}

/// `options[key]`, which must be a whole number within `range` if present.
fn whole(
    options: &Value,
    key: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, String> {
    let Some(value) = options.get(key) else {
        return Ok(None);
    };
    match value.as_u64() {
        Some(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "creationOptions.{key} must be a whole number from {} to {}, not {value}",
            range.start(),
            range.end()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_are_read_and_bad_ones_refused() {
        assert_eq!(
            CreationOptions::from_config(&json!({"bundleSpec": "x"})),
            Ok(CreationOptions::default())
        );
        assert_eq!(
            CreationOptions::from_config(&json!({"creationOptions": {
                "deliveryTimeoutMs": 100, "memoryLimitMiB": 64, "other": true}})),
            Ok(CreationOptions {
                delivery_timeout: Some(Duration::from_millis(100)),
                memory_limit: Some(64 << 20),
            })
        );
        for (options, error) in [
            (
                json!({"deliveryTimeoutMs": 0}),
                "creationOptions.deliveryTimeoutMs must be a whole number from 1 to 3600000, not 0",
            ),
            (
                json!({"deliveryTimeoutMs": 1.5}),
                "creationOptions.deliveryTimeoutMs must be a whole number from 1 to 3600000, not 1.5",
            ),
            (
                json!({"memoryLimitMiB": "64"}),
                "creationOptions.memoryLimitMiB must be a whole number from 16 to 16384, not \"64\"",
            ),
            (
                json!({"memoryLimitMiB": 4}),
                "creationOptions.memoryLimitMiB must be a whole number from 16 to 16384, not 4",
            ),
            (
                json!({"memoryLimitMiB": 64, "worker": ["python3"]}),
                "creationOptions.memoryLimitMiB applies to vats in the built-in runtime, not to a worker process",
            ),
        ] {
            let config = json!({"creationOptions": options});
            assert_eq!(CreationOptions::from_config(&config), Err(error.into()));
        }
    }
}
