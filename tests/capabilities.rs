//! OCAP URLs and capability records through the daemon's socket (spec §2.6, ocap extensions).

mod common;

use common::{Home, call, request};
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
