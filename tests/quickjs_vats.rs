//! Real JavaScript vats through the real daemon: the counter example (built by `build.rs` from
//! `examples/counter/counter.js` into the reference bundle format) runs in the built-in QuickJS
//! runtime with real SES and liveslots, launched and driven with `ocapctl`, across a restart.

mod common;

use common::Home;
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
    let config = json!({"bootstrap": "counter", "vats": {"counter": {
        "bundleSpec": "./counter.bundle", "parameters": {"name": "Counter"}}}});
    let path = home.path().join("cluster.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let output = home
        .command(common::OCAPCTL)
        .current_dir(home.path())
        .args(["launch", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let launched: Value = serde_json::from_slice(&output.stdout).unwrap();
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
