//! The kernel's tunables.

use std::time::Duration;

/// Tunables of the kernel.
#[derive(Debug, Clone, Copy)]
pub struct KernelOptions {
    /// How long one delivery may take before the vat is terminated.
    pub delivery_budget: Duration,
    /// After this many deliveries a vat gets `bringOutYourDead`, so vat-level GC runs.
    pub reap_interval: u32,
}

impl Default for KernelOptions {
    fn default() -> KernelOptions {
        KernelOptions {
            // The default: generous for any real delivery (a few ms), short enough that
            // a looping vat is stopped before its callers give up.
            delivery_budget: Duration::from_secs(2),
            reap_interval: 100,
        }
    }
}

/// How remote comms run (the config file's `remote-*` keys and `ocapd`'s `--remote-*` flags);
/// `initRemoteComms` options come on top (docs/remote.md).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSettings {
    /// Start remote comms at boot even if `initRemoteComms` was never called.
    pub start: bool,
    /// Direct listen addresses used when `initRemoteComms` gives none.
    pub listen: Vec<String>,
    /// Relays known besides those `initRemoteComms` gives.
    pub relays: Vec<String>,
    /// Frames read from one peer per second at most.
    pub max_frames_per_sec: u32,
    /// Established connections at most.
    pub max_connections: u32,
    /// Time without acknowledgement before pending frames are resent (3 resends, then the peer
    /// is given up on); URL redemptions time out after 4 times it.
    pub ack_timeout: Duration,
    /// Remote endpoints this kernel keeps at most: a handshake from a new peer beyond it is
    /// refused.
    pub max_remotes: usize,
}

impl Default for RemoteSettings {
    fn default() -> RemoteSettings {
        RemoteSettings {
            start: false,
            listen: Vec::new(),
            relays: Vec::new(),
            // The reference's figures (remote-comms.md §8).
            max_frames_per_sec: 100,
            max_connections: 100,
            ack_timeout: Duration::from_secs(10),
            max_remotes: 1024,
        }
    }
}
