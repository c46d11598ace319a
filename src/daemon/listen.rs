//! Getting the listening socket: inherited from systemd or launchd, or bound ourselves.
//!
//! The inherited case must run before any thread exists: it reads and clears the activation
//! environment (`LISTEN_*`), which is only sound while the process is single-threaded.

use crate::paths::Paths;

use std::io;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// How the daemon came by its socket; decides who owns the path and how `stop` behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Passed by systemd (`LISTEN_FDS`): systemd owns the path; never unlink it.
    Systemd,
    /// Passed by launchd (`launch_activate_socket`).
    Launchd,
    /// Bound by ocapd itself: ocapd owns the path and removes it on exit.
    SelfBound,
}

impl Activation {
    /// The name reported by `daemonInfo`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Systemd => "systemd",
            Activation::Launchd => "launchd",
            Activation::SelfBound => "self",
        }
    }
}

/// Why no socket could be had.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The path is too long for a Unix socket address.
    #[error(
        "socket path {path} is {len} bytes; Unix sockets allow at most {max}: choose a shorter --socket or OCAP_HOME"
    )]
    PathTooLong {
        /// The path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The platform's limit.
        max: usize,
    },
    /// Another daemon answers on the socket.
    #[error("another daemon{pid} is already serving {path}; stop it first with `ocapctl stop`")]
    InUse {
        /// The path.
        path: PathBuf,
        /// ` (pid N)` when the peer's pid could be read.
        pid: String,
    },
    /// Something other than a socket is where the socket goes.
    #[error(
        "{path} exists and is not a socket; ocapd replaces only a stale socket, never another file: move it away or choose another socket path"
    )]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// The activation environment named sockets we cannot use.
    #[error("socket activation: {0}")]
    Activation(String),
    /// A system call failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// The name of the capability socket's fd (`FileDescriptorName=` in `ocap-caps.socket`).
pub const CAPS_FD_NAME: &str = "ocap-caps";

/// Sockets passed by the service manager.
pub struct Inherited {
    /// The control socket.
    pub control: UnixListener,
    /// Who passed it.
    pub activation: Activation,
    /// The least-authority capability socket, when the manager passed one too.
    pub caps: Option<UnixListener>,
}

/// Takes the sockets passed by the service manager, if any. Call before spawning threads.
pub fn inherited() -> Result<Option<Inherited>, ListenError> {
    if let Some((control, caps)) = systemd()? {
        return Ok(Some(Inherited {
            control,
            activation: Activation::Systemd,
            caps,
        }));
    }
    Ok(launchd()?.map(|control| Inherited {
        control,
        activation: Activation::Launchd,
        caps: None,
    }))
}

/// systemd: the control socket is the fd named `ocap` when names are given, else the first
/// one that is not the capability socket (`ocap-caps`), which is never served as control.
fn systemd() -> Result<Option<(UnixListener, Option<UnixListener>)>, ListenError> {
    let names = std::env::var("LISTEN_FDNAMES").ok();
    // SAFETY: called from `main` before any other thread exists (see module docs).
    unsafe { std::env::remove_var("LISTEN_FDNAMES") };
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    let names: Vec<&str> = names
        .as_deref()
        .map_or(Vec::new(), |n| n.split(':').collect());
    let caps_index = names.iter().position(|name| *name == CAPS_FD_NAME);
    let index = names
        .iter()
        .position(|name| *name == "ocap")
        .or_else(|| (0..fds.len()).find(|i| Some(*i) != caps_index))
        .ok_or_else(|| {
            ListenError::Activation(
                "only the capability socket was passed; the control socket (fd \"ocap\") is missing"
                    .into(),
            )
        })?;
    let control = take_listener(&mut fds, index)?;
    let caps = match caps_index {
        Some(i) => Some(take_listener(&mut fds, i)?),
        None => None,
    };
    Ok(Some((control, caps)))
}

fn take_listener(fds: &mut listenfd::ListenFd, index: usize) -> Result<UnixListener, ListenError> {
    let listener = fds
        .take_unix_listener(index)
        .map_err(|e| {
            ListenError::Activation(format!("fd {index} is not a Unix stream listener: {e}"))
        })?
        .ok_or_else(|| ListenError::Activation(format!("no fd at index {index}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ListenError::Io {
            path: "LISTEN_FDS".into(),
            source,
        })?;
    Ok(listener)
}

#[cfg(target_os = "macos")]
fn launchd() -> Result<Option<UnixListener>, ListenError> {
    super::launchd::activate_socket("Listeners").map_err(ListenError::Activation)
}

#[cfg(not(target_os = "macos"))]
fn launchd() -> Result<Option<UnixListener>, ListenError> {
    Ok(None)
}

/// Binds `paths.socket` ourselves: directory 0700, socket 0600, refusing if a daemon answers.
///
/// Call only while holding the database lock ([`super::lock`]): that is what makes removing a
/// stale socket file safe.
pub fn bind(paths: &Paths) -> Result<UnixListener, ListenError> {
    let path = &paths.socket;
    check_length(path)?;
    let io = |source| ListenError::Io {
        path: path.clone(),
        source,
    };
    crate::paths::create_parent_dir(path).map_err(io)?;
    remove_stale(path)?;
    // The umask makes the socket 0600 from the moment it exists; no window where others can
    // connect. Still single-threaded here, so changing the process umask is safe.
    let listener = bind_with_mode(path, 0o600).map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    Ok(listener)
}

/// Binds `path` with permission bits `mode` from the moment it exists, through the umask: a
/// `chmod` afterwards would leave a window, and follows a link planted in the meantime. Only
/// while the process is single-threaded (start-up), as changing the umask is process-wide.
pub(super) fn bind_with_mode(path: &Path, mode: u32) -> io::Result<UnixListener> {
    // SAFETY: umask cannot fail; start-up runs single-threaded, so no other thread creates
    // files under the temporary umask.
    let old = unsafe { libc::umask(!mode as libc::mode_t & 0o777) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    bound
}

/// The filesystem path a listener is bound to, if it has one.
pub fn local_path(listener: &UnixListener) -> Option<PathBuf> {
    listener
        .local_addr()
        .ok()?
        .as_pathname()
        .map(Path::to_path_buf)
}

/// The longest path `sun_path` holds, leaving room for the terminating NUL.
fn max_path_len() -> usize {
    // SAFETY: sockaddr_un is plain old data; zeroed is a valid value.
    let addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_path.len() - 1
}

pub(super) fn check_length(path: &Path) -> Result<(), ListenError> {
    let len = path.as_os_str().len();
    let max = max_path_len();
    if len > max {
        return Err(ListenError::PathTooLong {
            path: path.into(),
            len,
            max,
        });
    }
    Ok(())
}

/// Removes a socket file nobody answers on; refuses if someone does, and refuses anything that
/// is not a socket (a `--socket` naming a regular file once deleted it).
pub(super) fn remove_stale(path: &Path) -> Result<(), ListenError> {
    let io = |source| ListenError::Io {
        path: path.into(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(ListenError::NotASocket { path: path.into() });
        }
        Ok(_) => {}
    }
    match UnixStream::connect(path) {
        Ok(stream) => {
            let pid = crate::peer::pid_of(&stream)
                .map(|p| format!(" (pid {p})"))
                .unwrap_or_default();
            Err(ListenError::InUse {
                path: path.into(),
                pid,
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        // Nobody listens: a socket left by a daemon that is gone.
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io(e)),
                _ => Ok(()),
            }
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths_in(dir: &Path) -> Paths {
        Paths::resolve(|_| None).with_overrides(
            Some(&dir.join("run/daemon.sock")),
            Some(&dir.join("k.sqlite")),
        )
    }

    #[test]
    fn binds_with_private_modes_and_recovers_a_stale_socket() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        drop(bind(&paths).unwrap());
        assert!(
            paths.socket.exists(),
            "a dropped listener leaves its file: a stale socket"
        );
        let listener = bind(&paths).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&paths.socket), 0o600);
        assert_eq!(mode(paths.socket.parent().unwrap()), 0o700);
        let err = bind(&paths).unwrap_err();
        assert!(matches!(err, ListenError::InUse { .. }), "{err}");
        drop(listener);
    }

    #[test]
    fn only_a_stale_socket_is_replaced_never_another_file() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path());
        crate::paths::create_parent_dir(&paths.socket).unwrap();
        std::fs::write(&paths.socket, "precious").unwrap();
        let err = bind(&paths).unwrap_err();
        assert!(matches!(err, ListenError::NotASocket { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&paths.socket).unwrap(), "precious");
        std::fs::remove_file(&paths.socket).unwrap();
        let elsewhere = dir.path().join("elsewhere.sock");
        drop(UnixListener::bind(&elsewhere).unwrap());
        std::os::unix::fs::symlink(&elsewhere, &paths.socket).unwrap();
        let err = bind(&paths).unwrap_err();
        assert!(matches!(err, ListenError::NotASocket { .. }), "{err}");
        assert!(elsewhere.exists());
        std::fs::create_dir(dir.path().join("run/dir.sock")).unwrap();
        let err = remove_stale(&dir.path().join("run/dir.sock")).unwrap_err();
        assert!(matches!(err, ListenError::NotASocket { .. }), "{err}");
    }

    #[test]
    fn overlong_paths_are_refused_with_the_limit() {
        let long = PathBuf::from(format!("/tmp/{}/daemon.sock", "x".repeat(200)));
        let paths = Paths::resolve(|_| None).with_overrides(Some(&long), None);
        let err = bind(&paths).unwrap_err().to_string();
        assert!(err.contains("at most"), "{err}");
    }
}
