//! The accept loop: connection limit and idle exit.

use super::connection::{self, Surface};
use super::shared::Shared;
use crate::protocol::{Response, RpcError, codes};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixListener;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

/// Why the accept loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// A signal or the `shutdown` method.
    Requested,
    /// Nothing happened for the idle timeout.
    Idle,
}

/// Accepts connections until asked to stop or idle. Only `accept` hands out connections and it
/// is never called again once the loop decides to stop, so no connection is accepted and then
/// dropped: under systemd, later connections wait in the socket's backlog for the next daemon.
pub async fn accept_loop(
    listener: &UnixListener,
    caps: Option<&UnixListener>,
    shared: Arc<Shared>,
    tracker: &TaskTracker,
    idle: Option<Duration>,
) -> Stopped {
    loop {
        // While busy (connections, queued work, vats' timers or requests pending), look again
        // every second: the kernel's work ends without any activity here to wake this loop.
        let quiet = tracker.is_empty() && shared.kernel.is_idle();
        let idle_since = idle.map(|d| match quiet {
            true => shared.activity.last() + d,
            false => Instant::now() + d.min(Duration::from_secs(1)),
        });
        tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return Stopped::Requested,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => start_connection(stream, &shared, tracker, Surface::Control),
                Err(e) => accept_failed(e).await,
            },
            accepted = accept_caps(caps) => match accepted {
                Ok((stream, _)) => start_connection(stream, &shared, tracker, Surface::Capabilities),
                Err(e) => accept_failed(e).await,
            },
            _ = shared.activity.changed.notified() => {}
            _ = tokio::time::sleep_until(idle_since.unwrap_or_else(Instant::now)), if idle_since.is_some() => {
                if tracker.is_empty() && shared.kernel.is_idle() {
                    return Stopped::Idle;
                }
            }
        }
    }
}

/// The capability socket's next connection; never, when there is none.
async fn accept_caps(
    caps: Option<&UnixListener>,
) -> std::io::Result<(tokio::net::UnixStream, tokio::net::unix::SocketAddr)> {
    match caps {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

fn start_connection(
    stream: tokio::net::UnixStream,
    shared: &Arc<Shared>,
    tracker: &TaskTracker,
    surface: Surface,
) {
    let max = shared.limits.borrow().max_connections;
    if tracker.len() >= max {
        tracker.spawn(refuse(stream, max));
        return;
    }
    let shared = Arc::clone(shared);
    tracker.spawn(async move {
        connection::serve(stream, &shared, surface).await;
        shared.activity.touch();
    });
}

/// Past the connection limit: a clear error instead of a silent queue. The client's request is
/// left unread, so it is drained after the reply: closing with unread input would reset the
/// connection, and the client would lose the error.
async fn refuse(mut stream: tokio::net::UnixStream, max: usize) {
    let error = RpcError::new(
        codes::UNAVAILABLE,
        format!("Too many connections (limit {max}); try again"),
    );
    let response = Response::error(Value::Null, error);
    connection::reply(&mut stream, &response, Duration::from_secs(1), true).await;
}

/// `accept` fails on fd exhaustion (EMFILE) among others; back off instead of spinning.
async fn accept_failed(e: std::io::Error) {
    tracing::warn!("accept failed: {e}");
    tokio::time::sleep(Duration::from_millis(50)).await;
}
