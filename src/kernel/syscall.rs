//! A vat's syscalls during a delivery (spec §7.4), applied at once inside the crank.
//!
//! The first illegal syscall is remembered for the rest of the delivery (the reference resets
//! the flag on every syscall, so a later valid one masks it: spec §14.6). After an illegal
//! syscall the vat's further syscalls are ignored; the crank is rolled back and the vat
//! terminated.

use super::error::KernelError;
use super::ids::{is_export, is_promise, is_vpromise};
use super::machine::Kernel;
use super::router::single_reference;
use super::state::{PromiseState, RunItem};
use super::translate::Untranslatable;
use crate::capdata::CapData;
use crate::vat::{Message, Resolution, Syscall, Syscalls};

/// What a delivery's syscalls left behind for the crank to act on.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The first illegal syscall's explanation.
    pub illegal: Option<String>,
    /// An `exit` syscall: whether it is a failure, and its info.
    pub exit: Option<(bool, CapData)>,
    /// The store failed: the crank must abort.
    pub fault: Option<KernelError>,
}

/// Applies one vat's syscalls to the kernel, remembering what they left behind.
struct SyscallContext<'k> {
    kernel: &'k mut Kernel,
    vat: String,
    outcome: Outcome,
}

impl Kernel {
    /// Applies the syscalls `vat` made during one job, in order: what they left for the crank
    /// to act on. After the first illegal one (or a failure of the store) the rest are ignored.
    pub(super) fn apply_syscalls(&mut self, vat: &str, syscalls: Vec<Syscall>) -> Outcome {
        let mut ctx = SyscallContext {
            kernel: self,
            vat: vat.to_string(),
            outcome: Outcome::default(),
        };
        for syscall in syscalls {
            ctx.syscall(syscall);
        }
        ctx.outcome
    }
}

impl Syscalls for SyscallContext<'_> {
    fn syscall(&mut self, syscall: Syscall) {
        if self.outcome.illegal.is_some() || self.outcome.fault.is_some() {
            return;
        }
        match self.apply(syscall) {
            Ok(()) => {}
            Err(Untranslatable::Illegal(why)) => {
                tracing::warn!(vat = %self.vat, "illegal syscall: {why}");
                self.outcome.illegal = Some(why);
            }
            Err(Untranslatable::Kernel(e)) => self.outcome.fault = Some(e),
        }
    }
}

fn illegal<T>(why: String) -> Result<T, Untranslatable> {
    Err(Untranslatable::Illegal(why))
}

impl SyscallContext<'_> {
    fn apply(&mut self, syscall: Syscall) -> Result<(), Untranslatable> {
        match syscall {
            Syscall::Send { target, message } => self.send(&target, &message),
            Syscall::Subscribe(vpid) => self.subscribe(&vpid),
            Syscall::Resolve(resolutions) => self.resolve(&resolutions),
            Syscall::Exit { failure, info } => {
                let info = self.kernel.capdata_to_kernel(&self.vat, &info)?;
                self.outcome.exit = Some((failure, info));
                Ok(())
            }
            Syscall::DropImports(vrefs) => vrefs.iter().try_for_each(|v| self.drop_import(v)),
            Syscall::RetireImports(vrefs) => vrefs.iter().try_for_each(|v| self.retire(v, false)),
            Syscall::RetireExports(vrefs) => vrefs.iter().try_for_each(|v| self.retire(v, true)),
            Syscall::AbandonExports(vrefs) => vrefs.iter().try_for_each(|v| self.abandon(v)),
        }
    }

    fn send(&mut self, target: &str, message: &Message) -> Result<(), Untranslatable> {
        let Some(result) = &message.result else {
            return illegal("message result must be a string".into());
        };
        if !is_vpromise(result) {
            return illegal(format!("message result {result:?} is not a promise"));
        }
        let target = self.kernel.vat_to_kernel(&self.vat, target)?;
        let methargs = self
            .kernel
            .capdata_to_kernel(&self.vat, &message.methargs)?;
        let result = self.kernel.vat_to_kernel(&self.vat, result)?;
        if !matches!(
            self.kernel.state.promise_state(&result)?,
            Some(PromiseState::Unresolved)
        ) {
            return illegal(format!("message result {result} is already resolved"));
        }
        // Only the promise's decider may hand the decision on (as SwingSet insists), and until
        // the message is delivered nobody decides it: otherwise a vat could take over another
        // vat's promise, and a sender terminated while its message waits on a promise would
        // have the result rejected under the message, to be settled again by the receiver.
        let decider = self.kernel.state.decider(&result)?;
        if decider.as_deref() != Some(self.vat.as_str()) {
            let why = decider.map_or("it has no decider".to_string(), |d| {
                format!("its decider is \"{d}\"")
            });
            return illegal(format!(
                "\"{}\" may not use \"{result}\" as a message result because {why}",
                self.vat
            ));
        }
        self.kernel.state.set_decider(&result, None)?;
        let item = RunItem::Send {
            target,
            message: Message {
                methargs,
                result: Some(result),
            },
        };
        Ok(self.kernel.state.push_run(&item)?)
    }

    fn subscribe(&mut self, vpid: &str) -> Result<(), Untranslatable> {
        if !is_vpromise(vpid) {
            return illegal(format!("cannot subscribe to non-promise {vpid}"));
        }
        let kpid = self.kernel.vat_to_kernel(&self.vat, vpid)?;
        match self.kernel.state.promise_state(&kpid)? {
            Some(PromiseState::Unresolved) => {
                Ok(self.kernel.state.add_subscriber(&kpid, &self.vat)?)
            }
            Some(_) => Ok(self.kernel.state.push_run(&RunItem::Notify {
                endpoint: self.vat.clone(),
                kpid,
            })?),
            None => illegal(format!("{kpid} does not exist")),
        }
    }

    /// `resolve`: every resolution of the batch is checked and translated first, then all are
    /// settled, then the resolver's entries retired (as SwingSet does): a batch may resolve
    /// promises whose values name each other (liveslots does so for `p1 -> p2 -> p1`), so no
    /// entry may go before every value has been translated.
    fn resolve(&mut self, resolutions: &[Resolution]) -> Result<(), Untranslatable> {
        let mut settled = Vec::with_capacity(resolutions.len());
        for resolution in resolutions {
            let kpid = self.decided_promise(&resolution.promise)?;
            if settled.iter().any(|(k, _, _)| *k == kpid) {
                return illegal(format!("{} resolves \"{kpid}\" twice", self.vat));
            }
            let value = self
                .kernel
                .capdata_to_kernel(&self.vat, &resolution.value)?;
            if single_reference(&value).as_deref() == Some(kpid.as_str()) {
                return illegal(format!("\"{kpid}\" cannot be resolved to itself"));
            }
            settled.push((kpid, resolution.rejected, value));
        }
        for (kpid, rejected, value) in &settled {
            self.kernel.settle(kpid, *rejected, value)?;
        }
        // The resolver forgets the promises it resolved: retire its entries (spec §14.3).
        for (kpid, _, _) in &settled {
            self.kernel.state.clist_remove(&self.vat, kpid)?;
        }
        Ok(())
    }

    /// The kpid of `vpid`, which this vat must decide and which must be unresolved.
    fn decided_promise(&mut self, vpid: &str) -> Result<String, Untranslatable> {
        let kpid = self.kernel.vat_to_kernel(&self.vat, vpid)?;
        if !is_promise(&kpid) {
            return illegal(format!("cannot resolve non-promise {vpid}"));
        }
        let decider = self.kernel.state.decider(&kpid)?;
        if decider.as_deref() == Some(self.vat.as_str()) {
            return Ok(kpid);
        }
        let state = self.kernel.state.promise_state(&kpid)?;
        if !matches!(state, Some(PromiseState::Unresolved)) {
            return illegal(format!("\"{kpid}\" was already resolved"));
        }
        let why = decider.map_or("it has no decider".to_string(), |d| {
            format!("its decider is \"{d}\"")
        });
        illegal(format!(
            "\"{}\" not permitted to resolve \"{kpid}\" because \"{why}\"",
            self.vat
        ))
    }

    fn known_object(&mut self, vref: &str, export: bool) -> Result<String, Untranslatable> {
        if is_vpromise(vref) || is_export(vref) != export {
            let kind = if export { "an export" } else { "an import" };
            return illegal(format!("{vref} is not {kind}"));
        }
        match self.kernel.state.clist_kref(&self.vat, vref)? {
            Some(kref) => Ok(kref),
            None => illegal(format!("{} has no c-list entry for {vref}", self.vat)),
        }
    }

    fn drop_import(&mut self, vref: &str) -> Result<(), Untranslatable> {
        let kref = self.known_object(vref, false)?;
        self.kernel.state.clist_drop(&self.vat, &kref)?;
        Ok(())
    }

    /// `retireImports` (of dropped imports) and `retireExports` (after the kernel's
    /// `retireExports`): the entry goes.
    fn retire(&mut self, vref: &str, export: bool) -> Result<(), Untranslatable> {
        let kref = self.known_object(vref, export)?;
        if !export
            && matches!(
                self.kernel.state.clist_eref(&self.vat, &kref)?,
                Some((super::state::Flag::Reachable, _))
            )
        {
            return illegal(format!(
                "{vref} is still reachable; drop it before retiring it"
            ));
        }
        if export {
            // An export may only be retired once nothing but the exporter's own entry reaches
            // it (as SwingSet insists); it then loses its owner with its entry, like an
            // abandoned one. Before, a vat could retire a reachable export and leave it owned
            // but unexported: deliveries to it then killed the vat, and its row outlived it.
            if self.kernel.state.refcount(&kref)?.reachable > 1 {
                return illegal(format!("{vref} is still reachable by others"));
            }
            self.kernel.state.orphan(&kref)?;
        }
        Ok(self.kernel.state.clist_remove(&self.vat, &kref)?)
    }

    fn abandon(&mut self, vref: &str) -> Result<(), Untranslatable> {
        let kref = self.known_object(vref, true)?;
        self.kernel.state.orphan(&kref)?;
        Ok(self.kernel.state.clist_remove(&self.vat, &kref)?)
    }
}
