//! The `getStatus` result (spec §2.1): running vats, subclusters, remote comms.

use super::KernelError;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

/// The kernel status, serialized with the reference's key order.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Running vats: `{id, config, subclusterId}`.
    pub vats: Vec<Value>,
    /// Persisted subcluster records: `{id, config, vats}`.
    pub subclusters: Vec<Value>,
    /// The remote-comms state.
    pub remote_comms: RemoteComms,
}

/// Remote comms state; this daemon has no networking yet, so it is always disconnected.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum RemoteComms {
    /// No identity and no networking.
    Disconnected,
}

/// Reads the status from the store. No vat runtime exists yet, so no vat is running; the
/// subclusters are whatever the `subclusters` key records (spec §6.2, default `[]`).
pub fn read(conn: &Connection) -> Result<Status, KernelError> {
    Ok(Status {
        vats: Vec::new(),
        subclusters: json_array(conn, "subclusters")?,
        remote_comms: RemoteComms::Disconnected,
    })
}

fn json_array(conn: &Connection, key: &str) -> Result<Vec<Value>, KernelError> {
    let mut stmt = conn.prepare_cached("SELECT value FROM kv WHERE key = ?1")?;
    let text: Option<String> = stmt.query_row([key], |r| r.get(0)).optional()?;
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let corrupt = |detail: String| KernelError::Corrupt {
        key: key.into(),
        detail,
    };
    match serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))? {
        Value::Array(items) => Ok(items),
        _ => Err(corrupt("not a JSON array".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_kernel_status_has_the_reference_shape() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::kernel::store::migrate_for_tests(&mut conn);
        let status = read(&conn).unwrap();
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            r#"{"vats":[],"subclusters":[],"remoteComms":{"state":"disconnected"}}"#
        );
    }

    #[test]
    fn malformed_subclusters_key_is_reported_not_ignored() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::kernel::store::migrate_for_tests(&mut conn);
        conn.execute("INSERT INTO kv VALUES ('subclusters', '{')", [])
            .unwrap();
        assert!(matches!(read(&conn), Err(KernelError::Corrupt { .. })));
    }
}
