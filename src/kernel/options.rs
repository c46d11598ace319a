//! The kernel's tunables.

use std::time::Duration;

/// Tunables of the kernel.
#[derive(Debug, Clone, Copy)]
pub struct KernelOptions {
    /// How long one delivery may take before the vat is terminated.
    pub delivery_budget: Duration,
    /// After this many deliveries a vat gets `bringOutYourDead`, so vat-level GC runs.
    pub reap_interval: u32,
}

impl Default for KernelOptions {
    fn default() -> KernelOptions {
        KernelOptions {
            // The default: generous for any real delivery (a few ms), short enough that
            // a looping vat is stopped before its callers give up.
            delivery_budget: Duration::from_secs(2),
            reap_interval: 100,
        }
    }
}
