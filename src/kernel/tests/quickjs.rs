//! The kernel with real vats: the built-in QuickJS runtime running real SES and liveslots.

use super::Harness;
use crate::vat::quickjs::QuickJsFactory;
use serde_json::json;
use std::time::Duration;

pub(super) fn harness() -> Harness {
    Harness::with_factory(
        || Box::new(QuickJsFactory::default()),
        Duration::from_secs(2),
    )
}

fn counter() -> String {
    format!("file://{}/counter.bundle", env!("OUT_DIR"))
}

pub(super) fn test_vat(name: &str) -> String {
    format!("file://{}/test-vats/{name}.bundle", env!("OUT_DIR"))
}

#[test]
fn counter_vat_worked_example_spec_12_survives_a_restart() {
    let mut h = harness();
    let launched = h
        .launch("counter", &[("counter", &counter())], &[])
        .unwrap();
    assert_eq!(
        launched,
        json!({"subclusterId":"s1","rootKref":"ko4","bootstrapResult":{"body":"#\"Counter initialized with count: 1\"","slots":[]}})
    );
    assert_eq!(
        h.send("ko4", "resume", json!([])).unwrap(),
        json!({"body":"#\"Counter incremented to: 2\"","slots":[]})
    );
    h.restart();
    assert_eq!(
        h.send("ko4", "resume", json!([])).unwrap(),
        json!({"body":"#\"Counter incremented to: 3\"","slots":[]}),
        "the count came back from kv_vatstore"
    );
}

#[test]
fn a_vat_that_throws_in_build_root_object_fails_its_launch_cleanly() {
    let mut h = harness();
    let err = h
        .launch("bad", &[("bad", &test_vat("throws"))], &[])
        .unwrap_err();
    assert_eq!(err, "Failed to launch vat v1 (bad)");
    assert_eq!(
        h.kernel().state().live_vats().unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(h.keys("v1."), Vec::<String>::new());
    // The kernel goes on.
    h.launch("counter", &[("counter", &counter())], &[])
        .unwrap();
}

#[test]
fn an_infinite_loop_hits_the_budget_and_only_its_vat_dies() {
    let mut h = harness();
    h.launch(
        "counter",
        &[
            ("counter", &counter()),
            ("looper", &test_vat("misbehaving")),
        ],
        &[],
    )
    .unwrap();
    // Roots: counter ko4, looper ko5.
    let err = h.send("ko5", "spin", json!([])).unwrap_err();
    assert!(
        err.starts_with("[KERNEL:VAT_FATAL:DELIVERY_TIMEOUT]"),
        "{err}"
    );
    assert_eq!(
        h.kernel().state().live_vats().unwrap(),
        vec!["v1".to_string()]
    );
    assert_eq!(
        h.send("ko4", "resume", json!([])).unwrap(),
        json!({"body":"#\"Counter incremented to: 2\"","slots":[]})
    );
}

#[test]
fn each_vat_has_its_own_delivery_budget_from_creation_options() {
    let mut h = harness();
    let vat = |name: &str, timeout: u64| {
        let config = json!({"bundleSpec": test_vat("misbehaving"), "parameters": {"name": name},
            "globals": ["Date"], "creationOptions": {"deliveryTimeoutMs": timeout}});
        (name.to_string(), config)
    };
    let counter = ("counter".to_string(), json!({"bundleSpec": counter()}));
    h.launch_configs(
        "counter",
        vec![counter, vat("patient", 5000), vat("hasty", 100)],
        &[],
    )
    .unwrap();
    // Roots: counter ko4, patient ko5, hasty ko6.
    let err = h.send("ko6", "spin", json!([])).unwrap_err();
    assert_eq!(
        err,
        "[KERNEL:VAT_FATAL:DELIVERY_TIMEOUT] delivery exceeded its time budget of 100ms"
    );
    assert_eq!(
        h.send("ko5", "busy", json!([300])).unwrap(),
        json!({"body":"#true","slots":[]}),
        "300 ms of work fits a 5 s budget"
    );
    assert_eq!(
        h.kernel().state().live_vats().unwrap(),
        vec!["v1".to_string(), "v2".to_string()]
    );
}

#[test]
fn bad_creation_options_refuse_the_launch() {
    let mut h = harness();
    let config = json!({"bundleSpec": counter(), "creationOptions": {"memoryLimitMiB": 1}});
    let err = h
        .launch_configs("counter", vec![("counter".into(), config)], &[])
        .unwrap_err();
    assert_eq!(
        err,
        "vat \"counter\": creationOptions.memoryLimitMiB must be a whole number from 16 to 16384, not 1"
    );
    assert_eq!(
        h.kernel().state().live_vats().unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn a_launch_asking_for_fetch_without_allowed_hosts_is_refused() {
    let mut h = harness();
    let config = json!({"bundleSpec": counter(), "globals": ["TextEncoder", "fetch"]});
    let err = h
        .launch_configs("counter", vec![("counter".into(), config)], &[])
        .unwrap_err();
    assert_eq!(
        err,
        "vat \"counter\": requested \"fetch\" but no network.allowedHosts was specified"
    );
    assert_eq!(
        h.kernel().state().live_vats().unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn after_a_restart_vats_start_only_on_their_first_delivery() {
    let mut h = harness();
    h.launch(
        "counter",
        &[("counter", &counter()), ("other", &test_vat("misbehaving"))],
        &[],
    )
    .unwrap();
    h.restart();
    let running = |h: &mut Harness| h.kernel().warehouse.loaded();
    assert_eq!(running(&mut h), Vec::<String>::new(), "none at boot");
    h.send("ko4", "resume", json!([])).unwrap();
    assert_eq!(running(&mut h), ["v1"], "only the vat delivered to");
    assert_eq!(
        h.send("ko5", "hello", json!([])).unwrap(),
        json!({"body":"#\"hello other\"","slots":[]})
    );
    assert_eq!(running(&mut h), ["v1", "v2"]);
}

pub(super) fn example(name: &str) -> String {
    format!("file://{}/{name}.bundle", env!("OUT_DIR"))
}

#[test]
fn ping_pong_vat_to_vat_sends_and_pipelining() {
    let mut h = harness();
    let launched = h
        .launch(
            "ping",
            &[("ping", &example("ping")), ("pong", &example("pong"))],
            &[],
        )
        .unwrap();
    assert_eq!(launched["bootstrapResult"]["body"], "#\"ping-pong ready\"");
    assert_eq!(
        h.send("ko4", "rally", json!([5])).unwrap(),
        json!({"body":"#\"pong 5\"","slots":[]}),
        "five awaited round trips between the vats"
    );
    assert_eq!(
        h.send("ko4", "pipeline", json!([])).unwrap(),
        json!({"body":"#2","slots":[]}),
        "two messages sent to a counter before it existed"
    );
    assert_eq!(
        h.promise_rows(),
        Vec::<String>::new(),
        "nothing left behind"
    );
}
