//! The whole system with real JavaScript vats (SES + liveslots in QuickJS, the example bundles):
//! subcluster launch, messages from clients, vat-to-vat deliveries, memory per vat.

use crate::Scale;
use crate::daemon::{Home, cluster, fill_wal, launch, millis, rss_mib, send, throughput};
use crate::report::{Figure, p50_p99};
use std::path::Path;
use std::time::Instant;

pub fn cases(scale: &Scale, out: &mut dyn FnMut(Figure)) {
    for (size, target, reference) in [(1, "-", "-"), (2, "< 300", "3,500"), (10, "-", "-")] {
        out(launch_time(scale, size).target(target).reference(reference));
    }
    for figure in queue_message(scale) {
        out(figure);
    }
    out(vat_to_vat(scale, "awaited sequence", 1, |socket, ping| {
        let rounds = scale.calls as u64;
        send(socket, ping, "rally", serde_json::json!([rounds]));
        2 * rounds
    })
    .target("> 5,000")
    .reference("189-233"));
    out(vat_to_vat(scale, "burst of 1,000", 1, |socket, ping| {
        let count = if scale.smoke { 50 } else { 1_000 };
        let answered = send(socket, ping, "burst", serde_json::json!([count]));
        assert_eq!(answered, format!("#{count}"), "every ping answered");
        2 * count
    }));
    out(vat_to_vat(
        scale,
        "fan-out to 10 vats",
        10,
        |socket, ping| {
            let rounds = (scale.calls / 10) as u64;
            send(socket, ping, "fanout", serde_json::json!([rounds]));
            2 * 10 * rounds
        },
    ));
    out(memory_per_vat(scale));
}

/// The counter example alone.
fn counter_cluster() -> serde_json::Value {
    cluster("counter", &[("counter".into(), "counter")])
}

/// `ping` and `pongs` vats named `pong0`, `pong1`… (one is plain `pong`).
fn ping_cluster(pongs: usize) -> serde_json::Value {
    let mut vats = vec![("ping".to_string(), "ping")];
    vats.extend((0..pongs).map(|i| (format!("pong{i}"), "pong")));
    cluster("ping", &vats)
}

/// A subcluster of `size` vats (the counter alone, else ping and pongs), launched and
/// bootstrapped in a fresh daemon.
fn launch_time(scale: &Scale, size: usize) -> Figure {
    let config = match size {
        1 => counter_cluster(),
        _ => ping_cluster(size - 1),
    };
    let samples = (0..scale.heavy_runs)
        .map(|_| {
            let home = Home::new();
            let _daemon = home.daemon();
            let started = Instant::now();
            launch(&home.socket(), config.clone());
            millis(started.elapsed())
        })
        .collect();
    Figure::of(format!("launch a {size}-vat subcluster"), "ms", samples)
}

/// `queueMessage` to the counter's `resume`: p50 of the first sequential calls of a new
/// daemon, then, once its WAL has filled, p50 and p99 of sequential calls and messages per
/// second from 8 clients, each per run.
fn queue_message(scale: &Scale) -> [Figure; 4] {
    let (mut fresh, mut p50s, mut p99s, mut rates) = (vec![], vec![], vec![], vec![]);
    for _ in 0..scale.heavy_runs {
        let home = Home::new();
        let _daemon = home.daemon();
        let socket = home.socket();
        let counter = launch(&socket, counter_cluster());
        let resume = || send(&socket, &counter, "resume", serde_json::json!([]));
        let timed = |calls| -> Vec<f64> {
            (0..calls)
                .map(|_| {
                    let started = Instant::now();
                    resume();
                    millis(started.elapsed())
                })
                .collect()
        };
        fresh.push(p50_p99(&mut timed(scale.calls / 5)).0);
        fill_wal(&[&home], scale.calls * 2, || {
            resume();
        });
        let (p50, p99) = p50_p99(&mut timed(scale.calls / 2));
        p50s.push(p50);
        p99s.push(p99);
        rates.push(throughput(8, scale.period, || {
            resume();
        }));
    }
    [
        Figure::of(
            "queueMessage to a JS vat, p50, first calls after start",
            "ms",
            fresh,
        ),
        Figure::of("queueMessage to a JS vat, p50 sequential", "ms", p50s)
            .target("< 1.5")
            .reference("16.6"),
        Figure::of("queueMessage to a JS vat, p99 sequential", "ms", p99s),
        Figure::of("queueMessage to a JS vat, 8 clients", "msg/s", rates)
            .target("> 3,000")
            .reference("182"),
    ]
}

/// Deliveries per second of `work` (given the socket and ping's kref, it returns how many
/// deliveries it caused) in a ping subcluster with `pongs` peers.
fn vat_to_vat(
    scale: &Scale,
    what: &str,
    pongs: usize,
    work: impl Fn(&Path, &str) -> u64,
) -> Figure {
    let samples = (0..scale.heavy_runs)
        .map(|_| {
            let home = Home::new();
            let _daemon = home.daemon();
            let socket = home.socket();
            let ping = launch(&socket, ping_cluster(pongs));
            let started = Instant::now();
            let deliveries = work(&socket, &ping);
            deliveries as f64 / started.elapsed().as_secs_f64()
        })
        .collect();
    Figure::of(format!("vat-to-vat deliveries, {what}"), "deliv/s", samples)
}

/// Growth of the daemon's resident memory per started counter vat.
fn memory_per_vat(scale: &Scale) -> Figure {
    let vats = 5;
    let samples = (0..scale.heavy_runs)
        .map(|_| {
            let home = Home::new();
            let daemon = home.daemon();
            let socket = home.socket();
            // One vat first, so that what every vat shares (code pages, caches) is counted once.
            launch(&socket, counter_cluster());
            let before = rss_mib(daemon.pid());
            for _ in 0..vats {
                launch(&socket, counter_cluster());
            }
            (rss_mib(daemon.pid()) - before) / vats as f64
        })
        .collect();
    Figure::of("memory per started JS vat", "MiB", samples)
        .target("< 8")
        .reference("120")
}
