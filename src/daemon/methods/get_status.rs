//! `getStatus []` → `{vats, subclusters, remoteComms}` (spec §2.1).

use super::superstruct;
use crate::daemon::shared::Shared;
use crate::jsonrpc::RpcError;
use serde_json::Value;

/// Validates `[]` and returns the status the kernel published with its last commit.
pub fn call(shared: &Shared, params: Value) -> Result<Value, RpcError> {
    superstruct::empty_array(&params)?;
    let status = shared.kernel.status().map_err(RpcError::internal)?;
    serde_json::to_value(&*status).map_err(|e| RpcError::internal(e.to_string()))
}
