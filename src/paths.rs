//! Where the socket, database, lock and log live (DESIGN.md "Where things live").
//!
//! Both binaries resolve paths the same way, so `ocapctl` finds whatever `ocapd` serves. The
//! resolution is a pure function of an environment lookup so that it can be tested without
//! touching the process environment.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// File name of the control socket inside its directory.
pub const SOCKET_FILE: &str = "daemon.sock";
/// File name of the kernel database inside the state directory.
pub const DATABASE_FILE: &str = "kernel.sqlite";
/// File name of the log written by a daemon that `ocapctl` started detached.
pub const LOG_FILE: &str = "daemon.log";
/// File name of the pid file a daemon that binds its own socket writes (the reference's).
pub const PID_FILE: &str = "daemon.pid";

/// The resolved locations of everything a daemon owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The control socket clients connect to.
    pub socket: PathBuf,
    /// The SQLite kernel database.
    pub database: PathBuf,
    /// The log file of a self-started (detached) daemon.
    pub log: PathBuf,
}

impl Paths {
    /// Resolves the paths from the real process environment.
    pub fn from_env() -> Paths {
        Paths::resolve(|name| env_var(name).map(OsString::from))
    }

    /// Resolves the paths from `var`, which returns a non-empty environment value or `None`.
    pub fn resolve(var: impl Fn(&str) -> Option<OsString>) -> Paths {
        let socket_override = var("OCAP_SOCKET_PATH").map(PathBuf::from);
        let (socket, state_dir) = match var("OCAP_HOME") {
            Some(home) => {
                let home = PathBuf::from(home);
                (home.join(SOCKET_FILE), home)
            }
            None => (default_socket(&var), default_state_dir(&var)),
        };
        Paths {
            socket: socket_override.unwrap_or(socket),
            database: state_dir.join(DATABASE_FILE),
            log: state_dir.join(LOG_FILE),
        }
    }

    /// The same paths with the socket and database replaced where given.
    pub fn with_overrides(mut self, socket: Option<&Path>, database: Option<&Path>) -> Paths {
        if let Some(socket) = socket {
            self.socket = socket.to_path_buf();
        }
        if let Some(database) = database {
            self.database = database.to_path_buf();
            if let Some(dir) = database.parent() {
                self.log = dir.join(LOG_FILE);
            }
        }
        self
    }

    /// The lock file beside the database that one daemon holds for its whole lifetime.
    pub fn lock(&self) -> PathBuf {
        sibling(&self.database, ".lock")
    }

    /// The state directory (the database's folder).
    pub fn state_dir(&self) -> &Path {
        self.database.parent().unwrap_or(Path::new("."))
    }

    /// The pid file beside the database (`$OCAP_HOME/daemon.pid` in the compatible layout).
    pub fn pid_file(&self) -> PathBuf {
        self.state_dir().join(PID_FILE)
    }
}

/// Environment variable `name`, unless unset or empty (XDG treats an empty one as unset).
pub fn env_var(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$XDG_CONFIG_HOME`, else `~/.config` (`/.config` without a home).
pub fn config_home() -> PathBuf {
    env_var("XDG_CONFIG_HOME").unwrap_or_else(|| home_dir().join(".config"))
}

/// `$HOME`, else `/`.
pub fn home_dir() -> PathBuf {
    env_var("HOME").unwrap_or_else(|| PathBuf::from("/"))
}

/// Creates the folder that will hold `file` (and its parents), private to this user (0700) where
/// it is created. Folders that exist are left as they are.
pub fn create_parent_dir(file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match file.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir),
        None => Ok(()),
    }
}

/// `path` with `suffix` appended to its file name (`kernel.sqlite` → `kernel.sqlite-wal`).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `path` with `.` and `..` resolved by name, without touching the disk.
pub fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn home(var: &impl Fn(&str) -> Option<OsString>) -> PathBuf {
    var("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

#[cfg(target_os = "macos")]
fn default_socket(var: &impl Fn(&str) -> Option<OsString>) -> PathBuf {
    macos_dir(var).join(SOCKET_FILE)
}

#[cfg(target_os = "macos")]
fn default_state_dir(var: &impl Fn(&str) -> Option<OsString>) -> PathBuf {
    macos_dir(var)
}

#[cfg(target_os = "macos")]
fn macos_dir(var: &impl Fn(&str) -> Option<OsString>) -> PathBuf {
    home(var).join("Library/Application Support/ocap")
}

/// systemd's `%t/ocap/daemon.sock` when a runtime directory exists, else `~/.ocap/daemon.sock`.
#[cfg(not(target_os = "macos"))]
fn default_socket(var: &impl Fn(&str) -> Option<OsString>) -> PathBuf {
    match var("XDG_RUNTIME_DIR") {
        Some(runtime) => PathBuf::from(runtime).join("ocap").join(SOCKET_FILE),
        None => home(var).join(".ocap").join(SOCKET_FILE),
    }
}

/// `$STATE_DIRECTORY` (systemd; the first entry when several are listed), else XDG state.
#[cfg(not(target_os = "macos"))]
fn default_state_dir(var: &impl Fn(&str) -> Option<OsString>) -> PathBuf {
    if let Some(dirs) = var("STATE_DIRECTORY") {
        let dirs = dirs.to_string_lossy().into_owned();
        if let Some(first) = dirs.split(':').find(|d| !d.is_empty()) {
            return PathBuf::from(first);
        }
    }
    match var("XDG_STATE_HOME") {
        Some(state) => PathBuf::from(state).join("ocap"),
        None => home(var).join(".local/state/ocap"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(vars: &[(&str, &str)]) -> Paths {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Paths::resolve(|name| map.get(name).cloned())
    }

    #[test]
    fn ocap_home_gives_the_reference_layout() {
        let p = resolve(&[("OCAP_HOME", "/h/o"), ("XDG_RUNTIME_DIR", "/run/user/1")]);
        assert_eq!(p.socket, PathBuf::from("/h/o/daemon.sock"));
        assert_eq!(p.database, PathBuf::from("/h/o/kernel.sqlite"));
        assert_eq!(p.log, PathBuf::from("/h/o/daemon.log"));
        assert_eq!(p.lock(), PathBuf::from("/h/o/kernel.sqlite.lock"));
    }

    #[test]
    fn socket_path_env_overrides_the_socket_only() {
        let p = resolve(&[("OCAP_HOME", "/h/o"), ("OCAP_SOCKET_PATH", "/tmp/s.sock")]);
        assert_eq!(p.socket, PathBuf::from("/tmp/s.sock"));
        assert_eq!(p.database, PathBuf::from("/h/o/kernel.sqlite"));
    }

    #[cfg(not(target_os = "macos"))]
    #[test]
    fn xdg_layout_without_ocap_home() {
        let p = resolve(&[("HOME", "/home/u"), ("XDG_RUNTIME_DIR", "/run/user/1000")]);
        assert_eq!(p.socket, PathBuf::from("/run/user/1000/ocap/daemon.sock"));
        assert_eq!(
            p.database,
            PathBuf::from("/home/u/.local/state/ocap/kernel.sqlite")
        );
        let p = resolve(&[("HOME", "/home/u"), ("XDG_STATE_HOME", "/st")]);
        assert_eq!(p.socket, PathBuf::from("/home/u/.ocap/daemon.sock"));
        assert_eq!(p.database, PathBuf::from("/st/ocap/kernel.sqlite"));
    }

    #[cfg(not(target_os = "macos"))]
    #[test]
    fn systemd_state_directory_wins_over_xdg() {
        let p = resolve(&[
            ("STATE_DIRECTORY", "/var/lib/ocap:/other"),
            ("XDG_STATE_HOME", "/st"),
        ]);
        assert_eq!(p.database, PathBuf::from("/var/lib/ocap/kernel.sqlite"));
    }

    #[test]
    fn overrides_replace_socket_and_database() {
        let p = resolve(&[("OCAP_HOME", "/h")])
            .with_overrides(Some(Path::new("/s.sock")), Some(Path::new("/d/k.db")));
        assert_eq!(p.socket, PathBuf::from("/s.sock"));
        assert_eq!(p.database, PathBuf::from("/d/k.db"));
        assert_eq!(p.log, PathBuf::from("/d/daemon.log"));
    }
}
