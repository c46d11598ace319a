//! Kernel services (spec §2.5): objects owned by the kernel itself. A message to one is handled
//! inside the crank and its result settled with the kernel as decider.

use super::KernelError;
use super::core::Kernel;
use crate::capdata::{CapData, decode_methargs, encode_json, kernel_error};
use crate::vat::Message;
use serde_json::json;

impl Kernel {
    /// Runs `message` on the kernel service `kref` and settles its result.
    pub(super) fn invoke_service(
        &mut self,
        kref: &str,
        message: &Message,
    ) -> Result<(), KernelError> {
        let name = self.service_name(kref)?;
        let method = method_name(&message.methargs);
        let outcome = match (name.as_deref(), method.as_deref()) {
            (Some("kernelFacet"), Some("ping")) => Ok(encode_json(&json!("pong"))),
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

/// The method of a `[method, args]` methargs value.
fn method_name(methargs: &CapData) -> Option<String> {
    decode_methargs(methargs).map(|(method, _)| method)
}
