//! One vat's runtime on a thread of its own (DESIGN.md "Threads").
//!
//! The kernel hands the thread a [`Job`] and waits for its [`Ran`] with a deadline, so a vat
//! stuck inside one native call — which no interrupt handler can stop, such as a long
//! `String.prototype.indexOf` — is abandoned instead of holding the kernel thread, and the
//! kernel goes on. A runtime never leaves its thread (QuickJS's are not `Send`), and threads of
//! different vats are independent, so deliveries to different vats could one day run side by
//! side, their outcomes applied in run-queue order.
//!
//! Syscalls are optimistic (liveslots never waits for an answer), so the thread collects a
//! job's syscalls and returns them with its result; the kernel applies them in order
//! afterwards, exactly as if they had arrived one by one. What one job may collect is bounded.

use super::{Delivery, DeliveryResult, SetupError, Syscall, Syscalls, VatFault, VatRuntime};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Work for a vat's thread.
#[derive(Debug)]
pub enum Job {
    /// `initVat` with the vat's stored vatstore.
    Init(Vec<(String, String)>),
    /// One delivery.
    Deliver(Delivery),
    /// What woke the vat (timers due, finished outside work).
    Wake,
}

/// What one job did: the syscalls it made, in order, and its result.
#[derive(Debug)]
pub struct Ran {
    /// The syscalls, to be applied in this order.
    pub syscalls: Vec<Syscall>,
    /// The delivery result, or why there is none.
    pub result: Result<DeliveryResult, VatFault>,
}

/// At most this many syscalls…
const MAX_SYSCALLS: usize = 100_000;
/// …and this many bytes of syscall payload (bodies and refs) per job: the kernel holds them
/// all in memory until the job ends.
const MAX_SYSCALL_BYTES: usize = 64 << 20;

/// Threads abandoned inside a native call and still running, shared by a kernel's vats.
#[derive(Debug, Default, Clone)]
pub struct Stuck(Arc<AtomicUsize>);

impl Stuck {
    /// How many abandoned threads still run.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The kernel's end of one vat's thread.
pub struct VatThread {
    jobs: Sender<(Job, Duration)>,
    ran: Receiver<Ran>,
    /// Set when the kernel gives up on the thread; the thread then counts itself in `stuck`
    /// until it ends.
    abandoned: Arc<AtomicBool>,
    stuck: Stuck,
    /// The thread's OS id once it runs (Linux), to lower its priority when abandoned.
    tid: Arc<Mutex<Option<i32>>>,
}

/// The kernel stopped waiting for a job: the vat is stuck (and abandoned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the vat did not finish within {0:?}, so it was abandoned")]
pub struct Overrun(pub Duration);

impl VatThread {
    /// Starts a thread named after `vat_id` whose runtime `make` creates on it; a runtime that
    /// cannot be made fails the first job with [`VatFault::Crashed`].
    pub fn spawn(
        vat_id: &str,
        stuck: &Stuck,
        make: impl FnOnce() -> Result<Box<dyn VatRuntime>, SetupError> + Send + 'static,
    ) -> Result<VatThread, SetupError> {
        let (jobs, job_rx) = mpsc::channel::<(Job, Duration)>();
        let (ran_tx, ran) = mpsc::channel();
        let abandoned = Arc::new(AtomicBool::new(false));
        let tid = Arc::new(Mutex::new(None));
        let thread = Worker {
            abandoned: Arc::clone(&abandoned),
            stuck: stuck.clone(),
            tid: Arc::clone(&tid),
        };
        std::thread::Builder::new()
            .name(format!("vat-{vat_id}"))
            .spawn(move || thread.serve(make, job_rx, ran_tx))
            .map_err(|e| SetupError::System(format!("cannot start a thread for {vat_id}: {e}")))?;
        Ok(VatThread {
            jobs,
            ran,
            abandoned,
            stuck: stuck.clone(),
            tid,
        })
    }

    /// Runs `job` within `budget` (which the runtime enforces itself) and waits for it until
    /// `deadline` (the kernel's backstop). On overrun the thread is abandoned: this handle is
    /// then useless, and the thread ends once its native call returns.
    pub fn run(&self, job: Job, budget: Duration, deadline: Duration) -> Result<Ran, Overrun> {
        if self.jobs.send((job, budget)).is_err() {
            return Ok(ended());
        }
        match receive(&self.ran, RESULT_SPIN, deadline) {
            Ok(ran) => Ok(ran),
            Err(RecvTimeoutError::Disconnected) => Ok(ended()),
            Err(RecvTimeoutError::Timeout) => {
                self.abandon();
                Err(Overrun(deadline))
            }
        }
    }

    /// Gives up on the thread: it is counted as stuck until it ends, and runs at the lowest
    /// priority meanwhile so that it takes as little as possible from everyone else.
    fn abandon(&self) {
        if self.abandoned.swap(true, Ordering::SeqCst) {
            return;
        }
        self.stuck.0.fetch_add(1, Ordering::SeqCst);
        let tid = *self.tid.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tid) = tid {
            lower_priority(tid);
        }
    }
}

/// How long the kernel polls for a job's result before it sleeps: a delivery usually takes a
/// fraction of a millisecond, and waking a sleeping thread costs 15–30 µs on a virtual machine
/// (a futex round trip), a tenth of a delivery. Polling yields the core to anything else
/// runnable, so it costs only otherwise idle time.
const RESULT_SPIN: Duration = Duration::from_millis(2);
/// How long a vat's thread polls for its next job before it sleeps: deliveries to one vat
/// often come back to back (a burst of messages, a notify right after a send).
const JOB_SPIN: Duration = Duration::from_micros(200);

/// The next message on `channel` within `limit`, polled (yielding the core between polls) for
/// up to `spin` first, then waited for asleep.
fn receive<T>(
    channel: &Receiver<T>,
    spin: Duration,
    limit: Duration,
) -> Result<T, RecvTimeoutError> {
    let started = Instant::now();
    let spin = spin.min(limit);
    loop {
        match channel.try_recv() {
            Ok(message) => return Ok(message),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) if started.elapsed() < spin => std::thread::yield_now(),
            Err(TryRecvError::Empty) => break,
        }
    }
    match limit.checked_sub(started.elapsed()) {
        Some(left) if limit != Duration::MAX => channel.recv_timeout(left),
        Some(_) => channel.recv().map_err(|_| RecvTimeoutError::Disconnected),
        None => Err(RecvTimeoutError::Timeout),
    }
}

/// The answer for a job given to a thread that has already ended (its runtime panicked).
fn ended() -> Ran {
    Ran {
        syscalls: Vec::new(),
        result: Err(VatFault::Crashed("the vat's thread has ended".into())),
    }
}

/// The vat thread's side.
struct Worker {
    abandoned: Arc<AtomicBool>,
    stuck: Stuck,
    tid: Arc<Mutex<Option<i32>>>,
}

impl Worker {
    fn serve(
        self,
        make: impl FnOnce() -> Result<Box<dyn VatRuntime>, SetupError>,
        jobs: Receiver<(Job, Duration)>,
        ran: Sender<Ran>,
    ) {
        *self.tid.lock().unwrap_or_else(|e| e.into_inner()) = current_tid();
        match make() {
            Ok(mut runtime) => {
                while let Ok((job, budget)) = receive(&jobs, JOB_SPIN, Duration::MAX) {
                    if ran.send(perform(runtime.as_mut(), job, budget)).is_err() {
                        break;
                    }
                }
                // The runtime goes here, on its own thread.
                drop(runtime);
            }
            Err(why) => {
                if jobs.recv().is_ok() {
                    let _ = ran.send(Ran {
                        syscalls: Vec::new(),
                        result: Err(VatFault::Crashed(why.to_string())),
                    });
                }
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.abandoned.load(Ordering::SeqCst) {
            self.stuck.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Runs one job on the vat's runtime, collecting its syscalls.
fn perform(runtime: &mut dyn VatRuntime, job: Job, budget: Duration) -> Ran {
    let mut collected = Collector::default();
    let result = match job {
        Job::Init(state) => runtime.init(state, &mut collected, budget),
        Job::Deliver(delivery) => runtime.deliver(&delivery, &mut collected, budget),
        Job::Wake => runtime.wake(&mut collected, budget),
    };
    let result = match collected.overflow {
        true => Err(VatFault::Crashed(format!(
            "the vat made more than {MAX_SYSCALLS} syscalls or {} MiB of them in one delivery",
            MAX_SYSCALL_BYTES >> 20
        ))),
        false => result,
    };
    Ran {
        syscalls: collected.syscalls,
        result,
    }
}

/// Collects a job's syscalls, up to the bounds.
#[derive(Default)]
struct Collector {
    syscalls: Vec<Syscall>,
    bytes: usize,
    overflow: bool,
}

impl Syscalls for Collector {
    fn syscall(&mut self, syscall: Syscall) {
        if self.overflow {
            return;
        }
        self.bytes += syscall.payload_size();
        if self.syscalls.len() >= MAX_SYSCALLS || self.bytes > MAX_SYSCALL_BYTES {
            self.overflow = true;
            self.syscalls.clear();
            return;
        }
        self.syscalls.push(syscall);
    }
}

#[cfg(target_os = "linux")]
fn current_tid() -> Option<i32> {
    // SAFETY: gettid has no preconditions.
    Some(unsafe { libc::gettid() })
}

#[cfg(not(target_os = "linux"))]
fn current_tid() -> Option<i32> {
    None
}

#[cfg(target_os = "linux")]
fn lower_priority(tid: i32) {
    // On Linux a thread's nice value is its own: PRIO_PROCESS with a thread id sets just it.
    // SAFETY: setpriority only reads its arguments; a thread that already ended gives ESRCH.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19) };
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_tid: i32) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capdata::CapData;
    use crate::vat::Message;

    /// A runtime whose deliveries make `n` sends, or block for `sleep` (a native call that no
    /// budget stops), as the delivery's target says.
    struct Test;

    impl VatRuntime for Test {
        fn init(
            &mut self,
            _state: Vec<(String, String)>,
            _syscalls: &mut dyn Syscalls,
            _budget: Duration,
        ) -> Result<DeliveryResult, VatFault> {
            Ok(DeliveryResult::default())
        }

        fn deliver(
            &mut self,
            delivery: &Delivery,
            syscalls: &mut dyn Syscalls,
            _budget: Duration,
        ) -> Result<DeliveryResult, VatFault> {
            let Delivery::Message { target, .. } = delivery else {
                return Ok(DeliveryResult::default());
            };
            if let Some(ms) = target.strip_prefix("sleep:") {
                std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
            }
            let sends: usize = target
                .strip_prefix("send:")
                .map_or(0, |n| n.parse().unwrap());
            for i in 0..sends {
                syscalls.syscall(send(&format!("p+{i}")));
            }
            Ok(DeliveryResult::default())
        }
    }

    fn send(result: &str) -> Syscall {
        Syscall::Send {
            target: "o-1".into(),
            message: Message {
                methargs: CapData {
                    body: "#[\"x\",[]]".into(),
                    slots: vec![],
                },
                result: Some(result.into()),
            },
        }
    }

    fn deliver(target: &str) -> Job {
        Job::Deliver(Delivery::Message {
            target: target.into(),
            message: Message {
                methargs: CapData {
                    body: "#[\"x\",[]]".into(),
                    slots: vec![],
                },
                result: None,
            },
        })
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn syscalls_come_back_in_order_with_the_result() {
        let stuck = Stuck::default();
        let thread = VatThread::spawn("v1", &stuck, || Ok(Box::new(Test))).unwrap();
        thread.run(Job::Init(vec![]), SECOND, SECOND).unwrap();
        let ran = thread.run(deliver("send:3"), SECOND, SECOND).unwrap();
        assert!(ran.result.is_ok());
        let expected: Vec<Syscall> = (0..3).map(|i| send(&format!("p+{i}"))).collect();
        assert_eq!(ran.syscalls, expected);
    }

    #[test]
    fn a_runtime_that_cannot_be_made_fails_its_first_job() {
        let thread = VatThread::spawn("v1", &Stuck::default(), || {
            Err(SetupError::Code("no code".into()))
        })
        .unwrap();
        let ran = thread.run(Job::Init(vec![]), SECOND, SECOND).unwrap();
        assert_eq!(ran.result, Err(VatFault::Crashed("no code".into())));
    }

    #[test]
    fn a_stuck_vat_is_abandoned_at_the_deadline_and_counted_until_it_ends() {
        let stuck = Stuck::default();
        let thread = VatThread::spawn("v1", &stuck, || Ok(Box::new(Test))).unwrap();
        let started = Instant::now();
        let overrun = thread
            .run(deliver("sleep:3000"), SECOND, Duration::from_millis(100))
            .unwrap_err();
        assert_eq!(overrun, Overrun(Duration::from_millis(100)));
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "did not wait"
        );
        assert_eq!(stuck.count(), 1);
        drop(thread);
        let until = Instant::now() + Duration::from_secs(10);
        while stuck.count() > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(stuck.count(), 0, "the thread ended once its call returned");
    }

    #[test]
    fn too_many_syscalls_in_one_delivery_fail_it() {
        let thread = VatThread::spawn("v1", &Stuck::default(), || Ok(Box::new(Test))).unwrap();
        let job = deliver(&format!("send:{}", MAX_SYSCALLS + 1));
        let ran = thread.run(job, SECOND, Duration::from_secs(30)).unwrap();
        assert!(ran.syscalls.is_empty());
        assert!(
            matches!(ran.result, Err(VatFault::Crashed(_))),
            "{:?}",
            ran.result
        );
    }
}
