//! What persistence costs: database growth per message, and how long a daemon with many
//! persisted vats takes to boot (vats start lazily, so it should not depend on their number).

use crate::Scale;
use crate::daemon::{Home, cluster, launch, millis, rpc, send, spread};
use crate::report::Figure;
use serde_json::json;
use std::path::Path;
use std::time::Instant;

pub fn cases(scale: &Scale, out: &mut dyn FnMut(Figure)) {
    let [rows, size] = growth(scale);
    out(rows);
    out(size);
    let [empty, full, ratio] = boot(scale);
    out(empty);
    out(full);
    out(ratio);
}

fn kv_rows(socket: &Path) -> f64 {
    let rows = rpc(
        socket,
        "executeDBQuery",
        json!({"sql": "SELECT count(*) AS n FROM kv"}),
    );
    let n = &rows[0]["n"];
    n.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| n.as_f64())
        .expect("a count")
}

/// Sends `scale.messages` messages to the counter from 8 clients; the kv rows they left behind
/// per 10,000, and the database size (checkpointed, after a clean stop) per 10,000.
fn growth(scale: &Scale) -> [Figure; 2] {
    let (mut rows, mut sizes) = (Vec::new(), Vec::new());
    let per_10k = 10_000.0 / scale.messages as f64;
    for _ in 0..scale.heavy_runs.min(3) {
        let home = Home::new();
        let daemon = home.daemon();
        let socket = home.socket();
        let counter = launch(
            &socket,
            cluster("counter", &[("counter".into(), "counter")]),
        );
        send(&socket, &counter, "resume", json!([]));
        let rows_before = kv_rows(&socket);
        daemon.stop();
        let size_before = std::fs::metadata(home.database()).unwrap().len() as f64;
        let daemon = home.daemon();
        spread(8, scale.messages, || {
            send(&socket, &counter, "resume", json!([]));
        });
        rows.push((kv_rows(&socket) - rows_before) * per_10k);
        daemon.stop();
        let size = std::fs::metadata(home.database()).unwrap().len() as f64;
        sizes.push((size - size_before) / (1024.0 * 1024.0) * per_10k);
    }
    [
        Figure::of("kv rows left per 10,000 finished messages", "rows", rows)
            .target("0")
            .reference("50,000"),
        Figure::of("database growth per 10,000 messages", "MiB", sizes),
    ]
}

/// Boot time, spawn to first getStatus reply, of a daemon with no vats and of one with
/// `scale.persisted_vats` vats persisted, runs interleaved; and the ratio of each pair.
fn boot(scale: &Scale) -> [Figure; 3] {
    let empty = Home::new();
    drop(empty.daemon());
    let full = Home::new();
    {
        let _daemon = full.daemon();
        let socket = full.socket();
        // Subclusters of up to ten counters each.
        let mut left = scale.persisted_vats;
        while left > 0 {
            let n = left.min(10);
            let vats: Vec<(String, &str)> =
                (0..n).map(|i| (format!("counter{i}"), "counter")).collect();
            launch(&socket, cluster("counter0", &vats));
            left -= n;
        }
    }
    let (mut empties, mut fulls, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..scale.runs {
        let a = boot_once(&empty);
        let b = boot_once(&full);
        empties.push(a);
        fulls.push(b);
        ratios.push(b / a);
    }
    let n = scale.persisted_vats;
    [
        Figure::of("daemon boot to first reply, no vats", "ms", empties),
        Figure::of(
            format!("daemon boot to first reply, {n} persisted vats"),
            "ms",
            fulls,
        ),
        Figure::of(
            format!("boot time ratio, {n} vats / none (interleaved)"),
            "x",
            ratios,
        ),
    ]
}

fn boot_once(home: &Home) -> f64 {
    let started = Instant::now();
    let daemon = home.daemon();
    let reply = crate::daemon::get_status(&home.socket());
    let elapsed = millis(started.elapsed());
    assert!(reply.starts_with(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\""));
    daemon.stop();
    elapsed
}
