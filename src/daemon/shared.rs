//! The state every connection shares: the kernel's handle, the limits, the daemon's identity
//! and stop signal, the connection slots and buffer budget, and when the last connection ended
//! (for idle exit).

use super::budget::Budget;
use super::settings::Limits;
use super::slots::Slots;
use super::surface::Surface;
use crate::kernel::KernelHandle;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What every connection needs.
pub struct Shared {
    /// The kernel thread's handle.
    pub kernel: KernelHandle,
    /// The current limits (replaced on SIGHUP).
    pub limits: watch::Receiver<Limits>,
    /// The `daemonInfo` result.
    pub info: Value,
    /// Cancelled to stop the daemon (the `shutdown` method, signals).
    pub shutdown: CancellationToken,
    /// The uid this daemon serves.
    pub own_uid: u32,
    /// When the last connection ended.
    pub(super) activity: Activity,
    /// Who holds the connection slots.
    pub(super) slots: Arc<Slots>,
    /// The bytes of unfinished request lines held on the control socket.
    control_buffered: Budget,
    /// The same on the capability socket, so that strangers cannot spend the owner's.
    caps_buffered: Budget,
}

impl Shared {
    /// Shared state for a daemon serving `own_uid`.
    pub fn new(
        kernel: KernelHandle,
        limits: watch::Receiver<Limits>,
        info: Value,
        shutdown: CancellationToken,
    ) -> Shared {
        // SAFETY: geteuid cannot fail.
        let own_uid = unsafe { libc::geteuid() };
        Shared {
            kernel,
            limits,
            info,
            shutdown,
            own_uid,
            activity: Activity::new(),
            slots: Arc::default(),
            control_buffered: Budget::default(),
            caps_buffered: Budget::default(),
        }
    }

    /// The buffer budget of the connections on `surface`.
    pub(super) fn buffered(&self, surface: Surface) -> &Budget {
        match surface {
            Surface::Control => &self.control_buffered,
            Surface::Capabilities => &self.caps_buffered,
        }
    }
}

/// When the last connection ended, so idle time is measured from then.
pub(super) struct Activity {
    last: Mutex<Instant>,
    /// Signalled when a connection ends.
    pub(super) changed: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            last: Mutex::new(Instant::now()),
            changed: Notify::new(),
        }
    }

    /// Notes that a connection just ended.
    pub(super) fn touch(&self) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.changed.notify_one();
    }

    /// When the last connection ended.
    pub(super) fn last(&self) -> Instant {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}
