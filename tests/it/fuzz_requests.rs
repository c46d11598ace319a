//! Fuzzing the request line parser and the dispatcher through the real daemon: random bytes,
//! JSON that is almost a request, and well-formed requests for every method with random params,
//! sometimes cut short or followed by more bytes. Every connection must get exactly one
//! well-formed JSON-RPC response (the request's `id` echoed whenever the request could be read),
//! the daemon must stay up, and the kernel state must stay consistent (`checkIntegrity`).
//!
//! Not sent: `shutdown` (it stops the daemon, as it should) and `backupDatabase` (it writes
//! where it is told; tested on its own). `PROPTEST_CASES` sets the number of cases (default 400).

use crate::common::{Home, call};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use std::path::Path;

const METHODS: &[&str] = &[
    "getStatus",
    "launchSubcluster",
    "queueMessage",
    "pingVat",
    "restartVat",
    "terminateVat",
    "terminateSubcluster",
    "terminateAllVats",
    "collectGarbage",
    "clearState",
    "revoke",
    "isRevoked",
    "executeDBQuery",
    "checkIntegrity",
    "daemonInfo",
    "issueOcapURL",
    "redeemOcapURL",
    "initRemoteComms",
    "registerLocationHints",
    "getstatus",
    "",
];

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "(v|s|ko|kp)[0-9]{0,2}".prop_map(Value::String),
        "SELECT [a-z*]{1,5} FROM (kv|kv_vatstore|meta|x)".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    let key = prop_oneof![
        prop::sample::select(
            &[
                "id",
                "kref",
                "sql",
                "config",
                "bootstrap",
                "vats",
                "bundleSpec"
            ][..]
        )
        .prop_map(str::to_string),
        any::<String>(),
    ];
    leaf.prop_recursive(4, 32, 5, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((key.clone(), inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A request object with a random id, method and params; sometimes without some of them.
fn request() -> impl Strategy<Value = Value> {
    (
        prop::option::of(json()),
        prop::option::of(prop_oneof![
            4 => prop::sample::select(METHODS).prop_map(|m| json!(m)),
            1 => json(),
        ]),
        prop::option::of(json()),
    )
        .prop_map(|(id, method, params)| {
            let mut request = json!({"jsonrpc": "2.0"});
            for (key, value) in [("id", id), ("method", method), ("params", params)] {
                if let Some(value) = value {
                    request[key] = value;
                }
            }
            request
        })
}

/// The bytes a client sends, and whether it ends them with a newline.
fn line() -> impl Strategy<Value = (Vec<u8>, bool)> {
    let text = prop_oneof![
        6 => request().prop_map(|r| r.to_string().into_bytes()),
        1 => vec(any::<u8>(), 0..64),
        1 => any::<String>().prop_map(String::into_bytes),
        1 => (request(), any::<prop::sample::Index>()).prop_map(|(r, cut)| {
            let bytes = r.to_string().into_bytes();
            bytes[..cut.index(bytes.len() + 1)].to_vec()
        }),
    ];
    let ending = prop_oneof![
        8 => Just(b"\n".to_vec()),
        1 => Just(Vec::new()),
        1 => vec(any::<u8>(), 1..8).prop_map(|mut extra| {
            extra.insert(0, b'\n');
            extra
        }),
    ];
    (text, ending).prop_map(|(text, ending)| {
        let body: Vec<u8> = text.into_iter().filter(|b| *b != b'\n').collect();
        let complete = ending.first() == Some(&b'\n');
        ([body, ending].concat(), complete)
    })
}

/// The id the daemon must echo: the request's own when it could be read as a JSON object.
fn expected_id(bytes: &[u8]) -> Option<Value> {
    let line = bytes.split(|b| *b == b'\n').next()?;
    if bytes.len() > line.len() + 1 {
        return Some(Value::Null); // more after the newline: refused before reading
    }
    let value: Value = serde_json::from_slice(line).ok()?;
    Some(value.get("id").cloned().unwrap_or(Value::Null))
}

fn check(socket: &Path, bytes: &[u8], complete: bool) -> Result<(), TestCaseError> {
    let reply = crate::common::raw(socket, bytes);
    if !complete && bytes.is_empty() {
        prop_assert_eq!(reply, "", "a probe gets nothing");
        return Ok(());
    }
    prop_assert!(reply.ends_with('\n'), "not one line: {:?}", reply);
    prop_assert_eq!(reply.matches('\n').count(), 1, "not one line: {:?}", reply);
    let response: Value = serde_json::from_str(reply.trim_end())
        .map_err(|e| TestCaseError::fail(format!("{e}: {reply:?}")))?;
    prop_assert_eq!(&response["jsonrpc"], "2.0");
    let has_result = response.get("result").is_some();
    let error = response.get("error");
    prop_assert!(has_result != error.is_some(), "{}", response);
    if let Some(error) = error {
        let code = error["code"].as_i64().unwrap_or(0);
        prop_assert!(
            [-32600, -32601, -32603].contains(&code),
            "unexpected code: {}",
            response
        );
        prop_assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    if complete && let Some(id) = expected_id(bytes) {
        prop_assert_eq!(&response["id"], &id, "id not echoed: {}", response);
    }
    Ok(())
}

#[test]
fn random_request_lines_each_get_one_well_formed_response() {
    let home = Home::new();
    let mut daemon = home.daemon(&["--log-level", "error", "--read-timeout", "5"]);
    let socket = home.socket();
    let cases = crate::common::env_number("PROPTEST_CASES", 400) as u32;
    let mut runner = TestRunner::new(Config::with_cases(cases));
    let outcome = runner.run(&line(), |(bytes, complete)| {
        check(&socket, &bytes, complete)
    });
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the daemon died"
    );
    if let Err(e) = outcome {
        panic!("{e}");
    }
    eprintln!("fuzz_requests: {cases} request lines");
    call(&socket, "getStatus", "[]");
    assert_eq!(
        call(&socket, "checkIntegrity", "[]"),
        json!({"integrity": ["ok"], "invariants": []})
    );
}
