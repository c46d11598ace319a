//! `daemon.pid`, as the reference daemon writes it, for tools that read it: the decimal pid
//! without a newline, in the state directory (`$OCAP_HOME/daemon.pid` in the compatible
//! layout). Only a daemon that binds its own socket writes one (a socket-activated daemon
//! belongs to its service manager), after it holds the database lock, so the file is never a
//! live daemon's, and before its socket listens; it is removed when the daemon stops. ocap never
//! reads it: `ocapctl stop` knows the daemon by its socket's peer credentials and its lock, and
//! signals no process by a number in a file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The pid file of this process; dropping it removes the file if it still names this process.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    pid: String,
}

impl PidFile {
    /// Writes this process's pid to `path`, replacing what is there (a pid file a killed daemon
    /// left) in one rename, so a reader sees the old file or the whole new one.
    pub fn write(path: &Path) -> std::io::Result<PidFile> {
        let pid = std::process::id().to_string();
        let temporary = crate::paths::sibling(path, &format!(".{pid}.tmp"));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&temporary)
            .and_then(|mut file| file.write_all(pid.as_bytes()))
            .and_then(|()| std::fs::rename(&temporary, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(e);
        }
        Ok(PidFile {
            path: path.to_path_buf(),
            pid,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Someone may have put another pid there since; that file is not ours to remove.
        if std::fs::read_to_string(&self.path).is_ok_and(|text| text == self.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_is_written_without_a_newline_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.pid");
        std::fs::write(&path, "999999").unwrap();
        let pid_file = PidFile::write(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            std::process::id().to_string()
        );
        drop(pid_file);
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no temporary left"
        );
    }

    #[test]
    fn a_file_naming_another_process_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.pid");
        let pid_file = PidFile::write(&path).unwrap();
        std::fs::write(&path, "1").unwrap();
        drop(pid_file);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1");
    }

    #[test]
    fn an_unwritable_directory_is_an_error() {
        let err = PidFile::write(Path::new("/nonexistent-dir/daemon.pid")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
