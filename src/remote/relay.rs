//! A circuit-relay v2 server (`ocapd relay`) that sends no circuit limits, so that it carries
//! ocapd↔ocapd and JavaScript kernels alike (docs/remote.md "Relays"). The protocol is our own
//! [`super::hop`]; the Swarm around it only accepts connections and runs identify, ping and
//! connection limits. Clients keep reservations on it and reach each other through
//! `…/p2p/<relay>/p2p-circuit/p2p/<peer>`. The relay never dials: it opens streams only on
//! connections its clients made.

use super::hop::{self, Request};
use super::muxer::{ConnId, MuxEvent, MuxSink, Opener};
use super::node::NetError;
use super::node::transport;
use libp2p::futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, connection_limits, identify, ping};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};

/// How long a reservation lasts; clients renew before it ends.
const RESERVATION: Duration = Duration::from_secs(3600);

/// How the relay runs.
#[derive(Clone, Debug)]
pub struct RelayOptions {
    /// Ed25519 seed of the relay's identity (its peer id must stay stable: it is in URLs).
    pub key_seed: [u8; 32],
    /// Addresses to listen on (`/ip4/…/tcp/…` and `/ip4/…/tcp/…/ws`).
    pub listen: Vec<Multiaddr>,
    /// Addresses to tell clients in their reservations; empty: the bound listen addresses.
    pub announce: Vec<Multiaddr>,
    /// Reservations held at once.
    pub max_reservations: usize,
    /// Circuits open at once.
    pub max_circuits: usize,
    /// Connections at once.
    pub max_connections: u32,
}

impl RelayOptions {
    /// Defaults for everything but the identity and the addresses.
    pub fn new(key_seed: [u8; 32], listen: Vec<Multiaddr>) -> Self {
        RelayOptions {
            key_seed,
            listen,
            announce: Vec::new(),
            max_reservations: 1024,
            max_circuits: 1024,
            max_connections: 2048,
        }
    }
}

#[derive(NetworkBehaviour)]
struct RelayBehaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    limits: connection_limits::Behaviour,
}

/// A running relay.
pub struct RelayHandle {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Its peer id.
    pub peer_id: String,
    /// The addresses it listens on, each ending in `/p2p/<relay>`.
    pub addrs: Vec<String>,
}

impl RelayHandle {
    /// Starts the relay on its own thread and returns once every listen address is bound.
    pub fn start(options: RelayOptions) -> Result<RelayHandle, NetError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("ocap-relay".into())
            .spawn(move || run(options, ready_tx, stopped))
            .map_err(|e| NetError::Start(e.to_string()))?;
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok((peer_id, addrs))) => Ok(RelayHandle {
                stop: Some(stop),
                thread: Some(thread),
                peer_id,
                addrs,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(NetError::Start("the relay did not start".into())),
        }
    }

    /// Stops the relay (closing every circuit) and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

type Ready = std::sync::mpsc::Sender<Result<(String, Vec<String>), NetError>>;

fn run(options: RelayOptions, ready: Ready, stopped: oneshot::Receiver<()>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(NetError::Start(e.to_string())));
            return;
        }
    };
    runtime.block_on(async move {
        match Relay::new(&options) {
            Ok(relay) => relay.serve(options, ready, stopped).await,
            Err(e) => {
                let _ = ready.send(Err(e));
            }
        }
    });
}

struct Relay {
    swarm: Swarm<RelayBehaviour>,
    local: PeerId,
    control: mpsc::UnboundedReceiver<MuxEvent>,
    inbound: mpsc::Receiver<MuxEvent>,
    conns: HashMap<ConnId, (PeerId, Opener)>,
    /// Reserved peers and when their reservation ends (Unix seconds).
    reservations: HashMap<PeerId, u64>,
    addrs: Vec<Multiaddr>,
    circuits: Arc<AtomicUsize>,
}

impl Relay {
    fn new(options: &RelayOptions) -> Result<Relay, NetError> {
        let keypair = libp2p::identity::Keypair::ed25519_from_bytes(options.key_seed)
            .map_err(|e| NetError::Start(e.to_string()))?;
        let local = keypair.public().to_peer_id();
        let (control_tx, control) = mpsc::unbounded_channel();
        let (inbound_tx, inbound) = mpsc::channel(256);
        let sink = MuxSink {
            control: control_tx,
            inbound: inbound_tx,
        };
        let transport = transport::direct(&keypair, sink, hop::HOP)?;
        let behaviour = RelayBehaviour {
            identify: identify::Behaviour::new(
                identify::Config::new("/ipfs/id/1.0.0".into(), keypair.public())
                    .with_agent_version(format!("ocapd-relay/{}", env!("CARGO_PKG_VERSION")))
                    .with_cache_size(0),
            ),
            ping: ping::Behaviour::new(ping::Config::new()),
            limits: connection_limits::Behaviour::new(
                connection_limits::ConnectionLimits::default()
                    .with_max_established(Some(options.max_connections)),
            ),
        };
        // Circuits and reservations are invisible to the Swarm's keep-alive: connections stay
        // until their peer closes them (the connection limit bounds them).
        let config = libp2p::swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(Duration::from_secs(24 * 3600));
        Ok(Relay {
            swarm: Swarm::new(transport, behaviour, local, config),
            local,
            control,
            inbound,
            conns: HashMap::new(),
            reservations: HashMap::new(),
            addrs: options.announce.clone(),
            circuits: Arc::new(AtomicUsize::new(0)),
        })
    }

    async fn serve(mut self, options: RelayOptions, ready: Ready, stopped: oneshot::Receiver<()>) {
        for addr in &options.listen {
            if let Err(e) = self.swarm.listen_on(addr.clone()) {
                let _ = ready.send(Err(NetError::Config(format!(
                    "cannot listen on {addr}: {e}"
                ))));
                return;
            }
        }
        let (requests_tx, mut requests) = mpsc::unbounded_channel();
        let mut waiting = options.listen.len();
        let mut bound = Vec::new();
        let mut ready = Some(ready);
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                Some(request) = requests.recv() => self.request(request, &options),
                Some(event) = self.control.recv() => self.mux(event, &requests_tx, &options),
                Some(event) = self.inbound.recv() => self.mux(event, &requests_tx, &options),
                event = self.swarm.select_next_some() => match event {
                    SwarmEvent::NewListenAddr { address, .. } => {
                        if options.announce.is_empty() {
                            self.addrs.push(address.clone());
                        }
                        bound.push(address.with(Protocol::P2p(self.local)).to_string());
                        waiting = waiting.saturating_sub(1);
                        if waiting == 0 && let Some(ready) = ready.take() {
                            let _ = ready.send(Ok((self.local.to_string(), bound.clone())));
                        }
                    }
                    SwarmEvent::ListenerClosed { addresses, reason, .. } => {
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(Err(NetError::Config(format!(
                                "listener on {addresses:?} closed: {reason:?}"
                            ))));
                            return;
                        }
                    }
                    SwarmEvent::ListenerError { error, .. } => {
                        tracing::warn!("relay: listener error: {error}");
                    }
                    _ => {}
                },
            }
        }
    }

    fn mux(
        &mut self,
        event: MuxEvent,
        requests: &mpsc::UnboundedSender<Request>,
        options: &RelayOptions,
    ) {
        match event {
            MuxEvent::Connected {
                peer, conn, opener, ..
            } => {
                self.conns.insert(conn, (peer, opener));
            }
            MuxEvent::Closed { peer, conn } => {
                self.conns.remove(&conn);
                if !self.conns.values().any(|(p, _)| *p == peer) {
                    self.reservations.remove(&peer);
                }
            }
            MuxEvent::Inbound { peer, stream, .. } => {
                tokio::spawn(hop::serve(
                    stream,
                    peer,
                    requests.clone(),
                    self.circuits.clone(),
                    options.max_circuits,
                ));
            }
        }
    }

    fn request(&mut self, request: Request, options: &RelayOptions) {
        let now = unix_now();
        self.reservations.retain(|_, expires| *expires > now);
        match request {
            Request::Reserve { peer, reply } => {
                let answer = if !self.reservations.contains_key(&peer)
                    && self.reservations.len() >= options.max_reservations
                {
                    Err(hop::status::RESOURCE_LIMIT_EXCEEDED)
                } else if self.addrs.is_empty() {
                    Err(hop::status::RESERVATION_REFUSED)
                } else {
                    let expires = now + RESERVATION.as_secs();
                    self.reservations.insert(peer, expires);
                    let addrs = self
                        .addrs
                        .iter()
                        .map(|a| a.clone().with(Protocol::P2p(self.local)).to_vec())
                        .collect();
                    Ok((expires, addrs))
                };
                let _ = reply.send(answer);
            }
            Request::Connect {
                source,
                target,
                reply,
            } => {
                let opener = if !self.reservations.contains_key(&target) {
                    Err(hop::status::NO_RESERVATION)
                } else {
                    self.conns
                        .iter()
                        .filter(|(_, (p, _))| *p == target)
                        .max_by_key(|(id, _)| **id)
                        .map(|(_, (_, opener))| opener.clone())
                        .ok_or(hop::status::CONNECTION_FAILED)
                };
                tracing::debug!("relay: circuit {source} → {target}: {:?}", opener.is_ok());
                let _ = reply.send(opener);
            }
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
