//! [`IoChannels`]: the kernel's owner of its open IO channels. It opens and closes their
//! sockets, takes their input for cranks and accepts their output, and keeps each of these
//! in step with the crank that did it: what a rolled-back crank did to a channel is undone
//! (a channel it opened is closed again, input it took is given back, output it wrote is
//! dropped); what a committed crank did takes effect (closed channels close, output goes to the
//! outbox, to leave after the batch commits).
//!
//! It knows nothing of kv keys: which reads are pending, and which services exist, is the
//! kernel's state (`state/io.rs`); the kernel's logic over both is `io/service.rs`.

use super::config::Direction;
use super::inbox::{Bell, Shared, Taken};
use super::serve::{Command, listen};
use super::socket::{Bound, SocketFile};
use super::thread::IoThread;
use crate::kernel::outbox::Output;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// At most this many channels are open at once (each is a socket and a task).
pub const MAX_CHANNELS: usize = 64;

/// One open channel.
struct Channel {
    /// The channel's name in its config (`repl`), used in the reference's error texts.
    name: String,
    /// Its subcluster.
    subcluster: String,
    /// Its service's kref.
    kref: String,
    direction: Direction,
    file: SocketFile,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
}

/// A channel's description, as the kernel needs it to answer a message to its service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// `io:sN:name`.
    pub service: String,
    /// `name`.
    pub name: String,
    /// Its direction.
    pub direction: Direction,
    /// Why it is not open (it could not be re-created at start), if it is not.
    pub broken: Option<String>,
}

/// A channel that could not be re-created when the kernel started.
struct Broken {
    service: String,
    name: String,
    subcluster: String,
    direction: Direction,
    why: String,
}

/// What the current crank did to the channels, undone if it is rolled back.
enum Change {
    Opened(String),
    Closing(String, Channel),
    Took(String, Taken),
    Wrote(Output),
}

/// The open channels, by service name (`io:sN:name`).
#[derive(Default)]
pub struct IoChannels {
    open: BTreeMap<String, Channel>,
    broken: BTreeMap<String, Broken>,
    thread: Option<IoThread>,
    bell: Arc<Bell>,
    crank: Vec<Change>,
    /// Where each open savepoint's changes start in `crank`, innermost last.
    marks: Vec<usize>,
}

impl IoChannels {
    /// Sets what wakes the kernel loop when a channel has input (called from the IO thread).
    pub fn on_wake(&self, poke: impl Fn() + Send + Sync + 'static) {
        self.bell.set_poke(poke);
    }

    /// Whether no channel is open: a daemon may then stop when idle (an open channel waits
    /// for clients, and only a running daemon can accept them).
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// How many channels are open.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Opens `service` on a bound socket, for the current crank.
    pub fn open(
        &mut self,
        service: &str,
        name: &str,
        subcluster: &str,
        kref: &str,
        direction: Direction,
        bound: Bound,
    ) -> Result<(), String> {
        if self.thread.is_none() {
            match IoThread::start() {
                Ok(thread) => self.thread = Some(thread),
                Err(why) => {
                    bound.file.remove();
                    return Err(why);
                }
            }
        }
        let thread = self.thread.as_ref().expect("started");
        let shared = Arc::new(Shared::new(Arc::clone(&self.bell)));
        let (commands, receiver) = mpsc::unbounded_channel();
        thread.handle().spawn(listen(
            name.to_string(),
            bound.listener,
            Arc::clone(&shared),
            receiver,
        ));
        self.broken.remove(kref);
        self.open.insert(
            service.to_string(),
            Channel {
                name: name.to_string(),
                subcluster: subcluster.to_string(),
                kref: kref.to_string(),
                direction,
                file: bound.file,
                shared,
                commands,
            },
        );
        self.crank.push(Change::Opened(service.to_string()));
        Ok(())
    }

    /// Records a channel that could not be re-created (messages to it fail with `why`).
    pub fn mark_broken(
        &mut self,
        service: &str,
        name: &str,
        subcluster: &str,
        kref: &str,
        direction: Direction,
        why: &str,
    ) {
        self.broken.insert(
            kref.to_string(),
            Broken {
                service: service.to_string(),
                name: name.to_string(),
                subcluster: subcluster.to_string(),
                direction,
                why: why.to_string(),
            },
        );
    }

    /// Closes `service` once the current crank commits.
    pub fn close(&mut self, service: &str) {
        self.broken.retain(|_, b| b.service != service);
        if let Some(channel) = self.open.remove(service) {
            self.crank
                .push(Change::Closing(service.to_string(), channel));
        }
    }

    /// Closes every channel of `subcluster` once the current crank commits.
    pub fn close_subcluster(&mut self, subcluster: &str) {
        self.broken.retain(|_, b| b.subcluster != subcluster);
        let services: Vec<String> = self
            .open
            .iter()
            .filter(|(_, c)| c.subcluster == subcluster)
            .map(|(s, _)| s.clone())
            .collect();
        for service in services {
            self.close(&service);
        }
    }

    /// Closes every channel once the current crank commits (`clearState`).
    pub fn close_all(&mut self) {
        self.broken.clear();
        let services: Vec<String> = self.open.keys().cloned().collect();
        for service in services {
            self.close(&service);
        }
    }

    /// Closes every channel now, outside any crank: the kernel is going, or lost a batch and
    /// will re-create its channels from the database.
    pub fn shut_all_now(&mut self) {
        self.forget_crank();
        self.broken.clear();
        for (_, channel) in std::mem::take(&mut self.open) {
            shut(channel);
        }
    }

    /// The channel whose service is `kref`, open or broken.
    pub fn by_kref(&self, kref: &str) -> Option<ChannelInfo> {
        if let Some((service, c)) = self.open.iter().find(|(_, c)| c.kref == kref) {
            return Some(ChannelInfo {
                service: service.clone(),
                name: c.name.clone(),
                direction: c.direction,
                broken: None,
            });
        }
        self.broken.get(kref).map(|b| ChannelInfo {
            service: b.service.clone(),
            name: b.name.clone(),
            direction: b.direction,
            broken: Some(b.why.clone()),
        })
    }

    /// How much input `service` holds, by the budget's measure.
    #[cfg(test)]
    pub fn queued(&self, service: &str) -> usize {
        self.open.get(service).map_or(0, |c| c.shared.queued())
    }

    /// The connected client of `service`, if one is.
    pub fn client(&self, service: &str) -> Option<u64> {
        self.open.get(service)?.shared.client()
    }

    /// Bytes written to `service` that wait to go out.
    pub fn outgoing(&self, service: &str) -> usize {
        self.open.get(service).map_or(0, |c| c.shared.outgoing())
    }

    /// Sends `text` and a newline to client `client` of `service` once the batch commits.
    pub fn write(&mut self, service: &str, client: u64, text: &str) {
        let Some(channel) = self.open.get(service) else {
            return;
        };
        let mut data = Vec::with_capacity(text.len() + 1);
        data.extend_from_slice(text.as_bytes());
        data.push(b'\n');
        let charge = channel.shared.charge(data.len());
        let commands = channel.commands.clone();
        let output: Output = Box::new(move || {
            let _ = commands.send(Command::Write {
                client,
                data,
                charge,
            });
        });
        self.crank.push(Change::Wrote(output));
    }

    /// The services that have input the kernel has not looked at, or lines waiting for reads,
    /// as `(service, unapplied events, waiting lines)`. Clears the bell first, so that input
    /// arriving from now on wakes the kernel again.
    pub fn with_input(&self) -> Vec<(String, bool, bool)> {
        self.bell.clear();
        self.open
            .iter()
            .filter_map(|(service, c)| {
                let (events, lines) = c.shared.has_input();
                (events || lines).then(|| (service.clone(), events, lines))
            })
            .collect()
    }

    /// Takes `service`'s next input that needs a crank, for the current crank (see
    /// [`Shared::take`]).
    pub fn take(&mut self, service: &str, reads_pending: bool) -> Option<Taken> {
        let taken = self.open.get(service)?.shared.take(reads_pending)?;
        self.crank
            .push(Change::Took(service.to_string(), taken.clone()));
        Some(taken)
    }

    /// A savepoint opens (see `Kernel::begin_savepoint`).
    pub fn savepoint(&mut self) {
        self.marks.push(self.crank.len());
    }

    /// The innermost savepoint is kept: its changes belong to the enclosing one, or, when it
    /// was the outermost, take effect now: the output written is returned for the outbox.
    pub fn release_savepoint(&mut self) -> Vec<Output> {
        self.marks.pop();
        match self.marks.is_empty() {
            true => self.commit_crank(),
            false => Vec::new(),
        }
    }

    /// The innermost savepoint was rolled back: its changes are undone, newest first.
    pub fn rollback_savepoint(&mut self) {
        let mark = self.marks.pop().unwrap_or(0);
        self.undo_since(mark);
    }

    /// The current crank committed: closed channels close, taken input is let go, and the
    /// output written is returned for the outbox.
    fn commit_crank(&mut self) -> Vec<Output> {
        let mut outputs = Vec::new();
        for change in std::mem::take(&mut self.crank) {
            match change {
                Change::Opened(_) => {}
                Change::Closing(_, channel) => shut(channel),
                Change::Took(service, taken) => {
                    if let Some(c) = self.open.get(&service) {
                        c.shared.let_go(&taken);
                    }
                }
                Change::Wrote(output) => outputs.push(output),
            }
        }
        outputs
    }

    /// Everything since the outermost savepoint is undone (a lost batch), newest first.
    pub fn forget_crank(&mut self) {
        self.marks.clear();
        self.undo_since(0);
    }

    /// Undoes the changes from `mark` on, newest first.
    fn undo_since(&mut self, mark: usize) {
        while self.crank.len() > mark {
            let Some(change) = self.crank.pop() else {
                break;
            };
            match change {
                Change::Opened(service) => {
                    if let Some(channel) = self.open.remove(&service) {
                        shut(channel);
                    }
                }
                Change::Closing(service, channel) => {
                    self.open.insert(service, channel);
                }
                Change::Took(service, taken) => {
                    if let Some(c) = self.open.get(&service) {
                        c.shared.give_back(taken);
                    }
                }
                // Dropping the output frees its charge; nothing was sent.
                Change::Wrote(_) => {}
            }
        }
    }
}

impl Drop for IoChannels {
    fn drop(&mut self) {
        self.shut_all_now();
    }
}

/// Stops a channel's task and removes its socket file, so the path is free at once.
fn shut(channel: Channel) {
    let _ = channel.commands.send(Command::Close);
    channel.file.remove();
    tracing::info!(
        "closed IO channel \"{}\" of {}",
        channel.name,
        channel.subcluster
    );
}
