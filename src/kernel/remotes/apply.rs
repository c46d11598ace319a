//! What a remote sends the kernel, applied in the savepoint of the frame that carried it. A
//! frame that cannot be applied (it names what this kernel never gave the peer, resolves what
//! the peer does not decide, …) is refused whole — its effects undone, the refusal logged and
//! noted for `listPeers` — and acknowledged all the same, so that it is not retransmitted
//! forever (remote-comms.md §10.4).

use super::super::error::KernelError;
use super::super::ids::is_promise;
use super::super::machine::Kernel;
use super::super::router::single_reference;
use super::super::state::{PromiseState, RunItem};
use super::super::translate::Untranslatable;
use crate::capdata::CapData;
use crate::remote::refs::{RRef, gc_candidates};
use crate::remote::wire::{Body, Delivery, Resolution};
use crate::vat::Message;
use std::time::{Duration, Instant};

/// How often a peer may have the kernel reap its vats (`bringOutYourDead`) at most.
const REAP_EVERY: Duration = Duration::from_secs(10);

fn refused<T>(why: String) -> Result<T, Untranslatable> {
    Err(Untranslatable::Illegal(why))
}

impl Kernel {
    /// Applies message `seq` from `peer`; returns the reply to send in the same transaction
    /// (a `redeemURL`'s answer).
    pub(super) fn apply_from(
        &mut self,
        peer: &str,
        seq: u64,
        body: Body,
    ) -> Result<Option<Body>, KernelError> {
        let remote = self.remote_for_peer(peer, &[])?;
        self.remotes.made_in_frame = 0;
        if let Body::RedeemUrl { url, reply_key } = body {
            return self.answer_redemption(&remote, &url, reply_key).map(Some);
        }
        match self.nested(|k| k.apply_body(&remote, body)) {
            Ok(()) => Ok(None),
            Err(Untranslatable::Illegal(why)) => {
                tracing::warn!("remote: frame {seq} from {peer} ({remote}) refused: {why}");
                self.remotes
                    .note_error(peer, &format!("frame {seq} refused: {why}"));
                Ok(None)
            }
            Err(Untranslatable::Kernel(e)) => Err(e),
        }
    }

    fn apply_body(&mut self, remote: &str, body: Body) -> Result<(), Untranslatable> {
        match body {
            Body::RedeemUrl { .. } => refused("a redemption is answered, not applied".into()),
            Body::RedeemUrlReply {
                ok,
                reply_key,
                value,
            } => self.redemption_answered(remote, ok, &reply_key, &value),
            Body::Deliver(Delivery::Message {
                target,
                methargs,
                result,
            }) => self.apply_message(remote, &target, &methargs, result.as_deref()),
            Body::Deliver(Delivery::Notify(resolutions)) => self.apply_notify(remote, &resolutions),
            Body::Deliver(Delivery::DropExports(refs)) => {
                for kref in self.gc_lookup(remote, &refs, false)? {
                    self.state.clist_drop(remote, &kref)?;
                }
                Ok(())
            }
            Body::Deliver(Delivery::RetireExports(refs)) => {
                for kref in self.gc_lookup(remote, &refs, false)? {
                    self.state.clist_remove(remote, &kref)?;
                }
                Ok(())
            }
            Body::Deliver(Delivery::RetireImports(refs)) => {
                // The peer's object is gone: messages to it now fail with OBJECT_DELETED.
                for kref in self.gc_lookup(remote, &refs, true)? {
                    if self.state.owner(&kref)?.as_deref() == Some(remote) {
                        self.state.orphan(&kref)?;
                    }
                    self.state.clist_remove(remote, &kref)?;
                }
                Ok(())
            }
            Body::Deliver(Delivery::BringOutYourDead) => Ok(self.reap_for(remote)?),
        }
    }

    /// A message from the remote, queued for its target here. Its result is a promise the
    /// remote hands over: whoever the message reaches decides it, and the remote is told.
    fn apply_message(
        &mut self,
        remote: &str,
        target: &str,
        methargs: &CapData,
        result: Option<&str>,
    ) -> Result<(), Untranslatable> {
        let Some(target) = self.state.clist_kref(remote, target)? else {
            return refused(format!(
                "message to {target}, which this kernel never gave {remote}"
            ));
        };
        let methargs = self.capdata_from_remote(remote, methargs)?;
        let result = match result {
            None => None,
            Some(eref) => Some(self.result_from_remote(remote, eref)?),
        };
        let message = Message { methargs, result };
        Ok(self.state.push_run(&RunItem::Send { target, message })?)
    }

    /// The promise a remote's message names as its result: new, or one the remote decides
    /// (which it hands over); in transit nobody decides it, and the remote is subscribed.
    fn result_from_remote(&mut self, remote: &str, eref: &str) -> Result<String, Untranslatable> {
        let rref = RRef::parse(eref).map_err(|e| Untranslatable::Illegal(e.to_string()))?;
        if rref.kind != crate::remote::refs::Kind::Promise {
            return refused(format!("message result {eref} is not a promise"));
        }
        let kpid = match self.state.clist_kref(remote, eref)? {
            Some(kpid) => {
                let unresolved = matches!(
                    self.state.promise_state(&kpid)?,
                    Some(PromiseState::Unresolved)
                );
                let decider = self.state.decider(&kpid)?;
                if !unresolved || decider.as_deref().is_some_and(|d| d != remote) {
                    return refused(format!(
                        "{remote} may not use {eref} ({kpid}) as a message result"
                    ));
                }
                self.state.set_decider(&kpid, None)?;
                kpid
            }
            None if rref.plus => {
                let kpid = self.state.create_promise(None)?;
                self.state.clist_add(remote, eref, &kpid)?;
                kpid
            }
            None => return refused(format!("{remote} used {eref}, which it was never given")),
        };
        self.state.add_subscriber(&kpid, remote)?;
        Ok(kpid)
    }

    /// The remote settled promises it decides: each is settled here and leaves its c-list.
    /// Resolutions of promises it does not (or no longer) decide are skipped.
    fn apply_notify(
        &mut self,
        remote: &str,
        resolutions: &[Resolution],
    ) -> Result<(), Untranslatable> {
        let mut settled = Vec::with_capacity(resolutions.len());
        for resolution in resolutions {
            let Some(kpid) = self.state.clist_kref(remote, &resolution.promise)? else {
                tracing::debug!(
                    "remote: {remote} resolved {}, which it does not share here",
                    resolution.promise
                );
                continue;
            };
            if !is_promise(&kpid) {
                return refused(format!("{} is not a promise", resolution.promise));
            }
            let decides = self.state.decider(&kpid)?.as_deref() == Some(remote)
                && matches!(
                    self.state.promise_state(&kpid)?,
                    Some(PromiseState::Unresolved)
                );
            if !decides || settled.iter().any(|(k, _, _)| *k == kpid) {
                tracing::debug!("remote: {remote} may not resolve {kpid}; skipped");
                continue;
            }
            let value = self.capdata_from_remote(remote, &resolution.data)?;
            if single_reference(&value).as_deref() == Some(kpid.as_str()) {
                return refused(format!("{kpid} cannot be resolved to itself"));
            }
            settled.push((kpid, resolution.rejected, value));
        }
        for (kpid, rejected, value) in &settled {
            self.settle(kpid, *rejected, value)?;
        }
        for (kpid, _, _) in &settled {
            self.state.clist_remove(remote, kpid)?;
        }
        Ok(())
    }

    /// The objects GC refs name in the remote's c-list, read in the frame the kind implies:
    /// `dropExports`/`retireExports` name what this kernel exported to the remote (`ro-N`
    /// here), `retireImports` what the remote exported (`ro+N`). Either sign is accepted on the
    /// wire (the reference sends them unflipped, §10.3); nothing is ever made from a GC ref, and
    /// refs that name nothing are ignored.
    fn gc_lookup(
        &mut self,
        remote: &str,
        refs: &[String],
        theirs: bool,
    ) -> Result<Vec<String>, Untranslatable> {
        let mut found = Vec::new();
        for text in refs {
            let Ok(candidates) = gc_candidates(text) else {
                return refused(format!("GC ref {text:?} is not a remote ref"));
            };
            let Some(eref) = candidates
                .into_iter()
                .find(|c| RRef::parse(c).is_ok_and(|r| r.plus == theirs))
            else {
                continue;
            };
            if &eref != text {
                tracing::debug!("remote: {remote} sent GC ref {text} unflipped");
            }
            match self.state.clist_kref(remote, &eref)? {
                Some(kref) if !is_promise(&kref) => found.push(kref),
                _ => tracing::debug!("remote: GC ref {text} from {remote} names nothing"),
            }
        }
        Ok(found)
    }

    /// The peer asked this kernel to `bringOutYourDead`: its running vats are reaped (at most
    /// every [`REAP_EVERY`] per peer), so that what they dropped is reported back. No BOYD goes
    /// back to any remote for it.
    fn reap_for(&mut self, remote: &str) -> Result<(), KernelError> {
        let due = self
            .remotes
            .reaps
            .get(remote)
            .is_none_or(|at| at.elapsed() >= REAP_EVERY);
        if !due {
            return Ok(());
        }
        self.remotes
            .reaps
            .insert(remote.to_string(), Instant::now());
        for vat in self.state.live_vats()? {
            if self.warehouse.is_loaded(&vat) {
                self.state.schedule_reap(&vat)?;
            }
        }
        Ok(())
    }

    /// The peer restarted with a new incarnation: what it exported here is forgotten (messages
    /// to those objects fail with `OBJECT_DELETED`), every promise it decided is rejected with
    /// `PEER_RESTARTED`, promises shared with it leave its c-list, and its pending redemptions
    /// fail. What this kernel exported to it stays, as in the reference.
    pub(super) fn peer_restarted(&mut self, remote: &str, peer: &str) -> Result<(), KernelError> {
        self.fail_redemptions(remote, "Remote peer restarted")?;
        for kref in self.state.clist_krefs(remote)? {
            if is_promise(&kref) {
                if self.state.decider(&kref)?.as_deref() == Some(remote) {
                    self.reject_with(
                        &kref,
                        "PEER_RESTARTED",
                        "Remote peer restarted (incarnation changed)",
                    )?;
                }
                self.state.clist_remove(remote, &kref)?;
            } else if self.state.owner(&kref)?.as_deref() == Some(remote) {
                self.state.orphan(&kref)?;
                self.state.clist_remove(remote, &kref)?;
            }
        }
        tracing::info!("remote: forgot what {peer} ({remote}) had shared before it restarted");
        Ok(())
    }

    /// The peer was given up on (unacknowledged after retransmissions, or unreachable): every
    /// promise it decides is rejected with `CONNECTION_LOST` and leaves its c-list, and its
    /// pending redemptions fail.
    pub(super) fn peer_lost(&mut self, peer: &str) -> Result<(), KernelError> {
        let Some(remote) = self.remote_of_peer(peer)? else {
            return Ok(());
        };
        let why =
            format!("Remote connection lost: {peer} (max retries reached or non-retryable error)");
        self.fail_redemptions(&remote, &why)?;
        for kref in self.state.clist_krefs(&remote)? {
            if is_promise(&kref) && self.state.decider(&kref)?.as_deref() == Some(remote.as_str()) {
                self.reject_with(&kref, "CONNECTION_LOST", &why)?;
                self.state.clist_remove(&remote, &kref)?;
            }
        }
        Ok(())
    }
}
