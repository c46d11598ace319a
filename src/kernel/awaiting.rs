//! Waiting for promises from outside the kernel: registering a caller's waiter, firing it once
//! the crank that settled its promise commits, and answering it through the outbox.
//!
//! A waiter holds one reference on its promise so the promise outlives its settlement until the
//! waiter has read it; then the reference is released and the promise is collected (§14.3: no
//! rows left behind per `queueMessage`).
//!
//! The waiters live in memory ([`super::waiters::Waiters`]) but their references are counted in
//! the store, so the store also records them (`kernelWaiters`): a kernel that starts after a
//! crash, whose waiters died with the old process, releases them (otherwise those promises, and
//! what their values refer to, could never be collected).

use super::error::KernelError;
use super::machine::{Kernel, Waiter};
use super::outbox::Reply;
use super::state::PromiseState;
use super::waiters::Settlement;
use serde_json::Value;
use std::collections::BTreeMap;

impl Kernel {
    /// Registers `waiter` on `kpid`, a fresh unresolved promise already held for it (by
    /// [`Kernel::send_held`], or a launch): nothing here can fail, so the waiter is never lost.
    pub(super) fn wait_held(&mut self, kpid: &str, waiter: Waiter) {
        self.waiters.add(kpid, waiter, false);
        if self.waiters.sweep_due() {
            self.forget_gone_callers();
        }
    }

    /// Drops the waiters whose callers hung up (nobody would read their answer) and releases
    /// their holds: otherwise every call left behind by a client that went away, to a promise
    /// that never settles, would be kept for good (its waiter, and its entry in
    /// `kernelWaiters`, which every later call rewrites).
    fn forget_gone_callers(&mut self) {
        let gone = self.waiters.sweep(|waiter| waiter.reply.is_gone());
        if gone.is_empty() {
            return;
        }
        let released = self.atomically(|k| {
            for kpid in &gone {
                k.state.release_for_waiter(kpid)?;
            }
            k.collect_garbage()
        });
        if let Err(e) = released {
            tracing::error!("releasing the waiters of callers that hung up: {e}");
        }
    }

    /// Fires the waiters of promises settled by the crank that just committed.
    pub(super) fn fire_settled_waiters(&mut self) {
        for (kpid, waiters) in self.waiters.take_settled() {
            let settlement = match self.state.promise_state(&kpid) {
                Ok(Some(PromiseState::Fulfilled(value))) => Ok(value),
                Ok(Some(PromiseState::Rejected(reason))) => Err(reason),
                other => {
                    tracing::error!("awaited promise {kpid} is not settled after all: {other:?}");
                    continue;
                }
            };
            for waiter in waiters {
                self.release_waiter(&kpid, waiter, settlement.clone());
            }
        }
    }

    /// Answers a waiter, then releases its hold: the answer may still need what the value
    /// refers to (URLs issued for its slots, remotes' objects pinned for the caller).
    fn release_waiter(&mut self, kpid: &str, waiter: Waiter, settlement: Settlement) {
        let answer = (waiter.make_answer)(self, settlement);
        self.outbox.reply(waiter.reply, answer);
        let result = self.atomically(|k| {
            k.state.release_for_waiter(kpid)?;
            k.collect_garbage()
        });
        if let Err(e) = result {
            tracing::error!("releasing the waiter of {kpid}: {e}");
        }
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

    /// The references the waiters hold, by promise (what `kernelWaiters` must record).
    pub fn waiter_refs(&self) -> BTreeMap<String, u64> {
        self.waiters.refs()
    }

    /// Fails every waiter with `DELIVERY_FAILED: <reason>`: the kernel is stopping.
    pub(super) fn abandon_waiters(&mut self, reason: &str) {
        let reason = crate::capdata::kernel_error("DELIVERY_FAILED", reason);
        for (kpid, waiters) in self.waiters.take_all() {
            for waiter in waiters {
                self.release_waiter(&kpid, waiter, Err(reason.clone()));
            }
        }
    }

    /// Fails every waiter without touching the store, which is about to be wiped
    /// (`clearState`): its promise ids will be handed out again, and an old caller must not
    /// receive a new caller's result.
    pub(super) fn drop_waiters(&mut self, reason: &str) {
        let reason = crate::capdata::kernel_error("DELIVERY_FAILED", reason);
        for (_, waiters) in self.waiters.take_all() {
            for waiter in waiters {
                let answer = (waiter.make_answer)(self, Err(reason.clone()));
                self.outbox.reply(waiter.reply, answer);
            }
        }
    }
}

/// A waiter that, once its promise settles, replies with what `answer` makes of the settlement
/// (after the commit, through the outbox): the usual bridge from a kernel promise to an RPC
/// caller.
pub fn reply_on_settlement(
    reply: Reply,
    answer: impl FnOnce(&mut Kernel, Settlement) -> Result<Value, KernelError> + Send + 'static,
) -> Waiter {
    Waiter {
        reply,
        make_answer: Box::new(answer),
    }
}
