//! The seam between the kernel and vats (DESIGN.md "Vats").
//!
//! A [`VatRuntime`] runs one vat. The kernel hands it deliveries; during a delivery the vat
//! makes syscalls, which reach the kernel synchronously through [`Syscalls`]. Deliveries,
//! syscalls and results have the exact JSON shapes of spec §7.3–§7.4, so the same types can be
//! serialized for an out-of-process worker.

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

/// Makes runtimes for vats from their configuration; shared with the vats' threads, where the
/// runtimes are made.
pub trait VatFactory: Send + Sync {
    /// Why a vat with `config` cannot run, found before anything starts (at launch): by
    /// default, bad `creationOptions`.
    fn check(&self, config: &serde_json::Value) -> Result<(), String> {
        CreationOptions::from_config(config).map(|_| ())
    }

    /// A runtime for `vat_id` running the code `config` names, or why there can be none.
    fn create(
        &self,
        vat_id: &str,
        config: &serde_json::Value,
    ) -> Result<Box<dyn VatRuntime>, String>;
}

/// The daemon's factory: a vat whose config names a worker program
/// (`creationOptions.worker`) runs in that child process, every other vat in QuickJS.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultFactory {
    /// The built-in runtime.
    pub quickjs: quickjs::QuickJsFactory,
}

impl VatFactory for DefaultFactory {
    fn check(&self, config: &serde_json::Value) -> Result<(), String> {
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
    ) -> Result<Box<dyn VatRuntime>, String> {
        if process::worker_command(config).is_some() {
            process::ProcessFactory.create(vat_id, config)
        } else {
            self.quickjs.create(vat_id, config)
        }
    }
}
