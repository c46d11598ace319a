//! Invoking a capability by its URL (the `invokeCapability` extension, which the least-authority
//! socket serves): redeem, send, and hand back every reference in the result as a new URL, so a
//! holder of URLs only ever gets more URLs — never a kref it could not use anyway.

use super::awaiting::reply_on_settlement;
use super::capabilities::IssueOptions;
use super::error::KernelError;
use super::identity::Redeemable;
use super::machine::Kernel;
use super::outbox::Reply;
use crate::capdata::{CapData, encode_json, error_message};
use serde_json::{Value, json};

impl Kernel {
    /// Sends `method(args)` to the object `url` names; replies with the result CapData whose
    /// slots are new URLs, labelled after this capability and expiring with it.
    pub(super) fn invoke_capability(
        &mut self,
        url: Redeemable,
        method: String,
        args: Vec<Value>,
        reply: Reply,
    ) {
        let redeemed = self.atomically(|k| {
            let capability = k.redeem_capability(url)?;
            if k.state.is_system_only(&capability.kref)? {
                return Err(KernelError::Refused(format!(
                    "Capability {} names a system-only service",
                    capability.id
                )));
            }
            Ok(capability)
        });
        let capability = match redeemed {
            Ok(capability) => capability,
            Err(e) => return self.outbox.reply(reply, Err(e)),
        };
        let methargs = encode_json(&json!([method, args]));
        let options = IssueOptions {
            label: Some(format!("returned by {} {method}", capability.id)),
            expires: capability.expires,
        };
        let root = capability.root.clone().unwrap_or(capability.id.clone());
        match self.send_held(capability.kref, methargs) {
            Ok(kpid) => {
                let waiter =
                    reply_on_settlement(reply, move |kernel, settlement| match settlement {
                        Ok(value) => kernel.slots_to_urls(value, &root, options),
                        Err(reason) => Err(KernelError::Refused(
                            error_message(&reason).unwrap_or(reason.body),
                        )),
                    });
                self.wait_held(&kpid, waiter);
            }
            Err(e) => self.outbox.reply(reply, Err(e)),
        }
    }

    /// The result with each slot replaced by a new URL for it, minted on `root`'s budget.
    fn slots_to_urls(
        &mut self,
        value: CapData,
        root: &str,
        options: IssueOptions,
    ) -> Result<Value, KernelError> {
        let issued = self.atomically(|k| {
            k.draw_on(root, value.slots.len())?;
            let mut urls = Vec::new();
            for slot in &value.slots {
                let issued = k.issue_on_budget(slot, options.clone(), Some(root.to_string()))?;
                urls.push(issued.url);
            }
            Ok(urls)
        });
        issued.map(|slots| json!({"body": value.body, "slots": slots}))
    }

    /// Counts `n` new capabilities against `root`'s budget: every URL handed back by
    /// invocations through one issued capability, directly or through URLs it handed back,
    /// draws on that capability's, so a holder cannot grow the kernel's records without bound.
    fn draw_on(&mut self, root: &str, n: usize) -> Result<(), KernelError> {
        let Some(mut record) = self.state.capability(root)? else {
            return Err(KernelError::Refused(format!(
                "Capability {root} no longer exists"
            )));
        };
        let minted = record.minted + n as u64;
        if minted > MINT_LIMIT {
            return Err(KernelError::Refused(format!(
                "Capability {root} has handed back its limit of {MINT_LIMIT} capabilities; \
                 ask its issuer for a new one"
            )));
        }
        record.minted = minted;
        self.state.put_capability(&record)?;
        Ok(())
    }
}

/// How many capabilities invocations may hand back on one issued capability's budget.
pub(super) const MINT_LIMIT: u64 = 10_000;
