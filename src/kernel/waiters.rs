//! Waiting for promises from outside the kernel (RPC `queueMessage`, `launchSubcluster`).
//!
//! A waiter holds one reference on its promise so the promise outlives its settlement until the
//! waiter has read it; then the reference is released and the promise is collected (§14.3: no
//! rows left behind per `queueMessage`).
//!
//! The waiters live in memory but their references are counted in the store, so the store also
//! records them (`kernelWaiters`): a kernel that starts after a crash, whose waiters died with
//! the old process, releases them (otherwise those promises, and what their values refer to,
//! could never be collected).

use super::KernelError;
use super::core::{Kernel, Settlement, Waiter};
use super::state::PromiseState;
use std::collections::BTreeMap;

impl Kernel {
    /// Calls `waiter` once `kpid` is settled (after the commit that settles it).
    pub(super) fn await_promise(&mut self, kpid: &str, waiter: Waiter) -> Result<(), KernelError> {
        self.state.hold_for_waiter(kpid)?;
        self.waiters
            .entry(kpid.to_string())
            .or_default()
            .push(waiter);
        if !matches!(
            self.state.promise_state(kpid)?,
            Some(PromiseState::Unresolved)
        ) {
            self.settled.push(kpid.to_string());
        }
        Ok(())
    }

    /// Notes that an awaited promise was settled in this crank.
    pub(super) fn note_settled(&mut self, kpid: &str) {
        if self.waiters.contains_key(kpid) {
            self.settled.push(kpid.to_string());
        }
    }

    /// Fires the waiters of promises settled by the crank that just committed.
    pub(super) fn fire_settled_waiters(&mut self) {
        for kpid in std::mem::take(&mut self.settled) {
            let Some(waiters) = self.waiters.remove(&kpid) else {
                continue;
            };
            let settlement = match self.state.promise_state(&kpid) {
                Ok(Some(PromiseState::Fulfilled(value))) => Ok(value),
                Ok(Some(PromiseState::Rejected(reason))) => Err(reason),
                _ => continue,
            };
            for waiter in waiters {
                self.release_waiter(&kpid, waiter, settlement.clone());
            }
        }
    }

    fn release_waiter(&mut self, kpid: &str, waiter: Waiter, settlement: Settlement) {
        let result = self.atomically(|k| {
            k.state.release_for_waiter(kpid)?;
            k.collect_garbage()
        });
        if let Err(e) = result {
            tracing::error!("releasing the waiter of {kpid}: {e}");
        }
        waiter(self, settlement);
    }

    /// Releases the references of waiters that died with a previous kernel process (a crash:
    /// a clean stop answers and releases every waiter).
    pub(super) fn release_dead_waiters(&mut self) -> Result<(), KernelError> {
        let held = self.state.waiter_holds()?;
        if held.is_empty() {
            return Ok(());
        }
        self.atomically(|k| {
            for (kpid, count) in held {
                for _ in 0..count {
                    k.state.release_for_waiter(&kpid)?;
                }
            }
            k.collect_garbage()
        })?;
        self.commit()
    }

    /// The references the waiters hold, by promise: one per waiter (what `kernelWaiters` must
    /// record).
    pub fn waiter_refs(&self) -> BTreeMap<String, u64> {
        self.waiters
            .iter()
            .map(|(kpid, waiters)| (kpid.clone(), waiters.len() as u64))
            .collect()
    }

    /// Fails every waiter: the kernel is stopping, or its state was cleared.
    pub(super) fn abandon_waiters(&mut self, reason: &str) {
        let reason = crate::capdata::kernel_error("DELIVERY_FAILED", reason);
        for (kpid, waiters) in std::mem::take(&mut self.waiters) {
            for waiter in waiters {
                self.release_waiter(&kpid, waiter, Err(reason.clone()));
            }
        }
    }
}
