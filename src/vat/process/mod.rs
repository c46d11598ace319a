//! Vats in child processes: a worker program speaks the vat protocol of spec §7.3–§7.4 as
//! newline-delimited JSON-RPC over its standard input and output.
//!
//! The kernel sends requests (`initVat`, `deliver`) with ids `"<vatId>:<n>"`; the worker answers
//! each with its `VatDeliveryResult`, after sending any syscalls as `syscall` notifications. A
//! worker that does not answer within the delivery budget is killed. Its standard error is
//! passed through to the daemon's log. A worker is chosen per vat by `creationOptions.worker`,
//! the program and its arguments (the reference accepts and ignores `creationOptions`).

mod worker;

pub use worker::ProcessVat;

use super::{SetupError, VatFactory, VatRuntime};
use serde_json::Value;

/// Runs vats whose config names a worker program; refuses the others.
pub struct ProcessFactory;

impl VatFactory for ProcessFactory {
    fn create(&self, vat_id: &str, config: &Value) -> Result<Box<dyn VatRuntime>, SetupError> {
        let Some(command) = worker_command(config) else {
            return Err(SetupError::Refused(
                "no worker program: give one in creationOptions.worker".into(),
            ));
        };
        let vat =
            ProcessVat::spawn(vat_id, &command, config.clone()).map_err(SetupError::System)?;
        Ok(Box::new(vat))
    }
}

/// `creationOptions.worker`: `["program", "arg", …]`.
pub(crate) fn worker_command(config: &Value) -> Option<Vec<String>> {
    let items = config.get("creationOptions")?.get("worker")?.as_array()?;
    let command: Option<Vec<String>> = items.iter().map(|v| v.as_str().map(String::from)).collect();
    command.filter(|c| !c.is_empty())
}
