//! Isolation through the real socket: `executeDBQuery` writes nothing and reads nothing but the
//! kernel database, whatever statement it is given; the system-only kernel facet cannot be
//! reached from a client or handed to an ordinary vat; and a JavaScript vat that throws, loops,
//! allocates without bound or recurses (or a worker vat that dies) is stopped with a clear
//! reason while another vat's work goes on and completes.

use crate::common::{Home, call, request, request_line};
use serde_json::{Value, json};

fn bundle(name: &str) -> String {
    format!("file://{}/{name}.bundle", env!("OUT_DIR"))
}

fn launch_counter(socket: &std::path::Path) -> String {
    let config = json!({"config": {"bootstrap": "counter", "vats": {"counter": {
        "bundleSpec": bundle("counter"), "parameters": {"name": "Counter"}}}}});
    let launched = call(socket, "launchSubcluster", &config.to_string());
    launched["rootKref"].as_str().unwrap().to_string()
}

/// The whole `kv` and `kv_vatstore` as the client sees them.
fn everything(socket: &std::path::Path) -> Value {
    let kv = call(
        socket,
        "executeDBQuery",
        r#"{"sql":"SELECT * FROM kv ORDER BY key"}"#,
    );
    let vs = call(
        socket,
        "executeDBQuery",
        r#"{"sql":"SELECT * FROM kv_vatstore ORDER BY vatID, key"}"#,
    );
    json!([kv, vs])
}

#[test]
fn execute_db_query_writes_nothing_and_reads_only_the_kernel_database() {
    let home = Home::new();
    let _daemon = home.daemon(&["--log-level", "error"]);
    let socket = home.socket();
    launch_counter(&socket);
    let outside = home.path().join("outside.sqlite");
    let copy = home.path().join("copy.sqlite");
    {
        let conn = rusqlite::Connection::open(&outside).unwrap();
        conn.execute_batch("CREATE TABLE secret (x); INSERT INTO secret VALUES ('hidden');")
            .unwrap();
    }
    let before = everything(&socket);
    let statements = [
        "INSERT INTO kv VALUES ('x', 'y')".to_string(),
        "INSERT INTO kv VALUES ('x', 'y') RETURNING *".into(),
        "UPDATE kv SET value = 'x'".into(),
        "UPDATE kv SET value = 'x' RETURNING key".into(),
        "DELETE FROM kv".into(),
        "DELETE FROM kv_vatstore RETURNING *".into(),
        "REPLACE INTO kv VALUES ('nextVatId', '1')".into(),
        "INSERT OR REPLACE INTO kv VALUES ('nextVatId', '1') RETURNING *".into(),
        "CREATE TABLE t (x)".into(),
        "CREATE TEMP TABLE t AS SELECT * FROM kv".into(),
        "CREATE VIEW v AS SELECT 1".into(),
        "CREATE INDEX i ON kv (value)".into(),
        "CREATE TRIGGER tr AFTER INSERT ON kv BEGIN DELETE FROM kv; END".into(),
        "DROP TABLE kv".into(),
        "DROP TABLE IF EXISTS meta".into(),
        "ALTER TABLE kv RENAME TO kv2".into(),
        "ALTER TABLE kv ADD COLUMN c".into(),
        format!("ATTACH DATABASE '{}' AS o", outside.display()),
        "ATTACH DATABASE ':memory:' AS m".into(),
        "DETACH DATABASE main".into(),
        "PRAGMA user_version = 9".into(),
        "PRAGMA journal_mode = DELETE".into(),
        "PRAGMA synchronous = OFF".into(),
        "PRAGMA writable_schema = ON".into(),
        "PRAGMA query_only = OFF".into(),
        "PRAGMA wal_checkpoint(TRUNCATE)".into(),
        "PRAGMA incremental_vacuum".into(),
        "PRAGMA optimize".into(),
        "PRAGMA shrink_memory".into(),
        "SELECT * FROM pragma_user_version(5)".into(),
        "VACUUM".into(),
        format!("VACUUM INTO '{}'", copy.display()),
        "REINDEX".into(),
        "ANALYZE".into(),
        "SAVEPOINT s".into(),
        "RELEASE s".into(),
        "BEGIN".into(),
        "BEGIN IMMEDIATE".into(),
        "COMMIT".into(),
        "ROLLBACK".into(),
        "SELECT 1; DELETE FROM kv".into(),
        "SELECT 1; SELECT 2".into(),
        "WITH x AS (SELECT 1) DELETE FROM kv RETURNING *".into(),
        "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so.0')".into(),
        "SELECT readfile('/etc/passwd')".into(),
        "SELECT writefile('/tmp/ocap-isolation', 'x')".into(),
        "SELECT edit('x')".into(),
        "SELECT fts3_tokenizer('evil', x'0000000000000000')".into(),
        format!("SELECT * FROM '{}'.secret", outside.display()),
        "SELECT * FROM o.secret".into(),
        "SELECT * FROM temp.sqlite_master".into(),
    ];
    for sql in &statements {
        let response = request(
            &socket,
            &request_line("executeDBQuery", &json!({"sql": sql})),
        );
        let denied = response.get("error").is_some()
            || (sql.contains("temp.sqlite_master") && response["result"] == json!([]));
        assert!(denied, "{sql} was allowed: {response}");
    }
    assert_eq!(everything(&socket), before, "a statement changed the state");
    assert!(!copy.exists(), "VACUUM INTO wrote a file");
    assert!(!std::path::Path::new("/tmp/ocap-isolation").exists());
    // Plain reads still work, pragma reads included.
    assert_eq!(
        call(&socket, "executeDBQuery", r#"{"sql":"PRAGMA quick_check"}"#),
        json!([{"quick_check": "ok"}])
    );
}

#[test]
fn the_kernel_facet_is_unreachable_from_the_socket_and_from_vats() {
    let home = Home::new();
    let _daemon = home.daemon(&["--log-level", "error"]);
    let socket = home.socket();
    let kernel_facet = call(
        &socket,
        "executeDBQuery",
        r#"{"sql":"SELECT value FROM kv WHERE key = 'kernelService.kernelFacet'"}"#,
    );
    assert_eq!(kernel_facet, json!([{"value": "ko3"}]));
    let error = |method: &str, params: Value| -> String {
        let response = request(&socket, &request_line(method, &params));
        response["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {params} was allowed: {response}"))
            .to_string()
    };
    let sent = error("queueMessage", json!(["ko3", "ping", []]));
    assert!(sent.contains("system-only"), "{sent}");
    let config = json!({"config": {"bootstrap": "counter", "services": ["kernelFacet"],
        "vats": {"counter": {"bundleSpec": bundle("counter")}}}});
    let launched = error("launchSubcluster", config);
    assert_eq!(launched, "no registered kernel service 'kernelFacet'");
    // Nothing was left behind by the refused launch, and the facet is still the kernel's.
    let status = call(&socket, "getStatus", "[]");
    assert_eq!(status["subclusters"], json!([]));
    let owner = call(
        &socket,
        "executeDBQuery",
        r#"{"sql":"SELECT value FROM kv WHERE key = 'ko3.owner'"}"#,
    );
    assert_eq!(owner, json!([{"value": "kernel"}]));
    assert_eq!(
        call(&socket, "checkIntegrity", "[]"),
        json!({"integrity": ["ok"], "invariants": []})
    );
}

/// Launches the misbehaving test vat beside a counter (its bootstrap vat) in a subcluster of
/// its own; returns the misbehaving vat's root kref and id.
pub fn launch_misbehaving(socket: &std::path::Path) -> (String, String) {
    let config = json!({"config": {"bootstrap": "boot", "vats": {
        "boot": {"bundleSpec": bundle("counter")},
        "bad": {
            "bundleSpec": format!("file://{}/test-vats/misbehaving.bundle", env!("OUT_DIR")),
            "parameters": {"name": "bad"}}}}});
    let launched = call(socket, "launchSubcluster", &config.to_string());
    let status = call(socket, "getStatus", "[]");
    let subcluster = launched["subclusterId"].as_str().unwrap();
    let vat = status["subclusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == subcluster)
        .map(|s| s["vats"]["bad"].as_str().unwrap().to_string())
        .unwrap();
    let sql = format!("SELECT value FROM kv WHERE key = '{vat}.c.o+0'");
    let root = call(socket, "executeDBQuery", &json!({"sql": sql}).to_string());
    (root[0]["value"].as_str().unwrap().to_string(), vat)
}

fn live_vats(socket: &std::path::Path) -> Vec<String> {
    let status = call(socket, "getStatus", "[]");
    status["vats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn vat_faults_are_contained_and_other_vats_finish_their_work() {
    let home = Home::new();
    let _daemon = home.daemon(&["--log-level", "error", "--delivery-timeout", "2"]);
    let socket = home.socket();
    let counter = launch_counter(&socket);
    let mut count = 1;
    let faults = [
        ("spin", "[KERNEL:VAT_FATAL:DELIVERY_TIMEOUT]"),
        ("spinInJob", "[KERNEL:VAT_FATAL:DELIVERY_TIMEOUT]"),
        ("hog", "[KERNEL:VAT_FATAL:"),
    ];
    for (method, reason) in faults {
        let (root, vat) = launch_misbehaving(&socket);
        // The counter's message is queued behind the fault and must still complete.
        let counter_socket = socket.clone();
        let counter_root = counter.clone();
        let other = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            call(
                &counter_socket,
                "queueMessage",
                &json!([counter_root, "resume", []]).to_string(),
            )
        });
        let response = request(
            &socket,
            &request_line("queueMessage", &json!([root, method, []])),
        );
        let message = response["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(reason), "{method}: {response}");
        assert!(
            !live_vats(&socket).contains(&vat),
            "{method}: {vat} is still alive"
        );
        count += 1;
        assert_eq!(
            other.join().unwrap()["body"],
            format!("#\"Counter incremented to: {count}\""),
            "{method}: the other vat's work"
        );
    }
    // A throw, or a stack overflow (a RangeError inside the vat), is the vat's own exception:
    // its caller gets the error and the vat lives on.
    let (root, vat) = launch_misbehaving(&socket);
    for (method, error) in [
        ("boom", "boom"),
        ("recurse", "Maximum call stack size exceeded"),
    ] {
        let response = request(
            &socket,
            &request_line("queueMessage", &json!([root, method, []])),
        );
        assert_eq!(response["error"]["message"], error, "{response}");
        assert!(live_vats(&socket).contains(&vat));
        assert_eq!(
            call(
                &socket,
                "queueMessage",
                &json!([root, "hello", []]).to_string()
            )["body"],
            "#\"hello bad\""
        );
    }
    assert_eq!(
        call(&socket, "checkIntegrity", "[]"),
        json!({"integrity": ["ok"], "invariants": []})
    );
}

#[test]
fn a_huge_query_result_is_refused_and_the_daemon_lives() {
    // `SELECT zeroblob(400000000)` made each of its bytes a JSON value before the 16 MiB
    // check, and the daemon aborted. Its address space is capped here so that the old failure
    // is a quick abort rather than a machine out of memory.
    use std::os::unix::process::CommandExt;
    let home = Home::new();
    let _daemon = home.daemon_with(&[], |command| {
        // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child before exec.
        unsafe {
            command.pre_exec(|| {
                let cap = 3u64 << 30;
                let limit = libc::rlimit {
                    rlim_cur: cap,
                    rlim_max: cap,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    });
    for sql in [
        "SELECT zeroblob(400000000) AS b",
        "SELECT printf('%.*c', 400000000, 'x') AS s",
    ] {
        let line = request_line("executeDBQuery", &json!({ "sql": sql }));
        let response = request(&home.socket(), &line);
        assert_eq!(
            response["error"]["message"], "query result exceeds 16777216 bytes; add a LIMIT",
            "{sql}: {response}"
        );
    }
    call(&home.socket(), "getStatus", "[]");
}

#[test]
fn a_fifo_as_vat_code_or_vat_file_never_holds_the_kernel() {
    // Reading a FIFO (as bundleSpec, or through platformConfig.fs) waited for a writer forever
    // on the kernel thread: every caller hung, and SIGTERM no longer stopped the daemon.
    use std::os::unix::ffi::OsStrExt;
    let home = Home::new();
    let mut daemon = home.daemon(&[]);
    let fifo = home.path().join("vat.bundle");
    let name = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let config = json!({"config": {"bootstrap": "v", "vats": {"v": {
        "bundleSpec": format!("file://{}", fifo.display())}}}});
    let response = request(&home.socket(), &request_line("launchSubcluster", &config));
    assert_eq!(
        response["error"]["message"], "Failed to launch vat v1 (v)",
        "{response}"
    );

    let files = json!({"config": {"bootstrap": "files", "vats": {"files": {
        "bundleSpec": format!("file://{}/test-vats/files.bundle", env!("OUT_DIR")),
        "platformConfig": {"fs": {"rootDir": home.path(), "promises": {"readFile": true}}}}}}});
    let launched = call(&home.socket(), "launchSubcluster", &files.to_string());
    let root = launched["rootKref"].as_str().unwrap();
    let read = call(
        &home.socket(),
        "queueMessage",
        &json!([root, "read", ["vat.bundle"]]).to_string(),
    );
    assert!(
        read["body"]
            .as_str()
            .unwrap()
            .contains("not a regular file"),
        "{read}"
    );
    call(&home.socket(), "getStatus", "[]");
    daemon.signal(libc::SIGTERM);
    assert_eq!(
        daemon.wait_exit(std::time::Duration::from_secs(15)),
        Some(0)
    );
}

#[test]
fn a_vat_stuck_in_one_native_call_is_abandoned_and_the_kernel_goes_on() {
    // Before: the kernel thread ran the call to its end (about a minute), and every other vat,
    // terminateVat and SIGTERM waited for it.
    let home = Home::new();
    let mut daemon = home.daemon(&["--log-level", "error", "--delivery-timeout", "1"]);
    let socket = home.socket();
    let counter = launch_counter(&socket);
    let (root, vat) = launch_misbehaving(&socket);
    let started = std::time::Instant::now();
    let stuck_socket = socket.clone();
    let stuck = std::thread::spawn(move || {
        request(
            &stuck_socket,
            &request_line("queueMessage", &json!([root, "native", []])),
        )
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!stuck.is_finished(), "the native call is under way");
    assert_eq!(
        call(
            &socket,
            "queueMessage",
            &json!([counter, "resume", []]).to_string()
        )["body"],
        "#\"Counter incremented to: 2\"",
        "another vat's message completes"
    );
    let response = stuck.join().unwrap();
    let message = response["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("[KERNEL:VAT_FATAL:DELIVERY_TIMEOUT]"),
        "{response}"
    );
    // Ended within a small multiple of its 1 s budget, not after the minute the call takes.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(!live_vats(&socket).contains(&vat), "{vat} is terminated");
    // The abandoned thread still runs its call; the daemon stops anyway.
    daemon.signal(libc::SIGTERM);
    assert_eq!(
        daemon.wait_exit(std::time::Duration::from_secs(10)),
        Some(0)
    );
}

#[test]
fn what_the_host_makes_for_a_vat_counts_against_its_memory_and_only_real_exhaustion_is_fatal() {
    // Before: buffers the host made (file reads, fetch bodies, cipher outputs) lived outside
    // the vat's heap and its limit, so a vat could grow the daemon without bound (3.3 GiB until
    // it aborted); and a vat that merely threw Error('out of memory') was terminated as if it
    // had run out.
    let home = Home::new();
    let _daemon = home.daemon(&["--log-level", "error"]);
    let socket = home.socket();
    std::fs::write(home.path().join("mib"), vec![7u8; 1 << 20]).unwrap();
    let files = json!({"config": {"bootstrap": "files", "vats": {"files": {
        "bundleSpec": format!("file://{}/test-vats/files.bundle", env!("OUT_DIR")),
        "creationOptions": {"memoryLimitMiB": 24},
        "platformConfig": {"fs": {"rootDir": home.path(), "promises": {"readFile": true}}}}}}});
    let launched = call(&socket, "launchSubcluster", &files.to_string());
    let root = launched["rootKref"].as_str().unwrap().to_string();
    let hoard = |times: u32| {
        request(
            &socket,
            &request_line("queueMessage", &json!([root, "hoard", ["mib", times]])),
        )
    };
    assert_eq!(hoard(4)["result"]["body"], "#4194304", "within the limit");
    let response = hoard(64);
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("[KERNEL:VAT_FATAL:OUT_OF_MEMORY]"),
        "64 MiB of reads in a 24 MiB vat: {response}"
    );
    assert!(!live_vats(&socket).contains(&"v1".to_string()));
    let (root, vat) = launch_misbehaving(&socket);
    let response = request(
        &socket,
        &request_line("queueMessage", &json!([root, "forgedOutOfMemory", []])),
    );
    assert_eq!(response["error"]["message"], "out of memory", "{response}");
    assert!(
        live_vats(&socket).contains(&vat),
        "a forged error is not fatal"
    );
}
