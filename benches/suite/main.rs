//! ocap's one benchmark suite: every figure we claim about speed and size, from the service shell
//! down to the kernel and the vat runtime alone. Prints one table and writes
//! `target/bench/suite.json`.
//!
//! `make bench` (`cargo bench --bench suite`) for the real figures; `OCAP_BENCH_SMOKE=1` runs
//! every case once and briefly, which `make test` does in CI so that no case rots. Nothing here
//! asserts a timing: each figure is the median over repeated runs with min and max, and the
//! README and docs/performance.md say what they mean. `OCAP_BENCH_ONLY=vats` (a section name)
//! runs one section.

mod daemon;
mod kernel;
#[cfg(feature = "remote")]
mod remote;
mod report;
mod runtime;
mod service;
mod store;
mod vats;

use report::Figure;
use std::time::Duration;

/// How much work each case does.
pub struct Scale {
    pub smoke: bool,
    /// Repeated runs of cheap cases (process starts, CLI calls).
    pub runs: usize,
    /// Repeated runs of costly cases (each launches vats in a fresh daemon).
    pub heavy_runs: usize,
    /// Sequential calls measured per run.
    pub calls: usize,
    /// Messages for the growth and kernel cases.
    pub messages: usize,
    /// How long each throughput run lasts.
    pub period: Duration,
    /// Vats persisted for the boot-time case.
    pub persisted_vats: usize,
}

impl Scale {
    fn from_env() -> Scale {
        if std::env::var_os("OCAP_BENCH_SMOKE").is_some() {
            Scale {
                smoke: true,
                runs: 1,
                heavy_runs: 1,
                calls: 20,
                messages: 40,
                period: Duration::from_millis(100),
                persisted_vats: 3,
            }
        } else {
            Scale {
                smoke: false,
                runs: 11,
                heavy_runs: 3,
                calls: 1_000,
                messages: 10_000,
                period: Duration::from_secs(2),
                persisted_vats: 100,
            }
        }
    }
}

type Section = (&'static str, fn(&Scale, &mut dyn FnMut(Figure)));

const SECTIONS: &[Section] = &[
    ("service", service::cases),
    ("vats", vats::cases),
    ("store", store::cases),
    ("kernel", kernel::cases),
    ("runtime", runtime::cases),
    #[cfg(feature = "remote")]
    ("remote", remote::cases),
];

fn main() {
    let scale = Scale::from_env();
    let only = std::env::var("OCAP_BENCH_ONLY").ok();
    report::print_header(scale.smoke);
    let mut figures = Vec::new();
    for (name, cases) in SECTIONS.iter().copied() {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        cases(&scale, &mut |figure| {
            report::print_row(&figure);
            figures.push(figure);
        });
    }
    let path = report::write_json(&figures, scale.smoke);
    println!("\nwritten to {}", path.display());
}
