//! JSON-RPC errors with the reference daemon's codes and texts (spec §1.4).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The error codes the control API sends. The reference maps parse errors and invalid params to
/// `-32603` (not `-32700`/`-32602`); we keep that so existing clients see the same codes.
pub mod codes {
    /// Missing method, extra bytes after the request line, oversized or unfinished requests.
    pub const INVALID_REQUEST: i64 = -32600;
    /// Unknown (or not yet implemented) method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Everything else: parse errors, invalid params, handler failures.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// The connecting user is not allowed to use this daemon (an ocap extension).
    pub const ACCESS_DENIED: i64 = -32000;
    /// The daemon is at its connection limit or shutting down (an ocap extension).
    pub const UNAVAILABLE: i64 = -32001;
}

/// A JSON-RPC error object: `{"code":C,"message":M}` with no `data` field, as the reference sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct RpcError {
    /// The numeric JSON-RPC error code.
    pub code: i64,
    /// The human-readable message clients print.
    pub message: String,
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl RpcError {
    /// An error with any code.
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// `-32600`: the request is malformed at the protocol level.
    pub fn invalid_request(message: impl Into<String>) -> RpcError {
        RpcError::new(codes::INVALID_REQUEST, message)
    }

    /// `-32600 Invalid request: missing method`.
    pub fn missing_method() -> RpcError {
        RpcError::invalid_request("Invalid request: missing method")
    }

    /// `-32600 Only one request per connection is allowed`.
    pub fn one_request_only() -> RpcError {
        RpcError::invalid_request("Only one request per connection is allowed")
    }

    /// `-32601`, the reference's exact text.
    pub fn method_not_found() -> RpcError {
        RpcError::new(
            codes::METHOD_NOT_FOUND,
            "The method does not exist / is not available.",
        )
    }

    /// `-32603` with a message: the code of every handler failure.
    pub fn internal(message: impl Into<String>) -> RpcError {
        RpcError::new(codes::INTERNAL_ERROR, message)
    }

    /// `-32603 Invalid params: <detail>`, as the reference reports schema failures.
    pub fn invalid_params(detail: impl fmt::Display) -> RpcError {
        RpcError::internal(format!("Invalid params: {detail}"))
    }
}
