//! The bytes of unfinished request lines held across a socket's connections, bounded: without
//! it, every connection slot could pin a request line just under the limit (256 × 1 MiB). A
//! connection reserves what its line buffer will allocate before it grows, and gives it back
//! when done. The first [`FREE_BYTES`] of each line are not counted, so that ordinary requests
//! are served even while others hold the whole budget; the connection limits bound those. Each
//! uid may also hold only its share of the budget, so that on the capability socket one
//! stranger cannot spend what the others need.

use std::collections::HashMap;
use std::sync::Mutex;

/// What a line may hold before it counts against the budget.
pub const FREE_BYTES: usize = 16 * 1024;

/// The bytes reserved across all connections, and by each uid.
#[derive(Debug, Default)]
pub struct Budget {
    usage: Mutex<Usage>,
}

#[derive(Debug, Default)]
struct Usage {
    total: usize,
    by_uid: HashMap<u32, usize>,
}

/// The bounds a reservation grows within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Bytes across all connections.
    pub limit: usize,
    /// Bytes across one uid's connections.
    pub share: usize,
}

/// The budget would be exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Exhausted {
    /// All connections together hold the limit.
    #[error("Too many unfinished requests: the daemon holds at most {0} bytes of them; try again")]
    Limit(usize),
    /// This uid's connections hold its share.
    #[error(
        "Too many unfinished requests from uid {uid}: the daemon holds at most {share} bytes of \
         them; try again"
    )]
    Share {
        /// The client's uid.
        uid: u32,
        /// Its share.
        share: usize,
    },
}

/// One connection's part of the budget; given back when dropped.
#[derive(Debug)]
pub struct Reservation<'a> {
    budget: &'a Budget,
    uid: u32,
    held: usize,
}

impl Budget {
    /// An empty reservation for a client of `uid`, to grow as bytes arrive.
    pub fn reserve(&self, uid: u32) -> Reservation<'_> {
        Reservation {
            budget: self,
            uid,
            held: 0,
        }
    }

    fn usage(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The bytes reserved now.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.usage().total
    }
}

impl Reservation<'_> {
    /// Makes the reservation cover a buffer of `capacity` bytes, unless that would take the
    /// budget past its bounds.
    pub fn grow_to(&mut self, capacity: usize, bounds: Bounds) -> Result<(), Exhausted> {
        let total = capacity.saturating_sub(FREE_BYTES);
        let Some(more) = total.checked_sub(self.held).filter(|more| *more > 0) else {
            return Ok(());
        };
        let mut usage = self.budget.usage();
        let mine = usage.by_uid.get(&self.uid).copied().unwrap_or(0);
        if mine + more > bounds.share {
            return Err(Exhausted::Share {
                uid: self.uid,
                share: bounds.share,
            });
        }
        if usage.total + more > bounds.limit {
            return Err(Exhausted::Limit(bounds.limit));
        }
        usage.total += more;
        usage.by_uid.insert(self.uid, mine + more);
        self.held = total;
        Ok(())
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.held == 0 {
            return;
        }
        let mut usage = self.budget.usage();
        usage.total -= self.held;
        let mine = usage.by_uid.get(&self.uid).copied().unwrap_or(0) - self.held;
        match mine {
            0 => usage.by_uid.remove(&self.uid),
            _ => usage.by_uid.insert(self.uid, mine),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        limit: 100,
        share: 100,
    };

    #[test]
    fn small_lines_are_served_even_when_the_budget_is_spent() {
        let budget = Budget::default();
        let mut hog = budget.reserve(1);
        hog.grow_to(FREE_BYTES + 100, BOUNDS).unwrap();
        let mut small = budget.reserve(1);
        assert_eq!(small.grow_to(FREE_BYTES, BOUNDS), Ok(()));
        assert_eq!(
            small.grow_to(FREE_BYTES + 1, BOUNDS),
            Err(Exhausted::Share { uid: 1, share: 100 })
        );
    }

    #[test]
    fn reservations_share_the_limit_and_give_back_on_drop() {
        let budget = Budget::default();
        let mut a = budget.reserve(1);
        let mut b = budget.reserve(2);
        a.grow_to(FREE_BYTES + 60, BOUNDS).unwrap();
        a.grow_to(FREE_BYTES + 40, BOUNDS).unwrap();
        assert_eq!(budget.used(), 60, "never shrinks while held");
        assert_eq!(
            b.grow_to(FREE_BYTES + 50, BOUNDS),
            Err(Exhausted::Limit(100))
        );
        assert_eq!(budget.used(), 60, "a refused growth reserves nothing");
        b.grow_to(FREE_BYTES + 40, BOUNDS).unwrap();
        drop(a);
        assert_eq!(budget.used(), 40);
        b.grow_to(FREE_BYTES + 100, BOUNDS).unwrap();
        drop(b);
        assert_eq!(budget.used(), 0);
        assert!(budget.usage().by_uid.is_empty(), "no uid left behind");
    }

    #[test]
    fn one_uid_cannot_spend_what_the_others_need() {
        let budget = Budget::default();
        let bounds = Bounds {
            limit: 100,
            share: 25,
        };
        let mut stranger = budget.reserve(1001);
        stranger.grow_to(FREE_BYTES + 25, bounds).unwrap();
        let mut again = budget.reserve(1001);
        assert_eq!(
            again.grow_to(FREE_BYTES + 1, bounds),
            Err(Exhausted::Share {
                uid: 1001,
                share: 25
            })
        );
        let mut other = budget.reserve(1002);
        assert_eq!(other.grow_to(FREE_BYTES + 25, bounds), Ok(()));
        drop(stranger);
        assert_eq!(again.grow_to(FREE_BYTES + 25, bounds), Ok(()));
    }
}
