//! The two sockets a client can come in on, which decide what it may do.

/// Which socket a connection came in on; it decides what the client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The control socket: the daemon's own user (and root), every method.
    Control,
    /// The capability socket: anyone, only what presented capabilities allow.
    Capabilities,
}
