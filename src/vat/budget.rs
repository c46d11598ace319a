//! A vat's memory budget, one number for everything allocated on its behalf: its JavaScript
//! heap (through the runtime's allocator, `quickjs/memory.rs`) and what host code holds for it
//! outside that heap (a fetch body being read, a request body being sent, a cipher's output
//! before it becomes an `ArrayBuffer`). Host code [`Budget::charge`]s before it allocates; a
//! charge that does not fit is refused, so a vat can never make the daemon hold more than its
//! limit for it.
//!
//! Whether a vat ran out of memory is decided from this state — its heap could not grow —
//! never from the text of an error, which the vat could forge (`Error('out of memory')`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// What a vat may hold, and what it holds.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
    /// Set when an allocation did not fit; cleared by [`Budget::take_exhausted`].
    exhausted: AtomicBool,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            used: AtomicUsize::new(0),
            exhausted: AtomicBool::new(false),
        })
    }

    /// Takes `bytes` from the budget, if they fit.
    pub(super) fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    /// Notes that the vat's heap could not grow: it is out of memory.
    pub(super) fn exhaust(&self) {
        self.exhausted.store(true, Ordering::Relaxed);
    }

    /// Gives `bytes` back.
    pub(super) fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Reserves `bytes` for the host's own use on the vat's behalf, until the charge is
    /// dropped; `None` if they do not fit (the host operation then fails with an error the vat
    /// can catch; only its heap failing to grow is fatal).
    pub fn charge(self: &Arc<Budget>, bytes: usize) -> Option<Charge> {
        self.take(bytes).then(|| Charge {
            budget: Arc::clone(self),
            bytes,
        })
    }

    /// The limit, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Adds `bytes` the C allocator gave beyond what was reserved (blocks round up); these
    /// may go past the limit by the rounding, never by a request.
    pub(super) fn add_rounding(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Bytes in use now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether the vat's heap failed to grow since the last call, which resets it.
    pub fn take_exhausted(&self) -> bool {
        self.exhausted.swap(false, Ordering::Relaxed)
    }
}

/// Bytes reserved from a [`Budget`]; given back when dropped.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Charge {
    /// Grows the charge by `bytes`, if they fit.
    pub fn grow(&mut self, bytes: usize) -> bool {
        let fits = self.budget.take(bytes);
        if fits {
            self.bytes += bytes;
        }
        fits
    }
}

impl Charge {
    /// Gives everything back, keeping the charge for further growth.
    pub fn shrink_to_zero(&mut self) {
        self.budget.give_back(self.bytes);
        self.bytes = 0;
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}
