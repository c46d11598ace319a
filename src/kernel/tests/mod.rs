//! Kernel behaviour with scripted vats, checked against the spec's ids, texts and store layout.
//! Each test names the spec section it checks.

mod capabilities;
#[cfg(feature = "remote")]
mod federation;
mod gc_random;
mod heap_loss;
mod io;
mod quickjs;
mod scripted;
mod store_failure;
mod syscall_fuzz;

use super::Reply;
use super::{Call, Kernel, KernelOptions, LaunchPlan};
use crate::kernel::store::{Store, open};
use crate::vat::VatFactory;
use scripted::ScriptedFactory;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

struct Harness {
    kernel: Option<Kernel>,
    factory: fn() -> Box<dyn VatFactory>,
    options: KernelOptions,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Harness {
    fn new() -> Harness {
        let budget = KernelOptions::default().delivery_budget;
        Harness::with_factory(|| Box::new(ScriptedFactory), budget)
    }

    /// A kernel with scripted vats and the given options.
    fn with_options(options: KernelOptions) -> Harness {
        Harness::with(options, || Box::new(ScriptedFactory))
    }

    /// A kernel whose vats `factory` makes, with a delivery budget.
    fn with_factory(factory: fn() -> Box<dyn VatFactory>, budget: std::time::Duration) -> Harness {
        let options = KernelOptions {
            reap_interval: 1_000,
            delivery_budget: budget,
        };
        Harness::with(options, factory)
    }

    /// A kernel whose vats `factory` makes, with the given options.
    fn with(options: KernelOptions, factory: fn() -> Box<dyn VatFactory>) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kernel.sqlite");
        let kernel = Some(boot(&path, factory(), options));
        Harness {
            kernel,
            factory,
            options,
            _dir: dir,
            path,
        }
    }

    fn kernel(&mut self) -> &mut Kernel {
        self.kernel.as_mut().unwrap()
    }

    /// Stops the kernel and starts a new one over the same database (a daemon restart).
    fn restart(&mut self) {
        let kernel = self.kernel.take().unwrap();
        drop(kernel.into_store());
        self.kernel = Some(boot(&self.path, (self.factory)(), self.options));
    }

    fn run(&mut self) {
        while self.kernel().crank().unwrap() {}
        self.kernel().commit().unwrap();
    }

    fn call(&mut self, call: Call) -> Result<Value, String> {
        let slot = Arc::new(Mutex::new(None));
        let answer = Arc::clone(&slot);
        self.kernel().call(
            call,
            Reply::code(move |a| *answer.lock().unwrap() = Some(a.map_err(|e| e.to_string()))),
        );
        self.run();
        let answer = slot.lock().unwrap().take();
        answer.expect("the call was not answered")
    }

    fn launch(
        &mut self,
        bootstrap: &str,
        vats: &[(&str, &str)],
        services: &[&str],
    ) -> Result<Value, String> {
        let vats: Vec<(String, Value)> = vats
            .iter()
            .map(|(name, spec)| {
                (
                    name.to_string(),
                    json!({"bundleSpec": spec, "parameters": {"name": name}}),
                )
            })
            .collect();
        self.launch_configs(bootstrap, vats, services)
    }

    /// Launches vats given by their whole `VatConfig`s.
    fn launch_configs(
        &mut self,
        bootstrap: &str,
        vats: Vec<(String, Value)>,
        services: &[&str],
    ) -> Result<Value, String> {
        let raw = json!({"bootstrap": bootstrap, "vats": vats.iter().cloned().collect::<serde_json::Map<_, _>>()});
        let services = services.iter().map(|s| s.to_string()).collect();
        self.call(Call::Launch(LaunchPlan {
            raw,
            bootstrap: bootstrap.into(),
            vats,
            services,
            io: Vec::new(),
        }))
    }

    fn send(&mut self, target: &str, method: &str, args: Value) -> Result<Value, String> {
        let args = args.as_array().cloned().unwrap_or_default();
        self.call(Call::QueueMessage {
            target: target.into(),
            method: method.into(),
            args,
        })
    }

    fn kv(&mut self, key: &str) -> Option<String> {
        self.kernel().state().store().get(key).unwrap()
    }

    fn keys(&mut self, prefix: &str) -> Vec<String> {
        self.kernel()
            .state()
            .store()
            .scan(prefix)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// The store keeps every kernel invariant.
    fn assert_invariants(&mut self) {
        let problems = crate::kernel::invariants::check(self.kernel().state().store());
        assert_eq!(problems, Vec::<String>::new());
    }

    /// Every `kp*` key: a promise nobody refers to must leave none.
    fn promise_rows(&mut self) -> Vec<String> {
        let mut rows = self.keys("kp");
        rows.extend(self.keys("queue.kp"));
        rows
    }
}

fn boot(path: &std::path::Path, factory: Box<dyn VatFactory>, options: KernelOptions) -> Kernel {
    Kernel::new(Store::new(open(path).unwrap()), factory, options).unwrap()
}

fn body(result: &Value) -> &str {
    result["body"].as_str().unwrap()
}

#[test]
fn worked_example_spec_12_ids_results_and_store() {
    let mut h = Harness::new();
    let launched = h
        .launch("counter", &[("counter", "file:///counter.bundle")], &[])
        .unwrap();
    assert_eq!(
        launched,
        json!({"subclusterId":"s1","rootKref":"ko4","bootstrapResult":{"body":"#\"Counter initialized with count: 1\"","slots":[]}})
    );
    assert_eq!(h.kv("v1.c.o+0").as_deref(), Some("ko4"));
    assert_eq!(h.kv("v1.c.ko4").as_deref(), Some("R o+0"));
    assert_eq!(h.kv("ko4.owner").as_deref(), Some("v1"));
    let resumed = h.send("ko4", "resume", json!([])).unwrap();
    assert_eq!(
        resumed,
        json!({"body":"#\"Counter incremented to: 2\"","slots":[]})
    );
    let status = h.kernel().status().unwrap();
    let status = serde_json::to_value(&status).unwrap();
    assert_eq!(status["vats"][0]["id"], "v1");
    assert_eq!(status["vats"][0]["subclusterId"], "s1");
    assert_eq!(status["subclusters"][0]["vats"], json!({"counter":"v1"}));
}

#[test]
fn state_survives_a_restart_spec_9_1() {
    let mut h = Harness::new();
    h.launch("counter", &[("counter", "file:///counter.bundle")], &[])
        .unwrap();
    h.send("ko4", "resume", json!([])).unwrap();
    h.restart();
    assert_eq!(
        body(&h.send("ko4", "resume", json!([])).unwrap()),
        "#\"Counter incremented to: 3\""
    );
    let second = h
        .launch("counter", &[("counter", "file:///counter.bundle")], &[])
        .unwrap();
    assert_eq!(
        (second["subclusterId"].as_str(), second["rootKref"].as_str()),
        (Some("s2"), Some("ko5")),
        "ids continue"
    );
}

#[test]
fn queue_message_leaves_no_promise_rows_spec_14_3() {
    let mut h = Harness::new();
    h.launch("counter", &[("counter", "file:///counter.bundle")], &[])
        .unwrap();
    for _ in 0..5 {
        h.send("ko4", "resume", json!([])).unwrap();
    }
    assert_eq!(h.promise_rows(), Vec::<String>::new());
    assert_eq!(
        h.keys("v1.c.p"),
        Vec::<String>::new(),
        "resolved promises are retired from c-lists"
    );
}

#[test]
fn routing_errors_have_the_reference_texts_spec_2_4() {
    let mut h = Harness::new();
    h.launch("counter", &[("counter", "file:///c.bundle")], &[])
        .unwrap();
    assert_eq!(
        h.send("ko99", "resume", json!([])).unwrap_err(),
        "[KERNEL:OBJECT_DELETED] Target object has no owner; it may have been deleted"
    );
    h.call(Call::Revoke("ko4".into())).unwrap();
    assert_eq!(h.call(Call::IsRevoked("ko4".into())).unwrap(), json!(true));
    assert_eq!(
        h.send("ko4", "resume", json!([])).unwrap_err(),
        "[KERNEL:OBJECT_REVOKED] Target object has been revoked"
    );
    assert_eq!(
        h.call(Call::Revoke("kp1".into())).unwrap_err(),
        "cannot revoke promise kp1"
    );
    // Not yet allocated: refused, or the object that later gets the kref would start revoked.
    assert_eq!(
        h.call(Call::Revoke("ko99".into())).unwrap_err(),
        "Object ko99 does not exist."
    );
    assert_eq!(
        h.call(Call::IsRevoked("ko99".into())).unwrap(),
        json!(false)
    );
    h.assert_invariants();
    assert_eq!(
        h.promise_rows(),
        Vec::<String>::new(),
        "splats leave nothing behind either"
    );
}

#[test]
fn vat_errors_reject_the_result_and_keep_the_vat() {
    let mut h = Harness::new();
    h.launch("counter", &[("counter", "file:///c.bundle")], &[])
        .unwrap();
    assert_eq!(h.send("ko4", "fail", json!([])).unwrap_err(), "boom");
    assert_eq!(
        h.send("ko4", "nope", json!([])).unwrap_err(),
        "target has no method \"nope\""
    );
    assert_eq!(
        body(
            &h.send("ko4", "echo", json!(["$x", {"b": 1, "a": [2]}]))
                .unwrap()
        ),
        "#\"!$x\""
    );
}

#[test]
fn illegal_syscalls_terminate_the_vat_and_are_not_masked_spec_14_6() {
    let mut h = Harness::new();
    h.launch("counter", &[("counter", "file:///c.bundle")], &[])
        .unwrap();
    let err = h.send("ko4", "illegal", json!([])).unwrap_err();
    assert_eq!(
        err,
        "[KERNEL:VAT_FATAL:ILLEGAL_SYSCALL] Syscall translation error: prepare to die"
    );
    assert_eq!(h.kv("vatConfig.v1"), None, "the vat is terminated");
    assert_eq!(h.keys("kv_vatstore"), Vec::<String>::new());
    assert!(
        h.kernel()
            .state()
            .store()
            .vatstore("v1")
            .unwrap()
            .is_empty(),
        "its vatstore is deleted"
    );
    assert_eq!(
        h.send("ko4", "resume", json!([])).unwrap_err(),
        "[KERNEL:OBJECT_DELETED] Target object has no owner; it may have been deleted"
    );
    assert_eq!(
        h.kernel().state().subclusters().unwrap(),
        vec![],
        "the empty subcluster is gone"
    );
}

#[test]
fn delivery_errors_and_timeouts_terminate_with_vat_fatal() {
    let mut h = Harness::new();
    h.launch(
        "a",
        &[("a", "file:///a.bundle"), ("b", "file:///b.bundle")],
        &[],
    )
    .unwrap();
    let err = h.send("ko4", "explode", json!([])).unwrap_err();
    assert_eq!(err, "[KERNEL:VAT_FATAL:INTERNAL_ERROR] dispatch threw");
    let err = h.send("ko5", "spin", json!([])).unwrap_err();
    assert!(
        err.starts_with("[KERNEL:VAT_FATAL:DELIVERY_TIMEOUT]"),
        "{err}"
    );
    assert_eq!(
        h.kernel().state().live_vats().unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn promises_decided_by_a_terminated_vat_are_rejected_spec_14_1() {
    let mut h = Harness::new();
    h.launch("a", &[("a", "file:///a.bundle")], &[]).unwrap();
    let slot = Arc::new(Mutex::new(None));
    let answer = Arc::clone(&slot);
    let call = Call::QueueMessage {
        target: "ko4".into(),
        method: "hang".into(),
        args: vec![],
    };
    h.kernel().call(
        call,
        Reply::code(move |a| *answer.lock().unwrap() = Some(a.map_err(|e| e.to_string()))),
    );
    h.run();
    assert!(slot.lock().unwrap().is_none(), "hangs until the vat goes");
    h.call(Call::TerminateVat("v1".into())).unwrap();
    assert_eq!(
        slot.lock().unwrap().take().unwrap().unwrap_err(),
        "[KERNEL:VAT_TERMINATED] Vat was deleted."
    );
    assert_eq!(h.promise_rows(), Vec::<String>::new());
}

#[test]
fn vat_to_vat_sends_and_replies_spec_4_6() {
    let mut h = Harness::new();
    let launched = h
        .launch(
            "alice",
            &[("alice", "file:///a.bundle"), ("bob", "file:///b.bundle")],
            &[],
        )
        .unwrap();
    assert_eq!(launched["rootKref"], "ko4");
    // alice forwards to bob (ko5): E(bob).whoami()
    let methargs = crate::capdata::encode(&crate::capdata::Passable::Array(vec![
        crate::capdata::Passable::String("forward".into()),
        crate::capdata::Passable::Array(vec![
            crate::capdata::Passable::Remotable {
                slot: "ko5".into(),
                iface: Some("Alleged: vatRoot".into()),
            },
            crate::capdata::Passable::String("whoami".into()),
        ]),
    ]));
    let result = h.send_raw("ko4", methargs).unwrap();
    assert_eq!(body(&result), "#\"bob\"");
    assert_eq!(
        h.kv("v1.c.ko5").as_deref(),
        Some("R o-1"),
        "alice imported bob's root as o-1"
    );
    assert_eq!(
        h.kernel().state().refcount("ko5").unwrap(),
        crate::kernel::state::RefCount {
            reachable: 2,
            recognizable: 2
        }
    );
    assert_eq!(h.promise_rows(), Vec::<String>::new());
}

#[test]
fn failed_launches_leave_nothing_behind_spec_14_8() {
    let mut h = Harness::new();
    let err = h
        .launch(
            "a",
            &[("a", "file:///a.bundle"), ("b", "file:///broken.bundle")],
            &[],
        )
        .unwrap_err();
    assert_eq!(err, "Failed to launch vat v2 (b)");
    assert_eq!(
        h.kernel().state().live_vats().unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(h.kernel().state().subclusters().unwrap(), vec![]);
    assert_eq!(h.keys("v1."), Vec::<String>::new());
    assert_eq!(
        h.kv("nextVatId").as_deref(),
        Some("1"),
        "even the ids are rolled back"
    );
    let err = h
        .launch("x", &[("a", "file:///a.bundle")], &[])
        .unwrap_err();
    assert_eq!(err, "invalid bootstrap vat name \"x\"");
    let err = h
        .launch("a", &[("a", "file:///a.bundle")], &["kernelFacet"])
        .unwrap_err();
    assert_eq!(err, "no registered kernel service 'kernelFacet'");
    h.launch("a", &[("a", "file:///a.bundle")], &["ocapURLIssuerService"])
        .unwrap();
}

#[test]
fn a_failing_bootstrap_terminates_the_whole_subcluster() {
    let mut h = Harness::new();
    let err = h
        .launch(
            "failboot",
            &[
                ("helper", "file:///h.bundle"),
                ("failboot", "file:///f.bundle"),
            ],
            &[],
        )
        .unwrap_err();
    assert_eq!(err, "bootstrap boom");
    assert_eq!(
        h.kernel().state().live_vats().unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(h.kernel().state().subclusters().unwrap(), vec![]);
    assert_eq!(h.keys("v1."), Vec::<String>::new());
    assert_eq!(h.keys("v2."), Vec::<String>::new());
    assert_eq!(h.promise_rows(), Vec::<String>::new());
}

#[test]
fn the_kernel_facet_is_unreachable_from_outside_spec_14_16() {
    let mut h = Harness::new();
    let err = h.send("ko3", "ping", json!([])).unwrap_err();
    assert!(err.contains("system-only"), "{err}");
    assert_eq!(
        h.send("ko1", "issue", json!([])).unwrap_err(),
        "[KERNEL:DELIVERY_FAILED] Argument must be a remotable"
    );
    assert_eq!(
        h.send("ko1", "frob", json!([])).unwrap_err(),
        "[KERNEL:DELIVERY_FAILED] ocapURLIssuerService.frob is not available in this kernel"
    );
}

#[test]
fn vat_control_calls_spec_2() {
    let mut h = Harness::new();
    h.launch("counter", &[("counter", "file:///c.bundle")], &[])
        .unwrap();
    assert_eq!(h.call(Call::PingVat("v1".into())).unwrap(), json!("pong"));
    assert_eq!(
        h.call(Call::PingVat("v9".into())).unwrap_err(),
        "Vat does not exist."
    );
    h.send("ko4", "resume", json!([])).unwrap();
    assert_eq!(h.call(Call::RestartVat("v1".into())).unwrap(), Value::Null);
    assert_eq!(
        body(&h.send("ko4", "resume", json!([])).unwrap()),
        "#\"Counter incremented to: 3\"",
        "restart keeps state"
    );
    assert_eq!(
        h.call(Call::TerminateSubcluster("s9".into())).unwrap_err(),
        "Subcluster does not exist."
    );
    assert_eq!(
        h.call(Call::TerminateSubcluster("s1".into())).unwrap(),
        Value::Null
    );
    assert_eq!(
        h.kernel().state().live_vats().unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        h.call(Call::TerminateVat("v1".into())).unwrap_err(),
        "Vat does not exist."
    );
}

/// A daemon restart abandons only what lived in a vat's heap alone: of its exports, the root
/// and its virtual and durable objects (kept in its vatstore) stay its own (spec §14.11).
#[test]
fn a_daemon_restart_keeps_the_root_and_virtual_and_durable_exports_spec_14_11() {
    let mut h = Harness::new();
    h.launch(
        "a",
        &[("a", "file:///a.bundle"), ("b", "file:///b.bundle")],
        &[],
    )
    .unwrap();
    // v1's exports, each imported by v2 too, as if v1 had sent them there.
    let vrefs = ["o+d6/1", "o+v7/2:1", "o+11"];
    let krefs: Vec<String> = h
        .kernel()
        .atomically(|k| {
            let mut krefs = Vec::new();
            for vref in vrefs {
                let kref = k.state.create_object("v1")?;
                k.state.clist_add("v1", vref, &kref)?;
                k.kernel_to_vat("v2", &kref)?;
                krefs.push(kref);
            }
            Ok(krefs)
        })
        .unwrap();
    h.kernel().commit().unwrap();
    h.restart();
    for (vref, kref) in vrefs.iter().zip(&krefs).take(2) {
        assert_eq!(
            h.kv(&format!("{kref}.owner")).as_deref(),
            Some("v1"),
            "{vref}"
        );
        assert_eq!(
            h.kv(&format!("v1.c.{vref}")).as_deref(),
            Some(kref.as_str())
        );
    }
    let lost = &krefs[2];
    assert_eq!(h.kv(&format!("{lost}.owner")), None, "o+11 is abandoned");
    assert_eq!(h.kv("v1.c.o+11"), None);
    assert_eq!(
        h.kv(&format!("{lost}.refCount")).as_deref(),
        Some("1,1"),
        "v2's"
    );
    assert_eq!(h.kv("v1.c.o+0").as_deref(), Some("ko4"), "the root stays");
    assert_eq!(body(&h.send("ko4", "echo", json!([1])).unwrap()), "#1");
    h.assert_invariants();
}

/// A `restartVat` whose new runtime cannot start is refused and changes nothing: the vat keeps
/// its running incarnation, so its exports stay and the promises it decides stay its own.
#[test]
fn a_restart_that_cannot_start_the_vat_changes_nothing() {
    let mut h = Harness::new();
    h.launch("a", &[("a", "file:///a.bundle")], &[]).unwrap();
    let made = h.send("ko4", "make", json!([])).unwrap();
    assert_eq!(made["slots"], json!(["ko5"]));
    let defer = Call::QueueMessage {
        target: "ko4".into(),
        method: "defer".into(),
        args: vec![],
    };
    h.kernel().call(defer, Reply::code(|_| {}));
    h.run();
    let deferred = "kp3";
    assert_eq!(h.kv(&format!("{deferred}.decider")).as_deref(), Some("v1"));
    let broken = json!({"bundleSpec": "file:///broken.bundle"});
    h.kernel().state().set_vat_config("v1", &broken).unwrap();
    h.kernel().commit().unwrap();
    assert_eq!(
        h.call(Call::RestartVat("v1".into())).unwrap_err(),
        "cannot load file:///broken.bundle"
    );
    assert_eq!(h.kv("ko5.owner").as_deref(), Some("v1"));
    assert_eq!(
        h.kv(&format!("{deferred}.state")).as_deref(),
        Some("unresolved")
    );
    assert_eq!(h.kv(&format!("{deferred}.decider")).as_deref(), Some("v1"));
    assert_eq!(
        body(&h.send("ko5", "echo", json!([7])).unwrap()),
        "#7",
        "the old incarnation still answers"
    );
    h.assert_invariants();
}

#[test]
fn messages_to_unresolved_promises_wait_and_follow_spec_4_4() {
    let mut h = Harness::new();
    h.launch("a", &[("a", "file:///a.bundle")], &[]).unwrap();
    // A send to a promise that is fulfilled with an object is routed to that object.
    let thing = h.send("ko4", "make", json!([])).unwrap();
    assert_eq!(thing["slots"], json!(["ko5"]));
    assert_eq!(body(&h.send("ko5", "whoami", json!([])).unwrap()), "#\"a\"");
}

impl Harness {
    fn send_raw(
        &mut self,
        target: &str,
        methargs: crate::capdata::CapData,
    ) -> Result<Value, String> {
        let slot = Arc::new(Mutex::new(None));
        let answer = Arc::clone(&slot);
        self.kernel().send_from_kernel(
            target.into(),
            methargs,
            Reply::code(move |a| *answer.lock().unwrap() = Some(a.map_err(|e| e.to_string()))),
        );
        self.run();
        let answer = slot.lock().unwrap().take();
        answer.expect("no answer")
    }
}

#[test]
fn clear_state_starts_afresh_with_the_services_spec_14_12() {
    let mut h = Harness::new();
    h.launch("counter", &[("counter", "file:///c.bundle")], &[])
        .unwrap();
    h.send("ko4", "resume", json!([])).unwrap();
    assert_eq!(h.call(Call::ClearState).unwrap(), Value::Null);
    assert_eq!(
        h.kernel().state().live_vats().unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        h.kv("kernelService.kernelFacet").as_deref(),
        Some("ko3"),
        "services are registered again"
    );
    assert_eq!(h.kv("ko3.owner").as_deref(), Some("kernel"));
    let again = h
        .launch("counter", &[("counter", "file:///c.bundle")], &[])
        .unwrap();
    assert_eq!(
        (again["subclusterId"].as_str(), again["rootKref"].as_str()),
        (Some("s1"), Some("ko4"))
    );
    assert_eq!(
        body(&again["bootstrapResult"]),
        "#\"Counter initialized with count: 1\"",
        "no vatstore survived"
    );
}

#[test]
fn clear_state_answers_the_callers_it_cuts_off_and_never_hands_them_a_new_result() {
    // Before: the waiter on kp2 survived clearState; promise ids start again at kp1, so the
    // old caller was handed the result of whichever new call got kp2.
    let mut h = Harness::new();
    h.launch("a", &[("a", "file:///a.bundle")], &[]).unwrap();
    let old = Arc::new(Mutex::new(Vec::new()));
    let heard = Arc::clone(&old);
    let hang = Call::QueueMessage {
        target: "ko4".into(),
        method: "hang".into(),
        args: vec![],
    };
    h.kernel().call(
        hang,
        Reply::code(move |a| heard.lock().unwrap().push(a.map_err(|e| e.to_string()))),
    );
    h.run();
    assert!(old.lock().unwrap().is_empty(), "hangs");
    h.call(Call::ClearState).unwrap();
    let answers = old.lock().unwrap().clone();
    assert_eq!(answers.len(), 1, "answered once, at the clear: {answers:?}");
    let error = answers[0].clone().unwrap_err();
    assert!(error.contains("state was cleared"), "{error}");
    h.launch("counter", &[("counter", "file:///c.bundle")], &[])
        .unwrap();
    h.send("ko4", "resume", json!([])).unwrap();
    assert_eq!(old.lock().unwrap().len(), 1, "and never again");
    assert_eq!(h.kernel().waiter_refs(), Default::default());
}

#[test]
fn a_store_failure_inside_a_call_is_answered_with_the_real_error() {
    // Before: the reply was dropped and the caller heard "the kernel has stopped".
    let mut h = Harness::new();
    h.launch("a", &[("a", "file:///a.bundle")], &[]).unwrap();
    h.kernel().state().store().set("subclusters", "{").unwrap();
    h.kernel().commit().unwrap();
    let error = h.call(Call::TerminateSubcluster("s1".into())).unwrap_err();
    assert_eq!(
        error,
        "kernel store holds a malformed value at subclusters: invalid type: map, expected a sequence at line 1 column 0"
    );
}

#[test]
fn promises_naming_each_other_in_one_resolve_batch_all_settle_spec_7_4() {
    // Before: the kernel retired each resolved promise's entry before translating the next
    // value, which names it: "v1 used import p-1 that the kernel never gave it", and the vat
    // was killed. Now every resolution is translated, then all settled, then retired.
    let mut h = Harness::new();
    h.launch("a", &[("a", "file:///a.bundle")], &[]).unwrap();
    let answers = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..2 {
        let heard = Arc::clone(&answers);
        let defer = Call::QueueMessage {
            target: "ko4".into(),
            method: "defer".into(),
            args: vec![],
        };
        h.kernel().call(
            defer,
            Reply::code(move |a| heard.lock().unwrap().push(a.map_err(|e| e.to_string()))),
        );
    }
    h.run();
    h.send("ko4", "entangle", json!([])).unwrap();
    let answers = answers.lock().unwrap().clone();
    let slots: Vec<String> = answers
        .iter()
        .map(|a| {
            let value = a.as_ref().unwrap();
            assert_eq!(body(value), "#{\"other\":\"&0\"}");
            value["slots"][0].as_str().unwrap().to_string()
        })
        .collect();
    // Each promise is fulfilled with the other: the first's value names the second's kpid.
    assert_eq!(slots.len(), 2);
    assert_ne!(slots[0], slots[1]);
    assert_eq!(h.kernel().state().live_vats().unwrap(), ["v1"]);
    h.assert_invariants();
}

#[test]
fn a_promise_resolved_to_itself_is_illegal_and_routing_never_recurses() {
    // Before: a send to such a promise recursed in route_promise until the stack overflowed
    // and the daemon died.
    let mut h = Harness::new();
    h.launch("a", &[("a", "file:///a.bundle")], &[]).unwrap();
    h.launch("b", &[("b", "file:///b.bundle")], &[]).unwrap();
    assert!(
        h.send("ko4", "selfish", json!([]))
            .unwrap_err()
            .contains("ILLEGAL_SYSCALL")
    );
    assert_eq!(h.kernel().state().live_vats().unwrap(), ["v2"]);
    // A chain of 20,000 fulfilled promises (recursion overflowed the stack), followed one step
    // at a time.
    let chain = 20_000;
    let mut kernel = h.kernel();
    let head = kernel
        .atomically(|k| {
            let mut next = "ko5".to_string();
            for _ in 0..chain {
                let kpid = k.state.create_promise(Some("kernel"))?;
                let value = crate::capdata::encode(&crate::capdata::Passable::Promise {
                    slot: next.clone(),
                });
                let value = if next.starts_with("ko") {
                    crate::capdata::encode(&crate::capdata::Passable::Remotable {
                        slot: next.clone(),
                        iface: None,
                    })
                } else {
                    value
                };
                k.state.set_decider(&kpid, Some("kernel"))?;
                k.settle(&kpid, false, &value)?;
                next = kpid;
            }
            Ok(next)
        })
        .unwrap();
    assert_eq!(
        kernel.route(&head).unwrap(),
        super::router::Route::Vat("v2".into(), "ko5".into())
    );
    // A cycle: two promises fulfilled with each other.
    kernel = h.kernel();
    let (p, q) = kernel
        .atomically(|k| {
            let (p, q) = (
                k.state.create_promise(Some("kernel"))?,
                k.state.create_promise(Some("kernel"))?,
            );
            let to = |slot: &str| {
                crate::capdata::encode(&crate::capdata::Passable::Promise { slot: slot.into() })
            };
            k.settle(&p, false, &to(&q))?;
            k.settle(&q, false, &to(&p))?;
            Ok((p, q))
        })
        .unwrap();
    for target in [&p, &q] {
        let super::router::Route::Splat(reason) = kernel.route(target).unwrap() else {
            panic!("a cycle must splat");
        };
        assert!(
            reason.body.contains("BAD_PROMISE_RESOLUTION"),
            "{}",
            reason.body
        );
    }
}

#[test]
fn a_vat_that_is_always_awake_cannot_hold_back_queued_messages() {
    // Before: woken vats always went before the run queue (and the lowest id first), so a vat
    // whose timers were always due kept every queued message waiting.
    let mut h = Harness::new();
    h.launch("a", &[("a", "file:///a.bundle")], &[]).unwrap();
    h.launch("b", &[("b", "file:///b.bundle")], &[]).unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let tell = |heard: &Arc<Mutex<Vec<Result<Value, String>>>>| -> crate::kernel::Reply {
        let heard = Arc::clone(heard);
        Reply::code(move |a| heard.lock().unwrap().push(a.map_err(|e| e.to_string())))
    };
    let call = |method: &str, target: &str| Call::QueueMessage {
        target: target.into(),
        method: method.into(),
        args: vec![],
    };
    h.kernel().call(call("restless", "ko4"), tell(&heard));
    for _ in 0..3 {
        h.kernel().crank().unwrap();
    }
    h.kernel().commit().unwrap();
    assert_eq!(heard.lock().unwrap().len(), 1, "a is restless now");
    for _ in 0..3 {
        h.kernel().call(call("resume", "ko5"), tell(&heard));
    }
    // Every crank has work (a is always awake), so run a bounded number of them.
    for _ in 0..8 {
        assert!(h.kernel().crank().unwrap());
    }
    h.kernel().commit().unwrap();
    let heard = heard.lock().unwrap();
    assert_eq!(heard.len(), 4, "b's messages got their turns: {heard:?}");
    assert_eq!(
        body(heard[3].as_ref().unwrap()),
        "#\"Counter incremented to: 4\""
    );
}

#[test]
fn a_crash_does_not_leak_what_waiters_held() {
    // A waiter's reference is counted in the store but the waiter lives in memory: after a
    // crash (no chance to answer and release it) the new kernel must release it, or the
    // promise can never be collected.
    let mut h = Harness::new();
    h.launch("a", &[("a", "file:///a.bundle")], &[]).unwrap();
    let call = Call::QueueMessage {
        target: "ko4".into(),
        method: "hang".into(),
        args: vec![],
    };
    h.kernel().call(call, Reply::code(|_| {}));
    h.run();
    assert_eq!(h.kv("kp2.refCount").as_deref(), Some("2"), "vat and waiter");
    h.restart();
    // The restart rejects kp2 (v1 lost it with its heap) and drops v1's entry; with the dead
    // waiter's reference released too, nothing holds it.
    assert_eq!(h.promise_rows(), Vec::<String>::new());
    assert_eq!(h.kv("kernelWaiters"), None);
}

/// A caller that hangs up before its promise settles leaves nothing behind for good: its waiter
/// and its hold are released by a later sweep, while a caller still waiting keeps both (and
/// gets its answer). Without the sweep, every call a client abandoned on a promise that never
/// settles stayed in memory and in `kernelWaiters`, which every later call rewrites.
#[test]
fn waiters_of_callers_who_hung_up_are_forgotten() {
    let mut h = Harness::new();
    h.launch("a", &[("a", "file:///a.bundle")], &[]).unwrap();
    let hang = || Call::QueueMessage {
        target: "ko4".into(),
        method: "hang".into(),
        args: vec![],
    };
    let (kept, mut answer) = tokio::sync::oneshot::channel();
    h.kernel().call(hang(), Reply::Caller(kept));
    for _ in 0..200 {
        let (caller, hung_up) = tokio::sync::oneshot::channel();
        drop(hung_up);
        h.kernel().call(hang(), Reply::Caller(caller));
        h.run();
    }
    let held = h.kernel().waiter_refs();
    assert!(
        held.len() < 70,
        "{} waiters kept for 1 caller still waiting",
        held.len()
    );
    assert_eq!(held.get("kp2"), Some(&1), "the waiting caller's stays");
    h.assert_invariants();
    assert!(answer.try_recv().is_err(), "not answered yet");
    h.call(Call::TerminateVat("v1".into())).unwrap();
    let rejected = answer
        .try_recv()
        .expect("answered when its promise was rejected");
    assert!(rejected.is_err(), "{rejected:?}");
    assert_eq!(h.kv("kernelWaiters"), None);
    h.assert_invariants();
}

/// Launches vats `a`, `b`, `c` (`ko4`, `ko5`, `ko6`); `b` defers a result (`kp2`), which `a`
/// then learns about (as its `p-2`) along with `c`'s root (its `o-1`).
fn three_vats_and_a_deferred_promise() -> Harness {
    use crate::capdata::{Passable, encode};
    let mut h = Harness::new();
    h.launch(
        "a",
        &[
            ("a", "file:///a.bundle"),
            ("b", "file:///b.bundle"),
            ("c", "file:///c.bundle"),
        ],
        &[],
    )
    .unwrap();
    let call = Call::QueueMessage {
        target: "ko5".into(),
        method: "defer".into(),
        args: vec![],
    };
    h.kernel().call(call, Reply::code(|_| {}));
    h.run();
    assert_eq!(h.kv("kp2.decider").as_deref(), Some("v2"));
    let methargs = encode(&Passable::Array(vec![
        Passable::String("hold".into()),
        Passable::Array(vec![
            Passable::Promise { slot: "kp2".into() },
            Passable::Remotable {
                slot: "ko6".into(),
                iface: None,
            },
        ]),
    ]));
    h.send_raw("ko4", methargs).unwrap();
    assert_eq!(h.kv("v1.c.kp2").as_deref(), Some("R p-2"));
    h
}

#[test]
fn a_message_waiting_on_a_promise_keeps_its_result_when_the_sender_dies() {
    // a: E(p).hold(gift) on b's unresolved promise p; the message waits on p. a is terminated:
    // its message's result must not be rejected under it (it was, as a promise "decided" by
    // a), or b, receiving the message once p settles, would settle the result a second time.
    let mut h = three_vats_and_a_deferred_promise();
    h.send("ko4", "give", json!([0, 0, 2, 0])).unwrap();
    let waiting = h.keys("queue.kp2.");
    assert!(waiting.contains(&"queue.kp2.1".to_string()), "{waiting:?}");
    let result = h.kv("v1.c.p+5").unwrap();
    h.call(Call::TerminateVat("v1".into())).unwrap();
    assert_eq!(
        h.kv(&format!("{result}.state")).as_deref(),
        Some("unresolved")
    );
    assert_eq!(
        h.kv(&format!("{result}.decider")),
        None,
        "undecided in transit"
    );
    assert_eq!(
        crate::kernel::invariants::check(h.kernel().state().store()),
        Vec::<String>::new()
    );
    // b settles p with a new object of its own: the message is delivered to b, which resolves
    // its result (once); nobody refers to it any more, so it is collected.
    h.send("ko5", "settle", json!([0, 0])).unwrap();
    assert_eq!(h.kv(&format!("{result}.state")), None);
    h.assert_invariants();
}

#[test]
fn an_unreadable_queue_entry_is_set_aside_and_the_kernel_goes_on() {
    let mut h = Harness::new();
    h.launch("counter", &[("counter", "file:///c.bundle")], &[])
        .unwrap();
    let head = h.kv("queue.run.head").unwrap();
    h.kernel()
        .state()
        .store()
        .set(&format!("queue.run.{head}"), "{not json")
        .unwrap();
    let next: u64 = head.parse::<u64>().unwrap() + 1;
    h.kernel()
        .state()
        .store()
        .set("queue.run.head", &next.to_string())
        .unwrap();
    h.kernel().commit().unwrap();
    assert!(h.kernel().crank().is_err(), "the bad entry fails its crank");
    assert_eq!(
        h.kv(&format!("queue.run.unprocessable.{head}")).as_deref(),
        Some("{not json")
    );
    assert_eq!(
        body(&h.send("ko4", "resume", json!([])).unwrap()),
        "#\"Counter incremented to: 2\""
    );
}

#[test]
fn a_vat_cannot_take_over_a_promise_it_does_not_decide() {
    // a uses b's promise as the result of a message to c: that would make c its decider and
    // b, resolving it later, would be killed for an illegal syscall. a is the one at fault.
    let mut h = three_vats_and_a_deferred_promise();
    let err = h.send("ko4", "misuse", json!([0, 0])).unwrap_err();
    assert_eq!(
        err,
        "[KERNEL:VAT_FATAL:ILLEGAL_SYSCALL] Syscall translation error: prepare to die"
    );
    assert_eq!(h.kv("vatConfig.v1"), None, "a is terminated");
    assert_eq!(
        h.kv("kp2.decider").as_deref(),
        Some("v2"),
        "b still decides"
    );
    h.send("ko5", "settle", json!([0, 0])).unwrap();
    assert!(h.kv("vatConfig.v2").is_some(), "b is alive");
    h.assert_invariants();
}

#[test]
fn a_vat_retires_an_export_only_once_nobody_else_reaches_it() {
    use crate::capdata::{Passable, encode};
    let mut h = Harness::new();
    h.launch(
        "a",
        &[("a", "file:///a.bundle"), ("b", "file:///b.bundle")],
        &[],
    )
    .unwrap();
    // Only a refers to its new export ko6: retiring it is fine, and it is collected.
    assert_eq!(
        h.send("ko4", "make", json!([])).unwrap()["slots"],
        json!(["ko6"])
    );
    assert_eq!(h.kv("ko6.refCount").as_deref(), Some("1,1"));
    h.send("ko4", "retire", json!([0])).unwrap();
    assert_eq!(h.keys("ko6."), Vec::<String>::new());
    assert_eq!(h.kv("v1.c.o+10"), None);
    // b holds ko7: a may not retire it (it used to be left owned by a but unexported).
    assert_eq!(
        h.send("ko4", "make", json!([])).unwrap()["slots"],
        json!(["ko7"])
    );
    let methargs = encode(&Passable::Array(vec![
        Passable::String("hold".into()),
        Passable::Array(vec![Passable::Remotable {
            slot: "ko7".into(),
            iface: None,
        }]),
    ]));
    h.send_raw("ko5", methargs).unwrap();
    let err = h.send("ko4", "retire", json!([0])).unwrap_err();
    assert_eq!(
        err,
        "[KERNEL:VAT_FATAL:ILLEGAL_SYSCALL] Syscall translation error: prepare to die"
    );
    assert_eq!(h.kv("ko7.owner"), None, "orphaned with a's termination");
    assert_eq!(h.kv("ko7.refCount").as_deref(), Some("1,1"), "b's import");
    h.assert_invariants();
}
