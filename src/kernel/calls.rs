//! The kernel-control operations behind the RPC methods (spec §2), run between cranks.

use super::KernelError;
use super::capabilities::IssueOptions;
use super::core::{Kernel, Waiter};
use super::ids::is_promise;
use super::launch::LaunchPlan;
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
    RedeemOcapUrl(String),
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
        url: String,
        /// The method name.
        method: String,
        /// The arguments, plain JSON.
        args: Vec<Value>,
    },
}

/// Where a call's answer goes: the RPC result, or the error message.
pub type Reply = Box<dyn FnOnce(Result<Value, String>) + Send>;

impl Kernel {
    /// Runs one call. The reply is released only after the commit that holds its effects.
    pub fn call(&mut self, call: Call, reply: Reply) -> Result<(), KernelError> {
        if let Call::Launch(plan) = call {
            return self.launch_subcluster(plan, reply);
        }
        if let Call::QueueMessage {
            target,
            method,
            args,
        } = call
        {
            return self.queue_message(target, method, args, reply);
        }
        if let Call::InvokeCapability { url, method, args } = call {
            return self.invoke_capability(&url, method, args, reply);
        }
        let answer = self.atomically(|k| k.simple_call(call));
        let answer = match answer {
            Ok(value) => Ok(value),
            Err(KernelError::Refused(why)) => Err(why),
            Err(e) => return Err(e),
        };
        self.after_commit.push(Box::new(move || reply(answer)));
        Ok(())
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
                self.running.clear();
                self.deliveries_since_reap.clear();
                self.budgets.clear();
                self.state.reset()?;
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
            Call::RedeemOcapUrl(url) => Ok(json!(self.redeem_capability(&url)?.kref)),
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
    fn queue_message(
        &mut self,
        target: String,
        method: String,
        args: Vec<Value>,
        reply: Reply,
    ) -> Result<(), KernelError> {
        if self.state.is_system_only(&target)? {
            let refusal = Err(format!(
                "{target} is a system-only service and cannot be sent messages from outside"
            ));
            self.after_commit.push(Box::new(move || reply(refusal)));
            return Ok(());
        }
        let methargs = encode_json(&json!([method, args]));
        self.send_from_kernel(target, methargs, reply)
    }

    /// Like [`Kernel::send_then`], replying with the result CapData or the rejection's message.
    pub(super) fn send_from_kernel(
        &mut self,
        target: String,
        methargs: CapData,
        reply: Reply,
    ) -> Result<(), KernelError> {
        let waiter: Waiter = Box::new(move |kernel, settlement| {
            let answer = match settlement {
                Ok(value) => Ok(serde_json::to_value(value).expect("serializes")),
                Err(reason) => Err(error_message(&reason).unwrap_or(reason.body)),
            };
            kernel.after_commit.push(Box::new(move || reply(answer)));
        });
        self.send_then(target, methargs, waiter)?;
        Ok(())
    }

    /// Queues a message from the kernel itself to `target` with a fresh result promise, and
    /// calls `waiter` once it settles. Returns the promise.
    pub(super) fn send_then(
        &mut self,
        target: String,
        methargs: CapData,
        waiter: Waiter,
    ) -> Result<String, KernelError> {
        self.atomically(|k| {
            let kpid = k.state.create_promise(None)?;
            let message = Message {
                methargs,
                result: Some(kpid.clone()),
            };
            k.state.push_run(&RunItem::Send { target, message })?;
            k.await_promise(&kpid, waiter)?;
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
