//! The methods the daemon serves. Each file parses its params and applies itself; this file only
//! routes the control socket's by name (the capability socket's router is `cap_socket.rs`).
//! Reference methods not implemented yet answer "method not found" (spec §2).

mod backup_database;
pub mod cap_socket;
pub mod capabilities;
mod check_integrity;
mod daemon_info;
mod execute_db_query;
mod get_status;
mod kernel_control;
#[cfg(test)]
mod proptests;
pub mod schemas;
pub mod superstruct;

use super::shared::Shared;
use crate::jsonrpc::RpcError;
use serde_json::Value;

/// Runs `method` with `params`. (`shutdown` never gets here: the connection handles it, since
/// its reply must be written before the daemon starts to stop.)
pub async fn call(shared: &Shared, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        "getStatus" => get_status::call(shared, params),
        "executeDBQuery" => execute_db_query::call(shared, params).await,
        "daemonInfo" => daemon_info::call(shared, params),
        "checkIntegrity" => check_integrity::call(shared, params).await,
        "backupDatabase" => backup_database::call(shared, params).await,
        _ => match kernel_control::parse(method, &params) {
            Some(call) => kernel_control::call(shared, call?).await,
            None => match capabilities::parse(method, &params) {
                Some(call) => capabilities::call(shared, call?).await,
                None => Err(RpcError::method_not_found()),
            },
        },
    }
}
