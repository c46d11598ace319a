//! The least-authority capability socket (`--cap-socket`, `ocap-caps.socket`): any user may
//! connect, and all it serves is `help`, `status` (nothing secret) and `invokeCapability`, so the
//! only authority a client has there is the OCAP URLs it presents. Every other method, `shutdown`
//! included, is refused. Who may connect is the socket file's mode, chosen by the admin: bound
//! by ocapd it is 0666; under systemd, `SocketMode=`/`SocketGroup=` decide.

use super::listen::{ListenError, bind_with_mode, check_length, remove_stale};
use super::methods::capabilities;
use super::server::Shared;
use crate::protocol::{RpcError, codes};
use serde_json::{Value, json};
use std::os::unix::net::UnixListener;
use std::path::Path;

/// The methods served here, with what they do.
const METHODS: [(&str, &str); 3] = [
    ("help", "this list"),
    ("status", "whether the daemon runs, and its version"),
    (
        "invokeCapability",
        "{url, method, args?}: send a message to the object an OCAP URL names; references in \
         the result come back as new URLs",
    ),
];

/// Binds `path` mode 0666, replacing a stale socket file (nothing else). Call only while
/// holding the database lock (see [`super::listen::bind`]). The directory is left as the admin
/// made it.
pub fn bind(path: &Path) -> Result<UnixListener, ListenError> {
    check_length(path)?;
    let io = |source| ListenError::Io {
        path: path.to_path_buf(),
        source,
    };
    remove_stale(path)?;
    let listener = bind_with_mode(path, 0o666).map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    Ok(listener)
}

/// Runs `method` for a client of the capability socket.
pub async fn call(shared: &Shared, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        "help" => Ok(
            json!({"methods": METHODS.iter().map(|(name, what)| json!({"name": name, "description": what})).collect::<Vec<_>>()}),
        ),
        "status" => Ok(json!({"running": true, "version": env!("CARGO_PKG_VERSION")})),
        "invokeCapability" => match capabilities::parse(method, &params) {
            Some(call) => capabilities::call(shared, call?).await,
            None => Err(RpcError::method_not_found()),
        },
        other => Err(RpcError::new(
            codes::METHOD_NOT_FOUND,
            format!(
                "{other} is not served on the capability socket, which serves only help, \
                 status and invokeCapability"
            ),
        )),
    }
}
