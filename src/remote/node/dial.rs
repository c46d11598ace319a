//! Where to dial a peer, and how long to wait between attempts (remote-comms.md §2.3, §8).

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use std::time::Duration;

/// The addresses to try for `peer`, in order: hints whose last `/p2p/` is the peer (direct),
/// then for every other hint and every known relay not already listed, `R/p2p-circuit/p2p/<peer>`.
/// Relays without a `/p2p/` of their own are skipped (a circuit needs the relay's id), and so is
/// the peer as its own relay.
pub fn candidates(peer: &PeerId, hints: &[Multiaddr], relays: &[Multiaddr]) -> Vec<Multiaddr> {
    let mut direct = Vec::new();
    let mut via: Vec<&Multiaddr> = Vec::new();
    for hint in hints {
        if last_peer(hint).as_ref() == Some(peer) {
            direct.push(hint.clone());
        } else if !via.contains(&hint) {
            via.push(hint);
        }
    }
    for relay in relays {
        if !via.contains(&relay) {
            via.push(relay);
        }
    }
    let relayed = via.into_iter().filter_map(|relay| {
        let relay_id = last_peer(relay)?;
        if &relay_id == peer || relay.iter().any(|p| p == Protocol::P2pCircuit) {
            return None;
        }
        Some(
            relay
                .clone()
                .with(Protocol::P2pCircuit)
                .with(Protocol::P2p(*peer)),
        )
    });
    let mut out = direct;
    for addr in relayed {
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

/// The last `/p2p/` of an address.
pub fn last_peer(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().fold(None, |last, p| match p {
        Protocol::P2p(id) => Some(id),
        _ => last,
    })
}

/// Delay before attempt `attempt` (1-based): full jitter over `base × 2^(attempt-1)`, capped;
/// `unit` in [0, 1) is the random draw.
pub fn backoff(attempt: u32, base: Duration, max: Duration, unit: f64) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    exp.min(max).mul_f64(unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB";
    const RELAY: &str = "12D3KooWJBDqsyHQF2MWiCdU4kdqx4zTsSTLRdShg7Ui6CRWB4uc";

    fn addr(text: &str) -> Multiaddr {
        text.parse().unwrap()
    }

    #[test]
    fn direct_hints_first_then_relays_each_once() {
        let peer: PeerId = A.parse().unwrap();
        let relay = addr(&format!("/ip4/127.0.0.1/tcp/9001/ws/p2p/{RELAY}"));
        let relay_tcp = addr(&format!("/ip4/127.0.0.1/tcp/9002/p2p/{RELAY}"));
        let direct = addr(&format!("/ip4/127.0.0.1/tcp/4001/p2p/{A}"));
        let no_id = addr("/ip4/127.0.0.1/tcp/5");
        let got = candidates(
            &peer,
            &[relay.clone(), direct.clone(), no_id],
            &[relay_tcp.clone(), relay.clone()],
        );
        assert_eq!(
            got,
            vec![
                direct,
                addr(&format!(
                    "/ip4/127.0.0.1/tcp/9001/ws/p2p/{RELAY}/p2p-circuit/p2p/{A}"
                )),
                addr(&format!(
                    "/ip4/127.0.0.1/tcp/9002/p2p/{RELAY}/p2p-circuit/p2p/{A}"
                )),
            ]
        );
    }

    #[test]
    fn the_last_p2p_decides_what_is_direct() {
        let peer: PeerId = A.parse().unwrap();
        // A circuit address ending in the peer is a direct hint (already through a relay).
        let circuit = addr(&format!(
            "/ip4/127.0.0.1/tcp/9002/p2p/{RELAY}/p2p-circuit/p2p/{A}"
        ));
        assert_eq!(
            candidates(&peer, std::slice::from_ref(&circuit), &[]),
            vec![circuit]
        );
        assert!(candidates(&peer, &[], &[]).is_empty());
    }

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let base = Duration::from_millis(500);
        let max = Duration::from_secs(10);
        assert_eq!(backoff(1, base, max, 0.5), Duration::from_millis(250));
        assert_eq!(backoff(3, base, max, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(40, base, max, 0.5), Duration::from_secs(5));
        assert_eq!(backoff(2, base, max, 0.0), Duration::ZERO);
    }
}
