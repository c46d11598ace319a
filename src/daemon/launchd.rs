//! macOS launchd socket activation (`launch_activate_socket`).

use std::ffi::CString;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixListener;

unsafe extern "C" {
    fn launch_activate_socket(
        name: *const libc::c_char,
        fds: *mut *mut libc::c_int,
        cnt: *mut libc::size_t,
    ) -> libc::c_int;
}

/// The first socket launchd passes under `name`, or `None` when not launched by launchd.
pub fn activate_socket(name: &str) -> Result<Option<UnixListener>, String> {
    let name = CString::new(name).map_err(|e| e.to_string())?;
    let mut fds: *mut libc::c_int = std::ptr::null_mut();
    let mut count: libc::size_t = 0;
    // SAFETY: valid out-pointers; launchd allocates `fds`, which we free below.
    let rc = unsafe { launch_activate_socket(name.as_ptr(), &mut fds, &mut count) };
    if rc == libc::ESRCH || rc == libc::ENOENT {
        return Ok(None);
    }
    if rc != 0 {
        return Err(format!(
            "launch_activate_socket failed: {}",
            std::io::Error::from_raw_os_error(rc)
        ));
    }
    // SAFETY: launchd returned `count` fds at `fds`; we take the first and close the rest.
    let taken = unsafe { std::slice::from_raw_parts(fds, count).to_vec() };
    unsafe { libc::free(fds.cast()) };
    for extra in taken.iter().skip(1) {
        unsafe { libc::close(*extra) };
    }
    let Some(&fd) = taken.first() else {
        return Ok(None);
    };
    let listener = unsafe { UnixListener::from_raw_fd(fd) };
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(Some(listener))
}
