//! Real JavaScript vats through the real daemon: the counter example (built by `build.rs` from
//! `examples/counter/counter.js` into the reference bundle format) runs in the built-in QuickJS
//! runtime with real SES and liveslots, launched and driven with `ocapctl`, across a restart;
//! so does a plain ES-module vat source, loaded by the daemon or bundled by `ocapctl bundle`.

use crate::common::Home;
use serde_json::{Value, json};

struct Stop<'a>(&'a Home);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        let _ = self.0.ocapctl(&["stop"]);
    }
}

#[test]
fn counter_vat_in_quickjs_worked_example_spec_12() {
    let home = Home::new();
    let _stop = Stop(&home);
    std::fs::copy(
        concat!(env!("OUT_DIR"), "/counter.bundle"),
        home.path().join("counter.bundle"),
    )
    .unwrap();
    let launched = launch(
        &home,
        json!({"bootstrap": "counter", "vats": {"counter": {
            "bundleSpec": "./counter.bundle", "parameters": {"name": "Counter"}}}}),
    );
    assert_eq!(
        launched,
        json!({"subclusterId":"s1","rootKref":"ko4","bootstrapResult":{"body":"#\"Counter initialized with count: 1\"","slots":[]}})
    );
    let output = home.ocapctl(&["send", "ko4", "resume"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "\"Counter incremented to: 2\"\n"
    );
    assert_eq!(home.ocapctl(&["stop"]).status.code(), Some(0));
    // The daemon starts again on demand; the vat starts in a fresh QuickJS from kv_vatstore.
    let output = home.ocapctl(&["send", "ko4", "resume"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "\"Counter incremented to: 3\"\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Launches `config` (a cluster config) from `home` with `ocapctl launch`; returns the result.
fn launch(home: &Home, config: Value) -> Value {
    let path = home.path().join("cluster.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let output = home
        .command(crate::common::OCAPCTL)
        .current_dir(home.path())
        .args(["launch", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    serde_json::from_slice(&output.stdout).unwrap()
}

const ESM_VAT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/esm-vat.mjs");

fn send(home: &Home, args: &[&str]) -> String {
    let output = home.ocapctl(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn an_es_module_source_is_loaded_directly_by_the_daemon() {
    let home = Home::new();
    let _stop = Stop(&home);
    std::fs::copy(ESM_VAT, home.path().join("vat.mjs")).unwrap();
    let launched = launch(
        &home,
        json!({"bootstrap": "main", "vats": {"main": {
            "bundleSpec": "./vat.mjs", "parameters": {"name": "direct"}}}}),
    );
    assert_eq!(
        launched["bootstrapResult"],
        json!({"body": "#\"direct ready\"", "slots": []})
    );
    assert_eq!(send(&home, &["send", "ko4", "increment"]), "1\n");
    assert_eq!(send(&home, &["send", "ko4", "twice", "21"]), "42\n");
    assert_eq!(home.ocapctl(&["stop"]).status.code(), Some(0));
    assert_eq!(send(&home, &["send", "ko4", "increment"]), "2\n");
}

#[test]
fn an_es_module_source_bundled_by_ocapctl_runs() {
    let home = Home::new();
    let _stop = Stop(&home);
    let bundle = home.path().join("esm.bundle");
    let output = home
        .command(crate::common::OCAPCTL)
        .args(["bundle", ESM_VAT, "-o", bundle.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let written: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(written["moduleFormat"], "iife");
    assert_eq!(written["exports"], json!(["buildRootObject"]));
    let launched = launch(
        &home,
        json!({"bootstrap": "main", "vats": {"main": {"bundleSpec": "./esm.bundle"}}}),
    );
    assert_eq!(
        launched["bootstrapResult"],
        json!({"body": "#\"esm ready\"", "slots": []})
    );
    assert_eq!(
        send(&home, &["send", "ko4", "check"]),
        "[\"remotable\",\"function\",true,55]\n"
    );
    // A source the runtime cannot provide for fails at bundling, naming the line.
    let bad = home.path().join("bad.js");
    std::fs::write(
        &bad,
        "import fs from 'node:fs';\nexport function buildRootObject() {}\n",
    )
    .unwrap();
    let output = home.ocapctl(&["bundle", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "Error: {}:1: package 'node:fs' is not provided to vats",
            bad.display()
        )),
        "{stderr}"
    );
}

/// The timers test vat's config, with the timer endowments and a short delivery budget.
fn timers_config() -> Value {
    json!({"bootstrap": "timers", "vats": {"timers": {
        "bundleSpec": concat!("file://", env!("OUT_DIR"), "/test-vats/timers.bundle"),
        "globals": ["setTimeout", "clearTimeout", "setInterval", "clearInterval"],
        "creationOptions": {"deliveryTimeoutMs": 300}}}})
}

#[test]
fn timers_wake_their_vat_through_the_daemon_and_a_looping_handler_kills_only_it() {
    let home = Home::new();
    let _stop = Stop(&home);
    let launched = launch(&home, timers_config());
    assert_eq!(
        launched["bootstrapResult"],
        json!({"body": "#\"ready\"", "slots": []})
    );
    // The answer comes from a crank the alarm clock started, after the delivery ended.
    assert_eq!(
        send(&home, &["send", "ko4", "later", "30", "\"hi\""]),
        "\"hi after 30 ms\"\n"
    );
    assert_eq!(send(&home, &["send", "ko4", "ticks", "2", "5"]), "5\n");
    // A handler that never returns is stopped by the vat's budget, like a delivery.
    send(&home, &["send", "ko4", "spinLater", "1"]);
    let killed = (0..200).find_map(|_| {
        let output = home.ocapctl(&["send", "ko4", "woken"]);
        if output.status.code() == Some(0) {
            std::thread::sleep(std::time::Duration::from_millis(20));
            return None;
        }
        Some(String::from_utf8_lossy(&output.stderr).into_owned())
    });
    let stderr = killed.expect("the vat was killed by its looping handler");
    assert!(stderr.contains("OBJECT_DELETED"), "{stderr}");
    // The daemon goes on serving, and other vats run.
    let launched = launch(&home, timers_config());
    assert_eq!(launched["subclusterId"], "s2");
}

#[test]
fn a_vat_whose_timers_never_rest_holds_back_neither_messages_nor_other_vats_timers() {
    // Before: due timers always ran before the run queue (and the lowest vat id first), so a
    // busy setInterval delayed another vat's message by 82 s.
    let home = Home::new();
    let _daemon = home.daemon(&["--log-level", "error"]);
    let socket = home.socket();
    let mut config = timers_config();
    config["vats"]["timers"]["globals"]
        .as_array_mut()
        .unwrap()
        .push(json!("Date"));
    let launch = |config: &Value| {
        let launched = crate::common::call(
            &socket,
            "launchSubcluster",
            &json!({"config": config}).to_string(),
        );
        launched["rootKref"].as_str().unwrap().to_string()
    };
    let busy = launch(&config);
    let other = launch(&config);
    let send = |target: &str, method: &str, args: Value| {
        crate::common::call(
            &socket,
            "queueMessage",
            &json!([target, method, args]).to_string(),
        )
    };
    assert_eq!(send(&busy, "busy", json!([20]))["body"], "#\"busy\"");
    let started = std::time::Instant::now();
    assert_eq!(send(&other, "tally", json!([]))["body"], "#0", "a message");
    assert_eq!(
        send(&other, "later", json!([50, "x"]))["body"],
        "#\"x after 50 ms\"",
        "another vat's timer"
    );
    // Each took a few of the busy vat's 20 ms turns, not an unbounded wait.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn fetch_reaches_an_allowed_host_through_the_daemon() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        let reply = "HTTP/1.1 200 OK\r\nx-answer: 42\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello";
        stream.write_all(reply.as_bytes()).unwrap();
        String::from_utf8(head).unwrap()
    });
    let home = Home::new();
    let _stop = Stop(&home);
    launch(
        &home,
        json!({"bootstrap": "fetcher", "vats": {"fetcher": {
            "bundleSpec": concat!("file://", env!("OUT_DIR"), "/test-vats/fetcher.bundle"),
            "globals": ["fetch", "Request", "AbortController"],
            "network": {"allowedHosts": ["127.0.0.1"]}}}}),
    );
    let url = format!("\"http://127.0.0.1:{port}/x\"");
    assert_eq!(
        send(&home, &["send", "ko4", "get", &url]),
        format!("[200,true,\"42\",\"hello\",\"http://127.0.0.1:{port}/x\",false]\n")
    );
    assert!(server.join().unwrap().starts_with("GET /x HTTP/1.1\r\n"));
    assert_eq!(
        send(&home, &["send", "ko4", "refused", "\"http://localhost/\""]),
        "[\"Error\",\"Invalid host: localhost\",null]\n"
    );
}

#[test]
fn an_idle_timeout_waits_for_a_pending_timer() {
    let home = Home::new();
    let mut daemon = home.daemon(&["--idle-timeout", "0.5"]);
    let config = json!({"config": timers_config()});
    crate::common::call(&home.socket(), "launchSubcluster", &config.to_string());
    crate::common::call(
        &home.socket(),
        "queueMessage",
        r#"["ko4","tallyLater",[2500]]"#,
    );
    let set = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "idled out with a timer pending"
    );
    let exit = daemon.wait_exit(std::time::Duration::from_secs(20));
    assert_eq!(exit, Some(0), "idles out once the timer has fired");
    assert!(
        set.elapsed().as_millis() >= 2500,
        "not before: {:?}",
        set.elapsed()
    );
}

#[test]
fn promises_that_name_each_other_resolved_in_one_batch_settle_and_the_vat_lives() {
    // liveslots settles the promises it exported in one `resolve` syscall, each value naming
    // the other (`[["p+6", …{other: p+7}], ["p+7", …{other: p+6}]]`). Before, the kernel
    // retired p+6's entry before translating p+7's value, so p+6 came back as a new promise
    // that nobody would ever settle.
    let home = Home::new();
    let _daemon = home.daemon(&["--log-level", "error"]);
    let socket = home.socket();
    let bundle = format!(
        "file://{}/test-vats/promise-cycle-exports.bundle",
        env!("OUT_DIR")
    );
    let config = json!({"config": {"bootstrap": "boot", "vats": {
        "boot": {"bundleSpec": format!("file://{}/counter.bundle", env!("OUT_DIR"))},
        "cycle": {"bundleSpec": bundle}}}});
    let launched = crate::common::call(&socket, "launchSubcluster", &config.to_string());
    assert_eq!(launched["subclusterId"], "s1", "{launched}");
    let root = crate::common::call(
        &socket,
        "executeDBQuery",
        r#"{"sql":"SELECT value FROM kv WHERE key = 'v2.c.o+0'"}"#,
    )[0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let ask = |method: &'static str| {
        let (socket, root) = (socket.clone(), root.clone());
        std::thread::spawn(move || {
            crate::common::call(
                &socket,
                "queueMessage",
                &json!([root, method, []]).to_string(),
            )
        })
    };
    let (first, second) = (ask("first"), ask("second"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let tied = crate::common::call(
        &socket,
        "queueMessage",
        &json!([root, "tie", []]).to_string(),
    );
    assert_eq!(tied["body"], "#\"tied\"");
    let (first, second) = (first.join().unwrap(), second.join().unwrap());
    assert_eq!(first["body"], "#{\"other\":\"&0\"}", "{first}");
    assert_eq!(second["body"], "#{\"other\":\"&0\"}", "{second}");
    let hello = crate::common::call(
        &socket,
        "queueMessage",
        &json!([root, "hello", []]).to_string(),
    );
    assert_eq!(hello["body"], "#\"still here\"");
    let undecided = crate::common::call(
        &socket,
        "executeDBQuery",
        r#"{"sql":"SELECT key FROM kv WHERE key LIKE 'kp%.decider' AND value = 'v2'"}"#,
    );
    assert_eq!(undecided, json!([]), "no promise waits on v2 for good");
    assert_eq!(
        crate::common::call(&socket, "checkIntegrity", "[]"),
        json!({"integrity": ["ok"], "invariants": []})
    );
}
