//! `ocapctl logs [-f] [-n N]`: the daemon's log, wherever it goes. Under systemd that is the
//! journal of `ocap.service`; a launchd agent writes the file its plist names; a daemon that
//! `ocapctl` started detached appends to `daemon.log` beside the database, which it rotates to
//! `daemon.log.1` at a size ([`crate::log_file`]).

use super::activation::{Unit, unit_for};
use super::{ClientError, Target, call};
use crate::log_file::rotated;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the log of the daemon at a target is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// The journal: `journalctl [--user] -u ocap.service`.
    Journal {
        /// A per-user unit (`--user`), not the system service.
        user: bool,
    },
    /// A plain file.
    File(PathBuf),
}

/// How much to show.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    /// Only the last N lines.
    pub lines: Option<usize>,
    /// Keep printing what is appended.
    pub follow: bool,
}

/// Asks the running daemon how it was started; without one, looks for a unit owning the socket.
pub fn source(target: &Target) -> LogSource {
    let probe = Target {
        timeout: Some(Duration::from_secs(3)),
        ..target.clone()
    };
    let activation = call(&probe, "daemonInfo", None)
        .ok()
        .and_then(|info| info["activation"].as_str().map(String::from));
    source_for(
        activation.as_deref(),
        &target.paths.socket,
        &target.paths.log,
    )
}

/// The decision, given the running daemon's activation (if one answered).
pub fn source_for(activation: Option<&str>, socket: &Path, log: &Path) -> LogSource {
    let system = socket == Path::new("/run/ocap/daemon.sock");
    match (activation, unit_for(socket)) {
        (Some("systemd"), _) => LogSource::Journal { user: !system },
        (Some("launchd"), _) | (None, Some(Unit::Launchd(_))) => LogSource::File(launchd_log()),
        (Some(_), _) | (None, None) => LogSource::File(log.to_path_buf()),
        (None, Some(Unit::SystemdUser(_))) => LogSource::Journal { user: true },
        (None, Some(Unit::SystemdSystem(_))) => LogSource::Journal { user: false },
    }
}

/// The log file `launchd/org.ocap.ocapd.plist` names.
fn launchd_log() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    home.join("Library/Logs/ocap/ocapd.log")
}

/// Shows the log; with `follow`, until interrupted.
pub fn show(source: &LogSource, options: LogOptions) -> Result<(), ClientError> {
    match source {
        LogSource::Journal { user } => journal(*user, options),
        LogSource::File(path) => file(path, options),
    }
}

/// Replaces this process with journalctl, so its pager, colours and exit status are the user's.
fn journal(user: bool, options: LogOptions) -> Result<(), ClientError> {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new("journalctl");
    if user {
        command.arg("--user");
    }
    command.args(["-u", "ocap.service"]);
    if let Some(n) = options.lines {
        command.arg(format!("--lines={n}"));
    }
    if options.follow {
        command.arg("--follow");
    }
    let error = command.exec();
    Err(ClientError::Failed(format!(
        "cannot run journalctl: {error}"
    )))
}

/// The file, after the rotated one before it (when it exists).
fn file(path: &Path, options: LogOptions) -> Result<(), ClientError> {
    let mut log = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ClientError::Failed(format!(
                "no log at {}: no daemon has run detached with this database",
                path.display()
            ))
        } else {
            io_failed(path, e)
        }
    })?;
    let old = rotated(path);
    let mut text = match std::fs::read(&old) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_failed(&old, e)),
    };
    let before = text.len();
    log.read_to_end(&mut text).map_err(|e| io_failed(path, e))?;
    let mut out = std::io::stdout().lock();
    write_out(&mut out, last_lines(&text, options.lines))?;
    if options.follow {
        follow(path, log, (text.len() - before) as u64, &mut out)?;
    }
    Ok(())
}

/// Prints what is appended to `path` after `offset`, every 200 ms, until interrupted. When the
/// daemon rotates the file, the rest of the old one is printed, then the new one from its start.
fn follow(
    path: &Path,
    mut log: File,
    mut offset: u64,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    loop {
        std::thread::sleep(Duration::from_millis(200));
        print_from(path, &mut log, &mut offset, out)?;
        let Ok(now) = std::fs::metadata(path) else {
            continue;
        };
        let open = log.metadata().map_err(|e| io_failed(path, e))?;
        if (now.dev(), now.ino()) != (open.dev(), open.ino()) {
            // Rotated, or replaced (ocapctl purge): the new file from its beginning.
            let Ok(fresh) = File::open(path) else {
                continue;
            };
            (log, offset) = (fresh, 0);
            print_from(path, &mut log, &mut offset, out)?;
        } else if now.len() < offset {
            // Truncated in place: start again from its beginning.
            offset = 0;
        }
    }
}

/// Prints what `log` holds past `offset`, and moves `offset` past it.
fn print_from(
    path: &Path,
    log: &mut File,
    offset: &mut u64,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    log.seek(SeekFrom::Start(*offset))
        .map_err(|e| io_failed(path, e))?;
    let mut fresh = Vec::new();
    log.read_to_end(&mut fresh)
        .map_err(|e| io_failed(path, e))?;
    *offset += fresh.len() as u64;
    write_out(out, &fresh)
}

fn io_failed(path: &Path, e: std::io::Error) -> ClientError {
    ClientError::Failed(format!("{}: {e}", path.display()))
}

/// A reader that went away (`ocapctl logs -f | head`) ends the command quietly.
fn write_out(out: &mut impl Write, bytes: &[u8]) -> Result<(), ClientError> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(ClientError::Failed(format!("writing the log: {e}"))),
    }
}

/// The last `n` lines of `text` (all of it without `n`).
fn last_lines(text: &[u8], n: Option<usize>) -> &[u8] {
    let Some(n) = n else { return text };
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let start = body
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| **b == b'\n')
        .nth(n.saturating_sub(1))
        .map_or(0, |(i, _)| i + 1);
    if n == 0 {
        &text[text.len()..]
    } else {
        &text[start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_counts_from_the_end() {
        let text = b"a\nb\nc\n";
        assert_eq!(last_lines(text, None), text);
        assert_eq!(last_lines(text, Some(2)), b"b\nc\n");
        assert_eq!(last_lines(text, Some(9)), text);
        assert_eq!(last_lines(text, Some(0)), b"");
        assert_eq!(last_lines(b"a\nb", Some(1)), b"b");
    }

    #[test]
    fn the_running_daemon_decides_where_its_log_is() {
        let log = Path::new("/h/daemon.log");
        let user = Path::new("/nonexistent/ocap-test/daemon.sock");
        let system = Path::new("/run/ocap/daemon.sock");
        assert_eq!(
            source_for(Some("systemd"), user, log),
            LogSource::Journal { user: true }
        );
        assert_eq!(
            source_for(Some("systemd"), system, log),
            LogSource::Journal { user: false }
        );
        assert_eq!(
            source_for(Some("self"), user, log),
            LogSource::File(log.into())
        );
        // No daemon and no unit owning the socket: the detached daemon's file.
        assert_eq!(source_for(None, user, log), LogSource::File(log.into()));
    }
}
