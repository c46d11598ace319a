//! A scripted vat written in Rust: a legitimate test vat that receives real deliveries and
//! makes real syscalls, standing in for liveslots until the JavaScript runtime exists.
//!
//! It understands a few methods, enough to exercise every kernel path: `bootstrap` and `resume`
//! (a counter kept in the vatstore, like spec §3.2's example), `echo`, `fail`, `hang`, `make`
//! (a new exported object), `forward` (an eventual send to a presence argument, answered when
//! the reply arrives), `callSelf`, `illegal`, `exit`, `drop`.

use crate::capdata::{CapData, Passable, decode, encode};
use crate::vat::{
    Delivery, DeliveryResult, Message, Resolution, Syscall, Syscalls, VatFactory, VatFault,
    VatRuntime, VatstoreDelta,
};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// Makes scripted vats; a config whose `bundleSpec` contains `broken` fails to start.
pub struct ScriptedFactory;

impl VatFactory for ScriptedFactory {
    fn create(&self, vat_id: &str, config: &Value) -> Result<Box<dyn VatRuntime>, String> {
        let spec = config["bundleSpec"].as_str().unwrap_or_default();
        if spec.contains("broken") {
            return Err(format!("cannot load {spec}"));
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
    next_export: u64,
    next_promise: u64,
    /// Our promise (p+N) → the result we owe once it settles.
    awaiting: HashMap<String, String>,
    imports_held: Vec<String>,
}

fn string(s: &str) -> Passable {
    Passable::String(s.into())
}

impl ScriptedVat {
    fn delta(&self, sets: Vec<(String, String)>) -> DeliveryResult {
        DeliveryResult {
            delta: VatstoreDelta(sets, vec![]),
            error: None,
        }
    }

    fn resolve(&self, sys: &mut dyn Syscalls, vpid: &str, rejected: bool, value: &Passable) {
        sys.syscall(Syscall::Resolve(vec![Resolution {
            promise: vpid.into(),
            rejected,
            value: encode(value),
        }]));
    }

    fn error(message: &str) -> Passable {
        Passable::Error {
            name: "Error".into(),
            message: message.into(),
            error_id: None,
        }
    }

    fn message(&mut self, message: &Message, sys: &mut dyn Syscalls) -> DeliveryResult {
        let (method, args) = match decode(&message.methargs) {
            Ok(Passable::Array(mut parts)) if parts.len() == 2 => {
                let args = match parts.pop() {
                    Some(Passable::Array(a)) => a,
                    _ => vec![],
                };
                let method = match parts.pop() {
                    Some(Passable::String(m)) => m,
                    _ => String::new(),
                };
                (method, args)
            }
            _ => {
                return DeliveryResult {
                    error: Some("bad methargs".into()),
                    ..Default::default()
                };
            }
        };
        let result = message.result.clone().unwrap_or_default();
        let slots = &message.methargs.slots;
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
                self.next_export += 1;
                let vref = format!("o+{}", 9 + self.next_export);
                self.resolve(
                    sys,
                    &result,
                    false,
                    &Passable::Remotable {
                        slot: vref,
                        iface: Some("Alleged: Thing".into()),
                    },
                );
                self.delta(vec![])
            }
            "hold" => {
                self.imports_held.extend(slots.iter().cloned());
                self.resolve(sys, &result, false, &Passable::Undefined);
                self.delta(vec![])
            }
            "drop" => {
                let held = std::mem::take(&mut self.imports_held);
                sys.syscall(Syscall::DropImports(held.clone()));
                sys.syscall(Syscall::RetireImports(held));
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

    fn send(
        &mut self,
        sys: &mut dyn Syscalls,
        target: &str,
        method: &str,
        args: Vec<Passable>,
        answer: Option<String>,
    ) {
        self.next_promise += 1;
        let vpid = format!("p+{}", 4 + self.next_promise);
        let methargs = encode(&Passable::Array(vec![
            string(method),
            Passable::Array(args),
        ]));
        sys.syscall(Syscall::Send {
            target: target.into(),
            message: Message {
                methargs,
                result: Some(vpid.clone()),
            },
        });
        sys.syscall(Syscall::Subscribe(vpid.clone()));
        if let Some(answer) = answer {
            self.awaiting.insert(vpid, answer);
        }
    }

    fn notify(&mut self, resolutions: &[Resolution], sys: &mut dyn Syscalls) -> DeliveryResult {
        for resolution in resolutions {
            if let Some(answer) = self.awaiting.remove(&resolution.promise) {
                let value: CapData = resolution.value.clone();
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
    fn init(
        &mut self,
        state: Vec<(String, String)>,
        _sys: &mut dyn Syscalls,
        _budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        if let Some((_, count)) = state.iter().find(|(k, _)| k == "count") {
            self.count = count.parse().unwrap_or(0);
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
        match delivery {
            Delivery::Message { message, .. } => {
                if message.methargs.body.contains("\"spin\"") {
                    return Err(VatFault::Timeout(budget));
                }
                Ok(self.message(message, sys))
            }
            Delivery::Notify(resolutions) => Ok(self.notify(resolutions, sys)),
            _ => Ok(self.delta(vec![])),
        }
    }
}
