//! Running in the background without a service manager: fork, and let the parent exit only once
//! the child is serving (or has failed), so `ocapd && ocapctl …` never races the start-up.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};

/// The detached child's line back to the waiting parent.
#[derive(Debug, Default)]
pub struct ReadyPipe {
    writer: Option<File>,
}

impl ReadyPipe {
    /// A pipe that goes nowhere (foreground or activated daemons).
    pub fn none() -> ReadyPipe {
        ReadyPipe::default()
    }

    /// Tells the parent the daemon serves `detail`; the parent then exits 0.
    pub fn ready(&mut self, detail: &str) {
        self.send(&format!("READY {detail}"));
    }

    /// Tells the parent why start-up failed; the parent prints it and exits 1.
    pub fn failed(&mut self, message: &str) {
        self.send(&format!("ERROR {message}"));
    }

    fn send(&mut self, line: &str) {
        if let Some(mut writer) = self.writer.take() {
            let _ = writeln!(writer, "{}", line.replace('\n', " "));
        }
    }
}

/// Forks. Returns in the child, in a new session with stdio on `/dev/null`; the parent waits for
/// the child's report and exits. Call before any thread exists.
pub fn detach() -> io::Result<ReadyPipe> {
    let (read, write) = pipe()?;
    // SAFETY: single-threaded at this point (see above), so fork is sound.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            drop(read);
            // SAFETY: plain syscalls in the child.
            unsafe { libc::setsid() };
            redirect_stdio()?;
            Ok(ReadyPipe {
                writer: Some(File::from(write)),
            })
        }
        child => {
            drop(write);
            std::process::exit(wait_for_child(File::from(read), child))
        }
    }
}

fn wait_for_child(read: File, child: libc::pid_t) -> i32 {
    let mut line = String::new();
    let _ = BufReader::new(read).read_line(&mut line);
    match line.trim_end().split_once(' ') {
        Some(("READY", detail)) => {
            eprintln!("ocapd running (pid {child}), {detail}");
            0
        }
        Some(("ERROR", message)) => {
            eprintln!("ocapd: {message}");
            1
        }
        _ => {
            eprintln!("ocapd: the daemon (pid {child}) exited during start-up; see its log");
            1
        }
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    for fd in fds {
        // SAFETY: fd was just returned by pipe().
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    // SAFETY: both fds are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn redirect_stdio() -> io::Result<()> {
    let null = File::options().read(true).write(true).open("/dev/null")?;
    for fd in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors.
        if unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
