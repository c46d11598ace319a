//! Client errors and the exit codes `ocapctl` maps them to (documented in its `--help`).

use crate::jsonrpc::{RpcError, codes};
use std::path::PathBuf;

/// `ocapctl`'s exit codes.
pub mod exit_codes {
    /// The daemon answered with an error, or the command failed.
    pub const FAILURE: u8 = 1;
    /// Bad command-line usage.
    pub const USAGE: u8 = 2;
    /// No daemon could be reached (sysexits `EX_UNAVAILABLE`).
    pub const UNAVAILABLE: u8 = 69;
    /// The daemon sent something that is not a JSON-RPC response (`EX_PROTOCOL`).
    pub const PROTOCOL: u8 = 76;
    /// The daemon refused this user (`EX_NOPERM`).
    pub const NO_PERMISSION: u8 = 77;
}

/// Why a client command failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing serves the socket; the hint says what to do on this system.
    #[error("no ocap daemon is serving {socket}\n{hint}")]
    Unavailable {
        /// The socket tried.
        socket: PathBuf,
        /// What to do about it.
        hint: String,
    },
    /// The socket exists but this user may not connect to it.
    #[error("permission denied on {0}: it belongs to another user's daemon")]
    NoPermission(PathBuf),
    /// The daemon answered with a JSON-RPC error.
    #[error("{0}")]
    Rpc(RpcError),
    /// The daemon's answer could not be understood.
    #[error("{0}")]
    Protocol(String),
    /// The daemon did not answer in time.
    #[error("Socket read timed out")]
    Timeout,
    /// The user's input is wrong.
    #[error("{0}")]
    Usage(String),
    /// Anything else.
    #[error("{0}")]
    Failed(String),
}

impl ClientError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Unavailable { .. } => exit_codes::UNAVAILABLE,
            ClientError::NoPermission(_) => exit_codes::NO_PERMISSION,
            ClientError::Rpc(e) if e.code == codes::ACCESS_DENIED => exit_codes::NO_PERMISSION,
            ClientError::Protocol(_) => exit_codes::PROTOCOL,
            _ => exit_codes::FAILURE,
        }
    }

    /// The line(s) printed on stderr: RPC errors exactly as the reference CLI prints them.
    pub fn report(&self) -> String {
        match self {
            ClientError::Rpc(e) => format!("Error: {} (code {})", e.message, e.code),
            other => format!("Error: {other}"),
        }
    }
}
