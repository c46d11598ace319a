//! The capability socket's systemd unit (`systemd/ocap-caps.socket`): its settings, and
//! `systemd-analyze --user verify` of it beside the control socket and service, in a sandbox
//! (temporary home and runtime directory; no service manager is started).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn read(rel: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The `key=value` lines of a unit, comments dropped.
fn settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_capability_socket_feeds_ocap_service_under_its_own_fd_name() {
    let unit = settings(&read("systemd/ocap-caps.socket"));
    for wanted in [
        ("ListenStream", "%t/ocap/caps.sock"),
        ("FileDescriptorName", "ocap-caps"),
        ("Service", "ocap.service"),
        ("SocketMode", "0666"),
        ("RemoveOnStop", "yes"),
        ("WantedBy", "sockets.target"),
    ] {
        assert!(
            unit.iter().any(|(k, v)| (k.as_str(), v.as_str()) == wanted),
            "{wanted:?} missing from ocap-caps.socket"
        );
    }
    // ocapd takes the fd named by `listen::CAPS_FD_NAME`; the names must agree.
    let listen = read("src/daemon/listen.rs");
    assert!(listen.contains(r#"CAPS_FD_NAME: &str = "ocap-caps""#));
}

#[test]
fn the_capability_socket_passes_systemd_analyze_verify() {
    if std::env::var_os("OCAP_SKIP_SYSTEMD_VERIFY").is_some_and(|v| v == "1") {
        eprintln!("OCAP_SKIP_SYSTEMD_VERIFY=1: skipping systemd-analyze verify");
        return;
    }
    let sandbox = tempfile::tempdir().unwrap();
    let (units, runtime, home) = (
        sandbox.path().join("units"),
        sandbox.path().join("run"),
        sandbox.path().join("home"),
    );
    for dir in [&units, &runtime, &home] {
        fs::create_dir(dir).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
    }
    // ocapd is not installed here: verify needs ExecStart= to name an existing binary.
    let service = read("systemd/ocap.service").replace("/usr/bin/ocapd ", "/bin/true ");
    fs::write(units.join("ocap.service"), service).unwrap();
    fs::write(units.join("ocap.socket"), read("systemd/ocap.socket")).unwrap();
    fs::write(
        units.join("ocap-caps.socket"),
        read("systemd/ocap-caps.socket"),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["--user", "--man=no", "verify"])
        .arg(units.join("ocap-caps.socket"))
        .arg(units.join("ocap.socket"))
        .arg(units.join("ocap.service"))
        .current_dir(sandbox.path())
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("SYSTEMD_UNIT_PATH")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .expect("systemd-analyze (systemd) must be installed, or set OCAP_SKIP_SYSTEMD_VERIFY=1");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "verify failed:\n{text}");
    // verify exits 0 on unknown keys and bad values; it only warns.
    assert!(!text.contains("ocap"), "verify warned:\n{text}");
}
