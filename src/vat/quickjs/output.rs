//! What a vat's runtime writes to the daemon's log (journal or log file), each line with the vat
//! id and under a target of its own, so that a filter can keep them apart
//! (`--log-level ocap::vat::liveslots=warn`):
//!
//! | source | target | what |
//! |---|---|---|
//! | `console` | `ocap::vat::console` | the vat's `console` |
//! | `logger` | `ocap::vat::logger` | `vatPowers.logger`, with the logger's tags in `tags` |
//! | `liveslots` | `ocap::vat::liveslots` | liveslots' own lines |
//! | `runtime` | `ocap::vat::runtime` | SES and our supervisor |
//!
//! A vat's output is bounded: a line is cut at [`MAX_LINE`] bytes, and past [`MAX_PER_CRANK`]
//! bytes in one crank the rest of that crank's output is dropped (said once), so a vat cannot
//! flood the log faster than its delivery budget lets it loop.

use tracing::Level;

/// The longest line a vat may log; the rest is cut off.
pub const MAX_LINE: usize = 64 << 10;

/// How much a vat may log in one crank (init, delivery or wake).
pub const MAX_PER_CRANK: usize = 1 << 20;

/// Where a line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The vat's `console`.
    Console,
    /// `vatPowers.logger`.
    Logger,
    /// Liveslots' own console.
    Liveslots,
    /// SES and the supervisor.
    Runtime,
}

impl Source {
    /// The source a runtime script names; an unknown name is the runtime's.
    pub fn parse(name: &str) -> Source {
        match name {
            "console" => Source::Console,
            "logger" => Source::Logger,
            "liveslots" => Source::Liveslots,
            _ => Source::Runtime,
        }
    }
}

/// The tracing level of a console or logger level (`log` is `info`).
pub fn level(name: &str) -> Level {
    match name {
        "error" => Level::ERROR,
        "warn" => Level::WARN,
        "debug" | "trace" => Level::DEBUG,
        _ => Level::INFO,
    }
}

/// One vat's log output and its budget for the current crank.
#[derive(Debug, Default)]
pub struct Output {
    /// Bytes logged in this crank.
    written: usize,
    /// Whether this crank's output has been cut off (and said so).
    stopped: bool,
}

impl Output {
    /// Starts a new crank's budget.
    pub fn new_crank(&mut self) {
        self.written = 0;
        self.stopped = false;
    }

    /// Logs `text` for vat `vat` from `source` at `level`; `tags` are a logger's, joined.
    pub fn write(&mut self, vat: &str, source: Source, level: Level, tags: &str, text: &str) {
        if self.stopped {
            return;
        }
        if self.written + text.len() > MAX_PER_CRANK {
            self.stopped = true;
            tracing::warn!(
                target: "ocap::vat::runtime",
                vat,
                "the vat logged more than {MAX_PER_CRANK} bytes in one crank: the rest of this \
                 crank's output is dropped"
            );
            return;
        }
        self.written += text.len();
        let text = cut(text);
        emit(vat, source, level, tags, &text);
    }
}

/// `text`, cut at a character boundary at most [`MAX_LINE`] bytes in, saying how much went.
fn cut(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_LINE {
        return text.into();
    }
    let mut end = MAX_LINE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &text[..end], text.len() - end).into()
}

/// Emits one event under the source's target at `level` (tracing wants both as constants).
fn emit(vat: &str, source: Source, level: Level, tags: &str, text: &str) {
    macro_rules! at {
        ($target:literal $(, $field:ident = $value:expr)?) => {
            match level {
                Level::ERROR => tracing::error!(target: $target, vat, $($field = $value,)? "{text}"),
                Level::WARN => tracing::warn!(target: $target, vat, $($field = $value,)? "{text}"),
                Level::INFO => tracing::info!(target: $target, vat, $($field = $value,)? "{text}"),
                _ => tracing::debug!(target: $target, vat, $($field = $value,)? "{text}"),
            }
        };
    }
    match source {
        Source::Console => at!("ocap::vat::console"),
        Source::Logger if tags.is_empty() => at!("ocap::vat::logger"),
        Source::Logger => at!("ocap::vat::logger", tags = tags),
        Source::Liveslots => at!("ocap::vat::liveslots"),
        Source::Runtime => at!("ocap::vat::runtime"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        let text = "é".repeat(MAX_LINE);
        let cut = cut(&text);
        assert!(cut.len() < MAX_LINE + 40, "{}", cut.len());
        assert!(cut.ends_with(&format!("… ({} more bytes)", text.len() - MAX_LINE)));
        assert_eq!(super::cut("short"), "short");
    }

    #[test]
    fn a_crank_stops_logging_past_its_budget_and_the_next_starts_afresh() {
        let mut output = Output::default();
        let line = "x".repeat(MAX_LINE);
        for _ in 0..(MAX_PER_CRANK / MAX_LINE) {
            output.write("v1", Source::Console, Level::INFO, "", &line);
        }
        assert!(!output.stopped);
        output.write("v1", Source::Console, Level::INFO, "", "one more");
        assert!(output.stopped);
        output.new_crank();
        output.write("v1", Source::Console, Level::INFO, "", "again");
        assert!(!output.stopped);
        assert_eq!(output.written, 5);
    }

    #[test]
    fn sources_and_levels_are_read_from_their_names() {
        assert_eq!(Source::parse("logger"), Source::Logger);
        assert_eq!(Source::parse("anything"), Source::Runtime);
        assert_eq!(level("log"), Level::INFO);
        assert_eq!(level("trace"), Level::DEBUG);
        assert_eq!(level("error"), Level::ERROR);
    }
}
