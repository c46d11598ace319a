//! Peer credentials of a Unix socket connection (`SO_PEERCRED` / `getpeereid`).

use std::os::fd::AsRawFd;

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Effective user id.
    pub uid: u32,
    /// Process id, where the platform tells it.
    pub pid: Option<i32>,
}

/// The peer of a connected socket.
#[cfg(target_os = "linux")]
pub fn peer_of(socket: &impl AsRawFd) -> std::io::Result<Peer> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Peer {
        uid: cred.uid,
        pid: Some(cred.pid),
    })
}

/// The peer of a connected socket.
#[cfg(not(target_os = "linux"))]
pub fn peer_of(socket: &impl AsRawFd) -> std::io::Result<Peer> {
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: both out-pointers are valid.
    if unsafe { libc::getpeereid(socket.as_raw_fd(), &mut uid, &mut gid) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Peer { uid, pid: None })
}

/// The pid of the process at the other end, if the platform tells it.
pub fn pid_of(socket: &impl AsRawFd) -> Option<i32> {
    peer_of(socket).ok().and_then(|p| p.pid)
}

/// Whether the other end has closed the connection entirely (not only its writing side, after
/// which it may still be waiting for an answer): poll(2) reports `POLLHUP` once both
/// directions are shut. Does not wait.
pub fn hung_up(socket: &impl AsRawFd) -> bool {
    let mut fd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, and a zero timeout.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    ready > 0 && fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

/// Whether `peer` may use a daemon running as `own_uid`: the same user, or root.
pub fn allowed(peer: Peer, own_uid: u32) -> bool {
    peer.uid == own_uid || peer.uid == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socketpair_peer_is_this_process() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let peer = peer_of(&a).unwrap();
        assert_eq!(peer.uid, unsafe { libc::geteuid() });
        #[cfg(target_os = "linux")]
        assert_eq!(peer.pid, Some(std::process::id() as i32));
    }

    #[test]
    fn a_half_close_is_not_a_hang_up_but_a_close_is() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!hung_up(&a));
        b.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(!hung_up(&a), "the peer may still be reading");
        drop(b);
        assert!(hung_up(&a));
    }

    #[test]
    fn only_the_owner_and_root_are_allowed() {
        assert!(allowed(
            Peer {
                uid: 1000,
                pid: None
            },
            1000
        ));
        assert!(allowed(Peer { uid: 0, pid: None }, 1000));
        assert!(!allowed(
            Peer {
                uid: 65534,
                pid: None
            },
            1000
        ));
    }
}
