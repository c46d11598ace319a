//! Garbage collection (spec §5): freeing what nothing refers to, and scheduling
//! `bringOutYourDead` so that vats report what they dropped (§14.13: the reference never does).

use super::error::KernelError;
use super::ids::is_promise;
use super::machine::Kernel;
use super::state::PromiseState;

impl Kernel {
    /// Frees every promise and orphaned object whose counts reached zero, repeatedly, since
    /// freeing a promise releases the refs in its value.
    pub(super) fn collect_garbage(&mut self) -> Result<(), KernelError> {
        loop {
            let candidates = self.state.take_maybe_free();
            if candidates.is_empty() {
                return Ok(());
            }
            for kref in candidates {
                if is_promise(&kref) {
                    self.free_promise(&kref)?
                } else {
                    self.free_object(&kref)?
                }
            }
        }
    }

    fn free_promise(&mut self, kpid: &str) -> Result<(), KernelError> {
        if self.state.promise_refcount(kpid)? > 0 {
            return Ok(());
        }
        match self.state.promise_state(kpid)? {
            Some(PromiseState::Fulfilled(value)) | Some(PromiseState::Rejected(value)) => {
                self.state.decref_slots(&value)?
            }
            Some(PromiseState::Unresolved) => {
                // Nobody can resolve or observe it any more; its queued messages go with it.
                for item in self.state.drain_queue(kpid)? {
                    self.state.decref_item(&item)?;
                }
            }
            None => {}
        }
        self.state.delete_promise(kpid)
    }

    /// An object goes once it has no owner and no references at all. An owned object always
    /// has its owner's reference, so it lives as long as its owner does.
    fn free_object(&mut self, kref: &str) -> Result<(), KernelError> {
        let count = self.state.refcount(kref)?;
        if count.reachable == 0 && count.recognizable == 0 && self.state.owner(kref)?.is_none() {
            self.state.delete_object(kref)?;
        }
        Ok(())
    }

    /// Counts a delivery; every `reap_interval` deliveries the vat is queued for
    /// `bringOutYourDead`.
    pub(super) fn count_delivery(&mut self, vat: &str) -> Result<(), KernelError> {
        if self.warehouse.count_delivery(vat) {
            self.state.schedule_reap(vat)?;
        }
        Ok(())
    }
}
