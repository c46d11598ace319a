//! The [`Kernel`]: state, running vats, and the waiters for results that RPC callers await.
//! Its behaviour is spread over one file per concern (`crank`, `router`, `syscall`, …); this
//! file holds the struct, start-up and the output-commit discipline.

use super::identity::Identity;
use super::state::State;
use super::store::Store;
use super::{KernelError, Status, status};
use crate::capdata::CapData;
use crate::vat::{VatFactory, VatRuntime, Wakeups};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Tunables of the kernel.
#[derive(Debug, Clone, Copy)]
pub struct KernelOptions {
    /// How long one delivery may take before the vat is terminated.
    pub delivery_budget: Duration,
    /// After this many deliveries a vat gets `bringOutYourDead`, so vat-level GC runs.
    pub reap_interval: u32,
}

impl Default for KernelOptions {
    fn default() -> KernelOptions {
        KernelOptions {
            // The default: generous for any real delivery (a few ms), short enough that
            // a looping vat is stopped before its callers give up.
            delivery_budget: Duration::from_secs(2),
            reap_interval: 100,
        }
    }
}

/// How a settled promise looks to whoever awaited it.
pub type Settlement = Result<CapData, CapData>;

/// Someone outside the kernel awaiting a promise (an RPC caller). Called after the commit that
/// settled it, so nothing is released before it is durable.
pub type Waiter = Box<dyn FnOnce(&mut Kernel, Settlement) + Send>;

/// The kernel proper. Owned by the kernel thread.
pub struct Kernel {
    pub(super) state: State,
    pub(super) factory: Box<dyn VatFactory>,
    pub(super) running: HashMap<String, Box<dyn VatRuntime>>,
    pub(super) options: KernelOptions,
    /// Promises that RPC callers await, with their callbacks.
    pub(super) waiters: BTreeMap<String, Vec<Waiter>>,
    /// Awaited promises settled by the current crank; fired only if it commits.
    pub(super) settled: Vec<String>,
    /// Work to do once the current batch transaction has committed (RPC replies).
    pub(super) after_commit: Vec<Box<dyn FnOnce() + Send>>,
    pub(super) deliveries_since_reap: HashMap<String, u32>,
    /// The peer id and key OCAP URLs are issued under.
    pub(super) identity: Identity,
    /// Each started vat's budget per delivery: its `creationOptions.deliveryTimeoutMs`, else
    /// `options.delivery_budget` (set when it starts, see [`Kernel::budget`]).
    pub(super) budgets: HashMap<String, Duration>,
    /// Vats woken outside deliveries (timers, finished outside work), and their alarms.
    pub(super) wakeups: Wakeups,
}

impl Kernel {
    /// A kernel over an opened database: initializes a fresh one, restores an existing one
    /// (releasing what waiters that died in a crash held, and what the vats' lost heaps held).
    pub fn new(
        store: Store,
        factory: Box<dyn VatFactory>,
        options: KernelOptions,
    ) -> Result<Kernel, KernelError> {
        let mut state = State::new(store);
        state.initialize()?;
        state.store().begin()?;
        let identity = super::identity::load_or_create(state.store())?;
        state.commit()?;
        let mut kernel = Kernel {
            state,
            factory,
            running: HashMap::new(),
            options,
            waiters: BTreeMap::new(),
            settled: Vec::new(),
            after_commit: Vec::new(),
            deliveries_since_reap: HashMap::new(),
            identity,
            budgets: HashMap::new(),
            wakeups: Wakeups::default(),
        };
        kernel.release_dead_waiters()?;
        kernel.forget_every_heap()?;
        Ok(kernel)
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

    /// How long each delivery to `vat` may take.
    pub(super) fn budget(&self, vat: &str) -> Duration {
        self.budgets
            .get(vat)
            .copied()
            .unwrap_or(self.options.delivery_budget)
    }

    /// The kernel's state (for tests and status).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The status of spec §2.1, read from committed or current state.
    pub fn status(&self) -> Result<Status, KernelError> {
        status::read(&self.state)
    }

    /// Commits the batch transaction, then releases everything that waited for it.
    pub fn commit(&mut self) -> Result<(), KernelError> {
        self.commit_then(|_| {})
    }

    /// Commits, runs `publish` (so that the published status includes this commit before any
    /// caller hears back), then releases everything that waited for the commit.
    pub fn commit_then(&mut self, publish: impl FnOnce(&Kernel)) -> Result<(), KernelError> {
        self.state.commit()?;
        publish(self);
        for release in std::mem::take(&mut self.after_commit) {
            release();
        }
        Ok(())
    }

    /// Whether replies wait for the next commit.
    pub fn has_replies(&self) -> bool {
        !self.after_commit.is_empty()
    }

    /// Runs `work` in its own savepoint: kept if it succeeds, undone if it fails.
    pub(super) fn atomically<T>(
        &mut self,
        work: impl FnOnce(&mut Kernel) -> Result<T, KernelError>,
    ) -> Result<T, KernelError> {
        self.state.begin_crank()?;
        match work(self) {
            Ok(value) => {
                self.state.commit_crank()?;
                self.fire_settled_waiters();
                Ok(value)
            }
            Err(e) => {
                self.settled.clear();
                self.state.abort_crank()?;
                Err(e)
            }
        }
    }

    /// Gives the store back (to close it).
    pub fn into_store(self) -> Store {
        self.state.into_store()
    }
}
