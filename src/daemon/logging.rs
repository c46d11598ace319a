//! Logging with `tracing`: to journald under systemd, to a file when detached (rotated at a
//! size, see [`crate::log_file`]), else to stderr, in colour only on a terminal. The filter can
//! be replaced at run time (SIGHUP).
//!
//! What a client sent reaches a log line only through [`fragment`], and every line of the log
//! that does not begin an event begins with white space ([`SafeLines`]), so no one can forge an
//! event or flood the log with one request.

use crate::log_file::RotatingFile;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

/// The characters of client-sent text a log line shows.
pub const FRAGMENT_CHARS: usize = 160;

/// Replaces the active log filter.
pub struct LogControl {
    handle: reload::Handle<EnvFilter, Registry>,
}

impl LogControl {
    /// Switches to `filter`; on a bad filter the old one stays and the error is returned.
    pub fn set_filter(&self, filter: &str) -> Result<(), String> {
        let filter = parse_filter(filter)?;
        self.handle.reload(filter).map_err(|e| e.to_string())
    }
}

/// Installs the global subscriber. `log_file` wins (rotated past `max_log_bytes`); otherwise
/// journald when stderr is the journal (systemd sets `JOURNAL_STREAM` to stderr's
/// `device:inode`), else stderr.
pub fn init(
    filter: &str,
    log_file: Option<&Path>,
    max_log_bytes: u64,
) -> Result<LogControl, String> {
    let (filter, handle) = reload::Layer::new(parse_filter(filter)?);
    let output: Box<dyn Layer<_> + Send + Sync> = match log_file {
        Some(path) => {
            crate::paths::create_parent_dir(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let file = RotatingFile::open(path, max_log_bytes)
                .map_err(|e| crate::ownership::open_error(path, e))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(Mutex::new(SafeLines::new(file, true)))
                .boxed()
        }
        None if stderr_is_journal() => match tracing_journald::layer() {
            Ok(journald) => journald.with_syslog_identifier("ocapd".into()).boxed(),
            Err(_) => stderr_layer(),
        },
        None => stderr_layer(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .try_init()
        .map_err(|e| e.to_string())?;
    Ok(LogControl { handle })
}

/// Colour only for a person at a terminal who has not asked for none (`NO_COLOR`).
fn stderr_layer<S>() -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt::layer()
        .with_ansi(colour)
        .with_writer(move || SafeLines::new(std::io::stderr(), !colour))
        .boxed()
}

pub(super) fn parse_filter(filter: &str) -> Result<EnvFilter, String> {
    EnvFilter::try_new(filter).map_err(|e| format!("invalid log filter {filter:?}: {e}"))
}

fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) =
        std::fs::metadata("/proc/self/fd/2").or_else(|_| std::fs::metadata("/dev/stderr"))
    else {
        return false;
    };
    stream.to_string_lossy() == format!("{}:{}", meta.dev(), meta.ino())
}

/// Client-sent text (a method name, an error that quotes a request) as a log line may show it.
pub fn fragment(text: &str) -> Fragment<'_> {
    Fragment(text)
}

/// Displays at most [`FRAGMENT_CHARS`] characters of its text, with quotes, backslashes and
/// everything outside printable ASCII escaped (`\n`, `\u{1b}`), then how much was left out.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a>(&'a str);

impl std::fmt::Display for Fragment<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (shown, (at, c)) in self.0.char_indices().enumerate() {
            if shown == FRAGMENT_CHARS {
                return write!(f, "… ({} more bytes)", self.0.len() - at);
            }
            match c {
                ' '..='~' if c != '\\' && c != '"' => f.write_char(c)?,
                _ => write!(f, "{}", c.escape_default())?,
            }
        }
        Ok(())
    }
}

/// A writer that keeps events apart from what they carry (the writer gets one whole event per
/// write): a line inside an event (a vat's stack trace, say) that does not begin with white
/// space is indented, so only the daemon's events start a line with their timestamp; a carriage
/// return is written as `\r`; with `controls`, for a log that is not a terminal's, so is every
/// other control character but the tab (`\x1b`).
pub struct SafeLines<W> {
    inner: W,
    controls: bool,
}

impl<W> SafeLines<W> {
    /// Wraps `inner`; `controls` escapes control characters besides newlines and tabs.
    pub fn new(inner: W, controls: bool) -> SafeLines<W> {
        SafeLines { inner, controls }
    }

    /// Whether `body` can be written as it is.
    fn is_safe(&self, body: &[u8]) -> bool {
        body.iter().enumerate().all(|(at, &byte)| match byte {
            b'\n' => matches!(body.get(at + 1), Some(b' ' | b'\t')),
            b'\r' => false,
            b'\t' => true,
            0..=0x1f | 0x7f => !self.controls,
            _ => true,
        })
    }
}

impl<W: Write> Write for SafeLines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (body, end) = match buf.strip_suffix(b"\n") {
            Some(body) => (body, &b"\n"[..]),
            None => (buf, &b""[..]),
        };
        if self.is_safe(body) {
            self.inner.write_all(buf)?;
            return Ok(buf.len());
        }
        let mut line = Vec::with_capacity(buf.len() + 16);
        for (at, &byte) in body.iter().enumerate() {
            match byte {
                b'\n' => {
                    line.push(b'\n');
                    if !matches!(body.get(at + 1), Some(b' ' | b'\t')) {
                        line.extend_from_slice(b"  ");
                    }
                }
                b'\r' => line.extend_from_slice(b"\\r"),
                b'\t' => line.push(byte),
                0..=0x1f | 0x7f if self.controls => {
                    line.extend_from_slice(format!("\\x{byte:02x}").as_bytes())
                }
                _ => line.push(byte),
            }
        }
        line.extend_from_slice(end);
        self.inner.write_all(&line)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_are_bounded_and_escaped() {
        assert_eq!(fragment("getStatus").to_string(), "getStatus");
        assert_eq!(
            fragment("a\nINFO forged\u{1b}[31m\"\\é").to_string(),
            "a\\nINFO forged\\u{1b}[31m\\\"\\\\\\u{e9}"
        );
        let long = "x".repeat(10_000);
        let shown = fragment(&long).to_string();
        assert_eq!(
            shown,
            format!(
                "{}… ({} more bytes)",
                "x".repeat(FRAGMENT_CHARS),
                10_000 - FRAGMENT_CHARS
            )
        );
        assert_eq!(
            fragment(&"é".repeat(FRAGMENT_CHARS))
                .to_string()
                .matches("\\u{e9}")
                .count(),
            FRAGMENT_CHARS
        );
    }

    #[test]
    fn only_events_begin_a_line() {
        let mut plain = SafeLines::new(Vec::new(), true);
        plain
            .write_all(b"E1 a\n2026 forged\n  at f\n\tg\n\nb\r\x1b[0m\tc\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(plain.inner).unwrap(),
            "E1 a\n  2026 forged\n  at f\n\tg\n  \n  b\\r\\x1b[0m\tc\n"
        );
        let mut terminal = SafeLines::new(Vec::new(), false);
        terminal.write_all(b"\x1b[2mx\ny\x1b[0m\n").unwrap();
        assert_eq!(
            terminal.inner, b"\x1b[2mx\n  y\x1b[0m\n",
            "colours stay on a terminal"
        );
        let mut untouched = SafeLines::new(Vec::new(), true);
        untouched.write_all(b"E2 stack\n  at f\n").unwrap();
        assert_eq!(untouched.inner, b"E2 stack\n  at f\n");
    }
}
