//! The service shell: cold start, the CLI's cost, getStatus latency and throughput, idle memory.

use crate::Scale;
use crate::daemon::{
    Daemon, GET_STATUS, Home, OCAPCTL, get_status, millis, rss_mib, throughput, wait_with_rusage,
};
use crate::report::{Figure, p50_p99};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

pub fn cases(scale: &Scale, out: &mut dyn FnMut(Figure)) {
    out(cold_start_activated(scale));
    out(cold_start_ocapctl(scale));
    let [wall, rss] = cli_call(scale);
    out(wall);
    out(rss);
    let [p50, p99] = get_status_latency(scale);
    out(p50);
    out(p99);
    for (clients, target, reference) in [(1, "-", "-"), (8, "> 40,000", "7,936"), (64, "-", "-")] {
        out(get_status_throughput(scale, clients)
            .target(target)
            .reference(reference));
    }
    out(idle_rss(scale));
    out(binary_size());
}

/// systemd-style activation: the listening socket exists; time from the first request to its
/// reply, which includes exec, start-up and the request itself.
fn cold_start_activated(scale: &Scale) -> Figure {
    let mut samples = Vec::new();
    for _ in 0..scale.runs {
        let home = Home::new();
        let socket = home.path().join("a.sock");
        let activator = home
            .command("systemd-socket-activate")
            .args([
                "-l",
                socket.to_str().unwrap(),
                "--fdname=ocap",
                "--setenv=OCAP_HOME",
            ])
            .args([crate::daemon::OCAPD, "--foreground"])
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
    Figure::of(
        "cold start, socket-activated, to first reply",
        "ms",
        samples,
    )
    .target("< 30")
    .reference("3,300")
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
    Figure::of("cold start, `ocapctl start` (self-started)", "ms", samples)
        .target("< 30")
        .reference("3,300")
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
        Figure::of("`ocapctl exec getStatus` wall time", "ms", times)
            .target("< 5")
            .reference("2,430"),
        Figure::of("`ocapctl exec getStatus` peak RSS", "MiB", rss)
            .target("< 5")
            .reference("209"),
    ]
}

/// Sequential getStatus round trips, one connection each as clients make them; p50 and p99 of
/// each run.
fn get_status_latency(scale: &Scale) -> [Figure; 2] {
    let home = Home::new();
    let _daemon = home.daemon();
    let socket = home.socket();
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for _ in 0..scale.runs.min(5) {
        let mut samples: Vec<f64> = (0..scale.calls)
            .map(|_| {
                let started = Instant::now();
                get_status(&socket);
                started.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        let (p50, p99) = p50_p99(&mut samples);
        p50s.push(p50);
        p99s.push(p99);
    }
    [
        Figure::of("getStatus p50, sequential", "µs", p50s)
            .target("< 50")
            .reference("178"),
        Figure::of("getStatus p99, sequential", "µs", p99s).reference("1,650"),
    ]
}

/// Requests per second with `clients` concurrent client threads.
fn get_status_throughput(scale: &Scale, clients: usize) -> Figure {
    let home = Home::new();
    let _daemon = home.daemon();
    let socket = home.socket();
    let samples = (0..3)
        .map(|_| {
            throughput(clients, scale.period, || {
                get_status(&socket);
            })
        })
        .collect();
    Figure::of(
        format!("getStatus throughput, {clients} client(s)"),
        "req/s",
        samples,
    )
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
        samples.push(rss_mib(daemon.pid()));
    }
    Figure::of("idle daemon RSS", "MiB", samples)
        .target("< 15")
        .reference("210")
}

/// Size of the client binary as built for this run (release profile: stripped).
fn binary_size() -> Figure {
    let mib = std::fs::metadata(OCAPCTL).unwrap().len() as f64 / (1024.0 * 1024.0);
    Figure::of("ocapctl binary size", "MiB", vec![mib])
}
