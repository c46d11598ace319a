//! Connection limits that hold against a hostile neighbour (issue 15 item 7):
//!
//! * the capability socket and the control socket have limits of their own, and one uid may take
//!   only so many of the capability socket's slots: another uid holding hundreds of connections
//!   there locks out neither the owner nor other uids;
//! * a call that never settles gives its slot back when its client hangs up (a client that only
//!   half-closes still gets its answer);
//! * half-sent requests cannot pin more memory than the daemon's buffer budget, and idle
//!   connections cost little.

use crate::common::{
    Daemon, Home, call, eventually, request, request_line, rss_and_fds, try_request,
};
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Run as another uid: opens `count` connections to the socket `path`, sends half a request
/// line on each (padded with `pad` spaces, if given), then sorts them by what the daemon did within two quiet seconds (still waiting
/// for the rest of the line, answered with an error, or closed without a word) and prints
/// `open N refused N closed N: TEXT`, the text being one refusal. It holds the open ones until
/// its standard input closes.
const HOLDER: &str = r#"
import select, socket, sys
path, count = sys.argv[1], int(sys.argv[2])
pad = int(sys.argv[3]) if len(sys.argv) > 3 else 0
held = []
for _ in range(count):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    try:
        s.sendall(b'{"jsonrpc":"2.0","id":1,' + b' ' * pad)
    except OSError:
        pass
    held.append(s)
replies = {s: b"" for s in held}
closed = set()
while True:
    waiting = [s for s in held if s not in closed]
    ready, _, _ = select.select(waiting, [], [], 2.0)
    if not ready:
        break
    for s in ready:
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if data:
            replies[s] += data
        else:
            closed.add(s)
refused = [r for r in replies.values() if r]
silent = [s for s in closed if not replies[s]]
sample = refused[0].decode().strip() if refused else ""
print("open %d refused %d closed %d: %s" % (
    count - len(closed), len(refused), len(silent), sample), flush=True)
sys.stdin.read()
"#;

/// A process of uid 65534 holding connections to a socket (see [`HOLDER`]).
struct Holder {
    child: std::process::Child,
    report: String,
}

impl Holder {
    fn start(socket: &Path, count: usize) -> Holder {
        Holder::start_padded(socket, count, 0)
    }

    /// [`Holder::start`], each half line padded with `pad` spaces.
    fn start_padded(socket: &Path, count: usize, pad: usize) -> Holder {
        let mut child = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(["python3", "-c", HOLDER])
            .arg(socket)
            .arg(count.to_string())
            .arg(pad.to_string())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("setpriv (util-linux) and python3 must be installed");
        let mut report = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut report)
            .unwrap();
        Holder { child, report }
    }

    /// (open, refused with an error, closed without one, one refusal's text).
    fn counts(&self) -> (usize, usize, usize, String) {
        let (counts, sample) = self.report.split_once(": ").unwrap_or((&self.report, ""));
        let words: Vec<&str> = counts.split_whitespace().collect();
        assert_eq!(words.len(), 6, "{}", self.report);
        let number = |i: usize| words[i].parse().unwrap();
        (number(1), number(3), number(5), sample.trim().to_string())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// A daemon with `extra` flags and a capability socket that other uids can reach (its home
/// open to them): the home, the daemon and the socket. `None` (the test skipped, and saying so)
/// unless this runs as root, which switching to another uid needs.
fn open_to_other_uids(extra: &[&str]) -> Option<(Home, Daemon, PathBuf)> {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: switching to another uid needs root");
        return None;
    }
    let home = Home::new();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let caps = home.path().join("caps.sock");
    let mut args = vec![
        "--log-level",
        "error",
        "--cap-socket",
        caps.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let daemon = home.daemon(&args);
    Some((home, daemon, caps))
}

#[test]
fn another_uid_holding_the_capability_socket_locks_out_neither_the_owner_nor_other_uids() {
    // The default limits: 256 connections on each socket, 64 of the capability socket's for
    // any one uid.
    let Some((home, _daemon, caps)) = open_to_other_uids(&[]) else {
        return;
    };
    let holder = Holder::start(&caps, 300);
    let (open, refused, closed, sample) = holder.counts();
    // Past the first refusals, a flood is closed without a word.
    assert_eq!((open, refused + closed), (64, 236), "{}", holder.report);
    assert!(refused > 0, "{}", holder.report);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&sample).unwrap()["error"],
        json!({"code": -32001, "message": "Too many connections from uid 65534 on the \
               capability socket (limit 64); try again"})
    );
    // The owner's control socket is its own; another uid (root here) still gets a slot on the
    // capability socket.
    assert_eq!(call(&home.socket(), "getStatus", "[]")["vats"], json!([]));
    assert_eq!(call(&caps, "status", "[]")["running"], true);
    drop(holder);
    // Its slots come back once it leaves.
    let again = Holder::start(&caps, 64);
    assert_eq!(again.counts().0, 64, "{}", again.report);
}

#[test]
fn another_uid_cannot_spend_the_capability_sockets_buffer_budget() {
    // 8 MB of unfinished lines on the socket; a uid's share is its part of the connections
    // (64 of 256): 2 MB.
    let Some((_home, _daemon, caps)) = open_to_other_uids(&["--max-buffered-bytes", "8000000"])
    else {
        return;
    };
    // 24 half lines of 330 kB would hold about 12 MB.
    let holder = Holder::start_padded(&caps, 24, 330_000);
    let (open, refused, _, sample) = holder.counts();
    assert!(refused > 0 && open < 24, "{}", holder.report);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&sample).unwrap()["error"]["message"],
        "Too many unfinished requests from uid 65534: the daemon holds at most 2000000 bytes \
         of them; try again"
    );
    // Another uid (root here) still has room for a long request.
    let long = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"status",{}"params":[]}}"#,
        " ".repeat(900_000)
    );
    assert_eq!(request(&caps, &long)["result"]["running"], true);
}

#[test]
fn the_capability_socket_has_a_limit_of_its_own() {
    let home = Home::new();
    let caps = home.path().join("caps.sock");
    let _daemon = home.daemon(&[
        "--log-level",
        "error",
        "--cap-socket",
        caps.to_str().unwrap(),
        "--max-connections",
        "3",
        "--max-cap-connections",
        "5",
    ]);
    let held: Vec<UnixStream> = (0..5)
        .map(|_| {
            let mut s = UnixStream::connect(&caps).unwrap();
            s.write_all(b"{\"jsonrpc\":").unwrap();
            s
        })
        .collect();
    let refused = try_request(&caps, &request_line("status", &json!([]))).unwrap();
    assert_eq!(
        refused["error"],
        json!({"code": -32001, "message": "Too many connections on the capability socket \
               (limit 5); try again"})
    );
    // Five connections there, three allowed here: the control socket does not care.
    for _ in 0..3 {
        assert_eq!(call(&home.socket(), "getStatus", "[]")["vats"], json!([]));
    }
    drop(held);
}

fn worker_counter(home: &Home) {
    let worker = format!(
        "{}/tests/fixtures/scripted_vat.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let config = json!({"config": {"bootstrap": "counter", "vats": {"counter": {
        "bundleSpec": "file:///counter.bundle",
        "creationOptions": {"worker": ["python3", worker]}}}}});
    let launched = call(&home.socket(), "launchSubcluster", &config.to_string());
    assert_eq!(launched["rootKref"], "ko4", "{launched}");
}

#[test]
fn a_call_that_never_settles_frees_its_slot_when_the_client_hangs_up() {
    let home = Home::new();
    let _daemon = home.daemon(&["--log-level", "error", "--max-connections", "2"]);
    worker_counter(&home);
    let hang = request_line("queueMessage", &json!(["ko4", "hang", []]));
    for _ in 0..4 {
        let mut stream = UnixStream::connect(home.socket()).unwrap();
        stream.write_all(format!("{hang}\n").as_bytes()).unwrap();
        // The daemon is waiting for the vat when the client leaves.
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut byte = [0u8; 1];
        assert!(stream.read(&mut byte).is_err(), "the call answered");
        drop(stream);
        let served = eventually(Duration::from_secs(5), || {
            try_request(&home.socket(), &request_line("getStatus", &json!([])))
                .is_ok_and(|r| r.get("result").is_some())
        });
        assert!(served, "the abandoned call kept its slot");
    }
    // A client that only shuts down its writing side is still waiting: it gets its answer.
    let echoed = request(
        &home.socket(),
        &request_line("queueMessage", &json!(["ko4", "echo", [7]])),
    );
    assert_eq!(echoed["result"]["body"], "#7", "{echoed}");
}

#[test]
fn calls_abandoned_by_their_clients_are_not_kept_by_the_kernel() {
    // Each left a waiter (and an entry in kernelWaiters) for good: a client of the capability
    // socket could pile them up without end, and every later call rewrote them all.
    let home = Home::new();
    let _daemon = home.daemon(&["--log-level", "error"]);
    worker_counter(&home);
    let hang = request_line("queueMessage", &json!(["ko4", "hang", []]));
    for _ in 0..200 {
        let mut stream = UnixStream::connect(home.socket()).unwrap();
        stream.write_all(format!("{hang}\n").as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let _ = stream.read(&mut [0u8; 1]);
    }
    let sql = json!({"sql": "SELECT value FROM kv WHERE key = 'kernelWaiters'"});
    let held = eventually(Duration::from_secs(10), || {
        let rows = call(&home.socket(), "executeDBQuery", &sql.to_string());
        let waiters: serde_json::Value = rows[0]["value"]
            .as_str()
            .map_or(json!({}), |v| serde_json::from_str(v).unwrap());
        waiters.as_object().unwrap().len() < 100
    });
    assert!(held, "the kernel kept the waiters of 200 abandoned calls");
}

#[test]
fn half_sent_requests_pin_no_more_than_the_buffer_budget() {
    let home = Home::new();
    let daemon = home.daemon(&["--log-level", "error"]);
    let pid = daemon.child.id();
    call(&home.socket(), "getStatus", "[]");
    let (before, _) = rss_and_fds(pid);
    // 200 connections of 1,000,000 bytes each, no newline: under the 1 MiB request limit, but
    // 200 MB in all.
    let chunk = vec![b'x'; 1_000_000];
    let mut held = Vec::new();
    let mut refusals = 0;
    for _ in 0..200 {
        let mut stream = UnixStream::connect(home.socket()).unwrap();
        if stream.write_all(&chunk).is_err() {
            // Refused (and closed) before it could send everything.
        }
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        if !reply.is_empty() {
            assert!(reply.contains("Too many unfinished requests"), "{reply:?}");
            refusals += 1;
        }
        held.push(stream);
    }
    let (after, _) = rss_and_fds(pid);
    eprintln!(
        "200 half-sent 1 MB requests: RSS {before} KiB before, {after} KiB after, \
         {refusals} refused"
    );
    assert!(refusals > 0, "no request was refused");
    assert!(
        after < before + 112 * 1024,
        "memory grew from {before} KiB to {after} KiB"
    );
    // The owner is still served while they hang on.
    assert_eq!(call(&home.socket(), "getStatus", "[]")["vats"], json!([]));
}

/// The daemon's descriptor count once it stops changing (the last connection closed).
fn steady_fds(pid: u32) -> usize {
    let mut last = rss_and_fds(pid).1;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = rss_and_fds(pid).1;
        if now == last {
            return now;
        }
        last = now;
    }
}

#[test]
fn idle_connections_cost_little_memory() {
    let home = Home::new();
    let daemon = home.daemon(&["--log-level", "error", "--max-connections", "1000"]);
    let pid = daemon.child.id();
    call(&home.socket(), "getStatus", "[]");
    // Warm up the runtime's tables with a few.
    let baseline = steady_fds(pid);
    let warm: Vec<UnixStream> = (0..100)
        .map(|_| UnixStream::connect(home.socket()).unwrap())
        .collect();
    assert!(eventually(Duration::from_secs(5), || rss_and_fds(pid).1
        >= baseline + 100));
    drop(warm);
    let settled = eventually(Duration::from_secs(5), || rss_and_fds(pid).1 <= baseline);
    assert!(settled, "{baseline} -> {}", rss_and_fds(pid).1);
    let fds_before = steady_fds(pid);
    let before = rss_and_fds(pid).0;
    let idle: Vec<UnixStream> = (0..800)
        .map(|_| UnixStream::connect(home.socket()).unwrap())
        .collect();
    assert!(eventually(Duration::from_secs(5), || rss_and_fds(pid).1
        >= fds_before + 800));
    let (after, _) = rss_and_fds(pid);
    eprintln!("800 idle connections: RSS {before} KiB before, {after} KiB after");
    assert!(
        after < before + 4096,
        "800 idle connections grew memory from {before} KiB to {after} KiB"
    );
    drop(idle);
}
