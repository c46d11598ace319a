//! SQLite's own check of the database file, as the daemon runs it at start.

use super::StoreError;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// SQLite's `quick_check` of the database at `path`, on a read-only connection of its own: the
/// problems it reports, at most `max`; none when the file is sound. `quick_check` reads every
/// page (so it takes time in proportion to the file) but skips matching indexes to their
/// tables, which `ocapctl fsck` does too.
pub fn quick_check(path: &Path, max: u32) -> Result<Vec<String>, StoreError> {
    match run(path, max) {
        Ok(lines) => Ok(lines.into_iter().filter(|l| l != "ok").collect()),
        // Damage bad enough stops the check itself: that is its finding.
        Err(rusqlite::Error::SqliteFailure(e, message))
            if matches!(e.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) =>
        {
            Ok(vec![message.unwrap_or_else(|| e.to_string())])
        }
        Err(e) => Err(e.into()),
    }
}

fn run(path: &Path, max: u32) -> rusqlite::Result<Vec<String>> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mut stmt = conn.prepare(&format!("PRAGMA quick_check({})", max.max(1)))?;
    stmt.query_map([], |r| r.get::<_, String>(0))?.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sound_file_has_no_problems_and_a_damaged_page_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kernel.sqlite");
        let conn = super::super::open(&path).unwrap();
        conn.execute_batch("BEGIN").unwrap();
        for i in 0..3000 {
            conn.execute(
                "INSERT INTO kv_vatstore VALUES ('v1', ?1, ?2)",
                [format!("key.{i:05}"), "x".repeat(100)],
            )
            .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
        drop(conn);
        assert_eq!(quick_check(&path, 10).unwrap(), Vec::<String>::new());
        damage_last_page(&path);
        let problems = quick_check(&path, 10).unwrap();
        assert!(!problems.is_empty() && problems.len() <= 10, "{problems:?}");
    }

    /// Overwrites the file's last page (a leaf of the last table written) with zeros.
    pub(crate) fn damage_last_page(path: &Path) {
        use std::io::{Seek, SeekFrom, Write};
        let len = std::fs::metadata(path).unwrap().len();
        let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.seek(SeekFrom::Start(len - 4096)).unwrap();
        file.write_all(&[0; 4096]).unwrap();
    }
}
