//! The delivery driver's [`Host`] over the kernel, and the handling of the node's events
//! (`Command::Remote`): each event is one savepoint of the batch transaction, and whatever the
//! driver holds back (frames, acknowledgements, handshake verdicts) leaves after the commit.

use super::super::error::KernelError;
use super::super::machine::Kernel;
use crate::remote::driver::{Discard, Driver, Host};
use crate::remote::node::NetEvent;
use crate::remote::reliable::{Stored, Write};
use crate::remote::wire::Body;
use std::time::{Duration, Instant};

/// The kernel, lent to the driver for one call.
pub(in crate::kernel) struct KernelHost<'k> {
    pub(in crate::kernel) kernel: &'k mut Kernel,
}

/// Hints kept per remote, newest last.
const HINTS_KEPT: usize = 16;
/// How often `lastActiveTime` is written at most.
const ACTIVE_EVERY: Duration = Duration::from_secs(60);

impl Host for KernelHost<'_> {
    type Error = KernelError;

    fn load(&mut self, peer: &str) -> Result<Stored, KernelError> {
        match self.kernel.remote_of_peer(peer)? {
            Some(remote) => self.kernel.state.remote_stored(&remote),
            None => Ok(Stored::default()),
        }
    }

    fn write(&mut self, peer: &str, write: &Write) -> Result<(), KernelError> {
        let remote = self.kernel.remote_for_peer(peer, &[])?;
        self.kernel.state.remote_write(&remote, write)
    }

    fn apply(&mut self, peer: &str, seq: u64, body: Body) -> Result<Option<Body>, KernelError> {
        self.kernel.apply_from(peer, seq, body)
    }

    fn incarnation(&mut self, peer: &str, incarnation: &str) -> Result<bool, KernelError> {
        self.kernel.peer_incarnation(peer, incarnation)
    }

    fn discarded(&mut self, peer: &str, seqs: &[u64], why: Discard) -> Result<(), KernelError> {
        tracing::info!(
            "remote: {peer}: {} frame(s) abandoned ({why:?})",
            seqs.len()
        );
        match why {
            Discard::GaveUp => self.kernel.peer_lost(peer),
            // Done with the verdict, before the session was reset (`peer_incarnation`).
            Discard::PeerRestarted => Ok(()),
        }
    }

    fn listening(&mut self, addrs: Vec<String>) {
        if let Some(running) = &mut self.kernel.remotes.running {
            running.listening = addrs;
        }
    }
}

impl Kernel {
    /// Runs `work` with the driver and the kernel as its host. The driver is taken out for the
    /// call, so nothing the host does may need it (nothing does: sends happen in cranks, or
    /// through the driver itself).
    pub(in crate::kernel) fn with_driver<T>(
        &mut self,
        work: impl FnOnce(&mut Driver, &mut KernelHost) -> T,
    ) -> Result<T, KernelError> {
        let Some(mut driver) = self.remotes.driver.take() else {
            return Err(KernelError::Refused(
                "remote comms were re-entered while handling a frame".into(),
            ));
        };
        let out = work(&mut driver, &mut KernelHost { kernel: self });
        self.remotes.driver = Some(driver);
        Ok(out)
    }

    /// Handles one event of the node: in its own savepoint, whose output leaves after the
    /// batch commits. Events of a node since replaced are dropped (a dropped handshake refuses
    /// its channel; dropped frames are resent).
    pub(in crate::kernel) fn remote_event(&mut self, generation: u64, event: NetEvent) {
        if !self.remotes.is_current(generation) {
            return;
        }
        self.remotes.note_event(&event);
        if matches!(event, NetEvent::Alarm) {
            self.redemption_alarm();
            return;
        }
        let result = self.atomically(|k| {
            k.with_driver(|driver, host| driver.handle(host, event))??;
            k.note_activity()?;
            k.collect_garbage()
        });
        if let Err(e) = result {
            tracing::warn!("remote: an event from the network was not handled: {e}");
        }
    }

    /// Writes `lastActiveTime`, at most once a minute.
    fn note_activity(&mut self) -> Result<(), KernelError> {
        let due = self
            .remotes
            .last_active
            .is_none_or(|at| at.elapsed() >= ACTIVE_EVERY);
        if due {
            self.remotes.last_active = Some(Instant::now());
            self.state
                .set_last_active_time(super::super::clock::now_ms())?;
        }
        Ok(())
    }

    /// The remote that stands for `peer`, if there is one.
    pub(in crate::kernel) fn remote_of_peer(
        &mut self,
        peer: &str,
    ) -> Result<Option<String>, KernelError> {
        if let Some(remote) = self.remotes.by_peer.get(peer).cloned() {
            // The cache may hold a remote whose creation was rolled back.
            if self
                .state
                .remote(&remote)?
                .is_some_and(|record| record.peer_id == peer)
            {
                return Ok(Some(remote));
            }
        }
        self.remotes.by_peer = self
            .state
            .remotes()?
            .into_iter()
            .map(|(remote, record)| (record.peer_id, remote))
            .collect();
        Ok(self.remotes.by_peer.get(peer).cloned())
    }

    /// The remote for `peer`, made if there is none (up to the settings' `max_remotes`), with
    /// `hints` added to its record.
    pub(in crate::kernel) fn remote_for_peer(
        &mut self,
        peer: &str,
        hints: &[String],
    ) -> Result<String, KernelError> {
        if let Some(remote) = self.remote_of_peer(peer)? {
            if !hints.is_empty() {
                let mut record = self.state.remote(&remote)?.unwrap_or_else(|| {
                    crate::kernel::state::RemoteRecord {
                        peer_id: peer.to_string(),
                        hints: Vec::new(),
                    }
                });
                let before = record.hints.clone();
                merge_hints(&mut record.hints, hints);
                if record.hints != before {
                    self.state.put_remote(&remote, &record)?;
                }
            }
            return Ok(remote);
        }
        if Some(peer) == self.remotes.own_peer().as_deref() {
            return Err(KernelError::Refused(
                "this kernel cannot be a remote of itself".into(),
            ));
        }
        let max = self.remotes.settings.max_remotes;
        if self.remotes.by_peer.len() >= max {
            return Err(KernelError::Refused(format!(
                "this kernel keeps at most {max} remotes (remote-max-remotes); peer {peer} refused"
            )));
        }
        let mut kept = Vec::new();
        merge_hints(&mut kept, hints);
        let remote = self.state.create_remote(peer, &kept)?;
        self.remotes
            .by_peer
            .insert(peer.to_string(), remote.clone());
        Ok(remote)
    }

    /// The peer remote `remote` stands for.
    pub(in crate::kernel) fn peer_of_remote(
        &self,
        remote: &str,
    ) -> Result<Option<String>, KernelError> {
        Ok(self.state.remote(remote)?.map(|record| record.peer_id))
    }

    /// The incarnation `peer` announced: recorded; if it differs from the one on file the
    /// peer lost its state, and so does what it stood for here (see `peer_restarted`).
    fn peer_incarnation(&mut self, peer: &str, incarnation: &str) -> Result<bool, KernelError> {
        let remote = self.remote_for_peer(peer, &[])?;
        let known = self.state.peer_incarnation(peer)?;
        if known.as_deref() != Some(incarnation) {
            self.state.set_peer_incarnation(peer, incarnation)?;
        }
        let restarted = known.is_some_and(|k| k != incarnation);
        if restarted {
            tracing::info!("remote: {peer} ({remote}) restarted with a new incarnation");
            self.remotes
                .note_error(peer, "the peer restarted (new incarnation)");
            self.peer_restarted(&remote, peer)?;
        }
        Ok(restarted)
    }
}

/// Adds `new` hints to `kept` (once each), keeping the newest [`HINTS_KEPT`].
fn merge_hints(kept: &mut Vec<String>, new: &[String]) {
    for hint in new {
        if !kept.contains(hint) {
            kept.push(hint.clone());
        }
    }
    if kept.len() > HINTS_KEPT {
        kept.drain(..kept.len() - HINTS_KEPT);
    }
}
