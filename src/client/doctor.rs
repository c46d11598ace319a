//! `ocapctl doctor`: checks what a working installation needs and says what to fix. It never
//! starts a daemon or changes a file: each check only looks.

use super::activation::{Unit, unit_for};
use super::{ClientError, Target, call};
use crate::ownership::{self, Rule, Untrusted};
use crate::paths::{Paths, config_home, env_var};
use serde_json::{Value, json};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Nothing to do.
    Ok,
    /// Works, but maybe not as intended.
    Warn,
    /// Broken: the fix says what to do.
    Fail,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// How it came out.
    pub level: Level,
    /// What was found.
    pub detail: String,
    /// What to do about it.
    pub fix: Option<String>,
}

fn check(name: &'static str, level: Level, detail: String, fix: Option<String>) -> Check {
    Check {
        name,
        level,
        detail,
        fix,
    }
}

/// Runs every check for the daemon at `target`, in order. A running daemon is asked where its
/// files are, and those are checked: what ocapctl resolves by itself can differ from what a
/// service manager gave the daemon.
pub fn run(target: &Target) -> Vec<Check> {
    let probe = probe(target);
    let info = probe.as_ref().ok();
    let (paths, found) = paths(&target.paths, info);
    let mut checks = vec![
        found,
        config(),
        directory("state directory", paths.state_dir(), Rule::Private),
        directory(
            "socket directory",
            paths.socket.parent().unwrap_or(Path::new("/")),
            Rule::Shared,
        ),
        socket_file(&paths.socket),
    ];
    checks.extend(systemd(&paths.socket));
    checks.push(daemon(target, probe.as_ref()));
    checks.push(database(&paths, target, info));
    checks
}

/// The paths to check: the running daemon's when it answers, else ocapctl's own; and a check
/// that warns when the two disagree (as they did under systemd 252, whose user units keep
/// `StateDirectory=` in ~/.config while ocapctl looks in ~/.local/state).
fn paths(own: &Paths, info: Option<&Value>) -> (Paths, Check) {
    let listing = |p: &Paths| {
        format!(
            "socket {}, database {}, log {}",
            p.socket.display(),
            p.database.display(),
            p.log.display()
        )
    };
    let Some(info) = info else {
        return (own.clone(), check("paths", Level::Ok, listing(own), None));
    };
    let text = |key: &str| info[key].as_str().map(PathBuf::from);
    let used = own
        .clone()
        .with_overrides(text("socket").as_deref(), text("database").as_deref());
    let detail = format!("{} (the running daemon's)", listing(&used));
    if same_file(&own.database, &used.database) {
        return (used, check("paths", Level::Ok, detail, None));
    }
    let found = check(
        "paths",
        Level::Warn,
        format!(
            "{detail}; with no daemon running, ocapctl would look for the database at {}",
            own.database.display()
        ),
        Some(format!(
            "give ocapctl and ocapd the same OCAP_HOME / XDG_STATE_HOME, or pass --db {}",
            used.database.display()
        )),
    );
    (used, found)
}

/// Whether `a` and `b` name the same file, through links to their folders.
fn same_file(a: &Path, b: &Path) -> bool {
    let real = |p: &Path| -> Option<PathBuf> {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty())?;
        Some(std::fs::canonicalize(dir).ok()?.join(p.file_name()?))
    };
    a == b || (real(a).is_some() && real(a) == real(b))
}

/// `ocapd --check-config`, run by the ocapd that `ocapctl start` would run.
fn config() -> Check {
    let ocapd = super::start::ocapd_path();
    match std::process::Command::new(&ocapd)
        .arg("--check-config")
        .output()
    {
        Err(e) => check(
            "config",
            Level::Fail,
            format!("cannot run {}: {e}", ocapd.display()),
            Some("install ocapd beside ocapctl or on PATH".into()),
        ),
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let from = text
                .lines()
                .next()
                .and_then(|l| l.split_once("(flags over "))
                .and_then(|(_, rest)| rest.split_once(" over built-in"))
                .map_or("no config file", |(file, _)| file);
            check(
                "config",
                Level::Ok,
                format!("valid ({from}; `ocapd --check-config` prints it)"),
                None,
            )
        }
        Ok(out) => check(
            "config",
            Level::Fail,
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
            Some("correct the file; `ocapd --check-config` checks it again".into()),
        ),
    }
}

/// A folder the daemon writes: if it exists, it must pass the daemon's own judgement
/// ([`crate::ownership`]), the folders above it included, or the daemon refuses to start.
fn directory(name: &'static str, dir: &Path, rule: Rule) -> Check {
    match std::fs::metadata(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return check(
                name,
                Level::Ok,
                format!(
                    "{} does not exist yet; the daemon creates it (0700)",
                    dir.display()
                ),
                None,
            );
        }
        Err(e) => {
            return check(name, Level::Fail, format!("{}: {e}", dir.display()), None);
        }
    }
    let fail = |detail: String, fix: String| check(name, Level::Fail, detail, Some(fix));
    match ownership::check(dir, rule) {
        Ok(real) => {
            let mode = std::fs::metadata(&real).map_or(0, |m| m.mode() & 0o7777);
            check(
                name,
                Level::Ok,
                format!("{} (mode {mode:04o})", dir.display()),
                None,
            )
        }
        Err(Untrusted::NotDirectory { path }) => fail(
            format!("{} is not a directory", path.display()),
            format!("move {} out of the way", path.display()),
        ),
        Err(Untrusted::Owner { path, owner, uid }) => fail(
            format!(
                "{} belongs to uid {owner}, not to you (uid {uid})",
                path.display()
            ),
            format!("chown {uid} {}", path.display()),
        ),
        Err(Untrusted::Writable { path, mode }) => {
            let own_folder = std::fs::canonicalize(dir).is_ok_and(|real| real == path);
            fail(
                format!("{} is writable by others (mode {mode:04o})", path.display()),
                if own_folder {
                    format!("chmod 700 {}", dir.display())
                } else {
                    format!("chmod go-w {}", path.display())
                },
            )
        }
        Err(e @ Untrusted::Io { .. }) => check(name, Level::Fail, e.to_string(), None),
    }
}

fn socket_file(socket: &Path) -> Check {
    const NAME: &str = "socket";
    // sun_path holds 108 bytes with the terminating NUL.
    if socket.as_os_str().len() >= 108 {
        return check(
            NAME,
            Level::Fail,
            format!("{} is too long for a Unix socket path", socket.display()),
            Some("choose a shorter --socket or OCAP_HOME".into()),
        );
    }
    match std::fs::symlink_metadata(socket) {
        Err(_) => check(
            NAME,
            Level::Ok,
            format!("{} (not there yet)", socket.display()),
            None,
        ),
        Ok(meta) if !meta.file_type().is_socket() => check(
            NAME,
            Level::Fail,
            format!("{} exists but is not a socket", socket.display()),
            Some(format!(
                "remove {} (the daemon will not replace it)",
                socket.display()
            )),
        ),
        Ok(meta) if meta.mode() & 0o077 != 0 && meta.uid() != 0 => check(
            NAME,
            Level::Warn,
            format!(
                "{} is open to other users (mode {:04o}); the daemon refuses them, but 0600 says so",
                socket.display(),
                meta.mode() & 0o7777
            ),
            Some(format!("chmod 600 {}", socket.display())),
        ),
        Ok(meta) => check(
            NAME,
            Level::Ok,
            format!("{} (mode {:04o})", socket.display(), meta.mode() & 0o7777),
            None,
        ),
    }
}

/// The socket unit (and linger, for a user's), when systemd manages this socket path.
fn systemd(socket: &Path) -> Vec<Check> {
    let user_dir = config_home().join("systemd/user");
    let systemd_here = Path::new("/run/systemd/system").exists() || user_dir.is_dir();
    if !systemd_here || cfg!(target_os = "macos") {
        return Vec::new();
    }
    if socket == Path::new("/run/ocap/daemon.sock") {
        let wants = [PathBuf::from("/etc/systemd/system")];
        return vec![socket_unit(socket, &wants, "systemctl")];
    }
    let per_user = env_var("XDG_RUNTIME_DIR").map(|r| r.join("ocap/daemon.sock"));
    if per_user.as_deref() != Some(socket) {
        return Vec::new();
    }
    let wants = [user_dir, PathBuf::from("/etc/systemd/user")];
    let user = env_var("USER").or_else(|| env_var("LOGNAME"));
    vec![
        socket_unit(socket, &wants, "systemctl --user"),
        linger(user.as_deref()),
    ]
}

/// Whether `ocap.socket` is installed for `socket`, and enabled in one of the `wants` folders.
fn socket_unit(socket: &Path, wants: &[PathBuf], systemctl: &str) -> Check {
    const NAME: &str = "socket unit";
    let enable = format!("{systemctl} enable --now ocap.socket");
    let Some(Unit::SystemdUser(unit) | Unit::SystemdSystem(unit)) = unit_for(socket) else {
        return check(
            NAME,
            Level::Warn,
            "ocap.socket is not installed: the daemon starts only when ocapctl starts it".into(),
            Some(format!(
                "install the package or `make install-user`, then {enable}"
            )),
        );
    };
    let enabled = wants
        .iter()
        .any(|d| d.join("sockets.target.wants/ocap.socket").exists());
    if enabled {
        check(NAME, Level::Ok, format!("{} enabled", unit.display()), None)
    } else {
        check(
            NAME,
            Level::Warn,
            format!("{} is installed but not enabled", unit.display()),
            Some(enable),
        )
    }
}

/// A user's daemon runs in their user manager, which stops at logout unless lingering.
fn linger(user: Option<&Path>) -> Check {
    let lingering = user.is_some_and(|u| Path::new("/var/lib/systemd/linger").join(u).exists());
    if lingering {
        return check(
            "linger",
            Level::Ok,
            "enabled: the daemon keeps running after you log out".into(),
            None,
        );
    }
    let name = user.map_or("$USER".into(), |u| u.display().to_string());
    check(
        "linger",
        Level::Warn,
        "off: your user manager, and with it the daemon, stops when you log out".into(),
        Some(format!(
            "loginctl enable-linger {name} (if the kernel should outlive your session)"
        )),
    )
}

/// `daemonInfo`, without starting a daemon (a socket-activated one starts, as for any call).
fn probe(target: &Target) -> Result<Value, ClientError> {
    let probe = Target {
        timeout: Some(Duration::from_secs(5)),
        ..target.clone()
    };
    call(&probe, "daemonInfo", None)
}

/// Whether a daemon answered the probe.
fn daemon(target: &Target, probe: Result<&Value, &ClientError>) -> Check {
    match probe {
        Ok(info) => check(
            "daemon",
            Level::Ok,
            format!(
                "ocapd {} running (pid {}, started by {})",
                info["version"].as_str().unwrap_or("?"),
                info["pid"],
                info["activation"].as_str().unwrap_or("?")
            ),
            None,
        ),
        Err(ClientError::Unavailable { hint, .. }) => {
            let stale = target.paths.socket.exists();
            check(
                "daemon",
                Level::Warn,
                if stale {
                    "not running; the socket file is left from an earlier daemon (the next start replaces it)".into()
                } else {
                    "not running".into()
                },
                Some(hint.split_whitespace().collect::<Vec<_>>().join(" ")),
            )
        }
        Err(e) => check("daemon", Level::Fail, e.to_string(), None),
    }
}

/// The running daemon's `checkIntegrity`; without a daemon, only that the file is SQLite's.
fn database(paths: &Paths, target: &Target, info: Option<&Value>) -> Check {
    const NAME: &str = "database";
    let file = paths.database.clone();
    if info.is_some() {
        return match call(target, "checkIntegrity", None) {
            Ok(report) => integrity(&file, &report),
            Err(e) => check(NAME, Level::Fail, format!("checkIntegrity: {e}"), None),
        };
    }
    let mut header = [0u8; 16];
    let read = std::fs::File::open(&file).and_then(|mut f| {
        use std::io::Read;
        f.read_exact(&mut header)
    });
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => check(
            NAME,
            Level::Ok,
            format!("{} not created yet", file.display()),
            None,
        ),
        Ok(()) if &header == b"SQLite format 3\0" => check(
            NAME,
            Level::Warn,
            format!("{} not checked: no daemon is running", file.display()),
            Some("ocapctl fsck (starts the daemon and checks the database)".into()),
        ),
        Ok(()) | Err(_) => check(
            NAME,
            Level::Fail,
            format!("{} is not an SQLite database", file.display()),
            Some(format!(
                "restore a backup (ocapctl backup makes them), or move {} away to start afresh",
                file.display()
            )),
        ),
    }
}

fn integrity(file: &Path, report: &Value) -> Check {
    let lines = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    };
    let (sqlite, invariants) = (lines("integrity"), lines("invariants"));
    if sqlite == ["ok"] && invariants.is_empty() {
        return check(
            "database",
            Level::Ok,
            format!("{}: integrity ok, kernel invariants hold", file.display()),
            None,
        );
    }
    let mut problems = sqlite.into_iter().filter(|l| l != "ok").collect::<Vec<_>>();
    problems.extend(invariants);
    check(
        "database",
        Level::Fail,
        format!("{}: {}", file.display(), problems.join("; ")),
        Some("restore a backup (ocapctl backup makes them); ocapctl fsck shows the details".into()),
    )
}

/// The report as JSON: `{"ok": bool, "checks": [{check, status, detail, fix}]}`.
pub fn to_json(checks: &[Check]) -> Value {
    json!({
        "ok": !checks.iter().any(|c| c.level == Level::Fail),
        "checks": checks.iter().map(|c| json!({
            "check": c.name,
            "status": c.level.name(),
            "detail": c.detail,
            "fix": c.fix,
        })).collect::<Vec<_>>(),
    })
}

/// The report for a person: one line per check, the fix indented below it.
pub fn to_text(checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut lines = Vec::new();
    for c in checks {
        lines.push(format!(
            "{:<4}  {:<width$}  {}",
            c.level.name(),
            c.name,
            c.detail
        ));
        if let Some(fix) = &c.fix {
            lines.push(format!("{:<4}  {:<width$}  fix: {fix}", "", ""));
        }
    }
    lines.join("\n")
}

/// The command's outcome: an error (exit 1) when any check failed.
pub fn outcome(checks: &[Check]) -> Result<(), ClientError> {
    let failed = checks.iter().filter(|c| c.level == Level::Fail).count();
    if failed > 0 {
        return Err(ClientError::Failed(format!("{failed} check(s) failed")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn directories_writable_by_others_fail_with_a_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let c = directory("state directory", dir.path(), Rule::Private);
        assert_eq!(c.level, Level::Fail, "{c:?}");
        assert!(c.fix.unwrap().starts_with("chmod 700"));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            directory("state directory", dir.path(), Rule::Private).level,
            Level::Ok
        );
        let missing = directory("state directory", &dir.path().join("new"), Rule::Private);
        assert_eq!(missing.level, Level::Ok, "{missing:?}");
    }

    #[test]
    fn a_file_where_the_socket_goes_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.sock");
        std::fs::write(&path, "").unwrap();
        assert_eq!(socket_file(&path).level, Level::Fail);
        let long = dir.path().join("x".repeat(120));
        assert_eq!(socket_file(&long).level, Level::Fail);
    }

    #[test]
    fn linger_off_names_the_user_to_enable() {
        let c = linger(Some(Path::new("no-such-user-ocap-test")));
        assert_eq!(c.level, Level::Warn);
        assert!(
            c.fix
                .unwrap()
                .starts_with("loginctl enable-linger no-such-user-ocap-test")
        );
        assert!(linger(None).fix.unwrap().contains("$USER"));
    }

    #[test]
    fn the_text_names_each_check_and_its_fix_and_json_says_whether_all_passed() {
        let checks = vec![
            check("paths", Level::Ok, "fine".into(), None),
            check("socket", Level::Fail, "bad".into(), Some("chmod".into())),
        ];
        assert_eq!(
            to_text(&checks),
            "ok    paths   fine\nfail  socket  bad\n              fix: chmod"
        );
        assert_eq!(to_json(&checks)["ok"], false);
        assert_eq!(to_json(&checks)["checks"][1]["fix"], "chmod");
        assert!(outcome(&checks).is_err());
        assert!(outcome(&checks[..1]).is_ok());
    }
}
