//! Real QuickJS vats losing their heap (a daemon restart, `restartVat`): their ephemeral exports
//! are abandoned and the promises they decided are rejected, instead of a message to a lost
//! object killing the vat and the promises hanging forever (the reference's spec §14.11).

use super::Harness;
use super::quickjs::{example, harness, test_vat};
use crate::capdata::{CapData, Passable, encode, error_message};
use crate::kernel::Call;
use crate::kernel::Reply;
use crate::kernel::awaiting::reply_on_settlement;
use crate::kernel::state::PromiseState;
use crate::kernel::waiters::Settlement;
use serde_json::json;
use std::sync::{Arc, Mutex};

const DELETED: &str =
    "[KERNEL:OBJECT_DELETED] Target object has no owner; it may have been deleted";

/// The rejection of a promise decided by `vat` when it restarted.
fn restarted(vat: &str) -> String {
    format!("[KERNEL:VAT_RESTARTED] Vat {vat} restarted before settling this promise")
}

/// Launches `alice` (a test vat), `ping` and `pong`: roots ko4 (v1), ko5 (v2), ko6 (v3).
fn three_vats() -> Harness {
    let mut h = harness();
    h.launch(
        "ping",
        &[
            ("alice", &test_vat("misbehaving")),
            ("ping", &example("ping")),
            ("pong", &example("pong")),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        h.send("ko4", "hello", json!([])).unwrap(),
        json!({"body":"#\"hello alice\"","slots":[]})
    );
    h
}

/// A new counter from pong, incremented once; its kref.
fn new_counter(h: &mut Harness) -> String {
    let made = h.send("ko6", "makeCounter", json!([])).unwrap();
    let counter = made["slots"][0].as_str().unwrap().to_string();
    assert_eq!(
        h.send(&counter, "increment", json!([])).unwrap(),
        json!({"body":"#1","slots":[]})
    );
    counter
}

/// Queues `method(args)` to `target` from the kernel without running it: the result's kpid
/// and where its settlement will land.
fn queue(
    h: &mut Harness,
    target: &str,
    method: &str,
    args: Vec<Passable>,
) -> (String, Arc<Mutex<Option<Settlement>>>) {
    let slot = Arc::new(Mutex::new(None));
    let landed = Arc::clone(&slot);
    let methargs = encode(&Passable::Array(vec![
        Passable::String(method.into()),
        Passable::Array(args),
    ]));
    let waiter = reply_on_settlement(Reply::code(|_| {}), move |_, s| {
        *landed.lock().unwrap() = Some(s);
        Ok(serde_json::Value::Null)
    });
    let kernel = h.kernel();
    let kpid = kernel.send_held(target.into(), methargs).unwrap();
    kernel.wait_held(&kpid, waiter);
    h.kernel().commit().unwrap();
    (kpid, slot)
}

fn presence(kref: &str) -> Passable {
    Passable::Remotable {
        slot: kref.into(),
        iface: None,
    }
}

fn rejection(reason: &CapData) -> String {
    error_message(reason).unwrap_or_else(|| reason.body.clone())
}

/// Every vat still live, the store consistent.
fn all_well(h: &mut Harness) {
    assert_eq!(h.kernel().state().live_vats().unwrap(), ["v1", "v2", "v3"]);
    h.assert_invariants();
}

#[test]
fn after_a_daemon_restart_a_lost_counter_is_deleted_not_fatal_spec_14_11() {
    let mut h = three_vats();
    let counter = new_counter(&mut h);
    h.restart();
    assert_eq!(
        h.send(&counter, "increment", json!([])).unwrap_err(),
        DELETED,
        "the counter died with pong's heap"
    );
    all_well(&mut h);
    let fresh = new_counter(&mut h);
    assert_ne!(fresh, counter);
    assert_eq!(
        h.send("ko5", "pipeline", json!([])).unwrap(),
        json!({"body":"#2","slots":[]}),
        "ping still reaches pong's root"
    );
    all_well(&mut h);
}

#[test]
fn after_restart_vat_a_counter_another_vat_holds_is_deleted_but_still_counted() {
    let mut h = three_vats();
    let counter = new_counter(&mut h);
    queue(&mut h, "ko4", "hold", vec![presence(&counter)]);
    h.run();
    assert_eq!(h.call(Call::RestartVat("v3".into())), Ok(json!(null)));
    assert_eq!(
        h.send(&counter, "increment", json!([])).unwrap_err(),
        DELETED
    );
    assert_eq!(h.kv(&format!("{counter}.owner")), None, "abandoned");
    assert_eq!(
        h.kv(&format!("{counter}.refCount")).as_deref(),
        Some("1,1"),
        "alice's reference stays valid"
    );
    all_well(&mut h);
    new_counter(&mut h);
    all_well(&mut h);
}

#[test]
fn restart_vat_rejects_the_promises_the_vat_decided() {
    let mut h = three_vats();
    // alice decides the result of callOther while she waits for pong's answer.
    let (kpid, answer) = queue(&mut h, "ko4", "callOther", vec![presence("ko6")]);
    assert!(h.kernel().crank().unwrap());
    h.kernel().commit().unwrap();
    assert_eq!(h.kv(&format!("{kpid}.decider")).as_deref(), Some("v1"));
    assert_eq!(h.call(Call::RestartVat("v1".into())), Ok(json!(null)));
    let settled = answer.lock().unwrap().take().expect("settled");
    assert_eq!(rejection(&settled.unwrap_err()), restarted("v1"));
    // Pong's answer then reached the new alice, who no longer knew the promise: she lives on.
    assert_eq!(
        h.send("ko4", "hello", json!([])).unwrap(),
        json!({"body":"#\"hello alice\"","slots":[]})
    );
    all_well(&mut h);
    assert_eq!(h.promise_rows(), Vec::<String>::new());
}

#[test]
fn a_daemon_restart_rejects_the_promises_a_vat_decided_before_anything_runs() {
    let mut h = three_vats();
    let (kpid, _) = queue(&mut h, "ko4", "callOther", vec![presence("ko6")]);
    assert!(h.kernel().crank().unwrap());
    // A message pipelined on alice's answer keeps the promise alive across the restart.
    queue(&mut h, &kpid, "then", vec![]);
    assert!(h.kernel().crank().unwrap());
    h.kernel().commit().unwrap();
    assert_eq!(
        h.kernel().state().promise_state(&kpid).unwrap(),
        Some(PromiseState::Unresolved)
    );
    h.restart();
    match h.kernel().state().promise_state(&kpid).unwrap() {
        Some(PromiseState::Rejected(reason)) => assert_eq!(rejection(&reason), restarted("v1")),
        other => panic!("{kpid} at boot: {other:?}"),
    }
    h.run();
    assert_eq!(
        h.promise_rows(),
        Vec::<String>::new(),
        "all settled and freed"
    );
    assert_eq!(
        h.send("ko4", "hello", json!([])).unwrap(),
        json!({"body":"#\"hello alice\"","slots":[]})
    );
    all_well(&mut h);
}
