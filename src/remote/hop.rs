//! The circuit-relay v2 protocol (libp2p spec `relay/circuit-v2.md`) as a relay server, our own
//! code: it sends **no limits** (no `Limit` in any reply), which JavaScript kernels need (a
//! circuit with a limit is "limited" in js-libp2p, and the reference never opens its kernel
//! stream on one). libp2p's own relay server always sends limits and cannot be configured not to.
//!
//! A client opens `/libp2p/circuit/relay/0.2.0/hop` (taken by [`super::muxer::KernelMuxer`]) and
//! sends a `HopMessage`: `RESERVE` is answered with a reservation (expiry and the relay's
//! addresses); `CONNECT {peer}` makes the relay open `/libp2p/circuit/relay/0.2.0/stop` on the
//! target's connection (negotiated by [`super::negotiate::dial`]) with `StopMessage CONNECT
//! {peer: source}`; when the target answers `STATUS OK`, the source gets `STATUS OK` and the relay
//! copies bytes both ways until either side ends. Messages are varint-length-prefixed protobuf;
//! the few fields needed are encoded here by hand.

use super::frame::{self, FrameReader, put_varint};
use super::muxer::Opener;
use super::negotiate;
use libp2p::PeerId;
use libp2p::core::muxing::SubstreamBox;
use libp2p::futures::{AsyncReadExt, AsyncWriteExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

/// The hop protocol (client to relay).
pub const HOP: &str = "/libp2p/circuit/relay/0.2.0/hop";
/// The stop protocol (relay to target).
pub const STOP: &str = "/libp2p/circuit/relay/0.2.0/stop";

/// Largest protobuf message accepted (the spec's limit).
const MAX_MESSAGE: usize = 4096;

/// How long each step of a request may take (the reference relay's hop timeout).
const STEP: Duration = Duration::from_secs(10);

/// Status codes of the spec.
pub mod status {
    /// OK.
    pub const OK: u64 = 100;
    /// RESERVATION_REFUSED.
    pub const RESERVATION_REFUSED: u64 = 200;
    /// RESOURCE_LIMIT_EXCEEDED.
    pub const RESOURCE_LIMIT_EXCEEDED: u64 = 201;
    /// CONNECTION_FAILED.
    pub const CONNECTION_FAILED: u64 = 203;
    /// NO_RESERVATION.
    pub const NO_RESERVATION: u64 = 204;
    /// MALFORMED_MESSAGE.
    pub const MALFORMED_MESSAGE: u64 = 400;
    /// UNEXPECTED_MESSAGE.
    pub const UNEXPECTED_MESSAGE: u64 = 401;
}

/// A granted reservation: its end (Unix seconds) and the relay's addresses (binary multiaddrs).
pub type Reservation = (u64, Vec<Vec<u8>>);

/// What a hop stream asks of the relay's state (answered by its event loop).
pub enum Request {
    /// `peer` wants a reservation: `Ok((expiry in Unix seconds, relay addresses))` or a status.
    Reserve {
        /// The client.
        peer: PeerId,
        /// The answer.
        reply: oneshot::Sender<Result<Reservation, u64>>,
    },
    /// A circuit to `target`: its connection's opener, or a status.
    Connect {
        /// The client.
        source: PeerId,
        /// The reserved peer it wants.
        target: PeerId,
        /// The answer.
        reply: oneshot::Sender<Result<Opener, u64>>,
    },
}

/// Serves one hop stream from `source`.
pub async fn serve(
    stream: SubstreamBox,
    source: PeerId,
    requests: mpsc::UnboundedSender<Request>,
    circuits: Arc<AtomicUsize>,
    max_circuits: usize,
) {
    if let Err(e) = hop(stream, source, requests, circuits, max_circuits).await {
        tracing::debug!("relay: hop stream from {source}: {e}");
    }
}

async fn hop(
    mut stream: SubstreamBox,
    source: PeerId,
    requests: mpsc::UnboundedSender<Request>,
    circuits: Arc<AtomicUsize>,
    max_circuits: usize,
) -> Result<(), String> {
    let request = timeout(STEP, read_message(&mut stream))
        .await
        .map_err(|_| "no request in time")??;
    let Ok(fields) = parse(&request) else {
        return answer(&mut stream, status::MALFORMED_MESSAGE, None).await;
    };
    match varint(&fields, 1) {
        // RESERVE
        Some(0) => {
            let (reply, answered) = oneshot::channel();
            requests
                .send(Request::Reserve {
                    peer: source,
                    reply,
                })
                .map_err(|_| "relay stopped")?;
            match answered.await.map_err(|_| "relay stopped")? {
                Ok(reservation) => answer(&mut stream, status::OK, Some(reservation)).await,
                Err(code) => answer(&mut stream, code, None).await,
            }
        }
        // CONNECT
        Some(1) => {
            let target = bytes(&fields, 2)
                .and_then(|peer| parse(peer).ok())
                .and_then(|peer| bytes(&peer, 1).map(<[u8]>::to_vec))
                .and_then(|id| PeerId::from_bytes(&id).ok());
            let Some(target) = target else {
                return answer(&mut stream, status::MALFORMED_MESSAGE, None).await;
            };
            let (reply, answered) = oneshot::channel();
            requests
                .send(Request::Connect {
                    source,
                    target,
                    reply,
                })
                .map_err(|_| "relay stopped")?;
            let opener = match answered.await.map_err(|_| "relay stopped")? {
                Ok(opener) => opener,
                Err(code) => return answer(&mut stream, code, None).await,
            };
            let _slot = match Slot::take(&circuits, max_circuits) {
                Some(slot) => slot,
                None => return answer(&mut stream, status::RESOURCE_LIMIT_EXCEEDED, None).await,
            };
            let target_stream = match timeout(STEP, stop(opener, source)).await {
                Ok(Ok(target_stream)) => target_stream,
                Ok(Err(e)) => {
                    tracing::debug!("relay: circuit {source} → {target} refused: {e}");
                    return answer(&mut stream, status::CONNECTION_FAILED, None).await;
                }
                Err(_) => return answer(&mut stream, status::CONNECTION_FAILED, None).await,
            };
            answer(&mut stream, status::OK, None).await?;
            splice(stream, target_stream).await;
            Ok(())
        }
        _ => answer(&mut stream, status::UNEXPECTED_MESSAGE, None).await,
    }
}

/// Opens the stop stream on the target's connection and has it accept the circuit.
async fn stop(opener: Opener, source: PeerId) -> Result<SubstreamBox, String> {
    let mut stream = opener.open().await.map_err(|e| e.to_string())?;
    negotiate::dial(&mut stream, STOP)
        .await
        .map_err(|e| e.to_string())?;
    let mut peer = Vec::new();
    field_bytes(&mut peer, 1, &source.to_bytes());
    let mut connect = Vec::new();
    field_varint(&mut connect, 1, 0); // CONNECT
    field_bytes(&mut connect, 2, &peer);
    write_message(&mut stream, &connect).await?;
    let reply = read_message(&mut stream).await?;
    let fields = parse(&reply).map_err(|_| "malformed stop reply")?;
    match (varint(&fields, 1), varint(&fields, 4)) {
        (Some(1), Some(status::OK)) => Ok(stream),
        (_, code) => Err(format!("stop answered status {code:?}")),
    }
}

/// Copies bytes both ways until both directions have ended.
async fn splice(a: SubstreamBox, b: SubstreamBox) {
    let (mut ar, mut aw) = a.split();
    let (mut br, mut bw) = b.split();
    let forward = async {
        let _ = libp2p::futures::io::copy(&mut ar, &mut bw).await;
        let _ = bw.close().await;
    };
    let backward = async {
        let _ = libp2p::futures::io::copy(&mut br, &mut aw).await;
        let _ = aw.close().await;
    };
    libp2p::futures::future::join(forward, backward).await;
}

/// A circuit slot, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(count: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        let taken = count.fetch_add(1, Ordering::SeqCst);
        if taken >= max {
            count.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Slot(count.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `HopMessage {type: STATUS, status, reservation?}`; never a `limit`.
async fn answer(
    stream: &mut SubstreamBox,
    code: u64,
    reservation: Option<Reservation>,
) -> Result<(), String> {
    let mut message = Vec::new();
    field_varint(&mut message, 1, 2); // STATUS
    if let Some((expire, addrs)) = reservation {
        let mut body = Vec::new();
        field_varint(&mut body, 1, expire);
        for addr in &addrs {
            field_bytes(&mut body, 2, addr);
        }
        field_bytes(&mut message, 3, &body);
    }
    field_varint(&mut message, 5, code);
    write_message(stream, &message).await
}

async fn write_message(stream: &mut SubstreamBox, message: &[u8]) -> Result<(), String> {
    let framed = frame::encode(message).map_err(|e| e.to_string())?;
    stream.write_all(&framed).await.map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())
}

async fn read_message(stream: &mut SubstreamBox) -> Result<Vec<u8>, String> {
    FrameReader::with_limit(&mut *stream, MAX_MESSAGE)
        .next()
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "stream closed".to_string())
}

fn field_varint(out: &mut Vec<u8>, field: u64, value: u64) {
    put_varint(out, field << 3);
    put_varint(out, value);
}

fn field_bytes(out: &mut Vec<u8>, field: u64, value: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// A decoded protobuf field.
#[derive(Debug, PartialEq, Eq)]
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The fields of a protobuf message, in order (varint and length-delimited only; fixed-width
/// fields, which these messages do not have, make it malformed).
fn parse(mut bytes: &[u8]) -> Result<Vec<(u64, Field<'_>)>, ()> {
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let key = take_varint(&mut bytes)?;
        let value = match key & 7 {
            0 => Field::Varint(take_varint(&mut bytes)?),
            2 => {
                let len = usize::try_from(take_varint(&mut bytes)?).map_err(|_| ())?;
                if len > bytes.len() {
                    return Err(());
                }
                let (value, rest) = bytes.split_at(len);
                bytes = rest;
                Field::Bytes(value)
            }
            _ => return Err(()),
        };
        fields.push((key >> 3, value));
    }
    Ok(fields)
}

fn take_varint(bytes: &mut &[u8]) -> Result<u64, ()> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&byte, rest) = bytes.split_first().ok_or(())?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(())
}

fn varint(fields: &[(u64, Field<'_>)], number: u64) -> Option<u64> {
    fields.iter().find_map(|(n, f)| match f {
        Field::Varint(v) if *n == number => Some(*v),
        _ => None,
    })
}

fn bytes<'a>(fields: &[(u64, Field<'a>)], number: u64) -> Option<&'a [u8]> {
    fields.iter().find_map(|(n, f)| match f {
        Field::Bytes(b) if *n == number => Some(*b),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_encode_as_protobuf() {
        // HopMessage {type: STATUS, status: OK} = 08 02 28 64
        let mut out = Vec::new();
        field_varint(&mut out, 1, 2);
        field_varint(&mut out, 5, status::OK);
        assert_eq!(out, [0x08, 0x02, 0x28, 0x64]);
        let fields = parse(&out).unwrap();
        assert_eq!(varint(&fields, 1), Some(2));
        assert_eq!(varint(&fields, 5), Some(100));
        let mut nested = Vec::new();
        field_bytes(&mut nested, 2, b"abc");
        assert_eq!(nested, [0x12, 3, b'a', b'b', b'c']);
        assert_eq!(bytes(&parse(&nested).unwrap(), 2), Some(&b"abc"[..]));
    }

    #[test]
    fn malformed_protobuf_is_refused() {
        for bad in [
            &[0x08][..],
            &[0x12, 5, 1],
            &[0x09, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x80; 11],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn circuit_slots_are_counted_and_given_back() {
        let count = Arc::new(AtomicUsize::new(0));
        let a = Slot::take(&count, 2).unwrap();
        let _b = Slot::take(&count, 2).unwrap();
        assert!(Slot::take(&count, 2).is_none());
        drop(a);
        assert!(Slot::take(&count, 2).is_some());
    }
}
