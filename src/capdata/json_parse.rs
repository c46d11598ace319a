//! A small JSON parser with `JSON.parse` semantics and a nesting limit.
//!
//! We do not use `serde_json` here because (a) without its `float_roundtrip`
//! feature it may misround floats, breaking bit-exact round trips, (b) its
//! objects cannot express JavaScript's key order, and (c) we want our own
//! depth limit and `1e400` → Infinity like JavaScript.

use super::js_object::{dedupe_last_wins, js_property_order};

/// A parsed JSON value as JavaScript sees it: numbers are f64 and objects
/// iterate in JavaScript property order with duplicates collapsed.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The value stored under `key` if this is an object that has it.
    pub(super) fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Why a JSON text was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ParseError {
    /// Malformed text at a byte offset.
    Syntax { offset: usize, reason: &'static str },
    /// Arrays/objects nested deeper than the limit.
    TooDeep { limit: usize },
}

/// Parses a complete JSON text, allowing at most `max_depth` nested containers.
pub(super) fn parse(text: &str, max_depth: usize) -> Result<Json, ParseError> {
    let mut parser = Parser {
        text,
        pos: 0,
        max_depth,
    };
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos < text.len() {
        return Err(parser.error("unexpected characters after the JSON value"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn error(&self, reason: &'static str) -> ParseError {
        ParseError::Syntax {
            offset: self.pos,
            reason,
        }
    }

    fn skip_ws(&mut self) {
        // JSON whitespace is exactly these four characters.
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(reason))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, ParseError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end of input")),
        }
    }

    fn literal(&mut self, word: &'static str, value: Json) -> Result<Json, ParseError> {
        if self.text.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn enter(&self, depth: usize) -> Result<(), ParseError> {
        if depth > self.max_depth {
            Err(ParseError::TooDeep {
                limit: self.max_depth,
            })
        } else {
            Ok(())
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, ParseError> {
        self.enter(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']' in array")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, ParseError> {
        self.enter(depth)?;
        self.pos += 1; // '{'
        let mut entries = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(entries));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key in object"));
            }
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':', "expected ':' after object key")?;
            entries.push((key, self.value(depth)?));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    let entries = js_property_order(dedupe_last_wins(entries));
                    return Ok(Json::Object(entries));
                }
                _ => return Err(self.error("expected ',' or '}' in object")),
            }
        }
    }

    fn number(&mut self) -> Result<Json, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.require_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.require_digits()?;
        }
        // Rust's parser is correctly rounded and maps overflow to ±Infinity,
        // exactly like JavaScript's JSON.parse.
        let slice = self.text.get(start..self.pos).unwrap_or_default();
        slice
            .parse::<f64>()
            .map(Json::Number)
            .map_err(|_| self.error("invalid number"))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn require_digits(&mut self) -> Result<(), ParseError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error("expected a digit"));
        }
        self.digits();
        Ok(())
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            // Copy runs of ordinary characters; we only stop on ASCII bytes,
            // so every slice boundary is a char boundary.
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return Err(self.error("control character in string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn escape(&mut self) -> Result<char, ParseError> {
        let byte = self
            .peek()
            .ok_or_else(|| self.error("unterminated string"))?;
        self.pos += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(),
            _ => return Err(self.error("invalid escape")),
        })
    }

    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let first = self.hex4()?;
        if !(0xD800..0xDC00).contains(&first) {
            // A lone low surrogate fails here too: Rust strings cannot hold it.
            return char::from_u32(u32::from(first))
                .ok_or_else(|| self.error("lone surrogate in string"));
        }
        if self.text.get(self.pos..self.pos + 2) != Some("\\u") {
            return Err(self.error("lone surrogate in string"));
        }
        self.pos += 2;
        let second = self.hex4()?;
        if !(0xDC00..0xE000).contains(&second) {
            return Err(self.error("lone surrogate in string"));
        }
        let code = 0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00);
        char::from_u32(code).ok_or_else(|| self.error("lone surrogate in string"))
    }

    fn hex4(&mut self) -> Result<u16, ParseError> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        let value =
            u16::from_str_radix(digits, 16).map_err(|_| self.error("invalid \\u escape"))?;
        self.pos += 4;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Json {
        parse(text, 8).unwrap()
    }

    #[test]
    fn parses_scalars() {
        assert_eq!(ok(" null "), Json::Null);
        assert_eq!(ok("true"), Json::Bool(true));
        assert_eq!(ok("-1.5e3"), Json::Number(-1500.0));
        assert_eq!(ok("1e400"), Json::Number(f64::INFINITY));
        assert!(matches!(ok("-0"), Json::Number(z) if z == 0.0 && z.is_sign_negative()));
        assert_eq!(
            ok(r#""a\u00e9\ud83d\ude00\n""#),
            Json::String("aé😀\n".into())
        );
    }

    #[test]
    fn objects_follow_js_semantics() {
        let parsed = ok(r#"{"b":1,"10":2,"b":3,"9":4}"#);
        let expected = Json::Object(vec![
            ("9".into(), Json::Number(4.0)),
            ("10".into(), Json::Number(2.0)),
            ("b".into(), Json::Number(3.0)),
        ]);
        assert_eq!(parsed, expected);
    }

    #[test]
    fn rejects_malformed_text() {
        let bad = [
            "",
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "1e",
            "[1,]",
            "{\"a\"}",
            "{a:1}",
            "\"\\x\"",
            "\"\u{1}\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "tru",
            "nul",
            "1 2",
            "\"abc",
            "[",
            "{",
            "\"\\u12\"",
        ];
        for text in bad {
            assert!(
                matches!(parse(text, 8), Err(ParseError::Syntax { .. })),
                "{text:?}"
            );
        }
    }

    #[test]
    fn enforces_depth_limit() {
        assert!(parse("[[[[]]]]", 4).is_ok());
        assert_eq!(
            parse("[[[[[]]]]]", 4),
            Err(ParseError::TooDeep { limit: 4 })
        );
        let deep = "[".repeat(100_000);
        assert_eq!(parse(&deep, 256), Err(ParseError::TooDeep { limit: 256 }));
    }
}
