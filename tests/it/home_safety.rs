//! The daemon's files against a hostile or broken home (issue 15, items 11 and 13–16): a home
//! another user controls, links planted there, a second daemon on another name of the live
//! database, a socket path naming some other file, a database this build cannot use, an empty
//! one, and a damaged one.

use crate::common::{Home, OCAPD, call, eventually};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// `ocapd --foreground ARGS` in `home`, expected to refuse to start: its stderr.
fn refused(home: &Home, args: &[&str]) -> String {
    let mut command = home.command(OCAPD);
    command.arg("--foreground").args(args);
    let (code, stderr) = exit_of(command);
    assert_eq!(code, Some(1), "{stderr}");
    stderr
}

/// Runs `command` to its exit (killed after 20 s: a daemon that starts when it should have
/// refused would otherwise serve forever); its exit code and stderr.
fn exit_of(mut command: Command) -> (Option<i32>, String) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let exited = eventually(Duration::from_secs(20), || {
        child.try_wait().unwrap().is_some()
    });
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(exited, "still running after 20 s: {stderr}");
    (out.status.code(), stderr)
}

/// Runs `program ARGS` as uid/gid 65534.
fn as_nobody(program: &str, args: &[&Path]) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", program])
        .args(args)
        .output()
        .expect("setpriv (util-linux) must be installed")
}

/// A home whose daemon made its kernel and stopped.
fn a_stopped_kernel() -> Home {
    let home = Home::new();
    let mut daemon = home.daemon(&[]);
    call(&home.socket(), "getStatus", "[]");
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));
    drop(daemon);
    home
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_home_another_user_controls_is_refused_and_their_links_are_not_followed() {
    if !is_root() {
        eprintln!("skipped: a second uid needs root");
        return;
    }
    // Root's precious file, and a home that belongs to nobody, who plants links to the file
    // where the lock and the log go. ocapd used to follow them and overwrite the file.
    let outer = Home::new();
    let precious = outer.path().join("precious");
    std::fs::write(&precious, "root's alone").unwrap();
    chmod(outer.path(), 0o755);
    let theirs = outer.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(NOBODY), Some(NOBODY)).unwrap();
    for name in ["kernel.sqlite.lock", "daemon.log"] {
        let out = as_nobody("ln", &[Path::new("-s"), &precious, &theirs.join(name)]);
        assert!(out.status.success(), "{out:?}");
    }
    let home = Home::new();
    let run = |args: &[&str]| {
        let mut command = home.command(OCAPD);
        command.env("OCAP_HOME", &theirs).args(args);
        exit_of(command)
    };
    let (code, stderr) = run(&["--foreground"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("belongs to uid 65534, but ocapd runs as uid 0"),
        "{stderr}"
    );
    // Detached (the log goes into the home) and with the state one level down: the same.
    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("belongs to uid 65534"), "{stderr}");
    let below = theirs.join("ours");
    std::fs::create_dir(&below).unwrap();
    let db = below.join("kernel.sqlite");
    let (code, stderr) = run(&["--foreground", "--db", db.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("belongs to uid 65534"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "root's alone");
    assert!(!db.exists() && !theirs.join("kernel.sqlite").exists());

    // A home of root's that others may write in: refused the same way.
    let open = Home::new();
    chmod(open.path(), 0o777);
    let stderr = refused(&open, &[]);
    assert!(
        stderr.contains("is writable by other users (mode 0777)"),
        "{stderr}"
    );
    chmod(open.path(), 0o700);
    let _daemon = open.daemon(&[]);
    call(&open.socket(), "getStatus", "[]");
}

#[test]
fn links_planted_in_the_home_are_refused_not_followed() {
    let home = Home::new();
    let victim = home.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    for name in ["kernel.sqlite.lock", "kernel.sqlite"] {
        let planted = home.path().join(name);
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let stderr = refused(&home, &[]);
        assert!(stderr.contains("is a symbolic link"), "{name}: {stderr}");
        std::fs::remove_file(&planted).unwrap();
    }
    let log = home.path().join("daemon.log");
    std::os::unix::fs::symlink(&victim, &log).unwrap();
    let (code, stderr) = exit_of(home.command(OCAPD));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("is a symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
}

#[test]
fn a_second_daemon_on_another_name_of_the_live_database_is_refused() {
    // A second daemon on a link to the live database started, both handed out the same ids,
    // and acknowledged increments were lost.
    let home = Home::new();
    let _first = home.daemon(&[]);
    call(&home.socket(), "getStatus", "[]");
    let other = home.path().join("other");
    std::fs::create_dir(&other).unwrap();
    chmod(&other, 0o700);
    let second = |db: &Path| {
        let socket = other.join("second.sock");
        refused(
            &home,
            &[
                "--db",
                db.to_str().unwrap(),
                "--socket",
                socket.to_str().unwrap(),
            ],
        )
    };
    let link = other.join("kernel.sqlite");
    std::os::unix::fs::symlink(home.database(), &link).unwrap();
    assert!(second(&link).contains("is a symbolic link"));
    std::fs::remove_file(&link).unwrap();
    std::fs::hard_link(home.database(), &link).unwrap();
    let stderr = second(&link);
    assert!(stderr.contains("has 2 hard links"), "{stderr}");
    std::fs::remove_file(&link).unwrap();
    let folder = home.path().join("again");
    std::os::unix::fs::symlink(home.path(), &folder).unwrap();
    let stderr = second(&folder.join("kernel.sqlite"));
    assert!(stderr.contains("another ocapd (pid"), "{stderr}");
    call(&home.socket(), "getStatus", "[]");
}

#[test]
fn a_socket_path_naming_another_file_is_refused_and_the_file_kept() {
    let home = Home::new();
    let file = home.path().join("notes.txt");
    std::fs::write(&file, "my notes").unwrap();
    for flag in ["--socket", "--cap-socket"] {
        let stderr = refused(&home, &[flag, file.to_str().unwrap()]);
        assert!(
            stderr.contains("exists and is not a socket"),
            "{flag}: {stderr}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "my notes");
    }
    let _daemon = home.daemon(&[]);
    call(&home.socket(), "getStatus", "[]");
}

#[test]
fn a_database_this_build_cannot_use_is_refused_untouched() {
    let home = a_stopped_kernel();
    for version in ["2.0", "99"] {
        {
            let conn = rusqlite::Connection::open(home.database()).unwrap();
            conn.execute_batch("PRAGMA journal_mode=DELETE").unwrap();
            conn.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                [version],
            )
            .unwrap();
        }
        let before = std::fs::read(home.database()).unwrap();
        let stderr = refused(&home, &[]);
        assert!(stderr.contains("schema version"), "{version}: {stderr}");
        assert_eq!(std::fs::read(home.database()).unwrap(), before, "{version}");
        assert!(!home.path().join("kernel.sqlite-wal").exists(), "{version}");
    }
}

#[test]
fn an_empty_database_is_refused_loudly() {
    // It became a new kernel with a new identity, without a word.
    let home = Home::new();
    std::fs::write(home.database(), "").unwrap();
    let stderr = refused(&home, &[]);
    assert!(stderr.contains("is empty (0 bytes)"), "{stderr}");
    assert!(stderr.contains("new identity"), "{stderr}");
    assert_eq!(std::fs::metadata(home.database()).unwrap().len(), 0);
}

#[test]
fn a_damaged_database_is_reported_at_start() {
    let home = a_stopped_kernel();
    {
        let conn = rusqlite::Connection::open(home.database()).unwrap();
        conn.execute_batch("BEGIN").unwrap();
        for i in 0..3000 {
            conn.execute(
                "INSERT INTO kv_vatstore VALUES ('v9', ?1, ?2)",
                [format!("k.{i:05}"), "x".repeat(100)],
            )
            .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    let len = std::fs::metadata(home.database()).unwrap().len();
    let mut bytes = std::fs::read(home.database()).unwrap();
    bytes[(len - 4096) as usize..].fill(0);
    std::fs::write(home.database(), bytes).unwrap();

    let mut daemon = home.daemon(&[]);
    let seen = daemon.expect_notify("READY=1", Duration::from_secs(5));
    assert!(
        seen.iter().any(|m| m.contains("STATUS=serving")),
        "{seen:?}"
    );
    let found = eventually(Duration::from_secs(20), || {
        daemon.notify.poll();
        daemon
            .notify
            .seen()
            .iter()
            .any(|m| m.contains("DATABASE DAMAGED"))
    });
    assert!(found, "{:?}", daemon.notify.seen());
    call(&home.socket(), "getStatus", "[]");
    daemon.signal(libc::SIGTERM);
    daemon.wait_exit(Duration::from_secs(10));
    assert!(daemon.stderr().contains("fails SQLite's integrity check"));
}

#[test]
fn the_daemon_names_its_files_by_their_real_paths() {
    let home = Home::new();
    let real = home.path().join("real");
    std::fs::create_dir(&real).unwrap();
    chmod(&real, 0o700);
    let link = home.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let db = link.join("kernel.sqlite");
    let _daemon = home.daemon(&["--db", db.to_str().unwrap()]);
    let info = call(&home.socket(), "daemonInfo", "[]");
    let real = std::fs::canonicalize(&real).unwrap();
    assert_eq!(
        info["database"],
        real.join("kernel.sqlite").to_str().unwrap()
    );
    assert_eq!(
        info["lockFile"],
        real.join("kernel.sqlite.lock").to_str().unwrap()
    );
    assert_eq!(
        std::fs::metadata(real.join("kernel.sqlite"))
            .unwrap()
            .nlink(),
        1
    );
}

#[test]
fn a_kernel_left_in_the_old_state_folder_is_not_silently_replaced() {
    // systemd before 254 kept the user unit's StateDirectory= in ~/.config/ocap. The unit no
    // longer sets it, so ocapd looks in ~/.local/state/ocap, as ocapctl does; a kernel left in
    // ~/.config/ocap must not silently give way to a new one.
    let home = Home::new();
    let old = home.path().join("config/ocap");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("kernel.sqlite"), "an earlier kernel").unwrap();
    let mut command = home.command(OCAPD);
    command.env_remove("OCAP_HOME").arg("--foreground");
    let (code, stderr) = exit_of(command);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("holds the kernel of an earlier ocap.service")
            && stderr.contains(".local/state/ocap/kernel.sqlite"),
        "{stderr}"
    );
    assert!(!home.path().join(".local/state/ocap/kernel.sqlite").exists());
}
