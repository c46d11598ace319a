//! Does a service manager own this socket path? If so, `ocapctl` must never start or kill a
//! daemon itself: it tells the user how to enable the unit instead.

use crate::paths::{config_home, env_var, home_dir};
use std::path::{Path, PathBuf};

/// A service-manager definition that serves a socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// A systemd user unit `ocap.socket` at this path.
    SystemdUser(PathBuf),
    /// The system-wide `ocap.socket`.
    SystemdSystem(PathBuf),
    /// A launchd agent plist.
    Launchd(PathBuf),
}

/// The unit that would serve `socket`, if one is installed.
pub fn unit_for(socket: &Path) -> Option<Unit> {
    let home = home_dir();
    if let Some(runtime) = env_var("XDG_RUNTIME_DIR")
        && socket == runtime.join("ocap/daemon.sock")
    {
        let dirs = [
            config_home().join("systemd/user"),
            home.join(".local/share/systemd/user"),
            PathBuf::from("/etc/systemd/user"),
            PathBuf::from("/usr/local/lib/systemd/user"),
            PathBuf::from("/usr/lib/systemd/user"),
        ];
        return first_existing(&dirs, "ocap.socket").map(Unit::SystemdUser);
    }
    if socket == Path::new("/run/ocap/daemon.sock") {
        let dirs = [
            PathBuf::from("/etc/systemd/system"),
            PathBuf::from("/usr/local/lib/systemd/system"),
            PathBuf::from("/usr/lib/systemd/system"),
        ];
        return first_existing(&dirs, "ocap.socket").map(Unit::SystemdSystem);
    }
    if cfg!(target_os = "macos")
        && socket == home.join("Library/Application Support/ocap/daemon.sock")
    {
        let plist = home.join("Library/LaunchAgents/org.ocap.ocapd.plist");
        return plist.exists().then_some(Unit::Launchd(plist));
    }
    None
}

fn first_existing(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(name)).find(|p| p.exists())
}

/// What to do when nothing answers on `socket`.
pub fn hint(socket: &Path) -> String {
    match unit_for(socket) {
        Some(Unit::SystemdUser(unit)) => format!(
            "The socket unit {} is installed but not listening. Enable it with:\n  systemctl --user enable --now ocap.socket",
            unit.display()
        ),
        Some(Unit::SystemdSystem(_)) => {
            "The system socket unit is installed but not listening. Enable it with:\n  sudo systemctl enable --now ocap.socket".into()
        }
        Some(Unit::Launchd(plist)) => {
            format!("The launchd agent is installed but not loaded. Load it with:\n  launchctl bootstrap gui/$(id -u) {}", plist.display())
        }
        None => "Start one with `ocapctl start`, or install the socket unit (`make install-user`, then\n  systemctl --user enable --now ocap.socket) so it starts on demand.".into(),
    }
}

/// How to keep a service manager from starting the daemon again, for `ocapctl stop`.
pub fn disable_hint(activation: &str) -> &'static str {
    match activation {
        "launchd" => {
            "launchd starts it again on the next connection; to stop that: launchctl bootout gui/$(id -u)/org.ocap.ocapd"
        }
        _ => {
            "the socket unit starts it again on the next connection; to stop that: systemctl --user disable --now ocap.socket"
        }
    }
}
