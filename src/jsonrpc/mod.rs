//! The control socket's wire protocol, shared by `ocapd` and `ocapctl` (spec §1.3, §1.4).
//!
//! One `\n`-terminated JSON-RPC 2.0 request per connection, one `\n`-terminated response, then
//! close. This module holds only pure types and parsing: no I/O, no async runtime, so the client
//! binary can use it without pulling in the daemon's dependencies.

mod error;
mod framing;
mod id;
mod request;
mod response;

pub use error::{RpcError, codes};
pub use framing::{Frame, LineBuffer};
pub use id::RequestId;
pub use request::{Request, client_request_line};
pub use response::{Response, ResponseParseError};
