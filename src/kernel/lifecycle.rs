//! Starting vats (lazily, on first delivery), restarting them, and terminating them (spec §4.8,
//! with the fixes of §14.1: promises a terminated vat decided are rejected, and §14.11: a
//! restarted vat's lost objects and promises are forgotten).

use super::error::KernelError;
use super::machine::Kernel;
use crate::vat::{DeliveryResult, VatFault};

/// Why a vat could not be started.
#[derive(Debug)]
pub enum StartError {
    /// Its code could not be loaded, or `initVat` failed.
    Vat(String),
    /// The store failed.
    Kernel(KernelError),
}

impl From<KernelError> for StartError {
    fn from(e: KernelError) -> StartError {
        StartError::Kernel(e)
    }
}

impl Kernel {
    /// Makes sure `vat` is loaded, starting it from its stored vatstore if needed.
    pub(super) fn ensure_started(&mut self, vat: &str) -> Result<(), StartError> {
        if self.warehouse.is_loaded(vat) {
            return Ok(());
        }
        let config = self
            .state
            .vat_config(vat)?
            .ok_or_else(|| StartError::Vat(format!("{vat} is not a live vat")))?;
        let vatstore = self.state.vatstore(vat)?;
        let ran = self
            .warehouse
            .load(vat, &config, vatstore)
            .map_err(|fault| StartError::Vat(fault.to_string()))?;
        let outcome = self.apply_syscalls(vat, ran.syscalls);
        if let Some(fault) = outcome.fault {
            self.warehouse.forget(vat);
            return Err(StartError::Kernel(fault));
        }
        let result = match check_start(ran.result, outcome.illegal) {
            Ok(result) => result,
            Err(e) => {
                self.warehouse.forget(vat);
                return Err(e);
            }
        };
        self.state.apply_vatstore(vat, &result.delta)?;
        Ok(())
    }

    /// Replaces a vat's runtime with a fresh one started from its vatstore (`restartVat`,
    /// spec §9.2), forgetting what died with the old heap (see `heap_loss`). Starts at once so
    /// that a vat that cannot start is reported now; then the old runtime is kept, and the
    /// caller's rollback undoes the forgetting, so a failed restart changes nothing.
    pub(super) fn restart_vat(&mut self, vat: &str) -> Result<(), StartError> {
        self.forget_heap(vat)?;
        self.collect_garbage()?;
        let old = self.warehouse.set_aside(vat);
        let started = self.ensure_started(vat);
        if let (Err(_), Some(old)) = (&started, old) {
            self.warehouse.put_back(vat, old);
        }
        started
    }

    /// Terminates `vat`: its runtime stops, every unresolved promise it decided is rejected with
    /// `[KERNEL:VAT_TERMINATED] <reason>`, its objects are orphaned (messages to them splat
    /// with `OBJECT_DELETED`), its imports released, and its config, vatstore, c-list and
    /// subcluster membership deleted. Empty subclusters go too.
    pub(super) fn terminate_vat(&mut self, vat: &str, reason: &str) -> Result<(), KernelError> {
        tracing::info!(vat, "terminating: {reason}");
        self.warehouse.forget(vat);
        self.reject_decided_by(vat, "VAT_TERMINATED", reason)?;
        for kref in self.state.clist_krefs(vat)? {
            if self.state.owner(&kref)?.as_deref() == Some(vat) {
                self.state.orphan(&kref)?;
            }
            self.state.clist_remove(vat, &kref)?;
        }
        self.state.forget_vat(vat)?;
        self.leave_subcluster(vat)?;
        self.collect_garbage()
    }

    /// Removes a vat from its subcluster, and the subcluster (and its IO channels) once it is
    /// empty.
    fn leave_subcluster(&mut self, vat: &str) -> Result<(), KernelError> {
        let Some(id) = self.state.subcluster_of(vat)? else {
            return Ok(());
        };
        self.state.set_subcluster_of(vat, None)?;
        let Some(mut record) = self.state.subcluster(&id)? else {
            return Ok(());
        };
        record.vats.retain(|_, v| v.as_str() != Some(vat));
        if record.vats.is_empty() {
            self.close_io(&id)?;
            self.state.remove_subcluster(&id)
        } else {
            self.state.put_subcluster(&record)
        }
    }
}

fn check_start(
    result: Result<DeliveryResult, VatFault>,
    illegal: Option<String>,
) -> Result<DeliveryResult, StartError> {
    let result = result.map_err(|fault| StartError::Vat(fault.to_string()))?;
    if let Some(why) = illegal {
        return Err(StartError::Vat(format!(
            "illegal syscall during start: {why}"
        )));
    }
    match result.error {
        Some(error) => Err(StartError::Vat(error)),
        None => Ok(result),
    }
}
