//! Garbage collection (spec §5): freeing what nothing refers to, and scheduling
//! `bringOutYourDead` so that vats report what they dropped (§14.13: the reference never does).

use super::error::KernelError;
use super::ids::is_promise;
use super::machine::Kernel;
use super::state::PromiseState;

impl Kernel {
    /// Frees every promise and orphaned object whose counts reached zero, repeatedly, since
    /// freeing a promise releases the refs in its value.
    /// Remotes' objects that nothing here reaches any more are dropped, and those nothing
    /// recognizes retired, and their owners told (`dropExports`, `retireExports`).
    pub(super) fn collect_garbage(&mut self) -> Result<(), KernelError> {
        #[cfg(feature = "remote")]
        let mut remote_gc = Vec::new();
        loop {
            let candidates = self.state.take_maybe_free();
            if candidates.is_empty() {
                break;
            }
            for kref in candidates {
                if is_promise(&kref) {
                    self.free_promise(&kref)?
                } else {
                    #[cfg(feature = "remote")]
                    remote_gc.extend(self.unreferenced_import(&kref)?);
                    self.free_object(&kref)?
                }
            }
        }
        #[cfg(feature = "remote")]
        if !remote_gc.is_empty() {
            self.send_remote_gc(remote_gc)?;
        }
        Ok(())
    }

    /// What to tell a remote about its object `kref`: once only its owner's own c-list entry
    /// reaches it, the entry is dropped (`dropExports`); once only that entry recognizes it,
    /// the entry goes and the object with it (`retireExports`).
    #[cfg(feature = "remote")]
    fn unreferenced_import(
        &mut self,
        kref: &str,
    ) -> Result<Vec<super::remotes::RemoteGc>, KernelError> {
        use super::remotes::RemoteGc;
        use super::state::Flag;
        let Some(remote) = self
            .state
            .owner(kref)?
            .filter(|o| super::ids::is_remote_id(o))
        else {
            return Ok(Vec::new());
        };
        let Some((flag, eref)) = self.state.clist_eref(&remote, kref)? else {
            return Ok(Vec::new());
        };
        let mut count = self.state.refcount(kref)?;
        let mut actions = Vec::new();
        if flag == Flag::Reachable && count.reachable == 1 {
            self.state.clist_drop(&remote, kref)?;
            count.reachable = 0;
            actions.push(RemoteGc::Drop(remote.clone(), eref.clone()));
        }
        if count.reachable == 0 && count.recognizable == 1 {
            self.state.orphan(kref)?;
            self.state.clist_remove(&remote, kref)?;
            actions.push(RemoteGc::Retire(remote, eref));
        }
        Ok(actions)
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
