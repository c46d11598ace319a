//! What an operator reaches for: `ocapd --check-config`, `ocapctl logs [-f]` and `ocapctl doctor`,
//! end to end against real daemons in private homes.

use crate::common::{Cleanup, Home, LogFollower, OCAPCTL, OCAPD, stderr, stdout};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

fn write_config(home: &Home, text: &str) {
    let dir = home.path().join("config/ocap");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ocapd.toml"), text).unwrap();
}

#[test]
fn check_config_prints_the_effective_configuration_or_exits_78() {
    let home = Home::new();
    write_config(&home, "idle-timeout = 5\nlog-level = \"debug\"\n");
    let out = home
        .command(OCAPD)
        .args(["--check-config", "--read-timeout", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let socket = format!("socket = \"{}\"  # default", home.socket().display());
    for line in [
        socket.as_str(),
        "idle-timeout = 5.0  # config file",
        "read-timeout = 3.0  # command line or environment",
        "log-level = \"debug\"  # config file",
        "max-connections = 256  # default",
        "max-cap-connections = 256  # default",
        "max-cap-connections-per-uid = 64  # default",
        "max-buffered-bytes = 67108864  # default",
        "# log-file is not set",
        "max-log-bytes = 16777216  # default",
    ] {
        assert!(
            text.lines().any(|l| l == line || l.starts_with(line)),
            "{line:?} in\n{text}"
        );
    }
    assert!(!home.socket().exists(), "checking starts nothing");

    write_config(&home, "log-level = \"info\"\nidle-timout = 5\n");
    let out = home.command(OCAPD).arg("--check-config").output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = stderr(&out);
    assert!(
        err.contains("idle-timout") && err.contains("line 2"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn logs_print_the_detached_daemons_log_and_follow_it() {
    let home = Home::new();
    let cleanup = Cleanup(&home);
    let none = home.ocapctl(&["logs"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("no log at"), "{}", stderr(&none));

    assert!(home.ocapctl(&["start"]).status.success());
    let out = home.ocapctl(&["logs"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stdout(&out);
    assert!(log.contains("ready in"), "{log}");
    assert_eq!(
        log,
        std::fs::read_to_string(home.path().join("daemon.log")).unwrap()
    );
    let last = stdout(&home.ocapctl(&["logs", "-n", "1"]));
    assert_eq!(last.lines().count(), 1, "{last}");
    assert!(log.ends_with(&last));

    let follow = LogFollower::start(&home);
    follow.wait_for("ready in");
    // Stopping the daemon appends to the file; the follower prints it.
    drop(cleanup);
    follow.wait_for("stopped");
}

fn doctor(home: &Home, configure: impl FnOnce(&mut std::process::Command)) -> (Option<i32>, Value) {
    let mut command = home.command(OCAPCTL);
    command.args(["doctor", "--json"]);
    configure(&mut command);
    let out = command.output().unwrap();
    let report = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code(), report)
}

fn status<'a>(report: &'a Value, check: &str) -> (&'a str, String, String) {
    let found = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == check)
        .unwrap_or_else(|| panic!("no {check} check in {report}"));
    (
        found["status"].as_str().unwrap(),
        found["detail"].as_str().unwrap().to_string(),
        found["fix"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn doctor_passes_a_healthy_home_with_a_running_daemon() {
    let home = Home::new();
    let _cleanup = Cleanup(&home);
    assert!(home.ocapctl(&["start"]).status.success());
    let (code, report) = doctor(&home, |_| {});
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["ok"], true);
    for check in [
        "paths",
        "config",
        "state directory",
        "socket directory",
        "socket",
        "daemon",
        "database",
    ] {
        assert_eq!(status(&report, check).0, "ok", "{check}: {report:#}");
    }
    assert!(
        status(&report, "database").1.contains("integrity ok"),
        "{report:#}"
    );
    assert!(
        status(&report, "daemon").1.contains("started by self"),
        "{report:#}"
    );
}

#[test]
fn doctor_fails_a_broken_home_and_says_what_to_fix() {
    let home = Home::new();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(home.database(), "this is not a database, just some text").unwrap();
    std::fs::write(home.socket(), "").unwrap();
    write_config(&home, "max-conections = 3\n");
    let (code, report) = doctor(&home, |_| {});
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["ok"], false);
    let (level, _, fix) = status(&report, "state directory");
    assert_eq!(
        (level, fix.as_str()),
        (
            "fail",
            format!("chmod 700 {}", home.path().display()).as_str()
        )
    );
    let (level, detail, _) = status(&report, "config");
    assert_eq!(level, "fail");
    assert!(detail.contains("max-conections"), "{detail}");
    let (level, detail, fix) = status(&report, "database");
    assert_eq!(level, "fail");
    assert!(
        detail.contains("not an SQLite database") && fix.contains("backup"),
        "{report:#}"
    );
    let (level, detail, _) = status(&report, "socket");
    assert_eq!(level, "fail");
    assert!(detail.contains("not a socket"), "{detail}");
    assert_eq!(status(&report, "daemon").0, "warn");
}

/// A home whose user has `ocap.socket` installed (not enabled), and its runtime and unit folders.
fn home_with_a_socket_unit() -> (Home, std::path::PathBuf, std::path::PathBuf) {
    let home = Home::new();
    let runtime = home.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    let units = home.path().join("config/systemd/user");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::write(units.join("ocap.socket"), "[Socket]\n").unwrap();
    (home, runtime, units)
}

#[test]
fn doctor_checks_the_socket_unit_where_systemd_would_own_the_socket() {
    let (home, runtime, units) = home_with_a_socket_unit();
    let per_user = |c: &mut std::process::Command| {
        c.env_remove("OCAP_HOME").env("XDG_RUNTIME_DIR", &runtime);
    };
    let (code, report) = doctor(&home, per_user);
    assert_eq!(code, Some(0), "{report:#}");
    let (level, _, fix) = status(&report, "socket unit");
    assert_eq!(
        (level, fix.as_str()),
        ("warn", "systemctl --user enable --now ocap.socket")
    );
    assert!(status(&report, "daemon").2.contains("enable"), "{report:#}");
    assert_eq!(status(&report, "linger").0, "warn");

    std::fs::create_dir(units.join("sockets.target.wants")).unwrap();
    std::os::unix::fs::symlink(
        units.join("ocap.socket"),
        units.join("sockets.target.wants/ocap.socket"),
    )
    .unwrap();
    let (_, report) = doctor(&home, per_user);
    assert_eq!(status(&report, "socket unit").0, "ok", "{report:#}");
}

#[test]
fn logs_read_the_journal_where_a_socket_unit_owns_the_socket() {
    let (home, runtime, _) = home_with_a_socket_unit();
    // A journalctl that shows how it was called.
    let bin = home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("journalctl");
    std::fs::write(&fake, "#!/bin/sh\necho \"journalctl $*\"\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = home
        .command(OCAPCTL)
        .args(["logs", "-f", "-n", "5"])
        .env_remove("OCAP_HOME")
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "journalctl --user -u ocap.service --lines=5 --follow\n"
    );
}

#[test]
fn doctor_reports_the_running_daemons_paths_and_warns_when_ocapctl_would_look_elsewhere() {
    // Under systemd 252 the user unit's StateDirectory= was ~/.config/ocap, while doctor
    // reported ~/.local/state/ocap: here the daemon is given another database than the one
    // ocapctl resolves by itself.
    let home = Home::new();
    let elsewhere = home.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
    let db = elsewhere.join("kernel.sqlite");
    let _daemon = home.daemon(&["--db", db.to_str().unwrap()]);
    let (code, report) = doctor(&home, |_| {});
    assert_eq!(code, Some(0), "{report:#}");
    let (level, detail, fix) = status(&report, "paths");
    assert_eq!(level, "warn", "{report:#}");
    assert!(
        detail.contains(&format!("database {},", db.display()))
            && detail.contains("the running daemon's")
            && detail.contains(&home.database().display().to_string()),
        "{detail}"
    );
    assert!(fix.contains(&format!("--db {}", db.display())), "{fix}");
    let (_, detail, _) = status(&report, "state directory");
    assert!(
        detail.starts_with(&elsewhere.display().to_string()),
        "{detail}"
    );
    let (level, detail, _) = status(&report, "database");
    assert_eq!(level, "ok");
    assert!(detail.starts_with(&db.display().to_string()), "{detail}");
}
