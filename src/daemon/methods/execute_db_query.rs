//! `executeDBQuery {"sql"}` → rows as objects, read-only (spec §2; fixes §14.16).

use super::schemas;
use crate::daemon::shared::Shared;
use crate::jsonrpc::RpcError;
use crate::kernel::store::{QueryLimits, read_only_query};
use serde_json::Value;

/// Runs the query on a blocking thread with its own read-only connection, so a slow query never
/// holds up the kernel thread or the async workers.
pub async fn call(shared: &Shared, params: Value) -> Result<Value, RpcError> {
    let sql = schemas::sql(&params)?;
    let database = shared.kernel.database().to_path_buf();
    let rows = tokio::task::spawn_blocking(move || {
        read_only_query(&database, &sql, QueryLimits::default())
    })
    .await
    .map_err(|e| RpcError::internal(e.to_string()))?;
    rows.map_err(|e| RpcError::internal(e.to_string()))
}
