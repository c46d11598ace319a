//! IO channels (spec §3.4) through the real daemon, with a real vat (`test-vats/io.js`) using its
//! `io` service and real Unix-socket clients: lines in and out, `read()` waiting and `null` on
//! disconnect, one client at a time, the reference's error texts, unsupported types, channels
//! re-created after a restart and removed with their subcluster, and hostile clients.

use crate::common::{Home, call, request, request_line, rss_and_fds};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

fn bundle() -> String {
    format!("file://{}/test-vats/io.bundle", env!("OUT_DIR"))
}

/// The config of the io vat with `io` channels and `services`.
fn config(io: Value, services: &[&str]) -> Value {
    json!({"bootstrap": "io", "io": io, "services": services,
           "vats": {"io": {"bundleSpec": bundle()}}})
}

fn socket_channel(path: &Path) -> Value {
    json!({"repl": {"type": "socket", "path": path}})
}

fn launch(socket: &Path, config: &Value) -> Value {
    call(
        socket,
        "launchSubcluster",
        &json!({"config": config}).to_string(),
    )
}

/// The error message of a call that must fail.
fn error_of(socket: &Path, method: &str, params: &Value) -> String {
    let response = request(socket, &request_line(method, params));
    response["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} did not fail: {response}"))
        .to_string()
}

/// `queueMessage [root, method, args]`'s result body.
fn send(socket: &Path, root: &str, method: &str, args: Value) -> String {
    let result = call(
        socket,
        "queueMessage",
        &json!([root, method, args]).to_string(),
    );
    result["body"].as_str().unwrap().to_string()
}

/// A `send` that waits (for input, say), on a thread of its own.
fn send_later(socket: &Path, root: &str, method: &str, args: Value) -> JoinHandle<String> {
    let (socket, root, method) = (socket.to_path_buf(), root.to_string(), method.to_string());
    std::thread::spawn(move || send(&socket, &root, &method, args))
}

fn connect(path: &Path) -> UnixStream {
    let stream = UnixStream::connect(path).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Waits until the vat can write to the channel: the daemon has taken `client` as its client.
fn until_current(socket: &Path, root: &str, client: &mut BufReader<UnixStream>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = send(socket, root, "failure", json!(["repl", "write", "ping"]));
        if body == "#\"no error\"" {
            let mut line = String::new();
            client.read_line(&mut line).unwrap();
            assert_eq!(line, "ping\n");
            return;
        }
        assert!(body.contains("has no connected client"), "{body}");
        assert!(Instant::now() < deadline, "the client never became current");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `SELECT key FROM kv WHERE key LIKE pattern`.
fn keys_like(socket: &Path, pattern: &str) -> Vec<String> {
    let sql = format!("SELECT key FROM kv WHERE key LIKE '{pattern}' ORDER BY key");
    let rows = call(socket, "executeDBQuery", &json!({"sql": sql}).to_string());
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| row["key"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until `count` reads wait on channel `repl` of `s1` (as `ioReads` records them), so
/// that what the test does next meets them.
fn until_reads(socket: &Path, count: usize) {
    let sql = "SELECT value FROM kv WHERE key = 'ioReads.io:s1:repl'";
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = call(socket, "executeDBQuery", &json!({"sql": sql}).to_string());
        let waiting = rows[0]["value"]
            .as_str()
            .map_or(0, |v| serde_json::from_str::<Vec<String>>(v).unwrap().len());
        if waiting == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} reads wait, not {count}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn temp_socket(home: &Home, name: &str) -> PathBuf {
    home.path().join(name)
}

#[test]
fn a_vat_echoes_lines_however_the_client_splits_them() {
    let home = Home::new();
    let socket = home.socket();
    let _daemon = home.daemon(&[]);
    let path = temp_socket(&home, "repl.sock");
    let launched = launch(&socket, &config(socket_channel(&path), &["repl"]));
    assert_eq!(launched["rootKref"], "ko5", "the channel's service is ko4");
    assert_eq!(launched["bootstrapResult"]["body"], "#\"repl\"");
    assert_eq!(
        keys_like(&socket, "kernelService.io:%"),
        ["kernelService.io:s1:repl"]
    );

    let echo = send_later(&socket, "ko5", "echo", json!(["repl"]));
    let mut client = connect(&path);
    let text = "héllo\nwörld\n\n";
    for byte in text.as_bytes() {
        // One byte per write: lines and characters arrive in pieces.
        client.write_all(&[*byte]).unwrap();
        client.flush().unwrap();
    }
    let mut answers = BufReader::new(client.try_clone().unwrap());
    for expected in ["HÉLLO", "WÖRLD", ""] {
        let mut line = String::new();
        answers.read_line(&mut line).unwrap();
        assert_eq!(line, format!("{expected}\n"));
    }
    until_reads(&socket, 1);
    drop(answers);
    drop(client);
    assert_eq!(
        echo.join().unwrap(),
        "#3",
        "the disconnect ends the echo with null"
    );
}

#[test]
fn reads_wait_for_clients_and_a_disconnect_answers_those_waiting_with_null() {
    let home = Home::new();
    let socket = home.socket();
    let _daemon = home.daemon(&[]);
    let path = temp_socket(&home, "repl.sock");
    launch(&socket, &config(socket_channel(&path), &[]));
    let waiting = send_later(&socket, "ko5", "readMany", json!(["repl", 3]));
    until_reads(&socket, 3);
    assert!(!waiting.is_finished(), "no client yet: the reads wait");
    let mut client = connect(&path);
    client.write_all(b"one\ntwo").unwrap();
    drop(client);
    assert_eq!(waiting.join().unwrap(), "#[\"one\",\"two\",null]");
    assert_eq!(keys_like(&socket, "ioReads.%"), Vec::<String>::new());

    // One client at a time: a second one is dropped while the first is there.
    let first = connect(&path);
    let mut first_lines = BufReader::new(first.try_clone().unwrap());
    until_current(&socket, "ko5", &mut first_lines);
    let mut second = connect(&path);
    let mut buf = [0u8; 8];
    assert_eq!(
        second.read(&mut buf).unwrap(),
        0,
        "the second client was dropped"
    );
    let read = send_later(&socket, "ko5", "read", json!(["repl"]));
    (&first).write_all(b"from the first\n").unwrap();
    assert_eq!(read.join().unwrap(), "#\"from the first\"");
}

#[test]
fn errors_have_the_reference_texts() {
    let home = Home::new();
    let socket = home.socket();
    let _daemon = home.daemon(&[]);
    let io = json!({
        "repl": {"type": "socket", "path": temp_socket(&home, "repl.sock")},
        "in": {"type": "socket", "path": temp_socket(&home, "in.sock"), "direction": "in"},
        "out": {"type": "socket", "path": temp_socket(&home, "out.sock"), "direction": "out"},
    });
    let launched = launch(&socket, &config(io, &["ocapURLIssuerService"]));
    assert_eq!(launched["rootKref"], "ko7");
    assert_eq!(
        launched["bootstrapResult"]["body"], "#\"in,ocapURLIssuerService,out,repl\"",
        "every channel is given to bootstrap, listed in services or not"
    );
    let failure = |name: &str, method: &str, args: &[&str]| {
        let mut all = vec![json!(name), json!(method)];
        all.extend(args.iter().map(|a| json!(a)));
        send(&socket, "ko7", "failure", Value::Array(all))
    };
    assert_eq!(
        failure("repl", "write", &["x"]),
        "#\"[KERNEL:DELIVERY_FAILED] IO channel \\\"repl\\\" has no connected client\""
    );
    assert_eq!(
        failure("in", "write", &["x"]),
        "#\"[KERNEL:DELIVERY_FAILED] IO channel \\\"io:s1:in\\\" is read-only\""
    );
    assert_eq!(
        failure("out", "read", &[]),
        "#\"[KERNEL:DELIVERY_FAILED] IO channel \\\"io:s1:out\\\" is write-only\""
    );

    for (kind, extra) in [
        ("console", json!({})),
        ("listen", json!({"hostport": "127.0.0.1:9"})),
        ("network", json!({"hostport": "127.0.0.1:9"})),
        ("file", json!({"path": "/tmp/ocap-io-file"})),
    ] {
        let mut channel = extra;
        channel["type"] = json!(kind);
        let config = config(json!({"c": channel}), &["c"]);
        assert_eq!(
            error_of(&socket, "launchSubcluster", &json!({"config": config})),
            format!("Unsupported IO channel type \"{kind}\" for channel \"c\"")
        );
    }
    let status = call(&socket, "getStatus", "[]");
    assert_eq!(
        status["subclusters"].as_array().unwrap().len(),
        1,
        "{status}"
    );
    assert_eq!(status["vats"].as_array().unwrap().len(), 1, "{status}");
}

#[test]
fn channels_are_recreated_after_a_restart_and_go_with_their_subcluster() {
    let home = Home::new();
    let socket = home.socket();
    let mut daemon = home.daemon(&[]);
    let path = temp_socket(&home, "repl.sock");
    launch(&socket, &config(socket_channel(&path), &["repl"]));
    // A read waiting when the daemon stops: its caller hears that, and the read is answered
    // with null at the next start (the restart dropped every client).
    let waiting = send_later(&socket, "ko5", "read", json!(["repl"]));
    until_reads(&socket, 1);
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)), Some(0));
    assert!(
        waiting.join().is_err(),
        "the caller was told the daemon stopped"
    );
    assert!(!path.exists(), "a stopped daemon leaves no socket behind");

    let _daemon = home.daemon(&[]);
    assert!(path.exists(), "re-created at start");
    assert_eq!(keys_like(&socket, "ioReads.%"), Vec::<String>::new());
    let mut client = connect(&path);
    client.write_all(b"after the restart\n").unwrap();
    assert_eq!(
        send(&socket, "ko5", "read", json!(["repl"])),
        "#\"after the restart\""
    );

    let waiting = send_later(&socket, "ko5", "read", json!(["repl"]));
    until_reads(&socket, 1);
    call(&socket, "terminateSubcluster", r#"{"id":"s1"}"#);
    assert!(!path.exists(), "terminateSubcluster removes the socket");
    let mut buf = [0u8; 8];
    assert_eq!(
        client.read(&mut buf).unwrap_or(0),
        0,
        "and drops its client"
    );
    assert!(
        waiting.join().is_err(),
        "the vat that waited is gone with it"
    );
    assert_eq!(
        keys_like(&socket, "kernelService.io:%"),
        Vec::<String>::new()
    );
    assert_eq!(
        error_of(&socket, "queueMessage", &json!(["ko4", "read", []])),
        "[KERNEL:OBJECT_DELETED] Target object has no owner; it may have been deleted"
    );

    launch(&socket, &config(socket_channel(&path), &[]));
    assert!(path.exists());
    call(&socket, "clearState", "[]");
    assert!(!path.exists(), "clearState closes every channel");
}

#[test]
fn an_endless_line_or_a_flood_of_lines_neither_grows_the_daemon_nor_holds_the_kernel() {
    let home = Home::new();
    let socket = home.socket();
    let daemon = home.daemon(&[]);
    let pid = daemon.child.id();
    let path = temp_socket(&home, "repl.sock");
    launch(&socket, &config(socket_channel(&path), &[]));
    let (rss_before, _) = rss_and_fds(pid);

    // A line without end: the client is dropped past 1 MiB, long before 64 MiB.
    let mut endless = connect(&path);
    endless
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0usize;
    let refused = loop {
        match endless.write_all(&chunk) {
            Ok(()) => sent += chunk.len(),
            Err(e) => break e,
        }
        assert!(sent < 64 << 20, "64 MiB of one line accepted");
    };
    assert!(
        matches!(
            refused.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ),
        "{refused}"
    );
    drop(endless);

    // Lines nobody reads: the channel stops reading at its budget and the client's writes
    // block, while the kernel goes on answering.
    let mut flood = connect(&path);
    flood
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let lines = "0123456789abcdef\n".repeat(4096);
    let mut sent = 0usize;
    let blocked = loop {
        match flood.write(lines.as_bytes()) {
            Ok(n) => sent += n,
            Err(e) => break e,
        }
        assert!(
            sent < 256 << 20,
            "256 MiB of lines accepted with nobody reading"
        );
    };
    assert_eq!(blocked.kind(), std::io::ErrorKind::WouldBlock, "{blocked}");
    assert_eq!(call(&socket, "pingVat", r#"{"id":"v1"}"#), "pong");
    let (rss_after, _) = rss_and_fds(pid);
    println!("accepted {sent} bytes of lines; RSS {rss_before} KiB -> {rss_after} KiB");
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    // The vat still reads the flood, from its first line.
    assert_eq!(
        send(&socket, "ko5", "read", json!(["repl"])),
        "#\"0123456789abcdef\""
    );
}
