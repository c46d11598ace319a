//! The systemd units' hardening, scored by `systemd-analyze security --offline=yes` (the figures
//! are in RELIABILITY.md). `--threshold` makes the command fail when a unit's exposure rises past
//! its recorded level, so a unit that loses hardening fails here. Runs on the unit files alone,
//! under a temporary `XDG_RUNTIME_DIR` and `HOME`; no service manager is involved.

use std::process::Command;

/// Exposure (0–100, tenths of systemd's 0.0–10.0 scale) a unit may not exceed.
fn within(unit: &str, user: bool, threshold: u32) -> (bool, String) {
    let runtime = tempfile::tempdir().unwrap();
    let mut command = Command::new("systemd-analyze");
    if user {
        command.arg("--user");
    }
    let output = command
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(format!("--threshold={threshold}"))
        .arg(format!("{}/{unit}", env!("CARGO_MANIFEST_DIR")))
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("HOME", runtime.path())
        .output()
        .expect("systemd-analyze (Debian's systemd) must be installed");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

// Both units allow Internet sockets (vats' fetch, remote comms), which costs 0.3; the system
// unit also left PrivateNetwork= (0.5): 0.8 SAFE became 1.5 OK, and the user unit 6.3 became
// 6.6 MEDIUM. Netlink sockets, which remote comms listening on every interface need
// (netns::listening_on_all_interfaces_needs_netlink), cost the system unit 0.1 more: 1.6 OK.

#[test]
fn the_system_unit_stays_ok() {
    let (ok, report) = within("systemd/system/ocap.service", false, 16);
    assert!(ok, "exposure above 1.6:\n{report}");
    assert!(report.contains("Overall exposure level"), "{report}");
}

#[test]
fn the_user_unit_keeps_the_hardening_a_user_manager_allows() {
    let (ok, report) = within("systemd/ocap.service", true, 66);
    assert!(ok, "exposure above 6.6:\n{report}");
}
