//! Kernel services (spec §2.5): objects owned by the kernel itself. A message to one is handled
//! inside the crank and its result settled with the kernel as decider (an IO channel's `read()`
//! is settled by a later crank, see `io/service.rs`).

use super::capabilities::IssueOptions;
use super::error::KernelError;
use super::identity::Redeemable;
use super::ids::is_promise;
use super::machine::Kernel;
use crate::capdata::{CapData, Passable, decode_methargs, encode, kernel_error};
use crate::vat::Message;

impl Kernel {
    /// Runs `message` on the kernel service `kref` and settles its result.
    pub(super) fn invoke_service(
        &mut self,
        kref: &str,
        message: &Message,
    ) -> Result<(), KernelError> {
        if self.invoke_io(kref, message)? {
            return Ok(());
        }
        let name = self.service_name(kref)?;
        let (method, args) = match decode_methargs(&message.methargs) {
            Some((method, args)) => (Some(method), args),
            None => (None, Vec::new()),
        };
        // Another kernel's URL: the result stays unresolved until that kernel answers.
        #[cfg(feature = "remote")]
        if let (Some("ocapURLRedemptionService"), Some("redeem"), Some(Passable::String(url))) =
            (name.as_deref(), method.as_deref(), args.first())
            && let Ok(parts) = super::ocap_url::parse(url)
            && parts.host != self.identity.peer_id
        {
            return self.redeem_remote_for_vat(&parts, message.result.as_deref());
        }
        let outcome = match (name.as_deref(), method.as_deref()) {
            (Some("ocapURLIssuerService"), Some("issue")) => self.issue_for_vat(&args)?,
            (Some("ocapURLRedemptionService"), Some("redeem")) => self.redeem_for_vat(&args)?,
            (Some(service), Some(method)) => Err(format!(
                "{service}.{method} is not available in this kernel"
            )),
            (Some(service), None) => Err(format!("{service}: message has no method name")),
            (None, _) => Err(format!("{kref} is not a kernel service")),
        };
        let Some(result) = &message.result else {
            return Ok(());
        };
        self.state.set_decider(result, Some("kernel"))?;
        match outcome {
            Ok(value) => self.settle(result, false, &value),
            Err(why) => self.settle(result, true, &kernel_error("DELIVERY_FAILED", &why)),
        }
    }

    fn service_name(&self, kref: &str) -> Result<Option<String>, KernelError> {
        for name in super::state::SERVICES {
            if self.state.service(name)?.as_deref() == Some(kref) {
                return Ok(Some(name.to_string()));
            }
        }
        Ok(None)
    }
}

/// A service method's outcome: the result to fulfil with, or the reason to reject.
type Outcome = Result<CapData, String>;

impl Kernel {
    /// `ocapURLIssuerService.issue(presence)`: a new URL, recorded like `issueOcapURL`'s.
    fn issue_for_vat(&mut self, args: &[Passable]) -> Result<Outcome, KernelError> {
        let kref = match args.first() {
            Some(Passable::Remotable { slot, .. } | Passable::Promise { slot }) => slot,
            _ => return Ok(Err("Argument must be a remotable".into())),
        };
        let options = IssueOptions {
            label: Some("issued by a vat through ocapURLIssuerService".into()),
            expires: None,
        };
        match self.issue_capability(kref, options) {
            Ok(issued) => Ok(Ok(encode(&Passable::String(issued.url)))),
            Err(KernelError::Refused(why)) => Ok(Err(why)),
            Err(e) => Err(e),
        }
    }

    /// `ocapURLRedemptionService.redeem(url)`: the object, as the reference's `kslot(kref)`.
    fn redeem_for_vat(&mut self, args: &[Passable]) -> Result<Outcome, KernelError> {
        let Some(Passable::String(url)) = args.first() else {
            return Ok(Err("redeem needs an OCAP URL string".into()));
        };
        let capability = match self.redeem_capability(Redeemable::Unopened(url.clone())) {
            Ok(capability) => capability,
            Err(KernelError::Refused(why)) => return Ok(Err(why)),
            Err(e) => return Err(e),
        };
        // The value will hold a reference, which needs a live object or promise to count on.
        let kref = &capability.kref;
        let exists = if is_promise(kref) {
            self.state.promise_state(kref)?.is_some()
        } else {
            self.state.object_exists(kref)?
        };
        if !exists {
            let id = &capability.id;
            return Ok(Err(format!(
                "Capability {id} names {kref}, which no longer exists"
            )));
        }
        let slot = capability.kref;
        let value = if is_promise(&slot) {
            Passable::Promise { slot }
        } else {
            Passable::Remotable {
                slot,
                iface: Some("Alleged: undefined".into()),
            }
        };
        Ok(Ok(encode(&value)))
    }
}
