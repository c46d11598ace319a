//! The built-in QuickJS vat runtime on its own (no kernel, no store): how long a vat takes to
//! start (SES lockdown, liveslots, supervisor, the counter vat's `startVat`), how much memory
//! each vat holds, and what a trivial delivery through real liveslots costs.
//!
//! `cargo bench --bench vat`; `OCAP_BENCH_SMOKE=1` for a quick run. Prints a table.

use ocap::capdata::CapData;
use ocap::vat::quickjs::QuickJsFactory;
use ocap::vat::{Delivery, Message, Syscall, Syscalls, VatFactory, VatRuntime};
use serde_json::json;
use std::time::{Duration, Instant};

/// Discards syscalls, counting them.
#[derive(Default)]
struct Count(u64);

impl Syscalls for Count {
    fn syscall(&mut self, _: Syscall) {
        self.0 += 1;
    }
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

fn resume(n: u64) -> Delivery {
    Delivery::Message {
        target: "o+0".into(),
        message: Message {
            methargs: CapData {
                body: "#[\"resume\",[]]".into(),
                slots: vec![],
            },
            result: Some(format!("p-{n}")),
        },
    }
}

fn main() {
    let smoke = std::env::var_os("OCAP_BENCH_SMOKE").is_some();
    let (vats, deliveries) = if smoke { (3, 200) } else { (20, 5_000) };
    let budget = Duration::from_secs(10);
    let config = json!({"bundleSpec": format!("file://{}/counter.bundle", env!("OUT_DIR"))});
    let factory = QuickJsFactory::default();
    let before = rss_kib();
    let mut running: Vec<Box<dyn VatRuntime>> = Vec::new();
    let mut starts = Vec::new();
    for i in 0..vats {
        let started = Instant::now();
        let mut vat = factory.create(&format!("v{i}"), &config).unwrap();
        let result = vat.init(vec![], &mut Count::default(), budget).unwrap();
        assert_eq!(result.error, None);
        starts.push(started.elapsed());
        running.push(vat);
    }
    let per_vat = (rss_kib() - before) / vats as u64;
    starts.sort();
    let vat = &mut running[0];
    let mut sys = Count::default();
    let started = Instant::now();
    for n in 0..deliveries {
        vat.deliver(&resume(n + 1), &mut sys, budget).unwrap();
    }
    let per_delivery = started.elapsed() / deliveries as u32;
    assert_eq!(sys.0, deliveries, "one resolve per delivery");
    println!("| what | figure |");
    println!("|---|---|");
    println!(
        "| vat start (counter), median of {vats} | {:?} |",
        starts[vats / 2]
    );
    println!("| vat start, slowest | {:?} |", starts[vats - 1]);
    println!("| resident memory per vat | {} KiB |", per_vat);
    println!("| trivial delivery (counter `resume`, real liveslots) | {per_delivery:?} |");
}
