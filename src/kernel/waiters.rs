//! [`Waiters`]: the callers outside the kernel (RPC `queueMessage`, `launchSubcluster`) awaiting
//! kernel promises, by promise, and which of those promises the current crank settled. What a
//! waiter is and how the kernel registers, fires and releases them is `awaiting.rs`.

use crate::capdata::CapData;
use std::collections::BTreeMap;

/// How a settled promise looks to whoever awaited it.
pub type Settlement = Result<CapData, CapData>;

/// The callers awaiting kernel promises, and which of those promises the current crank settled.
pub struct Waiters<W> {
    by_promise: BTreeMap<String, Vec<W>>,
    /// Awaited promises settled by the current crank; fired only if it commits.
    settled: Vec<String>,
    /// How many were noted as each open nested savepoint began.
    marks: Vec<usize>,
    /// How many waiters there are.
    count: usize,
    /// How many there were after the last sweep.
    swept: usize,
}

/// Fewer waiters than this are never swept: looking costs more than they do.
const SWEEP_FROM: usize = 64;

impl<W> Default for Waiters<W> {
    fn default() -> Self {
        Waiters {
            by_promise: BTreeMap::new(),
            settled: Vec::new(),
            marks: Vec::new(),
            count: 0,
            swept: 0,
        }
    }
}

impl<W> Waiters<W> {
    /// Adds `waiter` on `kpid`; `settled` says the promise is settled already (it fires at the
    /// end of the current crank).
    pub fn add(&mut self, kpid: &str, waiter: W, settled: bool) {
        self.by_promise
            .entry(kpid.to_string())
            .or_default()
            .push(waiter);
        self.count += 1;
        if settled {
            self.settled.push(kpid.to_string());
        }
    }

    /// Notes that the current crank settled `kpid`, if anyone awaits it.
    pub fn note_settled(&mut self, kpid: &str) {
        if self.by_promise.contains_key(kpid) {
            self.settled.push(kpid.to_string());
        }
    }

    /// A savepoint (a crank, or a piece of one) begins.
    pub fn savepoint(&mut self) {
        self.marks.push(self.settled.len());
    }

    /// The savepoint is kept (what it settled belongs to the enclosing one, or to the crank
    /// that is about to fire its waiters).
    pub fn release_savepoint(&mut self) {
        self.marks.pop();
    }

    /// The savepoint was rolled back: what it settled is unsettled again.
    pub fn rollback_savepoint(&mut self) {
        if let Some(mark) = self.marks.pop() {
            self.settled.truncate(mark);
        }
    }

    /// The waiters of the promises the committed crank settled.
    pub fn take_settled(&mut self) -> Vec<(String, Vec<W>)> {
        let taken: Vec<(String, Vec<W>)> = std::mem::take(&mut self.settled)
            .into_iter()
            .filter_map(|kpid| self.by_promise.remove(&kpid).map(|w| (kpid, w)))
            .collect();
        self.count -= taken.iter().map(|(_, w)| w.len()).sum::<usize>();
        taken
    }

    /// Every waiter, taken.
    pub fn take_all(&mut self) -> Vec<(String, Vec<W>)> {
        self.settled.clear();
        self.marks.clear();
        self.count = 0;
        self.swept = 0;
        std::mem::take(&mut self.by_promise).into_iter().collect()
    }

    /// Whether a sweep is due: the waiters have doubled since the last one. Sweeping only
    /// then keeps its cost per added waiter constant however many wait.
    pub fn sweep_due(&self) -> bool {
        self.count >= SWEEP_FROM.max(2 * self.swept)
    }

    /// Removes the waiters for which `gone` holds: the promise of each, once per waiter.
    pub fn sweep(&mut self, gone: impl Fn(&W) -> bool) -> Vec<String> {
        let mut removed = Vec::new();
        self.by_promise.retain(|kpid, waiters| {
            let before = waiters.len();
            waiters.retain(|waiter| !gone(waiter));
            removed.extend(std::iter::repeat_n(kpid.clone(), before - waiters.len()));
            !waiters.is_empty()
        });
        self.count -= removed.len();
        self.swept = self.count;
        removed
    }

    /// The references the waiters hold, by promise: one per waiter (what `kernelWaiters` must
    /// record).
    pub fn refs(&self) -> BTreeMap<String, u64> {
        self.by_promise
            .iter()
            .map(|(kpid, waiters)| (kpid.clone(), waiters.len() as u64))
            .collect()
    }
}
