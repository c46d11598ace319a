//! The bytes of unfinished request lines held across a socket's connections, bounded: without
//! it, every connection slot could pin a request line just under the limit (256 × 1 MiB). A
//! connection reserves what its line buffer will allocate before it grows, and gives it back
//! when done. The first [`FREE_BYTES`] of each line are not counted, so that ordinary requests
//! are served even while others hold the whole budget; the connection limits bound those.

use std::sync::atomic::{AtomicUsize, Ordering};

/// What a line may hold before it counts against the budget.
pub const FREE_BYTES: usize = 16 * 1024;

/// The bytes reserved across all connections.
#[derive(Debug, Default)]
pub struct Budget {
    used: AtomicUsize,
}

/// The budget would be exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Too many unfinished requests: the daemon holds at most {0} bytes of them; try again")]
pub struct Exhausted(pub usize);

/// One connection's share of the budget; given back when dropped.
#[derive(Debug)]
pub struct Reservation<'a> {
    budget: &'a Budget,
    held: usize,
}

impl Budget {
    /// An empty reservation, to grow as bytes arrive.
    pub fn reserve(&self) -> Reservation<'_> {
        Reservation {
            budget: self,
            held: 0,
        }
    }

    /// The bytes reserved now.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

impl Reservation<'_> {
    /// Makes the reservation cover a buffer of `capacity` bytes, unless that would take the
    /// budget past `limit`.
    pub fn grow_to(&mut self, capacity: usize, limit: usize) -> Result<(), Exhausted> {
        let total = capacity.saturating_sub(FREE_BYTES);
        let Some(more) = total.checked_sub(self.held).filter(|more| *more > 0) else {
            return Ok(());
        };
        self.budget
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(more).filter(|after| *after <= limit)
            })
            .map_err(|_| Exhausted(limit))?;
        self.held = total;
        Ok(())
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.held, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_lines_are_served_even_when_the_budget_is_spent() {
        let budget = Budget::default();
        let mut hog = budget.reserve();
        hog.grow_to(FREE_BYTES + 100, 100).unwrap();
        let mut small = budget.reserve();
        assert_eq!(small.grow_to(FREE_BYTES, 100), Ok(()));
        assert_eq!(small.grow_to(FREE_BYTES + 1, 100), Err(Exhausted(100)));
    }

    #[test]
    fn reservations_share_the_limit_and_give_back_on_drop() {
        let budget = Budget::default();
        let mut a = budget.reserve();
        let mut b = budget.reserve();
        a.grow_to(FREE_BYTES + 60, 100).unwrap();
        a.grow_to(FREE_BYTES + 40, 100).unwrap();
        assert_eq!(budget.used(), 60, "never shrinks while held");
        assert_eq!(b.grow_to(FREE_BYTES + 50, 100), Err(Exhausted(100)));
        assert_eq!(budget.used(), 60, "a refused growth reserves nothing");
        b.grow_to(FREE_BYTES + 40, 100).unwrap();
        drop(a);
        assert_eq!(budget.used(), 40);
        b.grow_to(FREE_BYTES + 100, 100).unwrap();
        drop(b);
        assert_eq!(budget.used(), 0);
    }
}
