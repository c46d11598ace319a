//! sd_notify: readiness, status, stopping, reloading, and a watchdog that only pets when the
//! kernel thread answers. Every call is a no-op without `NOTIFY_SOCKET`.

use crate::kernel::KernelHandle;
use sd_notify::NotifyState;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// `READY=1` with a status line.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `STATUS=` alone: what `systemctl status` shows.
pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// `STOPPING=1`.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// `RELOADING=1` (with the monotonic timestamp newer systemd wants).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("sd_notify failed: {e}");
    }
}

/// The watchdog interval systemd asked for (`WATCHDOG_USEC`, for this pid), if any.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}

/// Sends `WATCHDOG=1` every `interval / 2`, each time only after a round trip through the
/// kernel thread: a wedged kernel stops the pings and systemd restarts the daemon.
pub async fn watchdog(interval: Duration, kernel: KernelHandle, stop: CancellationToken) {
    let period = interval / 2;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        match tokio::time::timeout(period, kernel.ping()).await {
            Ok(Ok(())) => send(&[NotifyState::Watchdog]),
            _ => tracing::warn!(
                "kernel did not answer within {period:?}; withholding the watchdog ping"
            ),
        }
    }
}
