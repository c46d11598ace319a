//! The kernel: one thread that owns the database and all kernel state.
//!
//! Everything else talks to it through [`KernelHandle`], which sends [`Command`]s over a channel
//! (DESIGN.md principle 2: no locks around kernel state). This file is only the command loop;
//! each concern lives in its own module.

pub mod config;
mod status;
pub mod store;

pub use status::{RemoteComms, Status};

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot, watch};

/// The status as of the last commit, or why it could not be read. Published by the kernel
/// thread after every commit, so `getStatus` never waits for the kernel (and never sees
/// uncommitted state: output commit, DESIGN.md principle 3).
type Snapshot = Result<Arc<Status>, String>;

/// A request to the kernel thread; each carries the channel its answer goes back on.
enum Command {
    /// Answer as soon as the thread gets here: proves the kernel loop is not wedged.
    Ping(oneshot::Sender<()>),
}

/// Why a kernel command failed.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The kernel thread has stopped.
    #[error("the kernel has stopped")]
    Stopped,
    /// The store failed.
    #[error("kernel store: {0}")]
    Store(#[from] rusqlite::Error),
    /// A stored value is not what the kernel wrote.
    #[error("kernel store holds a malformed value at {key}: {detail}")]
    Corrupt {
        /// The `kv` key.
        key: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// The async side's way to talk to the kernel thread. Cheap to clone.
#[derive(Clone)]
pub struct KernelHandle {
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<Snapshot>,
    in_flight: Arc<AtomicUsize>,
    database: Arc<PathBuf>,
}

/// The running kernel thread; [`KernelThread::stop`] ends it cleanly.
pub struct KernelThread {
    thread: JoinHandle<Result<(), KernelError>>,
}

/// Starts the kernel thread over an opened database.
pub fn start(conn: Connection, database: &Path) -> std::io::Result<(KernelHandle, KernelThread)> {
    let (commands, receiver) = mpsc::unbounded_channel();
    let (publish, status) = watch::channel(snapshot(&conn));
    let thread = std::thread::Builder::new()
        .name("kernel".into())
        .spawn(move || run(conn, receiver, publish))?;
    let handle = KernelHandle {
        commands,
        status,
        in_flight: Arc::new(AtomicUsize::new(0)),
        database: Arc::new(database.to_path_buf()),
    };
    Ok((handle, KernelThread { thread }))
}

impl KernelHandle {
    /// The kernel's status as of its last commit.
    pub fn status(&self) -> Result<Arc<Status>, String> {
        self.status.borrow().clone()
    }

    /// Resolves once the kernel thread has taken a command off its queue.
    pub async fn ping(&self) -> Result<(), KernelError> {
        self.ask(Command::Ping).await
    }

    /// Whether no command is waiting for or being handled by the kernel.
    pub fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
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
        let sent = self.commands.send(make(reply));
        let result = match sent {
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
    conn: Connection,
    mut commands: mpsc::UnboundedReceiver<Command>,
    // Republished after each commit; nothing commits until the kernel runs cranks.
    _publish: watch::Sender<Snapshot>,
) -> Result<(), KernelError> {
    while let Some(command) = commands.blocking_recv() {
        match command {
            Command::Ping(reply) => {
                let _ = reply.send(());
            }
        }
    }
    close(conn)
}

fn snapshot(conn: &Connection) -> Snapshot {
    status::read(conn).map(Arc::new).map_err(|e| e.to_string())
}

/// Folds the WAL back into the database so that a stopped daemon leaves one self-contained file.
fn close(conn: Connection) -> Result<(), KernelError> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    conn.close().map_err(|(_, e)| KernelError::Store(e))
}
