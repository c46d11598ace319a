//! The `kv` and `kv_vatstore` tables as the kernel uses them: point reads and writes, prefix
//! scans, and the transaction/savepoint discipline of a crank.

use crate::vat::VatstoreDelta;
use rusqlite::{Connection, OptionalExtension, params};

/// The kernel's store: the one read-write connection, owned by the kernel thread.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Wraps an opened, migrated connection.
    pub fn new(conn: Connection) -> Store {
        Store { conn }
    }

    /// The underlying connection.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Gives the connection back (to close it).
    pub fn into_conn(self) -> Connection {
        self.conn
    }

    /// `kv[key]`.
    pub fn get(&self, key: &str) -> rusqlite::Result<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value FROM kv WHERE key = ?1")?;
        stmt.query_row([key], |r| r.get(0)).optional()
    }

    /// `kv[key] = value`.
    pub fn set(&self, key: &str, value: &str) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET value = excluded.value",
        )?;
        stmt.execute([key, value]).map(drop)
    }

    /// Deletes `kv[key]`.
    pub fn delete(&self, key: &str) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare_cached("DELETE FROM kv WHERE key = ?1")?;
        stmt.execute([key]).map(drop)
    }

    /// Every `(key, value)` whose key starts with `prefix`, in key order.
    pub fn scan(&self, prefix: &str) -> rusqlite::Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, value FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key",
        )?;
        let rows = stmt.query_map([prefix, &prefix_end(prefix)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        rows.collect()
    }

    /// Deletes every key that starts with `prefix`.
    pub fn delete_prefix(&self, prefix: &str) -> rusqlite::Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM kv WHERE key >= ?1 AND key < ?2")?;
        stmt.execute([prefix, &prefix_end(prefix)]).map(drop)
    }

    /// A vat's whole vatstore, as handed to `initVat`.
    pub fn vatstore(&self, vat: &str) -> rusqlite::Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value FROM kv_vatstore WHERE vatID = ?1 ORDER BY key")?;
        let rows = stmt.query_map([vat], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// Applies one delivery's vatstore changes.
    pub fn apply_vatstore(&self, vat: &str, delta: &VatstoreDelta) -> rusqlite::Result<()> {
        let mut set = self.conn.prepare_cached(
            "INSERT INTO kv_vatstore (vatID, key, value) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET value = excluded.value",
        )?;
        for (key, value) in &delta.0 {
            set.execute(params![vat, key, value])?;
        }
        let mut delete = self
            .conn
            .prepare_cached("DELETE FROM kv_vatstore WHERE vatID = ?1 AND key = ?2")?;
        for key in &delta.1 {
            delete.execute(params![vat, key])?;
        }
        Ok(())
    }

    /// Deletes a vat's vatstore.
    pub fn delete_vatstore(&self, vat: &str) -> rusqlite::Result<()> {
        self.conn
            .execute("DELETE FROM kv_vatstore WHERE vatID = ?1", [vat])
            .map(drop)
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Opens the batch transaction if none is open.
    pub fn begin(&self) -> rusqlite::Result<()> {
        if !self.in_transaction() {
            self.run_cached("BEGIN IMMEDIATE")?;
        }
        Ok(())
    }

    /// Commits the batch transaction, if one is open.
    pub fn commit(&self) -> rusqlite::Result<()> {
        if self.in_transaction() {
            self.run_cached("COMMIT")?;
        }
        Ok(())
    }

    /// Rolls the batch transaction back, if one is still open (SQLite ends some transactions by
    /// itself when a write fails).
    pub fn abandon(&self) -> rusqlite::Result<()> {
        if self.in_transaction() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        Ok(())
    }

    /// Starts a crank (or command) savepoint inside the batch transaction.
    pub fn savepoint(&self) -> rusqlite::Result<()> {
        self.begin()?;
        self.run_cached("SAVEPOINT crank")
    }

    /// Keeps the crank's writes.
    pub fn release(&self) -> rusqlite::Result<()> {
        self.run_cached("RELEASE crank")
    }

    /// Runs one statement from the statement cache: a savepoint opens and closes every crank,
    /// and `execute_batch` would parse it each time.
    fn run_cached(&self, sql: &str) -> rusqlite::Result<()> {
        self.conn.prepare_cached(sql)?.execute([]).map(drop)
    }

    /// Undoes the crank's writes.
    pub fn rollback(&self) -> rusqlite::Result<()> {
        self.conn.execute_batch("ROLLBACK TO crank; RELEASE crank")
    }
}

/// The smallest string greater than every string starting with `prefix`.
fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.to_string();
    end.push(char::MAX);
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate_for_tests(&mut conn);
        Store::new(conn)
    }

    #[test]
    fn point_access_and_prefix_scans() {
        let s = store();
        s.set("v1.c.o+0", "ko4").unwrap();
        s.set("v1.c.ko4", "R o+0").unwrap();
        s.set("v10.c.o+0", "ko9").unwrap();
        s.set("v1.c.o+0", "ko5").unwrap();
        assert_eq!(s.get("v1.c.o+0").unwrap().as_deref(), Some("ko5"));
        let keys: Vec<String> = s
            .scan("v1.c.")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["v1.c.ko4", "v1.c.o+0"]);
        s.delete_prefix("v1.").unwrap();
        assert_eq!(s.get("v1.c.ko4").unwrap(), None);
        assert_eq!(s.get("v10.c.o+0").unwrap().as_deref(), Some("ko9"));
    }

    #[test]
    fn a_rolled_back_savepoint_leaves_nothing() {
        let s = store();
        s.savepoint().unwrap();
        s.set("a", "1").unwrap();
        s.release().unwrap();
        s.savepoint().unwrap();
        s.set("b", "2").unwrap();
        s.apply_vatstore("v1", &VatstoreDelta(vec![("k".into(), "v".into())], vec![]))
            .unwrap();
        s.rollback().unwrap();
        s.commit().unwrap();
        assert_eq!(s.get("a").unwrap().as_deref(), Some("1"));
        assert_eq!(s.get("b").unwrap(), None);
        assert!(s.vatstore("v1").unwrap().is_empty());
    }
}
