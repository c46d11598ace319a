//! The least-authority capability socket, used by another uid (through `setpriv`): it can use
//! exactly the capabilities it is given and nothing else.

use crate::common::{Home, OCAPCTL, eventually};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const NOBODY: u32 = 65534;

struct Stranger {
    client: PathBuf,
    dir: PathBuf,
}

impl Stranger {
    /// `ocapctl ARGS` as uid/gid 65534, with nothing of root's environment.
    fn ocapctl(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&self.client)
            .args(args)
            .env_clear()
            .env("HOME", &self.dir)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .expect("setpriv (util-linux) must be installed");
        text(&out)
    }
}

fn text(out: &Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Hands `file` to the stranger: owned by it, still 0600.
fn give(file: &Path) {
    std::os::unix::fs::chown(file, Some(NOBODY), Some(NOBODY)).unwrap();
    assert_eq!(
        std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn another_user_can_use_exactly_the_capability_it_was_given() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: switching to another uid needs root");
        return;
    }
    let home = Home::new();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let caps_socket = home.path().join("caps.sock");
    let _daemon = home.daemon(&["--cap-socket", caps_socket.to_str().unwrap()]);
    let mode = std::fs::metadata(&caps_socket)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o666, "anyone may connect");
    crate::common::launch_test_vat(&home, "url-holder");
    let stranger_dir = home.path().join("stranger");
    std::fs::create_dir(&stranger_dir).unwrap();
    std::os::unix::fs::chown(&stranger_dir, Some(NOBODY), Some(NOBODY)).unwrap();
    let client = home.path().join("ocapctl");
    std::fs::copy(OCAPCTL, &client).unwrap();
    let stranger = Stranger {
        client,
        dir: stranger_dir.clone(),
    };
    let mine = stranger_dir.join("counter.ocap");
    let kept = home.path().join("kept.ocap");
    for file in [&mine, &kept] {
        let out = home.ocapctl(&[
            "send",
            "ko4",
            "makeCounter",
            "--out",
            file.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out).2);
    }
    let written = std::fs::read_to_string(&mine).unwrap();
    assert!(
        written.contains(&format!("socket={}\n", caps_socket.display())),
        "the file names the capability socket: {written}"
    );
    give(&mine);

    // The capability it was given works, and its results are capabilities too.
    assert_eq!(stranger.ocapctl(&["send", "counter.ocap", "inc"]).1, "1\n");
    assert_eq!(stranger.ocapctl(&["send", "counter.ocap", "inc"]).1, "2\n");
    // Capabilities it was not given: another user's file is unreadable…
    let (code, _, err) = stranger.ocapctl(&["send", kept.to_str().unwrap(), "inc"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("Permission denied"), "{err}");
    // …and a URL cannot be made up or altered.
    let url = written
        .lines()
        .find_map(|l| l.strip_prefix("url="))
        .unwrap();
    let forged = stranger_dir.join("forged.ocap");
    std::fs::write(
        &forged,
        format!(
            "url={}\nsocket={}\n",
            url.replacen("ocap:z", "ocap:z2", 1),
            caps_socket.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&forged, std::fs::Permissions::from_mode(0o600)).unwrap();
    give(&forged);
    let (code, _, err) = stranger.ocapctl(&["send", "forged.ocap", "inc"]);
    assert_eq!(
        (code, err.trim()),
        (
            Some(1),
            "Error: ocapURL has bad object reference (code -32603)"
        )
    );
    // Nothing else is served there: not the kernel's methods, not shutdown, not the records.
    let socket = caps_socket.to_str().unwrap();
    for (method, params) in [
        ("getStatus", "[]"),
        ("queueMessage", r#"["ko4","makeCounter",[]]"#),
        ("issueOcapURL", r#"{"kref":"ko4"}"#),
        ("issueCapability", r#"{"kref":"ko4"}"#),
        ("redeemOcapURL", &json!({"url": url}).to_string()),
        ("listCapabilities", "[]"),
        ("revokeCapability", r#"{"id":"cap-0"}"#),
        ("executeDBQuery", r#"{"sql":"SELECT * FROM kv"}"#),
        ("daemonInfo", "[]"),
        ("shutdown", "[]"),
    ] {
        let (code, out, err) = stranger.ocapctl(&["--socket", socket, "exec", method, params]);
        assert_eq!(code, Some(1), "{method}: {out}");
        assert!(
            err.contains(&format!("{method} is not served on the capability socket"))
                && err.contains("(code -32601)"),
            "{method}: {err}"
        );
    }
    let (code, out, _) = stranger.ocapctl(&["--socket", socket, "exec", "status"]);
    assert_eq!(code, Some(0));
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["running"], true);
    assert_eq!(
        status.as_object().unwrap().len(),
        2,
        "nothing secret: {status}"
    );
    let (_, help, _) = stranger.ocapctl(&["--socket", socket, "exec", "help"]);
    assert!(help.contains("invokeCapability"), "{help}");
    // The control socket is still its owner's alone.
    let control = home.socket();
    let (code, _, _) =
        stranger.ocapctl(&["--socket", control.to_str().unwrap(), "exec", "getStatus"]);
    assert_eq!(code, Some(77));

    // Revoked: a clear error, and only that capability stops working.
    let list: Value = serde_json::from_slice(&home.ocapctl(&["caps", "list"]).stdout).unwrap();
    let used = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["lastUsed"].is_u64())
        .unwrap_or_else(|| panic!("{list}"));
    let id = used["id"].as_str().unwrap();
    assert!(home.ocapctl(&["caps", "revoke", id]).status.success());
    let (code, _, err) = stranger.ocapctl(&["send", "counter.ocap", "inc"]);
    assert_eq!(
        (code, err.trim()),
        (
            Some(1),
            format!("Error: Capability {id} has been revoked (code -32603)").as_str()
        )
    );
    let (code, _, _) = text(&home.ocapctl(&["send", kept.to_str().unwrap(), "inc"]));
    assert_eq!(code, Some(0), "the other capability still works");

    // Expired: the same, once its time is up.
    let brief = stranger_dir.join("brief.ocap");
    let out = home.ocapctl(&[
        "caps",
        "issue",
        "ko4",
        "--expires",
        "1s",
        "--out",
        brief.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    give(&brief);
    let mut last = String::new();
    let expired = eventually(Duration::from_secs(10), || {
        last = stranger
            .ocapctl(&["send", "brief.ocap", "makeCounter", "--raw"])
            .2;
        last.contains("expired")
    });
    assert!(expired, "{last}");
    assert!(last.starts_with("Error: Capability cap-"), "{last}");
}

#[test]
fn under_socket_activation_the_fd_named_ocap_caps_is_the_capability_socket() {
    let home = Home::new();
    let caps = home.path().join("caps.sock");
    let control = home.socket();
    // The capability socket comes first, so taking "the first fd" would serve control on it.
    let mut activate = home.command("systemd-socket-activate");
    activate
        .args([
            "-l",
            caps.to_str().unwrap(),
            "-l",
            control.to_str().unwrap(),
        ])
        .arg("--fdname=ocap-caps:ocap")
        .arg("--setenv=OCAP_HOME")
        .args([crate::common::OCAPD, "--foreground"])
        .env("OCAP_HOME", home.path())
        .stderr(Stdio::null());
    let mut child = activate
        .spawn()
        .expect("systemd-socket-activate must be installed (apt-get install systemd)");
    assert!(eventually(Duration::from_secs(10), || control.exists()
        && caps.exists()));
    let info = text(&home.ocapctl(&["--socket", control.to_str().unwrap(), "exec", "daemonInfo"]));
    let info: Value = serde_json::from_str(&info.1).unwrap_or_else(|e| panic!("{e}: {info:?}"));
    assert_eq!(info["capSocket"], json!(caps), "{info}");
    let (code, _, err) =
        text(&home.ocapctl(&["--socket", caps.to_str().unwrap(), "exec", "getStatus"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("not served on the capability socket"), "{err}");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}
