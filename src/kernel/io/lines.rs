//! Incoming bytes to lines, as the reference's socket channel makes them (Node's streaming
//! `StringDecoder('utf8')`, split on `\n`), with a bound on the length of one line.
//!
//! A `\n` byte never occurs inside a multi-byte UTF-8 sequence, so splitting the bytes first and
//! decoding each line afterwards gives the same lines as decoding the stream first, however the
//! bytes were split across reads. Invalid or truncated sequences become U+FFFD.

/// Splits a byte stream into lines.
#[derive(Debug)]
pub struct LineSplitter {
    partial: Vec<u8>,
    max: usize,
}

/// A line grew past the limit without a newline: the client is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong {
    /// The limit, in bytes.
    pub max: usize,
}

impl LineSplitter {
    /// A splitter whose lines may hold at most `max` bytes (the newline not counted).
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter {
            partial: Vec::new(),
            max,
        }
    }

    /// Feeds `bytes`, appending the lines they complete to `lines`, in order. On a line too
    /// long, the lines before it are still appended.
    pub fn feed(&mut self, mut bytes: &[u8], lines: &mut Vec<String>) -> Result<(), TooLong> {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.take(&bytes[..end])?;
            lines.push(decode(&std::mem::take(&mut self.partial)));
            bytes = &bytes[end + 1..];
        }
        self.take(bytes)
    }

    /// The stream ended: the last, unterminated line, if there is one.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.partial);
        (!rest.is_empty()).then(|| decode(&rest))
    }

    fn take(&mut self, bytes: &[u8]) -> Result<(), TooLong> {
        if self.partial.len() + bytes.len() > self.max {
            self.partial = Vec::new();
            return Err(TooLong { max: self.max });
        }
        self.partial.extend_from_slice(bytes);
        Ok(())
    }
}

fn decode(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    impl LineSplitter {
        fn lines(&mut self, bytes: &[u8]) -> Result<Vec<String>, TooLong> {
            let mut lines = Vec::new();
            self.feed(bytes, &mut lines).map(|()| lines)
        }
    }

    #[test]
    fn lines_split_across_reads_come_out_whole() {
        let mut s = LineSplitter::new(100);
        assert_eq!(s.lines(b"hel").unwrap(), Vec::<String>::new());
        assert_eq!(s.lines(b"lo\nwor").unwrap(), ["hello"]);
        assert_eq!(s.lines(b"ld\n\nlast").unwrap(), ["world", ""]);
        assert_eq!(s.finish().as_deref(), Some("last"));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn multibyte_characters_split_across_reads_decode_once() {
        let text = "é€😀\n";
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            let mut s = LineSplitter::new(100);
            let mut lines = s.lines(&bytes[..cut]).unwrap();
            lines.extend(s.lines(&bytes[cut..]).unwrap());
            assert_eq!(lines, ["é€😀"], "cut at {cut}");
        }
    }

    #[test]
    fn invalid_and_truncated_utf8_become_replacement_characters() {
        let mut s = LineSplitter::new(100);
        assert_eq!(s.lines(b"a\xffb\n").unwrap(), ["a\u{fffd}b"]);
        assert_eq!(s.lines(b"\xe2\x82").unwrap(), Vec::<String>::new());
        assert_eq!(s.finish().as_deref(), Some("\u{fffd}"));
    }

    #[test]
    fn carriage_returns_are_kept_as_the_reference_keeps_them() {
        let mut s = LineSplitter::new(100);
        assert_eq!(s.lines(b"a\r\n").unwrap(), ["a\r"]);
    }

    #[test]
    fn a_line_longer_than_the_limit_is_refused_and_forgotten() {
        let mut s = LineSplitter::new(4);
        assert_eq!(s.lines(b"abcd\n").unwrap(), ["abcd"]);
        assert_eq!(s.lines(b"abc").unwrap(), Vec::<String>::new());
        assert_eq!(s.lines(b"de"), Err(TooLong { max: 4 }));
        assert_eq!(s.finish(), None, "the over-long line is not kept");
        let mut lines = Vec::new();
        assert_eq!(
            s.feed(b"ok\nabcdefgh\n", &mut lines),
            Err(TooLong { max: 4 })
        );
        assert_eq!(lines, ["ok"], "the lines before it still count");
    }
}
