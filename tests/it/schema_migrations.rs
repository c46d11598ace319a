//! Schema migrations from every earlier version, with stored fixture databases
//! (`tests/fixtures/schema/`, SQL text; its README says how they were made and how to add one).
//! Each is opened by the current daemon, which must migrate it to [`SCHEMA_VERSION`] and serve
//! it: the same subcluster, a clean `checkIntegrity`, the counter answering from its stored
//! baggage, new ids continuing after the stored ones, and nothing of the old rows lost.

use crate::common::{Home, call};
use ocap::kernel::store::SCHEMA_VERSION;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

/// The schema version a fixture holds, from its name (`v<N>.sql` or `v<N>-<what>.sql`).
fn version_of(fixture: &Path) -> i64 {
    let name = fixture.file_stem().unwrap().to_str().unwrap();
    let digits = name.strip_prefix('v').unwrap().split('-').next().unwrap();
    digits.parse().unwrap()
}

/// Loads a fixture into a fresh database file, pointing its bundles at this build's.
fn load(fixture: &Path, database: &Path) {
    let sql = std::fs::read_to_string(fixture)
        .unwrap()
        .replace("@BUNDLE_DIR@", env!("OUT_DIR"));
    let conn = rusqlite::Connection::open(database).unwrap();
    conn.execute_batch(&sql).unwrap();
}

fn stored(database: &Path, sql: &str) -> Option<String> {
    let conn = rusqlite::Connection::open(database).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).ok()
}

#[test]
fn every_schema_version_has_a_fixture() {
    let versions: Vec<i64> = fixtures().iter().map(|f| version_of(f)).collect();
    for version in 0..=SCHEMA_VERSION {
        assert!(
            versions.contains(&version),
            "no fixture for schema version {version} in tests/fixtures/schema (see its README)"
        );
    }
}

#[test]
fn each_fixture_is_migrated_and_served() {
    for fixture in fixtures() {
        let name = fixture.file_name().unwrap().to_string_lossy().into_owned();
        let home = Home::new();
        load(&fixture, &home.database());
        let before: Vec<String> = {
            let conn = rusqlite::Connection::open(home.database()).unwrap();
            let mut stmt = conn.prepare("SELECT key FROM kv").unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let mut daemon = home.daemon(&[]);
        let socket = home.socket();
        let status = call(&socket, "getStatus", "[]");
        assert_eq!(status["subclusters"][0]["id"], "s1", "{name}: {status}");
        assert_eq!(
            status["subclusters"][0]["vats"],
            json!({"counter": "v1"}),
            "{name}"
        );
        assert_eq!(
            call(&socket, "checkIntegrity", "[]"),
            json!({"integrity": ["ok"], "invariants": []}),
            "{name}"
        );
        assert_eq!(
            call(&socket, "queueMessage", r#"["ko4","resume",[]]"#)["body"],
            "#\"Counter incremented to: 3\"",
            "{name}: the count comes from the stored baggage"
        );
        let config = json!({"config": {"bootstrap": "counter", "vats": {"counter": {
            "bundleSpec": format!("file://{}/counter.bundle", env!("OUT_DIR"))}}}});
        let launched = call(&socket, "launchSubcluster", &config.to_string());
        assert_eq!(
            (&launched["subclusterId"], &launched["rootKref"]),
            (&json!("s2"), &json!("ko5")),
            "{name}: ids continue after the stored ones"
        );
        daemon.signal(libc::SIGTERM);
        assert_eq!(daemon.wait_exit(Duration::from_secs(20)), Some(0), "{name}");
        let version = stored(
            &home.database(),
            "SELECT value FROM meta WHERE key = 'schema_version'",
        );
        assert_eq!(version, Some(SCHEMA_VERSION.to_string()), "{name}");
        for key in before {
            let sql = format!("SELECT value FROM kv WHERE key = '{key}'");
            assert!(
                stored(&home.database(), &sql).is_some(),
                "{name}: {key} was lost"
            );
        }
    }
}
