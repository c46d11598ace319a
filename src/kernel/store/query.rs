//! `executeDBQuery`: SQL over the kernel database that can only read, and only that database.
//!
//! The reference runs any SQL on the live read-write connection (spec §14.16: `RETURNING` and
//! `PRAGMA` forms write). Here each query gets its own read-only connection, which sees only
//! committed state, and three independent guards: the connection is opened read-only, SQLite's
//! own `sqlite3_stmt_readonly` must agree, and an authorizer refuses `ATTACH` (no reading other
//! files) and every `PRAGMA` that is not a plain read. A time and a size budget stop runaway
//! queries such as an unbounded recursive CTE.

use super::StoreError;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags, Statement};
use serde_json::{Map, Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// Budgets for one query.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    /// Wall-clock time the statement may run.
    pub time: Duration,
    /// Approximate size of the JSON result, in bytes.
    pub result_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> QueryLimits {
        QueryLimits {
            time: Duration::from_secs(5),
            result_bytes: 16 << 20,
        }
    }
}

/// Pragmas that only read. Those that could also set a value are allowed only without one.
const READ_ONLY_PRAGMAS: &[&str] = &[
    "application_id",
    "collation_list",
    "compile_options",
    "data_version",
    "database_list",
    "encoding",
    "foreign_key_list",
    "freelist_count",
    "function_list",
    "index_info",
    "index_list",
    "index_xinfo",
    "integrity_check",
    "module_list",
    "page_count",
    "page_size",
    "pragma_list",
    "quick_check",
    "schema_version",
    "table_info",
    "table_list",
    "table_xinfo",
    "user_version",
];

/// Why a query was refused or failed; the text is what the client sees.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The statement would write (or needs write access).
    #[error("executeDBQuery is read-only: the statement would modify the database")]
    Write,
    /// The statement is valid but returns no rows (the reference's better-sqlite3 text).
    #[error("This statement does not return data. Use run() instead")]
    NoData,
    /// More than one statement in the string (the reference's text).
    #[error("The supplied SQL string contains more than one statement")]
    Multiple,
    /// The query ran past its time budget.
    #[error("query interrupted: it ran longer than {0:?}")]
    Timeout(Duration),
    /// The result grew past its size budget.
    #[error("query result exceeds {0} bytes; add a LIMIT")]
    TooLarge(usize),
    /// SQLite refused the SQL (syntax error, denied by the authorizer, …).
    #[error("{0}")]
    Sqlite(String),
    /// The database could not be opened.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Runs `sql` against the database at `path` and returns its rows as JSON objects.
pub fn read_only_query(path: &Path, sql: &str, limits: QueryLimits) -> Result<Value, QueryError> {
    let mut conn = open_read_only(path, limits)?;
    let deadline = Instant::now() + limits.time;
    conn.progress_handler(10_000, Some(move || Instant::now() > deadline))
        .map_err(StoreError::from)?;
    let mut stmt = conn
        .prepare(sql)
        .map_err(|e| prepare_error(e, deadline, limits.time))?;
    if !stmt.readonly() {
        return Err(QueryError::Write);
    }
    if stmt.column_count() == 0 {
        return Err(QueryError::NoData);
    }
    collect_rows(&mut stmt, limits).map_err(|e| match e {
        QueryError::Sqlite(_) if Instant::now() > deadline => QueryError::Timeout(limits.time),
        other => other,
    })
}

fn open_read_only(path: &Path, limits: QueryLimits) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.authorizer(Some(authorize))?;
    // No string or blob the statement makes may outgrow the result: `zeroblob(400000000)`
    // would otherwise be built whole before any row reaches the size check.
    let longest = i32::try_from(limits.result_bytes).unwrap_or(i32::MAX);
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, longest)?;
    Ok(conn)
}

fn authorize(ctx: AuthContext<'_>) -> Authorization {
    match ctx.action {
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => Authorization::Deny,
        AuthAction::Pragma {
            pragma_name,
            pragma_value,
        } => {
            let name = pragma_name.to_ascii_lowercase();
            let reads_only = READ_ONLY_PRAGMAS.contains(&name.as_str())
                && (pragma_value.is_none() || takes_argument(&name));
            if reads_only {
                Authorization::Allow
            } else {
                Authorization::Deny
            }
        }
        _ => Authorization::Allow,
    }
}

/// Pragmas whose argument names a table or index to read, not a value to set.
fn takes_argument(name: &str) -> bool {
    name.ends_with("_info")
        || name.ends_with("_xinfo")
        || name.ends_with("_list")
        || name.ends_with("_check")
}

fn prepare_error(err: rusqlite::Error, deadline: Instant, budget: Duration) -> QueryError {
    match err {
        rusqlite::Error::MultipleStatement => QueryError::Multiple,
        _ if Instant::now() > deadline => QueryError::Timeout(budget),
        other => QueryError::Sqlite(sqlite_message(other)),
    }
}

/// A failure while stepping: a string or blob past the length limit is the result's size budget.
fn step_error(err: rusqlite::Error, limits: QueryLimits) -> QueryError {
    match err.sqlite_error_code() {
        Some(ErrorCode::TooBig) => QueryError::TooLarge(limits.result_bytes),
        _ => QueryError::Sqlite(sqlite_message(err)),
    }
}

fn sqlite_message(err: rusqlite::Error) -> String {
    match err {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message,
        other => other.to_string(),
    }
}

fn collect_rows(stmt: &mut Statement<'_>, limits: QueryLimits) -> Result<Value, QueryError> {
    let names: Vec<String> = stmt.column_names().map(String::from).collect();
    let mut rows = stmt.query([]).map_err(|e| step_error(e, limits))?;
    let mut out = Vec::new();
    let mut size = 0;
    while let Some(row) = rows.next().map_err(|e| step_error(e, limits))? {
        let mut object = Map::new();
        for (i, name) in names.iter().enumerate() {
            let value = row.get_ref(i).map_err(|e| step_error(e, limits))?;
            // Counted before it becomes JSON: a blob's bytes each become a JSON number.
            size += name.len() + approximate_size(value);
            if size > limits.result_bytes {
                return Err(QueryError::TooLarge(limits.result_bytes));
            }
            object.insert(name.clone(), to_json(value));
        }
        out.push(js_key_order(object));
    }
    Ok(Value::Array(out))
}

/// SQLite values as better-sqlite3 hands them to `JSON.stringify` (blobs become Buffers).
fn to_json(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => json!(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => json!({"type": "Buffer", "data": b}),
    }
}

/// Bytes `value` takes in the JSON result, about.
fn approximate_size(value: ValueRef<'_>) -> usize {
    match value {
        ValueRef::Text(t) => t.len() + 2,
        ValueRef::Blob(b) => 32 + b.len() * 4,
        ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => 8,
    }
}

/// JavaScript objects list integer-like keys first, ascending; the reference's rows are JS
/// objects, so `SELECT 'a' AS b, 2 AS "1"` comes back as `{"1":2,"b":"a"}`.
fn js_key_order(object: Map<String, Value>) -> Value {
    let is_index = |k: &str| k == "0" || (!k.starts_with('0') && k.parse::<u32>().is_ok());
    let (mut indices, names): (Vec<_>, Vec<_>) = object.into_iter().partition(|(k, _)| is_index(k));
    indices.sort_by_key(|(k, _)| k.parse::<u32>().unwrap_or(0));
    Value::Object(indices.into_iter().chain(names).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kernel.sqlite");
        let conn = super::super::open(&path).unwrap();
        conn.execute("INSERT INTO kv VALUES ('nextVatId', '2'), ('b', NULL)", [])
            .unwrap();
        (dir, path)
    }

    fn query(path: &Path, sql: &str) -> Result<Value, QueryError> {
        read_only_query(path, sql, QueryLimits::default())
    }

    #[test]
    fn rows_are_objects_keyed_by_column_in_column_order() {
        let (_dir, path) = db();
        let rows = query(&path, "SELECT key, value FROM kv ORDER BY key").unwrap();
        assert_eq!(
            rows,
            json!([{"key":"b","value":null},{"key":"nextVatId","value":"2"}])
        );
        let rows = query(
            &path,
            "SELECT 'a' AS b, 2 AS \"1\", 1.5 AS r, x'0102' AS bl",
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&rows).unwrap(),
            r#"[{"1":2,"b":"a","r":1.5,"bl":{"type":"Buffer","data":[1,2]}}]"#
        );
    }

    #[test]
    fn every_kind_of_write_is_refused_and_changes_nothing() {
        let (_dir, path) = db();
        let writes = [
            "DELETE FROM kv",
            "DELETE FROM kv RETURNING *",
            "UPDATE kv SET value = 'x' RETURNING *",
            "INSERT INTO kv VALUES ('z', 'z') RETURNING *",
            "INSERT OR REPLACE INTO kv VALUES ('b', 'x') RETURNING key",
            "DROP TABLE kv",
            "CREATE TABLE t (x)",
            "CREATE TEMP TABLE t AS SELECT 1",
            "ALTER TABLE kv ADD COLUMN c",
            "PRAGMA journal_mode = DELETE",
            "PRAGMA user_version = 7",
            "PRAGMA writable_schema = ON",
            "PRAGMA query_only = 0",
            "VACUUM",
            "REINDEX",
            "ANALYZE",
            "ATTACH DATABASE '/etc/passwd' AS p",
            "ATTACH DATABASE ':memory:' AS m",
            "WITH x AS (SELECT 1) DELETE FROM kv RETURNING *",
            "SELECT 1; DELETE FROM kv",
        ];
        for sql in writes {
            assert!(query(&path, sql).is_err(), "{sql} was allowed");
        }
        let rows = query(&path, "SELECT count(*) AS n FROM kv").unwrap();
        assert_eq!(rows, json!([{"n": 2}]));
        let version = query(&path, "PRAGMA user_version").unwrap();
        assert_eq!(version, json!([{"user_version": 0}]));
    }

    #[test]
    fn read_only_pragmas_work() {
        let (_dir, path) = db();
        let cols = query(&path, "PRAGMA table_info(kv)").unwrap();
        assert_eq!(cols.as_array().unwrap().len(), 2);
        assert_eq!(
            query(&path, "PRAGMA quick_check").unwrap(),
            json!([{"quick_check":"ok"}])
        );
    }

    #[test]
    fn reference_error_texts_for_non_queries() {
        let (_dir, path) = db();
        assert_eq!(
            query(&path, "SELECT 1; SELECT 2").unwrap_err().to_string(),
            "The supplied SQL string contains more than one statement"
        );
        assert!(
            query(&path, "selec 1")
                .unwrap_err()
                .to_string()
                .contains("syntax error")
        );
    }

    #[test]
    fn runaway_queries_hit_their_budgets() {
        let (_dir, path) = db();
        let forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                       SELECT max(x) FROM c";
        let limits = QueryLimits {
            time: Duration::from_millis(200),
            result_bytes: 1 << 20,
        };
        let err = read_only_query(&path, forever, limits).unwrap_err();
        assert!(matches!(err, QueryError::Timeout(_)), "{err}");
        let huge = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) \
                    SELECT x FROM c";
        let limits = QueryLimits {
            time: Duration::from_secs(30),
            result_bytes: 64 << 10,
        };
        let err = read_only_query(&path, huge, limits).unwrap_err();
        assert!(matches!(err, QueryError::TooLarge(_)), "{err}");
    }

    #[test]
    fn a_huge_value_is_refused_before_it_is_built() {
        // Each byte of this blob became a JSON value before the size check: 400 MB of bytes,
        // some 13 GB of JSON values, and the daemon aborted.
        let (_dir, path) = db();
        for sql in [
            "SELECT zeroblob(400000000) AS b",
            "SELECT hex(zeroblob(20000000)) AS h",
            "SELECT printf('%.*c', 400000000, 'x') AS s",
            "SELECT group_concat(hex(zeroblob(1000)), '') AS g FROM \
             (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) \
             SELECT x FROM c)",
        ] {
            let err = query(&path, sql).unwrap_err();
            assert!(matches!(err, QueryError::TooLarge(_)), "{sql}: {err}");
        }
        // Within the budget, a blob comes back whole.
        let limits = QueryLimits {
            time: Duration::from_secs(5),
            result_bytes: 64 << 10,
        };
        let rows = read_only_query(&path, "SELECT zeroblob(1000) AS b", limits).unwrap();
        assert_eq!(rows[0]["b"]["data"].as_array().unwrap().len(), 1000);
        let err = read_only_query(&path, "SELECT zeroblob(20000) AS b", limits).unwrap_err();
        assert!(matches!(err, QueryError::TooLarge(_)), "{err}");
    }
}
