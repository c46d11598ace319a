//! The [`Kernel`] itself: the owners of its state put together, its start-up, and the commit
//! discipline. Each piece of in-memory state has one owner type (DESIGN.md "Owners of the
//! kernel's in-memory state"): the keepers ([`State`]) own every kv key, the [`Waiters`] the
//! callers awaiting promises, the [`Outbox`] what may leave only after a commit, the
//! [`IoChannels`] the open IO channels. The kernel's behaviour is spread over one file per
//! concern (`crank`, `router`, `syscall`, …), which call these owners.

use super::error::KernelError;
use super::identity::Identity;
use super::io::IoChannels;
use super::options::{KernelOptions, RemoteSettings};
use super::outbox::{Outbox, Reply};
use super::state::State;
use super::store::Store;
use super::waiters::{Settlement, Waiters};
use super::warehouse::Warehouse;
use super::{Status, status};
use crate::vat::VatFactory;
use serde_json::Value;

/// Someone outside the kernel awaiting a promise (an RPC caller): where the answer goes, and what
/// the answer is made of the settlement. Fired after the commit that settled it, so nothing is
/// released before it is durable (`awaiting.rs`).
pub struct Waiter {
    /// Where the answer goes.
    pub(super) reply: Reply,
    /// Makes the answer of the settlement.
    pub(super) make_answer: MakeAnswer,
}

/// How a [`Waiter`] makes its answer of a settlement, on the kernel thread.
pub type MakeAnswer = Box<dyn FnOnce(&mut Kernel, Settlement) -> Result<Value, KernelError> + Send>;

/// The kernel proper. Owned by the kernel thread.
pub struct Kernel {
    /// The persistent state: every kv key.
    pub(super) state: State,
    /// The running vats.
    pub(super) warehouse: Warehouse,
    /// The callers awaiting promises.
    pub(super) waiters: Waiters<Waiter>,
    /// What leaves the kernel once the batch commits.
    pub(super) outbox: Outbox,
    /// The peer id and key OCAP URLs are issued under.
    pub(super) identity: Identity,
    /// The open IO channels.
    pub(super) io: IoChannels,
    /// Remote comms: the network node, the delivery sessions, the peers' state.
    #[cfg(feature = "remote")]
    pub(super) remotes: super::remotes::Remotes,
    /// Whether the store failed (a full disk, an I/O error) since the last commit: then the
    /// whole batch must be given up, as SQLite may already have rolled it back.
    store_failed: Option<String>,
    /// Whether a batch was given up and the kernel has not yet been brought back in line with
    /// its database (see [`Kernel::repair`]).
    needs_repair: bool,
}

impl Kernel {
    /// A kernel over an opened database: initializes a fresh one, restores an existing one
    /// (releasing what waiters that died in a crash held, and what the vats' lost heaps held).
    pub fn new(
        store: Store,
        factory: Box<dyn VatFactory>,
        options: KernelOptions,
    ) -> Result<Kernel, KernelError> {
        Kernel::with_remote_settings(store, factory, options, RemoteSettings::default())
    }

    /// [`Kernel::new`] with how remote comms run, should they be started (they start by
    /// themselves, if initialized before, once [`Kernel::resume_remote_comms`] is called).
    pub fn with_remote_settings(
        store: Store,
        factory: Box<dyn VatFactory>,
        options: KernelOptions,
        remote: RemoteSettings,
    ) -> Result<Kernel, KernelError> {
        #[cfg(not(feature = "remote"))]
        let _ = remote;
        let mut state = State::new(store);
        state.initialize()?;
        state.begin()?;
        let identity = super::identity::load_or_create(&state)?;
        state.commit()?;
        let mut kernel = Kernel {
            state,
            warehouse: Warehouse::new(factory, options),
            waiters: Waiters::default(),
            outbox: Outbox::default(),
            identity,
            io: IoChannels::default(),
            #[cfg(feature = "remote")]
            remotes: super::remotes::Remotes::new(remote),
            store_failed: None,
            needs_repair: false,
        };
        kernel.release_dead_waiters()?;
        kernel.forget_every_heap()?;
        kernel.restore_io()?;
        Ok(kernel)
    }

    /// Sets what tells the kernel loop that a vat was woken or an IO channel has input (it
    /// may be called from any thread).
    pub fn on_wake(&self, poke: impl Fn() + Send + Sync + 'static) {
        let poke = std::sync::Arc::new(poke);
        let again = std::sync::Arc::clone(&poke);
        self.warehouse.on_wake(move || poke());
        self.io.on_wake(move || again());
    }

    /// Whether a vat was woken, or an IO channel has input, that has not had its crank yet.
    pub fn is_woken(&self) -> bool {
        self.warehouse.is_woken() || self.io_ready()
    }

    /// Whether no vat waits for a timer or for work started outside the kernel, no IO channel
    /// is open (it waits for clients), and no remote comms run (a daemon that stopped when idle
    /// would drop its peers).
    pub fn is_quiet(&self) -> bool {
        #[cfg(feature = "remote")]
        if self.remotes.is_running() {
            return false;
        }
        self.warehouse.is_quiet() && self.io.is_empty()
    }

    /// Sets where the network node's events go (the kernel thread's command channel), then
    /// starts remote comms if they were initialized before or the settings say so.
    #[cfg(feature = "remote")]
    pub fn resume_remote_comms(&mut self, sink: super::remotes::Sink) {
        self.remotes.set_sink(sink);
        self.resume_remotes();
    }

    /// Handles an event of the network node (generation `generation`).
    #[cfg(feature = "remote")]
    pub fn network_event(&mut self, generation: u64, event: crate::remote::node::NetEvent) {
        self.remote_event(generation, event);
    }

    /// The identity OCAP URLs are issued under.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The kernel's state (for tests and status).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The status of spec §2.1, read from committed or current state.
    pub fn status(&self) -> Result<Status, KernelError> {
        #[allow(unused_mut)]
        let mut status = status::read(&self.state)?;
        #[cfg(feature = "remote")]
        if let Some((peer_id, listen_addresses)) = self.remote_status() {
            status.remote_comms = super::RemoteComms::Connected {
                peer_id,
                listen_addresses,
            };
        }
        Ok(status)
    }

    /// Commits the batch transaction, then releases everything that waited for it.
    pub fn commit(&mut self) -> Result<(), KernelError> {
        self.commit_then(|_| {})
    }

    /// Commits, runs `publish` (so that the published status includes this commit before any
    /// caller hears back), then releases everything that waited for it.
    pub fn commit_then(&mut self, publish: impl FnOnce(&Kernel)) -> Result<(), KernelError> {
        self.state.commit()?;
        publish(self);
        self.outbox.release();
        #[cfg(feature = "remote")]
        {
            self.remotes.release();
            self.restart_remotes_if_asked();
        }
        Ok(())
    }

    /// How the store failed since the last commit, if it did (see [`Kernel::lose_batch`]).
    pub fn store_failure(&self) -> Option<&str> {
        self.store_failed.as_deref()
    }

    /// Notes a failure of the store itself, as opposed to a refusal or a malformed value.
    pub fn note_failure(&mut self, error: &KernelError) {
        if matches!(error, KernelError::Store(_)) && self.store_failed.is_none() {
            self.store_failed = Some(error.to_string());
        }
    }

    /// The batch could not be committed (`why`; a full disk, say): its effects are gone from
    /// the database, so everything in memory that ran ahead of it goes too, as in a crash.
    /// Replies held for the batch are answered with the failure (nothing they reported was
    /// kept), every waiter is answered, every vat's heap dropped. Nothing acknowledged before
    /// is lost: earlier batches are committed. [`Kernel::repair`] must succeed before the
    /// kernel runs anything again.
    pub fn lose_batch(&mut self, why: &KernelError) {
        tracing::error!("the kernel could not commit a batch and gave it up: {why}");
        if let Err(e) = self.state.forget_uncommitted() {
            tracing::error!("rolling back the lost batch: {e}");
        }
        self.outbox.fail(why);
        #[cfg(feature = "remote")]
        self.remotes.rolled_back();
        self.drop_waiters(&format!(
            "The kernel could not write its database ({why}); this result will never come"
        ));
        self.warehouse.clear();
        // Re-created from the database by the repair, as at a restart.
        self.io.shut_all_now();
        self.store_failed = None;
        self.needs_repair = true;
    }

    /// Whether a lost batch still has to be repaired before the kernel may run anything.
    pub fn needs_repair(&self) -> bool {
        self.needs_repair
    }

    /// Brings a kernel that lost a batch back in line with its database, as a restart would:
    /// the references of the waiters it dropped are released, and what the vats' dropped heaps
    /// held is forgotten, and the IO channels are re-created. Fails while the store still fails
    /// (then try again later).
    pub fn repair(&mut self) -> Result<(), KernelError> {
        self.release_dead_waiters()?;
        self.forget_every_heap()?;
        self.restore_io()?;
        self.needs_repair = false;
        tracing::info!("the kernel is back in line with its database");
        Ok(())
    }

    /// Whether replies (or frames to peers) wait for the next commit.
    pub fn has_replies(&self) -> bool {
        #[cfg(feature = "remote")]
        if self.remotes.has_held() {
            return true;
        }
        !self.outbox.is_empty()
    }

    /// Begins a savepoint (a crank, or a piece of one): the store's and every owner's.
    pub(super) fn begin_savepoint(&mut self) -> Result<(), KernelError> {
        self.state.begin_crank()?;
        self.waiters.savepoint();
        self.io.savepoint();
        #[cfg(feature = "remote")]
        self.remotes.savepoint();
        Ok(())
    }

    /// Keeps what the innermost savepoint did.
    pub(super) fn keep_savepoint(&mut self) -> Result<(), KernelError> {
        self.waiters.release_savepoint();
        for output in self.io.release_savepoint() {
            self.outbox.send(output);
        }
        #[cfg(feature = "remote")]
        self.remotes.release_savepoint();
        self.state.commit_crank()
    }

    /// Undoes what the innermost savepoint did, in the store and in memory.
    pub(super) fn undo_savepoint(&mut self) -> Result<(), KernelError> {
        self.waiters.rollback_savepoint();
        self.io.rollback_savepoint();
        #[cfg(feature = "remote")]
        self.remotes.rollback_savepoint();
        self.state.abort_crank()
    }

    /// Runs `work` in its own savepoint: kept if it succeeds, undone if it fails.
    pub(super) fn atomically<T>(
        &mut self,
        work: impl FnOnce(&mut Kernel) -> Result<T, KernelError>,
    ) -> Result<T, KernelError> {
        self.begin_savepoint()?;
        match work(self) {
            Ok(value) => {
                self.keep_savepoint()?;
                self.fire_settled_waiters();
                Ok(value)
            }
            Err(e) => {
                self.note_failure(&e);
                self.undo_savepoint()?;
                Err(e)
            }
        }
    }

    /// Runs `work` in a savepoint nested in the current one: kept if it succeeds, undone if it
    /// fails (a piece of a crank that may fail alone, such as a frame a peer sent). Unlike
    /// [`Kernel::atomically`], waiters fire only when the enclosing savepoint is kept.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(super) fn nested<T, E: From<KernelError>>(
        &mut self,
        work: impl FnOnce(&mut Kernel) -> Result<T, E>,
    ) -> Result<T, E> {
        self.begin_savepoint()?;
        match work(self) {
            Ok(value) => {
                self.keep_savepoint()?;
                Ok(value)
            }
            Err(e) => {
                self.undo_savepoint()?;
                Err(e)
            }
        }
    }

    /// Gives the store back (to close it).
    pub fn into_store(self) -> Store {
        self.state.into_store()
    }
}
