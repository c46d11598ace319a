//! The kernel-control operations behind the RPC methods (spec §2), run between cranks.

use super::awaiting::reply_on_settlement;
use super::capabilities::IssueOptions;
use super::error::KernelError;
use super::identity::{Identity, Redeemable};
use super::ids::is_promise;
use super::launch::LaunchPlan;
use super::machine::Kernel;
use super::outbox::Reply;
use super::state::RunItem;
use crate::capdata::{CapData, encode_json, error_message};
use crate::vat::Message;
use serde_json::{Value, json};

/// An RPC method's request to the kernel.
#[derive(Debug, Clone)]
pub enum Call {
    /// `launchSubcluster`.
    Launch(LaunchPlan),
    /// `queueMessage [target, method, args]`.
    QueueMessage {
        /// The target kref.
        target: String,
        /// The method name.
        method: String,
        /// The arguments, plain JSON.
        args: Vec<Value>,
    },
    /// `pingVat {id}`.
    PingVat(String),
    /// `restartVat {id}`.
    RestartVat(String),
    /// `terminateVat {id}`.
    TerminateVat(String),
    /// `terminateSubcluster {id}`.
    TerminateSubcluster(String),
    /// `terminateAllVats []`.
    TerminateAllVats,
    /// `collectGarbage []`.
    CollectGarbage,
    /// `clearState []`.
    ClearState,
    /// `revoke {kref}`.
    Revoke(String),
    /// `isRevoked {kref}`.
    IsRevoked(String),
    /// `issueOcapURL {kref}`: a new URL (recorded without a label).
    IssueOcapUrl(String),
    /// `redeemOcapURL {url}`: the kref of a URL this kernel issued.
    RedeemOcapUrl(Redeemable),
    /// `issueCapability` (extension): a new URL with a label and expiry, and its record.
    IssueCapability {
        /// The object.
        kref: String,
        /// Label and expiry.
        options: IssueOptions,
    },
    /// `listCapabilities` (extension): every capability record.
    ListCapabilities,
    /// `revokeCapability {id}` (extension): revoke one URL.
    RevokeCapability(String),
    /// `invokeCapability {url, method, args}` (extension): send to the object a URL names;
    /// references in the result come back as new URLs.
    InvokeCapability {
        /// The capability.
        url: Redeemable,
        /// The method name.
        method: String,
        /// The arguments, plain JSON.
        args: Vec<Value>,
    },
    /// `initRemoteComms {…}`: start remote comms (and keep doing so at every start).
    #[cfg(feature = "remote")]
    InitRemoteComms(super::remotes::RemoteOptions),
    /// `registerLocationHints {peerId, hints}`.
    #[cfg(feature = "remote")]
    RegisterLocationHints {
        /// The peer.
        peer_id: String,
        /// Multiaddrs where it may be found.
        hints: Vec<String>,
    },
    /// `listPeers []` (extension): every remote, its connection, counts and recent errors.
    #[cfg(feature = "remote")]
    ListPeers,
}

impl Call {
    /// Whether the call carries a URL still to be opened (see [`Call::open_urls`]).
    pub fn has_unopened_url(&self) -> bool {
        matches!(
            self,
            Call::RedeemOcapUrl(Redeemable::Unopened(_))
                | Call::InvokeCapability {
                    url: Redeemable::Unopened(_),
                    ..
                }
        )
    }

    /// The call with its URL opened by `identity`: costly (key derivation), so the daemon does
    /// it off the kernel thread.
    pub fn open_urls(self, identity: &Identity) -> Call {
        match self {
            Call::RedeemOcapUrl(url) => Call::RedeemOcapUrl(identity.open(url)),
            Call::InvokeCapability { url, method, args } => Call::InvokeCapability {
                url: identity.open(url),
                method,
                args,
            },
            call => call,
        }
    }
}

impl Kernel {
    /// Runs one call. The reply is released only after the commit that holds its effects; a
    /// failure of the store is an answer too (the caller hears the real error).
    pub fn call(&mut self, call: Call, reply: Reply) {
        match call {
            Call::Launch(plan) => self.launch_subcluster(plan, reply),
            Call::QueueMessage {
                target,
                method,
                args,
            } => self.queue_message(target, method, args, reply),
            Call::InvokeCapability { url, method, args } => {
                self.invoke_capability(url, method, args, reply)
            }
            #[cfg(feature = "remote")]
            Call::RedeemOcapUrl(url) => match self.identity.open(url) {
                Redeemable::Elsewhere(parts) => self.redeem_remote_for_caller(parts, reply),
                opened => {
                    let answer = self.atomically(|k| k.simple_call(Call::RedeemOcapUrl(opened)));
                    self.outbox.reply(reply, answer);
                }
            },
            call => {
                let answer = self.atomically(|k| k.simple_call(call));
                self.outbox.reply(reply, answer);
            }
        }
    }

    fn simple_call(&mut self, call: Call) -> Result<Value, KernelError> {
        match call {
            Call::PingVat(vat) => {
                self.live_vat(&vat)?;
                self.ensure_started(&vat).map_err(start_refusal)?;
                Ok(json!("pong"))
            }
            Call::RestartVat(vat) => {
                self.live_vat(&vat)?;
                self.restart_vat(&vat).map_err(start_refusal)?;
                Ok(Value::Null)
            }
            Call::TerminateVat(vat) => {
                self.live_vat(&vat)?;
                self.terminate_vat(&vat, "Vat was deleted.")?;
                Ok(Value::Null)
            }
            Call::TerminateSubcluster(id) => {
                if self.state.subcluster(&id)?.is_none() {
                    return Err(KernelError::Refused("Subcluster does not exist.".into()));
                }
                self.terminate_subcluster(&id, "Subcluster was terminated.")?;
                Ok(Value::Null)
            }
            Call::TerminateAllVats => {
                for vat in self.state.live_vats()?.iter().rev() {
                    self.terminate_vat(vat, "All vats were terminated.")?;
                }
                Ok(Value::Null)
            }
            Call::CollectGarbage => {
                self.collect_garbage()?;
                Ok(Value::Null)
            }
            Call::ClearState => {
                self.io.close_all();
                self.warehouse.clear();
                self.drop_waiters("The kernel's state was cleared; this result will never come");
                self.state.reset()?;
                #[cfg(feature = "remote")]
                self.remotes_cleared();
                Ok(Value::Null)
            }
            Call::Revoke(kref) => {
                if is_promise(&kref) {
                    return Err(KernelError::Refused(format!(
                        "cannot revoke promise {kref}"
                    )));
                }
                // The reference marks any name; a mark on a kref not yet allocated would revoke
                // the object that later gets it, and breaks fsck until then.
                if !self.state.object_exists(&kref)? {
                    return Err(KernelError::Refused(format!(
                        "Object {kref} does not exist."
                    )));
                }
                self.state.revoke(&kref)?;
                Ok(Value::Null)
            }
            Call::IsRevoked(kref) => Ok(json!(self.state.is_revoked(&kref)?)),
            Call::IssueOcapUrl(kref) => {
                let issued = self.issue_capability(&kref, IssueOptions::default())?;
                Ok(json!(issued.url))
            }
            Call::RedeemOcapUrl(url) => Ok(json!(self.redeem_capability(url)?.kref)),
            Call::IssueCapability { kref, options } => {
                let issued = self.issue_capability(&kref, options)?;
                let mut record = serde_json::to_value(issued.capability).expect("serializes");
                record["url"] = json!(issued.url);
                Ok(record)
            }
            Call::ListCapabilities => {
                Ok(serde_json::to_value(self.state.capabilities()?).expect("serializes"))
            }
            Call::RevokeCapability(id) => {
                self.revoke_capability(&id)?;
                Ok(Value::Null)
            }
            #[cfg(feature = "remote")]
            Call::InitRemoteComms(options) => self.init_remote_comms(options),
            #[cfg(feature = "remote")]
            Call::RegisterLocationHints { peer_id, hints } => {
                self.register_location_hints(&peer_id, hints)
            }
            #[cfg(feature = "remote")]
            Call::ListPeers => self.list_peers(),
            Call::Launch(_) | Call::QueueMessage { .. } | Call::InvokeCapability { .. } => {
                unreachable!("handled in Kernel::call")
            }
        }
    }

    fn live_vat(&self, vat: &str) -> Result<(), KernelError> {
        match self.state.vat_config(vat)? {
            Some(_) => Ok(()),
            None => Err(KernelError::Refused("Vat does not exist.".into())),
        }
    }

    /// Queues `method(args)` to `target` from the kernel; replies when the result settles.
    /// The system-only kernel facet cannot be reached this way (spec §14.16).
    fn queue_message(&mut self, target: String, method: String, args: Vec<Value>, reply: Reply) {
        match self.state.is_system_only(&target) {
            Ok(false) => {}
            Ok(true) => {
                let refusal = KernelError::Refused(format!(
                    "{target} is a system-only service and cannot be sent messages from outside"
                ));
                return self.outbox.reply(reply, Err(refusal));
            }
            Err(e) => return self.outbox.reply(reply, Err(e)),
        }
        let methargs = encode_json(&json!([method, args]));
        self.send_from_kernel(target, methargs, reply)
    }

    /// Queues a message from the kernel to `target`; replies with the result CapData, or the
    /// rejection's message, once the result settles.
    pub(super) fn send_from_kernel(&mut self, target: String, methargs: CapData, reply: Reply) {
        match self.send_held(target, methargs) {
            Ok(kpid) => {
                let waiter = reply_on_settlement(reply, |_kernel, settlement| match settlement {
                    Ok(value) => {
                        // The caller may use the krefs of the result at any time.
                        #[cfg(feature = "remote")]
                        _kernel.atomically(|k| k.keep_for_outside(&value.slots))?;
                        Ok(serde_json::to_value(value).expect("serializes"))
                    }
                    Err(reason) => Err(KernelError::Refused(
                        error_message(&reason).unwrap_or(reason.body),
                    )),
                });
                self.wait_held(&kpid, waiter);
            }
            Err(e) => self.outbox.reply(reply, Err(e)),
        }
    }

    /// Redeems another kernel's URL for an RPC caller: replies with the kref once the peer
    /// answers (or the redemption fails or times out).
    #[cfg(feature = "remote")]
    fn redeem_remote_for_caller(&mut self, parts: super::ocap_url::Parts, reply: Reply) {
        let started = self.atomically(|k| {
            let kpid = k.state.create_promise(Some("kernel"))?;
            k.state.hold_for_waiter(&kpid)?;
            k.start_redemption(&parts, &kpid, true)?;
            Ok(kpid)
        });
        match started {
            Ok(kpid) => {
                let waiter = reply_on_settlement(reply, |_, settlement| match settlement {
                    Ok(value) => match super::router::single_reference(&value) {
                        Some(kref) => Ok(json!(kref)),
                        None => Err(KernelError::Refused(format!(
                            "the redemption gave no reference: {}",
                            value.body
                        ))),
                    },
                    Err(reason) => Err(KernelError::Refused(
                        error_message(&reason).unwrap_or(reason.body),
                    )),
                });
                self.wait_held(&kpid, waiter);
            }
            Err(e) => self.outbox.reply(reply, Err(e)),
        }
    }

    /// Queues a message from the kernel itself to `target` with a fresh result promise, held
    /// for the waiter that [`Kernel::wait_held`] then registers. Returns the promise.
    pub(super) fn send_held(
        &mut self,
        target: String,
        methargs: CapData,
    ) -> Result<String, KernelError> {
        self.atomically(|k| {
            let kpid = k.state.create_promise(None)?;
            let message = Message {
                methargs,
                result: Some(kpid.clone()),
            };
            k.state.push_run(&RunItem::Send { target, message })?;
            k.state.hold_for_waiter(&kpid)?;
            Ok(kpid)
        })
    }
}

fn start_refusal(e: super::lifecycle::StartError) -> KernelError {
    match e {
        super::lifecycle::StartError::Kernel(e) => e,
        super::lifecycle::StartError::Vat(why) => KernelError::Refused(why),
    }
}
