//! The commands about the daemon itself rather than its kernel: `status`, `start`, `stop`,
//! `fsck`, `backup`, `purge`, `logs` and `doctor`.

use super::print_json;
use crate::client::logs::{self, LogOptions};
use crate::client::{self, ClientError, StopOutcome, Target, doctor, exit_codes, output};
use serde_json::{Value, json};
use std::path::Path;

/// `status`: the daemon's `daemonInfo` and the kernel's `getStatus`.
pub(super) fn status(target: &Target, json: bool) -> Result<(), ClientError> {
    let info = client::call(target, "daemonInfo", None)?;
    let status = client::call(target, "getStatus", None)?;
    if output::stdout_is_tty() && !json {
        output::print_line(&output::status_summary(&info, &status));
    } else {
        print_json(&json!({"daemon": info, "status": status}));
    }
    Ok(())
}

/// `start`.
pub(super) fn start(target: &Target) -> Result<(), ClientError> {
    client::ensure_daemon(target)?;
    eprintln!("Daemon running. Socket: {}", target.paths.socket.display());
    Ok(())
}

/// `stop`.
pub(super) fn stop(target: &Target) -> Result<(), ClientError> {
    match client::stop(target)? {
        StopOutcome::NotRunning => eprintln!("Daemon is not running."),
        StopOutcome::Stopped { note } => {
            eprintln!("Daemon stopped.");
            if let Some(note) = note {
                eprintln!("Note: {note}");
            }
        }
    }
    Ok(())
}

/// `fsck`: fails when the database has a problem.
pub(super) fn fsck(target: &Target, json: bool) -> Result<(), ClientError> {
    client::ensure_daemon(target)?;
    let report = client::call(target, "checkIntegrity", None)?;
    let integrity: Vec<&str> = report["integrity"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let problems: Vec<&str> = report["invariants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if output::stdout_is_tty() && !json {
        output::print_line(&format!("database integrity: {}", integrity.join("; ")));
        let invariants = if problems.is_empty() {
            "ok".to_string()
        } else {
            problems.join("\n  ")
        };
        output::print_line(&format!("kernel invariants: {invariants}"));
    } else {
        print_json(&report);
    }
    let count = problems.len() + usize::from(integrity != ["ok"]);
    if count > 0 {
        return Err(ClientError::Failed(format!(
            "the database has {count} problem(s)"
        )));
    }
    Ok(())
}

/// `backup FILE`: the daemon writes the copy, so the path is made absolute here.
pub(super) fn backup(target: &Target, file: &Path) -> Result<(), ClientError> {
    let file = std::path::absolute(file)
        .map_err(|e| ClientError::Usage(format!("{}: {e}", file.display())))?;
    client::ensure_daemon(target)?;
    client::call(target, "backupDatabase", Some(&json!({"path": file})))?;
    eprintln!("Database copied to {}", file.display());
    Ok(())
}

/// `purge --force`.
pub(super) fn purge(target: &Target, force: bool) -> Result<(), ClientError> {
    if !force {
        eprintln!("Usage: ocapctl purge --force\nThis will delete all OCAP daemon state.");
        std::process::exit(exit_codes::FAILURE.into());
    }
    client::purge(target)?;
    eprintln!("All daemon state deleted.");
    Ok(())
}

/// `logs [-f] [-n N]`.
pub(super) fn logs(target: &Target, follow: bool, lines: Option<usize>) -> Result<(), ClientError> {
    logs::show(&logs::source(target), LogOptions { lines, follow })
}

/// `doctor`: fails when a check fails.
pub(super) fn doctor(target: &Target, json: bool) -> Result<(), ClientError> {
    let checks = doctor::run(target);
    if output::stdout_is_tty() && !json {
        output::print_line(&doctor::to_text(&checks));
    } else {
        print_json(&doctor::to_json(&checks));
    }
    doctor::outcome(&checks)
}
