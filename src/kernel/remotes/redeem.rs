//! OCAP URL redemption across kernels (remote-comms.md §5.2), both sides.
//!
//! Asking: the kernel finds (or makes) the remote for the URL's host, records a redemption
//! (`remoteRedemption.<kpid>`: the promise it will settle is the reply key, so keys never repeat,
//! even across restarts) and sends `redeemURL [url, kpid]`. The promise is an RPC caller's (the
//! object is then pinned: a kref handed out holds no reference) or a vat's
//! `ocapURLRedemptionService.redeem` result, which stays unresolved, decided by the kernel,
//! until the answer arrives or 4 acknowledgement timeouts (40 s) pass.
//!
//! Answering: the kernel redeems the URL as it redeems its own (`redeem_capability`: the
//! capability records' revocation, expiry and last use apply) and answers
//! `[true, key, ro+N]` or `[false, key, why]` in the same transaction.

use super::super::clock::now_ms;
use super::super::error::KernelError;
use super::super::identity::Redeemable;
use super::super::ids::is_promise;
use super::super::machine::Kernel;
use super::super::ocap_url::{self, Parts};
use super::super::state::{PromiseState, Redemption};
use super::super::translate::Untranslatable;
use super::translate::{Export, wire};
use super::{OPENINGS_BURST, OPENINGS_PER_SEC};
use crate::capdata::{CapData, Passable, encode, kernel_error};
use crate::remote::driver::SendFailed;
use crate::remote::node::NetCommand;
use crate::remote::wire::Body;
use std::time::{Duration, Instant};

/// Redemptions awaiting answers at most (each holds a promise and a record).
const MAX_REDEMPTIONS: usize = 1024;
/// Longest refusal text from a peer kept in a rejection.
const REASON_CHARS: usize = 1000;

/// A plain `Error` with `message`, as the reference rejects a failed redemption.
fn error(message: &str) -> CapData {
    encode(&Passable::Error {
        name: "Error".into(),
        message: message.chars().take(REASON_CHARS).collect(),
        error_id: None,
    })
}

impl Kernel {
    /// The redemption timeout: 4 acknowledgement timeouts, as the reference's.
    fn redemption_timeout(&self) -> u64 {
        let ack = u64::try_from(self.remotes.settings.ack_timeout.as_millis()).unwrap_or(u64::MAX);
        ack.saturating_mul(4)
    }

    /// Starts redeeming another kernel's URL for promise `kpid` (decided by the kernel, held
    /// by the caller): the remote is made from the URL's host and hints, the redemption
    /// recorded, and `redeemURL` sent once the transaction commits.
    pub(in crate::kernel) fn start_redemption(
        &mut self,
        parts: &Parts,
        kpid: &str,
        pin: bool,
    ) -> Result<(), KernelError> {
        if !self.remotes.is_running() {
            return Err(KernelError::Refused("Remote comms not initialized".into()));
        }
        if self.state.redemptions()?.len() >= MAX_REDEMPTIONS {
            return Err(KernelError::Refused(format!(
                "{MAX_REDEMPTIONS} URL redemptions already await answers; try again later"
            )));
        }
        let peer = parts.host.clone();
        crate::remote::node::parse_peer_id(&peer)
            .map_err(|e| KernelError::Refused(format!("bad ocap URL: {e}")))?;
        let (direct, relays) = self.sort_hints(&peer, &parts.hints);
        let remote = self.remote_for_peer(&peer, &parts.hints)?;
        self.learn_relays(&relays)?;
        let deadline = now_ms().saturating_add(self.redemption_timeout());
        self.state.put_redemption(
            kpid,
            &Redemption {
                remote: remote.clone(),
                deadline,
                pin,
            },
        )?;
        let body = Body::RedeemUrl {
            url: ocap_url::format(&parts.oid, &parts.host, &parts.hints),
            reply_key: kpid.to_string(),
        };
        match self.with_driver(|driver, host| driver.send(host, &peer, body))? {
            Ok(_) => {}
            Err(SendFailed::Refused(why)) => return Err(KernelError::Refused(why.to_string())),
            Err(SendFailed::Host(e)) => return Err(e),
        }
        let mut hints = direct;
        hints.extend(relays);
        if !hints.is_empty() {
            self.remotes.command(NetCommand::Hints { peer, hints });
        }
        self.arm_redemption_alarm(Some(deadline));
        Ok(())
    }

    /// `ocapURLRedemptionService.redeem(url)` of another kernel's URL: the result, decided by
    /// the kernel, settles when the peer answers (or the redemption fails or times out).
    pub(in crate::kernel) fn redeem_remote_for_vat(
        &mut self,
        parts: &Parts,
        result: Option<&str>,
    ) -> Result<(), KernelError> {
        // A send-only redemption would hand the object to nobody.
        let Some(kpid) = result else { return Ok(()) };
        self.state.set_decider(kpid, Some("kernel"))?;
        match self.nested(|k| k.start_redemption(parts, kpid, false)) {
            Ok(()) => Ok(()),
            Err(KernelError::Refused(why)) => {
                self.settle(kpid, true, &kernel_error("DELIVERY_FAILED", &why))
            }
            Err(e) => Err(e),
        }
    }

    /// Hints whose last `/p2p/` is the host are direct addresses; the others are relays.
    fn sort_hints(&self, peer: &str, hints: &[String]) -> (Vec<String>, Vec<String>) {
        hints
            .iter()
            .cloned()
            .partition(|hint| hint.rsplit("/p2p/").next() == Some(peer))
    }

    /// Answers a peer's `redeemURL`: `[true, key, ro+N]` (the ref in the peer's frame) or
    /// `[false, key, why]`.
    pub(super) fn answer_redemption(
        &mut self,
        remote: &str,
        url: &str,
        reply_key: String,
    ) -> Result<Body, KernelError> {
        let refusal = |reply_key: String, why: String| Body::RedeemUrlReply {
            ok: false,
            reply_key,
            value: why,
        };
        if !self.take_opening() {
            return Ok(refusal(
                reply_key,
                "Too many URL redemptions at once; try again later".into(),
            ));
        }
        match self.nested(|k| k.redeem_for_remote(remote, url)) {
            Ok(eref) => Ok(Body::RedeemUrlReply {
                ok: true,
                reply_key,
                value: wire(&eref)?,
            }),
            Err(KernelError::Refused(why)) => {
                tracing::info!("remote: redemption by {remote} refused: {why}");
                Ok(refusal(reply_key, why))
            }
            Err(e) => Err(e),
        }
    }

    /// The ref (this kernel's frame) of what `url` names, exported to `remote`.
    fn redeem_for_remote(&mut self, remote: &str, url: &str) -> Result<String, KernelError> {
        let capability = match self.identity.open(Redeemable::Unopened(url.to_string())) {
            Redeemable::Elsewhere(_) => {
                return Err(KernelError::Refused(
                    "ocapURL from a host that's not me".into(),
                ));
            }
            opened => self.redeem_capability(opened)?,
        };
        let kref = capability.kref;
        if self.state.is_system_only(&kref)? {
            return Err(KernelError::Refused(format!(
                "Capability {} names a system-only service",
                capability.id
            )));
        }
        let exists = if is_promise(&kref) {
            self.state.promise_state(&kref)?.is_some()
        } else {
            self.state.object_exists(&kref)?
        };
        if !exists {
            return Err(KernelError::Refused(
                "ocapURL has bad object reference".into(),
            ));
        }
        self.kernel_to_remote(remote, &kref, Export::Subscribe)
    }

    /// Takes one URL opening from the token bucket; false when it is empty.
    fn take_opening(&mut self) -> bool {
        let (tokens, last) = &mut self.remotes.openings;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * OPENINGS_PER_SEC)
            .min(OPENINGS_BURST);
        *last = now;
        if *tokens < 1.0 {
            return false;
        }
        *tokens -= 1.0;
        true
    }

    /// The peer answered redemption `key`: its promise is settled with the object (a new
    /// kref owned by the remote, or one this kernel already knows) or the refusal.
    pub(super) fn redemption_answered(
        &mut self,
        remote: &str,
        ok: bool,
        key: &str,
        value: &str,
    ) -> Result<(), Untranslatable> {
        let record = match is_promise(key) {
            true => self.state.redemption(key)?,
            false => None,
        };
        let Some(record) = record else {
            return Err(Untranslatable::Illegal(format!(
                "an answer to redemption {key:?}, which nothing awaits"
            )));
        };
        if record.remote != remote {
            return Err(Untranslatable::Illegal(format!(
                "an answer to redemption {key}, which was asked of {}",
                record.remote
            )));
        }
        self.state.delete_redemption(key)?;
        if !matches!(
            self.state.promise_state(key)?,
            Some(PromiseState::Unresolved)
        ) {
            return Ok(());
        }
        if !ok {
            self.settle(key, true, &error(value))?;
            return Ok(());
        }
        let kref = self.remote_to_kernel(remote, value)?;
        let value = if is_promise(&kref) {
            Passable::Promise { slot: kref }
        } else {
            if record.pin {
                self.keep_for_outside(std::slice::from_ref(&kref))?;
            }
            Passable::Remotable {
                slot: kref,
                iface: Some("Alleged: undefined".into()),
            }
        };
        self.settle(key, false, &encode(&value))?;
        Ok(())
    }

    /// Pins the remotes' objects among `krefs`, which are handed outside the kernel (an RPC
    /// result, an issued URL): nothing here holds them for the caller, so without a pin they
    /// would be dropped at once and the kref would be dead when used. (A vat's objects need
    /// no pin: their owner keeps them.)
    pub(in crate::kernel) fn keep_for_outside(
        &mut self,
        krefs: &[String],
    ) -> Result<(), KernelError> {
        for kref in krefs {
            let remote_owned = !is_promise(kref)
                && self
                    .state
                    .owner(kref)?
                    .is_some_and(|o| super::super::ids::is_remote_id(&o));
            if remote_owned {
                self.state.pin_once(kref)?;
            }
        }
        Ok(())
    }

    /// Fails every redemption asked of `remote`, with `why`.
    pub(super) fn fail_redemptions(&mut self, remote: &str, why: &str) -> Result<(), KernelError> {
        for (kpid, record) in self.state.redemptions()? {
            if record.remote == remote {
                self.state.delete_redemption(&kpid)?;
                self.settle_redemption_failure(&kpid, why)?;
            }
        }
        Ok(())
    }

    fn settle_redemption_failure(&mut self, kpid: &str, why: &str) -> Result<(), KernelError> {
        if matches!(
            self.state.promise_state(kpid)?,
            Some(PromiseState::Unresolved)
        ) {
            self.settle(kpid, true, &error(why))?;
        }
        Ok(())
    }

    /// The node's alarm: redemptions past their deadline fail.
    pub(super) fn redemption_alarm(&mut self) {
        self.remotes.alarm = None;
        let timeout = self.redemption_timeout();
        let result = self.atomically(|k| {
            let now = now_ms();
            for (kpid, record) in k.state.redemptions()? {
                if record.deadline <= now {
                    k.state.delete_redemption(&kpid)?;
                    let why = format!("URL redemption timed out after {timeout}ms");
                    k.settle_redemption_failure(&kpid, &why)?;
                }
            }
            k.collect_garbage()
        });
        if let Err(e) = result {
            tracing::warn!("remote: failing timed-out redemptions: {e}");
        }
        self.arm_redemption_alarm(None);
    }

    /// Sets the node's alarm to the earliest redemption deadline (with `soonest` one about to
    /// be recorded).
    pub(super) fn arm_redemption_alarm(&mut self, soonest: Option<u64>) {
        let stored = match self.state.redemptions() {
            Ok(all) => all.into_iter().map(|(_, r)| r.deadline).min(),
            Err(e) => {
                tracing::warn!("remote: reading redemptions: {e}");
                None
            }
        };
        let Some(due) = stored.into_iter().chain(soonest).min() else {
            return;
        };
        if self.remotes.alarm.is_some_and(|set| set <= due) {
            return;
        }
        self.remotes.alarm = Some(due);
        let wait = Duration::from_millis(due.saturating_sub(now_ms()));
        self.remotes.command(NetCommand::AlarmAt {
            at: Instant::now() + wait,
        });
    }
}
