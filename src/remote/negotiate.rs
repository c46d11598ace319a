//! multistream-select 1.0 for the kernel channel, whose protocol name is the reference's literal
//! `whatever` (remote-comms.md §0.1, §12.2).
//!
//! Why our own code: rust-libp2p negotiates every substream with the `multistream-select` crate,
//! which refuses protocol names that do not start with `/` (0.14.0, the newest release on
//! crates.io), so a stock Swarm can neither propose nor accept `whatever`. The project does not
//! patch or vendor third-party crates, and multistream-select 1.0 is a small public spec: each
//! message is a varint length followed by the text and `\n`; the dialer sends the header
//! `/multistream/1.0.0` and its proposal, the listener answers with the header and either the
//! proposal (accepted) or `na`. This module speaks it for `whatever` only; [`super::muxer`]
//! puts it in front of the Swarm so that every other protocol is still negotiated by libp2p.

use super::frame::{FrameReader, put_varint};
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The kernel channel's protocol name, as the reference registers it.
pub const PROTOCOL: &str = "whatever";

/// The multistream-select 1.0 header message (without its length).
const HEADER: &[u8] = b"/multistream/1.0.0\n";

/// Longest multistream message read while sniffing (names are short; libp2p allows 1 KiB+).
const MAX_MESSAGE: usize = 1024;

/// Why a negotiation failed.
#[derive(Debug, thiserror::Error)]
pub enum NegotiationError {
    /// The listener answered `na`: it does not speak the protocol.
    #[error("the peer does not support the protocol {0:?}")]
    Refused(&'static str),
    /// The peer broke the multistream protocol.
    #[error("multistream negotiation failed: {0}")]
    Protocol(String),
    /// The transport failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// One multistream message with its length prefix.
fn message(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    put_varint(&mut out, text.len() as u64);
    out.extend_from_slice(text);
    out
}

fn proposal(protocol: &str) -> Vec<u8> {
    format!("{protocol}\n").into_bytes()
}

/// Dialer side: proposes `protocol` (the kernel's [`PROTOCOL`], or the relay's stop protocol)
/// on a fresh substream and waits for the answer. Header and proposal go out together, as
/// js-libp2p and rust-libp2p dialers send them.
pub async fn dial<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    protocol: &'static str,
) -> Result<(), NegotiationError> {
    let mut out = message(HEADER);
    out.extend(message(&proposal(protocol)));
    io.write_all(&out).await?;
    io.flush().await?;
    let mut reader = FrameReader::with_limit(&mut *io, MAX_MESSAGE);
    let mut next = async || -> Result<Vec<u8>, NegotiationError> {
        reader
            .next()
            .await
            .map_err(|e| NegotiationError::Protocol(e.to_string()))?
            .ok_or_else(|| NegotiationError::Protocol("stream closed".into()))
    };
    if next().await? != HEADER {
        return Err(NegotiationError::Protocol("no multistream header".into()));
    }
    match next().await? {
        answer if answer == proposal(protocol) => Ok(()),
        answer if answer == b"na\n" => Err(NegotiationError::Refused(protocol)),
        answer => Err(NegotiationError::Protocol(format!(
            "unexpected answer {:?}",
            String::from_utf8_lossy(&answer)
        ))),
    }
}

/// What an inbound substream turned out to be.
pub enum Sniffed<S> {
    /// The dialer proposed the protocol we take; it was accepted and the stream is ours.
    Taken(S),
    /// Anything else: the stream, replaying what was read, for libp2p's own negotiation.
    Other(Replay<S>),
}

/// Listener side: reads the dialer's header and first proposal. For `protocol` it answers and
/// keeps the stream; otherwise it hands back a [`Replay`] that gives libp2p the same bytes (the
/// header it already answered is not written twice). Reads exactly the two messages, so frames
/// the dialer sent right behind its proposal stay in the stream.
pub async fn sniff<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    protocol: &'static str,
) -> io::Result<Sniffed<S>> {
    let mut seen = Vec::new();
    let header = read_raw(&mut io, &mut seen).await?;
    if header.as_deref() != Some(HEADER) {
        return Ok(Sniffed::Other(Replay::new(io, seen, Vec::new())));
    }
    // Answer the header at once: a dialer may wait for it before proposing.
    let answered = message(HEADER);
    io.write_all(&answered).await?;
    io.flush().await?;
    match read_raw(&mut io, &mut seen).await? {
        Some(proposed) if proposed == proposal(protocol) => {
            io.write_all(&message(&proposal(protocol))).await?;
            io.flush().await?;
            Ok(Sniffed::Taken(io))
        }
        _ => Ok(Sniffed::Other(Replay::new(io, seen, answered))),
    }
}

/// Reads one length-prefixed message, appending its raw bytes to `seen`; `None` if it is too
/// long or malformed (then libp2p, given the raw bytes, reports the error itself).
async fn read_raw<S: AsyncRead + Unpin>(
    io: &mut S,
    seen: &mut Vec<u8>,
) -> io::Result<Option<Vec<u8>>> {
    let mut prefix = Vec::new();
    let length = loop {
        let mut byte = [0u8];
        io.read_exact(&mut byte).await?;
        seen.push(byte[0]);
        prefix.push(byte[0]);
        match super::frame::decode_length(&prefix, MAX_MESSAGE) {
            Ok(Some((length, _))) => break length,
            Ok(None) => {}
            Err(_) => return Ok(None),
        }
    };
    let mut text = vec![0u8; length];
    io.read_exact(&mut text).await?;
    seen.extend_from_slice(&text);
    Ok(Some(text))
}

/// A substream that first replays bytes already read from it and drops the first bytes written
/// to it while they equal what was already written (the answered multistream header).
pub struct Replay<S> {
    io: S,
    unread: Vec<u8>,
    read_at: usize,
    written: Vec<u8>,
    skip_at: usize,
}

impl<S> Replay<S> {
    fn new(io: S, unread: Vec<u8>, written: Vec<u8>) -> Self {
        Replay {
            io,
            unread,
            read_at: 0,
            written,
            skip_at: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Replay<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.read_at < this.unread.len() {
            let n = buf.len().min(this.unread.len() - this.read_at);
            buf[..n].copy_from_slice(&this.unread[this.read_at..this.read_at + n]);
            this.read_at += n;
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replay<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let left = &this.written[this.skip_at..];
        if !left.is_empty() && !buf.is_empty() {
            let n = buf.len().min(left.len());
            if buf[..n] == left[..n] {
                this.skip_at += n;
                return Poll::Ready(Ok(n));
            }
            // libp2p wrote something else first: nothing more to skip.
            this.skip_at = this.written.len();
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::futures::executor::block_on;
    use libp2p::futures::io::Cursor;

    /// An in-memory duplex: reads from `input`, records writes.
    struct Duplex {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Duplex {
        fn new(input: Vec<u8>) -> Self {
            Duplex {
                input: Cursor::new(input),
                output: Vec::new(),
            }
        }
    }

    impl AsyncRead for Duplex {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.input).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Duplex {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.output.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn msgs(texts: &[&[u8]]) -> Vec<u8> {
        texts.iter().flat_map(|t| message(t)).collect()
    }

    #[test]
    fn the_dialer_sends_exactly_what_js_libp2p_expects() {
        let mut io = Duplex::new(msgs(&[HEADER, b"whatever\n"]));
        block_on(dial(&mut io, PROTOCOL)).unwrap();
        // 0x13 "/multistream/1.0.0\n" 0x09 "whatever\n"
        let mut expected = vec![0x13];
        expected.extend_from_slice(b"/multistream/1.0.0\n");
        expected.push(0x09);
        expected.extend_from_slice(b"whatever\n");
        assert_eq!(io.output, expected);
    }

    #[test]
    fn the_dialer_reports_na_and_garbage() {
        let mut io = Duplex::new(msgs(&[HEADER, b"na\n"]));
        assert!(matches!(
            block_on(dial(&mut io, PROTOCOL)),
            Err(NegotiationError::Refused(_))
        ));
        let mut io = Duplex::new(msgs(&[b"/multistream/2.0.0\n"]));
        assert!(matches!(
            block_on(dial(&mut io, PROTOCOL)),
            Err(NegotiationError::Protocol(_))
        ));
        let mut io = Duplex::new(vec![0xff, 0xff, 0xff]);
        assert!(matches!(
            block_on(dial(&mut io, PROTOCOL)),
            Err(NegotiationError::Protocol(_))
        ));
    }

    #[test]
    fn the_listener_accepts_whatever_and_leaves_the_first_frame_in_the_stream() {
        let mut input = msgs(&[HEADER, b"whatever\n"]);
        input.extend(super::super::frame::encode(b"{\"ack\":1}").unwrap());
        let Sniffed::Taken(io) = block_on(sniff(Duplex::new(input), PROTOCOL)).unwrap() else {
            panic!("not accepted")
        };
        assert_eq!(io.output, msgs(&[HEADER, b"whatever\n"]));
        let mut reader = FrameReader::new(io);
        assert_eq!(block_on(reader.next()).unwrap().unwrap(), b"{\"ack\":1}");
    }

    #[test]
    fn other_protocols_are_replayed_for_libp2p() {
        let input = msgs(&[HEADER, b"/ipfs/id/1.0.0\n"]);
        let Sniffed::Other(mut replay) =
            block_on(sniff(Duplex::new(input.clone()), PROTOCOL)).unwrap()
        else {
            panic!("kept")
        };
        block_on(async {
            let mut read = vec![0u8; input.len()];
            replay.read_exact(&mut read).await.unwrap();
            assert_eq!(read, input);
            // libp2p answers the header (already sent: dropped) and then the proposal.
            replay.write_all(&message(HEADER)).await.unwrap();
            replay
                .write_all(&message(b"/ipfs/id/1.0.0\n"))
                .await
                .unwrap();
        });
        assert_eq!(replay.io.output, msgs(&[HEADER, b"/ipfs/id/1.0.0\n"]));
    }

    #[test]
    fn a_stream_without_a_header_is_replayed_untouched() {
        let input = msgs(&[b"hello\n"]);
        let Sniffed::Other(replay) = block_on(sniff(Duplex::new(input.clone()), PROTOCOL)).unwrap()
        else {
            panic!("kept")
        };
        assert_eq!(replay.unread, input);
        assert!(replay.io.output.is_empty());
        // An over-long first message is not read past its length.
        let Sniffed::Other(replay) =
            block_on(sniff(Duplex::new(vec![0xff, 0xff, 0x7f]), PROTOCOL)).unwrap()
        else {
            panic!("kept")
        };
        assert_eq!(replay.unread, vec![0xff, 0xff]);
    }
}
