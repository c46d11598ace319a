//! The service shell's benchmark: cold start, CLI call cost, getStatus latency and throughput,
//! idle memory. Prints a table and writes `target/bench/service.json`.
//!
//! `cargo bench --bench service` (or `make bench`); `OCAP_BENCH_SMOKE=1` runs every case briefly,
//! for CI, without asserting any timing. Each figure is the median over repeated runs with min and
//! max. Nothing here is a pass/fail check: the numbers go in the README.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OCAPD: &str = env!("CARGO_BIN_EXE_ocapd");
const OCAPCTL: &str = env!("CARGO_BIN_EXE_ocapctl");
const GET_STATUS: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"getStatus\"}\n";

/// One row of the table.
struct Figure {
    name: &'static str,
    unit: &'static str,
    median: f64,
    min: f64,
    max: f64,
    target: &'static str,
    reference: &'static str,
}

fn summarize(
    name: &'static str,
    unit: &'static str,
    mut samples: Vec<f64>,
    target: &'static str,
    reference: &'static str,
) -> Figure {
    samples.sort_by(f64::total_cmp);
    Figure {
        name,
        unit,
        median: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
        target,
        reference,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Scale {
    runs: usize,
    calls: usize,
    throughput: Duration,
}

fn main() {
    let smoke = std::env::var_os("OCAP_BENCH_SMOKE").is_some();
    let scale = if smoke {
        Scale {
            runs: 2,
            calls: 50,
            throughput: Duration::from_millis(200),
        }
    } else {
        Scale {
            runs: 15,
            calls: 1000,
            throughput: Duration::from_secs(2),
        }
    };
    let mut figures = Vec::new();
    figures.push(cold_start_activated(&scale));
    figures.push(cold_start_ocapctl(&scale));
    figures.extend(cli_call(&scale));
    figures.extend(get_status_latency(&scale));
    figures.push(get_status_throughput(&scale, 1));
    figures.push(get_status_throughput(&scale, 8));
    figures.push(get_status_throughput(&scale, 64));
    figures.push(idle_rss(&scale));
    figures.push(binary_size());
    figures.extend(vats(&scale));
    print_table(&figures, smoke);
    write_json(&figures, smoke);
}

/// A scratch OCAP_HOME removed on drop.
struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Home {
        Home(
            tempfile::Builder::new()
                .prefix("ocap-bench")
                .tempdir_in("/tmp")
                .unwrap(),
        )
    }
    fn socket(&self) -> PathBuf {
        self.0.path().join("daemon.sock")
    }
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("OCAP_HOME", self.0.path())
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .stdin(Stdio::null());
        c
    }
    /// A foreground daemon, ready when its socket answers.
    fn daemon(&self) -> Daemon {
        let child = self
            .command(OCAPD)
            .arg("--foreground")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until(|| UnixStream::connect(self.socket()).is_ok());
        Daemon(child)
    }
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn wait_until(mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn get_status(socket: &Path) -> Value {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.write_all(GET_STATUS).unwrap();
    let mut reply = Vec::with_capacity(256);
    stream.read_to_end(&mut reply).unwrap();
    serde_json::from_slice(&reply).unwrap()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// systemd-style activation: the listening socket exists; time from the first request to its
/// reply, which includes exec, start-up and the request itself.
fn cold_start_activated(scale: &Scale) -> Figure {
    let mut samples = Vec::new();
    for _ in 0..scale.runs {
        let home = Home::new();
        let socket = home.0.path().join("a.sock");
        let activator = home
            .command("systemd-socket-activate")
            .args([
                "-l",
                socket.to_str().unwrap(),
                "--fdname=ocap",
                "--setenv=OCAP_HOME",
            ])
            .args([OCAPD, "--foreground"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("systemd-socket-activate");
        let _activator = Daemon(activator);
        // The activator creates the file at bind() and listens a moment later.
        let (started, mut stream) = loop {
            let started = Instant::now();
            if let Ok(stream) = UnixStream::connect(&socket) {
                break (started, stream);
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        stream.write_all(GET_STATUS).unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).unwrap();
        samples.push(millis(started.elapsed()));
        assert!(reply.starts_with(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\""));
    }
    summarize(
        "cold start, socket-activated, to first reply",
        "ms",
        samples,
        "< 30",
        "3,300",
    )
}

/// No service manager: `ocapctl start` spawns the daemon and returns once it serves.
fn cold_start_ocapctl(scale: &Scale) -> Figure {
    let mut samples = Vec::new();
    for _ in 0..scale.runs {
        let home = Home::new();
        let started = Instant::now();
        let status = home
            .command(OCAPCTL)
            .arg("start")
            .stderr(Stdio::null())
            .status()
            .unwrap();
        samples.push(millis(started.elapsed()));
        assert!(status.success());
        home.command(OCAPCTL)
            .arg("stop")
            .stderr(Stdio::null())
            .status()
            .unwrap();
    }
    summarize(
        "cold start, `ocapctl start` (self-started)",
        "ms",
        samples,
        "< 30",
        "3,300",
    )
}

/// `ocapctl exec getStatus` against a running daemon: wall time and the client's peak RSS.
fn cli_call(scale: &Scale) -> [Figure; 2] {
    let home = Home::new();
    let _daemon = home.daemon();
    let (mut times, mut rss) = (Vec::new(), Vec::new());
    for _ in 0..scale.runs * 4 {
        let started = Instant::now();
        let child = home
            .command(OCAPCTL)
            .args(["exec", "getStatus"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let (status, max_rss_kib) = wait_with_rusage(child);
        times.push(millis(started.elapsed()));
        rss.push(max_rss_kib / 1024.0);
        assert!(status.success());
    }
    [
        summarize(
            "`ocapctl exec getStatus` wall time",
            "ms",
            times,
            "< 5",
            "2,430",
        ),
        summarize(
            "`ocapctl exec getStatus` peak RSS",
            "MiB",
            rss,
            "< 5",
            "209",
        ),
    ]
}

fn wait_with_rusage(child: Child) -> (std::process::ExitStatus, f64) {
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    (
        std::process::ExitStatus::from_raw(status),
        usage.ru_maxrss as f64,
    )
}

/// Sequential getStatus round trips, one connection each, as clients make them.
fn get_status_latency(scale: &Scale) -> [Figure; 2] {
    let home = Home::new();
    let _daemon = home.daemon();
    let socket = home.socket();
    let mut samples: Vec<f64> = (0..scale.calls)
        .map(|_| {
            let started = Instant::now();
            get_status(&socket);
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    let p50 = percentile(&samples, 0.5);
    let p99 = percentile(&samples, 0.99);
    [
        Figure {
            name: "getStatus p50, sequential",
            unit: "µs",
            median: p50,
            min: samples[0],
            max: p50,
            target: "< 50",
            reference: "178",
        },
        Figure {
            name: "getStatus p99, sequential",
            unit: "µs",
            median: p99,
            min: p99,
            max: samples[samples.len() - 1],
            target: "-",
            reference: "1,650",
        },
    ]
}

/// Requests per second with `clients` concurrent client threads, three runs.
fn get_status_throughput(scale: &Scale, clients: usize) -> Figure {
    let home = Home::new();
    let _daemon = home.daemon();
    let socket = home.socket();
    let mut samples = Vec::new();
    for _ in 0..3 {
        let deadline = Instant::now() + scale.throughput;
        let started = Instant::now();
        let done: usize = std::thread::scope(|s| {
            let workers: Vec<_> = (0..clients)
                .map(|_| {
                    s.spawn(|| {
                        let mut n = 0;
                        while Instant::now() < deadline {
                            get_status(&socket);
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        samples.push(done as f64 / started.elapsed().as_secs_f64());
    }
    let (name, target, reference) = match clients {
        1 => ("getStatus throughput, 1 client", "-", "-"),
        8 => ("getStatus throughput, 8 clients", "> 40,000", "7,936"),
        _ => ("getStatus throughput, 64 clients", "-", "-"),
    };
    summarize(name, "req/s", samples, target, reference)
}

/// Resident memory of a daemon that has served some requests and sits idle.
fn idle_rss(scale: &Scale) -> Figure {
    let mut samples = Vec::new();
    for _ in 0..scale.runs.min(5) {
        let home = Home::new();
        let daemon = home.daemon();
        for _ in 0..100 {
            get_status(&home.socket());
        }
        std::thread::sleep(Duration::from_millis(100));
        samples.push(rss_mib(daemon.0.id()));
    }
    summarize("idle daemon RSS", "MiB", samples, "< 15", "210")
}

/// One JSON-RPC call on a fresh connection; the result, or a panic with the error.
fn rpc(socket: &Path, method: &str, params: Value) -> Value {
    let mut stream = UnixStream::connect(socket).unwrap();
    let line = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert!(reply.get("error").is_none(), "{method}: {reply}");
    reply["result"].clone()
}

/// A config of built-in JavaScript vats from the example bundles the build made.
fn example_config(bootstrap: &str, vats: &[&str]) -> Value {
    let vats: serde_json::Map<String, Value> = vats
        .iter()
        .map(|name| {
            (
                name.to_string(),
                json!({"bundleSpec": format!("file://{}/{name}.bundle", env!("OUT_DIR"))}),
            )
        })
        .collect();
    json!({"config": {"bootstrap": bootstrap, "vats": vats}})
}

fn rss_mib(pid: u32) -> f64 {
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

/// The whole system with real JavaScript vats (SES + liveslots in QuickJS): launch, messages from
/// clients, vat-to-vat deliveries, memory per vat.
fn vats(scale: &Scale) -> Vec<Figure> {
    let home = Home::new();
    let daemon = home.daemon();
    let socket = home.socket();
    let started = Instant::now();
    rpc(
        &socket,
        "launchSubcluster",
        example_config("ping", &["ping", "pong"]),
    );
    let launch = vec![millis(started.elapsed())];
    rpc(
        &socket,
        "launchSubcluster",
        example_config("counter", &["counter"]),
    );
    // ping is ko4, pong ko5, counter ko6.
    let resume = || rpc(&socket, "queueMessage", json!(["ko6", "resume", []]));
    let mut latency: Vec<f64> = (0..scale.calls / 4)
        .map(|_| {
            let started = Instant::now();
            resume();
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    latency.sort_by(f64::total_cmp);
    let deadline = Instant::now() + scale.throughput;
    let started = Instant::now();
    let done: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0;
                    while Instant::now() < deadline {
                        resume();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let throughput = vec![done as f64 / started.elapsed().as_secs_f64()];
    let rounds = scale.calls as u64;
    let started = Instant::now();
    rpc(&socket, "queueMessage", json!(["ko4", "rally", [rounds]]));
    // Each awaited round is two deliveries: the ping to pong, and the notify of its answer.
    let deliveries = vec![2.0 * rounds as f64 / started.elapsed().as_secs_f64()];
    let before = rss_mib(daemon.0.id());
    for _ in 0..5 {
        rpc(
            &socket,
            "launchSubcluster",
            example_config("counter", &["counter"]),
        );
    }
    let per_vat = vec![(rss_mib(daemon.0.id()) - before) / 5.0];
    vec![
        summarize(
            "2-vat subcluster launch (JS vats)",
            "ms",
            launch,
            "< 300",
            "3,500",
        ),
        Figure {
            name: "queueMessage to a JS vat, p50 sequential",
            unit: "ms",
            median: percentile(&latency, 0.5),
            min: latency[0],
            max: percentile(&latency, 0.99),
            target: "< 1.5",
            reference: "16.6",
        },
        summarize(
            "queueMessage to a JS vat, 8 clients",
            "msg/s",
            throughput,
            "> 3,000",
            "182",
        ),
        summarize(
            "vat-to-vat deliveries, awaited (JS vats)",
            "deliv/s",
            deliveries,
            "> 5,000",
            "189-233",
        ),
        summarize("memory per started JS vat", "MiB", per_vat, "< 8", "120"),
    ]
}

/// Size of the client binary as built for this run (release profile: stripped).
fn binary_size() -> Figure {
    let mib = std::fs::metadata(OCAPCTL).unwrap().len() as f64 / (1024.0 * 1024.0);
    summarize("ocapctl binary size", "MiB", vec![mib], "< 3", "-")
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "{} cores, {cpu}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )
}

fn print_table(figures: &[Figure], smoke: bool) {
    println!(
        "\nocap service benchmark{} — {}",
        if smoke {
            " (smoke run: figures not meaningful)"
        } else {
            ""
        },
        machine()
    );
    println!(
        "| {:<46} | {:>10} | {:>10} | {:>10} | {:<6} | {:>9} | {:>9} |",
        "case", "median", "min", "max", "unit", "target", "reference"
    );
    println!(
        "|{:-<48}|{:->12}|{:->12}|{:->12}|{:-<8}|{:->11}|{:->11}|",
        "", "", "", "", "", "", ""
    );
    for f in figures {
        println!(
            "| {:<46} | {:>10.2} | {:>10.2} | {:>10.2} | {:<6} | {:>9} | {:>9} |",
            f.name, f.median, f.min, f.max, f.unit, f.target, f.reference
        );
    }
}

fn write_json(figures: &[Figure], smoke: bool) {
    let rows: Vec<Value> = figures
        .iter()
        .map(|f| json!({"case": f.name, "unit": f.unit, "median": f.median, "min": f.min, "max": f.max, "target": f.target, "reference": f.reference}))
        .collect();
    let report = json!({"machine": machine(), "smoke": smoke, "figures": rows});
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("service.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("\nwritten to {}", path.display());
}
