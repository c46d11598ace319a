//! Running `ocapd` for a case: a scratch home, a foreground daemon stopped on drop, JSON-RPC
//! calls on fresh connections as clients make them, and the process's memory.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const OCAPD: &str = env!("CARGO_BIN_EXE_ocapd");
pub const OCAPCTL: &str = env!("CARGO_BIN_EXE_ocapctl");
pub const GET_STATUS: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"getStatus\"}\n";

/// SQLite's WAL at its automatic checkpoint: 1,000 frames, each a 4 KiB page and its header.
const WAL_FULL_BYTES: u64 = 1_000 * (4_096 + 24);

/// A scratch OCAP_HOME removed on drop.
pub struct Home(tempfile::TempDir);

impl Home {
    pub fn new() -> Home {
        Home(
            tempfile::Builder::new()
                .prefix("ocap-bench")
                .tempdir_in("/tmp")
                .unwrap(),
        )
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn socket(&self) -> PathBuf {
        self.path().join("daemon.sock")
    }

    pub fn database(&self) -> PathBuf {
        self.path().join("kernel.sqlite")
    }

    /// Whether the daemon's WAL has filled once. Until then each commit appends to it, and its
    /// sync also writes the file's new size (about 0.25 ms on this VM); from then on SQLite
    /// rewrites the same file from its start after each checkpoint (about 0.13 ms). A daemon
    /// pays the first kind for the first 4 MB it commits after each start.
    pub fn wal_filled(&self) -> bool {
        std::fs::metadata(self.path().join("kernel.sqlite-wal"))
            .is_ok_and(|wal| wal.len() >= WAL_FULL_BYTES)
    }

    /// `program` with this home and no service-manager environment.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("OCAP_HOME", self.path())
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null());
        c
    }

    /// A foreground daemon, ready when its socket answers.
    pub fn daemon(&self) -> Daemon {
        self.daemon_with(&[])
    }

    /// A foreground daemon with extra flags.
    pub fn daemon_with(&self, args: &[&str]) -> Daemon {
        let child = self
            .command(OCAPD)
            .arg("--foreground")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until(|| UnixStream::connect(self.socket()).is_ok());
        Daemon(child)
    }
}

/// A daemon process, ended with SIGTERM (a clean shutdown) on drop.
pub struct Daemon(pub Child);

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGTERM, then wait for the exit.
    pub fn stop(self) {
        drop(self)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// Runs `work` until the WAL of every daemon in `homes` has filled once (at most `limit` times),
/// so that what follows measures a daemon in its steady state.
pub fn fill_wal(homes: &[&Home], limit: usize, work: impl Fn()) {
    for _ in 0..limit {
        if homes.iter().all(|home| home.wal_filled()) {
            return;
        }
        work();
    }
}

pub fn wait_until(mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// One getStatus on a fresh connection, its raw reply.
pub fn get_status(socket: &Path) -> Vec<u8> {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.write_all(GET_STATUS).unwrap();
    let mut reply = Vec::with_capacity(256);
    stream.read_to_end(&mut reply).unwrap();
    reply
}

/// One JSON-RPC call on a fresh connection; the result, or a panic with the error.
pub fn rpc(socket: &Path, method: &str, params: Value) -> Value {
    let mut stream = UnixStream::connect(socket).unwrap();
    let line = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert!(reply.get("error").is_none(), "{method}: {reply}");
    reply["result"].clone()
}

/// `queueMessage` with plain JSON arguments; the result's smallcaps body.
pub fn send(socket: &Path, target: &str, method: &str, args: Value) -> String {
    let result = rpc(socket, "queueMessage", json!([target, method, args]));
    result["body"].as_str().unwrap_or_default().to_string()
}

/// `launchSubcluster` params for JavaScript vats from the bundles the build made: each vat is
/// `(name, bundle)`, e.g. `("pong3", "pong")`.
pub fn cluster(bootstrap: &str, vats: &[(String, &str)]) -> Value {
    let vats: serde_json::Map<String, Value> = vats
        .iter()
        .map(|(name, bundle)| {
            let spec = format!("file://{}/{bundle}.bundle", env!("OUT_DIR"));
            (name.clone(), json!({"bundleSpec": spec}))
        })
        .collect();
    json!({"config": {"bootstrap": bootstrap, "vats": vats}})
}

/// Launches a subcluster; its root kref.
pub fn launch(socket: &Path, params: Value) -> String {
    let result = rpc(socket, "launchSubcluster", params);
    result["rootKref"]
        .as_str()
        .expect("a root kref")
        .to_string()
}

/// Resident memory of process `pid`, in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    kib / 1024.0
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Waits for `child`; its status and peak resident memory in KiB.
pub fn wait_with_rusage(child: Child) -> (ExitStatus, f64) {
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    (ExitStatus::from_raw(status), usage.ru_maxrss as f64)
}

/// Calls `work` from `clients` threads until `period` is over; completed calls per second.
pub fn throughput(clients: usize, period: Duration, work: impl Fn() + Sync) -> f64 {
    let deadline = Instant::now() + period;
    let started = Instant::now();
    let done: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0;
                    while Instant::now() < deadline {
                        work();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    done as f64 / started.elapsed().as_secs_f64()
}

/// Calls `work` `total` times, spread over `clients` threads.
pub fn spread(clients: usize, total: usize, work: impl Fn() + Sync) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..clients {
            s.spawn(|| {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                    work();
                }
            });
        }
    });
}
