//! The network node: a libp2p Swarm on its own thread, with its own current-thread tokio runtime,
//! that keeps one kernel channel per peer and tells the kernel what happens. It holds no durable
//! state: sequence numbers, pending frames and acknowledgements are the kernel's
//! ([`super::reliable`]); the node only moves frames the kernel has committed and runs timers.
//!
//! The kernel talks to it with [`NetCommand`]s through a [`NetHandle`] and hears from it through
//! an event callback ([`NetEvent`]). docs/remote.md "Kernel integration" is the contract.

mod channel;
mod dial;
mod run;
pub(crate) mod transport;

pub use dial::{backoff, candidates};

use libp2p::{Multiaddr, PeerId};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

/// Limits and timings; the defaults are the reference's (remote-comms.md §8).
#[derive(Clone, Debug)]
pub struct NetLimits {
    /// A handshake (negotiation, both frames and the kernel's verdict) must finish in this.
    pub handshake_timeout: Duration,
    /// One frame write must finish in this, or the channel is dropped.
    pub write_timeout: Duration,
    /// One dial, over all candidate addresses, must connect in this.
    pub dial_timeout: Duration,
    /// Established connections at most (incoming and outgoing).
    pub max_connections: u32,
    /// Frames read from one peer per second at most (reading pauses beyond it; nothing is lost).
    pub max_frames_per_sec: u32,
    /// Dials of one peer per minute at most.
    pub max_dials_per_minute: usize,
    /// First reconnection delay; doubles per failure, with full jitter.
    pub reconnect_base: Duration,
    /// Longest reconnection delay.
    pub reconnect_max: Duration,
    /// Failed dials before the peer is given up on (0: never; the reference's `maxRetryAttempts`).
    pub max_retry_attempts: u32,
    /// A channel with no frame either way for this long is closed.
    pub idle_timeout: Duration,
    /// Standalone acknowledgements wait this long for a frame to ride on.
    pub ack_delay: Duration,
    /// Bytes of frames from one peer that the kernel may have yet to handle: reading from the
    /// peer pauses beyond it until the kernel catches up (each frame counts its length plus
    /// [`FRAME_OVERHEAD`]), so a fast peer cannot grow the kernel's queue without bound.
    pub max_unhandled_bytes: u32,
    /// Relay reservations are retried from this delay …
    pub relay_reconnect_base: Duration,
    /// … up to this one …
    pub relay_reconnect_max: Duration,
    /// … this many times.
    pub relay_reconnect_attempts: u32,
}

impl Default for NetLimits {
    fn default() -> Self {
        NetLimits {
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            dial_timeout: Duration::from_secs(30),
            max_connections: 100,
            max_frames_per_sec: 100,
            max_dials_per_minute: 10,
            reconnect_base: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(10),
            max_retry_attempts: 0,
            idle_timeout: Duration::from_secs(120),
            ack_delay: Duration::from_millis(50),
            max_unhandled_bytes: 8 << 20,
            relay_reconnect_base: Duration::from_secs(5),
            relay_reconnect_max: Duration::from_secs(60),
            relay_reconnect_attempts: 10,
        }
    }
}

/// What one frame costs of [`NetLimits::max_unhandled_bytes`] besides its length: the event
/// around it.
pub const FRAME_OVERHEAD: u32 = 256;

/// A frame's share of its peer's [`NetLimits::max_unhandled_bytes`], given back when dropped
/// (once the kernel has handled the frame).
#[derive(Debug, Default)]
pub struct Credit {
    /// Held only to be dropped.
    _permit: Option<OwnedSemaphorePermit>,
}

impl Credit {
    /// A credit that holds nothing (for frames made up outside the node, as in tests).
    pub fn none() -> Credit {
        Credit { _permit: None }
    }

    pub(super) fn of(permit: OwnedSemaphorePermit) -> Credit {
        Credit {
            _permit: Some(permit),
        }
    }
}

/// What the node needs to start.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// The kernel's Ed25519 `keySeed`: the node's libp2p identity.
    pub key_seed: [u8; 32],
    /// The kernel's `incarnationId`, sent in every handshake.
    pub incarnation_id: String,
    /// Addresses to listen on directly (`directListenAddresses`: `/ip4/…/tcp/…[/ws]`).
    pub listen: Vec<Multiaddr>,
    /// Known relays (`…/p2p/<relay>`): reservations are kept on each, and peers are dialled
    /// through them when no direct hint works.
    pub relays: Vec<Multiaddr>,
    /// Limits and timings.
    pub limits: NetLimits,
}

/// The kernel's word on a handshake, from the incarnation the peer announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// First sighting or the same incarnation: the channel is used.
    Accept,
    /// A different incarnation than on file: the kernel reset the peer's state (and committed);
    /// the channel is closed as the reference does, and the next dial proceeds normally.
    PeerRestarted,
}

/// Where the kernel answers a [`NetEvent::Handshake`]. Dropping it without an answer refuses
/// the channel.
#[derive(Debug)]
pub struct VerdictReply(oneshot::Sender<Verdict>);

impl VerdictReply {
    /// A reply and where its verdict arrives (for hosts that stand in for the node, as tests
    /// of the kernel do).
    pub fn channel() -> (VerdictReply, oneshot::Receiver<Verdict>) {
        let (tx, rx) = oneshot::channel();
        (VerdictReply(tx), rx)
    }

    /// Answers the handshake (after the kernel committed what the verdict implies).
    pub fn send(self, verdict: Verdict) {
        let _ = self.0.send(verdict);
    }
}

/// Commands from the kernel. Peers are named by their peer id text (`12D3KooW…`).
#[derive(Debug)]
pub enum NetCommand {
    /// Send a frame the kernel has committed (its `remotePending` write, if any, is durable).
    /// With no channel up the node dials and drops the frame: the kernel resends everything
    /// pending on [`NetEvent::ChannelUp`]. `ack` is the acknowledgement the frame carries.
    Send {
        /// The peer.
        peer: String,
        /// The frame text (JSON).
        frame: String,
        /// Its piggy-backed `ack`, which makes a delayed standalone ack up to it unnecessary.
        ack: Option<u64>,
    },
    /// Everything up to `upto` was applied and committed: acknowledge it, piggy-backed on the
    /// next frame within the ack delay or else as a standalone `{"ack":upto}`.
    Ack {
        /// The peer.
        peer: String,
        /// Highest committed sequence number received.
        upto: u64,
    },
    /// Open a channel to the peer if none is up (pending frames to resend).
    Connect {
        /// The peer.
        peer: String,
    },
    /// Addresses where the peer may be found (URL hints, `registerLocationHints`).
    Hints {
        /// The peer.
        peer: String,
        /// Multiaddrs; a hint whose last `/p2p/` is the peer is direct, any other is a relay.
        hints: Vec<String>,
    },
    /// More known relays (from redeemed URLs).
    Relays(Vec<String>),
    /// Emit [`NetEvent::Wake`] for the peer at `at` (the session's acknowledgement deadline);
    /// replaces the previous one.
    WakeAt {
        /// The peer.
        peer: String,
        /// When.
        at: Instant,
    },
    /// Close the peer's channel and forget everything about it (hints, backoff, timers).
    Forget {
        /// The peer.
        peer: String,
    },
    /// Emit [`NetEvent::Alarm`] at `at` (the kernel's own deadlines, such as URL redemption
    /// timeouts); replaces the previous alarm.
    AlarmAt {
        /// When.
        at: Instant,
    },
}

/// Events for the kernel.
#[derive(Debug)]
pub enum NetEvent {
    /// The addresses the node can be reached at now (direct and relayed, each ending in
    /// `/p2p/<self>`); sent whenever the set changes.
    Listening {
        /// The addresses.
        addrs: Vec<String>,
    },
    /// A peer completed a handshake: the kernel checks `incarnation` against
    /// `peerIncarnation.<peer>`, commits, and answers.
    Handshake {
        /// The peer.
        peer: String,
        /// Its announced incarnation.
        incarnation: String,
        /// Where to answer.
        reply: VerdictReply,
    },
    /// A channel to the peer is up: resend every pending frame, in order.
    ChannelUp {
        /// The peer.
        peer: String,
    },
    /// A frame from the peer (not a handshake frame), as received.
    Frame {
        /// The peer.
        peer: String,
        /// The bytes (JSON text; the kernel decodes it).
        frame: Vec<u8>,
        /// Its share of the peer's budget of unhandled frames, given back when the event is
        /// dropped.
        credit: Credit,
    },
    /// The peer's channel is gone (the kernel asks for [`NetCommand::Connect`] if it has
    /// frames pending).
    ChannelDown {
        /// The peer.
        peer: String,
        /// Why.
        reason: String,
    },
    /// A deadline set by [`NetCommand::WakeAt`] passed.
    Wake {
        /// The peer.
        peer: String,
    },
    /// The time set by [`NetCommand::AlarmAt`] came.
    Alarm,
    /// Reconnecting failed for good (`max_retry_attempts` attempts, a dial or no address known
    /// counting as one): the kernel gives up on the peer.
    GiveUp {
        /// The peer.
        peer: String,
        /// Why.
        reason: String,
    },
}

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A configured address is not usable.
    #[error("{0}")]
    Config(String),
    /// Setting up the transport or the runtime failed.
    #[error("cannot start the network: {0}")]
    Start(String),
}

/// The running node.
pub struct NetHandle {
    commands: mpsc::UnboundedSender<Control>,
    thread: Option<std::thread::JoinHandle<()>>,
    peer_id: String,
}

/// What crosses from the handle to the node's thread.
enum Control {
    Command(NetCommand),
    Stop,
}

impl NetHandle {
    /// Starts the node on its own thread. `events` is called on that thread for every event
    /// (the kernel forwards them into its command channel).
    pub fn start(
        config: NetConfig,
        events: impl FnMut(NetEvent) + Send + 'static,
    ) -> Result<NetHandle, NetError> {
        let (commands, rx) = mpsc::unbounded_channel();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ocap-net".into())
            .spawn(move || run::thread(config, rx, Box::new(events), started_tx))
            .map_err(|e| NetError::Start(e.to_string()))?;
        match started_rx.recv() {
            Ok(Ok(peer_id)) => Ok(NetHandle {
                commands,
                thread: Some(thread),
                peer_id,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(NetError::Start("the network thread died".into()))
            }
        }
    }

    /// The node's peer id.
    pub fn peer_id(&self) -> &str {
        &self.peer_id
    }

    /// Hands a command to the node; false if it has stopped.
    pub fn send(&self, command: NetCommand) -> bool {
        self.commands.send(Control::Command(command)).is_ok()
    }

    /// Closes every connection and stops the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.commands.send(Control::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for NetHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The libp2p peer id of a `keySeed` (the same text as the kernel's `peer_id_of`).
pub fn peer_id_of(seed: &[u8; 32]) -> String {
    keypair(seed)
        .map(|k| k.public().to_peer_id().to_string())
        .unwrap_or_default()
}

fn keypair(seed: &[u8; 32]) -> Result<libp2p::identity::Keypair, NetError> {
    libp2p::identity::Keypair::ed25519_from_bytes(*seed).map_err(|e| NetError::Start(e.to_string()))
}

/// Parses a peer id text.
fn parse_peer(text: &str) -> Option<PeerId> {
    text.parse().ok()
}

/// Checks a peer id text (`12D3KooW…`).
pub fn parse_peer_id(text: &str) -> Result<(), String> {
    parse_peer(text)
        .map(drop)
        .ok_or_else(|| format!("invalid peer id {text:?}"))
}

/// Checks a location hint or relay address the way the node will use it (for the RPC layer to
/// refuse bad ones up front).
pub fn parse_addr(text: &str) -> Result<Multiaddr, String> {
    text.parse::<Multiaddr>()
        .map_err(|e| format!("invalid multiaddr {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_has_the_kernels_peer_id() {
        // The seed of crate::kernel::identity's test, and the reference relay's seed [200, 0…].
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            peer_id_of(&seed),
            "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB"
        );
        let mut relay = [0u8; 32];
        relay[0] = 200;
        assert_eq!(
            peer_id_of(&relay),
            "12D3KooWJBDqsyHQF2MWiCdU4kdqx4zTsSTLRdShg7Ui6CRWB4uc"
        );
    }
}
