//! The control socket's wire protocol against a real daemon (spec §1.3, §1.4, §13.1–2): every
//! kind of bad input gets the documented error or a clean close, and the daemon keeps serving.

use crate::common::{Home, call, raw, request};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

fn error_of(response: &Value) -> (i64, String) {
    let error = &response["error"];
    (
        error["code"].as_i64().unwrap(),
        error["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn get_status_has_the_reference_shape_and_echoes_any_id() {
    let home = Home::new();
    let _daemon = home.daemon(&[]);
    let response = request(
        &home.socket(),
        r#"{"jsonrpc":"2.0","id":{"n":[1]},"method":"getStatus"}"#,
    );
    let peer_id = response["result"]["remoteComms"]["peerId"].clone();
    assert!(
        peer_id.as_str().unwrap().starts_with("12D3KooW"),
        "{peer_id}"
    );
    assert_eq!(
        response,
        json!({"jsonrpc":"2.0","id":{"n":[1]},"result":{"vats":[],"subclusters":[],"remoteComms":{"state":"identity-only","peerId":peer_id}}})
    );
    let response = request(&home.socket(), r#"{"method":"getStatus","params":null}"#);
    assert_eq!(
        response["id"],
        Value::Null,
        "a missing id is answered with null"
    );
    assert!(response["result"].is_object());
}

#[test]
fn number_ids_come_back_exactly_as_sent() {
    // Parsed and printed again, `1e2` came back as `100.0` and `-0` as `0`.
    let home = Home::new();
    let _daemon = home.daemon(&[]);
    for id in [
        "1e2",
        "-0",
        "0.10",
        "1E-7",
        "123456789012345678901234567890",
    ] {
        for method in ["getStatus", "noSuchMethod"] {
            let line = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"{method}\"}}\n");
            let reply = raw(&home.socket(), line.as_bytes());
            assert!(
                reply.starts_with(&format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},")),
                "{reply}"
            );
        }
    }
}

#[test]
fn malformed_requests_get_the_reference_error_codes() {
    let home = Home::new();
    let _daemon = home.daemon(&[]);
    let socket = home.socket();
    let cases: &[(&str, i64, &str)] = &[
        ("xyz", -32603, "Request is not valid JSON"),
        ("", -32603, "Request is not valid JSON"),
        ("[1,2]", -32600, "Invalid request: missing method"),
        ("42", -32600, "Invalid request: missing method"),
        (r#"{"id":5}"#, -32600, "Invalid request: missing method"),
        (
            r#"{"id":5,"method":7}"#,
            -32600,
            "Invalid request: missing method",
        ),
        (
            r#"{"id":5,"method":"frob"}"#,
            -32601,
            "The method does not exist / is not available.",
        ),
        (
            r#"{"id":5,"method":"reload","params":[]}"#,
            -32601,
            "The method does not exist",
        ),
        (
            r#"{"id":5,"method":"toString"}"#,
            -32601,
            "The method does not exist",
        ),
        (
            r#"{"id":5,"method":"getStatus","params":{}}"#,
            -32603,
            "Invalid params: Expected an array value, but received: [object Object]",
        ),
        (
            r#"{"id":5,"method":"getStatus","params":[1]}"#,
            -32603,
            "Invalid params: Expected an empty array but received one with a size of `1`",
        ),
        (
            r#"{"id":5,"method":"executeDBQuery","params":{"sql":1}}"#,
            -32603,
            "Invalid params: At path: sql -- Expected a string, but received: 1",
        ),
        (
            r#"{"id":5,"method":"executeDBQuery","params":{"sql":"select 1","x":1}}"#,
            -32603,
            "Invalid params: At path: x -- Expected a value of type `never`",
        ),
    ];
    for (line, code, message) in cases {
        let response = request(&socket, line);
        let (got_code, got_message) = error_of(&response);
        assert_eq!(got_code, *code, "{line}: {response}");
        assert!(got_message.starts_with(message), "{line}: {got_message}");
        assert!(response["error"].get("data").is_none());
        if line.contains("\"id\":5") && *code != -32603 || line.contains("params") {
            assert_eq!(response["id"], json!(5), "{line}");
        }
    }
    call(&socket, "getStatus", "[]");
}

#[test]
fn binary_garbage_and_invalid_utf8_are_refused() {
    let home = Home::new();
    let _daemon = home.daemon(&[]);
    let garbage: Vec<u8> = (0..=255u8).filter(|b| *b != b'\n').chain([b'\n']).collect();
    let (code, _) =
        error_of(&serde_json::from_str(raw(&home.socket(), &garbage).trim_end()).unwrap());
    assert_eq!(code, -32603);
    let reply = raw(&home.socket(), b"{\"id\":1,\"method\":\"get\xffStatus\"}\n");
    let (code, message) = error_of(&serde_json::from_str(reply.trim_end()).unwrap());
    assert_eq!(
        (code, message.starts_with("Request is not valid UTF-8")),
        (-32603, true),
        "{message}"
    );
    call(&home.socket(), "getStatus", "[]");
}

#[test]
fn utf8_split_across_writes_is_decoded_whole() {
    let home = Home::new();
    let _daemon = home.daemon(&[]);
    let line = "{\"id\":\"caf\u{e9} \u{1F600}\",\"method\":\"getStatus\"}\n"
        .as_bytes()
        .to_vec();
    let split = line.iter().position(|&b| b == 0xF0).unwrap() + 2;
    let mut stream = UnixStream::connect(home.socket()).unwrap();
    stream.write_all(&line[..split]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    stream.write_all(&line[split..]).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let response: Value = serde_json::from_str(reply.trim_end()).unwrap();
    assert_eq!(response["id"], json!("caf\u{e9} \u{1F600}"));
}

#[test]
fn a_second_request_on_one_connection_is_refused_and_not_run() {
    let home = Home::new();
    let mut daemon = home.daemon(&[]);
    let reply = raw(
        &home.socket(),
        b"{\"id\":1,\"method\":\"shutdown\"}\n{\"id\":2,\"method\":\"getStatus\"}\n",
    );
    assert_eq!(
        reply,
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Only one request per connection is allowed\"}}\n"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the refused shutdown must not run"
    );
    call(&home.socket(), "getStatus", "[]");
}

#[test]
fn oversized_requests_get_an_error_and_the_connection_closes() {
    let home = Home::new();
    let _daemon = home.daemon(&["--max-request-bytes", "1024"]);
    let mut big = format!(
        "{{\"id\":1,\"method\":\"getStatus\",\"pad\":\"{}\"}}",
        "x".repeat(4096)
    )
    .into_bytes();
    big.push(b'\n');
    let reply = raw(&home.socket(), &big);
    let (code, message) = error_of(&serde_json::from_str(reply.trim_end()).unwrap());
    assert_eq!(
        (code, message.as_str()),
        (-32600, "Request exceeds the limit of 1024 bytes")
    );
    // No newline at all: refused as soon as the limit is passed, not when the client stops.
    let mut stream = UnixStream::connect(home.socket()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(&vec![b'x'; 2048]).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.contains("exceeds the limit"), "{reply}");
    call(&home.socket(), "getStatus", "[]");
}

#[test]
fn a_stalled_half_line_times_out_without_blocking_others() {
    let home = Home::new();
    let _daemon = home.daemon(&["--read-timeout", "1"]);
    let mut stalled = UnixStream::connect(home.socket()).unwrap();
    stalled.write_all(b"{\"id\":1,\"meth").unwrap();
    let started = Instant::now();
    for _ in 0..20 {
        call(&home.socket(), "getStatus", "[]");
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "others were held up by the stalled client"
    );
    let mut reply = String::new();
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stalled.read_to_string(&mut reply).unwrap();
    let (code, message) = error_of(&serde_json::from_str(reply.trim_end()).unwrap());
    assert_eq!(code, -32600);
    assert!(
        message.starts_with("No complete request line within 1"),
        "{message}"
    );
}

#[test]
fn clients_that_vanish_mid_request_leave_the_daemon_serving() {
    let home = Home::new();
    let _daemon = home.daemon(&[]);
    for partial in [
        &b""[..],
        b"{\"id\":1,",
        b"{\"id\":1,\"method\":\"getStatus\"}",
    ] {
        let mut stream = UnixStream::connect(home.socket()).unwrap();
        stream.write_all(partial).unwrap();
        drop(stream);
    }
    // Half-closing after an unterminated line gets an explanation rather than silence.
    let reply = raw(&home.socket(), b"{\"id\":1,\"method\":\"getStatus\"}");
    assert!(
        reply.contains("closed before the request line ended"),
        "{reply}"
    );
    assert_eq!(
        raw(&home.socket(), b""),
        "",
        "a bare probe connection gets no reply"
    );
    call(&home.socket(), "getStatus", "[]");
}

#[test]
fn execute_db_query_reads_and_never_writes() {
    let home = Home::new();
    let _daemon = home.daemon(&[]);
    let socket = home.socket();
    let rows = call(
        &socket,
        "executeDBQuery",
        r#"{"sql":"SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"}"#,
    );
    assert_eq!(
        rows,
        json!([{"name":"kv"},{"name":"kv_vatstore"},{"name":"meta"}])
    );
    let before = call(&socket, "executeDBQuery", r#"{"sql":"SELECT * FROM meta"}"#);
    for sql in [
        "DELETE FROM meta RETURNING *",
        "UPDATE meta SET value = '9' RETURNING *",
        "INSERT INTO kv VALUES ('x','y') RETURNING *",
        "PRAGMA user_version = 5",
        "PRAGMA journal_mode = DELETE",
        "ATTACH DATABASE '/etc/hostname' AS h",
        "DROP TABLE kv",
        "VACUUM",
        "SELECT 1; DELETE FROM meta",
    ] {
        let response = request(
            &socket,
            &json!({"id": 1, "method": "executeDBQuery", "params": {"sql": sql}}).to_string(),
        );
        assert_eq!(
            error_of(&response).0,
            -32603,
            "{sql} was not refused: {response}"
        );
    }
    assert_eq!(
        call(&socket, "executeDBQuery", r#"{"sql":"SELECT * FROM meta"}"#),
        before
    );
    assert_eq!(
        call(
            &socket,
            "executeDBQuery",
            r#"{"sql":"PRAGMA user_version"}"#
        ),
        json!([{"user_version":0}])
    );
}

#[test]
fn shutdown_answers_first_then_exits_zero() {
    let home = Home::new();
    let mut daemon = home.daemon(&[]);
    let response = request(
        &home.socket(),
        r#"{"id":"s","method":"shutdown","params":{"ignored":true}}"#,
    );
    assert_eq!(
        response,
        json!({"jsonrpc":"2.0","id":"s","result":{"status":"shutting down"}})
    );
    daemon.expect_notify("STOPPING=1", Duration::from_secs(5));
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(
        !home.socket().exists(),
        "a self-bound daemon removes its socket"
    );
    assert!(
        !home.path().join("kernel.sqlite-wal").exists()
            || std::fs::metadata(home.path().join("kernel.sqlite-wal"))
                .unwrap()
                .len()
                == 0,
        "the WAL is checkpointed on exit"
    );
}
