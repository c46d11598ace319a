//! Where a `send` goes (spec §4.6.1): to a vat, to a kernel service, onto a promise's queue, or
//! nowhere ("splat": its result is rejected).

use super::error::KernelError;
use super::ids::is_promise;
use super::machine::Kernel;
use super::state::PromiseState;
use crate::capdata::{CapData, Passable, decode, kernel_error};
use std::collections::HashSet;

/// The routing decision for a message to `target`.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Deliver to this vat, which owns this object.
    Vat(String, String),
    /// Send to this remote, which owns this object.
    #[cfg(feature = "remote")]
    Remote(String, String),
    /// Invoke this kernel service object.
    Kernel(String),
    /// Wait on this unresolved promise.
    Queue(String),
    /// Reject the message's result with this reason.
    Splat(CapData),
}

fn splat(code: &str, detail: &str) -> Route {
    Route::Splat(kernel_error(code, detail))
}

impl Kernel {
    /// Decides where a message to `target` goes now.
    pub(super) fn route(&self, target: &str) -> Result<Route, KernelError> {
        if is_promise(target) {
            return self.route_promise(target);
        }
        if self.state.is_revoked(target)? {
            return Ok(splat("OBJECT_REVOKED", "Target object has been revoked"));
        }
        match self.state.owner(target)? {
            None => Ok(splat(
                "OBJECT_DELETED",
                "Target object has no owner; it may have been deleted",
            )),
            Some(owner) if owner == "kernel" => Ok(Route::Kernel(target.to_string())),
            #[cfg(feature = "remote")]
            Some(remote) if super::ids::is_remote_id(&remote) => {
                match self.state.remote(&remote)? {
                    Some(_) => Ok(Route::Remote(remote, target.to_string())),
                    None => Ok(splat(
                        "ENDPOINT_UNREACHABLE",
                        "Target endpoint is unreachable (terminated or disconnected)",
                    )),
                }
            }
            Some(vat) if self.state.vat_config(&vat)?.is_none() => Ok(splat(
                "ENDPOINT_UNREACHABLE",
                "Target endpoint is unreachable (terminated or disconnected)",
            )),
            Some(vat) => Ok(Route::Vat(vat, target.to_string())),
        }
    }

    /// Where a message to `kpid` goes: following fulfilled promises to what they name, one
    /// step at a time (a chain may be long), until an object, an unresolved promise, a rejection
    /// or a cycle, which no message can ever get through.
    fn route_promise(&self, kpid: &str) -> Result<Route, KernelError> {
        let mut seen = HashSet::new();
        let mut next = kpid.to_string();
        loop {
            if !seen.insert(next.clone()) {
                return Ok(splat(
                    "BAD_PROMISE_RESOLUTION",
                    "Promise resolutions form a cycle; no object reference is ever reached",
                ));
            }
            let value = match self.state.promise_state(&next)? {
                None => {
                    return Ok(splat(
                        "OBJECT_DELETED",
                        "Target object has no owner; it may have been deleted",
                    ));
                }
                Some(PromiseState::Unresolved) => return Ok(Route::Queue(next)),
                Some(PromiseState::Rejected(reason)) => return Ok(Route::Splat(reason)),
                Some(PromiseState::Fulfilled(value)) => value,
            };
            match single_reference(&value) {
                Some(target) if is_promise(&target) => next = target,
                Some(target) => return self.route(&target),
                None => {
                    return Ok(splat(
                        "BAD_PROMISE_RESOLUTION",
                        "Promise fulfilled but did not contain an object reference",
                    ));
                }
            }
        }
    }
}

/// The one ref a value consists of, if it is exactly a presence or a promise.
pub(super) fn single_reference(value: &CapData) -> Option<String> {
    match decode(value).ok()? {
        Passable::Remotable { slot, .. } | Passable::Promise { slot } => Some(slot),
        _ => None,
    }
}
