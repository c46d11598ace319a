//! How a vat gets the kernel's attention outside any delivery: a timer of its own comes due, or
//! work it started elsewhere (an HTTP request on another thread) has finished.
//!
//! The kernel owns one [`Wakeups`]; each running vat holds a [`Waker`] for itself. Ringing
//! marks the vat awake (from any thread) and pokes the kernel loop; an alarm rings at a set time
//! (one clock thread per kernel, started by the first alarm). The kernel then gives each awake
//! vat a crank of its own ([`super::VatRuntime::wake`]), so what the vat does when woken is
//! committed or rolled back like any delivery.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// What pokes the kernel loop awake (set by the kernel thread; nothing by default).
type Poke = Box<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Shared {
    /// Vats rung and not yet woken.
    awake: Mutex<Awake>,
    /// Each vat's next alarm.
    alarms: Mutex<Alarms>,
    /// Signals the clock thread that the alarms changed.
    changed: Condvar,
    poke: Mutex<Option<Poke>>,
    /// Work started outside the kernel thread that will ring when done ([`Pending`]).
    outstanding: AtomicUsize,
}

/// The vats rung and not yet woken, each once, in the order they were first rung: a vat that
/// rings again as soon as it is woken goes to the back, so it cannot keep others waiting.
#[derive(Default)]
struct Awake {
    order: VecDeque<String>,
    members: HashSet<String>,
}

impl Awake {
    fn insert(&mut self, vat: &str) {
        if self.members.insert(vat.to_string()) {
            self.order.push_back(vat.to_string());
        }
    }

    fn pop_first(&mut self) -> Option<String> {
        let vat = self.order.pop_front()?;
        self.members.remove(&vat);
        Some(vat)
    }

    fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[derive(Default)]
struct Alarms {
    at: HashMap<String, Instant>,
    /// Whether the clock thread runs.
    clock: bool,
    /// Set when the kernel goes: the clock thread ends.
    stopped: bool,
}

/// The kernel's side: which vats are awake, and the alarm clock.
#[derive(Default)]
pub struct Wakeups {
    shared: Arc<Shared>,
}

/// A vat's way to be woken. Cheap to clone; may be sent to other threads.
#[derive(Clone)]
pub struct Waker {
    vat: Arc<str>,
    shared: Arc<Shared>,
}

/// Locks `mutex`, even one a panicking thread left poisoned.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // What these locks guard stays consistent at every step, so a panic elsewhere leaves
    // nothing half-done.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Wakeups {
    /// A waker for `vat`.
    pub fn waker(&self, vat: &str) -> Waker {
        Waker {
            vat: vat.into(),
            shared: Arc::clone(&self.shared),
        }
    }

    /// Sets what pokes the kernel loop when a vat is rung (the kernel thread's channel).
    pub fn set_poke(&self, poke: impl Fn() + Send + Sync + 'static) {
        *lock(&self.shared.poke) = Some(Box::new(poke));
    }

    /// An awake vat, no longer marked awake.
    pub fn take_awake(&self) -> Option<String> {
        lock(&self.shared.awake).pop_first()
    }

    /// Whether any vat is awake.
    pub fn any_awake(&self) -> bool {
        !lock(&self.shared.awake).is_empty()
    }

    /// Whether no vat is awake, has an alarm set, or awaits work started elsewhere: a daemon
    /// may then stop without losing what its vats wait for.
    pub fn is_quiet(&self) -> bool {
        !self.any_awake()
            && lock(&self.shared.alarms).at.is_empty()
            && self.shared.outstanding.load(Ordering::SeqCst) == 0
    }
}

/// Work a vat started outside the kernel thread (a request), counted until it is dropped, which
/// is after the vat has been rung with its outcome.
pub struct Pending {
    shared: Arc<Shared>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.shared.outstanding.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        lock(&self.shared.alarms).stopped = true;
        self.shared.changed.notify_all();
    }
}

impl Waker {
    /// A waker that belongs to no kernel (for a runtime driven by hand, as in tests).
    pub fn detached(vat: &str) -> Waker {
        Wakeups::default().waker(vat)
    }

    /// Counts work the vat starts elsewhere until the returned guard is dropped.
    pub fn pending(&self) -> Pending {
        self.shared.outstanding.fetch_add(1, Ordering::SeqCst);
        Pending {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Marks the vat awake and pokes the kernel.
    pub fn ring(&self) {
        self.shared.ring(&self.vat);
    }

    /// Rings at `at`, replacing the vat's previous alarm; `None` clears it.
    pub fn alarm(&self, at: Option<Instant>) {
        let mut alarms = lock(&self.shared.alarms);
        match at {
            Some(at) => {
                alarms.at.insert(self.vat.to_string(), at);
                if !alarms.clock && !alarms.stopped {
                    alarms.clock = start_clock(Arc::clone(&self.shared));
                }
            }
            None => {
                alarms.at.remove(&*self.vat);
            }
        }
        drop(alarms);
        self.shared.changed.notify_all();
    }
}

impl Shared {
    fn ring(&self, vat: &str) {
        lock(&self.awake).insert(vat);
        if let Some(poke) = &*lock(&self.poke) {
            poke();
        }
    }
}

/// Starts the clock thread; whether it started (else alarms are retried at the next one).
fn start_clock(shared: Arc<Shared>) -> bool {
    let started = std::thread::Builder::new()
        .name("vat-alarms".into())
        .spawn(move || run_clock(&shared));
    if let Err(e) = &started {
        tracing::error!("cannot start the vat alarm clock: {e}");
    }
    started.is_ok()
}

/// Sleeps until the earliest alarm, rings every vat whose alarm is due, and repeats until the
/// kernel goes.
fn run_clock(shared: &Shared) {
    let mut alarms = lock(&shared.alarms);
    while !alarms.stopped {
        let now = Instant::now();
        let due: Vec<String> = alarms
            .at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(vat, _)| vat.clone())
            .collect();
        if !due.is_empty() {
            for vat in &due {
                alarms.at.remove(vat);
            }
            drop(alarms);
            for vat in &due {
                shared.ring(vat);
            }
            alarms = lock(&shared.alarms);
            continue;
        }
        alarms = match alarms.at.values().min().copied() {
            Some(at) => {
                let wait = at.saturating_duration_since(now);
                shared
                    .changed
                    .wait_timeout(alarms, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => shared
                .changed
                .wait(alarms)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_ring_marks_the_vat_awake_once_in_ring_order_and_pokes() {
        let wakeups = Wakeups::default();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        wakeups.set_poke(move || lock(&tx).send(()).unwrap());
        let waker = wakeups.waker("v2");
        waker.ring();
        waker.ring();
        wakeups.waker("v1").ring();
        assert_eq!(rx.try_iter().count(), 3);
        assert_eq!(wakeups.take_awake().as_deref(), Some("v2"));
        // A vat rung again once woken goes behind those already waiting.
        waker.ring();
        assert_eq!(wakeups.take_awake().as_deref(), Some("v1"));
        assert_eq!(wakeups.take_awake().as_deref(), Some("v2"));
        assert_eq!(wakeups.take_awake(), None);
    }

    #[test]
    fn alarms_ring_when_due_and_a_cleared_one_never() {
        let wakeups = Wakeups::default();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        wakeups.set_poke(move || lock(&tx).send(()).unwrap());
        let soon = Instant::now() + Duration::from_millis(20);
        wakeups.waker("v1").alarm(Some(soon));
        wakeups.waker("v2").alarm(Some(soon));
        wakeups.waker("v2").alarm(None);
        assert!(!wakeups.is_quiet(), "an alarm is set");
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(Instant::now() >= soon);
        assert_eq!(wakeups.take_awake().as_deref(), Some("v1"));
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        assert!(wakeups.is_quiet());
        let pending = wakeups.waker("v1").pending();
        assert!(!wakeups.is_quiet(), "work is pending");
        drop(pending);
        assert!(wakeups.is_quiet());
    }
}
