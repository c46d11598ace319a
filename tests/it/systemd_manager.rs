//! The shipped user units under a real `systemd --user` (issue 15, items 20 and 21): socket
//! activation, a vat's `fetch` allowed by `RestrictAddressFamilies=`, and the daemon, the unit
//! and `ocapctl` agreeing on where the state lives.
//!
//! Opt-in (`make test-systemd`, which sets `OCAP_USER_MANAGER`): it needs root and the
//! user-manager scripts kept outside the repository, which run the manager in private cgroups
//! and a private mount namespace; their stop script always runs, even when the test fails.

use crate::common::{OCAPCTL, OCAPD, eventually};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A user manager started by the scripts in `tool`, working in `dir`; stopped on drop.
struct Manager {
    tool: PathBuf,
    dir: tempfile::TempDir,
    process: Child,
}

impl Manager {
    fn start(tool: &Path) -> Manager {
        let dir = tempfile::Builder::new()
            .prefix("ocap-systemd")
            .tempdir_in("/tmp")
            .unwrap();
        let process = Command::new("bash")
            .arg(tool.join("start_user_manager.sh"))
            .arg(dir.path())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        std::fs::write(dir.path().join("manager.pid"), process.id().to_string()).unwrap();
        let manager = Manager {
            tool: tool.to_path_buf(),
            dir,
            process,
        };
        // systemctl reaches a user manager without a bus through its private socket.
        let up = eventually(Duration::from_secs(20), || {
            manager.path("xdg/systemd/private").exists()
                && manager.systemctl(&["daemon-reload"]).status.success()
        });
        assert!(up, "the user manager did not come up: {}", manager.log());
        manager
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The environment the manager's services see, for commands run beside them.
    fn env(&self, command: &mut Command) {
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_RUNTIME_DIR", self.path("xdg"))
            .env("XDG_CONFIG_HOME", self.path("cfg"))
            .env("XDG_STATE_HOME", self.path("home/.local/state"))
            .env(
                "SYSTEMD_UNIT_PATH",
                format!("{}:", self.path("units").display()),
            )
            .stdin(Stdio::null());
    }

    fn systemctl(&self, args: &[&str]) -> Output {
        let mut command = Command::new("systemctl");
        self.env(&mut command);
        command.arg("--user").args(args).output().unwrap()
    }

    fn ocapctl(&self, args: &[&str]) -> Output {
        let mut command = Command::new(OCAPCTL);
        self.env(&mut command);
        command.args(args).output().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("manager.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
    }

    /// Installs the shipped user units, the service pointed at the built ocapd, with its
    /// output in `daemon.log` (there is no journald inside).
    fn install_units(&self) {
        let units = self.path("units");
        let source = |name: &str| {
            std::fs::read_to_string(format!("{}/systemd/{name}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
        };
        std::fs::write(units.join("ocap.socket"), source("ocap.socket")).unwrap();
        let service = source("ocap.service")
            .replace("ExecStart=/usr/bin/ocapd ", &format!("ExecStart={OCAPD} "));
        assert!(service.contains(OCAPD));
        std::fs::write(units.join("ocap.service"), service).unwrap();
        let dropin = units.join("ocap.service.d");
        std::fs::create_dir(&dropin).unwrap();
        let log = self.path("daemon.log");
        std::fs::write(
            dropin.join("log.conf"),
            format!(
                "[Service]\nStandardOutput=append:{0}\nStandardError=append:{0}\n",
                log.display()
            ),
        )
        .unwrap();
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        let out = Command::new("bash")
            .arg(self.tool.join("stop_user_manager.sh"))
            .arg(self.dir.path())
            .output();
        let _ = self.process.wait();
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| format!("stop_user_manager.sh: {e}"));
        eprintln!("{}", text.trim());
        if !std::thread::panicking() {
            assert!(text.contains("cgroups left: 0"), "{text}");
        }
    }
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
#[ignore = "needs root and a real systemd --user: run by make test-systemd"]
fn the_shipped_user_units_under_a_real_user_manager() {
    let Some(tool) = std::env::var_os("OCAP_USER_MANAGER").map(PathBuf::from) else {
        eprintln!("skipped: OCAP_USER_MANAGER names no user-manager tool");
        return;
    };
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the user-manager tool needs root");
        return;
    }
    let manager = Manager::start(&tool);
    manager.install_units();
    let reload = manager.systemctl(&["daemon-reload"]);
    assert!(reload.status.success(), "{reload:?}");
    let enable = manager.systemctl(&["enable", "--now", "ocap.socket"]);
    assert!(enable.status.success(), "{enable:?}\n{}", manager.log());

    // The first connection starts the service.
    let info = json_of(&manager.ocapctl(&["exec", "daemonInfo"]));
    assert_eq!(info["activation"], "systemd", "{info}");
    // Item 21: the state is where ocapctl looks, on this systemd too.
    let state = manager.path("home/.local/state/ocap");
    assert!(
        state.is_dir(),
        "no {}: the daemon's is {}",
        state.display(),
        info["database"]
    );
    let database = std::fs::canonicalize(&state).unwrap().join("kernel.sqlite");
    assert_eq!(info["database"], database.to_str().unwrap(), "{info}");
    assert!(!manager.path("cfg/ocap").exists(), "state under ~/.config");
    let doctor = manager.ocapctl(&["doctor", "--json"]);
    let report: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let paths = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "paths")
        .unwrap();
    assert_eq!(paths["status"], "ok", "{report:#}");
    assert!(
        paths["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("database {},", database.display())),
        "{report:#}"
    );

    // Item 20: a vat's fetch reaches an allowed host through the unit's address families.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            let reply = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello";
            stream.write_all(reply.as_bytes()).unwrap();
        }
    });
    let config = json!({"bootstrap": "fetcher", "vats": {"fetcher": {
        "bundleSpec": concat!("file://", env!("OUT_DIR"), "/test-vats/fetcher.bundle"),
        "globals": ["fetch", "Request", "AbortController"],
        "network": {"allowedHosts": ["127.0.0.1", "localhost"]}}}});
    let launched = manager.ocapctl(&["launch", &config.to_string()]);
    assert!(launched.status.success(), "{launched:?}\n{}", manager.log());
    // By address, and by a name the resolver looks up inside the unit's sandbox.
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("http://{host}:{port}/x");
        let got = manager.ocapctl(&["send", "ko4", "get", &format!("\"{url}\"")]);
        assert_eq!(
            String::from_utf8_lossy(&got.stdout),
            format!("[200,true,null,\"hello\",\"{url}\",false]\n"),
            "{}\n{}",
            String::from_utf8_lossy(&got.stderr),
            manager.log()
        );
    }
    server.join().unwrap();

    // A clean stop, and the next connection starts it again on the same state.
    let stop = manager.systemctl(&["stop", "ocap.service"]);
    assert!(stop.status.success(), "{stop:?}");
    let again = json_of(&manager.ocapctl(&["exec", "daemonInfo"]));
    assert_eq!(again["database"], info["database"]);
    assert_ne!(again["pid"], info["pid"]);
    let status = json_of(&manager.ocapctl(&["exec", "getStatus"]));
    assert_eq!(
        status["subclusters"].as_array().unwrap().len(),
        1,
        "{status}"
    );
    let _ = manager.systemctl(&["disable", "--now", "ocap.socket", "ocap.service"]);
}
