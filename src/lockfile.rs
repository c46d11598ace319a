//! The database lock: one daemon per database, for its whole lifetime.
//!
//! An exclusive `flock` on `<database>.lock`, holding the owner's pid as text (what `ocapctl`
//! probes), and then on the database file itself, so that the same file under another name (a
//! symbolic or hard link, another path to its folder) is locked too. The kernel owns the locks
//! through open files; the OS releases them when the process ends, however it ends, so a crashed
//! daemon never leaves a stale lock.
//!
//! The lock on the database is `flock` on Linux, where it is independent of SQLite's own
//! `fcntl` locks; elsewhere (BSD, macOS) the two kinds conflict, and the database's single name
//! stands in: a database with more than one hard link is refused everywhere (SQLite finds its
//! `-wal` file by name, so two names are two journals), and neither the lock file nor the
//! database may be a symbolic link.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
    path: PathBuf,
    /// The database file, once [`DatabaseLock::hold_database`] has locked it.
    _database: Option<File>,
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
    /// The database is locked under another name, or has more than one.
    #[error("{0}")]
    OtherName(String),
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
            .custom_flags(libc::O_NOFOLLOW)
            .open(lock)
            .map_err(|e| io(crate::ownership::open_error(lock, e)))?;
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
            _database: None,
        })
    }

    /// Locks the existing database file itself (see the module docs), refusing a symbolic
    /// link, a file with several hard links, and one that is not a regular file of this user's.
    /// Call before SQLite opens it; the lock lasts as long as `self`.
    pub fn hold_database(&mut self, database: &Path) -> Result<(), LockError> {
        let io = |source| LockError::Io {
            path: database.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(database)
            .map_err(|e| io(crate::ownership::open_error(database, e)))?;
        let meta = file.metadata().map_err(io)?;
        let refuse = |why: String| {
            Err(LockError::OtherName(format!(
                "{}: {why}",
                database.display()
            )))
        };
        if !meta.is_file() {
            return refuse("not a regular file".into());
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        if meta.uid() != uid {
            return refuse(format!(
                "belongs to uid {}, but ocapd runs as uid {uid}",
                meta.uid()
            ));
        }
        if meta.nlink() > 1 {
            return refuse(format!(
                "has {} hard links; a database must have one name (SQLite finds its journal by \
                 name, and another daemon could open it under the other)",
                meta.nlink()
            ));
        }
        #[cfg(target_os = "linux")]
        if !try_flock(&file).map_err(io)? {
            return refuse("another ocapd is using this database under another name".into());
        }
        self._database = Some(file);
        Ok(())
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

    #[test]
    fn the_database_is_locked_under_every_name() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.sqlite");
        std::fs::write(&db, "x").unwrap();
        let mut first = DatabaseLock::acquire(&dir.path().join("k.sqlite.lock"), &db).unwrap();
        first.hold_database(&db).unwrap();
        let other = dir.path().join("other.sqlite");
        let mut second =
            DatabaseLock::acquire(&dir.path().join("other.sqlite.lock"), &other).unwrap();
        // A symbolic link: refused, not followed.
        std::os::unix::fs::symlink(&db, &other).unwrap();
        let err = second.hold_database(&other).unwrap_err().to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        // A hard link: two names.
        std::fs::remove_file(&other).unwrap();
        std::fs::hard_link(&db, &other).unwrap();
        let err = second.hold_database(&other).unwrap_err().to_string();
        assert!(err.contains("has 2 hard links"), "{err}");
        // The same file through another path to its folder: the lock file is the same one.
        std::os::unix::fs::symlink(dir.path(), dir.path().join("again")).unwrap();
        let err = DatabaseLock::acquire(&dir.path().join("again/k.sqlite.lock"), &db)
            .unwrap_err()
            .to_string();
        assert!(err.contains("another ocapd"), "{err}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn on_linux_the_database_file_itself_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.sqlite");
        std::fs::write(&db, "x").unwrap();
        let mut first = DatabaseLock::acquire(&dir.path().join("a.lock"), &db).unwrap();
        first.hold_database(&db).unwrap();
        let mut second = DatabaseLock::acquire(&dir.path().join("b.lock"), &db).unwrap();
        let err = second.hold_database(&db).unwrap_err().to_string();
        assert!(err.contains("under another name"), "{err}");
        drop(first);
        second.hold_database(&db).unwrap();
    }

    #[test]
    fn a_planted_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let lock = dir.path().join("k.sqlite.lock");
        std::os::unix::fs::symlink(&victim, &lock).unwrap();
        let err = DatabaseLock::acquire(&lock, &dir.path().join("k.sqlite"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
