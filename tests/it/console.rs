//! `ocapctl console` through a real pseudo-terminal (openpty): line editing, `let` names,
//! Tab completion of commands and of the methods a target reports, capability files.

use crate::common::{Home, OCAPCTL};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A console on the child side of a pty; everything it writes is collected.
struct Console {
    child: Child,
    input: std::fs::File,
    screen: Arc<Mutex<Vec<u8>>>,
    seen: usize,
}

impl Console {
    fn start(home: &Home) -> Console {
        let (mut parent, mut child_side) = (-1, -1);
        let size = libc::winsize {
            ws_row: 40,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let opened = unsafe {
            libc::openpty(
                &mut parent,
                &mut child_side,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
        let (parent, child_side) = unsafe {
            (
                OwnedFd::from_raw_fd(parent),
                OwnedFd::from_raw_fd(child_side),
            )
        };
        let child = home
            .command(OCAPCTL)
            .arg("console")
            .env("TERM", "xterm")
            .current_dir(home.path())
            .stdin(Stdio::from(child_side.try_clone().unwrap()))
            .stdout(Stdio::from(child_side.try_clone().unwrap()))
            .stderr(Stdio::from(child_side))
            .spawn()
            .unwrap();
        let input = std::fs::File::from(parent.try_clone().unwrap());
        let screen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&screen);
        let mut output = std::fs::File::from(parent);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            // Ends with EIO once the console has exited and the pty is closed.
            while let Ok(n) = output.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        Console {
            child,
            input,
            screen,
            seen: 0,
        }
    }

    fn type_keys(&mut self, keys: &str) {
        self.input.write_all(keys.as_bytes()).unwrap();
    }

    /// Waits until the screen shows `text` after what earlier expectations consumed.
    fn expect(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned();
            if let Some(at) = screen[self.seen..].find(text) {
                let shown = screen[self.seen..self.seen + at + text.len()].to_string();
                self.seen += at + text.len();
                return shown;
            }
            assert!(
                Instant::now() < deadline,
                "the console never showed {text:?}; it showed:\n{}",
                &screen[self.seen..]
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types a line and Enter.
    fn line(&mut self, text: &str) {
        self.type_keys(&format!("{text}\r"));
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn a_console_session_names_results_and_completes_methods() {
    let home = Home::new();
    let _daemon = home.daemon(&[]);
    crate::common::launch_test_vat(&home, "url-holder");
    let root = home.path().join("root.ocap");
    let issued = home.ocapctl(&["caps", "issue", "ko4", "--out", root.to_str().unwrap()]);
    assert!(issued.status.success());

    let mut console = Console::start(&home);
    console.expect("ocap> ");
    console.line("vats");
    console.expect("v1    s1    file://");
    // Tab completes a command…
    console.type_keys("subc\t\r");
    console.expect("s1    bootstrap url-holder");
    console.line("let c = send ko4 makeCounter");
    console.expect(r#"c = "<ko5> (Alleged: Counter)""#);
    // …and a method name, from what the object reports.
    console.type_keys("send c i\t\r");
    console.expect("send c inc");
    console.expect("\n1\r\n");
    console.line("send c inc");
    console.expect("\n2\r\n");
    console.line("methods c");
    console.expect("inc  read");
    // Names through a capability file are capabilities.
    console.line("let r = send root.ocap makeCounter");
    console.expect("r = \"<ocap:z");
    console.line("send r inc");
    console.expect("\n1\r\n");
    console.line("send r read");
    console.expect("\n1\r\n");
    console.line("names");
    console.expect("r = (a capability)");
    // Mistakes are reported and the session goes on.
    console.line("send nobody inc");
    console.expect("Error: nobody is not a name");
    console.line("send c frob");
    console.expect("Error:");
    console.line("send c read");
    console.expect("\n2\r\n");
    console.type_keys("quit\r");
    assert!(console.child.wait().unwrap().success());
    let history = home.path().join("console_history");
    let mode = std::fs::metadata(&history).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(&history)
            .unwrap()
            .contains("let c = send ko4 makeCounter")
    );
}
