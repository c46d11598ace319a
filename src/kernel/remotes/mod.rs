//! Remote comms inside the kernel (docs/remote.md "Kernel integration"): the [`Remotes`] owner
//! holds what remote comms keep in memory — the network node's link, the delivery
//! [`Driver`] (a cache of the stored sessions plus what waits for the commit), each peer's
//! connection state and recent errors — and the files beside it hold the kernel's behaviour
//! towards remotes, one concern each:
//!
//! - `host`: the driver's [`Host`](crate::remote::driver::Host) over the kernel, and the
//!   handling of the node's events (`Command::Remote`).
//! - `translate`: refs between kernel space and a remote's space (the polarity flip).
//! - `deliver`: what the kernel sends a remote (messages, notifies, GC, `bringOutYourDead`).
//! - `apply`: what a remote sends the kernel.
//! - `redeem`: OCAP URL redemption across kernels, both sides, and its timeouts.
//! - `lifecycle`: starting and stopping remote comms, their options, hints and relays.
//! - `peers`: the status (`getStatus.remoteComms`) and `listPeers`.

mod apply;
mod deliver;
mod host;
mod lifecycle;
mod peers;
mod redeem;
mod translate;

pub(in crate::kernel) use deliver::RemoteGc;
pub use lifecycle::RemoteOptions;

use super::options::RemoteSettings;
use crate::remote::driver::Driver;
use crate::remote::node::{NetCommand, NetConfig, NetEvent, NetHandle};
use crate::remote::reliable::Limits;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

/// Where the node's events go: the kernel's command channel. The number is the generation of
/// the node that produced the event, so that events of a node since replaced are dropped.
pub type Sink = Arc<dyn Fn(u64, NetEvent) + Send + Sync>;

/// What the kernel needs of a running network node.
pub trait NetLink: Send {
    /// Hands a command to the node; false if it has stopped.
    fn send(&self, command: NetCommand) -> bool;
    /// The node's peer id.
    fn peer_id(&self) -> String;
}

impl NetLink for NetHandle {
    fn send(&self, command: NetCommand) -> bool {
        NetHandle::send(self, command)
    }

    fn peer_id(&self) -> String {
        NetHandle::peer_id(self).to_string()
    }
}

/// Starts a node with a config and an event callback (the real one, or a test's).
pub type Starter = Box<
    dyn Fn(NetConfig, Box<dyn FnMut(NetEvent) + Send>) -> Result<Box<dyn NetLink>, String> + Send,
>;

/// The real node.
fn start_node(
    config: NetConfig,
    events: Box<dyn FnMut(NetEvent) + Send>,
) -> Result<Box<dyn NetLink>, String> {
    NetHandle::start(config, events)
        .map(|handle| Box::new(handle) as Box<dyn NetLink>)
        .map_err(|e| e.to_string())
}

/// Remote comms while they run.
struct Running {
    link: Box<dyn NetLink>,
    options: RemoteOptions,
    listening: Vec<String>,
}

/// A peer's connection as the node last reported it (in memory; for `listPeers`).
#[derive(Debug, Clone, Default)]
struct PeerStatus {
    connected: bool,
    since: Option<u64>,
    gave_up: bool,
    errors: Vec<String>,
}

/// Errors kept per peer, newest last.
const ERRORS_KEPT: usize = 8;
/// Longest error text kept.
const ERROR_CHARS: usize = 300;

/// Everything remote comms keep in memory. Owned by the kernel thread.
pub struct Remotes {
    settings: RemoteSettings,
    /// The sessions and what waits for the commit; `None` only while a `Host` call runs
    /// (the driver is taken out to be handed the kernel).
    driver: Option<Driver>,
    running: Option<Running>,
    sink: Option<Sink>,
    starter: Starter,
    /// Bumped at every start: events of older nodes are dropped.
    generation: u64,
    /// For each open savepoint, whether the driver took part in it (see `savepoint`).
    marks: Vec<bool>,
    /// Restart the node after the next commit (`clearState` made a new incarnation).
    restart: bool,
    peers: BTreeMap<String, PeerStatus>,
    /// Peer id → remote id, checked against the store on use.
    by_peer: HashMap<String, String>,
    /// Messages sent to each remote since its last `bringOutYourDead`.
    deliveries: HashMap<String, u32>,
    /// When each peer last had the kernel reap its vats for it.
    reaps: HashMap<String, Instant>,
    /// URL openings for remote peers: a token bucket (tokens, last refill).
    openings: (f64, Instant),
    /// When `lastActiveTime` was last written.
    last_active: Option<Instant>,
    /// The alarm last set on the node (a redemption's deadline).
    alarm: Option<u64>,
    /// New objects and promises the frame being applied made so far (bounded per frame).
    made_in_frame: usize,
}

impl Remotes {
    /// Remote comms configured by `settings`, not running.
    pub fn new(settings: RemoteSettings) -> Remotes {
        let driver = Driver::new(limits(&settings, None));
        Remotes {
            settings,
            driver: Some(driver),
            running: None,
            sink: None,
            starter: Box::new(start_node),
            generation: 0,
            marks: Vec::new(),
            restart: false,
            peers: BTreeMap::new(),
            by_peer: HashMap::new(),
            deliveries: HashMap::new(),
            reaps: HashMap::new(),
            openings: (OPENINGS_BURST, Instant::now()),
            last_active: None,
            alarm: None,
            made_in_frame: 0,
        }
    }

    /// Whether remote comms run.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Sets where the node's events go.
    pub fn set_sink(&mut self, sink: Sink) {
        self.sink = Some(sink);
    }

    /// Replaces how nodes are started (tests put a simulated network here).
    #[cfg(test)]
    pub fn set_starter(&mut self, starter: Starter) {
        self.starter = starter;
    }

    /// Whether `generation` is the running node's (older nodes' events are dropped).
    pub fn is_current(&self, generation: u64) -> bool {
        self.running.is_some() && generation == self.generation
    }

    /// A savepoint begins: the driver marks it, if it is in place (inside a `Host` call it is
    /// not, and nothing there can reach it).
    pub fn savepoint(&mut self) {
        let present = self.driver.is_some();
        if let Some(driver) = &mut self.driver {
            driver.savepoint();
        }
        self.marks.push(present);
    }

    /// The innermost savepoint is kept.
    pub fn release_savepoint(&mut self) {
        if self.marks.pop() == Some(true)
            && let Some(driver) = &mut self.driver
        {
            driver.release_savepoint();
        }
    }

    /// The innermost savepoint is undone.
    pub fn rollback_savepoint(&mut self) {
        if self.marks.pop() == Some(true)
            && let Some(driver) = &mut self.driver
        {
            driver.rollback_savepoint();
        }
    }

    /// Whether frames, acknowledgements or verdicts wait for the commit.
    pub fn has_held(&self) -> bool {
        self.driver.as_ref().is_some_and(Driver::has_held)
    }

    /// The batch committed: what waited for it goes to the node (or, with no node running, is
    /// dropped: the frames are stored and resent when one runs).
    pub fn release(&mut self) {
        let Some(driver) = &mut self.driver else {
            return;
        };
        match &self.running {
            Some(running) => driver.release(|command| {
                running.link.send(command);
            }),
            None => driver.release(drop),
        }
    }

    /// The batch was lost: everything it held is dropped and the sessions it touched are
    /// rebuilt from the store. A restart asked for stays asked for: the old node no longer
    /// hears from the kernel, and a new one starts from what the store holds.
    pub fn rolled_back(&mut self) {
        if let Some(driver) = &mut self.driver {
            driver.rolled_back();
        }
        self.marks.clear();
    }

    /// Sends a command that carries nothing uncommitted (hints, a connect, a timer).
    fn command(&self, command: NetCommand) {
        if let Some(running) = &self.running {
            running.link.send(command);
        }
    }

    /// This node's peer id, while running.
    fn own_peer(&self) -> Option<String> {
        self.running.as_ref().map(|r| r.link.peer_id())
    }

    /// Notes what the node said about a peer's connection (for `listPeers`).
    fn note_event(&mut self, event: &NetEvent) {
        let now = super::clock::now_ms();
        match event {
            NetEvent::ChannelUp { peer } => {
                let status = self.peers.entry(peer.clone()).or_default();
                status.connected = true;
                status.gave_up = false;
                status.since = Some(now);
            }
            NetEvent::ChannelDown { peer, reason } => {
                let status = self.peers.entry(peer.clone()).or_default();
                status.connected = false;
                status.since = Some(now);
                note_error(status, &format!("channel closed: {reason}"));
            }
            NetEvent::GiveUp { peer, reason } => {
                let status = self.peers.entry(peer.clone()).or_default();
                status.gave_up = true;
                note_error(status, &format!("given up: {reason}"));
            }
            _ => {}
        }
        // Peers the node reports come and go; the map stays bounded by what the kernel keeps.
        if self.peers.len() > self.settings.max_remotes.saturating_mul(2) {
            let gone: Vec<String> = self
                .peers
                .iter()
                .filter(|(_, s)| !s.connected)
                .map(|(p, _)| p.clone())
                .collect();
            for peer in gone {
                self.peers.remove(&peer);
            }
        }
    }

    /// Records an error about a peer (a refused frame, a lost connection).
    fn note_error(&mut self, peer: &str, error: &str) {
        if self.peers.len() <= self.settings.max_remotes.saturating_mul(2) {
            note_error(self.peers.entry(peer.to_string()).or_default(), error);
        }
    }
}

fn note_error(status: &mut PeerStatus, error: &str) {
    let mut text: String = error.chars().take(ERROR_CHARS).collect();
    if text.len() < error.len() {
        text.push('…');
    }
    status.errors.push(text);
    if status.errors.len() > ERRORS_KEPT {
        status.errors.remove(0);
    }
}

/// New objects and promises one frame from a peer may make here at most: each costs rows and
/// c-list entries until the vats drop them, so a peer must not make them without bound.
const MADE_PER_FRAME: usize = 1024;

/// URL openings for remote peers allowed at once, and per second after that: each costs
/// PBKDF2 (milliseconds of the kernel thread) unless the same URL was opened before.
const OPENINGS_BURST: f64 = 40.0;
const OPENINGS_PER_SEC: f64 = 20.0;

/// The delivery limits for sessions: the settings' acknowledgement timeout and the
/// `maxQueue` option (0 or absent: the reference's 200).
fn limits(settings: &RemoteSettings, max_queue: Option<u64>) -> Limits {
    let ack = u64::try_from(settings.ack_timeout.as_millis()).unwrap_or(u64::MAX);
    let defaults = Limits::default();
    Limits {
        max_pending: max_queue
            .filter(|&q| q > 0)
            .map_or(defaults.max_pending, |q| {
                usize::try_from(q).unwrap_or(usize::MAX)
            }),
        ack_timeout_ms: ack.max(1),
        // Longer than one acknowledgement timeout, shorter than three resends (the default's
        // 15 s against 10 s).
        gap_grace_ms: ack.saturating_mul(3) / 2,
        ..defaults
    }
}
