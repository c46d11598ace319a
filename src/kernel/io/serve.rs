//! A channel's socket on the IO thread. The listener task accepts one client at a time (others
//! of the daemon's own user or root only, by peer credentials); the client task reads lines into
//! the [`Shared`] inbox while it has room, and writes what the kernel sends once committed.

use super::inbox::{Charge, Event, MAX_LINE, Shared};
use super::lines::LineSplitter;
use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::Interest;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What the kernel asks of a channel's listener task.
pub enum Command {
    /// Send `data` to client `client`, if it is still the one connected.
    Write {
        /// The client the write was accepted for.
        client: u64,
        /// The bytes, newline included.
        data: Vec<u8>,
        /// Counts the bytes until they are written or dropped.
        charge: Charge,
    },
    /// Stop: drop the client and the listener.
    Close,
}

/// The connected client, as the listener task sees it.
struct Client {
    id: u64,
    stream: Arc<UnixStream>,
    writes: mpsc::UnboundedSender<(Vec<u8>, Charge)>,
    task: JoinHandle<()>,
}

/// Serves channel `name` until told to close (or the kernel is gone).
pub async fn listen(
    name: String,
    listener: std::os::unix::net::UnixListener,
    shared: Arc<Shared>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let listener = match UnixListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => return tracing::error!("IO channel \"{name}\" cannot listen: {e}"),
    };
    // SAFETY: geteuid cannot fail.
    let own_uid = unsafe { libc::geteuid() };
    let mut next = 0;
    let mut current: Option<Client> = None;
    loop {
        let may_accept = shared.may_accept();
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                None | Some(Command::Close) => break,
                Some(Command::Write { client, data, charge }) => match &current {
                    Some(c) if c.id == client => drop(c.writes.send((data, charge))),
                    // For a client that has gone: dropped, as the socket would have.
                    _ => drop((data, charge)),
                },
            },
            accepted = listener.accept(), if may_accept => match accepted {
                Ok((stream, _)) => {
                    match crate::peer::peer_of(&stream) {
                        Ok(peer) if crate::peer::allowed(peer, own_uid) => {}
                        Ok(peer) => {
                            tracing::debug!(uid = peer.uid, "IO channel \"{name}\": refused a client of another user");
                            continue;
                        }
                        Err(e) => {
                            tracing::debug!("IO channel \"{name}\": no peer credentials: {e}");
                            continue;
                        }
                    }
                    if let Some(c) = &current {
                        // One client at a time, unless the one we have is dead already.
                        if !c.task.is_finished() && !is_gone(&c.stream) {
                            drop(stream);
                            continue;
                        }
                        finish(current.take().expect("checked")).await;
                    }
                    next += 1;
                    current = Some(start_client(next, stream, &shared));
                }
                Err(e) => {
                    // Out of file descriptors, say: try again a little later, not at once.
                    tracing::warn!("IO channel \"{name}\": accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = shared.wait_for(Shared::may_accept), if !may_accept => {}
        }
    }
    if let Some(c) = current {
        c.task.abort();
        shared.set_client(0);
    }
}

fn start_client(id: u64, stream: UnixStream, shared: &Arc<Shared>) -> Client {
    shared.set_client(id);
    shared.push([Event::Connected(id)]);
    let stream = Arc::new(stream);
    let (writes, receiver) = mpsc::unbounded_channel();
    let task = tokio::spawn(serve_client(
        id,
        Arc::clone(&stream),
        Arc::clone(shared),
        receiver,
    ));
    Client {
        id,
        stream,
        writes,
        task,
    }
}

/// Ends a dead client's task (it delivers its last line and the disconnect) and waits for it.
async fn finish(client: Client) {
    drop(client.writes);
    let _ = client.task.await;
}

/// Whether the client has hung up with nothing left unread. Asked only while its task is not
/// reading (its input is over budget), since a reading task notices by itself.
fn is_gone(stream: &UnixStream) -> bool {
    let mut byte = 0u8;
    // SAFETY: a one-byte peek into a valid buffer on a descriptor the stream owns.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => true,
        n if n > 0 => false,
        _ => {
            let error = std::io::Error::last_os_error();
            error.kind() != std::io::ErrorKind::WouldBlock
        }
    }
}

/// How a client's connection ended.
enum Ending {
    /// It hung up (or the connection failed): its last partial line still counts.
    Gone,
    /// It sent a line longer than [`MAX_LINE`]: dropped, the line discarded.
    TooLong,
}

/// Reads and writes one client until it goes.
async fn serve_client(
    id: u64,
    stream: Arc<UnixStream>,
    shared: Arc<Shared>,
    mut writes: mpsc::UnboundedReceiver<(Vec<u8>, Charge)>,
) {
    let mut splitter = LineSplitter::new(MAX_LINE);
    let mut out: VecDeque<(Vec<u8>, Charge)> = VecDeque::new();
    let mut sent = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let ending = loop {
        let reading = shared.has_room();
        let interest = match (reading, !out.is_empty()) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        };
        tokio::select! {
            biased;
            ready = stream.ready(interest.unwrap_or(Interest::READABLE)), if interest.is_some() => {
                let Ok(ready) = ready else { break Ending::Gone };
                if reading && ready.is_readable() {
                    let at_most = shared.readable().min(buf.len());
                    match stream.try_read(&mut buf[..at_most]) {
                        Ok(0) => break Ending::Gone,
                        Ok(n) => {
                            let mut lines = Vec::new();
                            let fed = splitter.feed(&buf[..n], &mut lines);
                            shared.push(lines.into_iter().map(Event::Line));
                            if let Err(too_long) = fed {
                                tracing::warn!(
                                    "IO channel client {id} sent a line over {} bytes; dropped",
                                    too_long.max
                                );
                                break Ending::TooLong;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => break Ending::Gone,
                    }
                }
                if ready.is_writable() && !write_some(&stream, &mut out, &mut sent) {
                    break Ending::Gone;
                }
            }
            write = writes.recv() => match write {
                Some(write) => out.push_back(write),
                // The listener gave up on us: the client is known to be gone.
                None => break Ending::Gone,
            },
            () = shared.wait_for(Shared::has_room), if !reading => {}
        }
    };
    let last = match ending {
        Ending::Gone => splitter.finish(),
        Ending::TooLong => None,
    };
    // The listener keeps a handle on the stream; shutting it down ends the connection for the
    // client now, whoever still holds it.
    // SAFETY: shutdown(2) on a descriptor the stream owns.
    unsafe { libc::shutdown(stream.as_raw_fd(), libc::SHUT_RDWR) };
    shared.set_client(0);
    shared.push(
        last.map(Event::Line)
            .into_iter()
            .chain([Event::Disconnected(id)]),
    );
}

/// Writes what it can of `out` without waiting; false if the connection failed.
fn write_some(
    stream: &UnixStream,
    out: &mut VecDeque<(Vec<u8>, Charge)>,
    sent: &mut usize,
) -> bool {
    while let Some((data, _)) = out.front() {
        match stream.try_write(&data[*sent..]) {
            Ok(n) => {
                *sent += n;
                if *sent == data.len() {
                    out.pop_front();
                    *sent = 0;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
    true
}
