//! `ocapctl stop`: the reference's escalation (spec §1.6), made safe.
//!
//! "Stopped" means the daemon released its database lock, not merely that its socket went quiet
//! (spec §14.18), and the pid comes from the socket's peer credentials or the lock file, never a
//! stale pid file. A daemon started by systemd or launchd is only ever asked to stop: killing it
//! would fight its supervisor.

use super::activation::disable_hint;
use super::{ClientError, Connection, Target};
use crate::lockfile;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What `stop` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// Nothing was running.
    NotRunning,
    /// The daemon stopped; `note` is extra advice (a supervisor will restart it).
    Stopped {
        /// Advice to print after "Daemon stopped.", if any.
        note: Option<String>,
    },
}

/// The daemon as `stop` found it.
struct Running {
    pid: Option<i32>,
    lock: PathBuf,
    supervisor: Option<String>,
    responsive: bool,
}

/// Stops the daemon at `target`, printing progress on stderr like the reference.
pub fn stop(target: &Target) -> Result<StopOutcome, ClientError> {
    let Some(running) = find(target) else {
        return Ok(StopOutcome::NotRunning);
    };
    eprintln!("Stopping daemon...");
    if running.responsive {
        let _ = Connection::open(&target.paths.socket)
            .and_then(|c| c.call("shutdown", None, Some(Duration::from_secs(10))));
        if released(&running.lock, Duration::from_secs(15)) {
            let note = running
                .supervisor
                .as_deref()
                .map(|s| disable_hint(s).to_string());
            return Ok(StopOutcome::Stopped { note });
        }
    }
    if let Some(supervisor) = running.supervisor {
        return Err(ClientError::Failed(format!(
            "the daemon is supervised by {supervisor} and did not stop when asked; use the service manager"
        )));
    }
    escalate(&running)
}

/// SIGTERM, then SIGKILL, each followed by a wait for the lock to be released.
fn escalate(running: &Running) -> Result<StopOutcome, ClientError> {
    let Some(pid) = running.pid else {
        return Err(ClientError::Failed(
            "Daemon did not stop within timeout.".into(),
        ));
    };
    for (signal, wait) in [
        (libc::SIGTERM, Duration::from_secs(5)),
        (libc::SIGKILL, Duration::from_secs(2)),
    ] {
        // SAFETY: kill(2) with a pid that holds the lock (or answered on the socket).
        if unsafe { libc::kill(pid, signal) } != 0 || released(&running.lock, wait) {
            return Ok(StopOutcome::Stopped { note: None });
        }
    }
    Err(ClientError::Failed(
        "Daemon did not stop within timeout.".into(),
    ))
}

/// Finds the daemon: over the socket if it answers, else through its lock file.
fn find(target: &Target) -> Option<Running> {
    let default_lock = target.paths.lock();
    if let Ok(connection) = Connection::open(&target.paths.socket) {
        let pid = connection.peer_pid();
        if let Ok(info) = connection.call("daemonInfo", None, Some(Duration::from_secs(3))) {
            return Some(from_info(&info, pid, default_lock));
        }
    }
    if lockfile::is_held(&default_lock).unwrap_or(false) {
        let pid = std::fs::read_to_string(&default_lock)
            .ok()
            .and_then(|t| t.trim().parse().ok());
        return Some(Running {
            pid,
            lock: default_lock,
            supervisor: None,
            responsive: false,
        });
    }
    None
}

fn from_info(info: &Value, peer_pid: Option<i32>, default_lock: PathBuf) -> Running {
    let pid = info["pid"]
        .as_i64()
        .and_then(|p| i32::try_from(p).ok())
        .or(peer_pid);
    let lock = info["lockFile"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or(default_lock);
    let supervisor = info["activation"]
        .as_str()
        .filter(|a| *a != "self")
        .map(String::from);
    Running {
        pid,
        lock,
        supervisor,
        responsive: true,
    }
}

/// Polls until nobody holds the lock, for at most `wait`.
fn released(lock: &std::path::Path, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if !lockfile::is_held(lock).unwrap_or(true) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
