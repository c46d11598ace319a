//! Just enough of a JavaScript tokenizer to find a module's `import` and `export` statements:
//! it knows where strings, template literals, comments and regular expressions begin and end,
//! so that nothing inside them is mistaken for code. It does not parse expressions.
//!
//! Whether a `/` starts a regular expression or divides is decided by the token before it, as
//! most JavaScript tools without a full parser do: after a value (a name, number, string, `)`,
//! `]` or `}`) it divides, elsewhere it starts a regular expression. The rare cases this gets
//! wrong (a regular expression right after a block's `}` or after `if (…)`) need a `;` or
//! parentheses in the source.

use super::SourceError;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A name, keyword or number.
    Word,
    /// One punctuation character (`{`, `;`, `*`, `.`…).
    Punct,
    /// A string literal, quotes included.
    Str,
    /// A piece of a template literal: from its backquote or a `}` closing a substitution, to
    /// its closing backquote or the next `${`.
    Template,
    /// A regular expression literal, flags included.
    Regex,
    /// A comment.
    Comment,
}

/// One token: its kind, where it is in the source, and its line (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: Kind,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// The line it starts on.
    pub line: usize,
}

impl Token {
    /// Its text in `source`.
    pub fn text<'s>(&self, source: &'s str) -> &'s str {
        &source[self.start..self.end]
    }
}

/// Keywords after which a `/` starts a regular expression, although they are words.
const BEFORE_EXPRESSION: [&str; 14] = [
    "return",
    "typeof",
    "instanceof",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
    "case",
    "do",
    "else",
    "yield",
    "await",
];

/// What an open brace belongs to.
#[derive(Clone, Copy, PartialEq)]
enum Brace {
    /// A block, object or class body.
    Code,
    /// A template literal's `${ … }`.
    Substitution,
}

/// Splits `source` into tokens; `file` names it in errors.
pub fn tokenize(source: &str, file: &str) -> Result<Vec<Token>, SourceError> {
    Lexer {
        source,
        bytes: source.as_bytes(),
        file,
        at: 0,
        line: 1,
        tokens: Vec::new(),
        braces: Vec::new(),
    }
    .run()
}

struct Lexer<'s> {
    source: &'s str,
    bytes: &'s [u8],
    file: &'s str,
    at: usize,
    line: usize,
    tokens: Vec<Token>,
    braces: Vec<Brace>,
}

impl Lexer<'_> {
    fn run(mut self) -> Result<Vec<Token>, SourceError> {
        if self.source.starts_with("#!") {
            self.skip_while(|b| b != b'\n');
        }
        while let Some(&b) = self.bytes.get(self.at) {
            let (start, line) = (self.at, self.line);
            let kind = match b {
                b'\n' => {
                    self.line += 1;
                    self.at += 1;
                    continue;
                }
                _ if b.is_ascii_whitespace() => {
                    self.at += 1;
                    continue;
                }
                b'/' if self.peek(1) == Some(b'/') => {
                    self.skip_while(|b| b != b'\n');
                    Kind::Comment
                }
                b'/' if self.peek(1) == Some(b'*') => {
                    self.block_comment(line)?;
                    Kind::Comment
                }
                b'/' if self.regex_allowed() => {
                    self.regex(line)?;
                    Kind::Regex
                }
                b'\'' | b'"' => {
                    self.string(b, line)?;
                    Kind::Str
                }
                b'`' => {
                    self.at += 1;
                    self.template(line)?;
                    Kind::Template
                }
                b'{' => {
                    self.braces.push(Brace::Code);
                    self.at += 1;
                    Kind::Punct
                }
                b'}' if self.braces.last() == Some(&Brace::Substitution) => {
                    self.braces.pop();
                    self.at += 1;
                    self.template(line)?;
                    Kind::Template
                }
                b'}' => {
                    self.braces.pop();
                    self.at += 1;
                    Kind::Punct
                }
                _ if is_word_byte(b) => {
                    self.skip_while(is_word_byte);
                    Kind::Word
                }
                _ => {
                    // One character, whole (it may be a non-ASCII one).
                    let width = self.source[self.at..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
                    self.at += width;
                    Kind::Punct
                }
            };
            self.tokens.push(Token {
                kind,
                start,
                end: self.at,
                line,
            });
        }
        if !self.braces.is_empty() && self.braces.contains(&Brace::Substitution) {
            return Err(self.error(self.line, "unterminated template literal"));
        }
        Ok(self.tokens)
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.at + ahead).copied()
    }

    fn skip_while(&mut self, keep: impl Fn(u8) -> bool) {
        while self.bytes.get(self.at).is_some_and(|&b| keep(b)) {
            self.at += 1;
        }
    }

    fn error(&self, line: usize, what: &str) -> SourceError {
        SourceError::new(self.file, line, what)
    }

    /// Whether a `/` here starts a regular expression, judging by the last token.
    fn regex_allowed(&self) -> bool {
        let Some(last) = self.tokens.iter().rev().find(|t| t.kind != Kind::Comment) else {
            return true;
        };
        let text = last.text(self.source);
        match last.kind {
            Kind::Word => BEFORE_EXPRESSION.contains(&text),
            Kind::Punct => !matches!(text, ")" | "]" | "}"),
            Kind::Str | Kind::Template | Kind::Regex | Kind::Comment => false,
        }
    }

    fn block_comment(&mut self, line: usize) -> Result<(), SourceError> {
        let Some(length) = self.source[self.at + 2..].find("*/") else {
            return Err(self.error(line, "unterminated comment"));
        };
        let end = self.at + 2 + length + 2;
        self.line += self.source[self.at..end].matches('\n').count();
        self.at = end;
        Ok(())
    }

    /// A quoted string; `quote` is its opening quote.
    fn string(&mut self, quote: u8, line: usize) -> Result<(), SourceError> {
        self.at += 1;
        loop {
            match self.bytes.get(self.at) {
                None | Some(b'\n') => return Err(self.error(line, "unterminated string")),
                Some(b'\\') => {
                    if self.peek(1) == Some(b'\n') {
                        self.line += 1;
                    }
                    self.at += 2;
                }
                Some(&b) => {
                    self.at += 1;
                    if b == quote {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Template text up to its closing backquote or the next `${` (which opens a substitution).
    fn template(&mut self, line: usize) -> Result<(), SourceError> {
        loop {
            match self.bytes.get(self.at) {
                None => return Err(self.error(line, "unterminated template literal")),
                Some(b'\\') => {
                    if self.peek(1) == Some(b'\n') {
                        self.line += 1;
                    }
                    self.at += 2;
                }
                Some(b'`') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b'$') if self.peek(1) == Some(b'{') => {
                    self.at += 2;
                    self.braces.push(Brace::Substitution);
                    return Ok(());
                }
                Some(&b) => {
                    if b == b'\n' {
                        self.line += 1;
                    }
                    self.at += 1;
                }
            }
        }
    }

    /// A regular expression literal: a `/` inside a class (`[…]`) does not end it.
    fn regex(&mut self, line: usize) -> Result<(), SourceError> {
        self.at += 1;
        let mut in_class = false;
        loop {
            match self.bytes.get(self.at) {
                None | Some(b'\n') => {
                    return Err(self.error(line, "unterminated regular expression"));
                }
                Some(b'\\') => self.at += 2,
                Some(&b) => {
                    self.at += 1;
                    match b {
                        b'[' => in_class = true,
                        b']' => in_class = false,
                        b'/' if !in_class => break,
                        _ => {}
                    }
                }
            }
        }
        self.skip_while(is_word_byte);
        Ok(())
    }
}

/// A byte that can be part of a name or number (any non-ASCII byte counts, so that names in
/// other scripts stay whole).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<(Kind, String)> {
        tokenize(source, "t.js")
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.text(source).to_string()))
            .collect()
    }

    #[test]
    fn strings_comments_and_templates_hide_their_contents() {
        let source =
            "a('import x', \"}\", /* export { */ `t ${ {b: `in ${c}`} } end`) // import\nd";
        let tokens = kinds(source);
        let words: Vec<&str> = tokens
            .iter()
            .filter(|(k, _)| *k == Kind::Word)
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(words, ["a", "b", "c", "d"]);
        assert!(tokens.contains(&(Kind::Comment, "/* export { */".into())));
        assert!(tokens.contains(&(Kind::Template, "`t ${".into())));
        assert!(tokens.contains(&(Kind::Template, "} end`".into())));
        assert!(tokens.contains(&(Kind::Template, "`in ${".into())));
        assert!(tokens.contains(&(Kind::Comment, "// import".into())));
    }

    #[test]
    fn slashes_divide_after_values_and_start_regexes_elsewhere() {
        let tokens = kinds("x = a / b / c; y = /[/]import{/g.test(z); return /'/");
        let regexes: Vec<&str> = tokens
            .iter()
            .filter(|(k, _)| *k == Kind::Regex)
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(regexes, ["/[/]import{/g", "/'/"]);
        assert!(tokens.contains(&(Kind::Word, "c".into())));
        let after_paren = kinds("(a) / 2 / (b)");
        assert!(after_paren.iter().all(|(k, _)| *k != Kind::Regex));
    }

    #[test]
    fn lines_are_counted_through_every_kind_of_token() {
        let source = "/* 1\n2 */ `3\n${4}\n5` '6\\\n7'\nlast";
        let tokens = tokenize(source, "t.js").unwrap();
        let last = tokens.last().unwrap();
        assert_eq!((last.text(source), last.line), ("last", 6));
    }

    #[test]
    fn unterminated_literals_are_errors_with_their_line() {
        for (source, what) in [
            ("a;\n'abc", "t.js:2: unterminated string"),
            ("a;\n\n`abc ${ d }", "t.js:3: unterminated template literal"),
            ("/* abc", "t.js:1: unterminated comment"),
            ("x = /abc\n/", "t.js:1: unterminated regular expression"),
        ] {
            let error = tokenize(source, "t.js").unwrap_err();
            assert_eq!(error.to_string(), what, "{source}");
        }
    }
}
