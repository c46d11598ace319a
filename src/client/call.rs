//! One request over the control socket: connect, write the line, read the reply line.

use super::{ClientError, Target};
use crate::jsonrpc::{Response, client_request_line};
use serde_json::Value;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// A connected socket, kept so callers can ask who the peer is before sending.
pub struct Connection {
    stream: UnixStream,
}

impl Connection {
    /// Connects to `socket`, retrying once after 100 ms on a refused or reset connection (as
    /// the reference client does: a daemon may be between accept loops).
    pub fn open(socket: &Path) -> Result<Connection, ClientError> {
        match UnixStream::connect(socket) {
            Ok(stream) => Ok(Connection { stream }),
            Err(e) if retryable(&e) => {
                std::thread::sleep(Duration::from_millis(100));
                UnixStream::connect(socket)
                    .map(|stream| Connection { stream })
                    .map_err(|e| connect_error(socket, e))
            }
            Err(e) => Err(connect_error(socket, e)),
        }
    }

    /// Sends one request and reads the one reply.
    pub fn call(
        mut self,
        method: &str,
        params: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<Value, ClientError> {
        let line = client_request_line(&crate::random::uuid_v4(), method, params);
        // A daemon that refuses us (another user's, or at its limit) may answer and close before
        // reading: the write then fails, but its explanation is still there to read.
        let sent = self.stream.write_all(line.as_bytes());
        self.stream
            .set_read_timeout(timeout)
            .map_err(|e| ClientError::Failed(e.to_string()))?;
        let mut reply = String::new();
        match BufReader::new(&self.stream).read_line(&mut reply) {
            Ok(0) => {
                return Err(match sent {
                    Err(e) => ClientError::Failed(format!("sending the request: {e}")),
                    Ok(()) => ClientError::Protocol(
                        "the daemon closed the connection without answering".into(),
                    ),
                });
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ClientError::Timeout);
            }
            Err(e) => return Err(ClientError::Protocol(format!("reading the reply: {e}"))),
        }
        let response =
            Response::parse(reply.trim_end()).map_err(|e| ClientError::Protocol(e.to_string()))?;
        response.outcome.map_err(ClientError::Rpc)
    }

    /// The daemon's pid, from the socket's peer credentials.
    pub fn peer_pid(&self) -> Option<i32> {
        crate::peer::pid_of(&self.stream)
    }
}

/// Calls `method` on the daemon at `target`.
pub fn call(target: &Target, method: &str, params: Option<&Value>) -> Result<Value, ClientError> {
    Connection::open(&target.paths.socket)?.call(method, params, target.timeout)
}

fn retryable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
    )
}

fn connect_error(socket: &Path, e: io::Error) -> ClientError {
    match e.kind() {
        io::ErrorKind::PermissionDenied => ClientError::NoPermission(socket.into()),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => ClientError::Unavailable {
            socket: socket.into(),
            hint: super::activation::hint(socket),
        },
        _ => ClientError::Failed(format!("connecting to {}: {e}", socket.display())),
    }
}
