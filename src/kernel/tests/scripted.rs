//! A scripted vat written in Rust: a legitimate test vat that receives real deliveries and
//! makes real syscalls, standing in for liveslots until the JavaScript runtime exists.
//!
//! It understands a few methods, enough to exercise every kernel path: `bootstrap` and `resume`
//! (a counter kept in the vatstore, like spec §3.2's example), `echo`, `fail`, `hang`, `make`
//! (a new exported object), `entangle` (settle the deferred results in one batch, naming each
//! other), `forward` (an eventual send to a presence argument, answered when
//! the reply arrives), `callSelf`, `restless` (always awake), `illegal`, `exit`, `drop`.
//!
//! For GC it behaves like liveslots: every import it receives stays reachable until the next
//! `bringOutYourDead`, where those it does not `hold` are dropped (`dropImports`) and retired
//! (`retireImports`, at once or at the following BOYD); every imported promise it receives is
//! subscribed to. Its bookkeeping ([`Memory`]) lives in the vatstore, so it survives restarts
//! and tests can compare it with the kernel's c-list; only what liveslots keeps in its heap
//! alone (its exports and the results it owes) is lost when it restarts. Methods that take plain-data arguments
//! let a test drive it: `release`, `give`, `relay`, `promise`, `defer`, `settle`, `abandon`, `retire`,
//! `fragile` (the next notify or BOYD fails after its syscalls).

use crate::capdata::{CapData, Passable, decode_methargs, encode};
use crate::vat::{
    Delivery, DeliveryResult, Message, Resolution, Syscall, Syscalls, VatFactory, VatFault,
    VatRuntime, VatstoreDelta,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Makes scripted vats; a config whose `bundleSpec` contains `broken` fails to start.
pub struct ScriptedFactory;

impl VatFactory for ScriptedFactory {
    fn create(
        &self,
        vat_id: &str,
        config: &Value,
    ) -> Result<Box<dyn VatRuntime>, crate::vat::SetupError> {
        let spec = config["bundleSpec"].as_str().unwrap_or_default();
        if spec.contains("broken") {
            return Err(crate::vat::SetupError::Code(format!("cannot load {spec}")));
        }
        Ok(Box::new(ScriptedVat {
            id: vat_id.into(),
            name: config["parameters"]["name"]
                .as_str()
                .unwrap_or("vat")
                .into(),
            ..Default::default()
        }))
    }
}

#[derive(Default)]
struct ScriptedVat {
    id: String,
    name: String,
    count: u64,
    mem: Memory,
    /// Its way to be woken (see `restless`).
    waker: Option<crate::vat::Waker>,
    /// Set by `restless`: it rings itself at every wake, so it is always awake.
    restless: bool,
}

/// What a scripted vat remembers (vatstore key [`MEMORY_KEY`]), like liveslots' tables.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    /// The last export number used (`o+<9 + n>`).
    pub next_export: u64,
    /// The last promise number used (`p+<4 + n>`).
    pub next_promise: u64,
    /// Our promise (p+N) → the result we owe once it settles.
    pub awaiting: BTreeMap<String, String>,
    /// Imports kept on purpose, in the order received.
    pub held: Vec<String>,
    /// Imports reachable as far as we know: received since last dropped.
    pub live: BTreeSet<String>,
    /// Imports dropped but not yet retired.
    pub dropped: BTreeSet<String>,
    /// Our exports the kernel knows (used in a syscall), besides the root `o+0`.
    pub exported: BTreeSet<String>,
    /// Imported promises subscribed to and not yet heard about.
    pub subscribed: BTreeSet<String>,
    /// Results we decide and will settle later (`defer`, `settle`).
    pub deferred: Vec<String>,
    /// Results of our sends not yet heard about.
    pub sent: BTreeSet<String>,
    /// Set by `fragile`: the next notify (`"notify"`) or BOYD (`"boyd"`) makes its
    /// syscalls, then fails.
    pub fragile: Option<String>,
}

impl Memory {
    /// A restart: like liveslots, the new incarnation has lost what only its heap held: its
    /// ephemeral exports, the results it owed (the kernel abandoned and rejected those, see
    /// `heap_loss`) and the promises it was waiting for (their notifies are ignored).
    pub fn lose_heap(&mut self) {
        self.exported.clear();
        self.awaiting.clear();
        self.deferred.clear();
        self.subscribed.clear();
        self.sent.clear();
    }
}

/// The vatstore key of a scripted vat's [`Memory`].
pub const MEMORY_KEY: &str = "memory";

fn string(s: &str) -> Passable {
    Passable::String(s.into())
}

impl ScriptedVat {
    fn delta(&self, mut sets: Vec<(String, String)>) -> DeliveryResult {
        let memory = serde_json::to_string(&self.mem).expect("serializes");
        sets.push((MEMORY_KEY.into(), memory));
        DeliveryResult {
            delta: VatstoreDelta(sets, vec![]),
            error: None,
        }
    }

    fn resolve(&mut self, sys: &mut dyn Syscalls, vpid: &str, rejected: bool, value: &Passable) {
        let value = encode(value);
        self.note_exports(&value.slots);
        // A resolver forgets the promise (it may be one of our own sends, delivered to us).
        self.mem.subscribed.remove(vpid);
        self.mem.sent.remove(vpid);
        sys.syscall(Syscall::Resolve(vec![Resolution {
            promise: vpid.into(),
            rejected,
            value,
        }]));
    }

    /// Our exports named in a syscall become known to the kernel.
    fn note_exports(&mut self, slots: &[String]) {
        for slot in slots {
            if slot.starts_with("o+") && slot != "o+0" {
                self.mem.exported.insert(slot.clone());
            }
        }
    }

    /// Takes note of refs received: imports become reachable, imported promises are subscribed
    /// to (except those being resolved right now).
    fn see(&mut self, slots: &[String], resolved: &BTreeSet<String>, sys: &mut dyn Syscalls) {
        for slot in slots {
            if slot.starts_with("o-") {
                self.mem.live.insert(slot.clone());
                self.mem.dropped.remove(slot);
            } else if slot.starts_with("p-")
                && !resolved.contains(slot)
                && self.mem.subscribed.insert(slot.clone())
            {
                sys.syscall(Syscall::Subscribe(slot.clone()));
            }
        }
    }

    fn new_export(&mut self) -> String {
        self.mem.next_export += 1;
        format!("o+{}", 9 + self.mem.next_export)
    }

    /// A held import picked by a test's index.
    fn pick_held(&self, args: &[Passable], i: usize) -> Option<String> {
        let n = match args.get(i) {
            Some(Passable::Number(n)) => *n as usize,
            _ => 0,
        };
        let held = &self.mem.held;
        (!held.is_empty()).then(|| held[n % held.len()].clone())
    }

    /// A promise we know (imported and unsettled, or deferred) picked by a test's index.
    fn pick_promise(&self, args: &[Passable], i: usize) -> Option<String> {
        let n = match args.get(i) {
            Some(Passable::Number(n)) => *n as usize,
            _ => 0,
        };
        let known: Vec<&String> = self
            .mem
            .subscribed
            .iter()
            .chain(&self.mem.deferred)
            .collect();
        (!known.is_empty()).then(|| known[n % known.len()].clone())
    }

    fn presence(slot: &str) -> Passable {
        Passable::Remotable {
            slot: slot.into(),
            iface: Some("Alleged: Thing".into()),
        }
    }

    /// Liveslots' GC: drop the imports not held, retire those dropped before (and half of
    /// the new ones at once).
    fn bring_out_your_dead(&mut self, sys: &mut dyn Syscalls) -> DeliveryResult {
        let held: BTreeSet<&String> = self.mem.held.iter().collect();
        let dead: Vec<String> = self
            .mem
            .live
            .iter()
            .filter(|v| !held.contains(v))
            .cloned()
            .collect();
        let mut retire: Vec<String> = std::mem::take(&mut self.mem.dropped).into_iter().collect();
        for vref in &dead {
            self.mem.live.remove(vref);
            let n: u64 = vref[2..].parse().unwrap_or(0);
            if n.is_multiple_of(2) {
                retire.push(vref.clone());
            } else {
                self.mem.dropped.insert(vref.clone());
            }
        }
        if !dead.is_empty() {
            sys.syscall(Syscall::DropImports(dead));
        }
        if !retire.is_empty() {
            sys.syscall(Syscall::RetireImports(retire));
        }
        self.delta(vec![])
    }

    fn error(message: &str) -> Passable {
        Passable::Error {
            name: "Error".into(),
            message: message.into(),
            error_id: None,
        }
    }

    fn message(&mut self, message: &Message, sys: &mut dyn Syscalls) -> DeliveryResult {
        let Some((method, args)) = decode_methargs(&message.methargs) else {
            return DeliveryResult {
                error: Some("bad methargs".into()),
                ..Default::default()
            };
        };
        let result = message.result.clone().unwrap_or_default();
        let slots = &message.methargs.slots;
        self.see(slots, &BTreeSet::new(), sys);
        match method.as_str() {
            "bootstrap" if self.name == "failboot" => {
                self.resolve(sys, &result, true, &Self::error("bootstrap boom"));
                self.delta(vec![])
            }
            "bootstrap" => {
                self.count = self.count.max(1);
                let text = format!("Counter initialized with count: {}", self.count);
                self.resolve(sys, &result, false, &string(&text));
                self.delta(vec![("count".into(), self.count.to_string())])
            }
            "resume" => {
                self.count += 1;
                let text = format!("Counter incremented to: {}", self.count);
                self.resolve(sys, &result, false, &string(&text));
                self.delta(vec![("count".into(), self.count.to_string())])
            }
            "echo" => {
                let value = args.into_iter().next().unwrap_or(Passable::Undefined);
                self.resolve(sys, &result, false, &value);
                self.delta(vec![])
            }
            "whoami" => {
                self.resolve(sys, &result, false, &string(&self.name));
                self.delta(vec![])
            }
            "fail" => {
                self.resolve(sys, &result, true, &Self::error("boom"));
                self.delta(vec![])
            }
            "hang" => self.delta(vec![]),
            "make" => {
                let vref = self.new_export();
                self.resolve(sys, &result, false, &Self::presence(&vref));
                self.delta(vec![])
            }
            "hold" => {
                for slot in slots.iter().filter(|s| s.starts_with("o-")) {
                    if !self.mem.held.contains(slot) {
                        self.mem.held.push(slot.clone());
                    }
                }
                self.resolve(sys, &result, false, &Passable::Undefined);
                self.delta(vec![])
            }
            "drop" => {
                // Drop and retire everything held, at once.
                let held = std::mem::take(&mut self.mem.held);
                for vref in &held {
                    self.mem.live.remove(vref);
                    self.mem.dropped.remove(vref);
                }
                if !held.is_empty() {
                    sys.syscall(Syscall::DropImports(held.clone()));
                    sys.syscall(Syscall::RetireImports(held));
                }
                self.resolve(sys, &result, false, &Passable::Undefined);
                self.delta(vec![])
            }
            "release" => {
                // args: [i]: stop holding held[i]; the next BOYD drops it.
                if let Some(vref) = self.pick_held(&args, 0) {
                    self.mem.held.retain(|v| *v != vref);
                }
                self.resolve(sys, &result, false, &Passable::Undefined);
                self.delta(vec![])
            }
            "give" => {
                // args: [i, j, mode, k]: E(held[i]).hold(held[j], newExport); mode 1 pipelines
                // E(E(held[i]).make()).hold(…); mode 2 sends to the k-th promise we know
                // instead; mode 3 also gives that promise; mode 4 asks for a promise instead,
                // E(held[i]).promise(k), so that we hear of one promise settled to another.
                let mode = match args.get(2) {
                    Some(Passable::Number(n)) => *n as u64,
                    _ => 0,
                };
                let target = match mode {
                    2 => self.pick_promise(&args, 3),
                    _ => self.pick_held(&args, 0),
                };
                if let Some(target) = target {
                    let mut gift = vec![];
                    if let Some(other) = self.pick_held(&args, 1) {
                        gift.push(Self::presence(&other));
                    }
                    if let Some(promise) = self.pick_promise(&args, 3).filter(|_| mode == 3) {
                        gift.push(Passable::Promise { slot: promise });
                    }
                    let fresh = self.new_export();
                    gift.push(Self::presence(&fresh));
                    let target = if mode == 1 {
                        self.send(sys, &target, "make", vec![], None)
                    } else {
                        target
                    };
                    if mode == 4 {
                        let k = args.get(3).cloned().unwrap_or(Passable::Number(0.0));
                        self.send(sys, &target, "promise", vec![k], None);
                    } else {
                        self.send(sys, &target, "hold", gift, None);
                    }
                }
                self.resolve(sys, &result, false, &Passable::Undefined);
                self.delta(vec![])
            }
            "misuse" => {
                // args: [i, k]: E(held[i]).hold() with the k-th promise we know as its result,
                // which is only legal if we decide it.
                if let (Some(target), Some(stolen)) =
                    (self.pick_held(&args, 0), self.pick_promise(&args, 1))
                {
                    let methargs = encode(&Passable::Array(vec![
                        string("hold"),
                        Passable::Array(vec![]),
                    ]));
                    sys.syscall(Syscall::Send {
                        target,
                        message: Message {
                            methargs,
                            result: Some(stolen),
                        },
                    });
                }
                self.resolve(sys, &result, false, &Passable::Undefined);
                self.delta(vec![])
            }
            "fragile" => {
                // args: [n]: the next notify (n even) or BOYD (n odd) will fail.
                let odd = matches!(args.first(), Some(Passable::Number(n)) if *n as u64 % 2 == 1);
                self.mem.fragile = Some(if odd { "boyd" } else { "notify" }.into());
                self.resolve(sys, &result, false, &Passable::Undefined);
                self.delta(vec![])
            }
            "defer" => {
                // The result is settled by a later `settle`.
                self.mem.deferred.push(result);
                self.delta(vec![])
            }
            "settle" => {
                // args: [i, how]: settle the i-th deferred result with a new export (how 0),
                // a held import (1) or a rejection (2).
                if !self.mem.deferred.is_empty() {
                    let i = match args.first() {
                        Some(Passable::Number(n)) => *n as usize,
                        _ => 0,
                    } % self.mem.deferred.len();
                    let vpid = self.mem.deferred.remove(i);
                    let how = match args.get(1) {
                        Some(Passable::Number(n)) => *n as u64 % 3,
                        _ => 0,
                    };
                    match (how, self.pick_held(&args, 0)) {
                        (0, _) | (1, None) => {
                            let fresh = self.new_export();
                            self.resolve(sys, &vpid, false, &Self::presence(&fresh));
                        }
                        (1, Some(held)) => self.resolve(sys, &vpid, false, &Self::presence(&held)),
                        _ => self.resolve(sys, &vpid, true, &Self::error("settled badly")),
                    }
                }
                self.resolve(sys, &result, false, &Passable::Undefined);
                self.delta(vec![])
            }
            "selfish" => {
                // Fulfils its result with the result itself.
                let value = Passable::Promise {
                    slot: result.clone(),
                };
                self.resolve(sys, &result, false, &value);
                self.delta(vec![])
            }
            "restless" => {
                // From now on the vat is always awake, like timers that are always due.
                self.restless = true;
                if let Some(waker) = &self.waker {
                    waker.ring();
                }
                self.resolve(sys, &result, false, &Passable::Undefined);
                self.delta(vec![])
            }
            "entangle" => {
                // Settles every deferred result in one `resolve`, each fulfilled with a record
                // naming the next (the last names the first): liveslots' batches look so.
                let deferred = std::mem::take(&mut self.mem.deferred);
                let resolutions = deferred
                    .iter()
                    .enumerate()
                    .map(|(i, vpid)| {
                        let next = deferred[(i + 1) % deferred.len()].clone();
                        let other = Passable::Promise { slot: next };
                        Resolution {
                            promise: vpid.clone(),
                            rejected: false,
                            value: encode(&Passable::Record(BTreeMap::from([(
                                "other".to_string(),
                                other,
                            )]))),
                        }
                    })
                    .collect();
                sys.syscall(Syscall::Resolve(resolutions));
                self.resolve(sys, &result, false, &Passable::Undefined);
                self.delta(vec![])
            }
            "relay" => {
                // args: [i]: answer with E(held[i]).make().
                match self.pick_held(&args, 0) {
                    Some(target) => {
                        self.send(sys, &target, "make", vec![], Some(result));
                    }
                    None => self.resolve(sys, &result, false, &Passable::Undefined),
                }
                self.delta(vec![])
            }
            "promise" => {
                // args: [i]: answer at once with the promise for E(held[i]).make().
                let value = match self.pick_held(&args, 0) {
                    Some(target) => Passable::Promise {
                        slot: self.send(sys, &target, "make", vec![], None),
                    },
                    None => Passable::Undefined,
                };
                self.resolve(sys, &result, false, &value);
                self.delta(vec![])
            }
            "abandon" | "retire" => {
                // args: [i]: abandon (or retire: legal only once nobody else can reach it) the
                // i-th export the kernel knows (never the root).
                let n = match args.first() {
                    Some(Passable::Number(n)) => *n as usize,
                    _ => 0,
                };
                let exported: Vec<String> = self.mem.exported.iter().cloned().collect();
                if !exported.is_empty() {
                    let vref = exported[n % exported.len()].clone();
                    self.mem.exported.remove(&vref);
                    sys.syscall(if method == "retire" {
                        Syscall::RetireExports(vec![vref])
                    } else {
                        Syscall::AbandonExports(vec![vref])
                    });
                }
                self.resolve(sys, &result, false, &Passable::Undefined);
                self.delta(vec![])
            }
            "forward" => {
                // args: [presence, method, ...rest]: E(presence)[method](...rest), answer with its result.
                let target = slots.first().cloned().unwrap_or_default();
                let method = match args.get(1) {
                    Some(Passable::String(m)) => m.clone(),
                    _ => "echo".into(),
                };
                let rest: Vec<Passable> = args.into_iter().skip(2).collect();
                self.send(sys, &target, &method, rest, Some(result));
                self.delta(vec![])
            }
            "illegal" => {
                // Resolve a promise we never decided, then do something legal: the first must stick.
                self.resolve(sys, "p-999", false, &Passable::Null);
                self.resolve(sys, &result, false, &string("fine"));
                self.delta(vec![])
            }
            "exit" => {
                sys.syscall(Syscall::Exit {
                    failure: false,
                    info: encode(&Self::error("done")),
                });
                self.delta(vec![])
            }
            "explode" => DeliveryResult {
                error: Some("dispatch threw".into()),
                ..Default::default()
            },
            other => {
                self.resolve(
                    sys,
                    &result,
                    true,
                    &Self::error(&format!("target has no method \"{other}\"")),
                );
                self.delta(vec![])
            }
        }
    }

    /// `E(target)[method](...args)`, subscribed; returns the result promise.
    fn send(
        &mut self,
        sys: &mut dyn Syscalls,
        target: &str,
        method: &str,
        args: Vec<Passable>,
        answer: Option<String>,
    ) -> String {
        self.mem.next_promise += 1;
        let vpid = format!("p+{}", 4 + self.mem.next_promise);
        let methargs = encode(&Passable::Array(vec![
            string(method),
            Passable::Array(args),
        ]));
        self.note_exports(&methargs.slots);
        sys.syscall(Syscall::Send {
            target: target.into(),
            message: Message {
                methargs,
                result: Some(vpid.clone()),
            },
        });
        sys.syscall(Syscall::Subscribe(vpid.clone()));
        self.mem.sent.insert(vpid.clone());
        if let Some(answer) = answer {
            self.mem.awaiting.insert(vpid.clone(), answer);
        }
        vpid
    }

    fn notify(&mut self, resolutions: &[Resolution], sys: &mut dyn Syscalls) -> DeliveryResult {
        let resolved: BTreeSet<String> = resolutions.iter().map(|r| r.promise.clone()).collect();
        for resolution in resolutions {
            self.mem.subscribed.remove(&resolution.promise);
            self.mem.sent.remove(&resolution.promise);
            self.see(&resolution.value.slots, &resolved, sys);
        }
        for resolution in resolutions {
            if let Some(answer) = self.mem.awaiting.remove(&resolution.promise) {
                let value: CapData = resolution.value.clone();
                self.mem.subscribed.remove(&answer);
                sys.syscall(Syscall::Resolve(vec![Resolution {
                    promise: answer,
                    rejected: resolution.rejected,
                    value,
                }]));
            }
        }
        self.delta(vec![])
    }
}

impl VatRuntime for ScriptedVat {
    fn attach(&mut self, waker: crate::vat::Waker) {
        self.waker = Some(waker);
    }

    fn wake(
        &mut self,
        _sys: &mut dyn Syscalls,
        _budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        if let (true, Some(waker)) = (self.restless, &self.waker) {
            waker.ring();
        }
        Ok(DeliveryResult::default())
    }

    fn init(
        &mut self,
        state: Vec<(String, String)>,
        _sys: &mut dyn Syscalls,
        _budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        if let Some((_, count)) = state.iter().find(|(k, _)| k == "count") {
            self.count = count.parse().unwrap_or(0);
        }
        if let Some((_, memory)) = state.iter().find(|(k, _)| k == MEMORY_KEY) {
            self.mem = serde_json::from_str(memory).unwrap_or_default();
            self.mem.lose_heap();
        }
        Ok(self.delta(vec![("initialized".into(), "true".into())]))
    }

    fn deliver(
        &mut self,
        delivery: &Delivery,
        sys: &mut dyn Syscalls,
        budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        let _ = &self.id;
        let fragile = self.mem.fragile.clone();
        let result = match delivery {
            Delivery::Message { message, .. } => {
                if message.methargs.body.contains("\"spin\"") {
                    return Err(VatFault::Timeout(budget));
                }
                self.message(message, sys)
            }
            Delivery::Notify(resolutions) => self.notify(resolutions, sys),
            Delivery::BringOutYourDead => self.bring_out_your_dead(sys),
            _ => self.delta(vec![]),
        };
        let breaks = matches!(
            (fragile.as_deref(), delivery),
            (Some("notify"), Delivery::Notify(_)) | (Some("boyd"), Delivery::BringOutYourDead)
        );
        if breaks {
            return Ok(DeliveryResult {
                error: Some("the fragile vat broke".into()),
                ..Default::default()
            });
        }
        Ok(result)
    }
}
