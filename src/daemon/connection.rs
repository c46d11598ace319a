//! One connection: check the peer, read one request line within the limits, answer, close.

use super::methods;
use super::shared::Shared;
use crate::peer;
use crate::protocol::{Frame, LineBuffer, Request, Response, RpcError, codes};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// How reading the request ended.
enum Received {
    /// A complete frame: a line, or a reason to refuse it (never `Frame::Incomplete`).
    Frame(Frame),
    /// The client closed the connection without sending anything (a probe).
    Nothing,
    /// The client closed the connection halfway through a line.
    Unfinished,
}

/// Which socket a connection came in on; it decides what the client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The control socket: the daemon's own user (and root), every method.
    Control,
    /// The capability socket: anyone, only what presented capabilities allow.
    Capabilities,
}

/// Serves one connection to completion.
pub async fn serve(mut stream: UnixStream, shared: &Shared, surface: Surface) {
    let peer = match peer::peer_of(&stream) {
        Ok(peer) => peer,
        Err(e) => return tracing::warn!("cannot read peer credentials: {e}"),
    };
    tracing::debug!(uid = peer.uid, pid = peer.pid, ?surface, "connection");
    if surface == Surface::Control && !peer::allowed(peer, shared.own_uid) {
        tracing::warn!(
            uid = peer.uid,
            pid = peer.pid,
            "refused a connection from another user"
        );
        let message = format!(
            "Permission denied: this daemon serves uid {} only",
            shared.own_uid
        );
        let response = Response::error(Value::Null, RpcError::new(codes::ACCESS_DENIED, message));
        return reply(&mut stream, &response, Duration::from_secs(1), true).await;
    }
    let limits = *shared.limits.borrow();
    let received = tokio::time::timeout(
        limits.read_timeout,
        receive(&mut stream, limits.max_request_bytes),
    )
    .await;
    let (response, shutdown, unread) = match received {
        Err(_) => (timeout_error(limits.read_timeout), false, false),
        Ok(Err(_)) | Ok(Ok(Received::Nothing)) => return,
        Ok(Ok(Received::Unfinished)) => (
            protocol_error(
                "Connection closed before the request line ended (a request ends with \\n)",
            ),
            false,
            false,
        ),
        Ok(Ok(Received::Frame(Frame::TooLarge))) => {
            let message = format!(
                "Request exceeds the limit of {} bytes",
                limits.max_request_bytes
            );
            (protocol_error(&message), false, true)
        }
        Ok(Ok(Received::Frame(Frame::LineWithExtra))) => (
            Response::error(Value::Null, RpcError::one_request_only()),
            false,
            true,
        ),
        Ok(Ok(Received::Frame(Frame::Line(line)))) => answer(&line, shared, surface).await,
        Ok(Ok(Received::Frame(Frame::Incomplete))) => return,
    };
    reply(&mut stream, &response, limits.read_timeout, unread).await;
    if shutdown {
        tracing::info!("shutdown requested over the control socket");
        shared.shutdown.cancel();
    }
}

/// Runs the request; the second value says whether the daemon should stop after replying.
async fn answer(line: &[u8], shared: &Shared, surface: Surface) -> (Response, bool, bool) {
    let request = match Request::parse(line) {
        Ok(request) => request,
        Err((id, error)) => return (Response::error(id, error), false, false),
    };
    if surface == Surface::Capabilities {
        let outcome = methods::cap_socket::call(shared, &request.method, request.params).await;
        if let Err(error) = &outcome {
            tracing::info!(method = %request.method, "capability socket request failed: {}", error.message);
        }
        let response = Response {
            id: request.id,
            outcome,
        };
        return (response, false, false);
    }
    if request.method == "shutdown" {
        return (
            Response::ok(request.id, json!({"status": "shutting down"})),
            true,
            false,
        );
    }
    let outcome = methods::call(shared, &request.method, request.params).await;
    if let Err(error) = &outcome {
        tracing::warn!(method = %request.method, "request failed: {}", error.message);
    }
    (
        Response {
            id: request.id,
            outcome,
        },
        false,
        false,
    )
}

async fn receive(stream: &mut UnixStream, max: usize) -> std::io::Result<Received> {
    let mut buffer = LineBuffer::new(max);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(if buffer.is_empty() {
                Received::Nothing
            } else {
                Received::Unfinished
            });
        }
        match buffer.push(&chunk[..n]) {
            Frame::Incomplete => continue,
            frame => return Ok(Received::Frame(frame)),
        }
    }
}

fn protocol_error(message: &str) -> Response {
    Response::error(Value::Null, RpcError::invalid_request(message))
}

fn timeout_error(limit: Duration) -> Response {
    protocol_error(&format!(
        "No complete request line within {} s",
        limit.as_secs_f64()
    ))
}

/// Writes the response and closes. When the client's bytes were left unread, they are drained
/// briefly first: closing a socket with unread input resets it, and the client would lose the
/// error that explains why.
pub(super) async fn reply(
    stream: &mut UnixStream,
    response: &Response,
    limit: Duration,
    unread: bool,
) {
    let write = async {
        stream.write_all(response.to_line().as_bytes()).await?;
        stream.shutdown().await
    };
    if tokio::time::timeout(limit, write).await.is_err() {
        return tracing::debug!("client did not take its response within {limit:?}");
    }
    if unread {
        drain(stream).await;
    }
}

async fn drain(stream: &mut UnixStream) {
    let mut sink = vec![0u8; 64 * 1024];
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        let mut left = 64usize << 20;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}
