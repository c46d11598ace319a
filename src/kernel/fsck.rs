//! A consistency check of a kernel database while the daemon runs: SQLite's own
//! `integrity_check`, then the kernel's invariants over `kv` ([`super::invariants`]), both on one
//! read-only snapshot of committed state.

use super::invariants;
use super::store::{Store, StoreError};
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// `{"integrity": [...], "invariants": [...]}`: SQLite's report (`["ok"]` when sound) and one
/// line per violated kernel invariant (none when consistent).
pub fn fsck(path: &Path) -> Result<Value, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // One read transaction: every query below sees the same committed state.
    conn.execute_batch("BEGIN")?;
    let integrity: Vec<String> = {
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    let store = Store::new(conn);
    let problems = invariants::check(&store);
    Ok(json!({"integrity": integrity, "invariants": problems}))
}

/// Whether an [`fsck`] report found nothing wrong.
pub fn is_clean(report: &Value) -> bool {
    report["integrity"] == json!(["ok"])
        && report["invariants"].as_array().is_some_and(Vec::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_kernel_is_clean_and_a_broken_count_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kernel.sqlite");
        let mut state = crate::kernel::state::State::new(Store::new(
            crate::kernel::store::open(&path).unwrap(),
        ));
        state.initialize().unwrap();
        let report = fsck(&path).unwrap();
        assert!(is_clean(&report), "{report}");
        state.store().set("ko1.refCount", "7,7").unwrap();
        let report = fsck(&path).unwrap();
        assert!(!is_clean(&report));
        assert!(
            report["invariants"][0].as_str().unwrap().contains("ko1"),
            "{report}"
        );
    }
}
