//! Opening the read-write kernel connection: a new database made whole before it has its name,
//! an old one checked before anything is written to it, then WAL, full sync, migrations.

use super::{StoreError, schema};
use rusqlite::{Connection, OpenFlags};
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Opens the kernel database at `path` (made by [`create`] if missing), migrated to
/// [`schema::SCHEMA_VERSION`]. A database this build cannot use is refused untouched: its
/// schema version is read before its journal mode or anything else is written.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    create(path)?;
    // The folder by its real path; the file itself may not be a symbolic link.
    let path = &real_folder(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let mut conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    schema::stored_version(&conn)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal(mode));
    }
    // FULL: a committed crank survives power loss, not only a process crash.
    conn.pragma_update(None, "synchronous", "FULL")?;
    schema::migrate(&mut conn)?;
    Ok(conn)
}

/// Makes a new kernel database at `path` unless one is there; refuses an empty file there.
///
/// The new file is written whole (tables, schema version) under a temporary name and then
/// renamed, so a 0-byte database is never ours: a crash while creating it leaves only the
/// temporary file, which the next start replaces. An empty file at `path` came from elsewhere
/// (a truncation, a bad restore), and starting on it would silently make a new kernel with a new
/// identity; that is refused. The folder is created 0700 and the file 0600: the database holds
/// every vat's state.
pub fn create(path: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    crate::paths::create_parent_dir(path).map_err(io)?;
    let partial = crate::paths::sibling(path, ".new");
    remove_if_present(&partial).map_err(io)?;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() == 0 => {
            return Err(StoreError::Empty(path.to_path_buf()));
        }
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&partial)
        .map_err(io)?;
    {
        // A rollback journal while it has its temporary name: a WAL file goes by name.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let mut conn = Connection::open_with_flags(real_folder(&partial)?, flags)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        schema::migrate(&mut conn)?;
    }
    std::fs::rename(&partial, path).map_err(io)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

/// `path` with its folder's real path (no symbolic link on the way), for SQLite's `NOFOLLOW`.
fn real_folder(path: &Path) -> Result<PathBuf, StoreError> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(path.to_path_buf());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let real = std::fs::canonicalize(dir).map_err(|source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(real.join(name))
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    for file in [path.to_path_buf(), crate::paths::sibling(path, "-journal")] {
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn opens_in_wal_mode_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state/kernel.sqlite");
        let conn = open(&db).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        let file_mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
        let dir_mode = std::fs::metadata(db.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!((file_mode, dir_mode), (0o600, 0o700));
        assert!(!crate::paths::sibling(&db, ".new").exists());
    }

    fn sha(path: &Path) -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha256::digest(std::fs::read(path).unwrap()).to_vec()
    }

    /// A database in rollback-journal mode with `version` recorded as its schema version.
    fn database_with_version(path: &Path, version: &str) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE kv (key TEXT, value TEXT, PRIMARY KEY(key));",
        )
        .unwrap();
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?1)", [version])
            .unwrap();
    }

    #[test]
    fn a_database_this_build_cannot_read_is_refused_untouched() {
        // "2.0" was taken for version 0 and rewritten; "99" was refused, but only after the
        // file had been switched to WAL and the meta table created.
        let dir = tempfile::tempdir().unwrap();
        for (version, expected) in [
            (
                "99",
                "database schema version 99 is newer than this ocapd supports",
            ),
            (
                "2.0",
                "database schema version \"2.0\" is not one any ocapd writes",
            ),
            ("", "database schema version \"\" is not one"),
            ("-1", "database schema version \"-1\" is not one"),
        ] {
            let db = dir.path().join(format!("v{version}.sqlite"));
            database_with_version(&db, version);
            let before = sha(&db);
            let err = open(&db).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{version}: {err}");
            assert_eq!(sha(&db), before, "{version}: the file changed");
            assert!(
                !crate::paths::sibling(&db, "-wal").exists(),
                "{version}: switched to WAL"
            );
            let conn = Connection::open(&db).unwrap();
            let mode: String = conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "delete");
        }
        // The version this build writes opens as before.
        let db = dir.path().join("current.sqlite");
        database_with_version(&db, &schema::SCHEMA_VERSION.to_string());
        open(&db).unwrap();
    }

    #[test]
    fn an_empty_database_file_is_refused_not_made_a_new_kernel() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("kernel.sqlite");
        std::fs::write(&db, "").unwrap();
        let err = open(&db).unwrap_err();
        assert!(matches!(err, StoreError::Empty(_)), "{err}");
        assert!(err.to_string().contains("new identity"), "{err}");
        assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);
        // A leftover from a creation cut short is not the database: it is replaced.
        std::fs::remove_file(&db).unwrap();
        std::fs::write(crate::paths::sibling(&db, ".new"), "half").unwrap();
        open(&db).unwrap();
        assert!(!crate::paths::sibling(&db, ".new").exists());
    }

    #[test]
    fn a_linked_database_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.sqlite");
        drop(open(&real).unwrap());
        let link = dir.path().join("kernel.sqlite");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(open(&link).is_err());
    }
}
