//! The built-in vat runtime: one QuickJS runtime and context per vat, on the kernel thread,
//! running the real SES shim, the real `@agoric/swingset-liveslots` and our supervisor
//! (`vat-runtime/src/supervisor.js`), all built by `build.rs` from the npm lockfile.
//!
//! The scripts run from bytecode that the first vat of the process compiles (`bytecode.rs`).
//! Rust drives the JavaScript: it calls the supervisor's prepared functions (never `eval` on
//! the hot path), then runs promise jobs and `setImmediate` callbacks until nothing is left.
//! Syscalls arrive synchronously through host functions (`host.rs`) and are handed to the
//! kernel after every job. Each init or delivery has a CPU budget (the interrupt handler), the
//! runtime a memory limit and a stack limit.

mod bundle;
mod bytecode;
mod harden;
mod host;
mod memory;
mod output;
mod remote_code;
mod scripts;
mod subtle;
mod timers;

use super::fs::FsConfig;
use super::http::{Finished, Network};
use super::{
    CreationOptions, Delivery, DeliveryResult, SetupError, Syscalls, VatFactory, VatFault,
    VatRuntime, Waker,
};
use crate::vat::budget::Budget;
use host::Host;
use memory::VatAllocator;
use rquickjs::{Context, Ctx, Function, Object, Persistent, Runtime, Value};
use serde_json::Value as Json;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Limits for each vat's QuickJS runtime.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes the runtime may allocate.
    pub memory: usize,
    /// Bytes of native stack JavaScript may use.
    pub stack: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory: 128 << 20,
            stack: 512 << 10,
        }
    }
}

/// Makes QuickJS vats.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuickJsFactory {
    /// Applied to every vat's runtime, unless its `creationOptions` say otherwise.
    pub limits: Limits,
}

impl QuickJsFactory {
    /// The limits of the vat `config` describes: ours, with its `creationOptions` applied.
    fn limits_for(&self, config: &Json) -> Result<Limits, SetupError> {
        let options = CreationOptions::from_config(config).map_err(SetupError::Refused)?;
        Ok(Limits {
            memory: options.memory_limit.unwrap_or(self.limits.memory),
            ..self.limits
        })
    }
}

impl VatFactory for QuickJsFactory {
    fn check(&self, config: &Json) -> Result<(), SetupError> {
        self.limits_for(config)?;
        Network::check(config).map_err(SetupError::Refused)?;
        FsConfig::from_config(config)
            .map(drop)
            .map_err(SetupError::Refused)
    }

    fn create(&self, vat_id: &str, config: &Json) -> Result<Box<dyn VatRuntime>, SetupError> {
        let limits = self.limits_for(config)?;
        let code = bundle::load(config).map_err(SetupError::Code)?;
        Ok(Box::new(QuickJsVat {
            vat_id: vat_id.into(),
            config: config.clone(),
            code,
            limits,
            waker: None,
            engine: None,
        }))
    }
}

/// One vat: its code until `init`, then its engine.
pub struct QuickJsVat {
    vat_id: String,
    config: Json,
    code: String,
    limits: Limits,
    waker: Option<Waker>,
    engine: Option<Engine>,
}

/// The supervisor's functions, kept across calls.
struct Supervisor {
    init: Persistent<Function<'static>>,
    deliver: Persistent<Function<'static>>,
    wake: Persistent<Function<'static>>,
    outcome: Persistent<Function<'static>>,
    run_immediates: Persistent<Function<'static>>,
}

/// A vat's QuickJS runtime with SES, liveslots and the supervisor loaded. Field order is drop
/// order: the saved functions go before the context, the context before the runtime.
pub struct Engine {
    supervisor: Supervisor,
    context: Context,
    runtime: Runtime,
    host: Rc<RefCell<Host>>,
    /// When the current call must stop; `None` between calls.
    deadline: Rc<Cell<Option<Instant>>>,
    /// Whether the interrupt handler stopped the current call.
    interrupted: Rc<Cell<bool>>,
    /// What the vat may allocate, shared by its heap's allocator and the host functions.
    budget: Arc<Budget>,
    /// The due time last given to the host's waker as its alarm.
    alarm: Option<Instant>,
}

impl Engine {
    /// A runtime with the limits applied and SES, liveslots and the supervisor evaluated.
    pub fn new(
        vat_id: &str,
        state: Vec<(String, String)>,
        limits: Limits,
    ) -> Result<Engine, VatFault> {
        let crashed = |what: &str, e: rquickjs::Error| VatFault::Crashed(format!("{what}: {e}"));
        let budget = Budget::new(limits.memory);
        let runtime = Runtime::new_with_alloc(VatAllocator::new(Arc::clone(&budget)))
            .map_err(|e| crashed("creating the QuickJS runtime", e))?;
        runtime.set_max_stack_size(limits.stack);
        let deadline = Rc::new(Cell::new(None::<Instant>));
        let interrupted = Rc::new(Cell::new(false));
        {
            let (deadline, interrupted) = (Rc::clone(&deadline), Rc::clone(&interrupted));
            runtime.set_interrupt_handler(Some(Box::new(move || match deadline.get() {
                Some(at) if Instant::now() >= at => {
                    interrupted.set(true);
                    true
                }
                _ => false,
            })));
        }
        let context = Context::full(&runtime).map_err(|e| crashed("creating the context", e))?;
        let host = Rc::new(RefCell::new(Host::new(vat_id, state, Arc::clone(&budget))));
        let supervisor = context.with(|ctx| -> Result<Supervisor, VatFault> {
            host::install(&ctx, &host).map_err(|e| crashed("installing host functions", e))?;
            host.borrow_mut().loading = true;
            for (index, (name, _)) in scripts::ALL[..scripts::EVERY_VAT].iter().enumerate() {
                bytecode::evaluate(&ctx, index).map_err(|e| {
                    VatFault::Crashed(format!("evaluating {name}: {}", describe(&ctx, e)))
                })?;
            }
            host.borrow_mut().loading = false;
            let object: Object = ctx
                .globals()
                .get("ocapSupervisor")
                .map_err(|e| crashed("finding the supervisor", e))?;
            let get = |name: &str| -> Result<Persistent<Function<'static>>, VatFault> {
                let f: Function = object
                    .get(name)
                    .map_err(|e| crashed("reading the supervisor", e))?;
                Ok(Persistent::save(&ctx, f))
            };
            Ok(Supervisor {
                init: get("init")?,
                deliver: get("deliver")?,
                wake: get("wake")?,
                outcome: get("outcome")?,
                run_immediates: get("runImmediates")?,
            })
        })?;
        Ok(Engine {
            supervisor,
            context,
            runtime,
            host,
            deadline,
            interrupted,
            budget,
            alarm: None,
        })
    }

    /// Calls `start` (a supervisor function beginning some work), then runs promise jobs and
    /// immediates until quiescent, within `budget`; syscalls go to `syscalls` as they come.
    fn run(
        &mut self,
        syscalls: &mut dyn Syscalls,
        budget: Duration,
        start: impl FnOnce(&Ctx<'_>, &Supervisor) -> rquickjs::Result<()>,
    ) -> Result<DeliveryResult, VatFault> {
        self.interrupted.set(false);
        self.budget.take_exhausted();
        self.host.borrow_mut().output.new_crank();
        self.deadline.set(Some(Instant::now() + budget));
        let outcome = self.drive(syscalls, budget, start);
        self.deadline.set(None);
        self.set_alarm();
        let error = outcome?;
        if self.budget.take_exhausted() {
            return Err(VatFault::OutOfMemory);
        }
        let mut host = self.host.borrow_mut();
        if let Some(bad) = host.bad_syscall.take() {
            return Err(VatFault::Crashed(format!("malformed syscall {bad}")));
        }
        Ok(DeliveryResult {
            delta: host.take_delta(),
            error,
        })
    }

    /// Gives the engine the waker its timers and requests ring, the vat's network and its
    /// file-system capability.
    fn connect(&mut self, waker: Option<Waker>, network: Option<Network>, fs: Option<FsConfig>) {
        let mut host = self.host.borrow_mut();
        host.waker = waker;
        host.network = network;
        host.fs = fs;
    }

    /// Runs the handlers of the timers now due and settles the requests that finished, as one
    /// delivery; nothing when there is neither.
    fn wake(
        &mut self,
        syscalls: &mut dyn Syscalls,
        budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        // The alarm that woke the vat has rung and is gone from the clock.
        self.alarm = None;
        let (due, finished) = {
            let mut host = self.host.borrow_mut();
            let due = host.timers.take_due(Instant::now());
            let finished = host.network.as_ref().map(Network::take_finished);
            (due, finished.unwrap_or_default())
        };
        if due.is_empty() && finished.is_empty() {
            self.set_alarm();
            return Ok(DeliveryResult::default());
        }
        let due: Vec<f64> = due.into_iter().map(|id| id as f64).collect();
        self.run(syscalls, budget, move |ctx, s| {
            let (outcomes, bodies) = outcomes_to_js(ctx, finished)?;
            let wake: Function = s.wake.clone().restore(ctx)?;
            wake.call::<_, ()>((due, outcomes, bodies))
        })
    }

    /// Tells the kernel's alarm clock when the first timer comes due, if that changed (an
    /// engine driven by hand has no waker).
    fn set_alarm(&mut self) {
        let host = self.host.borrow();
        let next = host.timers.next();
        if next != self.alarm
            && let Some(waker) = &host.waker
        {
            waker.alarm(next);
            self.alarm = next;
        }
    }

    /// The body of [`Engine::run`]: the supervisor's outcome, `None` when the work went well.
    fn drive(
        &mut self,
        syscalls: &mut dyn Syscalls,
        budget: Duration,
        start: impl FnOnce(&Ctx<'_>, &Supervisor) -> rquickjs::Result<()>,
    ) -> Result<Option<String>, VatFault> {
        self.context
            .with(|ctx| start(&ctx, &self.supervisor).map_err(|e| self.fault(&ctx, e, budget)))?;
        self.flush(syscalls);
        loop {
            loop {
                match self.runtime.execute_pending_job() {
                    Ok(true) => self.flush(syscalls),
                    Ok(false) => break,
                    Err(job) => {
                        return Err(job
                            .0
                            .with(|ctx| self.fault(&ctx, rquickjs::Error::Exception, budget)));
                    }
                }
            }
            let ran = self.context.with(|ctx| {
                let run: Function = self
                    .supervisor
                    .run_immediates
                    .clone()
                    .restore(&ctx)
                    .map_err(|e| self.fault(&ctx, e, budget))?;
                run.call::<_, u32>(())
                    .map_err(|e| self.fault(&ctx, e, budget))
            })?;
            self.flush(syscalls);
            if ran == 0 && !self.runtime.is_job_pending() {
                break;
            }
        }
        self.context.with(|ctx| {
            let outcome: Function = self
                .supervisor
                .outcome
                .clone()
                .restore(&ctx)
                .map_err(|e| self.fault(&ctx, e, budget))?;
            outcome
                .call::<_, Option<String>>(())
                .map_err(|e| self.fault(&ctx, e, budget))
        })
    }

    /// Hands the queued syscalls to the kernel.
    fn flush(&self, syscalls: &mut dyn Syscalls) {
        let queued = std::mem::take(&mut self.host.borrow_mut().syscalls);
        for syscall in queued {
            syscalls.syscall(syscall);
        }
    }

    /// The fault an exception out of JavaScript means: the engine's own state says whether it
    /// was interrupted or could not allocate, never the exception's text.
    fn fault(&self, ctx: &Ctx<'_>, error: rquickjs::Error, budget: Duration) -> VatFault {
        let text = describe(ctx, error);
        if self.interrupted.get() {
            VatFault::Timeout(budget)
        } else if self.budget.take_exhausted() {
            VatFault::OutOfMemory
        } else {
            VatFault::Crashed(text)
        }
    }

    /// What the vat may allocate.
    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// The runtime's current allocation, in bytes.
    pub fn memory_used(&self) -> i64 {
        self.runtime.memory_usage().malloc_size
    }
}

/// Finished requests for the supervisor's `wake`: their outcomes as JSON text (`{id, error}` or
/// `{id, status, statusText, headers, url, redirected}`), and each one's body (empty after an
/// error) in the same order, copied into the vat's heap (where the body's charge on the
/// vat's budget, given back just before, is taken again by the heap).
fn outcomes_to_js<'js>(
    ctx: &Ctx<'js>,
    finished: Vec<Finished>,
) -> rquickjs::Result<(String, Vec<rquickjs::ArrayBuffer<'js>>)> {
    let mut outcomes = Vec::with_capacity(finished.len());
    let mut bodies = Vec::with_capacity(finished.len());
    for (id, outcome, charge) in finished {
        drop(charge);
        let (json, body) = match outcome {
            Ok(r) => (
                serde_json::json!({"id": id, "status": r.status, "statusText": r.status_text,
                    "headers": r.headers, "url": r.url, "redirected": r.redirected}),
                r.body,
            ),
            Err(error) => (serde_json::json!({"id": id, "error": error}), Vec::new()),
        };
        outcomes.push(json);
        bodies.push(rquickjs::ArrayBuffer::new_copy(ctx.clone(), body)?);
    }
    Ok((Json::Array(outcomes).to_string(), bodies))
}

/// Text for an error out of QuickJS, with the pending exception's message if there is one.
fn describe(ctx: &Ctx<'_>, error: rquickjs::Error) -> String {
    if !matches!(error, rquickjs::Error::Exception) {
        return error.to_string();
    }
    let exception: Value = ctx.catch();
    if let Some(e) = exception.as_exception() {
        let message = e.message().unwrap_or_default();
        let stack = e.stack().unwrap_or_default();
        // In a vat, stacks start as V8's do, with `Name: message` (see prelude.js).
        return if stack.is_empty() {
            message
        } else if stack.lines().next().is_some_and(|l| l.ends_with(&message)) {
            stack
        } else {
            format!("{message}\n{stack}")
        };
    }
    if exception.is_null() {
        // QuickJS throws null when it runs out of memory while reporting running out of memory.
        return "out of memory".into();
    }
    exception
        .as_string()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_else(|| format!("{exception:?}"))
}

impl QuickJsVat {
    fn engine(&mut self) -> Result<&mut Engine, VatFault> {
        self.engine
            .as_mut()
            .ok_or_else(|| VatFault::Crashed("cannot deliver before vat is loaded".into()))
    }
}

impl VatRuntime for QuickJsVat {
    fn init(
        &mut self,
        state: Vec<(String, String)>,
        syscalls: &mut dyn Syscalls,
        budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        let started = Instant::now();
        let mut engine = Engine::new(&self.vat_id, state, self.limits)?;
        let network =
            Network::from_config(&self.config, engine.budget()).map_err(VatFault::Crashed)?;
        let fs = FsConfig::from_config(&self.config).map_err(VatFault::Crashed)?;
        engine.connect(self.waker.clone(), network, fs);
        let loaded = started.elapsed();
        let parameters = match self.config.get("parameters") {
            Some(p) => crate::capdata::encode_json(p),
            None => crate::capdata::encode_json(&serde_json::json!({})),
        };
        let parameters = serde_json::to_string(&parameters).expect("CapData serializes");
        let config = self.config.to_string();
        let (vat_id, code) = (self.vat_id.clone(), std::mem::take(&mut self.code));
        // The budget is the vat's: loading our runtime (SES, liveslots) is not charged to it.
        let result = engine.run(syscalls, budget, move |ctx, s| {
            let init: Function = s.init.clone().restore(ctx)?;
            init.call::<_, ()>((vat_id, config, code, parameters))
        });
        tracing::debug!(
            vat = self.vat_id,
            "QuickJS vat loaded in {loaded:?}, started in {:?}, {} KiB",
            started.elapsed(),
            engine.memory_used() / 1024
        );
        self.engine = Some(engine);
        result
    }

    fn deliver(
        &mut self,
        delivery: &Delivery,
        syscalls: &mut dyn Syscalls,
        budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        let json = delivery.to_json().to_string();
        self.engine()?.run(syscalls, budget, move |ctx, s| {
            let deliver: Function = s.deliver.clone().restore(ctx)?;
            deliver.call::<_, ()>((json,))
        })
    }

    fn attach(&mut self, waker: Waker) {
        self.waker = Some(waker);
    }

    fn wake(
        &mut self,
        syscalls: &mut dyn Syscalls,
        budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        self.engine()?.wake(syscalls, budget)
    }
}

#[cfg(test)]
mod tests;
