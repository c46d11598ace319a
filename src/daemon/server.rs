//! The accept loop: who gets a connection slot (see [`super::slots`]) and idle exit.

use super::connection;
use super::shared::Shared;
use super::slots::Refusal;
use super::surface::Surface;
use super::throttle::Throttle;
use crate::jsonrpc::{Response, RpcError, codes};
use crate::peer;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixListener;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tracing::Level;

/// Connections refused for a limit.
static REFUSED: Throttle = Throttle::new("refused connection", Level::WARN, 10);
/// Failed accepts (descriptors exhausted).
static ACCEPT_FAILED: Throttle = Throttle::new("failed accept", Level::WARN, 10);

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
    let peer = match peer::peer_of(&stream) {
        Ok(peer) => peer,
        Err(e) => return tracing::warn!("cannot read peer credentials: {e}"),
    };
    // Another user on the control socket never takes one of its slots: it is only refused.
    let taken = if surface == Surface::Control && !peer::allowed(peer, shared.own_uid) {
        None
    } else {
        let limits = *shared.limits.borrow();
        Some(shared.slots.take(surface, peer.uid, &limits))
    };
    match taken {
        Some(Ok(slot)) => {
            let shared = Arc::clone(shared);
            tracker.spawn(async move {
                connection::serve(stream, &shared, surface, peer).await;
                drop(slot);
                shared.activity.touch();
            });
        }
        refused => {
            // Refusals take a moment to write; past a few at once, close without a word.
            let Some(slot) = shared.slots.take_refusing() else {
                return tracing::debug!(uid = peer.uid, "closed a connection: too many refusals");
            };
            let own_uid = shared.own_uid;
            tracker.spawn(async move {
                match refused {
                    Some(Err(refusal)) => refuse(stream, &refusal).await,
                    _ => connection::refuse_peer(stream, peer, own_uid).await,
                }
                drop(slot);
            });
        }
    }
}

/// Past a connection limit: a clear error instead of a silent queue. The client's request is
/// left unread, so it is drained after the reply: closing with unread input would reset the
/// connection, and the client would lose the error.
async fn refuse(mut stream: tokio::net::UnixStream, refusal: &Refusal) {
    if REFUSED.admit() {
        tracing::warn!("refused a connection: {refusal}");
    }
    let error = RpcError::new(codes::UNAVAILABLE, refusal.to_string());
    let response = Response::error(Value::Null, error);
    connection::reply(&mut stream, &response, Duration::from_secs(1), true).await;
}

/// `accept` fails on fd exhaustion (EMFILE) among others; back off instead of spinning.
async fn accept_failed(e: std::io::Error) {
    if ACCEPT_FAILED.admit() {
        tracing::warn!("accept failed: {e}");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}
