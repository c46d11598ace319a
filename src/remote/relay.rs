//! A circuit-relay v2 server for ocapd↔ocapd (`ocapd relay`): peers keep reservations on it and
//! reach each other through `…/p2p/<relay>/p2p-circuit/p2p/<peer>` when no direct address works.
//!
//! It is libp2p's stock relay (`libp2p-relay`), which always sends circuit limits; here they are
//! set far out of the way (a day, 2^63 bytes). js-libp2p marks any circuit that carries a limit
//! as "limited" and then refuses to open the kernel channel on it, so JavaScript kernels need a
//! relay that sends no limits at all, such as the reference's (docs/remote.md "Relays").

use super::node::NetError;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::Transport;
use libp2p::core::upgrade::Version;
use libp2p::futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, Swarm, connection_limits, dns, identify, noise, ping, relay, tcp, websocket, yamux,
};
use std::time::Duration;
use tokio::sync::oneshot;

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
    relay: relay::Behaviour,
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
            .spawn(move || serve(options, ready_tx, stopped))
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

fn serve(options: RelayOptions, ready: Ready, stopped: oneshot::Receiver<()>) {
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
        let mut swarm = match swarm(&options) {
            Ok(swarm) => swarm,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let local = *swarm.local_peer_id();
        // A reservation must name at least one address of the relay; libp2p's relay serves
        // only once it has one. These are the operator's, or what the listeners bound.
        swarm
            .behaviour_mut()
            .relay
            .set_status(Some(relay::Status::Enable));
        for addr in &options.announce {
            swarm.add_external_address(addr.clone());
        }
        let mut waiting = options.listen.len();
        for addr in &options.listen {
            if let Err(e) = swarm.listen_on(addr.clone()) {
                let _ = ready.send(Err(NetError::Config(format!(
                    "cannot listen on {addr}: {e}"
                ))));
                return;
            }
        }
        let mut addrs = Vec::new();
        let mut ready = Some(ready);
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                event = swarm.select_next_some() => match event {
                    SwarmEvent::NewListenAddr { address, .. } => {
                        if options.announce.is_empty() {
                            swarm.add_external_address(address.clone());
                        }
                        addrs.push(address.with(Protocol::P2p(local)).to_string());
                        waiting = waiting.saturating_sub(1);
                        if waiting == 0 && let Some(ready) = ready.take() {
                            let _ = ready.send(Ok((local.to_string(), addrs.clone())));
                        }
                    }
                    SwarmEvent::ListenerError { error, .. } => {
                        tracing::warn!("relay: listener error: {error}");
                    }
                    SwarmEvent::ListenerClosed { addresses, reason, .. } => {
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(Err(NetError::Config(format!(
                                "listener on {addresses:?} closed: {reason:?}"
                            ))));
                            return;
                        }
                    }
                    SwarmEvent::Behaviour(RelayBehaviourEvent::Relay(event)) => {
                        tracing::debug!("relay: {event:?}");
                    }
                    _ => {}
                },
            }
        }
    });
}

fn swarm(options: &RelayOptions) -> Result<Swarm<RelayBehaviour>, NetError> {
    let start = |e: &dyn std::fmt::Display| NetError::Start(e.to_string());
    let keypair =
        libp2p::identity::Keypair::ed25519_from_bytes(options.key_seed).map_err(|e| start(&e))?;
    let local = keypair.public().to_peer_id();
    let tcp = || tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
    let ws = websocket::Config::new(dns::tokio::Transport::system(tcp()).map_err(|e| start(&e))?);
    let plain = dns::tokio::Transport::system(tcp()).map_err(|e| start(&e))?;
    let noise = noise::Config::new(&keypair).map_err(|e| start(&e))?;
    let transport = ws
        .or_transport(plain)
        .upgrade(Version::V1)
        .authenticate(noise)
        .multiplex(yamux::Config::default())
        .timeout(Duration::from_secs(20))
        .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)))
        .boxed();
    let relay_config = relay::Config {
        max_reservations: options.max_reservations,
        max_circuits: options.max_circuits,
        max_circuits_per_peer: 16,
        max_circuit_duration: Duration::from_secs(24 * 3600),
        max_circuit_bytes: 1 << 63,
        ..relay::Config::default()
    };
    let behaviour = RelayBehaviour {
        relay: relay::Behaviour::new(local, relay_config),
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
    let config = libp2p::swarm::Config::with_tokio_executor()
        .with_idle_connection_timeout(Duration::from_secs(120));
    Ok(Swarm::new(transport, behaviour, local, config))
}
