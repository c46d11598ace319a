//! Fuzzing the syscall translation: vats that answer every delivery with random syscalls —
//! sends, subscriptions, resolutions, exits, GC syscalls and vatstore writes — over refs they
//! were given, refs of their own, refs of other vats and kernel refs, and junk. Whatever they
//! do, the kernel must not panic, every crank must end cleanly (committed, or rolled back with
//! its vat terminated), and after every step [`invariants::check`] must find nothing, across
//! daemon restarts, `collectGarbage`, `restartVat` and `terminateVat`.
//!
//! `PROPTEST_CASES` sets the number of cases (default 48 here).

use super::Harness;
use crate::capdata::{CapData, Passable, encode};
use crate::kernel::{Call, KernelOptions, invariants};
use crate::vat::{
    Delivery, DeliveryResult, Message, Resolution, Syscall, Syscalls, VatFactory, VatFault,
    VatRuntime, VatstoreDelta,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the fuzz vats do, one entry per delivery, shared by every vat of the case (deliveries
/// run one at a time, on the vats' own threads).
type Script = Arc<Mutex<VecDeque<Vec<Op>>>>;

thread_local! {
    /// The script of the case this test thread runs; each factory made on the thread shares it.
    static SCRIPT: RefCell<Script> = RefCell::default();
}

/// Sets the script of the case this thread runs.
fn set_script(script: Vec<Vec<Op>>) {
    SCRIPT.with(|s| *s.borrow_mut() = Arc::new(Mutex::new(script.into())));
}

/// A factory for the case this thread runs.
fn factory() -> Box<dyn VatFactory> {
    Box::new(FuzzFactory(SCRIPT.with(|s| Arc::clone(&s.borrow()))))
}

/// A ref as a fuzz vat names it.
#[derive(Debug, Clone)]
enum Pick {
    /// One the vat has seen in a delivery (target, slot, result, notified promise).
    Seen(Index),
    /// An export of its own, `o+N`.
    Export(u8),
    /// A promise of its own, `p+N`.
    Promise(u8),
    /// Anything else: kernel refs, other vats' refs, malformed text.
    Junk(String),
}

/// One thing a fuzz vat does during a delivery.
#[derive(Debug, Clone)]
enum Op {
    Send {
        target: Pick,
        slots: Vec<Pick>,
        result: Option<Pick>,
        junk_body: bool,
    },
    Subscribe(Pick),
    Resolve(Vec<(Pick, bool, Vec<Pick>)>),
    Exit(bool),
    DropImports(Vec<Pick>),
    RetireImports(Vec<Pick>),
    RetireExports(Vec<Pick>),
    AbandonExports(Vec<Pick>),
    /// Ends the delivery with an error (liveslots' `dispatch` threw).
    Fail,
    /// Writes a vatstore key.
    Store(u8),
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        4 => any::<Index>().prop_map(Pick::Seen),
        2 => (0u8..14).prop_map(Pick::Export),
        2 => (0u8..8).prop_map(Pick::Promise),
        1 => prop_oneof![
            Just("ko1".to_string()),
            Just("ko3".to_string()),
            Just("ko4".to_string()),
            Just("ko5".to_string()),
            Just("kp1".to_string()),
            Just("o-1".to_string()),
            Just("p-1".to_string()),
            Just("o+".to_string()),
            Just("o+d6/1".to_string()),
            Just("p+-3".to_string()),
            Just(String::new()),
            "[a-z+\\-0-9/]{0,6}",
        ]
        .prop_map(Pick::Junk),
    ]
}

fn picks() -> impl Strategy<Value = Vec<Pick>> {
    vec(pick(), 0..3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (pick(), picks(), proptest::option::of(pick()), prop::bool::weighted(0.1)).prop_map(
            |(target, slots, result, junk_body)| Op::Send { target, slots, result, junk_body }
        ),
        2 => pick().prop_map(Op::Subscribe),
        5 => vec((pick(), any::<bool>(), picks()), 1..3).prop_map(Op::Resolve),
        1 => any::<bool>().prop_map(Op::Exit),
        1 => picks().prop_map(Op::DropImports),
        1 => picks().prop_map(Op::RetireImports),
        1 => picks().prop_map(Op::RetireExports),
        1 => picks().prop_map(Op::AbandonExports),
        1 => Just(Op::Fail),
        2 => (0u8..4).prop_map(Op::Store),
    ]
}

/// What the kernel side of a case does.
#[derive(Debug, Clone)]
enum Step {
    /// `queueMessage` to a vat's root, passing another root or a kernel service.
    Send { to: u8, gift: Option<u8> },
    /// A daemon crash and restart.
    Restart,
    /// `collectGarbage`.
    Collect,
    /// `restartVat` or `terminateVat` of one of the two vats.
    Lifecycle { vat: u8, terminate: bool },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0u8..2, proptest::option::of(0u8..4)).prop_map(|(to, gift)| Step::Send { to, gift }),
        1 => Just(Step::Restart),
        1 => Just(Step::Collect),
        1 => (1u8..3, prop::bool::weighted(0.3))
            .prop_map(|(vat, terminate)| Step::Lifecycle { vat, terminate }),
    ]
}

struct FuzzFactory(Script);

impl VatFactory for FuzzFactory {
    fn create(
        &self,
        _vat_id: &str,
        _config: &Value,
    ) -> Result<Box<dyn VatRuntime>, crate::vat::SetupError> {
        Ok(Box::new(FuzzVat {
            seen: Vec::new(),
            script: Arc::clone(&self.0),
        }))
    }
}

/// A vat whose syscalls come from [`SCRIPT`]. Its `bootstrap` succeeds plainly, so that every
/// case gets its vats launched.
struct FuzzVat {
    seen: Vec<String>,
    script: Script,
}

impl FuzzVat {
    fn name(&self, pick: &Pick) -> String {
        match pick {
            Pick::Seen(i) if !self.seen.is_empty() => self.seen[i.index(self.seen.len())].clone(),
            Pick::Seen(_) => "o+0".into(),
            Pick::Export(n) => format!("o+{n}"),
            Pick::Promise(n) => format!("p+{n}"),
            Pick::Junk(text) => text.clone(),
        }
    }

    /// CapData whose slots are `picks`, as presences and promises.
    fn capdata(&self, picks: &[Pick]) -> CapData {
        let items = picks
            .iter()
            .map(|p| {
                let slot = self.name(p);
                if slot.starts_with('p') {
                    Passable::Promise { slot }
                } else {
                    Passable::Remotable { slot, iface: None }
                }
            })
            .collect();
        encode(&Passable::Array(items))
    }

    fn remember(&mut self, refs: impl IntoIterator<Item = String>) {
        for r in refs {
            if !self.seen.contains(&r) {
                self.seen.push(r);
            }
        }
    }

    fn observe(&mut self, delivery: &Delivery) {
        match delivery {
            Delivery::Message { target, message } => {
                self.remember([target.clone()]);
                self.remember(message.methargs.slots.clone());
                self.remember(message.result.clone());
            }
            Delivery::Notify(resolutions) => {
                for r in resolutions {
                    self.remember([r.promise.clone()]);
                    self.remember(r.value.slots.clone());
                }
            }
            Delivery::DropExports(refs)
            | Delivery::RetireExports(refs)
            | Delivery::RetireImports(refs) => self.remember(refs.clone()),
            Delivery::BringOutYourDead => {}
        }
    }

    fn run(&self, op: &Op, sys: &mut dyn Syscalls, delta: &mut VatstoreDelta) -> bool {
        let names = |picks: &[Pick]| picks.iter().map(|p| self.name(p)).collect();
        let syscall = match op {
            Op::Send {
                target,
                slots,
                result,
                junk_body,
            } => {
                let mut methargs = self.capdata(slots);
                methargs.body = if *junk_body {
                    "#{not json".into()
                } else {
                    let args = methargs.body.strip_prefix('#').unwrap_or("[]").to_string();
                    format!("#[\"poke\",{args}]")
                };
                Syscall::Send {
                    target: self.name(target),
                    message: Message {
                        methargs,
                        result: result.as_ref().map(|r| self.name(r)),
                    },
                }
            }
            Op::Subscribe(p) => Syscall::Subscribe(self.name(p)),
            Op::Resolve(items) => Syscall::Resolve(
                items
                    .iter()
                    .map(|(p, rejected, slots)| Resolution {
                        promise: self.name(p),
                        rejected: *rejected,
                        value: self.capdata(slots),
                    })
                    .collect(),
            ),
            Op::Exit(failure) => Syscall::Exit {
                failure: *failure,
                info: encode(&Passable::String("fuzz exit".into())),
            },
            Op::DropImports(p) => Syscall::DropImports(names(p)),
            Op::RetireImports(p) => Syscall::RetireImports(names(p)),
            Op::RetireExports(p) => Syscall::RetireExports(names(p)),
            Op::AbandonExports(p) => Syscall::AbandonExports(names(p)),
            Op::Fail => return false,
            Op::Store(n) => {
                delta.0.push((format!("key{n}"), format!("value{n}")));
                return true;
            }
        };
        sys.syscall(syscall);
        true
    }
}

impl VatRuntime for FuzzVat {
    fn init(
        &mut self,
        _state: Vec<(String, String)>,
        _syscalls: &mut dyn Syscalls,
        _budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        Ok(DeliveryResult::default())
    }

    fn deliver(
        &mut self,
        delivery: &Delivery,
        sys: &mut dyn Syscalls,
        _budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        self.observe(delivery);
        if let Delivery::Message { message, .. } = delivery
            && message.methargs.body.starts_with("#[\"bootstrap\"")
        {
            let result = message.result.clone().unwrap_or_default();
            sys.syscall(Syscall::Resolve(vec![Resolution {
                promise: result,
                rejected: false,
                value: encode(&Passable::Undefined),
            }]));
            return Ok(DeliveryResult::default());
        }
        let ops = self.script.lock().unwrap().pop_front().unwrap_or_default();
        let mut delta = VatstoreDelta::default();
        for op in &ops {
            if !self.run(op, sys, &mut delta) {
                return Ok(DeliveryResult {
                    delta,
                    error: Some("fuzz vat failed".into()),
                });
            }
        }
        Ok(DeliveryResult { delta, error: None })
    }
}

/// Runs the run queue to empty; every crank must end cleanly.
fn settle(h: &mut Harness, at: &str) -> Result<(), TestCaseError> {
    for _ in 0..10_000 {
        match h.kernel().crank() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(TestCaseError::fail(format!("{at}: crank failed: {e}"))),
        }
    }
    h.kernel()
        .commit()
        .map_err(|e| TestCaseError::fail(format!("{at}: commit failed: {e}")))?;
    let problems = invariants::check(h.kernel().state().store());
    prop_assert!(
        problems.is_empty(),
        "{}: invariants violated:\n  {}",
        at,
        problems.join("\n  ")
    );
    Ok(())
}

fn fuzz_case(script: Vec<Vec<Op>>, steps: Vec<Step>) -> Result<(), TestCaseError> {
    set_script(script);
    let options = KernelOptions {
        reap_interval: 4,
        delivery_budget: Duration::from_secs(10),
    };
    let mut h = Harness::with(options, factory);
    let launched = h.launch("a", &[("a", "fuzz"), ("b", "fuzz")], &[]);
    prop_assert!(launched.is_ok(), "launch: {:?}", launched);
    settle(&mut h, "launch")?;
    let roots = ["ko4", "ko5", "ko1", "ko2"];
    for (i, step) in steps.iter().enumerate() {
        let at = format!("step {i} {step:?}");
        match step {
            Step::Send { to, gift } => {
                let args = gift
                    .map(|g| {
                        let slot = roots[g as usize].to_string();
                        vec![Passable::Remotable { slot, iface: None }]
                    })
                    .unwrap_or_default();
                h.kernel_send(roots[*to as usize], "poke", args, false);
            }
            Step::Restart => h.crash_restart(),
            Step::Collect => h.fire(Call::CollectGarbage),
            Step::Lifecycle { vat, terminate } => {
                let vat = format!("v{vat}");
                h.fire(match terminate {
                    true => Call::TerminateVat(vat),
                    false => Call::RestartVat(vat),
                });
            }
        }
        settle(&mut h, &at)?;
    }
    Ok(())
}

/// JSON shaped like the worker protocol's syscall tuples (spec §7.4), often wrong.
fn syscall_json() -> impl Strategy<Value = Value> {
    let kind = prop::sample::select(
        &[
            "send",
            "subscribe",
            "resolve",
            "exit",
            "dropImports",
            "retireImports",
            "retireExports",
            "abandonExports",
            "vatstoreGet",
            "",
        ][..],
    );
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "(o|p)[+-][0-9]{1,2}".prop_map(Value::String),
        "#[\\[\"a-z0-9,\\]]{0,12}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    let tree = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec(
                (
                    prop::sample::select(&["methargs", "result", "body", "slots"][..]),
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    });
    (kind, vec(tree, 0..4)).prop_map(|(kind, mut rest)| {
        rest.insert(0, Value::String(kind.into()));
        Value::Array(rest)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::capdata::proptests::cases(512)))]

    /// A worker vat's syscall line parses to a syscall that prints back the same way, or is
    /// refused (an illegal syscall); it never panics.
    #[test]
    fn worker_syscalls_parse_or_are_refused(value in syscall_json()) {
        if let Ok(syscall) = Syscall::from_json(&value) {
            prop_assert_eq!(Syscall::from_json(&syscall.to_json()), Ok(syscall));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: crate::capdata::proptests::cases(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_syscalls_never_panic_and_keep_the_invariants(
        script in vec(vec(op(), 0..6), 0..24),
        steps in vec(step(), 1..20),
    ) {
        fuzz_case(script, steps)?;
    }
}

/// A vat that names a kref it was never given — the kernel facet, another vat's object, an
/// import it does not hold — makes an illegal syscall: it is terminated and nothing is sent.
#[test]
fn a_vat_cannot_reach_what_it_was_not_given() {
    for target in ["ko3", "ko5", "o-7", "p-9"] {
        let send = Op::Send {
            target: Pick::Junk(target.into()),
            slots: vec![],
            result: Some(Pick::Promise(1)),
            junk_body: false,
        };
        set_script(vec![vec![send]]);
        let mut h = Harness::with(KernelOptions::default(), factory);
        h.launch("a", &[("a", "fuzz"), ("b", "fuzz")], &[]).unwrap();
        let queued = h.kv("queue.run.head");
        h.kernel_send("ko4", "poke", vec![], false);
        assert_eq!(
            h.kernel().state().live_vats().unwrap(),
            vec!["v2".to_string()],
            "{target}: the vat that named it is terminated"
        );
        assert_eq!(
            h.kv("queue.run.head").map(|n| n.parse::<u64>().unwrap()),
            queued.map(|n| n.parse::<u64>().unwrap() + 1),
            "{target}: only the poke itself was ever queued"
        );
        assert_eq!(
            invariants::check(h.kernel().state().store()),
            Vec::<String>::new()
        );
    }
}
