//! `daemonInfo []` (an ocap extension): who and where this daemon is, for `ocapctl` to stop
//! it safely (by pid and lock rather than a pid file) and to say how it was started.

use super::superstruct;
use crate::daemon::shared::Shared;
use crate::jsonrpc::RpcError;
use serde_json::Value;

/// Returns the daemon's fixed facts, gathered at start-up.
pub fn call(shared: &Shared, params: Value) -> Result<Value, RpcError> {
    superstruct::empty_array(&params)?;
    Ok(shared.info.clone())
}
