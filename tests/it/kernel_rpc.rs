//! The kernel through the real socket and `ocapctl`, with a scripted vat running as a worker
//! process (`tests/fixtures/scripted_vat.py`): the worked example of spec §12, persistence
//! across stop, SIGKILL and restart, and the reference's error texts.

use crate::common::{Home, call, request};
use serde_json::{Value, json};
use std::process::Output;
use std::time::Duration;

fn worker() -> String {
    format!(
        "{}/tests/fixtures/scripted_vat.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn cluster(home: &Home) -> std::path::PathBuf {
    let config = json!({"bootstrap": "counter", "vats": {"counter": {
        "bundleSpec": "./counter.bundle",
        "parameters": {"name": "Counter"},
        "creationOptions": {"worker": ["python3", worker()]}}}});
    let path = home.path().join("cluster.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn out(output: &Output) -> (Option<i32>, String, String) {
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

struct Stop<'a>(&'a Home);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        let _ = self.0.ocapctl(&["stop"]);
    }
}

#[test]
fn worked_example_spec_12_through_ocapctl() {
    let home = Home::new();
    let _stop = Stop(&home);
    let config = cluster(&home);
    let (code, stdout, stderr) = out(&home
        .command(crate::common::OCAPCTL)
        .current_dir(home.path())
        .args(["launch", config.to_str().unwrap()])
        .output()
        .unwrap());
    assert_eq!(code, Some(0), "{stderr}");
    let launched: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        launched,
        json!({"subclusterId":"s1","rootKref":"ko4","bootstrapResult":{"body":"#\"Counter initialized with count: 1\"","slots":[]}})
    );

    let (_, stdout, _) = out(&home.ocapctl(&["send", "ko4", "resume"]));
    assert_eq!(stdout, "\"Counter incremented to: 2\"\n");
    let (code, _, stderr) = out(&home.ocapctl(&["exec", "pingVat", r#"{"id":"v9"}"#]));
    assert_eq!(
        (code, stderr.trim_end()),
        (Some(1), "Error: Vat does not exist. (code -32603)")
    );
    let (_, _, stderr) = out(&home.ocapctl(&["exec", "getStatus", "{}"]));
    assert!(
        stderr.starts_with("Error: Invalid params: Expected an array value"),
        "{stderr}"
    );
    let (code, _, stderr) = out(&home.ocapctl(&["stop"]));
    assert_eq!(
        (code, stderr.as_str()),
        (Some(0), "Stopping daemon...\nDaemon stopped.\n")
    );

    // The daemon starts again on demand; the vat is re-incarnated from its vatstore.
    let (code, stdout, stderr) =
        out(&home.ocapctl(&["exec", "queueMessage", r#"["ko4","resume",[]]"#]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "{\"body\":\"#\\\"Counter incremented to: 3\\\"\",\"slots\":[]}\n"
    );
    let status = call(&home.socket(), "getStatus", "[]");
    assert_eq!(
        status["vats"][0]["config"]["bundleSpec"],
        format!("file://{}/counter.bundle", home.path().display())
    );
    assert_eq!(status["subclusters"][0]["vats"], json!({"counter": "v1"}));
}

#[test]
fn nothing_committed_is_lost_to_sigkill() {
    let home = Home::new();
    let config = cluster(&home);
    let mut daemon = home.daemon(&[]);
    let launch = std::fs::read_to_string(&config).unwrap();
    let launched = request(
        &home.socket(),
        &format!(r#"{{"id":1,"method":"launchSubcluster","params":{{"config":{launch}}}}}"#),
    );
    assert_eq!(launched["result"]["rootKref"], "ko4", "{launched}");
    for n in 2..=4 {
        let reply = call(&home.socket(), "queueMessage", r#"["ko4","resume",[]]"#);
        assert_eq!(reply["body"], format!("#\"Counter incremented to: {n}\""));
    }
    daemon.signal(libc::SIGKILL);
    daemon.wait_exit(Duration::from_secs(5));
    let _daemon = home.daemon(&[]);
    let reply = call(&home.socket(), "queueMessage", r#"["ko4","resume",[]]"#);
    assert_eq!(
        reply["body"], "#\"Counter incremented to: 5\"",
        "every answered resume survived the kill"
    );
    let rows = call(
        &home.socket(),
        "executeDBQuery",
        r#"{"sql":"SELECT key FROM kv WHERE key LIKE 'kp%' OR key LIKE 'queue.kp%'"}"#,
    );
    assert_eq!(
        rows,
        json!([]),
        "finished messages leave no promise rows (spec §14.3)"
    );
}

#[test]
fn kernel_errors_reach_rpc_clients_with_reference_texts() {
    let home = Home::new();
    let _daemon = home.daemon(&[]);
    let socket = home.socket();
    launch_counter(&home);
    let cases = [
        (
            r#"{"id":1,"method":"queueMessage","params":["ko99","resume",[]]}"#,
            "[KERNEL:OBJECT_DELETED] Target object has no owner; it may have been deleted",
        ),
        (
            r#"{"id":1,"method":"queueMessage","params":["ko4","fail",[]]}"#,
            "boom",
        ),
        (
            r#"{"id":1,"method":"queueMessage","params":["bad","m",[]]}"#,
            "Invalid params: At path: 0 -- Expected a value of type `KRef`, but received: `\"bad\"`",
        ),
        (
            r#"{"id":1,"method":"pingVat","params":{"vatId":"v1"}}"#,
            "Invalid params: At path: id -- Expected a value of type `VatId`, but received: `undefined`",
        ),
        (
            r#"{"id":1,"method":"terminateSubcluster","params":{"id":"s7"}}"#,
            "Subcluster does not exist.",
        ),
        (
            r#"{"id":1,"method":"revoke","params":{"kref":"kp1"}}"#,
            "cannot revoke promise kp1",
        ),
        (
            r#"{"id":1,"method":"launchSubcluster","params":{"config":{"bootstrap":"x","vats":{}}}}"#,
            "invalid bootstrap vat name \"x\"",
        ),
    ];
    for (line, message) in cases {
        let response = request(&socket, line);
        assert_eq!(response["error"]["message"], message, "{line}");
        assert_eq!(response["error"]["code"], -32603);
    }
    assert_eq!(call(&socket, "pingVat", r#"{"id":"v1"}"#), json!("pong"));
    assert_eq!(call(&socket, "revoke", r#"{"kref":"ko4"}"#), Value::Null);
    assert_eq!(call(&socket, "isRevoked", r#"{"kref":"ko4"}"#), json!(true));
    let response = request(
        &socket,
        r#"{"id":1,"method":"queueMessage","params":["ko4","resume",[]]}"#,
    );
    assert_eq!(
        response["error"]["message"],
        "[KERNEL:OBJECT_REVOKED] Target object has been revoked"
    );
}

#[test]
fn a_vat_that_hangs_is_terminated_and_others_go_on() {
    let home = Home::new();
    let _daemon = home.daemon(&[]);
    let socket = home.socket();
    launch_counter(&home);
    launch_counter_rooted_at(&home, "ko5");
    // ko4 is v1's root, ko5 is v2's. The delivery budget is 10 s by default; the scripted
    // worker's `crash` exits at once, which the kernel must treat the same way.
    let response = request(
        &socket,
        r#"{"id":1,"method":"queueMessage","params":["ko4","crash",[]]}"#,
    );
    let message = response["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("[KERNEL:VAT_FATAL:INTERNAL_ERROR]"),
        "{message}"
    );
    let status = call(&socket, "getStatus", "[]");
    assert_eq!(
        status["vats"].as_array().unwrap().len(),
        1,
        "only the crashed vat is gone"
    );
    assert_eq!(
        call(&socket, "queueMessage", r#"["ko5","resume",[]]"#)["body"],
        "#\"Counter incremented to: 2\""
    );
}

#[test]
fn a_vat_whose_code_is_gone_never_stops_the_daemon_from_booting() {
    let home = Home::new();
    let config = json!({"bootstrap": "a", "vats": {"a": {"bundleSpec": "file:///x", "creationOptions": {"worker": ["python3", worker()]}}}});
    {
        let mut daemon = home.daemon(&[]);
        let launched = request(
            &home.socket(),
            &json!({"id": 1, "method": "launchSubcluster", "params": {"config": config}})
                .to_string(),
        );
        assert_eq!(launched["result"]["rootKref"], "ko4", "{launched}");
        daemon.signal(libc::SIGTERM);
        daemon.wait_exit(Duration::from_secs(10));
    }
    // Break the vat's code: its worker program no longer exists.
    let db = home.database();
    let broken =
        r#"{"bundleSpec":"file:///x","creationOptions":{"worker":["/nonexistent/worker"]}}"#;
    let status = std::process::Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE kv SET value=? WHERE key='vatConfig.v1'\", (sys.argv[2],)); c.commit()"])
        .arg(&db)
        .arg(broken)
        .status()
        .unwrap();
    assert!(status.success());
    let _daemon = home.daemon(&[]);
    let response = request(
        &home.socket(),
        r#"{"id":1,"method":"queueMessage","params":["ko4","resume",[]]}"#,
    );
    let message = response["error"]["message"].as_str().unwrap();
    assert!(message.contains("vat could not be started"), "{message}");
    assert_eq!(call(&home.socket(), "getStatus", "[]")["vats"], json!([]));
}

/// Launches one more counter subcluster and checks its root kref.
fn launch_counter_rooted_at(home: &Home, root: &str) {
    let launch = std::fs::read_to_string(cluster(home)).unwrap();
    let launched = request(
        &home.socket(),
        &format!(r#"{{"id":1,"method":"launchSubcluster","params":{{"config":{launch}}}}}"#),
    );
    assert_eq!(launched["result"]["rootKref"], root, "{launched}");
}

fn launch_counter(home: &Home) {
    launch_counter_rooted_at(home, "ko4");
}

#[test]
fn a_delivery_past_its_budget_terminates_the_vat() {
    let home = Home::new();
    let _daemon = home.daemon(&["--delivery-timeout", "0.5"]);
    launch_counter(&home);
    let started = std::time::Instant::now();
    let response = request(
        &home.socket(),
        r#"{"id":1,"method":"queueMessage","params":["ko4","spin",[]]}"#,
    );
    let message = response["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("[KERNEL:VAT_FATAL:DELIVERY_TIMEOUT]"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(call(&home.socket(), "getStatus", "[]")["vats"], json!([]));
}

#[test]
fn callers_still_waiting_when_the_daemon_stops_get_an_answer() {
    let home = Home::new();
    let mut daemon = home.daemon(&[]);
    launch_counter(&home);
    let socket = home.socket();
    let waiting = std::thread::spawn(move || {
        request(
            &socket,
            r#"{"id":1,"method":"queueMessage","params":["ko4","hang",[]]}"#,
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    daemon.signal(libc::SIGTERM);
    let response = waiting.join().unwrap();
    let message = response["error"]["message"].as_str().unwrap();
    assert!(message.contains("The daemon is stopping"), "{message}");
    assert_eq!(
        daemon.wait_exit(Duration::from_secs(5)),
        Some(0),
        "no drain timeout was needed"
    );
}

#[test]
fn fsck_finds_a_clean_database_clean_and_a_broken_count_broken() {
    let home = Home::new();
    let _stop = Stop(&home);
    launch_counter_via_ocapctl(&home);
    call(&home.socket(), "queueMessage", r#"["ko4","resume",[]]"#);
    let (code, stdout, stderr) = out(&home.ocapctl(&["fsck"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap(),
        json!({"integrity": ["ok"], "invariants": []})
    );

    // Break one count behind the daemon's back (a bug or a bad disk would).
    let status = std::process::Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE kv SET value='9,9' WHERE key='ko4.refCount'\"); c.commit()"])
        .arg(home.database())
        .status()
        .unwrap();
    assert!(status.success());
    let (code, stdout, stderr) = out(&home.ocapctl(&["fsck"]));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("the database has 1 problem(s)"), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        report["invariants"][0].as_str().unwrap().contains("ko4"),
        "{report}"
    );
}

#[test]
fn backup_copies_a_running_kernel_that_a_new_daemon_can_serve() {
    let home = Home::new();
    let _stop = Stop(&home);
    launch_counter_via_ocapctl(&home);
    call(&home.socket(), "queueMessage", r#"["ko4","resume",[]]"#);
    let copy = home.path().join("copy/kernel.sqlite");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let (code, _, stderr) = out(&home.ocapctl(&["backup", copy.to_str().unwrap()]));
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = out(&home.ocapctl(&["backup", copy.to_str().unwrap()]));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("refusing to overwrite"), "{stderr}");

    // A second daemon over the copy has the same kernel: the counter goes on from 2.
    let other = home.path().join("other.sock");
    let mut daemon = home.daemon(&[
        "--db",
        copy.to_str().unwrap(),
        "--socket",
        other.to_str().unwrap(),
    ]);
    assert_eq!(
        call(&other, "queueMessage", r#"["ko4","resume",[]]"#)["body"],
        "#\"Counter incremented to: 3\""
    );
    daemon.signal(libc::SIGTERM);
    daemon.wait_exit(Duration::from_secs(10));
}

fn launch_counter_via_ocapctl(home: &Home) {
    let (code, _, stderr) = out(&home.ocapctl(&["start"]));
    assert_eq!(code, Some(0), "{stderr}");
    launch_counter(home);
}

/// Whether process `pid` is alive (a zombie waiting for its reaper counts as gone).
fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            Some(state != 'Z')
        })
        .unwrap_or(false)
}

#[test]
fn a_workers_own_processes_end_with_its_vat_and_with_the_daemon() {
    // A worker's child processes survived terminateVat and the daemon's stop.
    let home = Home::new();
    let mut daemon = home.daemon(&[]);
    launch_counter(&home);
    launch_counter_rooted_at(&home, "ko5");
    let spawn = |root: &str, file: &str| {
        let path = home.path().join(file);
        let params = json!([root, "spawn", [path]]).to_string();
        let body = call(&home.socket(), "queueMessage", &params)["body"].clone();
        let pid: i64 = body.as_str().unwrap()[1..].parse().unwrap();
        assert!(alive(pid), "{pid}");
        pid
    };
    let first = spawn("ko4", "first.pid");
    let second = spawn("ko5", "second.pid");
    call(&home.socket(), "terminateVat", r#"{"id":"v1"}"#);
    assert!(
        crate::common::eventually(Duration::from_secs(10), || !alive(first)),
        "v1's worker's child {first} outlived terminateVat"
    );
    assert!(alive(second), "v2's worker's child went with v1");
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(
        crate::common::eventually(Duration::from_secs(10), || !alive(second)),
        "v2's worker's child {second} outlived the daemon"
    );
}

#[test]
fn a_worker_line_that_never_ends_ends_its_vat_not_the_daemon() {
    // One endless line from a worker grew the daemon until it aborted. The daemon's address
    // space is capped here so that the old failure is a quick abort, not a machine out of
    // memory.
    use std::os::unix::process::CommandExt;
    let home = Home::new();
    // A budget long enough for the old reader to reach the cap.
    let _daemon = home.daemon_with(&["--delivery-timeout", "30"], |command| {
        // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child before exec.
        unsafe {
            command.pre_exec(|| {
                let cap = libc::rlimit {
                    rlim_cur: 3 << 30,
                    rlim_max: 3 << 30,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &cap) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    });
    launch_counter(&home);
    launch_counter_rooted_at(&home, "ko5");
    let response = request(
        &home.socket(),
        r#"{"id":1,"method":"queueMessage","params":["ko4","flood",[]]}"#,
    );
    let message = response["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("longer than 8 MiB"), "{response}");
    assert_eq!(
        call(&home.socket(), "queueMessage", r#"["ko5","resume",[]]"#)["body"],
        "#\"Counter incremented to: 2\""
    );
}
