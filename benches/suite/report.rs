//! Figures, their statistics, and the two ways they are published: a table on stdout and a JSON
//! file for scripts (`target/bench/suite.json`).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// One row of the table: a median over repeated runs, with the smallest and largest run.
pub struct Figure {
    pub name: String,
    pub unit: &'static str,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
    /// What we aim for, e.g. "< 30"; "-" when there is none.
    pub target: &'static str,
    /// The reference daemon on this machine class, "-" when not measured.
    pub reference: &'static str,
}

impl Figure {
    /// The median, min and max of `samples`, one per run.
    pub fn of(name: impl Into<String>, unit: &'static str, mut samples: Vec<f64>) -> Figure {
        assert!(!samples.is_empty(), "a figure needs at least one run");
        samples.sort_by(f64::total_cmp);
        Figure {
            name: name.into(),
            unit,
            median: samples[samples.len() / 2],
            min: samples[0],
            max: samples[samples.len() - 1],
            runs: samples.len(),
            target: "-",
            reference: "-",
        }
    }

    pub fn target(mut self, target: &'static str) -> Figure {
        self.target = target;
        self
    }

    pub fn reference(mut self, reference: &'static str) -> Figure {
        self.reference = reference;
        self
    }
}

/// The value at fraction `p` of already sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Sorts in place and returns (p50, p99).
pub fn p50_p99(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    (percentile(samples, 0.5), percentile(samples, 0.99))
}

/// Cores and CPU model of this machine.
pub fn machine() -> String {
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

pub fn print_header(smoke: bool) {
    let mode = if smoke {
        " (smoke run: every case once, briefly; figures not meaningful)"
    } else {
        ""
    };
    println!("\nocap benchmark suite{mode} — {}", machine());
    println!(
        "| {:<58} | {:>10} | {:>10} | {:>10} | {:>4} | {:<7} | {:>9} | {:>9} |",
        "case", "median", "min", "max", "runs", "unit", "target", "reference"
    );
    println!(
        "|{:-<60}|{:->12}|{:->12}|{:->12}|{:->6}|{:-<9}|{:->11}|{:->11}|",
        "", "", "", "", "", "", "", ""
    );
}

/// Prints one row as soon as it is measured, so a long run shows progress.
pub fn print_row(f: &Figure) {
    println!(
        "| {:<58} | {:>10} | {:>10} | {:>10} | {:>4} | {:<7} | {:>9} | {:>9} |",
        f.name,
        number(f.median),
        number(f.min),
        number(f.max),
        f.runs,
        f.unit,
        f.target,
        f.reference
    );
}

/// Three significant digits at least, no exponent.
fn number(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Writes every figure and the machine to `target/bench/suite.json`; returns the path.
pub fn write_json(figures: &[Figure], smoke: bool) -> PathBuf {
    let rows: Vec<Value> = figures
        .iter()
        .map(|f| {
            json!({
                "case": f.name, "unit": f.unit, "median": f.median, "min": f.min, "max": f.max,
                "runs": f.runs, "target": f.target, "reference": f.reference,
            })
        })
        .collect();
    let report = json!({
        "machine": machine(),
        "smoke": smoke,
        "version": env!("CARGO_PKG_VERSION"),
        "figures": rows,
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("suite.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    path
}
