//! Schema versions and migrations, recorded in our own `meta` table.

use super::StoreError;
use rusqlite::{Connection, OptionalExtension, Transaction};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Each migration brings the database from version `index` to `index + 1`.
const MIGRATIONS: &[fn(&Transaction) -> rusqlite::Result<()>] = &[create_reference_tables];

/// Version 1: the reference's tables exactly (spec §6.1), so its queries run unchanged. A
/// database written by the reference daemon already has them and is adopted as it is.
fn create_reference_tables(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS kv (key TEXT, value TEXT, PRIMARY KEY(key));
         CREATE TABLE IF NOT EXISTS kv_vatstore (vatID TEXT, key TEXT, value TEXT, PRIMARY KEY(vatID, key));",
    )
}

/// Brings the database to [`SCHEMA_VERSION`]. A database whose version is newer, or not a
/// version at all, is refused before anything is written to it.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found = stored_version(conn)?;
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    )?;
    for migration in &MIGRATIONS[found as usize..] {
        migration(&tx)?;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

/// The schema version the database records, read without writing: 0 when it records none (a
/// new database, or the reference's); refused when newer than this build or not a number
/// this build wrote (such as `"2.0"`, once taken for 0 and rewritten).
pub fn stored_version(conn: &Connection) -> Result<i64, StoreError> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(0);
    }
    let value: Option<rusqlite::types::Value> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let text = match value {
        None => return Ok(0),
        Some(rusqlite::types::Value::Text(text)) => text,
        Some(other) => format!("{other:?}"),
    };
    let version = Some(&text)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| StoreError::UnknownSchema(text.clone()))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_database_gets_reference_tables_and_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute("INSERT INTO kv (key, value) VALUES ('a', 'b')", [])
            .unwrap();
        conn.execute(
            "INSERT INTO kv_vatstore (vatID, key, value) VALUES ('v1', 'k', 'v')",
            [],
        )
        .unwrap();
        let v: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION.to_string());
        migrate(&mut conn).unwrap();
    }

    #[test]
    fn newer_schema_is_refused_and_left_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99, .. }),
            "{err}"
        );
        let v: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(v, "99");
    }

    #[test]
    fn a_reference_database_is_adopted_with_its_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE kv (key TEXT, value TEXT, PRIMARY KEY(key));
             INSERT INTO kv VALUES ('nextVatId', '3');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let v: String = conn
            .query_row("SELECT value FROM kv WHERE key='nextVatId'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(v, "3");
    }
}
