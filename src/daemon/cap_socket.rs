//! Binding the least-authority capability socket (`--cap-socket`, `ocap-caps.socket`): any user
//! may connect (what it serves is `methods/cap_socket.rs`). Who may connect is the socket file's
//! mode, chosen by the admin: bound by ocapd it is 0666; under systemd,
//! `SocketMode=`/`SocketGroup=` decide.

use super::listen::{ListenError, bind_with_mode, check_length, remove_stale};
use std::os::unix::net::UnixListener;
use std::path::Path;

/// Binds `path` mode 0666, replacing a stale socket file (nothing else). Call only while
/// holding the database lock (see [`super::listen::bind`]). The directory is left as the admin
/// made it.
pub fn bind(path: &Path) -> Result<UnixListener, ListenError> {
    check_length(path)?;
    let io = |source| ListenError::Io {
        path: path.to_path_buf(),
        source,
    };
    remove_stale(path)?;
    let listener = bind_with_mode(path, 0o666).map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    Ok(listener)
}
