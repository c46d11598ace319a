//! `daemon.pid` in the home directory, as the reference daemon writes it: for a daemon that
//! binds its own socket, the decimal pid without a newline, there before the socket is, gone
//! when the daemon stops; never for a socket-activated daemon; and never used to kill anything.

use crate::common::{Cleanup, Home, OCAPCTL, OCAPD, call, eventually};
use std::process::{Command, Stdio};
use std::time::Duration;

fn pid_file(home: &Home) -> std::path::PathBuf {
    home.path().join("daemon.pid")
}

#[test]
fn a_started_daemon_writes_its_pid_and_removes_it_on_stop() {
    let home = Home::new();
    let _stop = Cleanup(&home);
    assert!(home.ocapctl(&["start"]).status.success());
    let info = call(&home.socket(), "daemonInfo", "[]");
    let text = std::fs::read_to_string(pid_file(&home)).unwrap();
    assert_eq!(text, info["pid"].to_string(), "decimal, no newline");
    assert!(home.ocapctl(&["stop"]).status.success());
    assert!(!pid_file(&home).exists());
}

#[test]
fn the_pid_file_is_there_before_the_socket_and_a_stale_one_is_replaced() {
    let home = Home::new();
    std::fs::write(pid_file(&home), "4194000").unwrap();
    let mut child = home
        .command(OCAPD)
        .arg("--foreground")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let socket = home.socket();
    assert!(eventually(Duration::from_secs(20), || socket.exists()));
    // The socket exists only once bound, and the pid file was written before that.
    assert_eq!(
        std::fs::read_to_string(pid_file(&home)).unwrap(),
        child.id().to_string()
    );
    // Once it serves, it has its signal handlers: SIGTERM stops it cleanly.
    call(&socket, "getStatus", "[]");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    assert!(!pid_file(&home).exists());
}

#[test]
fn ocapctl_stop_never_kills_the_process_a_pid_file_names() {
    let home = Home::new();
    let _stop = Cleanup(&home);
    assert!(home.ocapctl(&["start"]).status.success());
    let mut bystander = Command::new("sleep").arg("60").spawn().unwrap();
    std::fs::write(pid_file(&home), bystander.id().to_string()).unwrap();
    assert!(home.ocapctl(&["stop"]).status.success());
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "the bystander lives"
    );
    // The daemon left the file that is not its own alone.
    assert_eq!(
        std::fs::read_to_string(pid_file(&home)).unwrap(),
        bystander.id().to_string()
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
    // purge removes a leftover pid file with the rest of the state.
    let out = home.ocapctl(&["purge", "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!pid_file(&home).exists());
}

#[test]
fn a_socket_activated_daemon_writes_no_pid_file() {
    let home = Home::new();
    let socket = home.path().join("activated.sock");
    let mut activate = home.command("systemd-socket-activate");
    activate
        .args(["-l", socket.to_str().unwrap(), "--fdname=ocap"])
        .arg("--setenv=OCAP_HOME")
        .args([OCAPD, "--foreground"])
        .env("OCAP_HOME", home.path())
        .stderr(Stdio::null());
    let mut child = activate
        .spawn()
        .expect("systemd-socket-activate must be installed (apt-get install systemd)");
    assert!(eventually(Duration::from_secs(10), || socket.exists()));
    let out = Command::new(OCAPCTL)
        .args(["--socket", socket.to_str().unwrap(), "exec", "daemonInfo"])
        .env("OCAP_HOME", home.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["activation"], "systemd");
    assert!(!pid_file(&home).exists());
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}
