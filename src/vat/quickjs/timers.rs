//! A vat's timers as the host keeps them: when each comes due. The handlers stay in JavaScript
//! (`vat-runtime/src/timers.js`); the engine reports the earliest due time to the kernel's alarm
//! clock and hands the due ids back when the vat is woken.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// How many timers one vat may have pending: each costs host memory outside the vat's own limit.
pub const LIMIT: usize = 10_000;

/// Pending timers by due time.
#[derive(Default)]
pub struct Timers {
    /// `(due, id)`: ids break ties in the order the timers were set.
    due: BTreeSet<(Instant, u64)>,
    by_id: HashMap<u64, Instant>,
}

impl Timers {
    /// Arms timer `id` to come due `after` from now (replacing its previous due time).
    pub fn arm(&mut self, id: u64, after: Duration) -> Result<(), String> {
        self.clear(id);
        if self.by_id.len() >= LIMIT {
            return Err(format!("a vat may have at most {LIMIT} timers pending"));
        }
        let at = Instant::now() + after;
        self.due.insert((at, id));
        self.by_id.insert(id, at);
        Ok(())
    }

    /// Disarms timer `id`, if it is pending.
    pub fn clear(&mut self, id: u64) {
        if let Some(at) = self.by_id.remove(&id) {
            self.due.remove(&(at, id));
        }
    }

    /// The ids of the timers due at `now`, in due order, no longer pending.
    pub fn take_due(&mut self, now: Instant) -> Vec<u64> {
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.due.first()
            && at <= now
        {
            self.due.pop_first();
            self.by_id.remove(&id);
            due.push(id);
        }
        due
    }

    /// When the first pending timer comes due.
    pub fn next(&self) -> Option<Instant> {
        self.due.first().map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_timers_come_out_in_order_and_cleared_ones_never() {
        let mut timers = Timers::default();
        timers.arm(1, Duration::from_millis(30)).unwrap();
        timers.arm(2, Duration::ZERO).unwrap();
        timers.arm(3, Duration::ZERO).unwrap();
        timers.arm(4, Duration::ZERO).unwrap();
        timers.clear(3);
        let later = Instant::now() + Duration::from_millis(10);
        assert_eq!(timers.take_due(later), vec![2, 4]);
        assert_eq!(timers.take_due(later), Vec::<u64>::new());
        assert!(timers.next().unwrap() > later);
        assert_eq!(timers.take_due(later + Duration::from_secs(1)), vec![1]);
        assert_eq!(timers.next(), None);
    }

    #[test]
    fn a_vat_cannot_pend_more_than_the_limit() {
        let mut timers = Timers::default();
        for id in 0..LIMIT as u64 {
            timers.arm(id, Duration::from_secs(60)).unwrap();
        }
        assert!(timers.arm(LIMIT as u64, Duration::ZERO).is_err());
        timers.arm(0, Duration::ZERO).unwrap();
        timers.clear(1);
        timers.arm(LIMIT as u64, Duration::ZERO).unwrap();
    }
}
