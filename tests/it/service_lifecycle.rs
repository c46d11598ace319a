//! ocapd as a system service: socket activation, readiness, watchdog, draining on SIGTERM,
//! reload on SIGHUP, idle exit, and the self-bound mode's locks, modes and access checks.

use crate::common::{Home, Notify, OCAPCTL, OCAPD, call, eventually, raw, request};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A query that keeps the daemon busy for a noticeable time, to have a request in flight.
const SLOW_SQL: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) AS n FROM c";

fn send_slow_query(socket: &Path) -> UnixStream {
    let mut stream = UnixStream::connect(socket).unwrap();
    let line =
        serde_json::json!({"id": 1, "method": "executeDBQuery", "params": {"sql": SLOW_SQL}});
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    stream
}

fn read_reply(mut stream: UnixStream) -> Value {
    let mut reply = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.read_to_string(&mut reply).unwrap();
    serde_json::from_str(reply.trim_end()).unwrap_or_else(|e| panic!("{e}: {reply:?}"))
}

#[test]
fn systemd_activation_readiness_watchdog_and_sigterm_drain() {
    let home = Home::new();
    let socket = home.path().join("activated.sock");
    let mut notify = Notify::new(home.path());
    let mut activate = home.command("systemd-socket-activate");
    activate
        .args(["-l", socket.to_str().unwrap(), "--fdname=ocap"])
        .arg(format!("--setenv=NOTIFY_SOCKET={}", notify.path.display()))
        .arg("--setenv=WATCHDOG_USEC=400000")
        .arg("--setenv=OCAP_HOME")
        .args([OCAPD, "--foreground"])
        .env("OCAP_HOME", home.path())
        .stderr(Stdio::null());
    let mut child = activate
        .spawn()
        .expect("systemd-socket-activate must be installed (apt-get install systemd)");
    assert!(
        eventually(Duration::from_secs(10), || socket.exists()),
        "the activator never listened"
    );

    // The first connection starts the daemon; ocapctl gets a real answer through it.
    let out = Command::new(OCAPCTL)
        .args(["--socket", socket.to_str().unwrap(), "exec", "getStatus"])
        .env("OCAP_HOME", home.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            &status["vats"],
            &status["subclusters"],
            &status["remoteComms"]["state"]
        ),
        (&json!([]), &json!([]), &json!("identity-only"))
    );
    notify.expect("READY=1", Duration::from_secs(10));
    notify.expect("WATCHDOG=1", Duration::from_secs(5));

    let info = call(&socket, "daemonInfo", "[]");
    assert_eq!(info["activation"], "systemd");
    assert_eq!(
        info["socket"],
        socket.to_str().unwrap(),
        "the inherited path is reported"
    );

    // SIGTERM with a request in flight: it is answered, STOPPING=1 arrives, the exit is clean.
    let in_flight = send_slow_query(&socket);
    std::thread::sleep(Duration::from_millis(150));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let reply = read_reply(in_flight);
    assert_eq!(reply["result"][0]["n"], 3_000_000, "{reply}");
    notify.expect("STOPPING=1", Duration::from_secs(5));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        socket.exists(),
        "an inherited socket path is never unlinked by ocapd"
    );
}

#[test]
fn sigterm_in_self_bound_mode_drains_and_exits_zero() {
    let home = Home::new();
    let mut daemon = home.daemon(&[]);
    let in_flight = send_slow_query(&home.socket());
    std::thread::sleep(Duration::from_millis(150));
    daemon.signal(libc::SIGTERM);
    assert_eq!(read_reply(in_flight)["result"][0]["n"], 3_000_000);
    daemon.expect_notify("STOPPING=1", Duration::from_secs(5));
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn a_stale_socket_file_is_recovered() {
    let home = Home::new();
    drop(UnixListener::bind(home.socket()).unwrap());
    assert!(home.socket().exists());
    let _daemon = home.daemon(&[]);
    call(&home.socket(), "getStatus", "[]");
}

#[test]
fn a_second_daemon_is_refused_by_the_lock_and_by_the_socket() {
    let home = Home::new();
    let first = home.daemon(&[]);
    let pid = first.child.id();
    let out = home.command(OCAPD).arg("--foreground").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("another ocapd (pid {pid}) is using the database")),
        "{stderr}"
    );

    let other_db = home.path().join("other/kernel.sqlite");
    let out = home
        .command(OCAPD)
        .args(["--foreground", "--db", other_db.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("another daemon (pid {pid}) is already serving")),
        "{stderr}"
    );
    call(&home.socket(), "getStatus", "[]");
}

#[test]
fn socket_and_directory_are_private() {
    let home = Home::new();
    let socket = home.path().join("fresh/dir/daemon.sock");
    let _daemon = home.daemon(&["--socket", socket.to_str().unwrap()]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600);
    assert_eq!(mode(socket.parent().unwrap()), 0o700);
    assert_eq!(mode(&home.database()), 0o600);
}

#[test]
fn overlong_socket_paths_are_refused_clearly() {
    let home = Home::new();
    let socket = home.path().join("x".repeat(120)).join("daemon.sock");
    let out = home
        .command(OCAPD)
        .args(["--foreground", "--socket", socket.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unix sockets allow at most"));
}

#[test]
fn other_users_are_refused_by_peer_credentials() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: switching to another uid needs root");
        return;
    }
    let home = Home::new();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let _daemon = home.daemon(&[]);
    // Open the file permissions wide so that only the daemon's own check stands in the way.
    std::fs::set_permissions(home.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let client = home.path().join("ocapctl");
    std::fs::copy(OCAPCTL, &client).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&client)
        .args([
            "--socket",
            home.socket().to_str().unwrap(),
            "exec",
            "getStatus",
        ])
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .expect("setpriv (util-linux) must be installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(77), "{stderr}");
    assert!(
        stderr.contains("Permission denied: this daemon serves uid 0 only"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    call(&home.socket(), "getStatus", "[]");
}

#[test]
fn idle_timeout_exits_zero_and_activity_postpones_it() {
    let home = Home::new();
    let mut daemon = home.daemon(&["--idle-timeout", "0.6"]);
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(300));
        call(&home.socket(), "getStatus", "[]");
    }
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "exited while in use"
    );
    daemon.expect_notify("STOPPING=1", Duration::from_secs(5));
    assert_eq!(daemon.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(!home.socket().exists());
}

#[test]
fn an_open_connection_keeps_the_daemon_from_idling_out() {
    let home = Home::new();
    let mut daemon = home.daemon(&["--idle-timeout", "0.3", "--read-timeout", "1.5"]);
    let mut slow = UnixStream::connect(home.socket()).unwrap();
    slow.write_all(b"{\"id\":1,").unwrap();
    std::thread::sleep(Duration::from_millis(900));
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "idled out with a client connected"
    );
    let mut reply = String::new();
    slow.read_to_string(&mut reply).unwrap();
    assert!(reply.contains("No complete request line"), "{reply}");
    assert_eq!(daemon.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn sighup_reloads_limits_from_the_config_file() {
    let home = Home::new();
    let config = home.path().join("ocapd.toml");
    std::fs::write(&config, "max-request-bytes = 100000\n").unwrap();
    let mut daemon = home.daemon(&["--config", config.to_str().unwrap()]);
    let line = format!(
        r#"{{"id":1,"method":"getStatus","pad":"{}"}}"#,
        "x".repeat(200)
    );
    assert!(request(&home.socket(), &line)["result"].is_object());

    std::fs::write(&config, "max-request-bytes = 64\nlog-level = \"debug\"\n").unwrap();
    daemon.signal(libc::SIGHUP);
    let seen = daemon.expect_notify("RELOADING=1", Duration::from_secs(5));
    assert!(
        seen.iter().any(|m| m.contains("MONOTONIC_USEC=")),
        "{seen:?}"
    );
    assert!(eventually(Duration::from_secs(5), || raw(
        &home.socket(),
        format!("{line}\n").as_bytes()
    )
    .contains("exceeds the limit of 64")));

    // A broken file keeps the running configuration.
    std::fs::write(&config, "max-request-bytez = 1\n").unwrap();
    daemon.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        raw(&home.socket(), format!("{line}\n").as_bytes()).contains("exceeds the limit of 64")
    );
    call(&home.socket(), "getStatus", "[]");
}

#[test]
fn unknown_config_keys_stop_the_start_with_key_and_line() {
    let home = Home::new();
    let config = home.path().join("ocapd.toml");
    std::fs::write(&config, "log-level = \"info\"\nidle-timout = 5\n").unwrap();
    let out = home
        .command(OCAPD)
        .args(["--foreground", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("idle-timout") && stderr.contains("line 2"),
        "{stderr}"
    );
}

#[test]
fn a_database_from_a_newer_ocapd_is_refused_untouched() {
    let home = Home::new();
    {
        let mut daemon = home.daemon(&[]);
        call(&home.socket(), "getStatus", "[]");
        daemon.signal(libc::SIGTERM);
        daemon.wait_exit(Duration::from_secs(10));
    }
    let sqlite = Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE meta SET value='99' WHERE key='schema_version'\"); c.commit()"])
        .arg(home.database())
        .status()
        .unwrap();
    assert!(sqlite.success());
    let out = home.command(OCAPD).arg("--foreground").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("schema version 99 is newer"), "{stderr}");
}

#[test]
fn detached_start_returns_once_serving() {
    let home = Home::new();
    let out = home.command(OCAPD).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("ocapd running (pid"));
    let info = call(&home.socket(), "daemonInfo", "[]");
    assert_eq!(info["activation"], "self");
    assert!(
        home.path().join("daemon.log").exists(),
        "a detached daemon logs to daemon.log"
    );
    let pid = info["pid"].as_i64().unwrap() as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert!(eventually(Duration::from_secs(10), || unsafe {
        libc::kill(pid, 0)
    } != 0));
}
