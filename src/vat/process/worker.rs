//! One worker process and the request/answer exchange with it.

use crate::vat::{Delivery, DeliveryResult, Syscall, Syscalls, VatFault, VatRuntime};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A vat running in a child process.
pub struct ProcessVat {
    vat_id: String,
    config: Value,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    next_id: u64,
}

impl ProcessVat {
    /// Starts `command` for vat `vat_id`.
    pub fn spawn(vat_id: &str, command: &[String], config: Value) -> Result<ProcessVat, String> {
        let (program, args) = command.split_first().ok_or("empty worker command")?;
        let mut child = Command::new(program)
            .args(args)
            .env("OCAP_VAT_ID", vat_id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start worker {program}: {e}"))?;
        let stdin = child.stdin.take().ok_or("worker has no stdin")?;
        let stdout = child.stdout.take().ok_or("worker has no stdout")?;
        // A reader thread turns the worker's output into lines, so a read can have a deadline.
        let (sender, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("vat-{vat_id}-out"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(ProcessVat {
            vat_id: vat_id.into(),
            config,
            child,
            stdin,
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
        writeln!(self.stdin, "{line}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| self.crashed(format!("writing to the worker: {e}")))?;
        let deadline = Instant::now() + budget;
        loop {
            let line = match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
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
        let _ = self.child.kill();
        VatFault::Crashed(why)
    }
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
