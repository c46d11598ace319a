//! One kernel channel: a negotiated substream that does the handshake (remote-comms.md §3.2),
//! asks the kernel's verdict on the peer's incarnation, then carries frames both ways until it
//! breaks, is replaced, or goes idle.

use super::super::frame::{self, FrameReader};
use super::super::wire::Frame;
use super::{Credit, FRAME_OVERHEAD, NetLimits, Verdict};
use libp2p::PeerId;
use libp2p::core::muxing::SubstreamBox;
use libp2p::futures::io::{ReadHalf, WriteHalf};
use libp2p::futures::{AsyncReadExt, AsyncWriteExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::{Instant, timeout};

/// Frames queued for writing on one channel; beyond it frames are dropped (the kernel's
/// retransmission covers them) rather than held for a peer that does not read.
pub const WRITE_QUEUE: usize = 256;

/// Which side opened the substream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We dialed: we send `handshake` and wait for `handshakeAck`.
    Dialer,
    /// The peer dialed: we wait for `handshake` and answer `handshakeAck`.
    Listener,
}

/// What a channel tells the node.
pub enum ChanEvent {
    /// The peer's handshake arrived; the node asks the kernel and answers on `reply`.
    Handshake {
        peer: PeerId,
        incarnation: String,
        reply: oneshot::Sender<Verdict>,
    },
    /// The channel is ready: frames for the peer go to `writer`.
    Up {
        peer: PeerId,
        chan: u64,
        role: Role,
        writer: mpsc::Sender<Vec<u8>>,
    },
    /// A frame from the peer, with its share of the peer's budget of unhandled frames.
    Frame {
        peer: PeerId,
        frame: Vec<u8>,
        credit: Credit,
    },
    /// The channel ended (before or after it was up).
    Down {
        peer: PeerId,
        chan: u64,
        reason: String,
    },
}

/// What a channel needs to know.
pub struct ChanCtx {
    /// The remote peer.
    pub peer: PeerId,
    /// The node's id for this channel.
    pub chan: u64,
    /// Our incarnation.
    pub incarnation: String,
    /// Timings and limits.
    pub limits: NetLimits,
    /// Where to report.
    pub events: mpsc::UnboundedSender<ChanEvent>,
    /// The peer's budget of frames the kernel has yet to handle (shared by its channels).
    pub budget: Arc<Semaphore>,
}

/// Runs a channel on a negotiated substream until it ends, then reports [`ChanEvent::Down`].
pub async fn run(stream: SubstreamBox, role: Role, ctx: ChanCtx) {
    let reason = match serve(stream, role, &ctx).await {
        Ok(()) => "closed".to_string(),
        Err(reason) => reason,
    };
    let _ = ctx.events.send(ChanEvent::Down {
        peer: ctx.peer,
        chan: ctx.chan,
        reason,
    });
}

async fn serve(stream: SubstreamBox, role: Role, ctx: &ChanCtx) -> Result<(), String> {
    let (read, mut write) = stream.split();
    let mut reader = FrameReader::new(read);
    let own = Frame::Handshake {
        incarnation_id: ctx.incarnation.clone(),
    };
    let limit = ctx.limits.handshake_timeout;
    let incarnation = timeout(limit, async {
        if role == Role::Dialer {
            write_frame(&mut write, own.encode().as_bytes()).await?;
        }
        let first = reader
            .next()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("stream closed during the handshake")?;
        match (role, Frame::decode(&first)) {
            (Role::Dialer, Ok(Frame::HandshakeAck { incarnation_id })) => Ok(incarnation_id),
            (Role::Listener, Ok(Frame::Handshake { incarnation_id })) => Ok(incarnation_id),
            (_, Ok(_)) => Err("unexpected frame during the handshake".to_string()),
            (_, Err(e)) => Err(format!("bad handshake: {e}")),
        }
    })
    .await
    .map_err(|_| "handshake timed out".to_string())??;
    let (reply, verdict) = oneshot::channel();
    ctx.events
        .send(ChanEvent::Handshake {
            peer: ctx.peer,
            incarnation,
            reply,
        })
        .map_err(|_| "node stopped")?;
    let verdict = timeout(limit, verdict)
        .await
        .map_err(|_| "the kernel did not answer the handshake in time")?
        .map_err(|_| "the handshake was refused")?;
    if role == Role::Listener {
        let ack = Frame::HandshakeAck {
            incarnation_id: ctx.incarnation.clone(),
        };
        timeout(
            ctx.limits.write_timeout,
            write_frame(&mut write, ack.encode().as_bytes()),
        )
        .await
        .map_err(|_| "write timed out")??;
    }
    if verdict == Verdict::PeerRestarted {
        // As the reference: the restarted peer's first channel is closed; it dials again.
        let _ = write.close().await;
        return Err("peer restarted: channel closed to force a new one".into());
    }
    let (writer, queue) = mpsc::channel(WRITE_QUEUE);
    ctx.events
        .send(ChanEvent::Up {
            peer: ctx.peer,
            chan: ctx.chan,
            role,
            writer,
        })
        .map_err(|_| "node stopped")?;
    let reading = read_loop(reader, ctx);
    tokio::pin!(reading);
    tokio::select! {
        result = &mut reading => return result,
        result = write_loop(write, queue, ctx.limits.write_timeout) => result?,
    }
    // The node dropped the writer (the channel was replaced or the peer forgotten) and our side
    // is closed; the peer may still have frames in flight on this stream, and frames are
    // accepted on whichever channel they arrive: read them until it closes too.
    timeout(ctx.limits.handshake_timeout, reading)
        .await
        .unwrap_or(Ok(()))
}

async fn write_frame(write: &mut WriteHalf<SubstreamBox>, bytes: &[u8]) -> Result<(), String> {
    let framed = frame::encode(bytes).map_err(|e| e.to_string())?;
    write.write_all(&framed).await.map_err(|e| e.to_string())?;
    write.flush().await.map_err(|e| e.to_string())
}

async fn write_loop(
    mut write: WriteHalf<SubstreamBox>,
    mut queue: mpsc::Receiver<Vec<u8>>,
    limit: Duration,
) -> Result<(), String> {
    while let Some(bytes) = queue.recv().await {
        timeout(limit, write_frame(&mut write, &bytes))
            .await
            .map_err(|_| "write timed out".to_string())??;
    }
    // The node dropped the writer: replaced or forgotten.
    let _ = write.close().await;
    Ok(())
}

/// Reads frames and forwards them, at most `max_frames_per_sec` per second and within the peer's
/// budget of frames the kernel has yet to handle: beyond either the reader pauses, so flow
/// control slows the peer down and nothing is lost.
async fn read_loop(
    mut reader: FrameReader<ReadHalf<SubstreamBox>>,
    ctx: &ChanCtx,
) -> Result<(), String> {
    let rate = f64::from(ctx.limits.max_frames_per_sec.max(1));
    let mut tokens = rate;
    let mut last = Instant::now();
    loop {
        let Some(frame) = reader.next().await.map_err(|e| e.to_string())? else {
            return Err("stream closed by the peer".into());
        };
        let now = Instant::now();
        tokens = (tokens + now.duration_since(last).as_secs_f64() * rate).min(rate);
        last = now;
        if tokens < 1.0 {
            tokio::time::sleep(Duration::from_secs_f64((1.0 - tokens) / rate)).await;
            tokens = 1.0;
            last = Instant::now();
        }
        tokens -= 1.0;
        let cost = u32::try_from(frame.len()).unwrap_or(u32::MAX) + FRAME_OVERHEAD;
        let cost = cost.min(ctx.limits.max_unhandled_bytes.max(1));
        let permit = Arc::clone(&ctx.budget)
            .acquire_many_owned(cost)
            .await
            .map_err(|_| "node stopped")?;
        ctx.events
            .send(ChanEvent::Frame {
                peer: ctx.peer,
                frame,
                credit: Credit::of(permit),
            })
            .map_err(|_| "node stopped")?;
    }
}
