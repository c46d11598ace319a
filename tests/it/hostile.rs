//! Hostile clients and load, against the real daemon.
//!
//! * Thousands of malformed, oversized, slow (half a line, then silence) and abandoned
//!   connections, mixed with good clients: every good request is served, each hostile one gets
//!   its error (or nothing, when it left), memory stays bounded and the daemon's file
//!   descriptors come back to their baseline. `OCAP_HOSTILE_CONNECTIONS` (default 3000).
//! * 256 concurrent clients for a while (`OCAP_LOAD_SECS`, default 4): no errors, bounded memory
//!   and descriptors, every counter increment accounted for; latency percentiles are printed,
//!   not asserted.
//! * Past `--max-connections`, a clear error.

use crate::common::{Home, Rng, call, env_number, request_line, rss_and_fds, try_request};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Samples the daemon's resident memory until stopped; returns the peak in KiB.
struct PeakRss {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl PeakRss {
    fn start(pid: u32) -> PeakRss {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::SeqCst) {
                peak = peak.max(rss_and_fds(pid).0);
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        PeakRss { stop, thread }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// Reads whatever the daemon answers until it closes.
fn read_all(stream: &mut UnixStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn error_code(reply: &str) -> Option<i64> {
    let response: Value = serde_json::from_str(reply.trim_end()).ok()?;
    response["error"]["code"].as_i64()
}

/// Waits until the daemon holds no more descriptors than `baseline`.
fn fds_settle(pid: u32, baseline: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let fds = rss_and_fds(pid).1;
        if fds <= baseline || Instant::now() > deadline {
            return fds;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One hostile connection of a random kind; slow ones are handed to `slow` to be held open.
fn hostile(socket: &Path, rng: &mut Rng, slow: &Mutex<Vec<UnixStream>>) -> Result<(), String> {
    let mut stream = UnixStream::connect(socket).map_err(|e| format!("connect: {e}"))?;
    match rng.below(20) {
        // Malformed: junk bytes, then a newline; the answer is one error line.
        0..=7 => {
            let junk: Vec<u8> = (0..rng.below(200))
                .map(|_| (rng.next() as u8).max(1))
                .filter(|b| *b != b'\n' && *b != b'{')
                .collect();
            let _ = stream.write_all(&[junk.as_slice(), b"\n"].concat());
            let reply = read_all(&mut stream);
            if error_code(&reply).is_none() {
                return Err(format!("malformed request got {reply:?}"));
            }
        }
        // Oversized: past --max-request-bytes without a newline.
        8..=9 => {
            let _ = stream.write_all(&vec![b'x'; 80 * 1024]);
            let reply = read_all(&mut stream);
            if !reply.contains("Request exceeds the limit") {
                return Err(format!("oversized request got {reply:?}"));
            }
        }
        // Slow: half a request line, then silence; held open until the read timeout.
        10..=12 => {
            let _ = stream.write_all(br#"{"jsonrpc":"2.0","id":1,"meth"#);
            slow.lock().unwrap().push(stream);
        }
        // Abandoned: gone at once, gone halfway through a line, or gone without reading.
        13..=15 => drop(stream),
        16..=17 => {
            let _ = stream.write_all(br#"{"jsonrpc":"2.0","#);
        }
        _ => {
            let _ = stream.write_all(request_line("getStatus", &json!([])).as_bytes());
            let _ = stream.write_all(b"\n");
        }
    }
    Ok(())
}

/// Waits for each held slow connection's timeout error.
fn reap_slow(slow: &Mutex<Vec<UnixStream>>, keep: usize) -> Result<(), String> {
    loop {
        let oldest = {
            let mut held = slow.lock().unwrap();
            if held.len() <= keep {
                return Ok(());
            }
            held.remove(0)
        };
        let mut stream = oldest;
        let reply = read_all(&mut stream);
        if !reply.contains("No complete request line within") {
            return Err(format!("slow client got {reply:?}"));
        }
    }
}

fn good_client(socket: PathBuf, stop: Arc<AtomicBool>, served: Arc<AtomicU64>) -> Vec<String> {
    let mut failures = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match try_request(&socket, &request_line("getStatus", &json!([]))) {
            Ok(r) if r["result"]["vats"].is_array() => {
                served.fetch_add(1, Ordering::SeqCst);
            }
            other => failures.push(format!("{other:?}")),
        }
    }
    failures
}

#[test]
fn hostile_connections_do_not_hurt_good_clients_memory_or_descriptors() {
    let total = env_number("OCAP_HOSTILE_CONNECTIONS", 3000);
    let seed = crate::common::seed_from_env("OCAP_HOSTILE_SEED");
    let home = Home::new();
    let daemon = home.daemon(&[
        "--log-level",
        "error",
        "--read-timeout",
        "1",
        "--max-request-bytes",
        "65536",
    ]);
    let pid = daemon.child.id();
    let socket = home.socket();
    call(&socket, "getStatus", "[]");
    let (rss_before, fds_before) = rss_and_fds(pid);
    let peak = PeakRss::start(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let good: Vec<_> = (0..4)
        .map(|_| {
            let (socket, stop, served) = (socket.clone(), stop.clone(), served.clone());
            std::thread::spawn(move || good_client(socket, stop, served))
        })
        .collect();
    let slow = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let attackers: Vec<_> = (0..8)
        .map(|i| {
            let (socket, slow) = (socket.clone(), slow.clone());
            let mut rng = Rng::new(seed.wrapping_add(i));
            let share = total / 8 + u64::from(i < total % 8);
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                for _ in 0..share {
                    if let Err(e) = hostile(&socket, &mut rng, &slow) {
                        failures.push(e);
                    }
                    // Stay well under the connection limit with the connections held open.
                    if let Err(e) = reap_slow(&slow, 96) {
                        failures.push(e);
                    }
                }
                failures
            })
        })
        .collect();
    let mut failures: Vec<String> = attackers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    if let Err(e) = reap_slow(&slow, 0) {
        failures.push(e);
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let good_failures: Vec<String> = good.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let fds_after = fds_settle(pid, fds_before);
    let peak = peak.finish();
    let served = served.load(Ordering::SeqCst);
    eprintln!(
        "hostile: seed {seed}, {total} hostile connections in {elapsed:.1?}, {served} good requests \
         served; RSS {rss_before} KiB before, peak {peak} KiB; fds {fds_before} before, {fds_after} after"
    );
    assert!(
        good_failures.is_empty(),
        "good clients failed: {good_failures:?}"
    );
    assert!(failures.is_empty(), "seed {seed}: {failures:?}");
    assert!(served > 0);
    assert!(
        fds_after <= fds_before,
        "descriptors leaked: {fds_before} -> {fds_after}"
    );
    assert!(
        peak < rss_before + 128 * 1024,
        "memory grew from {rss_before} KiB to {peak} KiB"
    );
    assert_eq!(
        call(&socket, "checkIntegrity", "[]"),
        json!({"integrity": ["ok"], "invariants": []})
    );
}

/// The latency at quantile `q` of sorted samples.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[test]
fn two_hundred_fifty_six_clients_sustained() {
    let clients = 256;
    let seconds = env_number("OCAP_LOAD_SECS", 4);
    let home = Home::new();
    // Headroom over the clients: a connection the client has finished with may still be
    // closing on the daemon's side when the same client connects again.
    let daemon = home.daemon(&["--log-level", "error", "--max-connections", "512"]);
    let pid = daemon.child.id();
    let socket = home.socket();
    let config = json!({"config": {"bootstrap": "counter", "vats": {"counter": {
        "bundleSpec": format!("file://{}/counter.bundle", env!("OUT_DIR"))}}}});
    let root = call(&socket, "launchSubcluster", &config.to_string())["rootKref"].clone();
    let (rss_before, fds_before) = rss_and_fds(pid);
    let peak = PeakRss::start(pid);
    let until = Instant::now() + Duration::from_secs(seconds);
    let increments = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let (socket, root, increments) = (socket.clone(), root.clone(), increments.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut errors = Vec::new();
                let mut n = 0u64;
                while Instant::now() < until {
                    n += 1;
                    let increment = (n + i).is_multiple_of(16);
                    let line = if increment {
                        request_line("queueMessage", &json!([root, "resume", []]))
                    } else {
                        request_line("getStatus", &json!([]))
                    };
                    let sent = Instant::now();
                    let response = try_request(&socket, &line);
                    latencies.push((sent.elapsed(), increment));
                    match response {
                        Ok(r) if r.get("result").is_some() => {
                            if increment {
                                increments.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        other => errors.push(format!("{other:?}")),
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for thread in threads {
        let (l, e) = thread.join().unwrap();
        latencies.extend(l);
        errors.extend(e);
    }
    let fds_after = fds_settle(pid, fds_before);
    let peak = peak.finish();
    let mut sends: Vec<Duration> = latencies.iter().filter(|l| l.1).map(|l| l.0).collect();
    let mut statuses: Vec<Duration> = latencies.iter().filter(|l| !l.1).map(|l| l.0).collect();
    sends.sort();
    statuses.sort();
    let increments = increments.load(Ordering::SeqCst);
    eprintln!(
        "load: {clients} clients for {seconds} s: {} requests ({:.0}/s); getStatus p50 {:?} \
         p99 {:?}; queueMessage to a JavaScript vat ({}) p50 {:?} p99 {:?}; RSS {rss_before} KiB \
         before, peak {peak} KiB; fds {fds_before} before, {fds_after} after",
        statuses.len() + sends.len(),
        (statuses.len() + sends.len()) as f64 / seconds as f64,
        quantile(&statuses, 0.5),
        quantile(&statuses, 0.99),
        sends.len(),
        quantile(&sends, 0.5),
        quantile(&sends, 0.99),
    );
    assert!(
        errors.is_empty(),
        "{} errors, e.g. {:?}",
        errors.len(),
        &errors[..errors.len().min(3)]
    );
    assert!(
        fds_after <= fds_before,
        "descriptors leaked: {fds_before} -> {fds_after}"
    );
    assert!(
        peak < rss_before + 256 * 1024,
        "memory grew from {rss_before} KiB to {peak} KiB"
    );
    // Every acknowledged increment happened, once.
    let next = call(
        &socket,
        "queueMessage",
        &json!([root, "resume", []]).to_string(),
    );
    assert_eq!(
        next["body"],
        format!("#\"Counter incremented to: {}\"", increments + 2)
    );
}

#[test]
fn past_the_connection_limit_a_clear_error() {
    let home = Home::new();
    let _daemon = home.daemon(&["--log-level", "error", "--max-connections", "4"]);
    let socket = home.socket();
    let held: Vec<UnixStream> = (0..4)
        .map(|_| {
            let mut s = UnixStream::connect(&socket).unwrap();
            s.write_all(b"{\"jsonrpc\":").unwrap();
            s
        })
        .collect();
    let refused = try_request(&socket, &request_line("getStatus", &json!([]))).unwrap();
    assert_eq!(
        refused["error"],
        json!({"code": -32001, "message": "Too many connections (limit 4); try again"})
    );
    drop(held);
    assert!(crate::common::eventually(Duration::from_secs(10), || {
        try_request(&socket, &request_line("getStatus", &json!([])))
            .is_ok_and(|r| r.get("result").is_some())
    }));
}
