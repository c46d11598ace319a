//! `ocapctl purge --force`: stop the daemon, then delete everything it keeps.

use super::{ClientError, Target, call, stop};
use crate::paths::sibling;
use std::path::PathBuf;
use std::time::Duration;

/// Stops the daemon and deletes its database (with WAL files), lock, log (and the rotated one),
/// pid file and socket
/// (the pid file a killed daemon may have left, as the reference's purge does). Refuses
/// while a daemon still runs, and refuses for a socket-activated daemon: any connection,
/// including our own, would start it again while its files are being deleted.
pub fn purge(target: &Target) -> Result<Vec<PathBuf>, ClientError> {
    let probe = Target {
        timeout: Some(Duration::from_secs(3)),
        ..target.clone()
    };
    let info = call(&probe, "daemonInfo", None).ok();
    if let Some(manager) = info
        .as_ref()
        .and_then(|info| info["activation"].as_str())
        .filter(|a| *a != "self")
    {
        return Err(ClientError::Failed(format!(
            "the daemon is socket-activated by {manager}: disable its socket first (systemctl --user disable --now ocap.socket), then purge"
        )));
    }
    // A running daemon's own word on where its files are wins over ocapctl's resolution.
    let reported = |key: &str| {
        info.as_ref()
            .and_then(|info| info[key].as_str())
            .map(PathBuf::from)
    };
    let paths = target.paths.clone().with_overrides(
        reported("socket").as_deref(),
        reported("database").as_deref(),
    );
    if stop(target).is_err() {
        return Err(ClientError::Failed(
            "Refusing to delete state while the daemon is still running.".into(),
        ));
    }
    let db = &paths.database;
    let files = [
        db.clone(),
        sibling(db, "-wal"),
        sibling(db, "-shm"),
        sibling(db, "-journal"),
        sibling(db, ".new"),
        paths.lock(),
        paths.log.clone(),
        crate::log_file::rotated(&paths.log),
        paths.pid_file(),
        paths.socket.clone(),
    ];
    let mut removed = Vec::new();
    for file in files {
        match std::fs::remove_file(&file) {
            Ok(()) => removed.push(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ClientError::Failed(format!("{}: {e}", file.display()))),
        }
    }
    Ok(removed)
}
