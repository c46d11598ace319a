//! `ocapctl start` and auto-start: make sure a daemon serves the socket.
//!
//! A daemon is spawned only when no service-manager unit owns the socket path (DESIGN.md "How
//! ocapd starts" step 5). `ocapd` without `--foreground` detaches and exits 0 only once it
//! serves, so there is no polling loop racing its start-up.

use super::activation::unit_for;
use super::{ClientError, Target, call};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Whether a daemon answers on the target's socket.
pub fn is_serving(target: &Target) -> bool {
    probe(target).is_ok()
}

/// Starts a daemon unless one answers. Returns whether this call started it.
pub fn ensure_daemon(target: &Target) -> Result<bool, ClientError> {
    match probe(target) {
        Ok(()) => return Ok(false),
        // A unit owns the path but is not listening: a second, unmanaged daemon would fight it
        // for the socket, so report what to do instead (the error carries the hint).
        Err(e @ ClientError::Unavailable { .. }) if unit_for(&target.paths.socket).is_some() => {
            return Err(e);
        }
        Err(ClientError::Unavailable { .. }) => {}
        Err(e) => return Err(e),
    }
    eprintln!("Starting daemon...");
    let spawned = spawn(target);
    // Another client may have won the race to start it; what matters is that one answers.
    match probe(target) {
        Ok(()) => {
            eprintln!("Daemon ready.");
            Ok(true)
        }
        Err(e) => Err(spawned.err().unwrap_or(e)),
    }
}

/// One `getStatus` with a short timeout; any JSON-RPC answer, even an error, means "serving".
fn probe(target: &Target) -> Result<(), ClientError> {
    let probe = Target {
        timeout: Some(std::time::Duration::from_secs(3)),
        ..target.clone()
    };
    match call(&probe, "getStatus", None) {
        Ok(_) | Err(ClientError::Rpc(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Runs `ocapd` (detaching) and waits for it to report readiness.
fn spawn(target: &Target) -> Result<(), ClientError> {
    let mut command = Command::new(ocapd_path());
    if let Some(socket) = &target.explicit_socket {
        command.arg("--socket").arg(socket);
    }
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| ClientError::Failed(format!("cannot run {}: {e}", ocapd_path().display())))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    Err(ClientError::Failed(format!(
        "the daemon did not start: {stderr}"
    )))
}

/// `ocapd` beside this executable (an install or a cargo build), else from `PATH`.
pub(super) fn ocapd_path() -> PathBuf {
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("ocapd")));
    sibling
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("ocapd"))
}
