//! The blocking client behind `ocapctl`: its command line ([`options`]) and what each command
//! does ([`run()`]); connect and call, start, stop and purge a daemon, and the kernel commands'
//! arguments and output ([`commands`]).
//!
//! Plain `std` I/O only: `ocapctl` must start in a few milliseconds and stay small, so nothing
//! here may use the async runtime, SQLite or the JavaScript engine.

mod activation;
pub mod bundle;
mod call;
pub mod capfile;
pub mod caps;
pub mod commands;
pub mod console;
pub mod doctor;
mod error;
pub mod ids;
pub mod launch;
pub mod logs;
pub mod manual;
pub mod options;
pub mod output;
pub mod params;
pub mod peers;
mod purge;
mod run;
pub mod send;
mod start;
mod stop;

pub use call::{Connection, call};
pub use error::{ClientError, exit_codes};
pub use purge::purge;
pub use run::run;
pub use start::{ensure_daemon, is_serving};
pub use stop::{StopOutcome, stop};

use crate::paths::Paths;
use std::path::PathBuf;
use std::time::Duration;

/// Which daemon a command talks to, and how.
#[derive(Debug, Clone)]
pub struct Target {
    /// Socket, database and log paths, resolved like the daemon resolves them.
    pub paths: Paths,
    /// The socket came from `--socket` (passed on to a daemon that `ocapctl` starts).
    pub explicit_socket: Option<PathBuf>,
    /// How long to wait for a reply; `None` waits as long as the daemon takes.
    pub timeout: Option<Duration>,
}

impl Target {
    /// A target at `paths`.
    pub fn new(paths: Paths, explicit_socket: Option<PathBuf>) -> Target {
        Target {
            paths,
            explicit_socket,
            timeout: None,
        }
    }
}
