//! The kernel channel's framing (remote-comms.md §3.1): each frame is an unsigned LEB128 varint
//! byte length followed by that many bytes (UTF-8 JSON), as js-libp2p's `lpStream` writes and
//! reads it, with at most [`MAX_FRAME`] bytes per frame.

use libp2p::futures::{AsyncRead, AsyncReadExt};

/// The largest frame either side accepts: 1 MiB, the reference's `maxMessageSizeBytes`.
pub const MAX_FRAME: usize = 1 << 20;

/// Longest varint accepted for a length; 1 MiB needs three bytes, JavaScript writes minimal ones.
const MAX_VARINT_BYTES: usize = 4;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The declared or actual length is over the limit; the stream cannot be resynchronised.
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME} bytes")]
    TooLong(u64),
    /// The length prefix is not a valid varint.
    #[error("malformed frame length")]
    BadLength,
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame")]
    Truncated,
    /// The transport failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// `frame` with its varint length prefix, ready to write; refuses frames over [`MAX_FRAME`].
pub fn encode(frame: &[u8]) -> Result<Vec<u8>, FrameError> {
    if frame.len() > MAX_FRAME {
        return Err(FrameError::TooLong(frame.len() as u64));
    }
    let mut out = Vec::with_capacity(frame.len() + MAX_VARINT_BYTES);
    put_varint(&mut out, frame.len() as u64);
    out.extend_from_slice(frame);
    Ok(out)
}

/// Appends `value` as an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Decodes a length prefix at the start of `bytes`: `Ok(Some((length, prefix bytes)))`,
/// `Ok(None)` if more bytes are needed, or an error as soon as the length is known to be bad.
pub fn decode_length(bytes: &[u8], max: usize) -> Result<Option<(usize, usize)>, FrameError> {
    let mut value: u64 = 0;
    for (i, byte) in bytes.iter().enumerate() {
        if i == MAX_VARINT_BYTES {
            return Err(FrameError::BadLength);
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if value > max as u64 {
            return Err(FrameError::TooLong(value));
        }
        if byte & 0x80 == 0 {
            return Ok(Some((value as usize, i + 1)));
        }
    }
    if bytes.len() >= MAX_VARINT_BYTES {
        return Err(FrameError::BadLength);
    }
    Ok(None)
}

/// Reads length-prefixed frames from a stream. Never allocates more than the declared length of
/// a frame it has accepted, so an over-long length is refused before any buffer is made for it.
pub struct FrameReader<R> {
    io: R,
    max: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader of frames up to [`MAX_FRAME`] bytes.
    pub fn new(io: R) -> Self {
        Self::with_limit(io, MAX_FRAME)
    }

    /// A reader of frames up to `max` bytes (the multistream negotiation uses a small limit).
    pub fn with_limit(io: R, max: usize) -> Self {
        FrameReader { io, max }
    }

    /// The next frame, or `None` when the stream ended cleanly between frames.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        // The prefix is read a byte at a time so that nothing past this frame is consumed: after
        // a multistream negotiation the same stream carries the kernel's frames.
        let mut prefix = Vec::with_capacity(MAX_VARINT_BYTES);
        let length = loop {
            let mut byte = [0u8];
            let n = self.io.read(&mut byte).await?;
            if n == 0 {
                return if prefix.is_empty() {
                    Ok(None)
                } else {
                    Err(FrameError::Truncated)
                };
            }
            prefix.push(byte[0]);
            if let Some((length, _)) = decode_length(&prefix, self.max)? {
                break length;
            }
        };
        let mut frame = vec![0u8; length];
        match self.io.read_exact(&mut frame).await {
            Ok(()) => Ok(Some(frame)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(FrameError::Truncated),
            Err(e) => Err(e.into()),
        }
    }

    /// The underlying stream.
    pub fn into_inner(self) -> R {
        self.io
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::futures::executor::block_on;
    use libp2p::futures::io::Cursor;

    fn read_all(bytes: Vec<u8>) -> Result<Vec<Vec<u8>>, FrameError> {
        block_on(async {
            let mut reader = FrameReader::new(Cursor::new(bytes));
            let mut frames = Vec::new();
            while let Some(frame) = reader.next().await? {
                frames.push(frame);
            }
            Ok(frames)
        })
    }

    #[test]
    fn varints_are_leb128() {
        for (value, bytes) in [
            (0u64, vec![0x00]),
            (1, vec![0x01]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (300, vec![0xac, 0x02]),
            (1 << 20, vec![0x80, 0x80, 0x40]),
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(
                decode_length(&bytes, MAX_FRAME).unwrap(),
                Some((value as usize, bytes.len()))
            );
        }
    }

    #[test]
    fn frames_round_trip_including_the_limit() {
        let big = vec![b'x'; MAX_FRAME];
        let mut stream = encode(b"{\"ack\":1}").unwrap();
        stream.extend(encode(b"").unwrap());
        stream.extend(encode(&big).unwrap());
        let frames = read_all(stream).unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], b"{\"ack\":1}");
        assert!(frames[1].is_empty());
        assert_eq!(frames[2].len(), MAX_FRAME);
    }

    #[test]
    fn the_sender_refuses_a_frame_over_the_limit() {
        assert!(matches!(
            encode(&vec![0u8; MAX_FRAME + 1]),
            Err(FrameError::TooLong(n)) if n == MAX_FRAME as u64 + 1
        ));
    }

    #[test]
    fn an_over_long_length_is_refused_before_its_bytes_arrive() {
        // 1 MiB + 1 declared, nothing following: refused on the length alone.
        let mut stream = Vec::new();
        put_varint(&mut stream, MAX_FRAME as u64 + 1);
        assert!(matches!(read_all(stream), Err(FrameError::TooLong(_))));
        // A huge declared length (2^63) is refused at the byte that makes it too big.
        let huge = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(matches!(read_all(huge), Err(FrameError::TooLong(_))));
    }

    #[test]
    fn malformed_and_truncated_streams_are_errors() {
        // Five continuation bytes of zero value: not a length.
        assert!(matches!(
            read_all(vec![0x80, 0x80, 0x80, 0x80, 0x00]),
            Err(FrameError::BadLength)
        ));
        assert!(matches!(read_all(vec![0x80]), Err(FrameError::Truncated)));
        assert!(matches!(
            read_all(vec![0x05, b'a', b'b']),
            Err(FrameError::Truncated)
        ));
    }

    #[test]
    fn a_small_limit_applies() {
        let block = |bytes: Vec<u8>| {
            block_on(async { FrameReader::with_limit(Cursor::new(bytes), 8).next().await })
        };
        assert!(block(encode(b"12345678").unwrap()).is_ok());
        assert!(matches!(
            block(encode(b"123456789").unwrap()),
            Err(FrameError::TooLong(9))
        ));
    }
}
