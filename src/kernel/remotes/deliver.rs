//! What the kernel sends a remote, inside the crank that decided it: a message to an object the
//! remote owns, a `notify` of promises it is subscribed to, the GC deliveries for its objects
//! nothing here reaches or recognizes any more, and now and then `bringOutYourDead`.

use super::super::error::KernelError;
use super::super::machine::Kernel;
use super::super::state::RunItem;
use super::translate::{Export, wire};
use crate::capdata::{CapData, kernel_error};
use crate::remote::driver::SendFailed;
use crate::remote::reliable::SendError;
use crate::remote::wire::{Body, Delivery, Resolution};
use crate::vat::Message;

/// Why a message to a remote was not sent.
enum NotSent {
    /// The session refused it (queue full, frame too large): its result is rejected.
    Refused(SendError),
    /// The store failed.
    Kernel(KernelError),
}

impl From<KernelError> for NotSent {
    fn from(e: KernelError) -> NotSent {
        NotSent::Kernel(e)
    }
}

/// A GC delivery owed to a remote for one of its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::kernel) enum RemoteGc {
    /// Nothing here reaches the object (`dropExports`).
    Drop(String, String),
    /// Nothing here recognizes it either (`retireExports`); its entry is gone.
    Retire(String, String),
}

impl Kernel {
    /// Delivers a queued message to `target`, which `remote` owns: the result is decided by the
    /// remote from now on. A message the session refuses (its queue is full, or the frame would
    /// pass 1 MiB) changes nothing but its result, rejected with `DELIVERY_FAILED`.
    pub(in crate::kernel) fn deliver_to_remote(
        &mut self,
        item: &RunItem,
        remote: &str,
        target: &str,
        message: &Message,
    ) -> Result<(), KernelError> {
        let Some(peer) = self.peer_of_remote(remote)? else {
            return Err(KernelError::Corrupt {
                key: format!("remote.{remote}"),
                detail: "a routed remote has no record".into(),
            });
        };
        // Restoring the session may repair the store: those writes belong to the crank.
        self.with_driver(|driver, host| driver.pending(host, &peer))??;
        let sent = self.nested(|k| -> Result<(), NotSent> {
            if let Some(result) = &message.result {
                k.state.set_decider(result, Some(remote))?;
            }
            let Some((_, target)) = k.state.clist_eref(remote, target)? else {
                return Err(NotSent::Kernel(KernelError::Corrupt {
                    key: format!("{remote}.c.{target}"),
                    detail: "the remote owns an object its c-list does not name".into(),
                }));
            };
            let methargs = k.capdata_to_remote(remote, &message.methargs)?;
            let result = match &message.result {
                Some(kpid) => Some(wire(&k.kernel_to_remote(remote, kpid, Export::Plain)?)?),
                None => None,
            };
            let body = Body::Deliver(Delivery::Message {
                target: wire(&target)?,
                methargs,
                result,
            });
            match k.with_driver(|driver, host| driver.send(host, &peer, body))? {
                Ok(_) => Ok(()),
                Err(SendFailed::Refused(e)) => Err(NotSent::Refused(e)),
                Err(SendFailed::Host(e)) => Err(NotSent::Kernel(e)),
            }
        });
        match sent {
            Ok(()) => {
                self.state.decref_item(item)?;
                self.count_remote_delivery(remote, &peer)
            }
            Err(NotSent::Refused(why)) => {
                tracing::info!("remote: message to {remote} refused: {why}");
                self.remotes
                    .note_error(&peer, &format!("message not sent: {why}"));
                if let Some(result) = &message.result {
                    self.reject_with(result, "DELIVERY_FAILED", &why.to_string())?;
                }
                self.state.decref_item(item)
            }
            Err(NotSent::Kernel(e)) => Err(e),
        }
    }

    /// Every `reap_interval` messages, asks the remote to `bringOutYourDead`, so that its vats
    /// report what they dropped and its kernel tells this one. A BOYD the peer asks of this
    /// kernel never makes one go back (the reference's ping-pong guard): only messages count.
    fn count_remote_delivery(&mut self, remote: &str, peer: &str) -> Result<(), KernelError> {
        let interval = self.warehouse.reap_interval();
        let count = self
            .remotes
            .deliveries
            .entry(remote.to_string())
            .or_default();
        *count += 1;
        if *count < interval {
            return Ok(());
        }
        *count = 0;
        let body = Body::Deliver(Delivery::BringOutYourDead);
        match self.with_driver(|driver, host| driver.send_priority(host, peer, body))? {
            Ok(_) => Ok(()),
            Err(SendFailed::Refused(why)) => {
                tracing::debug!("remote: bringOutYourDead to {remote} not sent: {why}");
                Ok(())
            }
            Err(SendFailed::Host(e)) => Err(e),
        }
    }

    /// Tells `remote` that `kpid` settled (and every settled promise its value names), then
    /// forgets them in its c-list: the remote forgets them too, as a vat does.
    pub(in crate::kernel) fn notify_remote(
        &mut self,
        item: &RunItem,
        remote: &str,
        kpid: &str,
    ) -> Result<(), KernelError> {
        let peer = match self.peer_of_remote(remote)? {
            Some(peer) if self.state.clist_eref(remote, kpid)?.is_some() => peer,
            _ => return self.state.decref_item(item),
        };
        let settled = self.settled_closure(kpid)?;
        self.state.decref_item(item)?;
        let attempt = |k: &mut Kernel, values: bool| -> Result<(), NotSent> {
            let mut resolutions = Vec::with_capacity(settled.len());
            for (promise, rejected, value) in &settled {
                let promise = wire(&k.kernel_to_remote(remote, promise, Export::Plain)?)?;
                let (rejected, data) = match values {
                    true => (*rejected, k.capdata_to_remote(remote, value)?),
                    false => (true, too_large()),
                };
                resolutions.push(Resolution {
                    promise,
                    rejected,
                    data,
                });
            }
            let body = Body::Deliver(Delivery::Notify(resolutions));
            match k.with_driver(|driver, host| driver.send_priority(host, &peer, body))? {
                Ok(_) => Ok(()),
                Err(SendFailed::Refused(e)) => Err(NotSent::Refused(e)),
                Err(SendFailed::Host(e)) => Err(NotSent::Kernel(e)),
            }
        };
        let mut sent = self.nested(|k| attempt(k, true));
        if let Err(NotSent::Refused(SendError::TooLarge(_))) = sent {
            // The values do not fit in a frame: the remote still learns that they settled.
            sent = self.nested(|k| attempt(k, false));
        }
        match sent {
            Ok(()) => {}
            Err(NotSent::Refused(why)) => {
                tracing::warn!("remote: notify to {remote} dropped: {why}");
                self.remotes
                    .note_error(&peer, &format!("notify not sent: {why}"));
            }
            Err(NotSent::Kernel(e)) => return Err(e),
        }
        for (promise, _, _) in &settled {
            self.state.clist_remove(remote, promise)?;
        }
        Ok(())
    }

    /// Sends the GC deliveries the collection found, one `dropExports` and one
    /// `retireExports` per remote, refs flipped like every other ref (the reference sends them
    /// unflipped; remote-comms.md §10.3).
    pub(in crate::kernel) fn send_remote_gc(
        &mut self,
        actions: Vec<RemoteGc>,
    ) -> Result<(), KernelError> {
        let mut remotes: Vec<&str> = actions
            .iter()
            .map(|a| match a {
                RemoteGc::Drop(r, _) | RemoteGc::Retire(r, _) => r.as_str(),
            })
            .collect();
        remotes.sort_unstable();
        remotes.dedup();
        for remote in remotes {
            let Some(peer) = self.peer_of_remote(remote)? else {
                continue;
            };
            let refs = |retire: bool| -> Vec<String> {
                actions
                    .iter()
                    .filter_map(|a| match a {
                        RemoteGc::Drop(r, eref) if r == remote && !retire => Some(eref.clone()),
                        RemoteGc::Retire(r, eref) if r == remote && retire => Some(eref.clone()),
                        _ => None,
                    })
                    .collect()
            };
            for (retire, make) in [
                (false, Delivery::DropExports as fn(Vec<String>) -> Delivery),
                (true, Delivery::RetireExports as fn(Vec<String>) -> Delivery),
            ] {
                let erefs = refs(retire);
                if erefs.is_empty() {
                    continue;
                }
                let flipped = erefs.iter().map(|e| wire(e)).collect::<Result<_, _>>()?;
                let body = Body::Deliver(make(flipped));
                match self.with_driver(|driver, host| driver.send_priority(host, &peer, body))? {
                    Ok(_) => {}
                    Err(SendFailed::Refused(why)) => {
                        tracing::warn!("remote: GC delivery to {remote} dropped: {why}");
                    }
                    Err(SendFailed::Host(e)) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

/// What a remote is told of a settlement whose value does not fit in a frame.
fn too_large() -> CapData {
    kernel_error(
        "DELIVERY_FAILED",
        "the resolution is too large for one frame (1 MiB)",
    )
}
