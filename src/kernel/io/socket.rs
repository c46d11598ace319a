//! A channel's Unix socket on the filesystem: binding it, and removing it again. Runs on the
//! kernel thread, so it makes quick filesystem calls only — in particular the liveness probe of
//! an existing socket is a non-blocking `connect`, which a listener with a full backlog cannot
//! hold up.
//!
//! Unlike the reference, which unlinks whatever is at the path, this never deletes anything but
//! a socket nobody listens on: a regular file, a directory, a symlink or a live socket at the
//! path is left alone and the channel refused.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

/// A bound listening socket and the file it made.
#[derive(Debug)]
pub struct Bound {
    /// The listener, non-blocking.
    pub listener: UnixListener,
    /// The socket file.
    pub file: SocketFile,
}

/// A socket file this kernel made, known by its device and inode so that removing it never
/// removes a file someone else put at the path since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketFile {
    /// The path.
    pub path: PathBuf,
    dev: u64,
    ino: u64,
}

/// The longest path `sun_path` holds, leaving room for the terminating NUL.
pub fn max_path_len() -> usize {
    // SAFETY: sockaddr_un is plain old data; zeroed is a valid value.
    let addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_path.len() - 1
}

/// Binds channel `name`'s socket at `path` (absolute, checked for length): a stale socket there
/// is removed first; the new one is made `0600` (and clients are checked by peer credentials
/// when they connect, which also covers the moment between `bind` and `chmod`).
pub fn bind(name: &str, path: &Path) -> Result<Bound, String> {
    clear_stale(name, path)?;
    let listener = UnixListener::bind(path).map_err(|e| listen_error(&e, path))?;
    let file = match std::fs::symlink_metadata(path) {
        Ok(meta) => SocketFile {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        },
        Err(e) => return Err(listen_error(&e, path)),
    };
    let private = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| listener.set_nonblocking(true));
    if let Err(e) = private {
        file.remove();
        return Err(format!(
            "IO channel \"{name}\": cannot make {} private: {e}",
            path.display()
        ));
    }
    Ok(Bound { listener, file })
}

impl SocketFile {
    /// Removes the socket file, if the path still names it.
    pub fn remove(&self) {
        let ours = std::fs::symlink_metadata(&self.path).is_ok_and(|meta| {
            meta.file_type().is_socket() && meta.dev() == self.dev && meta.ino() == self.ino
        });
        if ours && let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!("cannot remove IO socket {}: {e}", self.path.display());
        }
    }
}

/// Removes a socket file nobody listens on; refuses anything else at the path.
fn clear_stale(name: &str, path: &Path) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(listen_error(&e, path)),
    };
    if !meta.file_type().is_socket() {
        return Err(format!(
            "IO channel \"{name}\": {} exists and is not a socket; it is left alone",
            path.display()
        ));
    }
    match is_listening(path) {
        Ok(true) => Err(format!(
            "IO channel \"{name}\": {} is in use: something listens on it",
            path.display()
        )),
        Ok(false) => match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(listen_error(&e, path)),
        },
        Err(e) => Err(listen_error(&e, path)),
    }
}

/// Whether a server listens on the socket at `path`: a non-blocking `connect` succeeds or
/// would block (a full backlog); `ECONNREFUSED` means the socket is stale.
fn is_listening(path: &Path) -> io::Result<bool> {
    match connect_nonblocking(path) {
        Ok(_) => Ok(true),
        Err(e) => match e.raw_os_error() {
            Some(libc::EAGAIN | libc::EINPROGRESS) => Ok(true),
            Some(libc::ECONNREFUSED) => Ok(false),
            _ => Err(e),
        },
    }
}

/// A `connect` to the socket at `path` that never waits (std's `UnixStream::connect` blocks
/// while the listener's backlog is full).
fn connect_nonblocking(path: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: fcntl on a descriptor we own.
    let set = unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) >= 0
    };
    if !set {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sockaddr_un is plain old data; zeroed is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (slot, byte) in addr.sun_path.iter_mut().zip(bytes) {
        *slot = *byte as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_un of `len` bytes and outlives the call.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len,
        )
    };
    match rc {
        0 => Ok(fd),
        _ => Err(io::Error::last_os_error()),
    }
}

/// A failure to listen, worded as Node words it (`listen EACCES: permission denied <path>`),
/// which is what the reference reports.
fn listen_error(error: &io::Error, path: &Path) -> String {
    let known = match error.raw_os_error() {
        Some(libc::ENOENT) => Some(("ENOENT", "no such file or directory")),
        Some(libc::EACCES) => Some(("EACCES", "permission denied")),
        Some(libc::EPERM) => Some(("EPERM", "operation not permitted")),
        Some(libc::EADDRINUSE) => Some(("EADDRINUSE", "address already in use")),
        Some(libc::ENOTDIR) => Some(("ENOTDIR", "not a directory")),
        Some(libc::EROFS) => Some(("EROFS", "read-only file system")),
        Some(libc::ENAMETOOLONG) => Some(("ENAMETOOLONG", "name too long")),
        Some(libc::ELOOP) => Some(("ELOOP", "too many symbolic links encountered")),
        Some(libc::ENOSPC) => Some(("ENOSPC", "no space left on device")),
        _ => None,
    };
    match known {
        Some((code, text)) => format!("listen {code}: {text} {}", path.display()),
        None => format!("listen: {error} {}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn binds_a_private_socket_and_removes_only_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("io.sock");
        let bound = bind("repl", &path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        UnixStream::connect(&path).unwrap();
        drop(bound.listener);
        // Someone else's file now at the path is not touched.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "mine").unwrap();
        bound.file.remove();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
    }

    #[test]
    fn a_stale_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("io.sock");
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let bound = bind("repl", &path).unwrap();
        UnixStream::connect(&path).unwrap();
        bound.file.remove();
        assert!(!path.exists());
    }

    #[test]
    fn a_live_socket_a_regular_file_and_a_directory_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.sock");
        let _listener = UnixListener::bind(&live).unwrap();
        let err = bind("repl", &live).unwrap_err();
        assert!(err.ends_with("is in use: something listens on it"), "{err}");
        UnixStream::connect(&live).unwrap();

        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "keep me").unwrap();
        let err = bind("repl", &file).unwrap_err();
        assert_eq!(
            err,
            format!(
                "IO channel \"repl\": {} exists and is not a socket; it is left alone",
                file.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");

        let err = bind("repl", dir.path()).unwrap_err();
        assert!(err.contains("is not a socket"), "{err}");
    }

    #[test]
    fn a_listener_with_a_full_backlog_is_live_and_the_probe_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        // Fill the backlog with connections nobody accepts.
        let mut held = Vec::new();
        for _ in 0..4096 {
            match connect_nonblocking(&path) {
                Ok(fd) => held.push(fd),
                Err(_) => break,
            }
        }
        assert!(is_listening(&path).unwrap());
    }

    #[test]
    fn failures_are_worded_as_node_words_them() {
        let err = bind("repl", Path::new("/nonexistent-ocap-dir/io.sock")).unwrap_err();
        assert_eq!(
            err,
            "listen ENOENT: no such file or directory /nonexistent-ocap-dir/io.sock"
        );
    }
}
