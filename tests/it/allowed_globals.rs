//! `--allowed-global-names` / `allowed-global-names`: the reference kernel's `allowedGlobalNames`
//! as a daemon setting. A vat asking for a global outside it fails to start, with the
//! reference's words in the log and its launch error for the caller.

use crate::common::{Home, request};
use serde_json::{Value, json};
use std::time::Duration;

const COUNTER: &str = concat!("file://", env!("OUT_DIR"), "/counter.bundle");

fn launch(home: &Home, globals: &[&str]) -> Value {
    let params = json!({"config": {"bootstrap": "main", "vats": {"main": {
        "bundleSpec": COUNTER, "parameters": {"name": "C"}, "globals": globals}}}});
    request(
        &home.socket(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "launchSubcluster", "params": params})
            .to_string(),
    )
}

#[test]
fn a_vat_asking_for_a_global_outside_the_flags_list_fails_with_the_references_words() {
    let home = Home::new();
    let mut daemon = home.daemon(&["--allowed-global-names", "Date,TextEncoder"]);
    let refused = launch(&home, &["Date", "Math"]);
    assert_eq!(
        refused["error"]["message"],
        "Failed to launch vat v1 (main)"
    );
    // Nothing of the failed launch is left; allowed globals launch.
    let launched = launch(&home, &["Date", "TextEncoder"]);
    assert_eq!(launched["result"]["subclusterId"], "s1", "{launched}");
    assert_eq!(launch(&home, &[])["result"]["subclusterId"], "s2");
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)), Some(0));
    let log = daemon.stderr();
    assert!(
        log.contains(r#"launch failed: Vat "v1" requested unknown global "Math""#),
        "{log}"
    );
}

#[test]
fn the_config_file_key_restricts_globals_and_check_config_shows_it() {
    let home = Home::new();
    let config = home.path().join("config/ocap/ocapd.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "allowed-global-names = []\n").unwrap();
    let checked = home
        .command(crate::common::OCAPD)
        .arg("--check-config")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&checked.stdout);
    assert!(
        text.contains("allowed-global-names = []  # config file"),
        "{text}"
    );
    let mut daemon = home.daemon(&[]);
    assert_eq!(
        launch(&home, &["Date"])["error"]["message"],
        "Failed to launch vat v1 (main)"
    );
    assert_eq!(launch(&home, &[])["result"]["subclusterId"], "s1");
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)), Some(0));
    // A name that is not one of the reference's stops the start.
    std::fs::write(&config, "allowed-global-names = [\"process\"]\n").unwrap();
    let checked = home
        .command(crate::common::OCAPD)
        .arg("--check-config")
        .output()
        .unwrap();
    assert_eq!(checked.status.code(), Some(78));
    let err = String::from_utf8_lossy(&checked.stderr);
    assert!(
        err.contains("allowed-global-names: unknown global \"process\""),
        "{err}"
    );
}
