//! What the least-authority capability socket serves: `help`, `status` (nothing secret) and
//! `invokeCapability`, so the only authority a client has there is the OCAP URLs it presents.
//! Every other method, `shutdown` included, is refused.

use super::capabilities;
use crate::daemon::shared::Shared;
use crate::jsonrpc::{RpcError, codes};
use serde_json::{Value, json};

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
