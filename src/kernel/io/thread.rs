//! The IO thread: a single-threaded tokio runtime on a thread of its own that runs every
//! channel's socket tasks, so that the kernel thread never waits on a socket (DESIGN.md
//! "Threads"). Started with the first channel; stopped, dropping every socket, when the kernel
//! goes.

use std::thread::JoinHandle;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The running IO thread.
pub struct IoThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl IoThread {
    /// Starts the thread and its runtime.
    pub fn start() -> Result<IoThread, String> {
        let (ready, started) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("kernel-io".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => return drop(ready.send(Err(e.to_string()))),
                };
                let _ = ready.send(Ok(runtime.handle().clone()));
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Dropping the runtime drops every task, and with them every socket.
            })
            .map_err(|e| format!("cannot start the IO thread: {e}"))?;
        let handle = started
            .recv()
            .map_err(|_| "the IO thread died while starting".to_string())??;
        Ok(IoThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where channel tasks are spawned.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for IoThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
