//! The seam between the kernel and vats (DESIGN.md "Vats").
//!
//! A [`VatRuntime`] runs one vat. The kernel hands it deliveries; during a delivery the vat
//! makes syscalls, which reach the kernel synchronously through [`Syscalls`]. Deliveries,
//! syscalls and results have the exact JSON shapes of spec §7.3–§7.4, so the same types can be
//! serialized for an out-of-process worker.

pub mod budget;
pub mod fs;
pub mod http;
mod options;
pub mod process;
mod protocol;
pub mod quickjs;
pub mod thread;
mod wake;

pub use options::CreationOptions;
pub use protocol::{Delivery, DeliveryResult, Message, Resolution, Syscall, VatstoreDelta};
pub use thread::{Job, Overrun, Ran, Stuck, VatThread};
pub use wake::{Waker, Wakeups};

use std::time::Duration;

/// Receives a vat's syscalls during a delivery. Syscalls are optimistic (liveslots never waits for
/// an answer), so there is nothing to return: an illegal one is recorded and fails the crank.
pub trait Syscalls {
    /// Handles one syscall.
    fn syscall(&mut self, syscall: Syscall);
}

/// Why a vat could not complete a delivery at all (as opposed to a delivery error it reports).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VatFault {
    /// The delivery ran past its time budget.
    #[error("delivery exceeded its time budget of {0:?}")]
    Timeout(Duration),
    /// The vat ran out of memory.
    #[error("vat exceeded its memory limit")]
    OutOfMemory,
    /// The vat's code could not be loaded or crashed.
    #[error("{0}")]
    Crashed(String),
}

/// One running vat.
pub trait VatRuntime {
    /// Starts the vat from its stored vatstore (`initVat`, spec §7.3).
    fn init(
        &mut self,
        state: Vec<(String, String)>,
        syscalls: &mut dyn Syscalls,
        budget: Duration,
    ) -> Result<DeliveryResult, VatFault>;

    /// Delivers one item; syscalls made meanwhile go to `syscalls`.
    fn deliver(
        &mut self,
        delivery: &Delivery,
        syscalls: &mut dyn Syscalls,
        budget: Duration,
    ) -> Result<DeliveryResult, VatFault>;

    /// Takes the waker through which the vat asks for a crank of its own outside deliveries
    /// (given once, before `init`). A runtime with nothing asynchronous ignores it.
    fn attach(&mut self, _waker: Waker) {}

    /// Does what woke the vat (timers due, finished outside work) as one crank; syscalls made
    /// meanwhile go to `syscalls`. Nothing to do is not an error: wakes may come late.
    fn wake(
        &mut self,
        _syscalls: &mut dyn Syscalls,
        _budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        Ok(DeliveryResult::default())
    }
}

/// Why a vat could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// Its configuration asks for something not allowed or not valid (found at launch).
    #[error("{0}")]
    Refused(String),
    /// Its code could not be had or is not a vat's code.
    #[error("{0}")]
    Code(String),
    /// The system would not give it what it needs (a process, a pipe).
    #[error("{0}")]
    System(String),
}

/// Makes runtimes for vats from their configuration; shared with the vats' threads, where the
/// runtimes are made.
pub trait VatFactory: Send + Sync {
    /// Why a vat with `config` cannot run, found before anything starts (at launch): by
    /// default, bad `creationOptions`.
    fn check(&self, config: &serde_json::Value) -> Result<(), SetupError> {
        CreationOptions::from_config(config)
            .map(|_| ())
            .map_err(SetupError::Refused)
    }

    /// A runtime for `vat_id` running the code `config` names, or why there can be none.
    fn create(
        &self,
        vat_id: &str,
        config: &serde_json::Value,
    ) -> Result<Box<dyn VatRuntime>, SetupError>;
}

/// The daemon's factory: a vat whose config names a worker program
/// (`creationOptions.worker`) runs in that child process, every other vat in QuickJS.
#[derive(Debug, Clone, Default)]
pub struct DefaultFactory {
    /// The built-in runtime.
    pub quickjs: quickjs::QuickJsFactory,
    /// The only globals a vat may ask for (the reference kernel's `allowedGlobalNames`); `None`
    /// allows all of spec §3.2's.
    pub allowed_global_names: Option<Vec<String>>,
}

impl DefaultFactory {
    /// The first global `config` asks for that [`DefaultFactory::allowed_global_names`] leaves
    /// out, as the reference words its refusal (its supervisor's `initVat` fails with it).
    fn refused_global(&self, vat_id: &str, config: &serde_json::Value) -> Result<(), SetupError> {
        let Some(allowed) = &self.allowed_global_names else {
            return Ok(());
        };
        let asked = config.get("globals").and_then(|g| g.as_array());
        for name in asked.into_iter().flatten().filter_map(|n| n.as_str()) {
            if !allowed.iter().any(|a| a == name) {
                return Err(SetupError::Refused(format!(
                    "Vat \"{vat_id}\" requested unknown global \"{name}\""
                )));
            }
        }
        Ok(())
    }
}

impl VatFactory for DefaultFactory {
    fn check(&self, config: &serde_json::Value) -> Result<(), SetupError> {
        if process::worker_command(config).is_some() {
            process::ProcessFactory.check(config)
        } else {
            self.quickjs.check(config)
        }
    }

    fn create(
        &self,
        vat_id: &str,
        config: &serde_json::Value,
    ) -> Result<Box<dyn VatRuntime>, SetupError> {
        self.refused_global(vat_id, config)?;
        if process::worker_command(config).is_some() {
            process::ProcessFactory.create(vat_id, config)
        } else {
            self.quickjs.create(vat_id, config)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_global_outside_the_allowed_names_is_refused_with_the_references_words() {
        let factory = DefaultFactory {
            allowed_global_names: Some(vec!["Date".into()]),
            ..DefaultFactory::default()
        };
        let config = json!({"bundleSpec": "file:///nowhere.bundle", "globals": ["Date", "Math"]});
        assert_eq!(
            factory.create("v3", &config).err().unwrap(),
            SetupError::Refused("Vat \"v3\" requested unknown global \"Math\"".into())
        );
        // Allowed ones pass on to loading the code (which fails here: there is none).
        let config = json!({"bundleSpec": "file:///nowhere.bundle", "globals": ["Date"]});
        let err = factory.create("v3", &config).err().unwrap();
        assert!(
            matches!(&err, SetupError::Code(why) if why.starts_with("fetch of user code")),
            "{err}"
        );
        // Without a restriction, every name passes.
        let err = DefaultFactory::default()
            .create(
                "v3",
                &json!({"bundleSpec": "file:///nowhere.bundle", "globals": ["Math"]}),
            )
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("fetch of user code"), "{err}");
    }
}
