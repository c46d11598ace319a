//! `ocapctl backup`: a consistent copy of the database while the daemon runs, with SQLite's
//! online backup API (spec §14.21: the reference has none).

use super::StoreError;
use rusqlite::{Connection, MAIN_DB, OpenFlags};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Copies the database at `source` to the new file `target`. Refuses to overwrite: a backup that
/// silently replaced another is worse than none. The copy is written beside the target under a
/// temporary name and renamed into place, so a crash never leaves a half-written backup.
pub fn backup(source: &Path, target: &Path) -> Result<(), StoreError> {
    let io_error = |source: io::Error| StoreError::Io {
        path: target.to_path_buf(),
        source,
    };
    if target.exists() {
        return Err(io_error(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "refusing to overwrite an existing file",
        )));
    }
    let partial = crate::paths::sibling(target, ".partial");
    let _ = std::fs::remove_file(&partial);
    // Made here, 0600 and not through a link, before SQLite writes it: the copy holds every
    // vat's state, and SQLite would make it with the umask's mode (0644 by default).
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&partial)
        .map_err(io_error)?;
    let conn = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.backup(MAIN_DB, &partial, None::<fn(rusqlite::backup::Progress)>)?;
    // The copy keeps our WAL journal mode; fold it into one self-contained file.
    let copy = Connection::open(&partial)?;
    copy.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    copy.pragma_update(None, "journal_mode", "DELETE")?;
    drop(copy);
    std::fs::rename(&partial, target).map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_committed_state_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kernel.sqlite");
        let conn = super::super::open(&db).unwrap();
        conn.execute("INSERT INTO kv VALUES ('nextVatId', '7')", [])
            .unwrap();
        let copy = dir.path().join("copy.sqlite");
        backup(&db, &copy).unwrap();
        let restored = Connection::open(&copy).unwrap();
        let value: String = restored
            .query_row("SELECT value FROM kv WHERE key='nextVatId'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(value, "7");
        let err = backup(&db, &copy).unwrap_err().to_string();
        assert!(err.contains("refusing to overwrite"), "{err}");
        // Only its owner may read it, whatever the umask (it was 0644 under the usual 022).
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
