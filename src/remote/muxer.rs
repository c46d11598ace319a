//! The layer that lets our own code negotiate the kernel channel next to an unpatched Swarm
//! (see [`super::negotiate`] for why): every connection's stream muxer (Yamux over Noise, on TCP,
//! WebSocket or a relayed circuit) is wrapped before the Swarm sees it.
//!
//! - Inbound substreams are sniffed first: one proposing the wrapper's protocol (`whatever` in
//!   the node, the relay's hop protocol in `ocapd relay`) is answered here and handed over; any other is given to the Swarm with the bytes already read
//!   replayed, so identify, ping and circuit relay negotiate as usual.
//! - Outbound kernel substreams are opened here on request of the node ([`Opener`]), not by the
//!   Swarm, and negotiated by [`super::negotiate::dial`].
//!
//! The Swarm does not see kernel substreams, so it does not count them towards keeping a
//! connection alive; the node sets a long idle timeout and closes connections itself.

use super::negotiate::{self, Sniffed};
use libp2p::PeerId;
use libp2p::core::muxing::{StreamMuxer, StreamMuxerBox, StreamMuxerEvent, SubstreamBox};
use libp2p::futures::future::BoxFuture;
use libp2p::futures::stream::FuturesUnordered;
use libp2p::futures::{FutureExt, StreamExt};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Inbound substreams being sniffed at once on one connection; more wait in Yamux's buffer.
const MAX_SNIFFING: usize = 16;

/// How long a dialer may take to send its header and proposal.
const SNIFF_TIMEOUT: Duration = Duration::from_secs(10);

/// Identifies one connection (the Swarm's own id is not known below it).
pub type ConnId = u64;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// What wrapped connections tell the node.
pub enum MuxEvent {
    /// A connection to `peer` is up; kernel substreams are opened through `opener`.
    Connected {
        /// The remote peer.
        peer: PeerId,
        /// This connection.
        conn: ConnId,
        /// Opens outbound substreams on it.
        opener: Opener,
        /// Whether it runs through a relay (`/p2p-circuit`).
        relayed: bool,
    },
    /// The connection is gone.
    Closed {
        /// The remote peer.
        peer: PeerId,
        /// The connection.
        conn: ConnId,
    },
    /// The peer opened a kernel channel (already negotiated).
    Inbound {
        /// The remote peer.
        peer: PeerId,
        /// The connection it came on.
        conn: ConnId,
        /// The substream.
        stream: SubstreamBox,
    },
}

/// Where wrapped connections report: connections coming and going (unbounded: the Swarm's
/// connection limit bounds them), and inbound kernel channels (bounded: a peer opening channels
/// faster than the node takes them gets them reset).
#[derive(Clone)]
pub struct MuxSink {
    /// `Connected` and `Closed`.
    pub control: mpsc::UnboundedSender<MuxEvent>,
    /// `Inbound`.
    pub inbound: mpsc::Sender<MuxEvent>,
}

/// Opens raw outbound substreams on one connection.
#[derive(Clone)]
pub struct Opener(mpsc::UnboundedSender<oneshot::Sender<io::Result<SubstreamBox>>>);

impl Opener {
    /// A new raw substream (not yet negotiated).
    pub async fn open(&self) -> io::Result<SubstreamBox> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(tx)
            .map_err(|_| io::Error::new(io::ErrorKind::NotConnected, "connection closed"))?;
        rx.await
            .map_err(|_| io::Error::new(io::ErrorKind::NotConnected, "connection closed"))?
    }
}

/// The wrapper around one connection's muxer.
pub struct KernelMuxer {
    inner: StreamMuxerBox,
    protocol: &'static str,
    peer: PeerId,
    conn: ConnId,
    events: MuxSink,
    sniffing: FuturesUnordered<BoxFuture<'static, Option<Sniffed<SubstreamBox>>>>,
    for_swarm: VecDeque<SubstreamBox>,
    inbound_waker: Option<Waker>,
    requests: mpsc::UnboundedReceiver<oneshot::Sender<io::Result<SubstreamBox>>>,
    opening: VecDeque<oneshot::Sender<io::Result<SubstreamBox>>>,
}

impl KernelMuxer {
    /// Wraps `inner`, a connection to `peer`, and announces it to the node through `events`;
    /// inbound substreams proposing `protocol` go to the node, all others to the Swarm.
    pub fn wrap(
        inner: StreamMuxerBox,
        protocol: &'static str,
        peer: PeerId,
        relayed: bool,
        events: MuxSink,
    ) -> StreamMuxerBox {
        let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
        let (tx, requests) = mpsc::unbounded_channel();
        let announce = MuxEvent::Connected {
            peer,
            conn,
            opener: Opener(tx),
            relayed,
        };
        // Fails only when the node is gone, and then nobody needs to know.
        let _ = events.control.send(announce);
        StreamMuxerBox::new(KernelMuxer {
            inner,
            protocol,
            peer,
            conn,
            events,
            sniffing: FuturesUnordered::new(),
            for_swarm: VecDeque::new(),
            inbound_waker: None,
            requests,
            opening: VecDeque::new(),
        })
    }

    /// Takes new inbound substreams into sniffing and settles the sniffed ones.
    fn drive_inbound(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let protocol = self.protocol;
        loop {
            while self.sniffing.len() < MAX_SNIFFING {
                match Pin::new(&mut self.inner).poll_inbound(cx) {
                    Poll::Ready(Ok(stream)) => self.sniffing.push(
                        async move {
                            let sniffed = negotiate::sniff(stream, protocol);
                            match tokio::time::timeout(SNIFF_TIMEOUT, sniffed).await {
                                Ok(Ok(sniffed)) => Some(sniffed),
                                _ => None,
                            }
                        }
                        .boxed(),
                    ),
                    Poll::Ready(Err(e)) => return Err(e),
                    Poll::Pending => break,
                }
            }
            match self.sniffing.poll_next_unpin(cx) {
                Poll::Ready(Some(Some(Sniffed::Taken(stream)))) => {
                    let event = MuxEvent::Inbound {
                        peer: self.peer,
                        conn: self.conn,
                        stream: SubstreamBox::new(stream),
                    };
                    // A node that cannot keep up is sent no more channels: dropping the stream
                    // resets it, and the dialer tries again later.
                    if self.events.inbound.try_send(event).is_err() {
                        tracing::debug!("remote: inbound channel from {} dropped", self.peer);
                    }
                }
                Poll::Ready(Some(Some(Sniffed::Other(replay)))) => {
                    self.for_swarm.push_back(SubstreamBox::new(replay));
                    if let Some(waker) = self.inbound_waker.take() {
                        waker.wake();
                    }
                }
                Poll::Ready(Some(None)) => {}
                Poll::Ready(None) | Poll::Pending => return Ok(()),
            }
        }
    }

    /// Opens the substreams the node asked for.
    fn drive_outbound(&mut self, cx: &mut Context<'_>) {
        while let Poll::Ready(Some(reply)) = self.requests.poll_recv(cx) {
            self.opening.push_back(reply);
        }
        while !self.opening.is_empty() {
            match Pin::new(&mut self.inner).poll_outbound(cx) {
                Poll::Ready(result) => {
                    let reply = self.opening.pop_front().expect("checked non-empty");
                    let _ = reply.send(result);
                }
                Poll::Pending => break,
            }
        }
    }
}

impl Drop for KernelMuxer {
    fn drop(&mut self) {
        let closed = MuxEvent::Closed {
            peer: self.peer,
            conn: self.conn,
        };
        let _ = self.events.control.send(closed);
    }
}

impl StreamMuxer for KernelMuxer {
    type Substream = SubstreamBox;
    type Error = io::Error;

    fn poll_inbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        let this = self.get_mut();
        this.drive_inbound(cx)?;
        if let Some(stream) = this.for_swarm.pop_front() {
            return Poll::Ready(Ok(stream));
        }
        this.inbound_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn poll_outbound(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Self::Substream, Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_outbound(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<StreamMuxerEvent, Self::Error>> {
        let this = self.get_mut();
        // The Swarm polls this on every turn of the connection, even when it takes no inbound
        // substreams: kernel channels are accepted and opened here.
        this.drive_outbound(cx);
        let event = Pin::new(&mut this.inner).poll(cx)?;
        this.drive_inbound(cx)?;
        event.map(Ok)
    }
}
