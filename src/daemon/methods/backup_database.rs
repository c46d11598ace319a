//! `backupDatabase {"path"}` (an ocap extension, behind `ocapctl backup`): a consistent copy of
//! the database to a new file, while the daemon runs.

use super::superstruct::{self, Kind};
use crate::daemon::shared::Shared;
use crate::jsonrpc::RpcError;
use crate::kernel::store::backup;
use serde_json::Value;
use std::path::PathBuf;

/// Copies the database on a blocking thread; the path must be absolute (it is the daemon's, not
/// the client's, working directory that would resolve a relative one).
pub async fn call(shared: &Shared, params: Value) -> Result<Value, RpcError> {
    let fields = superstruct::object(&params, &[("path", Kind::String)])?;
    let target = PathBuf::from(fields["path"].as_str().unwrap_or_default());
    if !target.is_absolute() {
        return Err(RpcError::internal("backup path must be absolute"));
    }
    let database = shared.kernel.database().to_path_buf();
    let copied = tokio::task::spawn_blocking(move || backup(&database, &target))
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?;
    copied
        .map(|()| Value::Null)
        .map_err(|e| RpcError::internal(e.to_string()))
}
