//! ocap: an object-capability kernel that runs as an operating-system service.
//!
//! A map of the crate:
//! - [`paths`]: where the socket, database, lock and log live; shared by both binaries.
//! - [`jsonrpc`]: the control socket's JSON-RPC framing, requests, responses and error codes.
//! - [`peer`]: who is at the other end of a Unix socket (peer credentials).
//! - [`random`]: OS randomness and UUIDs.
//! - [`lockfile`]: the one-daemon-per-database lock, and a probe for it.
//! - [`ownership`]: whether another user could change the daemon's folders; the real paths to use.
//! - [`log_file`]: the detached daemon's log file, rotated at a size; shared by both binaries.
//! - [`capdata`]: the smallcaps CapData encoding (spec §8).
//! - [`client`]: the blocking client behind `ocapctl`: connect, call, start, stop, purge.
//! - [`daemon`]: `ocapd`'s service shell: activation, locking, serving, signals, readiness.
//! - [`kernel`]: the kernel thread and its SQLite store.
//! - [`manpage`]: manual pages from the clap definitions, for both binaries.
//! - [`vat`]: the `VatRuntime` seam: deliveries, syscalls and results (spec §7).
//! - [`remote`]: kernel-to-kernel federation over libp2p (feature `remote`).
//! - [`vatsource`]: plain ES-module vat sources turned into reference bundles (no JavaScript engine).
//!
//! `ocapctl` uses only `paths`, `jsonrpc`, `peer`, `lockfile`, `ownership`, `log_file`, `random`,
//! `capdata`, `vatsource` and `client`, so it carries no
//! async runtime, no SQLite and no JavaScript engine.

#![warn(missing_docs)]

pub mod capdata;
pub mod client;
pub mod daemon;
pub mod jsonrpc;
pub mod kernel;
pub mod lockfile;
pub mod log_file;
pub mod manpage;
pub mod ownership;
pub mod paths;
pub mod peer;
pub mod random;
#[cfg(feature = "remote")]
pub mod remote;
pub mod vat;
pub mod vatsource;
