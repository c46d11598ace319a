//! One worker process and the request/answer exchange with it.
//!
//! The worker runs in a process group of its own, and the whole group is killed when the vat
//! ends (terminated, timed out, crashed, or the daemon stopping), so processes the worker
//! started do not outlive it. Its lines are read and written by threads of their own, never by
//! the kernel thread: a line is at most [`MAX_LINE`] bytes and at most [`QUEUED_LINES`] wait
//! to be taken, and a worker that stops reading its input cannot block the kernel.

use crate::vat::{Delivery, DeliveryResult, Syscall, Syscalls, VatFault, VatRuntime};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::{Duration, Instant};

/// Bytes one line from a worker may have: one endless line used to grow the daemon until it
/// aborted.
pub const MAX_LINE: usize = 8 << 20;
/// Lines read ahead of the kernel; then the reader waits, and the worker with it.
pub const QUEUED_LINES: usize = 8;

/// A vat running in a child process.
pub struct ProcessVat {
    vat_id: String,
    config: Value,
    child: Child,
    input: Sender<String>,
    lines: Receiver<Result<String, String>>,
    next_id: u64,
}

impl ProcessVat {
    /// Starts `command` for vat `vat_id`, in a process group of its own.
    pub fn spawn(vat_id: &str, command: &[String], config: Value) -> Result<ProcessVat, String> {
        let (program, args) = command.split_first().ok_or("empty worker command")?;
        let mut child = Command::new(program)
            .args(args)
            .env("OCAP_VAT_ID", vat_id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start worker {program}: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("worker has no stdin")?;
        let stdout = child.stdout.take().ok_or("worker has no stdout")?;
        // A reader thread turns the worker's output into lines, so a read can have a deadline.
        let (sender, lines) = mpsc::sync_channel(QUEUED_LINES);
        let reader = std::thread::Builder::new()
            .name(format!("vat-{vat_id}-out"))
            .spawn(move || read_lines(stdout, &sender));
        // A writer thread, so that a worker that never reads cannot block the kernel thread.
        let (input, requests) = mpsc::channel::<String>();
        let writer = std::thread::Builder::new()
            .name(format!("vat-{vat_id}-in"))
            .spawn(move || {
                for line in requests {
                    if stdin
                        .write_all(line.as_bytes())
                        .and_then(|()| stdin.flush())
                        .is_err()
                    {
                        break;
                    }
                }
            });
        if let Err(e) = reader.and(writer) {
            kill_group(&mut child);
            let _ = child.wait();
            return Err(e.to_string());
        }
        Ok(ProcessVat {
            vat_id: vat_id.into(),
            config,
            child,
            input,
            lines,
            next_id: 0,
        })
    }

    /// Sends a request and relays syscalls until its answer, within `budget`.
    fn request(
        &mut self,
        method: &str,
        params: Value,
        syscalls: &mut dyn Syscalls,
        budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        self.next_id += 1;
        let id = format!("{}:{}", self.vat_id, self.next_id);
        let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        if self.input.send(format!("{line}\n")).is_err() {
            return Err(self.crashed("the worker no longer reads its input".into()));
        }
        let deadline = Instant::now() + budget;
        loop {
            let line = match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(Ok(line)) => line,
                Ok(Err(why)) => return Err(self.crashed(why)),
                Err(RecvTimeoutError::Timeout) => {
                    kill_group(&mut self.child);
                    return Err(VatFault::Timeout(budget));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.crashed("the worker exited".into()));
                }
            };
            let message: Value = serde_json::from_str(&line)
                .map_err(|e| self.crashed(format!("worker sent invalid JSON: {e}")))?;
            if message.get("method").and_then(Value::as_str) == Some("syscall") {
                let syscall = Syscall::from_json(&message["params"])
                    .map_err(|e| self.crashed(format!("worker sent a bad syscall: {e}")))?;
                syscalls.syscall(syscall);
                continue;
            }
            if message.get("id").and_then(Value::as_str) != Some(id.as_str()) {
                return Err(self.crashed(format!("worker sent an unexpected message: {line}")));
            }
            if let Some(error) = message.get("error") {
                let text = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("worker error");
                return Ok(DeliveryResult {
                    error: Some(text.to_string()),
                    ..Default::default()
                });
            }
            return serde_json::from_value(message["result"].clone())
                .map_err(|e| self.crashed(format!("worker sent a bad result: {e}")));
        }
    }

    fn crashed(&mut self, why: String) -> VatFault {
        kill_group(&mut self.child);
        VatFault::Crashed(why)
    }
}

/// Sends the worker's lines to `sender` until its output ends, a line is too long or not
/// UTF-8 (then the reason, and the end), or nobody takes them any more.
fn read_lines(stdout: ChildStdout, sender: &SyncSender<Result<String, String>>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = Vec::new();
        let read = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line);
        let item = match read {
            Ok(0) | Err(_) => return,
            Ok(_) if line.last() == Some(&b'\n') => {
                line.pop();
                String::from_utf8(line)
                    .map_err(|_| "the worker sent a line that is not UTF-8".into())
            }
            Ok(_) if line.len() > MAX_LINE => Err(format!(
                "the worker sent a line longer than {} MiB",
                MAX_LINE >> 20
            )),
            // The last line, cut off by the worker's exit.
            Ok(_) => String::from_utf8(line)
                .map_err(|_| "the worker sent a line that is not UTF-8".into()),
        };
        let last = item.is_err();
        if sender.send(item).is_err() || last {
            return;
        }
    }
}

/// Kills the worker and every process in its group (it leads a group of its own). Before the
/// worker is reaped, so its pid, and with it the group's id, cannot have been reused.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) on the group the worker leads; it cannot fail in a way that matters.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    let _ = child.kill();
}

impl VatRuntime for ProcessVat {
    fn init(
        &mut self,
        state: Vec<(String, String)>,
        syscalls: &mut dyn Syscalls,
        budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        let params = json!({"vatConfig": self.config, "state": state});
        self.request("initVat", params, syscalls, budget)
    }

    fn deliver(
        &mut self,
        delivery: &Delivery,
        syscalls: &mut dyn Syscalls,
        budget: Duration,
    ) -> Result<DeliveryResult, VatFault> {
        self.request("deliver", delivery.to_json(), syscalls, budget)
    }
}

impl Drop for ProcessVat {
    fn drop(&mut self) {
        kill_group(&mut self.child);
        let _ = self.child.wait();
    }
}
