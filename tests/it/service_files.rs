//! Checks the service-manager files (systemd units, sysusers snippet, launchd
//! plist) and the Makefile targets that install them.
//!
//! These tests read the files from the source tree and never touch the host's
//! service manager: `systemd-analyze verify` runs against copies in a temporary
//! directory with `HOME` and `XDG_RUNTIME_DIR` pointed at fresh temporary
//! directories, and `make` installs into a temporary `DESTDIR`.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const USER_SOCKET: &str = "systemd/ocap.socket";
const USER_SERVICE: &str = "systemd/ocap.service";
const USER_CAPS_SOCKET: &str = "systemd/ocap-caps.socket";
const SYSTEM_SOCKET: &str = "systemd/system/ocap.socket";
const SYSTEM_CAPS_SOCKET: &str = "systemd/system/ocap-caps.socket";
const SYSTEM_SERVICE: &str = "systemd/system/ocap.service";
const SYSUSERS: &str = "systemd/system/ocap.sysusers";
const PLIST: &str = "launchd/org.ocap.ocapd.plist";

/// Options every service gets, in a user or a system manager.
const COMMON_HARDENING: &[(&str, &str)] = &[
    ("NoNewPrivileges", "yes"),
    // Vats' fetch and remote comms need Internet sockets (issue 15: fetch failed under a real
    // user manager with "Address family not supported by protocol"); remote comms listening
    // on every interface need netlink (netns::listening_on_all_interfaces_needs_netlink).
    (
        "RestrictAddressFamilies",
        "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
    ),
    ("SystemCallArchitectures", "native"),
    ("UMask", "0077"),
    ("LockPersonality", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("MemoryDenyWriteExecute", "yes"),
];

/// Namespace-based options a system service gets on top of `COMMON_HARDENING`.
const SYSTEM_HARDENING: &[(&str, &str)] = &[
    ("ProtectSystem", "strict"),
    ("ProtectHome", "yes"),
    ("PrivateTmp", "yes"),
    ("PrivateDevices", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("RestrictNamespaces", "yes"),
    ("CapabilityBoundingSet", ""),
];

/// Options that need user namespaces in a user manager and so must stay out
/// of the user service (they fail with 226/NAMESPACE where those are off).
const NOT_IN_USER_MODE: &[&str] = &[
    "PrivateTmp",
    "PrivateUsers",
    "ProtectSystem",
    "ProtectHome",
    "PrivateDevices",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "ProtectControlGroups",
    "ProtectHostname",
    "CapabilityBoundingSet",
];

/// Make variables that would change what the Makefile does if they leaked in
/// from the caller's environment (or from an outer `make test`).
const MAKE_ENV: &[&str] = &[
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEFILES",
    "PREFIX",
    "DESTDIR",
    "BINDIR",
    "SYSTEMD_USER_DIR",
    "SYSTEMD_SYSTEM_DIR",
    "SYSUSERS_DIR",
    "LAUNCHD_DIR",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn output_text(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ---------------------------------------------------------------- launchd

fn plist_dict<'a>(value: &'a plist::Value, what: &str) -> &'a plist::Dictionary {
    value
        .as_dictionary()
        .unwrap_or_else(|| panic!("{what} is not a dictionary: {value:?}"))
}

fn plist_str<'a>(dict: &'a plist::Dictionary, key: &str) -> &'a str {
    dict.get(key)
        .and_then(plist::Value::as_string)
        .unwrap_or_else(|| panic!("{key} missing or not a string in {dict:?}"))
}

fn expand_home(path: &str) -> String {
    path.replace("__HOME__", "/Users/test")
}

#[test]
fn launchd_plist_describes_socket_activated_agent() {
    let value = plist::Value::from_file(root().join(PLIST)).expect("plist parses");
    let top = plist_dict(&value, "plist root");

    assert_eq!(plist_str(top, "Label"), "org.ocap.ocapd");
    assert_eq!(plist_str(top, "ProcessType"), "Background");

    let args: Vec<&str> = top
        .get("ProgramArguments")
        .and_then(plist::Value::as_array)
        .expect("ProgramArguments is an array")
        .iter()
        .map(|v| v.as_string().expect("ProgramArguments holds strings"))
        .collect();
    assert!(
        args[0].ends_with("/ocapd"),
        "ProgramArguments[0] = {:?}",
        args[0]
    );
    assert!(
        args[0].starts_with('/'),
        "launchd needs an absolute program path"
    );
    assert_eq!(args[1..], ["--foreground", "--idle-timeout=300"]);

    let sockets = plist_dict(top.get("Sockets").expect("Sockets"), "Sockets");
    let listeners = plist_dict(
        sockets.get("Listeners").expect("Sockets.Listeners"),
        "Listeners",
    );
    let sock_path = expand_home(plist_str(listeners, "SockPathName"));
    assert!(
        sock_path.starts_with('/'),
        "SockPathName not absolute: {sock_path}"
    );
    assert_eq!(
        sock_path,
        "/Users/test/Library/Application Support/ocap/daemon.sock"
    );
    match listeners.get("SockPathMode") {
        Some(plist::Value::Integer(mode)) => {
            assert_eq!(mode.as_signed(), Some(0o600), "SockPathMode must be 0600");
        }
        other => panic!("SockPathMode must be an integer, got {other:?}"),
    }

    let log = expand_home(plist_str(top, "StandardErrorPath"));
    assert_eq!(log, "/Users/test/Library/Logs/ocap/ocapd.log");
}

#[test]
fn launchd_plist_raw_xml_is_well_formed_for_launchd() {
    let xml = read(PLIST);
    // plist integers are decimal; "0600" or "0o600" would not mean 0600.
    assert!(
        xml.contains("<integer>384</integer>"),
        "SockPathMode must be written as <integer>384</integer>"
    );
    // The placeholder must start each path it appears in, so that replacing
    // it with a home directory gives an absolute path. (The XML comment
    // mentions it too, outside any <string>.)
    for (n, line) in xml.lines().enumerate() {
        if !line.contains("<string>") {
            continue;
        }
        if let Some(at) = line.find("__HOME__") {
            assert!(
                line[..at].ends_with("<string>"),
                "line {}: __HOME__ must start the string: {line}",
                n + 1
            );
        }
    }
    // XML forbids "--" inside comments; a lenient parser may not notice.
    let mut rest = xml.as_str();
    while let Some(start) = rest.find("<!--") {
        let body = &rest[start + 4..];
        let end = body.find("-->").expect("unterminated XML comment");
        assert!(!body[..end].contains("--"), "\"--\" inside an XML comment");
        rest = &body[end + 3..];
    }
}

// ---------------------------------------------------------------- systemd

/// One `Key=value` assignment of a unit file.
#[derive(Debug)]
struct Entry {
    section: String,
    key: String,
    value: String,
}

/// Parses a unit file, rejecting what systemd would read differently from
/// how it looks: trailing comments, line continuations, keys outside a
/// section, or lines that are none of the above.
fn parse_unit(rel: &str) -> Vec<Entry> {
    let text = read(rel);
    let mut section = None::<String>;
    let mut entries = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = format!("{rel}:{}", n + 1);
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_owned());
            continue;
        }
        assert!(
            !line.ends_with('\\'),
            "{at}: no line continuations please: {raw}"
        );
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{at}: not a Key=value line: {raw}"));
        let (key, value) = (key.trim(), value.trim());
        assert!(
            !value.contains('#'),
            "{at}: systemd has no trailing comments; '#' would become part of the value: {raw}"
        );
        let section = section
            .clone()
            .unwrap_or_else(|| panic!("{at}: assignment before any [Section]"));
        entries.push(Entry {
            section,
            key: key.to_owned(),
            value: value.to_owned(),
        });
    }
    entries
}

/// Looks up assignments in a parsed unit file.
struct Unit {
    name: &'static str,
    entries: Vec<Entry>,
}

impl Unit {
    fn load(name: &'static str) -> Self {
        Unit {
            name,
            entries: parse_unit(name),
        }
    }

    fn values(&self, section: &str, key: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.section == section && e.key == key)
            .map(|e| e.value.as_str())
            .collect()
    }

    /// The effective value of a single-valued key is its last assignment.
    fn assert_set(&self, section: &str, key: &str, expected: &str) {
        let values = self.values(section, key);
        assert_eq!(
            values.last().copied(),
            Some(expected),
            "{}: [{section}] {key}= should be {expected:?}, found {values:?}",
            self.name
        );
    }

    fn assert_all(&self, section: &str, pairs: &[(&str, &str)]) {
        for (key, value) in pairs {
            self.assert_set(section, key, value);
        }
    }

    fn assert_absent(&self, key: &str) {
        let found: Vec<&Entry> = self.entries.iter().filter(|e| e.key == key).collect();
        assert!(
            found.is_empty(),
            "{}: {key}= must not be set: {found:?}",
            self.name
        );
    }

    fn sections(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.entries.iter().map(|e| e.section.as_str()).collect();
        names.dedup();
        names
    }
}

fn assert_socket_common(unit: &Unit) {
    assert!(
        !unit.values("Unit", "Description").is_empty(),
        "{}: Description",
        unit.name
    );
    unit.assert_set("Unit", "Documentation", "man:ocapd(8)");
    unit.assert_all(
        "Socket",
        &[("FileDescriptorName", "ocap"), ("RemoveOnStop", "yes")],
    );
    unit.assert_set("Install", "WantedBy", "sockets.target");
}

fn assert_service_common(unit: &Unit) {
    assert!(
        !unit.values("Unit", "Description").is_empty(),
        "{}: Description",
        unit.name
    );
    unit.assert_all(
        "Unit",
        &[
            ("Documentation", "man:ocapd(8)"),
            ("Requires", "ocap.socket"),
            ("After", "ocap.socket"),
            ("StartLimitIntervalSec", "0"),
        ],
    );
    unit.assert_all(
        "Service",
        &[
            ("Type", "notify"),
            ("NotifyAccess", "main"),
            ("ExecReload", "kill -HUP $MAINPID"),
            ("WatchdogSec", "30"),
            ("TimeoutStopSec", "15"),
            ("Restart", "on-failure"),
        ],
    );
    unit.assert_all("Service", COMMON_HARDENING);
    let filters = unit.values("Service", "SystemCallFilter");
    assert_eq!(
        filters.first().copied(),
        Some("@system-service"),
        "{}: SystemCallFilter= must start from @system-service",
        unit.name
    );
    // The start limit lives in [Unit] since systemd 230; in [Service] it is ignored.
    assert!(unit.values("Service", "StartLimitIntervalSec").is_empty());
    // Above ocapd's 10 s drain timeout, or systemd kills it mid-drain.
    let stop: u64 = unit.values("Service", "TimeoutStopSec")[0].parse().unwrap();
    assert!(
        stop > 10,
        "{}: TimeoutStopSec must exceed the 10 s drain",
        unit.name
    );
}

#[test]
fn user_socket_unit_has_required_settings() {
    let unit = Unit::load(USER_SOCKET);
    assert_eq!(unit.sections(), ["Unit", "Socket", "Install"]);
    assert_socket_common(&unit);
    unit.assert_all(
        "Socket",
        &[
            ("ListenStream", "%t/ocap/daemon.sock"),
            ("SocketMode", "0600"),
            ("DirectoryMode", "0700"),
        ],
    );
}

/// The least-authority capability socket: passed to ocap.service under the fd name ocapd
/// looks for (`listen::CAPS_FD_NAME`), never as the control socket's name.
#[test]
fn user_caps_socket_unit_feeds_ocap_service_under_its_own_name() {
    let unit = Unit::load(USER_CAPS_SOCKET);
    assert_eq!(unit.sections(), ["Unit", "Socket", "Install"]);
    unit.assert_set("Unit", "Documentation", "man:ocapd(8)");
    unit.assert_all(
        "Socket",
        &[
            ("ListenStream", "%t/ocap/caps.sock"),
            ("FileDescriptorName", "ocap-caps"),
            ("Service", "ocap.service"),
            ("SocketMode", "0666"),
            ("RemoveOnStop", "yes"),
        ],
    );
    unit.assert_set("Install", "WantedBy", "sockets.target");
    assert!(read("src/daemon/listen.rs").contains(r#"CAPS_FD_NAME: &str = "ocap-caps""#));
}

/// The system-wide capability socket: outside /run/ocap (which only the daemon's group may
/// enter), so that any uid can reach it; fed to ocap.service under the same fd name.
#[test]
fn system_caps_socket_unit_is_reachable_by_every_uid() {
    let unit = Unit::load(SYSTEM_CAPS_SOCKET);
    assert_eq!(unit.sections(), ["Unit", "Socket", "Install"]);
    unit.assert_all(
        "Socket",
        &[
            ("ListenStream", "/run/ocap-caps.sock"),
            ("FileDescriptorName", "ocap-caps"),
            ("Service", "ocap.service"),
            ("SocketUser", "ocap"),
            ("SocketMode", "0666"),
            ("RemoveOnStop", "yes"),
        ],
    );
    unit.assert_set("Install", "WantedBy", "sockets.target");
    // The control socket's directory is closed to others; this one must not be in it.
    let control = Unit::load(SYSTEM_SOCKET);
    control.assert_set("Socket", "DirectoryMode", "0750");
    control.assert_set("Socket", "ListenStream", "/run/ocap/daemon.sock");
}

#[test]
fn user_service_unit_has_required_settings() {
    let unit = Unit::load(USER_SERVICE);
    assert_service_common(&unit);
    unit.assert_set(
        "Service",
        "ExecStart",
        "/usr/bin/ocapd --foreground --idle-timeout=300",
    );
    for key in NOT_IN_USER_MODE {
        unit.assert_absent(key);
    }
    unit.assert_absent("User");
    unit.assert_absent("Group");
    // Before systemd 254 a user unit's StateDirectory= is under ~/.config, not where ocapctl
    // looks (~/.local/state): ocapd finds its state folder itself, as ocapctl does.
    unit.assert_absent("StateDirectory");
}

#[test]
fn system_socket_unit_has_required_settings() {
    let unit = Unit::load(SYSTEM_SOCKET);
    assert_socket_common(&unit);
    unit.assert_all(
        "Socket",
        &[
            ("ListenStream", "/run/ocap/daemon.sock"),
            ("SocketUser", "ocap"),
            ("SocketGroup", "ocap"),
            ("SocketMode", "0660"),
            ("DirectoryMode", "0750"),
        ],
    );
}

#[test]
fn system_service_unit_has_required_settings() {
    let unit = Unit::load(SYSTEM_SERVICE);
    assert_service_common(&unit);
    unit.assert_all(
        "Service",
        &[
            (
                "ExecStart",
                "/usr/bin/ocapd --foreground --socket=/run/ocap/daemon.sock --idle-timeout=300",
            ),
            ("User", "ocap"),
            ("Group", "ocap"),
            ("StateDirectory", "ocap"),
        ],
    );
    unit.assert_all("Service", SYSTEM_HARDENING);
    // The socket unit creates /run/ocap; a RuntimeDirectory= would be removed
    // (socket and all) whenever the idle daemon exits.
    unit.assert_absent("RuntimeDirectory");
    // A user namespace would turn other users' SO_PEERCRED uids into "nobody".
    unit.assert_absent("PrivateUsers");
}

#[test]
fn sysusers_snippet_creates_the_ocap_user() {
    let lines: Vec<String> = read(SYSUSERS)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert_eq!(lines, [r#"u ocap - "ocap kernel daemon" /var/lib/ocap"#]);
}

/// Runs `systemd-analyze --user verify` on copies of the user units. The
/// manager it simulates is never started for real, and it sees only
/// temporary directories as its home and runtime directory.
#[test]
fn user_units_pass_systemd_analyze_verify() {
    if std::env::var_os("OCAP_SKIP_SYSTEMD_VERIFY").is_some_and(|v| v == "1") {
        eprintln!("OCAP_SKIP_SYSTEMD_VERIFY=1: skipping systemd-analyze verify");
        return;
    }
    let sandbox = tempfile::Builder::new()
        .prefix("ocap-verify-")
        .tempdir()
        .unwrap();
    let units = sandbox.path().join("units");
    let runtime = sandbox.path().join("run");
    let home = sandbox.path().join("home");
    for dir in [&units, &runtime, &home] {
        fs::create_dir(dir).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
    }

    // verify fails when ExecStart= names a missing binary, and ocapd is not
    // installed here: point it at a harmless executable that exists.
    let stand_in = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("no /bin/true or /usr/bin/true");
    let service = read(USER_SERVICE);
    let rewritten = service.replace(
        "ExecStart=/usr/bin/ocapd ",
        &format!("ExecStart={stand_in} "),
    );
    assert_ne!(
        service, rewritten,
        "ExecStart=/usr/bin/ocapd not found in {USER_SERVICE}"
    );
    fs::write(units.join("ocap.service"), rewritten).unwrap();
    fs::write(units.join("ocap.socket"), read(USER_SOCKET)).unwrap();
    fs::write(units.join("ocap-caps.socket"), read(USER_CAPS_SOCKET)).unwrap();

    let mut cmd = Command::new("systemd-analyze");
    // --man=no: Documentation=man:ocapd(8) is not installed on a build
    // machine, and checking it would make verify report a failed `man`.
    cmd.args(["--user", "--man=no", "verify"])
        .arg(units.join("ocap.socket"))
        .arg(units.join("ocap-caps.socket"))
        .arg(units.join("ocap.service"))
        .current_dir(sandbox.path())
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env_remove("SYSTEMD_UNIT_PATH")
        .env_remove("SYSTEMD_LOG_LEVEL")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "systemd-analyze is not installed, so the unit files cannot be verified. \
             Install systemd (it provides systemd-analyze) or set \
             OCAP_SKIP_SYSTEMD_VERIFY=1 to skip this check."
        ),
        Err(e) => panic!("running systemd-analyze: {e}"),
    };
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{text}"
    );
    // verify exits 0 on unknown keys and unparsable values; it only warns.
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        !stdout
            .lines()
            .chain(stderr.lines())
            .any(|l| l.contains("ocap")),
        "systemd-analyze verify warned about the units:\n{text}"
    );
}

// ---------------------------------------------------------------- Makefile

fn make(args: &[&str]) -> Output {
    let mut cmd = Command::new("make");
    cmd.arg("-C").arg(root()).args(args);
    for var in MAKE_ENV {
        cmd.env_remove(var);
    }
    match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            panic!("`make` is not installed; the Makefile cannot be checked")
        }
        Err(e) => panic!("running make: {e}"),
    }
}

fn make_ok(args: &[&str]) -> String {
    let out = make(args);
    let text = output_text(&out);
    assert!(out.status.success(), "make {args:?} failed:\n{text}");
    text
}

/// Where `install-files` puts each source file, relative to `DESTDIR` + `PREFIX`.
const INSTALLED_FILES: &[(&str, &str)] = &[
    (USER_SOCKET, "lib/systemd/user/ocap.socket"),
    (USER_SERVICE, "lib/systemd/user/ocap.service"),
    (USER_CAPS_SOCKET, "lib/systemd/user/ocap-caps.socket"),
    (SYSTEM_SOCKET, "lib/systemd/system/ocap.socket"),
    (SYSTEM_CAPS_SOCKET, "lib/systemd/system/ocap-caps.socket"),
    (SYSTEM_SERVICE, "lib/systemd/system/ocap.service"),
    (SYSUSERS, "lib/sysusers.d/ocap.conf"),
    (PLIST, "share/ocap/launchd/org.ocap.ocapd.plist"),
];

#[test]
fn make_dry_run_install_and_uninstall_name_every_file() {
    let install = make_ok(&["-n", "install", "DESTDIR=/tmp/x", "PREFIX=/usr"]);
    assert!(install.contains("build --release --locked"), "{install}");
    let bins = ["bin/ocapd", "bin/ocapctl"];
    let installed = bins.iter().chain(INSTALLED_FILES.iter().map(|(_, to)| to));
    for to in installed.clone() {
        let path = format!("/tmp/x/usr/{to}");
        assert!(
            install.contains(&path),
            "make -n install does not mention {path}:\n{install}"
        );
    }
    let uninstall = make_ok(&["-n", "uninstall", "DESTDIR=/tmp/x", "PREFIX=/usr"]);
    for to in installed {
        let path = format!("/tmp/x/usr/{to}");
        assert!(
            uninstall.contains(&path),
            "make -n uninstall does not mention {path}:\n{uninstall}"
        );
    }
}

/// Every regular file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

fn exec_start(unit_text: &str) -> &str {
    unit_text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart= line")
}

/// Installs the service files into a temporary DESTDIR with the given prefix,
/// checks where they land and that ocapd's path was rewritten, then
/// uninstalls and checks nothing is left.
fn install_and_uninstall_files(prefix: &str) {
    let destdir = tempfile::Builder::new()
        .prefix("ocap-destdir-")
        .tempdir()
        .unwrap();
    let dest = destdir.path().to_str().unwrap();
    let vars = [format!("DESTDIR={dest}"), format!("PREFIX={prefix}")];
    let vars: Vec<&str> = vars.iter().map(String::as_str).collect();
    make_ok(&[&["install-files"], &vars[..]].concat());

    let base = PathBuf::from(format!("{dest}{prefix}"));
    let ocapd = format!("{prefix}/bin/ocapd");
    let mut expected = Vec::new();
    for (from, to) in INSTALLED_FILES {
        let path = base.join(to);
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{from} not installed at {}: {e}", path.display()));
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{} has mode {mode:o}", path.display());
        let source = read(from);
        match *from {
            USER_SERVICE => assert_eq!(
                exec_start(&text),
                format!("{ocapd} --foreground --idle-timeout=300")
            ),
            SYSTEM_SERVICE => assert_eq!(
                exec_start(&text),
                format!("{ocapd} --foreground --socket=/run/ocap/daemon.sock --idle-timeout=300")
            ),
            PLIST => {
                let value = plist::Value::from_reader_xml(text.as_bytes()).unwrap();
                let args = plist_dict(&value, "plist")
                    .get("ProgramArguments")
                    .and_then(plist::Value::as_array)
                    .unwrap();
                assert_eq!(args[0].as_string(), Some(ocapd.as_str()));
            }
            _ => assert_eq!(text, source, "{from} must be installed unchanged"),
        }
        // Apart from ocapd's path the installed file is the source file.
        let normalized = text.replace(&ocapd, "/usr/bin/ocapd");
        let source = source.replace("/usr/local/bin/ocapd", "/usr/bin/ocapd");
        assert_eq!(
            normalized, source,
            "{from}: install changed more than ocapd's path"
        );
        expected.push(PathBuf::from(prefix.trim_start_matches('/')).join(to));
    }
    expected.sort();
    assert_eq!(
        files_under(destdir.path()),
        expected,
        "install-files installed something else"
    );

    make_ok(&[&["uninstall-files"], &vars[..]].concat());
    let left = files_under(destdir.path());
    assert!(left.is_empty(), "uninstall-files left {left:?}");
}

#[test]
fn make_install_files_and_uninstall_files_with_prefix_usr() {
    install_and_uninstall_files("/usr");
}

#[test]
fn make_install_files_rewrites_ocapd_path_for_other_prefixes() {
    install_and_uninstall_files("/opt/ocap");
}
