//! IO channels (spec §3.4): a subcluster's `io` config opens channels that its vats use through
//! kernel services named `io:<subclusterId>:<channelName>`, with `read() → string|null` and
//! `write(string)`. Like the reference's Node platform, only the `socket` type exists: a Unix
//! socket server at `path`, one client at a time, lines in and out.
//!
//! The parts: `config` reads an `IOConfig`; `socket` binds and removes the socket file on the
//! kernel thread; `thread` is the IO thread whose runtime runs `serve`'s tasks (accepting,
//! reading, writing); `lines` cuts the bytes a client sends into lines; `inbox` is what those
//! tasks share with the kernel (input within a budget, the connected client, output waiting);
//! `channels` is the kernel's owner of its open channels ([`IoChannels`]); `service` is the
//! kernel's logic over them.

mod channels;
mod config;
mod inbox;
mod lines;
mod serve;
mod service;
mod socket;
mod thread;

pub use channels::{ChannelInfo, IoChannels, MAX_CHANNELS};
pub use service::{IoJob, check_io};
#[cfg(test)]
pub use {inbox::MAX_LINE, inbox::MAX_QUEUED, service::MAX_PENDING_READS};
