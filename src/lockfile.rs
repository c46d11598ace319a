//! The database lock: one daemon per database, for its whole lifetime.
//!
//! An exclusive `flock` on `<database>.lock`, holding the owner's pid as text. The kernel owns
//! the lock through an open file; the OS releases it when the process ends, however it ends, so a
//! crashed daemon never leaves a stale lock.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
    path: PathBuf,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("another ocapd{holder} is using the database {database} (lock {lock})")]
    Held {
        /// ` (pid N)` if the lock file names its holder.
        holder: String,
        /// The database.
        database: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The lock file could not be created or locked.
    #[error("{path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl DatabaseLock {
    /// Takes the lock at `lock` for `database` without waiting, recording this process's pid.
    pub fn acquire(lock: &Path, database: &Path) -> Result<DatabaseLock, LockError> {
        let io = |source| LockError::Io {
            path: lock.to_path_buf(),
            source,
        };
        crate::paths::create_parent_dir(lock).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(lock)
            .map_err(io)?;
        if !try_flock(&file).map_err(io)? {
            let holder = read_pid(&mut file)
                .map(|pid| format!(" (pid {pid})"))
                .unwrap_or_default();
            return Err(LockError::Held {
                holder,
                database: database.into(),
                lock: lock.into(),
            });
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(DatabaseLock {
            _file: file,
            path: lock.to_path_buf(),
        })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Whether some process holds the lock at `lock` right now (a probe for `ocapctl`).
pub fn is_held(lock: &Path) -> io::Result<bool> {
    let file = match File::open(lock) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    // A shared lock is granted unless someone holds the exclusive one.
    // SAFETY: flock on an fd we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(false);
    }
    let err = io::Error::last_os_error();
    if err.kind() == io::ErrorKind::WouldBlock {
        Ok(true)
    } else {
        Err(err)
    }
}

fn try_flock(file: &File) -> io::Result<bool> {
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.kind() == io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(err)
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_naming_the_holder_and_is_free_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let (lock, db) = (
            dir.path().join("k.sqlite.lock"),
            dir.path().join("k.sqlite"),
        );
        let held = DatabaseLock::acquire(&lock, &db).unwrap();
        assert!(is_held(&lock).unwrap());
        let err = DatabaseLock::acquire(&lock, &db).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        assert!(!is_held(&lock).unwrap());
        DatabaseLock::acquire(&lock, &db).unwrap();
    }
}
