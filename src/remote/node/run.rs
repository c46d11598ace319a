//! The node's event loop: the Swarm, the wrapped connections, the channels, and the timers.

use super::super::muxer::{ConnId, MuxEvent, MuxSink, Opener};
use super::super::negotiate;
use super::super::wire::Frame;
use super::channel::{self, ChanCtx, ChanEvent, Role};
use super::dial::{backoff, candidates, last_peer};
use super::transport::{self, Behaviour, BehaviourEvent};
use super::{
    Control, NetCommand, NetConfig, NetError, NetEvent, VerdictReply, keypair, parse_addr,
    parse_peer,
};
use libp2p::core::transport::ListenerId;
use libp2p::futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, relay};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::num::NonZeroU8;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Instant, timeout};

/// Inbound channels from one peer that may be handshaking at once.
const MAX_HANDSHAKING: usize = 4;

/// How often idle channels are looked for, at most.
const HOUSEKEEPING: Duration = Duration::from_secs(5);

type Events = Box<dyn FnMut(NetEvent) + Send>;

/// The thread's body: builds the runtime and the Swarm, reports the start, runs until stopped.
pub(super) fn thread(
    config: NetConfig,
    commands: mpsc::UnboundedReceiver<Control>,
    events: Events,
    started: std::sync::mpsc::Sender<Result<String, NetError>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = started.send(Err(NetError::Start(e.to_string())));
            return;
        }
    };
    runtime.block_on(async move {
        match Node::new(config, events) {
            Ok(node) => {
                let _ = started.send(Ok(node.local.to_string()));
                node.run(commands).await;
            }
            Err(e) => {
                let _ = started.send(Err(e));
            }
        }
    });
}

/// A live channel.
struct Live {
    chan: u64,
    writer: mpsc::Sender<Vec<u8>>,
    role: Role,
    since: Instant,
}

/// An outgoing dial in progress.
struct Dialing {
    id: ConnectionId,
    deadline: Instant,
}

/// What the node knows about one peer.
struct Peer {
    hints: Vec<Multiaddr>,
    channel: Option<Live>,
    /// An outbound channel being opened (substream, negotiation, handshake).
    opening: Option<u64>,
    /// Inbound channels still handshaking.
    handshaking: HashSet<u64>,
    dialing: Option<Dialing>,
    /// The kernel wants a channel (it has sent, or asked to connect).
    want: bool,
    failures: u32,
    retry_at: Option<Instant>,
    dials: VecDeque<Instant>,
    /// Highest acknowledgement sent (piggy-backed or standalone).
    acked: u64,
    ack_due: Option<(u64, Instant)>,
    wake_at: Option<Instant>,
    last_activity: Instant,
    /// Bytes of its frames the kernel may have yet to handle (see `NetLimits`).
    budget: Arc<Semaphore>,
}

impl Peer {
    fn new(budget: u32) -> Peer {
        Peer {
            hints: Vec::new(),
            channel: None,
            opening: None,
            handshaking: HashSet::new(),
            dialing: None,
            want: false,
            failures: 0,
            retry_at: None,
            dials: VecDeque::new(),
            acked: 0,
            ack_due: None,
            wake_at: None,
            last_activity: Instant::now(),
            budget: Arc::new(Semaphore::new(budget.max(1) as usize)),
        }
    }
}

/// A wrapped connection.
struct Conn {
    peer: PeerId,
    opener: Opener,
    relayed: bool,
}

/// A known relay and our reservation on it.
struct Relay {
    addr: Multiaddr,
    listener: Option<ListenerId>,
    attempts: u32,
    retry_at: Option<Instant>,
}

struct Node {
    swarm: Swarm<Behaviour>,
    local: PeerId,
    config: NetConfig,
    events: Events,
    mux_control: mpsc::UnboundedReceiver<MuxEvent>,
    mux_inbound: mpsc::Receiver<MuxEvent>,
    chan_tx: mpsc::UnboundedSender<ChanEvent>,
    chan_rx: mpsc::UnboundedReceiver<ChanEvent>,
    peers: HashMap<PeerId, Peer>,
    conns: HashMap<ConnId, Conn>,
    next_chan: u64,
    listening: BTreeSet<Multiaddr>,
    relays: Vec<Relay>,
    /// The kernel's alarm (`NetCommand::AlarmAt`).
    alarm: Option<Instant>,
}

impl Node {
    fn new(config: NetConfig, events: Events) -> Result<Node, NetError> {
        let keypair = keypair(&config.key_seed)?;
        let local = keypair.public().to_peer_id();
        let (control_tx, mux_control) = mpsc::unbounded_channel();
        let (inbound_tx, mux_inbound) = mpsc::channel(64);
        let sink = MuxSink {
            control: control_tx,
            inbound: inbound_tx,
        };
        let (transport, behaviour) = transport::build(&keypair, &config.limits, sink)?;
        // Kernel channels are invisible to the Swarm's keep-alive; the node closes idle
        // connections itself.
        let swarm_config = libp2p::swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(365 * 24 * 3600));
        let mut swarm = Swarm::new(transport, behaviour, local, swarm_config);
        for addr in &config.listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| NetError::Config(format!("cannot listen on {addr}: {e}")))?;
        }
        let mut relays = Vec::new();
        for addr in &config.relays {
            if last_peer(addr).is_none() {
                return Err(NetError::Config(format!(
                    "relay address {addr} does not end in /p2p/<relay peer id>"
                )));
            }
            relays.push(Relay {
                addr: addr.clone(),
                listener: None,
                attempts: 0,
                retry_at: Some(Instant::now()),
            });
        }
        let (chan_tx, chan_rx) = mpsc::unbounded_channel();
        Ok(Node {
            swarm,
            local,
            config,
            events,
            mux_control,
            mux_inbound,
            chan_tx,
            chan_rx,
            peers: HashMap::new(),
            conns: HashMap::new(),
            next_chan: 1,
            listening: BTreeSet::new(),
            relays,
            alarm: None,
        })
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Control>) {
        loop {
            let next = self.next_deadline();
            tokio::select! {
                control = commands.recv() => match control {
                    Some(Control::Command(command)) => self.command(command),
                    Some(Control::Stop) | None => break,
                },
                event = self.swarm.select_next_some() => self.swarm_event(event),
                Some(event) = self.mux_control.recv() => self.mux_event(event),
                Some(event) = self.mux_inbound.recv() => self.mux_event(event),
                Some(event) = self.chan_rx.recv() => self.chan_event(event),
                _ = tokio::time::sleep_until(next) => {}
            }
            self.timers();
        }
        for peer in self.peers.values_mut() {
            peer.channel = None;
        }
    }

    fn emit(&mut self, event: NetEvent) {
        (self.events)(event);
    }

    fn peer(&mut self, peer: PeerId) -> &mut Peer {
        let budget = self.config.limits.max_unhandled_bytes;
        self.peers.entry(peer).or_insert_with(|| Peer::new(budget))
    }

    fn command(&mut self, command: NetCommand) {
        let now = Instant::now();
        let named = |text: &str| {
            let parsed = parse_peer(text);
            if parsed.is_none() {
                tracing::warn!("remote: ignoring a command for the invalid peer id {text:?}");
            }
            parsed
        };
        match command {
            NetCommand::Send { peer, frame, ack } => {
                let Some(id) = named(&peer) else { return };
                let p = self.peer(id);
                p.last_activity = now;
                if let Some(ack) = ack {
                    p.acked = p.acked.max(ack);
                    if p.ack_due.is_some_and(|(upto, _)| upto <= ack) {
                        p.ack_due = None;
                    }
                }
                match &p.channel {
                    Some(live) => {
                        if let Err(e) = live.writer.try_send(frame.into_bytes()) {
                            // A channel must carry a prefix of what was written to it, never
                            // one with a hole (the receiver could take a later frame across the
                            // hole for a gap the sender gave up): drop the whole channel; the
                            // kernel resends everything pending, in order, on the next one.
                            p.channel = None;
                            p.want = true;
                            self.emit(NetEvent::ChannelDown {
                                peer,
                                reason: format!("frame not queued: {e}"),
                            });
                            self.ensure_channel(id);
                        }
                    }
                    None => {
                        p.want = true;
                        self.ensure_channel(id);
                    }
                }
            }
            NetCommand::Ack { peer, upto } => {
                let Some(id) = named(&peer) else { return };
                let delay = self.config.limits.ack_delay;
                let p = self.peer(id);
                if upto > p.acked {
                    p.ack_due = match p.ack_due {
                        Some((_, at)) => Some((upto, at)),
                        None => Some((upto, now + delay)),
                    };
                }
            }
            NetCommand::Connect { peer } => {
                let Some(id) = named(&peer) else { return };
                self.peer(id).want = true;
                self.ensure_channel(id);
            }
            NetCommand::Hints { peer, hints } => {
                let Some(id) = named(&peer) else { return };
                let p = self.peer(id);
                for hint in hints {
                    match parse_addr(&hint) {
                        Ok(addr) if !p.hints.contains(&addr) => p.hints.push(addr),
                        Ok(_) => {}
                        Err(e) => tracing::warn!("remote: ignoring hint: {e}"),
                    }
                }
            }
            NetCommand::Relays(addrs) => {
                for text in addrs {
                    match parse_addr(&text) {
                        Ok(addr) if last_peer(&addr).is_some() => {
                            if !self.relays.iter().any(|r| r.addr == addr) {
                                self.relays.push(Relay {
                                    addr,
                                    listener: None,
                                    attempts: 0,
                                    retry_at: Some(now),
                                });
                            }
                        }
                        Ok(addr) => tracing::warn!("remote: relay {addr} has no /p2p/ suffix"),
                        Err(e) => tracing::warn!("remote: ignoring relay: {e}"),
                    }
                }
            }
            NetCommand::WakeAt { peer, at } => {
                let Some(id) = named(&peer) else { return };
                self.peer(id).wake_at = Some(Instant::from_std(at));
            }
            NetCommand::Forget { peer } => {
                let Some(id) = named(&peer) else { return };
                self.peers.remove(&id);
                if !self.is_relay(&id) {
                    let _ = self.swarm.disconnect_peer_id(id);
                }
            }
            NetCommand::AlarmAt { at } => self.alarm = Some(Instant::from_std(at)),
        }
    }

    fn is_relay(&self, peer: &PeerId) -> bool {
        self.relays
            .iter()
            .any(|r| last_peer(&r.addr).as_ref() == Some(peer))
    }

    /// Gets a channel to `peer` going: on an existing connection, else by dialing.
    fn ensure_channel(&mut self, peer: PeerId) {
        let now = Instant::now();
        let limits = self.config.limits.clone();
        let conn = self
            .conns
            .iter()
            .filter(|(_, c)| c.peer == peer)
            .min_by_key(|(id, c)| (c.relayed, std::cmp::Reverse(**id)))
            .map(|(_, c)| c.opener.clone());
        let p = self.peer(peer);
        if p.channel.is_some() || p.opening.is_some() {
            return;
        }
        if let Some(opener) = conn {
            self.open_channel(peer, opener);
            return;
        }
        if p.dialing.is_some() || p.retry_at.is_some_and(|at| at > now) {
            return;
        }
        while p
            .dials
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            p.dials.pop_front();
        }
        if p.dials.len() >= limits.max_dials_per_minute {
            p.retry_at = p.dials.front().map(|t| *t + Duration::from_secs(60));
            return;
        }
        let hints = p.hints.clone();
        let relays: Vec<Multiaddr> = self.relays.iter().map(|r| r.addr.clone()).collect();
        let addrs = candidates(&peer, &hints, &relays);
        if addrs.is_empty() {
            // Not the end: a peer that dialled us before (we only listen) dials again after its
            // restart, or hints come. Until then this counts as a failed attempt; the kernel's
            // own give-up (frames unacknowledged after its retransmissions) still bounds it.
            self.failure(peer, "no known address for the peer".into());
            return;
        }
        // Tried one at a time, in order: direct hints before relays, as the reference does.
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .override_dial_concurrency_factor(NonZeroU8::MIN)
            .build();
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                let p = self.peer(peer);
                p.dials.push_back(now);
                p.dialing = Some(Dialing {
                    id,
                    deadline: now + limits.dial_timeout,
                });
            }
            Err(e) => self.failure(peer, format!("dial failed: {e}")),
        }
    }

    fn open_channel(&mut self, peer: PeerId, opener: Opener) {
        let chan = self.next_chan;
        self.next_chan += 1;
        self.peer(peer).opening = Some(chan);
        let ctx = self.chan_ctx(peer, chan);
        let limit = self.config.limits.handshake_timeout;
        tokio::spawn(async move {
            let opened = timeout(limit, async {
                let mut stream = opener.open().await.map_err(|e| e.to_string())?;
                negotiate::dial(&mut stream, negotiate::PROTOCOL)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(stream)
            })
            .await
            .unwrap_or_else(|_| Err("opening the channel timed out".into()));
            match opened {
                Ok(stream) => channel::run(stream, Role::Dialer, ctx).await,
                Err(reason) => {
                    let _ = ctx.events.send(ChanEvent::Down { peer, chan, reason });
                }
            }
        });
    }

    fn chan_ctx(&mut self, peer: PeerId, chan: u64) -> ChanCtx {
        let budget = Arc::clone(&self.peer(peer).budget);
        ChanCtx {
            peer,
            chan,
            incarnation: self.config.incarnation_id.clone(),
            limits: self.config.limits.clone(),
            events: self.chan_tx.clone(),
            budget,
        }
    }

    /// A dial or channel opening failed: back off, or give up after `max_retry_attempts`.
    fn failure(&mut self, peer: PeerId, reason: String) {
        let limits = self.config.limits.clone();
        let unit = random_unit();
        let p = self.peer(peer);
        p.failures += 1;
        tracing::debug!("remote: {peer}: attempt {} failed: {reason}", p.failures);
        if limits.max_retry_attempts > 0 && p.failures >= limits.max_retry_attempts {
            p.want = false;
            p.failures = 0;
            p.retry_at = None;
            self.emit(NetEvent::GiveUp {
                peer: peer.to_string(),
                reason,
            });
            return;
        }
        let delay = backoff(
            p.failures,
            limits.reconnect_base,
            limits.reconnect_max,
            unit,
        );
        p.retry_at = Some(Instant::now() + delay);
    }

    fn mux_event(&mut self, event: MuxEvent) {
        match event {
            MuxEvent::Connected {
                peer,
                conn,
                opener,
                relayed,
            } => {
                self.conns.insert(
                    conn,
                    Conn {
                        peer,
                        opener,
                        relayed,
                    },
                );
                if self.peers.get(&peer).is_some_and(|p| p.want) {
                    self.ensure_channel(peer);
                }
            }
            MuxEvent::Closed { conn, .. } => {
                self.conns.remove(&conn);
            }
            MuxEvent::Inbound { peer, stream, .. } => {
                let chan = self.next_chan;
                self.next_chan += 1;
                let p = self.peer(peer);
                if p.handshaking.len() >= MAX_HANDSHAKING {
                    tracing::debug!("remote: {peer}: too many channels handshaking; dropped");
                    return;
                }
                p.handshaking.insert(chan);
                let ctx = self.chan_ctx(peer, chan);
                tokio::spawn(channel::run(stream, Role::Listener, ctx));
            }
        }
    }

    fn chan_event(&mut self, event: ChanEvent) {
        let now = Instant::now();
        match event {
            ChanEvent::Handshake {
                peer,
                incarnation,
                reply,
            } => self.emit(NetEvent::Handshake {
                peer: peer.to_string(),
                incarnation,
                reply: VerdictReply(reply),
            }),
            ChanEvent::Up {
                peer,
                chan,
                role,
                writer,
            } => {
                let local = self.local;
                let window = self.config.limits.handshake_timeout;
                let p = self.peer(peer);
                if p.opening == Some(chan) {
                    p.opening = None;
                }
                p.handshaking.remove(&chan);
                if let Some(live) = &p.channel {
                    // Both sides dialled at once: both keep the channel the lower peer id
                    // dialled. Otherwise the newer channel wins (the peer lost the old one).
                    let dialer = |role: Role| if role == Role::Dialer { local } else { peer };
                    let simultaneous = live.role != role && now.duration_since(live.since) < window;
                    if simultaneous && dialer(live.role) < dialer(role) {
                        return;
                    }
                }
                p.channel = Some(Live {
                    chan,
                    writer,
                    role,
                    since: now,
                });
                p.want = false;
                p.failures = 0;
                p.retry_at = None;
                p.last_activity = now;
                self.emit(NetEvent::ChannelUp {
                    peer: peer.to_string(),
                });
            }
            ChanEvent::Frame {
                peer,
                frame,
                credit,
            } => {
                // Accepted on whichever channel it arrives, as the reference does.
                self.peer(peer).last_activity = now;
                self.emit(NetEvent::Frame {
                    peer: peer.to_string(),
                    frame,
                    credit,
                });
            }
            ChanEvent::Down { peer, chan, reason } => {
                let Some(p) = self.peers.get_mut(&peer) else {
                    return;
                };
                p.handshaking.remove(&chan);
                let was_opening = p.opening == Some(chan);
                if was_opening {
                    p.opening = None;
                }
                let was_live = p.channel.as_ref().is_some_and(|l| l.chan == chan);
                if was_live {
                    p.channel = None;
                }
                tracing::debug!("remote: {peer}: channel {chan} down: {reason}");
                if was_opening {
                    self.failure(peer, reason.clone());
                }
                if was_live {
                    self.emit(NetEvent::ChannelDown {
                        peer: peer.to_string(),
                        reason,
                    });
                }
            }
        }
    }

    fn swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                ..
            } => {
                if let Some(p) = self.peers.get_mut(&peer_id) {
                    if p.dialing.as_ref().is_some_and(|d| d.id == connection_id) {
                        p.dialing = None;
                    }
                    if p.want {
                        self.ensure_channel(peer_id);
                    }
                }
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                connection_id,
                error,
            } => {
                let ours = self
                    .peers
                    .get(&peer)
                    .and_then(|p| p.dialing.as_ref())
                    .is_some_and(|d| d.id == connection_id);
                if ours {
                    self.peer(peer).dialing = None;
                    self.failure(peer, error.to_string());
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                let address = self.with_self(address);
                if self.listening.insert(address) {
                    self.report_listening();
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                let address = self.with_self(address);
                if self.listening.remove(&address) {
                    self.report_listening();
                }
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                let base = self.config.limits.relay_reconnect_base;
                let max = self.config.limits.relay_reconnect_max;
                let attempts = self.config.limits.relay_reconnect_attempts;
                let unit = random_unit();
                if let Some(relay) = self
                    .relays
                    .iter_mut()
                    .find(|r| r.listener == Some(listener_id))
                {
                    relay.listener = None;
                    relay.attempts += 1;
                    if relay.attempts > attempts {
                        tracing::warn!("remote: relay {} reconnect exhausted", relay.addr);
                    } else {
                        tracing::info!("remote: reservation on {} lost: {reason:?}", relay.addr);
                        relay.retry_at =
                            Some(Instant::now() + backoff(relay.attempts, base, max, unit));
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(
                relay::client::Event::ReservationReqAccepted { relay_peer_id, .. },
            )) => {
                tracing::info!("remote: reservation accepted by relay {relay_peer_id}");
                for relay in &mut self.relays {
                    if last_peer(&relay.addr) == Some(relay_peer_id) {
                        relay.attempts = 0;
                    }
                }
            }
            _ => {}
        }
    }

    fn with_self(&self, address: Multiaddr) -> Multiaddr {
        if address.iter().last() == Some(Protocol::P2p(self.local)) {
            address
        } else {
            address.with(Protocol::P2p(self.local))
        }
    }

    fn report_listening(&mut self) {
        let addrs = self.listening.iter().map(|a| a.to_string()).collect();
        self.emit(NetEvent::Listening { addrs });
    }

    fn next_deadline(&self) -> Instant {
        let mut next = Instant::now() + HOUSEKEEPING;
        if let Some(at) = self.alarm {
            next = next.min(at);
        }
        for p in self.peers.values() {
            let times = [
                p.ack_due.map(|(_, at)| at),
                p.wake_at,
                p.retry_at.filter(|_| p.want),
                p.dialing.as_ref().map(|d| d.deadline),
            ];
            for at in times.into_iter().flatten() {
                next = next.min(at);
            }
        }
        for relay in &self.relays {
            if let Some(at) = relay.retry_at {
                next = next.min(at);
            }
        }
        next
    }

    fn timers(&mut self) {
        let now = Instant::now();
        let idle = self.config.limits.idle_timeout;
        let mut wake = Vec::new();
        let mut retry = Vec::new();
        let mut timed_out = Vec::new();
        let mut went_idle = Vec::new();
        for (id, p) in &mut self.peers {
            if let Some((upto, at)) = p.ack_due
                && at <= now
            {
                p.ack_due = None;
                if let Some(live) = &p.channel
                    && live
                        .writer
                        .try_send(Frame::Ack(upto).encode().into_bytes())
                        .is_ok()
                {
                    p.acked = upto;
                }
            }
            if p.wake_at.is_some_and(|at| at <= now) {
                p.wake_at = None;
                wake.push(*id);
            }
            if p.want && p.retry_at.is_some_and(|at| at <= now) {
                p.retry_at = None;
                retry.push(*id);
            }
            if p.dialing.as_ref().is_some_and(|d| d.deadline <= now) {
                p.dialing = None;
                timed_out.push(*id);
            }
            if p.channel.is_some() && now.duration_since(p.last_activity) >= idle {
                p.channel = None;
                went_idle.push(*id);
            }
        }
        for id in wake {
            self.emit(NetEvent::Wake {
                peer: id.to_string(),
            });
        }
        if self.alarm.is_some_and(|at| at <= now) {
            self.alarm = None;
            self.emit(NetEvent::Alarm);
        }
        for id in timed_out {
            self.failure(id, "dial timed out".into());
        }
        for id in retry {
            self.ensure_channel(id);
        }
        for id in went_idle {
            if !self.is_relay(&id) {
                let _ = self.swarm.disconnect_peer_id(id);
            }
            self.emit(NetEvent::ChannelDown {
                peer: id.to_string(),
                reason: "idle".into(),
            });
        }
        // Forget peers with nothing going on, so that a host making up identities cannot grow
        // this map without bound; the kernel's Hints and Sends bring them back when needed.
        let connected: HashSet<PeerId> = self.conns.values().map(|c| c.peer).collect();
        self.peers.retain(|id, p| {
            p.channel.is_some()
                || p.opening.is_some()
                || !p.handshaking.is_empty()
                || p.dialing.is_some()
                || p.want
                || !p.hints.is_empty()
                || p.ack_due.is_some()
                || p.wake_at.is_some()
                || connected.contains(id)
        });
        let mut reserve = Vec::new();
        for (i, relay) in self.relays.iter_mut().enumerate() {
            if relay.retry_at.is_some_and(|at| at <= now) {
                relay.retry_at = None;
                reserve.push(i);
            }
        }
        for i in reserve {
            let addr = self.relays[i].addr.clone().with(Protocol::P2pCircuit);
            match self.swarm.listen_on(addr.clone()) {
                Ok(listener) => self.relays[i].listener = Some(listener),
                Err(e) => tracing::warn!("remote: cannot reserve on {addr}: {e}"),
            }
        }
    }
}

/// A random number in [0, 1) for backoff jitter.
fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
