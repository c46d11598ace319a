//! One connection: read one request line within the limits, answer, close. A client that
//! hangs up while its call is pending takes the call with it (see [`hung_up`]).

use super::budget::{Budget, Exhausted};
use super::logging::fragment;
use super::methods;
use super::shared::Shared;
use super::surface::Surface;
use super::throttle::Throttle;
use crate::jsonrpc::{Frame, LineBuffer, Request, RequestId, Response, RpcError, codes};
use crate::peer::{self, Peer};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tracing::Level;

/// Failed requests on the control socket, logged with what failed.
static FAILED: Throttle = Throttle::new("failed request", Level::WARN, 10);
/// Failed requests on the capability socket.
static FAILED_CAPS: Throttle = Throttle::new("failed capability socket request", Level::INFO, 10);
/// Other users refused on the control socket.
static FOREIGN: Throttle = Throttle::new("refused user", Level::WARN, 10);

/// The most read from the socket at once. It lives on the stack only while reading, so an idle
/// connection holds no buffer at all.
const CHUNK: usize = 8 * 1024;

/// How often a pending call looks whether a client that closed only its writing side has gone
/// entirely (a client that closes at once is noticed at once).
const HANG_UP_POLL: Duration = Duration::from_secs(1);

/// How reading the request ended.
enum Received {
    /// A complete frame: a line, or a reason to refuse it (never `Frame::Incomplete`).
    Frame(Frame),
    /// The client closed the connection without sending anything (a probe).
    Nothing,
    /// The client closed the connection halfway through a line.
    Unfinished,
    /// The line would take the daemon's buffered bytes past their budget.
    OverBudget(Exhausted),
}

/// Serves one connection to completion. The peer was checked by the accept loop.
pub async fn serve(mut stream: UnixStream, shared: &Shared, surface: Surface, peer: Peer) {
    tracing::debug!(uid = peer.uid, pid = peer.pid, ?surface, "connection");
    let limits = *shared.limits.borrow();
    let received = tokio::time::timeout(
        limits.read_timeout,
        receive(
            &stream,
            &limits,
            shared.buffered(surface),
            surface,
            peer.uid,
        ),
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
        Ok(Ok(Received::OverBudget(exhausted))) => (
            Response::error(
                Value::Null,
                RpcError::new(codes::UNAVAILABLE, exhausted.to_string()),
            ),
            false,
            true,
        ),
        Ok(Ok(Received::Frame(Frame::LineWithExtra))) => (
            Response::error(Value::Null, RpcError::one_request_only()),
            false,
            true,
        ),
        Ok(Ok(Received::Frame(Frame::Line(line)))) => {
            // Parsed at once, so the line's bytes are gone before the call waits.
            let request = Request::parse(&line);
            drop(line);
            // The call goes first, so whatever it asks of the kernel is asked even of a client
            // that has already left; only the waiting for the answer is dropped.
            tokio::select! {
                biased;
                answered = answer(request, shared, surface) => answered,
                () = hung_up(&stream) => {
                    return tracing::debug!(uid = peer.uid, "the client left before its answer");
                }
            }
        }
        Ok(Ok(Received::Frame(Frame::Incomplete))) => return,
    };
    reply(&mut stream, &response, limits.read_timeout, unread).await;
    if shutdown {
        tracing::info!("shutdown requested over the control socket");
        shared.shutdown.cancel();
    }
}

/// Runs the request; the second value says whether the daemon should stop after replying.
async fn answer(
    request: Result<Request, (RequestId, RpcError)>,
    shared: &Shared,
    surface: Surface,
) -> (Response, bool, bool) {
    let request = match request {
        Ok(request) => request,
        Err((id, error)) => return (Response::error(id, error), false, false),
    };
    if surface == Surface::Capabilities {
        let outcome = methods::cap_socket::call(shared, &request.method, request.params).await;
        if let Err(error) = &outcome
            && FAILED_CAPS.admit()
        {
            tracing::info!(
                method = %fragment(&request.method),
                "capability socket request failed: {}",
                fragment(&error.message)
            );
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
    if let Err(error) = &outcome
        && FAILED.admit()
    {
        tracing::warn!(
            method = %fragment(&request.method),
            "request failed: {}",
            fragment(&error.message)
        );
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

/// Reads the request line, reserving from the daemon's budget what its buffer will hold before
/// it grows.
async fn receive(
    stream: &UnixStream,
    limits: &super::settings::Limits,
    budget: &Budget,
    surface: Surface,
    uid: u32,
) -> std::io::Result<Received> {
    let mut buffer = LineBuffer::new(limits.max_request_bytes);
    let mut reserved = budget.reserve(uid);
    let bounds = limits.buffered_bounds(surface);
    loop {
        stream.readable().await?;
        let mut chunk = [0u8; CHUNK];
        let n = match stream.try_read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(if buffer.is_empty() {
                Received::Nothing
            } else {
                Received::Unfinished
            });
        }
        let capacity = buffer.capacity_after(n);
        if let Err(exhausted) = reserved.grow_to(capacity, bounds) {
            return Ok(Received::OverBudget(exhausted));
        }
        match buffer.push(&chunk[..n]) {
            Frame::Incomplete => continue,
            frame => return Ok(Received::Frame(frame)),
        }
    }
}

/// Resolves once the client has closed the connection entirely, so that a call it no longer
/// waits for gives its slot back. Bytes sent after the request are read and dropped. A client
/// that closed only its writing side is still waiting for the answer; the socket stays readable
/// (at its end) from then on, so it is looked at every [`HANG_UP_POLL`] instead.
async fn hung_up(stream: &UnixStream) {
    let mut sink = [0u8; 256];
    loop {
        if stream.readable().await.is_err() || peer::hung_up(stream) {
            return;
        }
        match stream.try_read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
    while !peer::hung_up(stream) {
        tokio::time::sleep(HANG_UP_POLL).await;
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

/// Answers that the daemon does not serve this user (a connection to the control socket from
/// another uid), and closes.
pub(super) async fn refuse_peer(mut stream: UnixStream, peer: Peer, own_uid: u32) {
    if FOREIGN.admit() {
        tracing::warn!(
            uid = peer.uid,
            pid = peer.pid,
            "refused a connection from another user"
        );
    }
    let message = format!("Permission denied: this daemon serves uid {own_uid} only");
    let response = Response::error(Value::Null, RpcError::new(codes::ACCESS_DENIED, message));
    reply(&mut stream, &response, Duration::from_secs(1), true).await;
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
