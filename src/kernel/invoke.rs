//! Invoking a capability by its URL (the `invokeCapability` extension, which the least-authority
//! socket serves): redeem, send, and hand back every reference in the result as a new URL, so a
//! holder of URLs only ever gets more URLs — never a kref it could not use anyway.

use super::KernelError;
use super::calls::Reply;
use super::capabilities::IssueOptions;
use super::core::{Kernel, Waiter};
use crate::capdata::{CapData, encode_json, error_message};
use serde_json::{Value, json};

impl Kernel {
    /// Sends `method(args)` to the object `url` names; replies with the result CapData whose
    /// slots are new URLs, labelled after this capability and expiring with it.
    pub(super) fn invoke_capability(
        &mut self,
        url: &str,
        method: String,
        args: Vec<Value>,
        reply: Reply,
    ) -> Result<(), KernelError> {
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
            Err(KernelError::Refused(why)) => {
                self.after_commit.push(Box::new(move || reply(Err(why))));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let methargs = encode_json(&json!([method, args]));
        let options = IssueOptions {
            label: Some(format!("returned by {} {method}", capability.id)),
            expires: capability.expires,
        };
        let root = capability.root.clone().unwrap_or(capability.id.clone());
        let waiter: Waiter = Box::new(move |kernel, settlement| {
            let answer = match settlement {
                Ok(value) => kernel.slots_to_urls(value, &root, options),
                Err(reason) => Err(error_message(&reason).unwrap_or(reason.body)),
            };
            kernel.after_commit.push(Box::new(move || reply(answer)));
        });
        self.send_then(capability.kref, methargs, waiter)?;
        Ok(())
    }

    /// The result with each slot replaced by a new URL for it, minted on `root`'s budget.
    fn slots_to_urls(
        &mut self,
        value: CapData,
        root: &str,
        options: IssueOptions,
    ) -> Result<Value, String> {
        let issued = self.atomically(|k| {
            k.draw_on(root, value.slots.len())?;
            let mut urls = Vec::new();
            for slot in &value.slots {
                let issued = k.issue_on_budget(slot, options.clone(), Some(root.to_string()))?;
                urls.push(issued.url);
            }
            Ok(urls)
        });
        match issued {
            Ok(slots) => Ok(json!({"body": value.body, "slots": slots})),
            Err(e) => Err(e.to_string()),
        }
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
