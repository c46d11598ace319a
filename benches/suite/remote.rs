//! Remote comms: two `ocapd` on loopback, a client of B sending `queueMessage` to the counter
//! vat in A through B's kref for it (B → A over libp2p, A's vat, the notify back): round trip
//! p50/p99 and messages per second, sequential and from many clients at once (pipelined on one
//! channel); the same to a kernel service of A (no vat: what federation itself costs); and how
//! much A's memory grows per connected, idle peer (each an `ocapd` that redeemed a URL of A and
//! called it once).

use crate::Scale;
use crate::daemon::{
    Daemon, Home, cluster, fill_wal, launch, millis, rpc, rss_mib, send, throughput,
};
use crate::report::{Figure, p50_p99};
use serde_json::json;
use std::time::{Duration, Instant};

/// Frames per second from one peer at most: the reference's 100 would be the bottleneck.
const FLAGS: [&str; 2] = ["--remote-max-frames-per-sec", "100000"];
/// Clients at once for the pipelined figure.
const CLIENTS: usize = 32;

pub fn cases(scale: &Scale, out: &mut dyn FnMut(Figure)) {
    for figure in round_trips(scale, Target::CounterVat) {
        out(figure);
    }
    for figure in round_trips(scale, Target::KernelService) {
        out(figure);
    }
    out(memory_per_peer(scale));
}

/// What B's client calls in A.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    /// The counter vat's `resume` (a JavaScript delivery in A, its count in baggage).
    CounterVat,
    /// A kernel service (`ocapURLIssuerService.issue("x")`, answered by the kernel with an
    /// error, no vat involved): what federation itself costs.
    KernelService,
}

/// One `queueMessage` on a fresh connection; its reply, result or error.
fn call(socket: &std::path::Path, target: &str, method: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    let line = json!({"jsonrpc": "2.0", "id": 1, "method": "queueMessage",
        "params": [target, method, ["x"]]});
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    serde_json::from_slice(&reply).unwrap()
}

/// A listening daemon with remote comms up.
fn listener() -> (Home, Daemon, String) {
    let home = Home::new();
    let daemon = home.daemon_with(&FLAGS);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("/ip4/127.0.0.1/tcp/{port}");
    rpc(
        &home.socket(),
        "initRemoteComms",
        json!({"directListenAddresses": [listen], "maxQueue": 1000}),
    );
    let addr = loop {
        let status = rpc(&home.socket(), "getStatus", json!([]));
        if let Some(addr) = status["remoteComms"]["listenAddresses"][0].as_str() {
            break addr.to_string();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (home, daemon, addr)
}

/// A daemon that knows where `addr` (peer `peer`) listens and redeemed `url`: its kref.
fn dialler(peer: &str, addr: &str, url: &str) -> (Home, Daemon, String) {
    let home = Home::new();
    let daemon = home.daemon_with(&FLAGS);
    let socket = home.socket();
    rpc(&socket, "initRemoteComms", json!({"maxQueue": 1000}));
    rpc(
        &socket,
        "registerLocationHints",
        json!({"peerId": peer, "hints": [addr]}),
    );
    let kref = rpc(&socket, "redeemOcapURL", json!({"url": url}));
    (home, daemon, kref.as_str().unwrap().to_string())
}

/// A's peer id and a URL for its counter vat.
fn counter_url(home: &Home) -> (String, String) {
    target_url(home, Target::CounterVat)
}

/// A's peer id and a URL for what the client calls.
fn target_url(home: &Home, target: Target) -> (String, String) {
    let socket = home.socket();
    let counter = match target {
        Target::CounterVat => launch(
            &socket,
            cluster("counter", &[("counter".into(), "counter")]),
        ),
        Target::KernelService => "ko1".to_string(),
    };
    let peer = rpc(&socket, "getStatus", json!([]))["remoteComms"]["peerId"]
        .as_str()
        .unwrap()
        .to_string();
    let url = rpc(&socket, "issueOcapURL", json!({"kref": counter}));
    (peer, url.as_str().unwrap().to_string())
}

fn round_trips(scale: &Scale, target: Target) -> [Figure; 4] {
    let (mut p50s, mut p99s, mut sequential, mut pipelined) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..scale.heavy_runs {
        let (a, _a_daemon, addr) = listener();
        let (peer, url) = target_url(&a, target);
        let (b, _b_daemon, counter) = dialler(&peer, &addr, &url);
        let socket = b.socket();
        let resume = || match target {
            Target::CounterVat => {
                let body = send(&socket, &counter, "resume", json!([]));
                assert!(body.starts_with("#\"Counter incremented"), "{body}");
            }
            Target::KernelService => {
                let reply = call(&socket, &counter, "issue");
                let error = reply["error"]["message"].as_str().unwrap_or_default();
                assert!(error.ends_with("Argument must be a remotable"), "{reply}");
            }
        };
        fill_wal(&[&a, &b], scale.calls * 2, resume);
        let started = Instant::now();
        let mut latency: Vec<f64> = (0..scale.calls / 2)
            .map(|_| {
                let started = Instant::now();
                resume();
                millis(started.elapsed())
            })
            .collect();
        sequential.push(latency.len() as f64 / started.elapsed().as_secs_f64());
        let (p50, p99) = p50_p99(&mut latency);
        p50s.push(p50);
        p99s.push(p99);
        pipelined.push(throughput(CLIENTS, scale.period, resume));
    }
    let (what, p50_target, rate_target) = match target {
        Target::CounterVat => ("to a JS vat", "< 2", "> 2,000"),
        Target::KernelService => ("to a kernel service", "-", "-"),
    };
    [
        Figure::of(
            format!("remote queueMessage {what}, p50 sequential"),
            "ms",
            p50s,
        )
        .target(p50_target),
        Figure::of(
            format!("remote queueMessage {what}, p99 sequential"),
            "ms",
            p99s,
        ),
        Figure::of(
            format!("remote queueMessage {what}, sequential"),
            "msg/s",
            sequential,
        ),
        Figure::of(
            format!("remote queueMessage {what}, {CLIENTS} clients"),
            "msg/s",
            pipelined,
        )
        .target(rate_target),
    ]
}

/// Growth of A's resident memory per connected peer (each idle after one call).
fn memory_per_peer(scale: &Scale) -> Figure {
    let peers = if scale.smoke { 2 } else { 8 };
    let samples = (0..scale.heavy_runs)
        .map(|_| {
            let (a, a_daemon, addr) = listener();
            let (peer, url) = counter_url(&a);
            // One peer first, so that what every connection shares is counted once.
            let mut sides = vec![dialler(&peer, &addr, &url)];
            send(&sides[0].0.socket(), &sides[0].2, "resume", json!([]));
            std::thread::sleep(Duration::from_millis(300));
            let before = rss_mib(a_daemon.pid());
            for _ in 0..peers {
                let side = dialler(&peer, &addr, &url);
                send(&side.0.socket(), &side.2, "resume", json!([]));
                sides.push(side);
            }
            std::thread::sleep(Duration::from_millis(500));
            let connected = rpc(&a.socket(), "listPeers", json!([]));
            let connected = connected
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["state"] == "connected")
                .count();
            assert_eq!(connected, peers + 1, "every peer is connected");
            (rss_mib(a_daemon.pid()) - before) / peers as f64
        })
        .collect();
    Figure::of("memory per connected peer (idle)", "MiB", samples).target("< 1")
}
