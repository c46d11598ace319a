//! The kernel: one thread that owns the database, the run queue and every vat.
//!
//! Everything else talks to it through [`KernelHandle`], which sends `Command`s over a channel
//! (DESIGN.md principle 2: no locks around kernel state). Commands run between cranks. Cranks
//! are grouped into one transaction until the queue is empty or a small bound is hit; replies
//! and the published status are released only after that transaction commits (principle 3).
//!
//! Map of the parts. The owners of the in-memory state (DESIGN.md): `machine` puts the
//! [`Kernel`] together; `state` (the keepers: every kv key) and `store` (the database);
//! `warehouse` (the running vats, each on a thread of its own); `waiters` (callers awaiting
//! promises); `outbox` (what leaves only after a commit); `io` (IO channels, spec §3.4);
//! `identity` (the kernel's keys). The logic, one concern per file: `crank` runs one unit of
//! work; `router` decides where a message goes; `translate` maps refs through c-lists;
//! `syscall` applies a vat's syscalls; `promises` settles promises; `lifecycle` starts,
//! restarts and terminates vats; `heap_loss` forgets what a restarted vat lost; `launch`
//! launches subclusters; `calls` implements the RPC operations; `awaiting` registers, fires and
//! releases the waiters; `services` the kernel's own objects; `ocap_url`, `capabilities` and
//! `invoke` OCAP URLs, their records and invocation by URL; `gc` collection and reaping.
//! Beside them: `error` (why an operation failed), `options` (tunables), `config` (cluster
//! configs), `ids`, and the independent checkers `invariants` and `fsck`.

mod awaiting;
mod calls;
mod capabilities;
mod clock;
pub mod config;
mod crank;
mod error;
pub mod fsck;
mod gc;
mod heap_loss;
mod identity;
pub mod ids;
pub mod invariants;
mod invoke;
mod io;
mod launch;
mod lifecycle;
mod machine;
mod ocap_url;
mod options;
mod outbox;
mod promises;
#[cfg(feature = "remote")]
mod remotes;
mod router;
mod services;
pub mod state;
mod status;
pub mod store;
mod syscall;
mod translate;
mod waiters;
mod warehouse;

#[cfg(test)]
mod tests;

pub use calls::Call;
pub use capabilities::IssueOptions;
pub use clock::now_ms;
pub use error::KernelError;
pub use identity::{Identity, Redeemable};
pub use launch::LaunchPlan;
pub use machine::Kernel;
pub use options::{KernelOptions, RemoteSettings};
pub use outbox::Reply;
#[cfg(feature = "remote")]
pub use remotes::RemoteOptions;
pub use status::{RemoteComms, Status};

use rusqlite::Connection;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

/// The status as of the last commit, or why it could not be read. Published by the kernel
/// thread after every commit, so `getStatus` never waits for the kernel (and never sees
/// uncommitted state).
type Snapshot = Result<Arc<Status>, String>;

/// What callers still awaiting a result are told when the daemon stops.
const STOPPING: &str =
    "The daemon is stopping; this result will not be delivered (the message stays queued)";

/// At most this many cranks share one transaction…
const BATCH_CRANKS: usize = 200;
/// …and at most this much time once a reply waits for the commit, so replies are never held
/// back for long…
const BATCH_TIME: Duration = Duration::from_millis(5);
/// …or this much while none does: then the commit (an fsync) would cost throughput and buy no
/// reply any sooner, as when vats talk among themselves for a while.
const QUIET_BATCH_TIME: Duration = Duration::from_millis(50);

/// A request to the kernel thread; each carries the channel its answer goes back on.
enum Command {
    /// An RPC operation.
    Call(Call, oneshot::Sender<Result<Value, KernelError>>),
    /// Answer as soon as the thread gets here: proves the kernel loop is not wedged.
    Ping(oneshot::Sender<()>),
    /// The daemon is stopping: answer everyone still awaiting a result, now.
    Abandon(oneshot::Sender<()>),
    /// A vat was woken (see `vat::Wakeups`): nothing to answer, the loop just goes on.
    Wake,
    /// An event of the network node (of the generation given), handled between cranks.
    #[cfg(feature = "remote")]
    Remote(u64, crate::remote::node::NetEvent),
}

/// The async side's way to talk to the kernel thread. Cheap to clone.
#[derive(Clone)]
pub struct KernelHandle {
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<Snapshot>,
    in_flight: Arc<AtomicUsize>,
    busy: Arc<AtomicBool>,
    database: Arc<PathBuf>,
    /// The kernel's identity, to open clients' OCAP URLs off the kernel thread.
    identity: Identity,
    /// How many URLs may be opened at once (each takes milliseconds of one core).
    openers: Arc<Semaphore>,
}

/// URLs opened at once for clients: a flood of them must not take every core.
const OPENERS: usize = 2;

/// The running kernel thread; [`KernelThread::join`] waits for it to close the database.
pub struct KernelThread {
    thread: JoinHandle<Result<(), KernelError>>,
}

/// Starts the kernel thread over an opened database, with vats made by `factory`.
pub fn start(
    conn: Connection,
    database: &Path,
    factory: Box<dyn crate::vat::VatFactory>,
    options: KernelOptions,
) -> Result<(KernelHandle, KernelThread), KernelError> {
    start_with(conn, database, factory, options, RemoteSettings::default())
}

/// [`start`], with how remote comms run; they come back by themselves if they were initialized
/// before (or `remote.start` says so).
pub fn start_with(
    conn: Connection,
    database: &Path,
    factory: Box<dyn crate::vat::VatFactory>,
    options: KernelOptions,
    remote: RemoteSettings,
) -> Result<(KernelHandle, KernelThread), KernelError> {
    let (commands, receiver) = mpsc::unbounded_channel();
    // Weak, so that vats' wakers never keep the channel open, and with it the kernel thread.
    let poke = commands.downgrade();
    #[cfg(feature = "remote")]
    let network = commands.downgrade();
    let (publish, status) = watch::channel(Err("the kernel is starting".to_string()));
    let busy = Arc::new(AtomicBool::new(true));
    let thread_busy = Arc::clone(&busy);
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    // Vat runtimes (JavaScript engines) stay on the thread that made them: the kernel is built
    // on its own thread, and only the outcome of building it crosses back.
    let thread = std::thread::Builder::new()
        .name("kernel".into())
        .spawn(move || {
            let store = store::Store::new(conn);
            #[allow(unused_mut)]
            let mut kernel = match Kernel::with_remote_settings(store, factory, options, remote) {
                Ok(kernel) => kernel,
                Err(e) => {
                    let _ = started_tx.send(Err(e));
                    return Ok(());
                }
            };
            kernel.on_wake(move || {
                if let Some(commands) = poke.upgrade() {
                    let _ = commands.send(Command::Wake);
                }
            });
            // The node's thread only enqueues its events (weakly, like the vats' wakers).
            #[cfg(feature = "remote")]
            kernel.resume_remote_comms(Arc::new(move |generation, event| {
                if let Some(commands) = network.upgrade() {
                    let _ = commands.send(Command::Remote(generation, event));
                }
            }));
            drop(publish.send_replace(snapshot(&kernel)));
            let _ = started_tx.send(Ok(kernel.identity().clone()));
            run(kernel, receiver, publish, thread_busy)
        })
        .map_err(|e| KernelError::Refused(format!("cannot start the kernel thread: {e}")))?;
    let identity = started_rx.recv().map_err(|_| KernelError::Stopped)??;
    let handle = KernelHandle {
        commands,
        status,
        in_flight: Arc::new(AtomicUsize::new(0)),
        busy,
        database: Arc::new(database.to_path_buf()),
        identity,
        openers: Arc::new(Semaphore::new(OPENERS)),
    };
    Ok((handle, KernelThread { thread }))
}

impl KernelHandle {
    /// The kernel's status as of its last commit.
    pub fn status(&self) -> Result<Arc<Status>, String> {
        self.status.borrow().clone()
    }

    /// Runs an RPC operation; resolves with its result once the kernel has committed it. An
    /// OCAP URL the call carries is opened here first, off the kernel thread.
    pub async fn call(&self, call: Call) -> Result<Value, KernelError> {
        let call = match call.has_unopened_url() {
            true => self.open_urls(call).await?,
            false => call,
        };
        self.ask(|reply| Command::Call(call, reply)).await?
    }

    /// `call` with its URL opened on a blocking thread, a few at a time.
    async fn open_urls(&self, call: Call) -> Result<Call, KernelError> {
        let _turn = self
            .openers
            .acquire()
            .await
            .map_err(|_| KernelError::Stopped)?;
        let identity = self.identity.clone();
        tokio::task::spawn_blocking(move || call.open_urls(&identity))
            .await
            .map_err(|_| KernelError::Stopped)
    }

    /// Resolves once the kernel thread has taken a command off its queue.
    pub async fn ping(&self) -> Result<(), KernelError> {
        self.ask(Command::Ping).await
    }

    /// Fails every call still awaiting a result, so that the daemon can stop without leaving
    /// clients hanging (their messages stay queued and run after the next start).
    pub async fn abandon_waiters(&self) -> Result<(), KernelError> {
        self.ask(Command::Abandon).await
    }

    /// Whether the kernel has no queued work and no command waiting or being handled.
    pub fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && !self.busy.load(Ordering::SeqCst)
    }

    /// The database file the kernel owns.
    pub fn database(&self) -> &Path {
        &self.database
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, KernelError> {
        let (reply, answer) = oneshot::channel();
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let result = match self.commands.send(make(reply)) {
            Ok(()) => answer.await.map_err(|_| KernelError::Stopped),
            Err(_) => Err(KernelError::Stopped),
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

impl KernelThread {
    /// Waits for the kernel thread to finish once every [`KernelHandle`] is dropped: it then
    /// checkpoints the WAL into the database file and closes it.
    pub fn join(self) -> Result<(), KernelError> {
        self.thread.join().unwrap_or(Err(KernelError::Stopped))
    }
}

fn run(
    mut kernel: Kernel,
    mut commands: mpsc::UnboundedReceiver<Command>,
    publish: watch::Sender<Snapshot>,
    busy: Arc<AtomicBool>,
) -> Result<(), KernelError> {
    let mut handled = false;
    loop {
        if kernel.needs_repair() && !repair(&mut kernel, &mut commands) {
            break;
        }
        let worked = run_batch(&mut kernel, &mut commands) || handled;
        let committed = match kernel.store_failure() {
            Some(why) => Err(KernelError::Refused(why.to_string())),
            None => kernel.commit_then(|kernel| {
                if worked {
                    drop(publish.send_replace(snapshot(kernel)));
                }
            }),
        };
        if let Err(e) = committed {
            kernel.lose_batch(&e);
            drop(publish.send_replace(snapshot(&kernel)));
            continue;
        }
        handled = false;
        let idle = !kernel.is_woken()
            && kernel
                .state()
                .queue_length("run")
                .map(|n| n == 0)
                .unwrap_or(true);
        // Vats' pending timers and requests keep the kernel busy too: a daemon that stopped
        // when idle would lose them.
        busy.store(!idle || !kernel.is_quiet(), Ordering::SeqCst);
        if idle {
            match commands.blocking_recv() {
                Some(command) => {
                    handle(&mut kernel, command);
                    handled = true;
                }
                None => break,
            }
        }
    }
    kernel.abandon_waiters(STOPPING);
    kernel.commit()?;
    close(kernel.into_store().into_conn())
}

/// How long a kernel that cannot write its database waits between attempts to repair itself.
const REPAIR_RETRY: Duration = Duration::from_millis(500);

/// Repairs a kernel that lost a batch, retrying while the store still fails; meanwhile every
/// call is answered at once with why nothing can be done. Returns false once every handle is
/// gone (the daemon stopped).
fn repair(kernel: &mut Kernel, commands: &mut mpsc::UnboundedReceiver<Command>) -> bool {
    loop {
        let why = match kernel.repair() {
            Ok(()) => return true,
            Err(e) => {
                // The repair's own writes may have failed half-way: give them up too.
                kernel.lose_batch(&e);
                e
            }
        };
        let deadline = Instant::now() + REPAIR_RETRY;
        while Instant::now() < deadline {
            match commands.try_recv() {
                Ok(command) => refuse(command, &why),
                Err(mpsc::error::TryRecvError::Empty) => std::thread::sleep(REPAIR_RETRY / 10),
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
    }
}

/// Answers a command without running it: the kernel cannot write its database.
fn refuse(command: Command, why: &KernelError) {
    match command {
        Command::Call(_, reply) => {
            let _ = reply.send(Err(KernelError::Refused(format!(
                "the kernel cannot write its database, so it runs nothing until it can: {why}"
            ))));
        }
        Command::Ping(reply) | Command::Abandon(reply) => {
            let _ = reply.send(());
        }
        Command::Wake => {}
        // Dropped: a handshake's channel is refused, frames are resent.
        #[cfg(feature = "remote")]
        Command::Remote(..) => {}
    }
}

/// Runs waiting commands and cranks, within the batch bounds; commands that arrive meanwhile
/// are taken between cranks. Returns whether anything changed.
fn run_batch(kernel: &mut Kernel, commands: &mut mpsc::UnboundedReceiver<Command>) -> bool {
    let mut worked = false;
    let started = Instant::now();
    for _ in 0..BATCH_CRANKS {
        while let Ok(command) = commands.try_recv() {
            handle(kernel, command);
            worked = true;
            if kernel.store_failure().is_some() {
                return worked;
            }
        }
        match kernel.crank() {
            Ok(true) => worked = true,
            Ok(false) => break,
            Err(e) => {
                tracing::error!("crank failed and was rolled back: {e}");
                kernel.note_failure(&e);
                break;
            }
        }
        if kernel.store_failure().is_some() {
            break;
        }
        let bound = match kernel.has_replies() {
            true => BATCH_TIME,
            false => QUIET_BATCH_TIME,
        };
        if started.elapsed() > bound {
            break;
        }
    }
    worked
}

fn handle(kernel: &mut Kernel, command: Command) {
    match command {
        Command::Call(call, reply) => kernel.call(call, Reply::Caller(reply)),
        Command::Ping(reply) => {
            let _ = reply.send(());
        }
        Command::Wake => {}
        #[cfg(feature = "remote")]
        Command::Remote(generation, event) => kernel.network_event(generation, event),
        Command::Abandon(reply) => {
            kernel.abandon_waiters(STOPPING);
            if let Err(e) = kernel.commit() {
                kernel.lose_batch(&e);
            }
            let _ = reply.send(());
        }
    }
}

fn snapshot(kernel: &Kernel) -> Snapshot {
    kernel.status().map(Arc::new).map_err(|e| e.to_string())
}

/// Folds the WAL back into the database so that a stopped daemon leaves one self-contained file.
fn close(conn: Connection) -> Result<(), KernelError> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    conn.close().map_err(|(_, e)| KernelError::Store(e))
}
