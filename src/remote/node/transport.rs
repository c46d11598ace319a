//! The Swarm: transports (TCP and WebSocket over DNS, and circuit relay v2 as a client), each
//! secured with Noise and multiplexed with Yamux, every connection wrapped by
//! [`crate::remote::muxer::KernelMuxer`]; behaviours: relay client, identify, ping, connection
//! limits. No mDNS, no bootstrap, no address book: the node dials only addresses it was given.

use super::super::muxer::{KernelMuxer, MuxSink};
use super::super::negotiate;
use super::{NetError, NetLimits};
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, Transport};
use libp2p::core::upgrade::Version;
use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{PeerId, connection_limits, dns, identify, noise, ping, relay, tcp, websocket, yamux};
use std::time::Duration;

/// The node's behaviours.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Reservations on relays and circuits through them.
    pub relay: relay::client::Behaviour,
    /// Tells peers who we are; what it learns is never dialled.
    pub identify: identify::Behaviour,
    /// Liveness.
    pub ping: ping::Behaviour,
    /// At most `max_connections` established connections.
    pub limits: connection_limits::Behaviour,
}

/// The transport stack over TCP and WebSocket (with DNS), secured and multiplexed, every
/// connection wrapped so that substreams proposing `protocol` go to our code.
pub fn direct(
    keypair: &Keypair,
    sink: MuxSink,
    protocol: &'static str,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, NetError> {
    let start = |e: std::io::Error| NetError::Start(e.to_string());
    let tcp = || tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
    let ws = websocket::Config::new(dns::tokio::Transport::system(tcp()).map_err(start)?);
    let plain = dns::tokio::Transport::system(tcp()).map_err(start)?;
    let base = ws.or_transport(plain);
    secure(base, keypair, sink, false, protocol)
}

/// Noise, then Yamux, then the wrapper taking `protocol`.
pub fn secure<T>(
    base: T,
    keypair: &Keypair,
    sink: MuxSink,
    relayed: bool,
    protocol: &'static str,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, NetError>
where
    T: Transport + Send + Unpin + 'static,
    T::Output: libp2p::futures::AsyncRead + libp2p::futures::AsyncWrite + Unpin + Send + 'static,
    T::Error: Send + Sync + 'static,
    T::Dial: Send + 'static,
    T::ListenerUpgrade: Send + 'static,
{
    let noise = noise::Config::new(keypair).map_err(|e| NetError::Start(e.to_string()))?;
    Ok(base
        .upgrade(Version::V1)
        .authenticate(noise)
        .multiplex(yamux::Config::default())
        .timeout(Duration::from_secs(20))
        .map(move |(peer, muxer), _| {
            let wrapped = KernelMuxer::wrap(
                StreamMuxerBox::new(muxer),
                protocol,
                peer,
                relayed,
                sink.clone(),
            );
            (peer, wrapped)
        })
        .boxed())
}

/// The whole node: relay transport and behaviour, direct transports, identify, ping, limits.
pub fn build(
    keypair: &Keypair,
    limits: &NetLimits,
    sink: MuxSink,
) -> Result<(Boxed<(PeerId, StreamMuxerBox)>, Behaviour), NetError> {
    let peer_id = keypair.public().to_peer_id();
    let (relay_transport, relay) = relay::client::new(peer_id);
    let relayed = secure(
        relay_transport,
        keypair,
        sink.clone(),
        true,
        negotiate::PROTOCOL,
    )?;
    let direct = direct(keypair, sink, negotiate::PROTOCOL)?;
    let transport = relayed
        .or_transport(direct)
        .map(|either, _| either.into_inner())
        .boxed();
    let identify = identify::Behaviour::new(
        identify::Config::new("/ipfs/id/1.0.0".into(), keypair.public())
            .with_agent_version(format!("ocapd/{}", env!("CARGO_PKG_VERSION")))
            // Addresses peers announce are not kept (and so never dialled).
            .with_cache_size(0),
    );
    let connection_limits = connection_limits::Behaviour::new(
        connection_limits::ConnectionLimits::default()
            .with_max_established(Some(limits.max_connections))
            .with_max_pending_incoming(Some(limits.max_connections)),
    );
    let behaviour = Behaviour {
        relay,
        identify,
        ping: ping::Behaviour::new(ping::Config::new()),
        limits: connection_limits,
    };
    Ok((transport, behaviour))
}
