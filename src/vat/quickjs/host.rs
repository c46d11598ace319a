//! What the vat's JavaScript reaches in Rust (`globalThis.ocapHost`, taken by the supervisor):
//! the vatstore, the syscall queue, the log, the collector, randomness, timers, requests, Web
//! Crypto's primitives (`subtle.rs`), and the `URL` script.

use super::output::{self, Output};
use crate::vat::budget::Budget;
use crate::vat::fs::FsConfig;
use crate::vat::http::{Network, Request};
use crate::vat::{Syscall, VatstoreDelta, Waker};
use rquickjs::{ArrayBuffer, Ctx, Function, Object};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// The host side of one vat, shared by the host functions.
pub struct Host {
    /// Vat id, for log lines.
    pub vat_id: String,
    /// The vatstore: seeded by `initVat`, changed by the vat.
    vatstore: BTreeMap<String, String>,
    /// This delivery's changes: `Some(value)` set, `None` deleted.
    changes: HashMap<String, Option<String>>,
    /// Syscalls made and not yet handed to the kernel.
    pub syscalls: Vec<Syscall>,
    /// The first malformed syscall of this delivery.
    pub bad_syscall: Option<String>,
    /// The vat's pending timers.
    pub timers: super::timers::Timers,
    /// The vat's network, if it asked for `fetch`.
    pub network: Option<Network>,
    /// The vat's file-system capability, if its `platformConfig` asks for one.
    pub fs: Option<FsConfig>,
    /// Rings the kernel when the vat has something to do outside deliveries.
    pub waker: Option<Waker>,
    /// While SES locks down: its report of the non-standard intrinsics it removes from QuickJS
    /// is expected on every start, so it is logged at debug level.
    pub loading: bool,
    /// The vat's log output and its budget for the crank.
    pub output: Output,
    /// What the vat may allocate, its heap and the host's buffers for it together.
    pub budget: Arc<Budget>,
}

impl Host {
    /// A host for `vat_id` whose vatstore starts as `state`, allocating within `budget`.
    pub fn new(vat_id: &str, state: Vec<(String, String)>, budget: Arc<Budget>) -> Host {
        Host {
            vat_id: vat_id.into(),
            vatstore: state.into_iter().collect(),
            changes: HashMap::new(),
            syscalls: Vec::new(),
            bad_syscall: None,
            timers: Default::default(),
            network: None,
            fs: None,
            waker: None,
            loading: false,
            output: Default::default(),
            budget,
        }
    }

    /// The vatstore changes since the last call, as `[sets, deletes]` in key order.
    pub fn take_delta(&mut self) -> VatstoreDelta {
        let mut changes: Vec<(String, Option<String>)> = self.changes.drain().collect();
        changes.sort();
        let mut delta = VatstoreDelta::default();
        for (key, value) in changes {
            match value {
                Some(value) => delta.0.push((key, value)),
                None => delta.1.push(key),
            }
        }
        delta
    }

    fn syscall(&mut self, json: &str) {
        let parsed = serde_json::from_str(json)
            .map_err(|e| e.to_string())
            .and_then(|v| Syscall::from_json(&v));
        match parsed {
            Ok(syscall) => self.syscalls.push(syscall),
            Err(e) => {
                self.bad_syscall.get_or_insert(format!("{e}: {json}"));
            }
        }
    }

    /// Starts request `id` (`json`: a [`Request`] without its body) on the vat's network.
    fn start_fetch(&self, id: u64, json: &str, body: Option<Vec<u8>>) -> Result<(), String> {
        let network = self.network.as_ref().ok_or("this vat has no network")?;
        let mut request: Request =
            serde_json::from_str(json).map_err(|e| format!("malformed request: {e}"))?;
        request.body = body;
        tracing::debug!(
            vat = self.vat_id,
            "fetch {} {}",
            request.method,
            request.url
        );
        network.start(id, request, self.waker.clone())
    }

    fn log(&mut self, source: &str, level: &str, text: &str, tags: &str) {
        let level = if self.loading {
            tracing::Level::DEBUG
        } else {
            output::level(level)
        };
        let source = output::Source::parse(source);
        self.output.write(&self.vat_id, source, level, tags, text);
    }
}

/// Installs `globalThis.ocapHost` over `host`.
pub fn install(ctx: &Ctx<'_>, host: &Rc<RefCell<Host>>) -> rquickjs::Result<()> {
    let object = Object::new(ctx.clone())?;
    let h = Rc::clone(host);
    object.set(
        "syscall",
        Function::new(ctx.clone(), move |json: String| {
            h.borrow_mut().syscall(&json)
        })?,
    )?;
    let h = Rc::clone(host);
    object.set(
        "vatstoreGet",
        Function::new(ctx.clone(), move |key: String| {
            h.borrow().vatstore.get(&key).cloned()
        })?,
    )?;
    let h = Rc::clone(host);
    object.set(
        "vatstoreGetNextKey",
        Function::new(ctx.clone(), move |prior: String| {
            h.borrow()
                .vatstore
                .range::<String, _>((Bound::Excluded(&prior), Bound::Unbounded))
                .next()
                .map(|(k, _)| k.clone())
        })?,
    )?;
    let h = Rc::clone(host);
    object.set(
        "vatstoreSet",
        Function::new(ctx.clone(), move |key: String, value: String| {
            let mut host = h.borrow_mut();
            host.vatstore.insert(key.clone(), value.clone());
            host.changes.insert(key, Some(value));
        })?,
    )?;
    let h = Rc::clone(host);
    object.set(
        "vatstoreDelete",
        Function::new(ctx.clone(), move |key: String| {
            let mut host = h.borrow_mut();
            host.vatstore.remove(&key);
            host.changes.insert(key, None);
        })?,
    )?;
    let h = Rc::clone(host);
    object.set(
        "log",
        Function::new(
            ctx.clone(),
            move |source: String, level: String, text: String, tags: String| {
                h.borrow_mut().log(&source, &level, &text, &tags)
            },
        )?,
    )?;
    let h = Rc::clone(host);
    object.set(
        "timerArm",
        Function::new(ctx.clone(), move |ctx: Ctx<'_>, id: f64, ms: f64| {
            let after = Duration::from_millis(ms as u64);
            h.borrow_mut()
                .timers
                .arm(id as u64, after)
                .map_err(|e| rquickjs::Exception::throw_range(&ctx, &e))
        })?,
    )?;
    let h = Rc::clone(host);
    object.set(
        "timerClear",
        Function::new(ctx.clone(), move |id: f64| {
            h.borrow_mut().timers.clear(id as u64)
        })?,
    )?;
    let h = Rc::clone(host);
    object.set(
        "fetchStart",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'_>, id: f64, json: String, body: Option<ArrayBuffer<'_>>| {
                // SAFETY: no JavaScript runs while the slice lives: it is copied at once.
                let body = body
                    .as_ref()
                    .and_then(|b| unsafe { b.as_bytes() }.map(<[u8]>::to_vec));
                h.borrow()
                    .start_fetch(id as u64, &json, body)
                    .map_err(|e| rquickjs::Exception::throw_type(&ctx, &e))
            },
        )?,
    )?;
    install_fs(ctx, &object, host)?;
    object.set("randomBytes", Function::new(ctx.clone(), random_bytes)?)?;
    let budget = Arc::clone(&host.borrow().budget);
    super::subtle::install(ctx, &object, &budget)?;
    object.set(
        "loadUrl",
        Function::new(ctx.clone(), |ctx: Ctx<'_>| {
            super::bytecode::evaluate(&ctx, super::scripts::URL_SCRIPT)
        })?,
    )?;
    object.set(
        "gc",
        Function::new(ctx.clone(), |ctx: Ctx<'_>| ctx.run_gc())?,
    )?;
    super::harden::install(ctx, &object)?;
    ctx.globals().set("ocapHost", object)
}

/// `fsExists`, `fsRead` and `fsAccess`: the platform's `fs` (see `vat::fs`); each throws when
/// the vat's config did not turn it on.
fn install_fs<'js>(
    ctx: &Ctx<'js>,
    object: &Object<'js>,
    host: &Rc<RefCell<Host>>,
) -> rquickjs::Result<()> {
    fn with_fs<T>(
        ctx: &Ctx<'_>,
        host: &Rc<RefCell<Host>>,
        allowed: impl Fn(&FsConfig) -> bool,
        work: impl FnOnce(&FsConfig) -> Result<T, String>,
    ) -> rquickjs::Result<T> {
        let host = host.borrow();
        let fs = host.fs.as_ref().filter(|fs| allowed(fs));
        let fs = fs.ok_or_else(|| {
            rquickjs::Exception::throw_type(ctx, "this vat's platformConfig does not allow it")
        })?;
        work(fs).map_err(|e| rquickjs::Exception::throw_message(ctx, &e))
    }
    let h = Rc::clone(host);
    object.set(
        "fsExists",
        Function::new(ctx.clone(), move |ctx: Ctx<'_>, path: String| {
            with_fs(&ctx, &h, |fs| fs.exists_sync, |fs| fs.exists(&path))
        })?,
    )?;
    let h = Rc::clone(host);
    object.set(
        "fsRead",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, path: String| -> rquickjs::Result<ArrayBuffer<'js>> {
                let bytes = with_fs(&ctx, &h, |fs| fs.read_file, |fs| fs.read(&path))?;
                ArrayBuffer::new_copy(ctx, bytes)
            },
        )?,
    )?;
    let h = Rc::clone(host);
    object.set(
        "fsAccess",
        Function::new(ctx.clone(), move |ctx: Ctx<'_>, path: String| {
            with_fs(&ctx, &h, |fs| fs.access, |fs| fs.access(&path))
        })?,
    )
}

/// `count` bytes of the OS's randomness (for the `crypto`, `Math` and `Date` endowments);
/// an exception if the OS has none to give, rather than anything predictable.
fn random_bytes<'js>(ctx: Ctx<'js>, count: usize) -> rquickjs::Result<ArrayBuffer<'js>> {
    let mut bytes = vec![0u8; count.min(1 << 16)];
    crate::random::fill(&mut bytes).map_err(|e| {
        rquickjs::Exception::throw_internal(&ctx, &format!("no randomness from the OS: {e}"))
    })?;
    ArrayBuffer::new_copy(ctx, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_hold_the_last_change_per_key() {
        let mut host = Host::new("v1", vec![("a".into(), "1".into())], Budget::new(1 << 20));
        host.changes.insert("b".into(), Some("2".into()));
        host.changes.insert("a".into(), None);
        assert_eq!(
            host.take_delta(),
            VatstoreDelta(vec![("b".into(), "2".into())], vec!["a".into()])
        );
        assert_eq!(host.take_delta(), VatstoreDelta::default());
    }
}
