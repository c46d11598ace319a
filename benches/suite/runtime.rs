//! The built-in QuickJS vat runtime alone (no kernel, no store): how long a vat takes to start
//! (SES lockdown, liveslots, supervisor, the counter vat's `startVat`), how much memory each vat
//! holds, and what a trivial delivery through real liveslots costs.

use crate::Scale;
use crate::daemon::rss_mib;
use crate::report::Figure;
use ocap::capdata::CapData;
use ocap::vat::quickjs::QuickJsFactory;
use ocap::vat::{Delivery, Message, Syscall, Syscalls, VatFactory, VatRuntime};
use serde_json::json;
use std::time::{Duration, Instant};

pub fn cases(scale: &Scale, out: &mut dyn FnMut(Figure)) {
    let vats = if scale.smoke { 3 } else { 20 };
    let budget = Duration::from_secs(10);
    let config = json!({"bundleSpec": format!("file://{}/counter.bundle", env!("OUT_DIR"))});
    let factory = QuickJsFactory::default();
    let before = rss_mib(std::process::id());
    let mut running: Vec<Box<dyn VatRuntime>> = Vec::new();
    let mut starts = Vec::new();
    for i in 0..vats {
        let started = Instant::now();
        let mut vat = factory.create(&format!("v{i}"), &config).unwrap();
        let result = vat.init(vec![], &mut Count::default(), budget).unwrap();
        assert_eq!(result.error, None);
        starts.push(started.elapsed().as_secs_f64() * 1e3);
        running.push(vat);
    }
    let per_vat = (rss_mib(std::process::id()) - before) / vats as f64;
    let vat = &mut running[0];
    let mut sys = Count::default();
    let mut deliveries = Vec::new();
    let mut n = 0;
    for _ in 0..scale.heavy_runs {
        let started = Instant::now();
        for _ in 0..scale.messages {
            n += 1;
            vat.deliver(&resume(n), &mut sys, budget).unwrap();
        }
        deliveries.push(started.elapsed().as_secs_f64() * 1e6 / scale.messages as f64);
    }
    assert_eq!(sys.0, n, "one resolve per delivery");
    out(Figure::of("vat runtime alone: start a counter vat", "ms", starts).target("< 100"));
    out(Figure::of("vat runtime alone: memory per vat", "MiB", vec![per_vat]).target("< 8"));
    out(Figure::of(
        "vat runtime alone: trivial delivery (counter `resume`)",
        "µs",
        deliveries,
    ));
}

/// Discards syscalls, counting them.
#[derive(Default)]
struct Count(u64);

impl Syscalls for Count {
    fn syscall(&mut self, _: Syscall) {
        self.0 += 1;
    }
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
