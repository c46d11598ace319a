//! Crash consistency: real JavaScript vats (the counter and ping-pong examples) under a mixed
//! workload of launches, baggage writes, vat-to-vat traffic and terminations, while the daemon is
//! SIGKILLed at random moments and restarted. After every kill:
//!
//! * the database the crash left passes `fsck` (SQLite's integrity check and every kernel
//!   invariant over `kv`), and so does the restarted daemon's `checkIntegrity`;
//! * every reply a client received is reflected in the state: an acknowledged launch exists,
//!   an acknowledged termination stuck, and a counter is at least the last value a client was
//!   told and at most that plus the increments whose replies were lost (nothing lost, nothing
//!   applied twice: the count lives in the vat's baggage, so vatstore and kernel state agree);
//! * the run queue resumes: every surviving vat answers a new message;
//! * every online backup (`backupDatabase`, behind `ocapctl backup`) taken during the workload
//!   passes `fsck` too.
//!
//! `OCAP_CRASH_ITERATIONS` (default 12) kills; `OCAP_CRASH_SEED` replays a run (the seed is
//! printed). Failures are collected and reported together with the seed.

use crate::common::{Notify, Rng, env_number, request_line, seed_from_env, try_request};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn bundle(name: &str) -> String {
    format!("file://{}/{name}.bundle", env!("OUT_DIR"))
}

/// What the clients were told, and so what must have survived.
#[derive(Default)]
struct Model {
    /// Subcluster id → its counter: root kref, last value acknowledged, increments sent but not
    /// acknowledged since.
    counters: BTreeMap<String, Counter>,
    /// Subcluster id → the ping vat's root kref.
    ping_pongs: BTreeMap<String, String>,
    /// Subclusters whose termination was sent but not acknowledged.
    dying: BTreeSet<String>,
    /// Subclusters whose termination was acknowledged.
    terminated: BTreeSet<String>,
    /// Everything that went wrong, with the iteration it happened in.
    failures: Vec<String>,
    /// Replies received, for the report.
    acknowledged: u64,
    /// Requests whose reply the kill cut off, for the report.
    cut_off: u64,
    /// Backups the daemon reported written during the current run, to check after the kill.
    backups: Vec<PathBuf>,
    /// Backups checked, for the report.
    backups_checked: u64,
}

#[derive(Clone)]
struct Counter {
    root: String,
    acked: u64,
    unacked: u64,
}

impl Model {
    fn live(&self) -> Vec<String> {
        (self.counters.keys())
            .chain(self.ping_pongs.keys())
            .filter(|id| !self.dying.contains(*id))
            .cloned()
            .collect()
    }
}

/// One run of the daemon, SIGKILLed on drop if still alive.
struct Daemon {
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(home: &crate::common::Home, log: &Path) -> Daemon {
    let mut notify = Notify::new(home.path());
    let log = File::options().create(true).append(true).open(log).unwrap();
    let child = home
        .command(crate::common::OCAPD)
        .args(["--foreground", "--log-level", "warn"])
        .env("NOTIFY_SOCKET", &notify.path)
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let daemon = Daemon { child };
    notify.expect("READY=1", Duration::from_secs(60));
    let _ = std::fs::remove_file(&notify.path);
    daemon
}

/// The clients' view of one daemon run: where to connect and whether a broken connection is
/// expected (the test is about to kill, or has killed, the daemon).
struct Run {
    socket: PathBuf,
    killing: AtomicBool,
    model: Mutex<Model>,
    iteration: Mutex<u64>,
}

impl Run {
    /// Sends a request; `None` when the connection broke because of the kill (a lost reply),
    /// `Some(response)` otherwise. A broken connection while the daemon should be alive is a
    /// failure.
    fn call(&self, method: &str, params: Value) -> Option<Value> {
        match try_request(&self.socket, &request_line(method, &params)) {
            Ok(response) => Some(response),
            Err(_) if self.killing.load(Ordering::SeqCst) => {
                self.model.lock().unwrap().cut_off += 1;
                None
            }
            Err(e) => {
                self.fail(format!("{method} {params}: {e}"));
                None
            }
        }
    }

    fn fail(&self, what: String) {
        let iteration = *self.iteration.lock().unwrap();
        self.model
            .lock()
            .unwrap()
            .failures
            .push(format!("iteration {iteration}: {what}"));
    }

    fn stopped(&self) -> bool {
        self.killing.load(Ordering::SeqCst)
    }

    /// An error response is a failure unless the subcluster is being terminated meanwhile.
    fn unexpected(&self, subcluster: &str, what: &str, response: &Value) {
        let model = self.model.lock().unwrap();
        let gone = model.dying.contains(subcluster) || model.terminated.contains(subcluster);
        drop(model);
        if !gone {
            self.fail(format!("{what} on {subcluster}: {response}"));
        }
    }
}

/// Increments random counters; the count lives in baggage, so each is a vatstore write.
fn counter_client(run: &Run, mut rng: Rng) {
    while !run.stopped() {
        let picked = {
            let mut model = run.model.lock().unwrap();
            let ids: Vec<String> = model
                .counters
                .keys()
                .filter(|id| !model.dying.contains(*id))
                .cloned()
                .collect();
            if ids.is_empty() {
                None
            } else {
                let id = ids[rng.below(ids.len() as u64) as usize].clone();
                let counter = model.counters.get_mut(&id).unwrap();
                counter.unacked += 1;
                Some((id, counter.root.clone()))
            }
        };
        let Some((id, root)) = picked else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let Some(response) = run.call("queueMessage", json!([root, "resume", []])) else {
            continue;
        };
        match counted(&response) {
            Some(value) => {
                let mut model = run.model.lock().unwrap();
                model.acknowledged += 1;
                if let Some(counter) = model.counters.get_mut(&id) {
                    counter.unacked -= 1;
                    counter.acked = counter.acked.max(value);
                }
            }
            None => run.unexpected(&id, "resume", &response),
        }
    }
}

/// The value in a `"Counter incremented to: N"` reply.
fn counted(response: &Value) -> Option<u64> {
    response["result"]["body"]
        .as_str()?
        .strip_prefix("#\"Counter incremented to: ")?
        .strip_suffix('"')?
        .parse()
        .ok()
}

/// Launches counters and ping-pong pairs, and terminates some, keeping a handful alive.
fn launcher(run: &Run, mut rng: Rng) {
    while !run.stopped() {
        let live = run.model.lock().unwrap().live();
        if live.len() >= 6 || (live.len() > 2 && rng.below(5) == 0) {
            terminate(run, &live[rng.below(live.len() as u64) as usize]);
        } else if rng.below(3) == 0 {
            launch_ping_pong(run);
        } else {
            launch_counter(run);
        }
    }
}

fn launch_counter(run: &Run) {
    let config = json!({"bootstrap": "counter", "vats": {"counter": {
        "bundleSpec": bundle("counter"), "parameters": {"name": "Counter"}}}});
    let Some(response) = run.call("launchSubcluster", json!({"config": config})) else {
        return;
    };
    let result = &response["result"];
    if result["bootstrapResult"]["body"] != "#\"Counter initialized with count: 1\"" {
        return run.fail(format!("counter launch: {response}"));
    }
    let mut model = run.model.lock().unwrap();
    model.acknowledged += 1;
    let counter = Counter {
        root: result["rootKref"].as_str().unwrap().into(),
        acked: 1,
        unacked: 0,
    };
    let id = result["subclusterId"].as_str().unwrap().to_string();
    model.counters.insert(id, counter);
}

fn launch_ping_pong(run: &Run) {
    let config = json!({"bootstrap": "ping", "vats": {
        "ping": {"bundleSpec": bundle("ping")},
        "pong": {"bundleSpec": bundle("pong")}}});
    let Some(response) = run.call("launchSubcluster", json!({"config": config})) else {
        return;
    };
    let result = &response["result"];
    if result["bootstrapResult"]["body"] != "#\"ping-pong ready\"" {
        return run.fail(format!("ping-pong launch: {response}"));
    }
    let mut model = run.model.lock().unwrap();
    model.acknowledged += 1;
    let id = result["subclusterId"].as_str().unwrap().to_string();
    let root = result["rootKref"].as_str().unwrap().to_string();
    model.ping_pongs.insert(id, root);
}

fn terminate(run: &Run, id: &str) {
    run.model.lock().unwrap().dying.insert(id.into());
    let Some(response) = run.call("terminateSubcluster", json!({"id": id})) else {
        return;
    };
    if response["result"] != Value::Null || response.get("error").is_some() {
        return run.fail(format!("terminate {id}: {response}"));
    }
    let mut model = run.model.lock().unwrap();
    model.acknowledged += 1;
    forget(&mut model, id);
    model.terminated.insert(id.into());
}

fn forget(model: &mut Model, id: &str) {
    model.dying.remove(id);
    model.counters.remove(id);
    model.ping_pongs.remove(id);
}

/// Vat-to-vat traffic: awaited round trips between ping and pong, and pipelining to a counter
/// pong makes (an ephemeral object: one still messaged when the daemon dies is abandoned at
/// the restart, so the message splats instead of killing pong; spec §14.11).
fn ping_pong_client(run: &Run, mut rng: Rng) {
    while !run.stopped() {
        let picked = {
            let model = run.model.lock().unwrap();
            let pairs: Vec<(String, String)> = (model.ping_pongs.iter())
                .filter(|(id, _)| !model.dying.contains(*id))
                .map(|(id, root)| (id.clone(), root.clone()))
                .collect();
            (!pairs.is_empty()).then(|| pairs[rng.below(pairs.len() as u64) as usize].clone())
        };
        let Some((id, root)) = picked else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let rounds = 1 + rng.below(4);
        let (method, args, expected) = if rng.below(3) == 0 {
            ("pipeline", json!([]), "#2".to_string())
        } else {
            ("rally", json!([rounds]), format!("#\"pong {rounds}\""))
        };
        let Some(response) = run.call("queueMessage", json!([root, method, args])) else {
            continue;
        };
        if response["result"]["body"] == expected.as_str() {
            run.model.lock().unwrap().acknowledged += 1;
        } else {
            run.unexpected(&id, method, &response);
        }
    }
}

/// Takes online backups (`ocapctl backup`) while the others work; each must be consistent.
fn backup_client(run: &Run, dir: &Path) {
    let mut n = 0;
    while !run.stopped() {
        n += 1;
        let path = dir.join(format!(
            "backup-{}-{n}.sqlite",
            *run.iteration.lock().unwrap()
        ));
        let Some(response) = run.call("backupDatabase", json!({"path": path})) else {
            continue;
        };
        if response.get("error").is_some() {
            run.fail(format!("backup: {response}"));
        } else {
            run.model.lock().unwrap().backups.push(path);
        }
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// Runs the workload on a live daemon until it is killed after `kill_after`.
fn workload_then_kill(run: &Arc<Run>, daemon: &mut Daemon, rng: &mut Rng, kill_after: Duration) {
    run.killing.store(false, Ordering::SeqCst);
    let clients: Vec<std::thread::JoinHandle<()>> = (0..5)
        .map(|i| {
            let run = Arc::clone(run);
            let seed = rng.next();
            std::thread::spawn(move || {
                let rng = Rng::new(seed);
                match i {
                    0 => launcher(&run, rng),
                    1 | 2 => counter_client(&run, rng),
                    3 => ping_pong_client(&run, rng),
                    _ => backup_client(&run, run.socket.parent().unwrap()),
                }
            })
        })
        .collect();
    std::thread::sleep(kill_after);
    run.killing.store(true, Ordering::SeqCst);
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    for client in clients {
        client.join().unwrap();
    }
}

/// Checks the database a crash left behind, before anything opens it for writing, and every
/// backup taken while the daemon ran.
fn fsck_after_crash(run: &Run, database: &Path) {
    fsck(run, database, "the database after the crash");
    let backups = std::mem::take(&mut run.model.lock().unwrap().backups);
    for backup in backups {
        fsck(run, &backup, &backup.display().to_string());
        let _ = std::fs::remove_file(&backup);
        run.model.lock().unwrap().backups_checked += 1;
    }
}

fn fsck(run: &Run, database: &Path, what: &str) {
    match ocap::kernel::fsck::fsck(database) {
        Ok(report) if ocap::kernel::fsck::is_clean(&report) => {}
        Ok(report) => run.fail(format!("fsck of {what}: {report}")),
        Err(e) => run.fail(format!("fsck of {what} could not run: {e}")),
    }
}

/// After a restart: everything acknowledged is there, and every vat answers again.
fn check_restarted(run: &Run) {
    let Some(status) = run.call("getStatus", json!([])) else {
        return;
    };
    let existing: BTreeSet<String> = status["result"]["subclusters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["id"].as_str().map(String::from))
        .collect();
    reconcile(run, &existing);
    let (counters, ping_pongs) = {
        let model = run.model.lock().unwrap();
        (model.counters.clone(), model.ping_pongs.clone())
    };
    for (id, counter) in counters {
        check_counter(run, &id, &counter);
    }
    for (id, root) in ping_pongs {
        let response = run.call("queueMessage", json!([root, "rally", [2]]));
        if response.as_ref().map(|r| &r["result"]["body"]) != Some(&json!("#\"pong 2\"")) {
            run.fail(format!("ping-pong {id} after restart: {response:?}"));
        }
        let response = run.call("queueMessage", json!([root, "pipeline", []]));
        if response.as_ref().map(|r| &r["result"]["body"]) != Some(&json!("#2")) {
            run.fail(format!("pipeline {id} after restart: {response:?}"));
        }
    }
    match run.call("checkIntegrity", json!([])) {
        Some(r) if r["result"] == json!({"integrity": ["ok"], "invariants": []}) => {}
        other => run.fail(format!("checkIntegrity after restart: {other:?}")),
    }
}

/// Compares the subclusters that exist with what the clients were told, and settles what they
/// could not know (a termination or launch whose reply was lost).
fn reconcile(run: &Run, existing: &BTreeSet<String>) {
    let mut model = run.model.lock().unwrap();
    for id in model.live() {
        if !existing.contains(&id) {
            model
                .failures
                .push(format!("acknowledged launch of {id} was lost"));
            forget(&mut model, &id);
        }
    }
    let revived: Vec<String> = existing.intersection(&model.terminated).cloned().collect();
    for id in revived {
        let failure = format!("acknowledged termination of {id} was lost");
        model.failures.push(failure);
    }
    for id in model.dying.clone() {
        if existing.contains(&id) {
            model.dying.remove(&id);
        } else {
            forget(&mut model, &id);
            model.terminated.insert(id);
        }
    }
    let known: BTreeSet<String> = model.live().into_iter().collect();
    let orphans: Vec<String> = (existing.iter())
        .filter(|id| !known.contains(*id) && !model.terminated.contains(*id))
        .cloned()
        .collect();
    drop(model);
    // A launch whose reply was lost: it committed, so it is whole. Tidy it away.
    for id in orphans {
        terminate(run, &id);
    }
}

fn check_counter(run: &Run, id: &str, counter: &Counter) {
    let response = run.call("queueMessage", json!([counter.root, "resume", []]));
    let Some(value) = response.as_ref().and_then(counted) else {
        return run.fail(format!("counter {id} after restart: {response:?}"));
    };
    let persisted = value - 1;
    let range = counter.acked..=counter.acked + counter.unacked;
    if !range.contains(&persisted) {
        run.fail(format!(
            "counter {id} persisted {persisted}, but clients were told {} with {} unacknowledged",
            counter.acked, counter.unacked
        ));
    }
    let mut model = run.model.lock().unwrap();
    if let Some(c) = model.counters.get_mut(id) {
        c.acked = value;
        c.unacked = 0;
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    let seed = seed_from_env("OCAP_CRASH_SEED");
    let iterations = env_number("OCAP_CRASH_ITERATIONS", 12);
    eprintln!("crash: seed {seed} (replay with OCAP_CRASH_SEED={seed}), {iterations} kills");
    let home = crate::common::Home::new();
    let log = home.path().join("daemons.log");
    let run = Arc::new(Run {
        socket: home.socket(),
        killing: AtomicBool::new(false),
        model: Mutex::new(Model::default()),
        iteration: Mutex::new(0),
    });
    let mut rng = Rng::new(seed);
    for iteration in 0..iterations {
        *run.iteration.lock().unwrap() = iteration;
        let mut daemon = start(&home, &log);
        run.killing.store(false, Ordering::SeqCst);
        check_restarted(&run);
        let kill_after = Duration::from_millis(20 + rng.below(2_000));
        workload_then_kill(&run, &mut daemon, &mut rng, kill_after);
        fsck_after_crash(&run, &home.database());
    }
    *run.iteration.lock().unwrap() = iterations;
    let daemon = start(&home, &log);
    check_restarted(&run);
    drop(daemon);
    let model = run.model.lock().unwrap();
    eprintln!(
        "crash: {iterations} kills, {} replies acknowledged, {} cut off by a kill, {} subclusters terminated, {} online backups checked, {} failures",
        model.acknowledged,
        model.cut_off,
        model.terminated.len(),
        model.backups_checked,
        model.failures.len()
    );
    assert!(
        model.acknowledged > iterations,
        "the workload hardly ran: {} replies",
        model.acknowledged
    );
    assert!(
        model.failures.is_empty(),
        "seed {seed} (replay with OCAP_CRASH_SEED={seed}):\n  {}\n(daemon logs: {})",
        model.failures.join("\n  "),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
