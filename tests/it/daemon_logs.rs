//! The daemon's own log against a hostile client (issue 15 item 8): what a client sends reaches
//! it only as bounded, escaped fragments, repeated refusals are rate-limited, the detached
//! daemon's `daemon.log` is rotated at its cap (and `ocapctl logs` reads across the rotation),
//! and a log that is not a terminal carries no colour codes.

use crate::common::{Cleanup, Home, LogFollower, call, stdout, try_request};
use serde_json::json;
use std::time::{Duration, Instant};

/// A request line for `method(params)`.
fn line(method: &str, params: &serde_json::Value) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()
}

#[test]
fn a_flood_of_refused_requests_logs_little_forges_nothing_and_has_no_colour_codes() {
    let home = Home::new();
    let mut daemon = home.daemon(&[]);
    let socket = home.socket();
    let long = "x".repeat(200_000);
    let forged = "\n2026-01-01T00:00:00.000000Z  INFO ocap::daemon: forged";
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        // A method name, and an error that quotes the request (an invalid kref).
        let unknown = try_request(&socket, &line(&format!("{long}{forged}"), &json!([]))).unwrap();
        assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
        let quoted = line(
            "queueMessage",
            &json!([format!("ko1{forged}{long}"), "m", []]),
        );
        let quoted = try_request(&socket, &quoted).unwrap();
        assert_eq!(quoted["error"]["code"], -32603, "{quoted}");
        sent += 2;
    }
    let elapsed = started.elapsed();
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));
    let (bytes, kept) = daemon.stderr_bytes();
    let text = String::from_utf8_lossy(&kept);
    let failures = text.matches("request failed").count();
    eprintln!(
        "{sent} refused requests of 200 kB in {elapsed:.1?}: {bytes} bytes of log, \
         {failures} failure lines"
    );
    assert!(bytes < 64 * 1024, "{bytes} bytes of log");
    assert!(
        !kept.contains(&0x1b),
        "colour codes in a piped log:\n{text}"
    );
    for l in text.lines() {
        assert!(
            l.starts_with(|c: char| c.is_ascii_digit()) && !l.starts_with("2026-01-01"),
            "a line that is no event of the daemon's: {l:?}"
        );
    }
    assert!(text.contains("forged"), "the fragment shows: {text}");
    assert!(failures <= 10 * (elapsed.as_secs() as usize + 2), "{text}");
    assert!(
        text.contains("more failed request message(s)"),
        "the suppressed ones are counted: {text}"
    );
}

#[test]
fn what_a_vat_logs_cannot_pass_for_the_daemons_own_lines() {
    let home = Home::new();
    let mut daemon = home.daemon(&[]);
    let socket = home.socket();
    let (root, _) = crate::isolation::launch_misbehaving(&socket);
    let text =
        "hi\n2026-01-01T00:00:00.000000Z  INFO ocap::daemon: forged by a vat\u{1b}[31m\rover";
    let params = json!([root, "log", [text]]).to_string();
    call(&socket, "queueMessage", &params);
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));
    let (_, kept) = daemon.stderr_bytes();
    let text = String::from_utf8_lossy(&kept);
    assert!(text.contains("forged by a vat"), "{text}");
    assert!(!kept.contains(&0x1b) && !kept.contains(&b'\r'), "{text}");
    for l in text.lines() {
        assert!(!l.starts_with("2026-01-01"), "a forged line: {l:?}");
    }
}

#[test]
fn the_detached_daemons_log_is_rotated_at_its_cap_and_ocapctl_logs_reads_across() {
    let home = Home::new();
    let config = home.path().join("config/ocap");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("ocapd.toml"),
        "max-log-bytes = 4096\nlog-level = \"ocap=debug\"\n",
    )
    .unwrap();
    let _cleanup = Cleanup(&home);
    assert!(home.ocapctl(&["start"]).status.success());
    let log = home.path().join("daemon.log");
    let old = home.path().join("daemon.log.1");
    let follow = LogFollower::start(&home);
    // Each connection is a debug line: a few hundred of them rotate the log several times.
    let socket = home.socket();
    for round in 0..3 {
        for _ in 0..100 {
            try_request(&socket, &line("getStatus", &json!([]))).unwrap();
        }
        let marker = format!("marker-{round}");
        try_request(&socket, &line(&marker, &json!([]))).unwrap();
        follow.wait_for(&marker);
    }
    drop(follow);
    // (`ocapctl logs` asks the daemon how it runs, which is logged before it reads the files.)
    let shown = stdout(&home.ocapctl(&["logs"]));
    let current = std::fs::read_to_string(&log).unwrap();
    let previous = std::fs::read_to_string(&old).unwrap();
    for (name, text) in [("daemon.log", &current), ("daemon.log.1", &previous)] {
        assert!(text.len() <= 4096, "{name} is {} bytes", text.len());
    }
    assert!(
        !home.path().join("daemon.log.2").exists(),
        "one old file is kept"
    );
    assert_eq!(shown, format!("{previous}{current}"));
    let last = stdout(&home.ocapctl(&["logs", "-n", "2"]));
    assert_eq!(last.lines().count(), 2, "{last}");
    assert!(
        !shown.as_bytes().contains(&0x1b),
        "no colour codes in the file"
    );
}
