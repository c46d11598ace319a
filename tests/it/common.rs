//! Shared helpers for the integration tests: a private home directory, a foreground daemon
//! whose readiness is read from a real sd_notify socket, raw socket requests, and `ocapctl`.

use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The built binaries.
pub const OCAPD: &str = env!("CARGO_BIN_EXE_ocapd");
/// The built client.
pub const OCAPCTL: &str = env!("CARGO_BIN_EXE_ocapctl");

/// A temporary `OCAP_HOME` with an isolated environment for the processes the test starts.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    /// A fresh, empty home.
    pub fn new() -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("ocap-test")
                .tempdir_in("/tmp")
                .unwrap(),
        }
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The control socket's path.
    pub fn socket(&self) -> PathBuf {
        self.path().join("daemon.sock")
    }

    /// The database's path.
    pub fn database(&self) -> PathBuf {
        self.path().join("kernel.sqlite")
    }

    /// A command with the environment pointed at this home and nothing leaking in from the
    /// developer's machine (no systemd activation, no real config file).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("OCAP_HOME", self.path())
            .stdin(Stdio::null());
        command
    }

    /// Runs `ocapctl ARGS` to completion.
    pub fn ocapctl(&self, args: &[&str]) -> Output {
        self.command(OCAPCTL).args(args).output().unwrap()
    }

    /// Starts `ocapd --foreground ARGS` and waits for its READY=1.
    pub fn daemon(&self, args: &[&str]) -> Daemon {
        self.daemon_with(args, |_| {})
    }

    /// [`Home::daemon`], with the command adjusted by `configure` before it starts.
    pub fn daemon_with(&self, args: &[&str], configure: impl FnOnce(&mut Command)) -> Daemon {
        let notify = Notify::new(self.path());
        let mut command = self.command(OCAPD);
        command
            .arg("--foreground")
            .args(args)
            .env("NOTIFY_SOCKET", &notify.path)
            .stderr(Stdio::piped());
        configure(&mut command);
        let child = command.spawn().unwrap();
        let mut daemon = Daemon::new(child, notify);
        daemon.expect_notify("READY=1", Duration::from_secs(20));
        daemon
    }
}

/// A datagram socket standing in for systemd's notify socket.
pub struct Notify {
    pub path: PathBuf,
    socket: UnixDatagram,
    seen: Vec<String>,
}

impl Notify {
    /// Binds a fresh notify socket in `dir`.
    pub fn new(dir: &Path) -> Notify {
        let path = dir.join(format!("notify-{}.sock", unique()));
        let socket = UnixDatagram::bind(&path).unwrap();
        Notify {
            path,
            socket,
            seen: Vec::new(),
        }
    }

    /// Waits until a message containing the line `wanted` arrives; returns all messages so far.
    pub fn expect(&mut self, wanted: &str, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        while !self.seen.iter().any(|m| m.lines().any(|l| l == wanted)) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {wanted} within {within:?}; got {:?}",
                self.seen
            );
            self.socket.set_read_timeout(Some(left)).unwrap();
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.seen
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        self.seen.clone()
    }
}

impl Notify {
    /// Takes the messages that have arrived, without waiting.
    pub fn poll(&mut self) {
        self.socket.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.socket.recv(&mut buf) {
            self.seen
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        self.socket.set_nonblocking(false).unwrap();
    }

    /// Every message taken so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }
}

fn unique() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// A daemon started by the test; killed on drop if still running.
pub struct Daemon {
    pub child: Child,
    pub notify: Notify,
    /// Its stderr, read as it comes: a daemon whose log nobody reads would block on the full
    /// pipe (64 KiB) the next time it logs.
    log: Option<std::thread::JoinHandle<(usize, Vec<u8>)>>,
}

/// Reads a daemon's stderr to its end on a thread: (bytes in all, the first MiB of them).
fn drain(mut stderr: std::process::ChildStderr) -> std::thread::JoinHandle<(usize, Vec<u8>)> {
    std::thread::spawn(move || {
        let (mut total, mut kept) = (0, Vec::new());
        let mut chunk = vec![0u8; 64 * 1024];
        while let Ok(n) = stderr.read(&mut chunk) {
            if n == 0 {
                break;
            }
            total += n;
            if kept.len() < 1 << 20 {
                kept.extend_from_slice(&chunk[..n]);
            }
        }
        (total, kept)
    })
}

impl Daemon {
    /// A started daemon, its stderr (if piped) drained from now on.
    pub fn new(mut child: Child, notify: Notify) -> Daemon {
        let log = child.stderr.take().map(drain);
        Daemon { child, notify, log }
    }

    /// Waits for a notify message line.
    pub fn expect_notify(&mut self, wanted: &str, within: Duration) -> Vec<String> {
        self.notify.expect(wanted, within)
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, signal: i32) {
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// Waits for the daemon to exit, at most `within`; returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "daemon still running after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the daemon wrote on stderr (after it exited; the first MiB of it).
    pub fn stderr(&mut self) -> String {
        String::from_utf8_lossy(&self.stderr_bytes().1).into_owned()
    }

    /// How many bytes the daemon wrote on stderr, and the first MiB of them (after it exited).
    pub fn stderr_bytes(&mut self) -> (usize, Vec<u8>) {
        self.log
            .take()
            .map_or((0, Vec::new()), |log| log.join().unwrap())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends raw bytes on a fresh connection, half-closes, and returns everything received.
pub fn raw(socket: &Path, bytes: &[u8]) -> String {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}

/// Sends one request line and parses the one response line.
pub fn request(socket: &Path, line: &str) -> Value {
    let reply = raw(socket, format!("{line}\n").as_bytes());
    assert!(
        reply.ends_with('\n'),
        "response must be newline-terminated: {reply:?}"
    );
    serde_json::from_str(reply.trim_end()).unwrap_or_else(|e| panic!("{e}: {reply:?}"))
}

/// The result of a successful call, or a panic with the error.
pub fn call(socket: &Path, method: &str, params: &str) -> Value {
    let response = request(
        socket,
        &format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#),
    );
    assert!(
        response.get("error").is_none(),
        "{method} failed: {response}"
    );
    response["result"].clone()
}

/// Launches the test vat `vat-runtime/test-vats/NAME.js` alone in a subcluster (through
/// `ocapctl launch`); in a fresh kernel its root is `ko4`.
pub fn launch_test_vat(home: &Home, name: &str) {
    let bundle = format!("{}/test-vats/{name}.bundle", env!("OUT_DIR"));
    let config = serde_json::json!({"bootstrap": name, "vats": {name: {
        "bundleSpec": format!("file://{bundle}")}}});
    let out = home.ocapctl(&["launch", &config.to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "launching {name}: {stderr}");
}

/// Polls `check` every 10 ms until it holds or `within` passes.
pub fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    check()
}

/// A finished command's standard output.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A finished command's standard error.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `ocapctl logs --follow` running, its lines read on a thread; killed on drop.
pub struct LogFollower {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl LogFollower {
    /// Starts following `home`'s daemon log.
    pub fn start(home: &Home) -> LogFollower {
        use std::io::BufRead;
        let mut child = home
            .command(OCAPCTL)
            .args(["logs", "--follow"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        let reader = std::io::BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        LogFollower { child, lines }
    }

    /// Waits up to 30 s for a line containing `wanted`, skipping the lines before it.
    pub fn wait_for(&self, wanted: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("ocapctl logs -f never showed {wanted:?}"));
            if line.contains(wanted) {
                return;
            }
        }
    }
}

impl Drop for LogFollower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stops whatever daemon `home` has, so no test leaves one behind.
pub struct Cleanup<'a>(pub &'a Home);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.ocapctl(&["stop"]);
    }
}

/// One request on a fresh connection, without panicking: the parsed response, or why there was
/// none (the daemon is gone, the connection broke, the reply was not JSON).
pub fn try_request(socket: &Path, line: &str) -> Result<Value, String> {
    let mut stream = UnixStream::connect(socket).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(format!("{line}\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .map_err(|e| format!("read: {e}"))?;
    if !reply.ends_with('\n') {
        return Err(format!("no complete response: {reply:?}"));
    }
    serde_json::from_str(reply.trim_end()).map_err(|e| format!("{e}: {reply:?}"))
}

/// The request line for `method(params)`.
pub fn request_line(method: &str, params: &Value) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()
}

/// A seed from `var`, else from the clock; tests print it so a failure can be replayed.
pub fn seed_from_env(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// A number from the environment variable `var`, else `default`.
pub fn env_number(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// xorshift64*: small and seedable, so a failing run can be replayed from its seed.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The daemon's resident memory in KiB and its number of open file descriptors.
pub fn rss_and_fds(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (rss, fds)
}
