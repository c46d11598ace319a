//! The kernel alone, in-process, with trivial native (Rust) vats and durable commits: what the
//! kernel itself costs per message and per crank, apart from sockets and the JavaScript runtime.

use crate::Scale;
use crate::report::{Figure, p50_p99};
use ocap::capdata::{Passable, decode_methargs, encode};
use ocap::kernel::store::{Store, open};
use ocap::kernel::{Call, Kernel, KernelOptions, LaunchPlan, Reply};
use ocap::vat::{
    Delivery, DeliveryResult, Message, Resolution, Syscall, Syscalls, VatFactory, VatFault,
    VatRuntime,
};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn cases(scale: &Scale, out: &mut dyn FnMut(Figure)) {
    let n = scale.messages;
    let (mut p50s, mut rates, mut concurrent, mut cranks) = (vec![], vec![], vec![], vec![]);
    for _ in 0..scale.heavy_runs {
        let mut bench = Bench::new();
        let mut samples: Vec<f64> = (0..n)
            .map(|_| {
                let started = Instant::now();
                bench.ping();
                started.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        let total: f64 = samples.iter().sum();
        p50s.push(p50_p99(&mut samples).0);
        rates.push(n as f64 / (total / 1e6));
        // Eight callers at once: their calls and cranks share one commit, as in the daemon.
        let started = Instant::now();
        for _ in 0..n / 8 {
            bench.ping_concurrently(8);
        }
        concurrent.push((n / 8 * 8) as f64 / started.elapsed().as_secs_f64());
        cranks.push(rally(n as u64));
    }
    out(Figure::of(
        "kernel alone: queueMessage, one commit each, p50",
        "µs",
        p50s,
    ));
    out(Figure::of(
        "kernel alone: queueMessage, one commit each",
        "msg/s",
        rates,
    ));
    out(Figure::of(
        "kernel alone: queueMessage, 8 concurrent callers",
        "msg/s",
        concurrent,
    ));
    out(Figure::of(
        "kernel alone: vat-to-vat crank (awaited ping-pong)",
        "µs",
        cranks,
    )
    .target("< 20"));
}

/// Microseconds per crank of `rounds` awaited pings between two native vats, one commit.
fn rally(rounds: u64) -> f64 {
    let mut bench = Bench::new();
    let started = Instant::now();
    let answer = bench
        .call(Call::QueueMessage {
            target: "ko4".into(),
            method: "rally".into(),
            args: vec![json!(rounds)],
        })
        .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(answer["body"], "#\"done\"");
    // Each round is two cranks: the ping to b, and the notify of its answer to a.
    elapsed * 1e6 / (2 * rounds) as f64
}

/// A vat that answers `ping` with `pong`, and on `rally(n)` pings its peer `n` times in a row,
/// each ping sent when the previous answer arrives (awaited, vat to vat).
#[derive(Default)]
struct PingVat {
    peer: Option<String>,
    next_promise: u64,
    remaining: u64,
    answer: Option<String>,
}

impl PingVat {
    fn ping_peer(&mut self, sys: &mut dyn Syscalls) {
        self.next_promise += 1;
        let vpid = format!("p+{}", 4 + self.next_promise);
        let methargs = encode(&Passable::Array(vec![
            Passable::String("ping".into()),
            Passable::Array(vec![]),
        ]));
        let target = self.peer.clone().expect("bootstrap gave a peer");
        sys.syscall(Syscall::Send {
            target,
            message: Message {
                methargs,
                result: Some(vpid.clone()),
            },
        });
        sys.syscall(Syscall::Subscribe(vpid));
    }
}

fn resolve(sys: &mut dyn Syscalls, vpid: &str, value: &str) {
    let value = encode(&Passable::String(value.into()));
    sys.syscall(Syscall::Resolve(vec![Resolution {
        promise: vpid.into(),
        rejected: false,
        value,
    }]));
}

impl VatRuntime for PingVat {
    fn init(
        &mut self,
        _state: Vec<(String, String)>,
        _sys: &mut dyn Syscalls,
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
        match delivery {
            Delivery::Message { message, .. } => {
                let (method, args) = decode_methargs(&message.methargs).unwrap_or_default();
                let result = message.result.clone().unwrap_or_default();
                match method.as_str() {
                    "bootstrap" => {
                        if let Some(Passable::Record(roots)) = args.first()
                            && let Some(Passable::Remotable { slot, .. }) = roots.get("b")
                        {
                            self.peer = Some(slot.clone());
                        }
                        resolve(sys, &result, "ready");
                    }
                    "rally" => {
                        self.remaining = match args.first() {
                            Some(Passable::Number(n)) => *n as u64,
                            _ => 1,
                        };
                        self.answer = Some(result);
                        self.ping_peer(sys);
                    }
                    _ => resolve(sys, &result, "pong"),
                }
            }
            Delivery::Notify(_) => {
                self.remaining -= 1;
                if self.remaining == 0 {
                    let answer = self.answer.take().unwrap_or_default();
                    resolve(sys, &answer, "done");
                } else {
                    self.ping_peer(sys);
                }
            }
            _ => {}
        }
        Ok(DeliveryResult::default())
    }
}

struct Factory;

impl VatFactory for Factory {
    fn create(
        &self,
        _vat_id: &str,
        _config: &Value,
    ) -> Result<Box<dyn VatRuntime>, ocap::vat::SetupError> {
        Ok(Box::new(PingVat::default()))
    }
}

struct Bench {
    kernel: Kernel,
    _dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(open(&dir.path().join("kernel.sqlite")).unwrap());
        let kernel = Kernel::new(store, Box::new(Factory), KernelOptions::default()).unwrap();
        let mut bench = Bench { kernel, _dir: dir };
        let vats = vec![
            ("a".to_string(), json!({"bundleSpec": "native:ping"})),
            ("b".to_string(), json!({"bundleSpec": "native:ping"})),
        ];
        let raw = json!({"bootstrap": "a", "vats": {"a": vats[0].1, "b": vats[1].1}});
        bench
            .call(Call::Launch(LaunchPlan {
                raw,
                bootstrap: "a".into(),
                vats,
                services: vec![],
                io: Vec::new(),
            }))
            .unwrap();
        bench
    }

    /// One call, run to completion, committed (durably: synchronous=FULL).
    fn call(&mut self, call: Call) -> Result<Value, String> {
        let slot = Arc::new(Mutex::new(None));
        let answer = Arc::clone(&slot);
        self.kernel.call(
            call,
            Reply::code(move |a| *answer.lock().unwrap() = Some(a.map_err(|e| e.to_string()))),
        );
        while self.kernel.crank().unwrap() {}
        self.kernel.commit().unwrap();
        let answer = slot.lock().unwrap().take();
        answer.unwrap()
    }

    fn ping(&mut self) {
        self.call(Call::QueueMessage {
            target: "ko5".into(),
            method: "ping".into(),
            args: vec![],
        })
        .unwrap();
    }

    /// `callers` calls queued together, run, and committed once.
    fn ping_concurrently(&mut self, callers: usize) {
        let answers = Arc::new(Mutex::new(0));
        for _ in 0..callers {
            let answers = Arc::clone(&answers);
            let call = Call::QueueMessage {
                target: "ko5".into(),
                method: "ping".into(),
                args: vec![],
            };
            self.kernel.call(
                call,
                Reply::code(move |a| {
                    a.unwrap();
                    *answers.lock().unwrap() += 1;
                }),
            );
        }
        while self.kernel.crank().unwrap() {}
        self.kernel.commit().unwrap();
        assert_eq!(*answers.lock().unwrap(), callers);
    }
}
