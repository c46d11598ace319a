//! The [`Warehouse`]: the vats loaded in memory, each on a thread of its own (as SwingSet's
//! `vat-warehouse.js` and the reference's `VatManager` keep theirs). It starts a vat from its
//! config and vatstore, runs its jobs with a deadline, puts it aside during a restart, and
//! forgets it; it also holds the per-vat bookkeeping that lives only as long as the vat is
//! loaded (its budget, its deliveries since the last `bringOutYourDead`) and the alarm clock
//! that wakes vats. It knows nothing of kv keys: the kernel applies what a job did.

use super::options::KernelOptions;
use crate::vat::{
    CreationOptions, Job, Overrun, Ran, SetupError, Stuck, VatFactory, VatFault, VatThread, Wakeups,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How much longer than its budget the kernel waits for a delivery before abandoning the vat:
/// the runtime enforces the budget itself, so this is only reached inside a native call.
const DELIVERY_GRACE: Duration = Duration::from_millis(500);
/// How much longer than its budget the kernel waits for a vat to start: loading its code and
/// our runtime (SES, liveslots) is not charged to the vat.
const START_GRACE: Duration = Duration::from_secs(20);
/// At most this many abandoned vat threads may still run before no new vat starts: each
/// holds up to its memory limit and a share of the CPU until its native call returns.
const MAX_STUCK: usize = 8;

/// One loaded vat.
pub struct Loaded {
    thread: VatThread,
    budget: Duration,
    deliveries: u32,
}

/// The running vats and their bookkeeping.
pub struct Warehouse {
    factory: Arc<dyn VatFactory>,
    loaded: HashMap<String, Loaded>,
    options: KernelOptions,
    wakeups: Wakeups,
    stuck: Stuck,
    /// Whether the last crank was a wake (see [`Warehouse::take_awake`]).
    woke_last: bool,
}

impl Warehouse {
    /// An empty warehouse whose vats `factory` makes.
    pub fn new(factory: Box<dyn VatFactory>, options: KernelOptions) -> Warehouse {
        Warehouse {
            factory: Arc::from(factory),
            loaded: HashMap::new(),
            options,
            wakeups: Wakeups::default(),
            stuck: Stuck::default(),
            woke_last: false,
        }
    }

    /// Why a vat with `config` cannot run, found before anything starts (at launch).
    pub fn check(&self, config: &Value) -> Result<(), SetupError> {
        self.factory.check(config)
    }

    /// The loaded vats, in id order.
    #[cfg(test)]
    pub fn loaded(&self) -> Vec<String> {
        let mut vats: Vec<String> = self.loaded.keys().cloned().collect();
        vats.sort();
        vats
    }

    /// Deliveries between `bringOutYourDead`s (also the pace of those sent to remotes).
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub fn reap_interval(&self) -> u32 {
        self.options.reap_interval
    }

    /// Whether `vat` is loaded.
    pub fn is_loaded(&self, vat: &str) -> bool {
        self.loaded.contains_key(vat)
    }

    /// Loads `vat` and runs its `initVat` with its stored vatstore. The vat stays loaded
    /// whatever the outcome (the kernel judges it and [`Warehouse::forget`]s a vat that failed),
    /// unless its thread could not even start or it overran.
    pub fn load(
        &mut self,
        vat: &str,
        config: &Value,
        vatstore: Vec<(String, String)>,
    ) -> Result<Ran, VatFault> {
        let stuck = self.stuck.count();
        if stuck >= MAX_STUCK {
            return Err(VatFault::Crashed(format!(
                "{stuck} vats are stuck in native code past their budgets; \
                 no vat starts until some of them end"
            )));
        }
        let options = CreationOptions::from_config(config).map_err(VatFault::Crashed)?;
        let budget = options
            .delivery_timeout
            .unwrap_or(self.options.delivery_budget);
        let (factory, id, config) = (Arc::clone(&self.factory), vat.to_string(), config.clone());
        let waker = self.wakeups.waker(vat);
        let thread = VatThread::spawn(vat, &self.stuck, move || {
            let mut runtime = factory.create(&id, &config)?;
            runtime.attach(waker);
            Ok(runtime)
        })
        .map_err(|e| VatFault::Crashed(e.to_string()))?;
        let ran = thread
            .run(Job::Init(vatstore), budget, budget * 2 + START_GRACE)
            .map_err(|Overrun(_)| VatFault::Timeout(budget))?;
        self.loaded.insert(
            vat.to_string(),
            Loaded {
                thread,
                budget,
                deliveries: 0,
            },
        );
        Ok(ran)
    }

    /// Runs a delivery or a wake on a loaded vat; `None` if it is not loaded. A vat that
    /// overruns is abandoned and forgotten here: its fault is a timeout.
    pub fn run(&mut self, vat: &str, job: Job) -> Option<Ran> {
        let loaded = self.loaded.get(vat)?;
        let budget = loaded.budget;
        match loaded.thread.run(job, budget, budget * 2 + DELIVERY_GRACE) {
            Ok(ran) => Some(ran),
            Err(Overrun(waited)) => {
                tracing::warn!(vat, "abandoned after {waited:?}: stuck in a native call");
                self.forget(vat);
                Some(Ran {
                    syscalls: Vec::new(),
                    result: Err(VatFault::Timeout(budget)),
                })
            }
        }
    }

    /// Drops `vat`'s runtime (on its own thread) and everything kept for it.
    pub fn forget(&mut self, vat: &str) {
        self.loaded.remove(vat);
    }

    /// Takes `vat` out while a new incarnation is tried (`restartVat`).
    pub fn set_aside(&mut self, vat: &str) -> Option<Loaded> {
        self.loaded.remove(vat)
    }

    /// Puts back a vat set aside, replacing whatever was loaded meanwhile.
    pub fn put_back(&mut self, vat: &str, loaded: Loaded) {
        self.loaded.insert(vat.to_string(), loaded);
    }

    /// Forgets every vat (`clearState`, a lost batch).
    pub fn clear(&mut self) {
        self.loaded.clear();
    }

    /// Counts a delivery to `vat`; whether it is now due for `bringOutYourDead` (every
    /// `reap_interval` deliveries), which restarts the count.
    pub fn count_delivery(&mut self, vat: &str) -> bool {
        let Some(loaded) = self.loaded.get_mut(vat) else {
            return false;
        };
        loaded.deliveries += 1;
        if loaded.deliveries >= self.options.reap_interval {
            loaded.deliveries = 0;
            return true;
        }
        false
    }

    /// A loaded vat that was woken, no longer marked awake (woken vats no longer loaded are
    /// passed over), if it is the wakes' turn: while messages wait in the run queue
    /// (`queue_waits`), wakes and messages take turns, so a vat whose timers keep it awake
    /// cannot hold the queue back, nor a busy queue the timers.
    pub fn take_awake(&mut self, queue_waits: bool) -> Option<String> {
        if queue_waits && self.woke_last {
            self.woke_last = false;
            return None;
        }
        let mut woken = None;
        while let Some(vat) = self.wakeups.take_awake() {
            if self.is_loaded(&vat) {
                woken = Some(vat);
                break;
            }
        }
        self.woke_last = woken.is_some();
        woken
    }

    /// Sets what tells the kernel loop that a vat was woken (it may be called from any thread).
    pub fn on_wake(&self, poke: impl Fn() + Send + Sync + 'static) {
        self.wakeups.set_poke(poke);
    }

    /// Whether a vat was woken and has not had its crank yet.
    pub fn is_woken(&self) -> bool {
        self.wakeups.any_awake()
    }

    /// Whether no vat waits for a timer or for work started outside the kernel.
    pub fn is_quiet(&self) -> bool {
        self.wakeups.is_quiet()
    }
}
