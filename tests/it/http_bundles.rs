//! `http://` and `https://` bundleSpec URLs, as the reference loads them (dev servers serve vats
//! this way), against a server on 127.0.0.1 that the test runs: the code is fetched at each
//! start (launch, restart), other statuses fail with the reference's words, and the daemon goes
//! on.

use crate::common::{Home, request};
use crate::reference_vats::{body, bundles};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server answers for each path: a status and a body.
type Files = Arc<Mutex<HashMap<String, (u16, Vec<u8>)>>>;

/// An HTTP server on 127.0.0.1 answering `GET path` from a table the test changes as it goes;
/// it records each request's head. Stops when dropped.
struct DevServer {
    base: String,
    files: Files,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl DevServer {
    fn start() -> DevServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let files: Files = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (table, seen, done) = (files.clone(), requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                seen.lock().unwrap().push(head);
                let (status, content) = table
                    .lock()
                    .unwrap()
                    .get(&path)
                    .cloned()
                    .unwrap_or((404, b"not found".to_vec()));
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        content.len()
                    )
                    .as_bytes(),
                );
                let _ = stream.write_all(&content);
            }
        });
        DevServer {
            base,
            files,
            requests,
            stop,
        }
    }

    fn serve(&self, path: &str, status: u16, content: Vec<u8>) {
        self.files
            .lock()
            .unwrap()
            .insert(path.into(), (status, content));
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn rpc(home: &Home, method: &str, params: Value) -> Value {
    request(
        &home.socket(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string(),
    )
}

fn launch(home: &Home, url: &str) -> Value {
    rpc(
        home,
        "launchSubcluster",
        json!({"config": {"bootstrap": "main", "vats": {"main": {
            "bundleSpec": url, "parameters": {"name": "Counter"}}}}}),
    )
}

#[test]
fn a_vat_served_over_http_launches_restarts_from_a_fresh_fetch_and_fails_clearly() {
    let server = DevServer::start();
    let counter = std::fs::read(concat!(env!("OUT_DIR"), "/counter.bundle")).unwrap();
    server.serve("/counter.bundle", 200, counter);
    let exo = std::fs::read(bundles().join("exo-vat.bundle")).unwrap();
    server.serve("/exo.bundle", 200, exo);
    let home = Home::new();
    let mut daemon = home.daemon(&[]);

    let launched = launch(&home, &server.url("/counter.bundle"));
    assert_eq!(
        body(&launched["result"]["bootstrapResult"]),
        json!("Counter initialized with count: 1"),
        "{launched}"
    );
    let head = server.requests()[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get /counter.bundle http/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\ncache-control: no-cache\r\n"), "{head}");
    assert!(head.contains("\r\npragma: no-cache\r\n"), "{head}");

    // A reference-built bundle from a dev server.
    let launched = launch(&home, &server.url("/exo.bundle"));
    assert_eq!(
        body(&launched["result"]["bootstrapResult"]),
        json!("Counter ready"),
        "{launched}"
    );

    // A restart fetches the code again: gone from the server, the restart fails and the vat
    // keeps running as it was.
    server.serve("/counter.bundle", 404, Vec::new());
    let restarted = rpc(&home, "restartVat", json!({"id": "v1"}));
    assert!(restarted.get("error").is_some(), "{restarted}");
    let count = rpc(&home, "queueMessage", json!(["ko4", "resume", []]));
    assert_eq!(
        body(&count["result"]),
        json!("Counter incremented to: 2"),
        "{count}"
    );
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|h| h.starts_with("GET /counter.bundle"))
            .count(),
        2
    );

    // Other statuses fail the launch; the daemon serves on.
    let missing = server.url("/missing.bundle");
    let refused = launch(&home, &missing);
    assert_eq!(
        refused["error"]["message"],
        "Failed to launch vat v3 (main)"
    );
    server.serve("/broken.bundle", 500, b"oops".to_vec());
    let refused = launch(&home, &server.url("/broken.bundle"));
    assert!(refused.get("error").is_some(), "{refused}");
    server.serve("/not-a-bundle", 200, b"<html>".to_vec());
    let refused = launch(&home, &server.url("/not-a-bundle"));
    assert!(refused.get("error").is_some(), "{refused}");
    assert!(rpc(&home, "getStatus", json!([])).get("result").is_some());

    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)), Some(0));
    let log = daemon.stderr();
    for expected in [
        format!("fetch of user code {missing} failed: 404"),
        format!(
            "fetch of user code {} failed: 500",
            server.url("/broken.bundle")
        ),
        format!("bundle {}: not JSON", server.url("/not-a-bundle")),
    ] {
        assert!(log.contains(&expected), "{expected:?} not in:\n{log}");
    }
}
