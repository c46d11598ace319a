//! Settling promises (spec §4.4): value, subscribers notified, queued messages re-routed.

use super::error::KernelError;
use super::ids::is_promise;
use super::machine::Kernel;
use super::state::RunItem;
use crate::capdata::CapData;

impl Kernel {
    /// Settles `kpid` (the caller has checked who may). The value's slots gain a reference
    /// held by the promise; each subscriber gets a `notify`; messages queued on the promise go
    /// back on the run queue, where they are routed by the new state.
    pub(super) fn settle(
        &mut self,
        kpid: &str,
        rejected: bool,
        value: &CapData,
    ) -> Result<(), KernelError> {
        self.state.incref_slots(value)?;
        let subscribers = self.state.settle(kpid, rejected, value)?;
        for endpoint in subscribers {
            self.state.push_run(&RunItem::Notify {
                endpoint,
                kpid: kpid.to_string(),
            })?;
        }
        // Queued messages already hold their references; moving them keeps the counts right.
        for item in self.state.drain_queue(kpid)? {
            self.state.enqueue("run", &item)?;
        }
        self.waiters.note_settled(kpid);
        Ok(())
    }

    /// Rejects `kpid` with a kernel error `[KERNEL:<code>] <detail>` (spec §2.4), if it is
    /// still unresolved.
    pub(super) fn reject_with(
        &mut self,
        kpid: &str,
        code: &str,
        detail: &str,
    ) -> Result<(), KernelError> {
        if !matches!(
            self.state.promise_state(kpid)?,
            Some(super::state::PromiseState::Unresolved)
        ) {
            return Ok(());
        }
        self.settle(kpid, true, &crate::capdata::kernel_error(code, detail))
    }

    /// Rejects every promise in `vat`'s c-list that `vat` decides and has not settled, with
    /// `[KERNEL:<code>] <detail>` (the vat is gone, or no longer remembers them); returns them.
    pub(super) fn reject_decided_by(
        &mut self,
        vat: &str,
        code: &str,
        detail: &str,
    ) -> Result<Vec<String>, KernelError> {
        let mut rejected = Vec::new();
        for kref in self.state.clist_krefs(vat)? {
            if is_promise(&kref) && self.state.decider(&kref)?.as_deref() == Some(vat) {
                self.reject_with(&kref, code, detail)?;
                rejected.push(kref);
            }
        }
        Ok(rejected)
    }
}
