//! Line framing: collect bytes until the first `\n`, with a size cap.
//!
//! Bytes are kept raw until the line is complete and decoded once, so a multi-byte UTF-8
//! character split across reads is never corrupted (the reference decodes per chunk, spec §14.15).

/// What a [`LineBuffer`] has seen so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// No newline yet: read more.
    Incomplete,
    /// A complete line (without its `\n`) and nothing after it.
    Line(Vec<u8>),
    /// A complete line followed by more bytes: the reference refuses to run it (spec §1.3).
    LineWithExtra,
    /// More than the allowed number of bytes arrived without a newline.
    TooLarge,
}

/// Accumulates the bytes of one request line.
#[derive(Debug)]
pub struct LineBuffer {
    bytes: Vec<u8>,
    max: usize,
}

impl LineBuffer {
    /// A buffer that accepts lines of at most `max` bytes (excluding the newline).
    pub fn new(max: usize) -> LineBuffer {
        LineBuffer {
            bytes: Vec::new(),
            max,
        }
    }

    /// Whether nothing has been received yet.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes the buffer will have allocated once `more` bytes are pushed: what a
    /// connection reserves from the daemon's budget before pushing them. It grows by doubling,
    /// but never past what the size cap can need.
    pub fn capacity_after(&self, more: usize) -> usize {
        let (len, capacity) = (self.bytes.len(), self.bytes.capacity());
        let needed = len + more;
        if needed <= capacity {
            capacity
        } else {
            (2 * capacity).clamp(needed, needed.max(self.max + 1))
        }
    }

    /// Appends `chunk` and reports whether a line is complete.
    pub fn push(&mut self, chunk: &[u8]) -> Frame {
        let searched = self.bytes.len();
        let capacity = self.capacity_after(chunk.len());
        self.bytes.reserve_exact(capacity - searched);
        self.bytes.extend_from_slice(chunk);
        match self.bytes[searched..].iter().position(|&b| b == b'\n') {
            Some(offset) => self.split_at(searched + offset),
            None if self.bytes.len() > self.max => Frame::TooLarge,
            None => Frame::Incomplete,
        }
    }

    fn split_at(&mut self, newline: usize) -> Frame {
        if newline > self.max {
            return Frame::TooLarge;
        }
        if newline + 1 < self.bytes.len() {
            return Frame::LineWithExtra;
        }
        self.bytes.truncate(newline);
        Frame::Line(std::mem::take(&mut self.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_split_over_reads_is_joined() {
        let mut buf = LineBuffer::new(100);
        assert_eq!(buf.push(b"{\"a\":"), Frame::Incomplete);
        assert_eq!(buf.push(b"1}\n"), Frame::Line(b"{\"a\":1}".to_vec()));
    }

    #[test]
    fn utf8_split_across_reads_survives() {
        let text = "{\"x\":\"\u{1F600}\"}\n".as_bytes();
        let mut buf = LineBuffer::new(100);
        assert_eq!(buf.push(&text[..8]), Frame::Incomplete);
        let Frame::Line(line) = buf.push(&text[8..]) else {
            panic!("no line")
        };
        assert_eq!(String::from_utf8(line).unwrap(), "{\"x\":\"\u{1F600}\"}");
    }

    #[test]
    fn the_allocation_is_what_capacity_after_says_and_stays_near_the_cap() {
        let mut buf = LineBuffer::new(1000);
        assert_eq!(buf.capacity_after(0), 0, "nothing allocated before data");
        for chunk in [10, 10, 100, 300, 500, 50] {
            let expected = buf.capacity_after(chunk);
            assert_eq!(buf.push(&vec![b'x'; chunk]), Frame::Incomplete);
            assert_eq!(buf.bytes.capacity(), expected);
        }
        assert_eq!(buf.bytes.capacity(), 1001, "doubling stops at the cap");
    }

    #[test]
    fn bytes_after_the_newline_are_refused() {
        let mut buf = LineBuffer::new(100);
        assert_eq!(buf.push(b"{}\n{}\n"), Frame::LineWithExtra);
    }

    #[test]
    fn oversized_lines_are_refused_with_or_without_newline() {
        let mut buf = LineBuffer::new(4);
        assert_eq!(buf.push(b"12345"), Frame::TooLarge);
        let mut buf = LineBuffer::new(4);
        assert_eq!(buf.push(b"123456\n"), Frame::TooLarge);
        let mut buf = LineBuffer::new(4);
        assert_eq!(buf.push(b"1234\n"), Frame::Line(b"1234".to_vec()));
    }
}
