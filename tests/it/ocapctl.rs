//! `ocapctl` end to end: auto-start, exec's three input modes, output, errors and exit codes,
//! status, stop escalation and purge (spec §1.5, §1.6), and the kernel commands' argument
//! checks, which need no daemon.

use crate::common::{Cleanup, Home, OCAPCTL, call, eventually, stderr, stdout};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn no_daemon_is_exit_69_with_what_to_do() {
    let home = Home::new();
    let out = home.ocapctl(&["status"]);
    assert_eq!(out.status.code(), Some(69));
    let err = stderr(&out);
    assert!(
        err.contains("no ocap daemon is serving") && err.contains("ocapctl start"),
        "{err}"
    );
}

#[test]
fn exec_starts_a_daemon_and_prints_compact_json_off_a_terminal() {
    let home = Home::new();
    let _cleanup = Cleanup(&home);
    let out = home.ocapctl(&["exec"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = stdout(&out);
    assert!(
        status.starts_with(
            "{\"vats\":[],\"subclusters\":[],\"remoteComms\":{\"state\":\"identity-only\",\"peerId\":\"12D3KooW"
        ) && status.ends_with("\"}}\n"),
        "{status}"
    );
    assert!(
        stderr(&out).contains("Starting daemon...\nDaemon ready."),
        "{}",
        stderr(&out)
    );
    let again = home.ocapctl(&["exec", "getStatus"]);
    assert!(again.status.success());
    assert!(
        stderr(&again).is_empty(),
        "a running daemon is reused: {}",
        stderr(&again)
    );
    assert!(home.path().join("daemon.log").exists());
}

#[test]
fn exec_errors_and_exit_codes() {
    let home = Home::new();
    let _cleanup = Cleanup(&home);
    let out = home.ocapctl(&["exec", "frob"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).lines().last().unwrap(),
        "Error: The method does not exist / is not available. (code -32601)"
    );
    let out = home.ocapctl(&["exec", "getStatus", "{bad"]);
    assert_eq!(
        (out.status.code(), stderr(&out).trim_end()),
        (Some(1), "Error: params-json must be valid JSON.")
    );
    let out = home.ocapctl(&["exec", "getStatus", "{}"]);
    assert_eq!(
        stderr(&out).trim_end(),
        "Error: Invalid params: Expected an array value, but received: [object Object] (code -32603)"
    );
    let out = home.ocapctl(&["exec", "getStatus", "--timeout", "0"]);
    assert_eq!(
        stderr(&out).trim_end(),
        "Error: --timeout must be a positive integer, got: 0"
    );
    let out = home.ocapctl(&["exec", "--bogus"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn exec_params_from_argument_file_and_stdin() {
    let home = Home::new();
    let _cleanup = Cleanup(&home);
    let query = r#"{"sql":"SELECT 1 AS x"}"#;
    let out = home.ocapctl(&["exec", "executeDBQuery", query]);
    assert_eq!(stdout(&out), "[{\"x\":1}]\n", "{}", stderr(&out));

    let file = home.path().join("params.json");
    std::fs::write(&file, query).unwrap();
    let out = home.ocapctl(&["exec", "executeDBQuery", file.to_str().unwrap()]);
    assert_eq!(stdout(&out), "[{\"x\":1}]\n", "{}", stderr(&out));

    let mut child = home
        .command(OCAPCTL)
        .args(["exec", "executeDBQuery"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(query.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "[{\"x\":1}]\n");

    let redirected = home
        .command(OCAPCTL)
        .args(["exec", "executeDBQuery"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert_eq!(stdout(&redirected), "[{\"x\":1}]\n");
}

#[test]
fn status_is_json_off_a_terminal() {
    let home = Home::new();
    let _cleanup = Cleanup(&home);
    home.ocapctl(&["start"]);
    let out = home.ocapctl(&["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["daemon"]["activation"], "self");
    assert_eq!(status["daemon"]["socket"], home.socket().to_str().unwrap());
    assert_eq!(status["status"]["vats"], serde_json::json!([]));
}

#[test]
fn start_stop_and_stop_again() {
    let home = Home::new();
    let out = home.ocapctl(&["start"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).ends_with(&format!(
        "Daemon running. Socket: {}\n",
        home.socket().display()
    )));
    let pid = call(&home.socket(), "daemonInfo", "[]")["pid"]
        .as_i64()
        .unwrap() as i32;

    let out = home.ocapctl(&["stop"]);
    assert_eq!(
        (out.status.code(), stderr(&out).as_str()),
        (Some(0), "Stopping daemon...\nDaemon stopped.\n")
    );
    let gone = || unsafe { libc::kill(pid, 0) } != 0 || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "));
    assert!(
        eventually(Duration::from_secs(2), gone),
        "the process is gone, not just its socket"
    );
    let out = home.ocapctl(&["stop"]);
    assert_eq!(stderr(&out), "Daemon is not running.\n");
}

#[test]
fn stop_escalates_to_signals_for_an_unresponsive_daemon() {
    let home = Home::new();
    let mut daemon = home.daemon(&[]);
    daemon.signal(libc::SIGSTOP);
    let out = home.ocapctl(&["stop"]);
    let _ = unsafe { libc::kill(daemon.child.id() as i32, libc::SIGCONT) };
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).ends_with("Daemon stopped.\n"));
    assert!(
        daemon.wait_exit(Duration::from_secs(5)).is_none(),
        "killed by a signal"
    );
}

#[test]
fn purge_needs_force_then_deletes_everything() {
    let home = Home::new();
    let out = home.ocapctl(&["purge"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "Usage: ocapctl purge --force\nThis will delete all OCAP daemon state.\n"
    );

    home.ocapctl(&["start"]);
    assert!(home.database().exists());
    let out = home.ocapctl(&["purge", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).ends_with("All daemon state deleted.\n"));
    for name in [
        "kernel.sqlite",
        "kernel.sqlite-wal",
        "kernel.sqlite-shm",
        "kernel.sqlite.lock",
        "daemon.log",
        "daemon.sock",
    ] {
        assert!(
            !home.path().join(name).exists(),
            "{name} survived the purge"
        );
    }
}

#[test]
fn an_installed_socket_unit_is_never_bypassed() {
    let home = Home::new();
    let runtime = home.path().join("run");
    let units = home.path().join("config/systemd/user");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::write(
        units.join("ocap.socket"),
        "[Socket]\nListenStream=%t/ocap/daemon.sock\n",
    )
    .unwrap();
    let out = home
        .command(OCAPCTL)
        .env_remove("OCAP_HOME")
        .env("XDG_RUNTIME_DIR", &runtime)
        .arg("exec")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69));
    assert!(
        stderr(&out).contains("systemctl --user enable --now ocap.socket"),
        "{}",
        stderr(&out)
    );
    assert!(
        !eventually(Duration::from_millis(300), || runtime
            .join("ocap/daemon.sock")
            .exists()),
        "a daemon was spawned"
    );
}

/// Runs `ocapctl ARGS` and returns (exit code, stderr), checking that no daemon was started.
fn refused(home: &Home, args: &[&str]) -> (Option<i32>, String) {
    let out = home.ocapctl(args);
    assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    assert!(
        !home.socket().exists() && !home.database().exists(),
        "{args:?} started a daemon"
    );
    (out.status.code(), stderr(&out))
}

#[test]
fn kernel_commands_refuse_bad_ids_as_usage_errors_without_a_daemon() {
    let home = Home::new();
    for (args, wanted) in [
        (
            &["terminate", "x1"][..],
            "expected a vat id ('v' and a number, e.g. v1) or a subcluster id ('s' and a number, e.g. s1)",
        ),
        (&["terminate", "ko4"], "or a subcluster id"),
        (
            &["restart", "s1"],
            "expected a vat id: 'v' and a number, e.g. v1",
        ),
        (&["ping", "v"], "expected a vat id"),
        (
            &["revoke", "k4"],
            "expected a kernel reference: 'ko' or 'kp' and a number",
        ),
        (&["revoked", "v1"], "expected a kernel reference"),
        (&["send", "ko", "m"], "expected a kernel reference"),
        (&["send", "ko4", ""], "a value is required for '<METHOD>'"),
        (&["send", "ko4"], "<METHOD>"),
        (&["gc", "extra"], "unexpected argument 'extra'"),
        (&["launch"], "launch needs a cluster config"),
    ] {
        let (code, err) = refused(&home, args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(wanted),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn send_and_launch_refuse_bad_json_with_the_reference_texts() {
    let home = Home::new();
    let (code, err) = refused(&home, &["send", "ko4", "m", r#"["a",1"#]);
    assert_eq!(
        (code, err.as_str()),
        (Some(1), "Error: args-json must be valid JSON.\n")
    );
    let (code, err) = refused(&home, &["send", "ko4", "m", "1", "{a:1}"]);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("Error: argument 2 ({a:1}) looks like JSON but is not valid JSON"),
        "{err}"
    );
    let (code, err) = refused(&home, &["send", "ko4", "m", "--timeout", "0"]);
    assert_eq!(
        (code, err.as_str()),
        (
            Some(1),
            "Error: --timeout must be a positive integer, got: 0\n"
        )
    );
    let (code, err) = refused(&home, &["launch", "{bad"]);
    assert_eq!(
        (code, err.as_str()),
        (Some(1), "Error: config must be valid JSON.\n")
    );
    let (code, err) = refused(&home, &["launch", "[1]"]);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("Error: config must be a JSON object"),
        "{err}"
    );
    let missing = home.path().join("nope.json");
    let (code, err) = refused(&home, &["launch", missing.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("nope.json: no such file"), "{err}");
}

#[test]
fn every_command_has_help() {
    let home = Home::new();
    for command in [
        "exec",
        "status",
        "start",
        "stop",
        "purge",
        "launch",
        "send",
        "terminate",
        "restart",
        "ping",
        "revoke",
        "revoked",
        "gc",
        "bundle",
    ] {
        let out = home.ocapctl(&[command, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{command}");
        assert!(
            stdout(&out).contains(&format!("Usage: ocapctl {command}")),
            "{command}: {}",
            stdout(&out)
        );
    }
    let send = stdout(&home.ocapctl(&["send", "--help"]));
    assert!(
        send.contains("one JSON array") && send.contains("--raw"),
        "{send}"
    );
}

#[test]
fn completions_for_each_shell_name_every_command() {
    let home = Home::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = home.ocapctl(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for command in ["exec", "launch", "send", "purge", "completions"] {
            assert!(
                script.contains(command),
                "{shell} completions lack {command}"
            );
        }
    }
    assert_eq!(
        home.ocapctl(&["completions", "tcsh"]).status.code(),
        Some(2)
    );
}

#[test]
fn a_reader_that_goes_away_is_not_a_crash() {
    let home = Home::new();
    let mut child = home
        .command(OCAPCTL)
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));
}
