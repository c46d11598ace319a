//! What the kernel does when a vat's JavaScript heap is lost (a daemon restart, `restartVat`),
//! as SwingSet does on upgrade (spec §14.11: the reference does nothing, so a message to a lost
//! object kills the vat and a promise the vat decided never settles).
//!
//! The new incarnation rebuilds its root (`o+0`) and finds its virtual and durable objects in
//! its vatstore; everything else it exported is gone, and it no longer knows the promises it
//! was to settle. So its ephemeral exports are abandoned, exactly as by its own
//! `abandonExports` (messages to them splat with `OBJECT_DELETED`; importers keep valid
//! references), and each promise it decided is rejected with
//! `[KERNEL:VAT_RESTARTED] Vat vN restarted before settling this promise`.

use super::error::KernelError;
use super::ids::is_ephemeral_export;
use super::machine::Kernel;

impl Kernel {
    /// Forgets what died with `vat`'s heap. The caller collects garbage.
    pub(super) fn forget_heap(&mut self, vat: &str) -> Result<(), KernelError> {
        let detail = format!("Vat {vat} restarted before settling this promise");
        for kpid in self.reject_decided_by(vat, "VAT_RESTARTED", &detail)? {
            self.state.clist_remove(vat, &kpid)?;
        }
        for kref in self.state.clist_krefs(vat)? {
            if self.exported_ephemeral(vat, &kref)? {
                self.state.orphan(&kref)?;
                self.state.clist_remove(vat, &kref)?;
            }
        }
        Ok(())
    }

    /// Whether `vat` exports `kref` as an ephemeral object (`o+N` other than its root).
    fn exported_ephemeral(&self, vat: &str, kref: &str) -> Result<bool, KernelError> {
        let eref = self.state.clist_eref(vat, kref)?;
        Ok(eref.is_some_and(|(_, vref)| is_ephemeral_export(&vref)))
    }

    /// After a daemon restart every vat's heap is gone: forgets them all, in one committed
    /// transaction before anything runs, so queued messages meet the rejections rather than
    /// a vat that no longer knows their targets.
    pub(super) fn forget_every_heap(&mut self) -> Result<(), KernelError> {
        self.atomically(|k| {
            for vat in k.state.live_vats()? {
                k.forget_heap(&vat)?;
            }
            k.collect_garbage()
        })?;
        self.commit()
    }
}
