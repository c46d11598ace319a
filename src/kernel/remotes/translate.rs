//! Refs between kernel space and a remote's space (remote-comms.md §5.1). A remote's c-list is
//! kept in this kernel's frame, like a vat's: `ro+N`/`rp+N` were allocated by the peer (its
//! exports), `ro-N`/`rp-N` by this kernel. On the wire every ref is in the receiver's frame, so
//! what the kernel sends is flipped (`wire`) and what it receives is taken as it comes.

use super::super::error::KernelError;
use super::super::ids::is_promise;
use super::super::machine::Kernel;
use super::super::state::{Flag, PromiseState, RunItem};
use super::super::translate::Untranslatable;
use crate::capdata::CapData;
use crate::remote::refs::{Kind, RRef, flip};

/// How a kref handed to a remote is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Export {
    /// Just named (a message's result, which the remote will decide; a promise it is being
    /// told about).
    Plain,
    /// Handed over: a promise it does not decide is subscribed for it (or, settled already,
    /// it is told at once), since no `subscribe` crosses the wire.
    Subscribe,
}

/// A c-list ref of a remote as the peer must read it.
pub(super) fn wire(eref: &str) -> Result<String, KernelError> {
    flip(eref).map_err(|e| KernelError::Corrupt {
        key: "remote c-list".into(),
        detail: e.to_string(),
    })
}

impl Kernel {
    /// The ref `remote` knows `kref` by (this kernel's frame), exporting it if new. A ref the
    /// remote had dropped becomes reachable again.
    pub(super) fn kernel_to_remote(
        &mut self,
        remote: &str,
        kref: &str,
        export: Export,
    ) -> Result<String, KernelError> {
        match self.state.clist_eref(remote, kref)? {
            Some((Flag::Reachable, eref)) => Ok(eref),
            Some((Flag::Recognizable, eref)) => {
                self.state.clist_reachable_again(remote, kref)?;
                Ok(eref)
            }
            None => {
                let promise = is_promise(kref);
                let eref = self.state.allocate_import(remote, promise)?;
                self.state.clist_add(remote, &eref, kref)?;
                if promise && export == Export::Subscribe {
                    self.subscribe_remote(remote, kref)?;
                }
                Ok(eref)
            }
        }
    }

    /// Makes sure `remote` hears when `kpid` settles: as a subscriber, or at once if settled.
    fn subscribe_remote(&mut self, remote: &str, kpid: &str) -> Result<(), KernelError> {
        match self.state.promise_state(kpid)? {
            Some(PromiseState::Unresolved) => {
                if self.state.decider(kpid)?.as_deref() != Some(remote) {
                    self.state.add_subscriber(kpid, remote)?;
                }
                Ok(())
            }
            Some(_) => self.state.push_run(&RunItem::Notify {
                endpoint: remote.to_string(),
                kpid: kpid.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// The kref for a ref `remote` sent (in this kernel's frame, as received). An unknown
    /// `ro+N`/`rp+N` is the peer's new export: a new object it owns, or a promise it decides.
    /// An unknown `ro-N`/`rp-N` names nothing this kernel ever gave it: the frame is refused.
    pub(super) fn remote_to_kernel(
        &mut self,
        remote: &str,
        eref: &str,
    ) -> Result<String, Untranslatable> {
        let rref = RRef::parse(eref).map_err(|e| Untranslatable::Illegal(e.to_string()))?;
        if let Some(kref) = self.state.clist_kref(remote, eref)? {
            // Named again, so reachable again (whichever side had dropped it).
            if matches!(
                self.state.clist_eref(remote, &kref)?,
                Some((Flag::Recognizable, _))
            ) {
                self.state.clist_reachable_again(remote, &kref)?;
            }
            return Ok(kref);
        }
        if !rref.plus {
            return Err(Untranslatable::Illegal(format!(
                "{remote} used {eref}, which this kernel never gave it"
            )));
        }
        self.remotes.made_in_frame += 1;
        if self.remotes.made_in_frame > super::MADE_PER_FRAME {
            return Err(Untranslatable::Illegal(format!(
                "a frame may introduce at most {} new references",
                super::MADE_PER_FRAME
            )));
        }
        let kref = match rref.kind {
            Kind::Promise => self.state.create_promise(Some(remote))?,
            Kind::Object => self.state.create_object(remote)?,
        };
        self.state.clist_add(remote, eref, &kref)?;
        Ok(kref)
    }

    /// A value's slots in `remote`'s space, flipped for the wire.
    pub(super) fn capdata_to_remote(
        &mut self,
        remote: &str,
        data: &CapData,
    ) -> Result<CapData, KernelError> {
        let mut slots = Vec::with_capacity(data.slots.len());
        for kref in &data.slots {
            slots.push(wire(&self.kernel_to_remote(
                remote,
                kref,
                Export::Subscribe,
            )?)?);
        }
        Ok(CapData {
            body: data.body.clone(),
            slots,
        })
    }

    /// A value from `remote` with its slots in kernel space.
    pub(super) fn capdata_from_remote(
        &mut self,
        remote: &str,
        data: &CapData,
    ) -> Result<CapData, Untranslatable> {
        let slots = data
            .slots
            .iter()
            .map(|eref| self.remote_to_kernel(remote, eref))
            .collect::<Result<_, _>>()?;
        Ok(CapData {
            body: data.body.clone(),
            slots,
        })
    }
}
