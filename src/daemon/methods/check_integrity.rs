//! `checkIntegrity []` (an ocap extension, behind `ocapctl fsck`): SQLite's integrity check and
//! the kernel's invariants over the committed state, on a blocking thread.

use super::superstruct;
use crate::daemon::shared::Shared;
use crate::jsonrpc::RpcError;
use crate::kernel::fsck::fsck;
use serde_json::Value;

/// Runs the check on its own read-only connection, off the kernel thread.
pub async fn call(shared: &Shared, params: Value) -> Result<Value, RpcError> {
    superstruct::empty_array(&params)?;
    let database = shared.kernel.database().to_path_buf();
    let report = tokio::task::spawn_blocking(move || fsck(&database))
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?;
    report.map_err(|e| RpcError::internal(e.to_string()))
}
