//! Logging with `tracing`: to journald under systemd, to a file when detached, else to stderr.
//! The filter can be replaced at run time (SIGHUP).

use std::fs::OpenOptions;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Mutex;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

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

/// Installs the global subscriber. `log_file` wins; otherwise journald when stderr is the
/// journal (systemd sets `JOURNAL_STREAM` to stderr's `device:inode`), else stderr.
pub fn init(filter: &str, log_file: Option<&Path>) -> Result<LogControl, String> {
    let (filter, handle) = reload::Layer::new(parse_filter(filter)?);
    let output: Box<dyn Layer<_> + Send + Sync> = match log_file {
        Some(path) => {
            crate::paths::create_parent_dir(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .map_err(|e| crate::ownership::open_error(path, e))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(Mutex::new(file))
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

fn stderr_layer<S>() -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
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
