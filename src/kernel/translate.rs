//! C-list translation between kernel space (krefs) and a vat's space (vrefs) (spec §4.2).
//!
//! Bodies are never rewritten; only `slots`, targets and result refs are mapped (spec §8.1).

use super::error::KernelError;
use super::ids::{is_export, is_vpromise, is_vref};
use super::machine::Kernel;
use super::state::Flag;
use crate::capdata::CapData;
use crate::vat::Message;

/// Why a vat's ref could not be translated: the syscall that used it is illegal.
#[derive(Debug)]
pub enum Untranslatable {
    /// The vat used a ref it was never given.
    Illegal(String),
    /// The store failed.
    Kernel(KernelError),
}

impl From<KernelError> for Untranslatable {
    fn from(e: KernelError) -> Untranslatable {
        Untranslatable::Kernel(e)
    }
}

impl Kernel {
    /// The kref for `vref` in `vat`'s space; a new export becomes a new kernel object or
    /// promise owned/decided by the vat.
    pub(super) fn vat_to_kernel(
        &mut self,
        vat: &str,
        vref: &str,
    ) -> Result<String, Untranslatable> {
        // Checked before the lookup: the c-list keeps both directions under `<vat>.c.`, so a
        // vat naming a kref it holds (`ko5`) would otherwise get back `R o-1` as a "kref".
        if !is_vref(vref) {
            return Err(Untranslatable::Illegal(format!(
                "{vref:?} is not a vat reference"
            )));
        }
        if let Some(kref) = self.state.clist_kref(vat, vref)? {
            return Ok(kref);
        }
        if !is_export(vref) {
            return Err(Untranslatable::Illegal(format!(
                "{vat} used import {vref} that the kernel never gave it"
            )));
        }
        let kref = if is_vpromise(vref) {
            self.state.create_promise(Some(vat))?
        } else {
            self.state.create_object(vat)?
        };
        self.state.clist_add(vat, vref, &kref)?;
        Ok(kref)
    }

    /// The vref for `kref` in `vat`'s space, importing it if the vat does not know it yet. A
    /// ref the vat had dropped becomes reachable again.
    pub(super) fn kernel_to_vat(&mut self, vat: &str, kref: &str) -> Result<String, KernelError> {
        match self.state.clist_eref(vat, kref)? {
            Some((Flag::Reachable, eref)) => Ok(eref),
            Some((Flag::Recognizable, eref)) => {
                self.state.clist_reachable_again(vat, kref)?;
                Ok(eref)
            }
            None => {
                let eref = self
                    .state
                    .allocate_import(vat, super::ids::is_promise(kref))?;
                self.state.clist_add(vat, &eref, kref)?;
                Ok(eref)
            }
        }
    }

    /// A value's slots mapped into `vat`'s space.
    pub(super) fn capdata_to_vat(
        &mut self,
        vat: &str,
        data: &CapData,
    ) -> Result<CapData, KernelError> {
        let slots = data
            .slots
            .iter()
            .map(|kref| self.kernel_to_vat(vat, kref))
            .collect::<Result<_, _>>()?;
        Ok(CapData {
            body: data.body.clone(),
            slots,
        })
    }

    /// A value's slots mapped into kernel space.
    pub(super) fn capdata_to_kernel(
        &mut self,
        vat: &str,
        data: &CapData,
    ) -> Result<CapData, Untranslatable> {
        let slots = data
            .slots
            .iter()
            .map(|vref| self.vat_to_kernel(vat, vref))
            .collect::<Result<_, _>>()?;
        Ok(CapData {
            body: data.body.clone(),
            slots,
        })
    }

    /// A message mapped into `vat`'s space.
    pub(super) fn message_to_vat(
        &mut self,
        vat: &str,
        message: &Message,
    ) -> Result<Message, KernelError> {
        let methargs = self.capdata_to_vat(vat, &message.methargs)?;
        let result = message
            .result
            .as_deref()
            .map(|kp| self.kernel_to_vat(vat, kp))
            .transpose()?;
        Ok(Message { methargs, result })
    }
}
