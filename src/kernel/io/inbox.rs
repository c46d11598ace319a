//! What a channel's socket task (on the IO thread) and the kernel thread share: the input not
//! yet read, within a budget; which client is connected; how much written output waits to go
//! out; and the bell that wakes the kernel loop.
//!
//! The socket task appends [`Event`]s. The kernel applies them in order, as the reference's
//! event loop applies socket events: a line is queued, a new client drops the lines its
//! predecessor left unread, a disconnect answers the reads pending at that moment with `null`.
//! Lines count against the budget until a read takes them (its crank committed), so a client
//! that sends faster than the vat reads is simply not read from: its own writes block, and
//! nothing grows.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The longest line a client may send, in bytes; a longer one drops the client.
pub const MAX_LINE: usize = 1 << 20;
/// How many bytes of input a channel holds before it stops reading its client.
pub const MAX_QUEUED: usize = 2 << 20;
/// How many connects and disconnects may wait for the kernel before no more are accepted.
pub const MAX_EVENTS: usize = 1024;
/// What each queued item counts against the budget besides its text.
pub const ITEM_COST: usize = 64;
/// How many bytes written by vats may wait for a slow client before writes are refused.
pub const MAX_OUTGOING: usize = 1 << 20;

/// Something that happened on a channel's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A client (numbered from 1) was accepted.
    Connected(u64),
    /// The current client sent a line.
    Line(String),
    /// The client went away (its last, unterminated line came just before as a `Line`).
    Disconnected(u64),
}

/// Input taken by the kernel for a crank: given back if the crank is rolled back, let go
/// (and its budget freed) once it commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// A line for the first pending read.
    Line(String),
    /// A disconnect: every pending read gets `null`.
    Disconnected(u64),
}

#[derive(Debug, Default)]
struct Inbox {
    /// Not yet applied by the kernel.
    events: VecDeque<Event>,
    /// Applied and waiting for a read.
    lines: VecDeque<String>,
    /// What both hold, by [`cost`].
    bytes: usize,
}

/// The state one channel's socket task shares with the kernel.
pub struct Shared {
    inbox: Mutex<Inbox>,
    /// Rung when the kernel frees budget.
    room: tokio::sync::Notify,
    /// The connected client's number, 0 when none.
    client: AtomicU64,
    /// Bytes accepted for writing and not yet written (see [`Charge`]).
    outgoing: AtomicUsize,
    bell: Arc<Bell>,
}

/// What wakes the kernel loop; one for all channels. Rings at most once until the kernel has
/// looked ([`Bell::clear`]), so a flood of input does not flood the kernel's command channel.
#[derive(Default)]
pub struct Bell {
    poke: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    rung: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // What these locks guard is consistent at every step; a panic elsewhere leaves nothing
    // half-done.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn cost(event: &Event) -> usize {
    match event {
        Event::Line(line) => ITEM_COST + line.len(),
        Event::Connected(_) | Event::Disconnected(_) => ITEM_COST,
    }
}

impl Bell {
    /// Sets what pokes the kernel loop.
    pub fn set_poke(&self, poke: impl Fn() + Send + Sync + 'static) {
        *lock(&self.poke) = Some(Box::new(poke));
    }

    /// Pokes the kernel, unless it was poked and has not looked since.
    pub fn ring(&self) {
        if !self.rung.swap(true, Ordering::SeqCst)
            && let Some(poke) = &*lock(&self.poke)
        {
            poke();
        }
    }

    /// The kernel is about to look at every channel: the next event rings again.
    pub fn clear(&self) {
        self.rung.store(false, Ordering::SeqCst);
    }
}

impl Shared {
    /// Fresh state for one channel, waking the kernel through `bell`.
    pub fn new(bell: Arc<Bell>) -> Shared {
        Shared {
            inbox: Mutex::default(),
            room: tokio::sync::Notify::new(),
            client: AtomicU64::new(0),
            outgoing: AtomicUsize::new(0),
            bell,
        }
    }

    // The socket task's side.

    /// Appends events and wakes the kernel.
    pub fn push(&self, events: impl IntoIterator<Item = Event>) {
        let mut inbox = lock(&self.inbox);
        let mut any = false;
        for event in events {
            inbox.bytes += cost(&event);
            inbox.events.push_back(event);
            any = true;
        }
        drop(inbox);
        if any {
            self.bell.ring();
        }
    }

    /// Whether the client may be read from: the input is within its budget.
    pub fn has_room(&self) -> bool {
        self.room() > 0
    }

    /// How many bytes may be read from the client now without passing the budget, even if
    /// every byte ends a line (which costs [`ITEM_COST`] more).
    pub fn readable(&self) -> usize {
        (self.room() / (ITEM_COST + 1)).max(1)
    }

    fn room(&self) -> usize {
        MAX_QUEUED.saturating_sub(lock(&self.inbox).bytes)
    }

    /// Whether another client may be accepted: few connects and disconnects wait.
    pub fn may_accept(&self) -> bool {
        lock(&self.inbox).events.len() < MAX_EVENTS
    }

    /// Waits until `ready` holds (re-checked whenever the kernel frees budget).
    pub async fn wait_for(&self, ready: impl Fn(&Shared) -> bool) {
        loop {
            let freed = self.room.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if ready(self) {
                return;
            }
            freed.await;
        }
    }

    /// Records the connected client (0: none).
    pub fn set_client(&self, id: u64) {
        self.client.store(id, Ordering::SeqCst);
    }

    // The kernel's side.

    /// The connected client's number, if one is connected.
    pub fn client(&self) -> Option<u64> {
        Some(self.client.load(Ordering::SeqCst)).filter(|&id| id != 0)
    }

    /// How much input is held, by the budget's measure.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        lock(&self.inbox).bytes
    }

    /// Bytes written by vats that wait to go out.
    pub fn outgoing(&self) -> usize {
        self.outgoing.load(Ordering::SeqCst)
    }

    /// Whether there is input the kernel has not applied, and whether lines wait for reads.
    pub fn has_input(&self) -> (bool, bool) {
        let inbox = lock(&self.inbox);
        (!inbox.events.is_empty(), !inbox.lines.is_empty())
    }

    /// Applies events in order until one needs a crank, given whether reads are pending: a
    /// line for the first read, or a disconnect that answers every read. Events that need no
    /// crank (a connect, a line nobody waits for yet, a disconnect nobody waits on) are applied
    /// here and now.
    pub fn take(&self, reads_pending: bool) -> Option<Taken> {
        let mut inbox = lock(&self.inbox);
        let before = inbox.bytes;
        let taken = loop {
            if reads_pending && let Some(line) = inbox.lines.pop_front() {
                break Some(Taken::Line(line));
            }
            match inbox.events.pop_front() {
                None => break None,
                Some(Event::Line(line)) => inbox.lines.push_back(line),
                Some(Event::Connected(_)) => {
                    // The reference drops the lines a previous client left unread.
                    let stale: usize = inbox.lines.drain(..).map(|l| ITEM_COST + l.len()).sum();
                    inbox.bytes -= stale + ITEM_COST;
                }
                Some(Event::Disconnected(id)) if reads_pending => {
                    break Some(Taken::Disconnected(id));
                }
                Some(Event::Disconnected(_)) => inbox.bytes -= ITEM_COST,
            }
        };
        let freed = inbox.bytes < before;
        drop(inbox);
        if freed {
            self.room.notify_waiters();
        }
        taken
    }

    /// The crank that used `taken` was rolled back: it is input again, first in line.
    pub fn give_back(&self, taken: Taken) {
        let mut inbox = lock(&self.inbox);
        match taken {
            Taken::Line(line) => inbox.lines.push_front(line),
            Taken::Disconnected(id) => inbox.events.push_front(Event::Disconnected(id)),
        }
    }

    /// The crank that used `taken` committed: its budget is free.
    pub fn let_go(&self, taken: &Taken) {
        let size = match taken {
            Taken::Line(line) => ITEM_COST + line.len(),
            Taken::Disconnected(_) => ITEM_COST,
        };
        lock(&self.inbox).bytes -= size;
        self.room.notify_waiters();
    }

    /// Counts `bytes` as waiting to be written until the returned charge is dropped.
    pub fn charge(self: &Arc<Shared>, bytes: usize) -> Charge {
        self.outgoing.fetch_add(bytes, Ordering::SeqCst);
        Charge {
            shared: Arc::clone(self),
            bytes,
        }
    }
}

/// Written bytes counted against [`MAX_OUTGOING`] until they are written or thrown away.
pub struct Charge {
    shared: Arc<Shared>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.shared.outgoing.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Arc<Shared> {
        Arc::new(Shared::new(Arc::new(Bell::default())))
    }

    fn line(s: &str) -> Event {
        Event::Line(s.into())
    }

    #[test]
    fn lines_wait_for_reads_and_go_in_order() {
        let s = shared();
        s.push([Event::Connected(1), line("a"), line("b")]);
        assert_eq!(s.take(false), None, "nobody reads yet");
        assert_eq!(s.has_input(), (false, true));
        assert_eq!(s.take(true), Some(Taken::Line("a".into())));
        s.let_go(&Taken::Line("a".into()));
        let b = s.take(true).unwrap();
        s.give_back(b.clone());
        assert_eq!(
            s.take(true),
            Some(b),
            "a rolled-back read gets the same line"
        );
    }

    #[test]
    fn a_disconnect_answers_pending_reads_only_after_the_lines_before_it() {
        let s = shared();
        s.push([Event::Connected(1), line("partial"), Event::Disconnected(1)]);
        assert_eq!(s.take(true), Some(Taken::Line("partial".into())));
        assert_eq!(s.take(true), Some(Taken::Disconnected(1)));
        assert_eq!(s.take(true), None);
        // With nobody waiting, a disconnect is nothing, and later reads wait for new clients.
        s.push([Event::Connected(2), Event::Disconnected(2)]);
        assert_eq!(s.take(false), None);
        assert_eq!(s.has_input(), (false, false));
    }

    #[test]
    fn a_new_client_drops_the_lines_the_last_one_left_unread() {
        let s = shared();
        s.push([Event::Connected(1), line("old"), Event::Disconnected(1)]);
        s.push([Event::Connected(2), line("new")]);
        assert_eq!(s.take(false), None);
        assert_eq!(s.take(true), Some(Taken::Line("new".into())));
        s.let_go(&Taken::Line("new".into()));
        assert_eq!(lock(&s.inbox).bytes, 0, "every byte of budget came back");
    }

    #[test]
    fn the_budget_stops_reading_until_reads_take_lines() {
        let s = shared();
        let big = "x".repeat(MAX_QUEUED / 2);
        s.push([line(&big)]);
        assert!(s.has_room());
        s.push([line(&big)]);
        assert!(!s.has_room());
        let taken = s.take(true).unwrap();
        assert!(!s.has_room(), "taken, but its crank has not committed");
        s.let_go(&taken);
        assert!(s.has_room());
    }

    #[test]
    fn charges_count_outgoing_bytes_until_dropped() {
        let s = shared();
        let a = s.charge(10);
        let b = s.charge(5);
        assert_eq!(s.outgoing(), 15);
        drop(a);
        assert_eq!(s.outgoing(), 5);
        drop(b);
        assert_eq!(s.outgoing(), 0);
    }

    #[test]
    fn the_bell_rings_once_until_cleared() {
        let bell = Arc::new(Bell::default());
        let rings = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&rings);
        bell.set_poke(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let s = Shared::new(Arc::clone(&bell));
        s.push([line("a")]);
        s.push([line("b")]);
        assert_eq!(rings.load(Ordering::SeqCst), 1);
        bell.clear();
        s.push([line("c")]);
        assert_eq!(rings.load(Ordering::SeqCst), 2);
    }
}
