//! OCAP URLs and capability records through the daemon's socket (spec §2.6, ocap extensions).

use crate::common::{Home, call, request};
use serde_json::{Value, json};
use std::time::Duration;

fn error_of(socket: &std::path::Path, method: &str, params: &Value) -> String {
    let line = json!({"id": 1, "method": method, "params": params}).to_string();
    let response = request(socket, &line);
    response["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} did not fail: {response}"))
        .to_string()
}

#[test]
fn urls_survive_a_restart_revoke_one_at_a_time_and_never_reach_the_log() {
    let home = Home::new();
    let socket = home.socket();
    let mut daemon = home.daemon(&["--log-level", "debug"]);
    let url = call(&socket, "issueOcapURL", r#"{"kref":"ko4"}"#);
    let url = url.as_str().unwrap().to_string();
    let status = call(&socket, "getStatus", "[]");
    let peer_id = status["remoteComms"]["peerId"].as_str().unwrap();
    assert!(
        url.starts_with("ocap:z") && url.ends_with(&format!("@{peer_id}")),
        "{url}"
    );
    let redeemed = call(&socket, "redeemOcapURL", &json!({"url": url}).to_string());
    assert_eq!(redeemed, "ko4");
    let labelled = call(
        &socket,
        "issueCapability",
        r#"{"kref":"ko4","label":"for a script","expiresIn":3600}"#,
    );
    let id = labelled["id"].as_str().unwrap();
    assert_eq!(labelled["label"], "for a script");
    assert!(labelled["expires"].as_u64().unwrap() > labelled["created"].as_u64().unwrap());
    call(&socket, "revokeCapability", &json!({"id": id}).to_string());
    let err = error_of(&socket, "redeemOcapURL", &json!({"url": labelled["url"]}));
    assert_eq!(err, format!("Capability {id} has been revoked"));
    let err = error_of(
        &socket,
        "redeemOcapURL",
        &json!({"url": url.replace("ocap:z", "ocap:z1")}),
    );
    assert_eq!(err, "ocapURL has bad object reference");
    let list = call(&socket, "listCapabilities", "[]");
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)), Some(0));
    let log = daemon.stderr();
    let _again = home.daemon(&[]);
    let redeemed = call(&socket, "redeemOcapURL", &json!({"url": url}).to_string());
    assert_eq!(redeemed, "ko4", "URLs and the identity persist");
    let oid = &url[5..url.find('@').unwrap()];
    assert!(
        log.contains("request failed"),
        "the failures were logged: {log}"
    );
    assert!(!log.contains(oid), "a token reached the log: {log}");
    assert!(!log.contains(&oid[..20]), "part of a token reached the log");
}

fn text(out: &std::process::Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn object_results_become_private_capability_files_that_send_can_use() {
    let home = Home::new();
    let _daemon = home.daemon(&[]);
    crate::common::launch_test_vat(&home, "url-holder");
    // Off a terminal, a lone reference is the text of a capability file.
    let (code, piped, err) = text(&home.ocapctl(&[
        "send",
        "ko4",
        "makeCounter",
        "--label",
        "for the test",
        "--expires",
        "1h",
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        piped.starts_with("#!/usr/bin/env -S ocapctl send\n"),
        "{piped}"
    );
    assert!(piped.contains("\nurl=ocap:z"), "{piped}");
    assert!(piped.contains(&format!("\nsocket={}\n", home.socket().display())));
    let file = home.path().join("counter.ocap");
    std::fs::write(&file, &piped).unwrap();
    let file = file.to_str().unwrap();
    assert_eq!(text(&home.ocapctl(&["send", file, "inc"])).1, "1\n");
    assert_eq!(text(&home.ocapctl(&["send", file, "inc"])).1, "2\n");
    // --out writes a new 0600 file and never replaces one.
    let out = home.path().join("second.ocap");
    let (code, stdout, err) =
        text(&home.ocapctl(&["send", "ko4", "makeCounter", "--out", out.to_str().unwrap()]));
    assert_eq!((code, stdout.as_str()), (Some(0), ""), "{err}");
    assert_eq!(mode(&out), 0o600);
    let again = home.ocapctl(&["send", "ko4", "makeCounter", "--out", out.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    // A shell redirection is made private too.
    let redirected = home.path().join("redirected.ocap");
    let target = std::fs::File::create(&redirected).unwrap();
    assert_ne!(mode(&redirected), 0o600, "the umask's mode, before ocapctl");
    let status = home
        .command(crate::common::OCAPCTL)
        .args(["send", "ko4", "makeCounter"])
        .stdout(target)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(mode(&redirected), 0o600);
    // exec keeps the reference's output; --out turns a lone reference into a file.
    let message = r#"["ko4","makeCounter",[]]"#;
    let (_, printed, _) = text(&home.ocapctl(&["exec", "queueMessage", message]));
    assert!(printed.contains("\"slots\":[\"ko"), "{printed}");
    let exec_out = home.path().join("exec.ocap");
    let exec_file = exec_out.to_str().unwrap();
    let (code, _, err) =
        text(&home.ocapctl(&["exec", "queueMessage", message, "--out", exec_file]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(text(&home.ocapctl(&["send", exec_file, "inc"])).1, "1\n");
    let none = home.path().join("none.ocap");
    let (code, _, err) =
        text(&home.ocapctl(&["exec", "getStatus", "--out", none.to_str().unwrap()]));
    assert_eq!(code, Some(1));
    assert!(err.contains("refers to no single object"), "{err}");
    assert!(!none.exists());
    // --raw and non-reference results print as before.
    let (_, raw, _) = text(&home.ocapctl(&["send", "ko4", "makeCounter", "--raw"]));
    assert!(raw.contains("\"slots\":[\"ko"), "{raw}");
    // Listing and revoking.
    let list: Value = serde_json::from_slice(&home.ocapctl(&["caps", "list"]).stdout).unwrap();
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "for the test")
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        mine["expires"].is_u64() && mine["lastUsed"].is_u64(),
        "{mine}"
    );
    let id = mine["id"].as_str().unwrap();
    let (code, _, err) = text(&home.ocapctl(&["caps", "revoke", id]));
    assert_eq!(
        (code, err.trim()),
        (Some(0), format!("Capability {id} revoked.").as_str())
    );
    let (code, _, err) = text(&home.ocapctl(&["send", file, "inc"]));
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim(),
        format!("Error: Capability {id} has been revoked (code -32603)")
    );
    let (code, _, _) = text(&home.ocapctl(&["send", out.to_str().unwrap(), "inc"]));
    assert_eq!(code, Some(0), "the other counter's capability still works");
    // `caps issue`, and a capability's results are capabilities on the same socket.
    let root = home.path().join("root.ocap");
    let issued = home.ocapctl(&["caps", "issue", "ko4", "--out", root.to_str().unwrap()]);
    assert!(issued.status.success());
    let (code, made, err) = text(&home.ocapctl(&["send", root.to_str().unwrap(), "makeCounter"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        made.contains("url=ocap:z") && made.contains("socket="),
        "{made}"
    );
    let child = home.path().join("child.ocap");
    std::fs::write(&child, made).unwrap();
    let (_, inc, _) = text(&home.ocapctl(&["send", child.to_str().unwrap(), "inc"]));
    assert_eq!(inc, "1\n");
}

#[test]
fn long_oids_are_refused_at_once_and_never_hold_the_kernel() {
    // Before: base58 decoding (quadratic) ran on the kernel thread before any check: a 120 KB
    // oid stalled every vat and caller for 3 s, 400 KB for 35 s.
    let home = Home::new();
    let _daemon = home.daemon(&["--log-level", "error", "--max-request-bytes", "1048576"]);
    let socket = home.socket();
    let counter = format!("file://{}/counter.bundle", env!("OUT_DIR"));
    let config = json!({"config": {"bootstrap": "c", "vats": {"c": {"bundleSpec": counter}}}});
    call(&socket, "launchSubcluster", &config.to_string());
    let peer = call(&socket, "getStatus", "[]")["remoteComms"]["peerId"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("ocap:z{}@{peer}", "2".repeat(400_000));
    let started = std::time::Instant::now();
    let hostile: Vec<_> = (0..4)
        .map(|_| {
            let (socket, url) = (socket.clone(), url.clone());
            std::thread::spawn(move || {
                let params = json!({"url": url, "method": "resume"}).to_string();
                request(&socket, &format!(
                    r#"{{"jsonrpc":"2.0","id":1,"method":"invokeCapability","params":{params}}}"#
                ))
            })
        })
        .collect();
    let resumed = call(&socket, "queueMessage", r#"["ko4","resume",[]]"#);
    assert_eq!(resumed["body"], "#\"Counter incremented to: 2\"");
    for refused in hostile {
        let response = refused.join().unwrap();
        assert_eq!(
            response["error"]["message"], "ocapURL has bad object reference",
            "{response}"
        );
    }
    // Each took one check of a length, not seconds of decoding on the kernel thread.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
