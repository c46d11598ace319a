//! Signals: SIGTERM and SIGINT stop the daemon, SIGHUP reloads its configuration.

use futures_util::StreamExt;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_tokio::Signals;
use tokio_util::sync::CancellationToken;

/// Listens for signals until `stop` is cancelled; calls `reload` on each SIGHUP.
pub async fn handle(mut signals: Signals, stop: CancellationToken, mut reload: impl FnMut()) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            signal = signals.next() => match signal {
                Some(SIGHUP) => reload(),
                Some(signal) => {
                    tracing::info!("received {}, stopping", if signal == SIGINT { "SIGINT" } else { "SIGTERM" });
                    stop.cancel();
                    return;
                }
                None => return,
            },
        }
    }
}

/// Registers the handlers; do it before announcing readiness so no early signal is lost.
pub fn register() -> std::io::Result<Signals> {
    Signals::new([SIGTERM, SIGINT, SIGHUP])
}
