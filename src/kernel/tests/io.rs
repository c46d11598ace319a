//! IO channels (spec §3.4) through the kernel, with scripted vats and real Unix-socket clients:
//! the services a launch registers, `read()` waiting for lines and answered by cranks of their
//! own, `write()` leaving only after the commit, the reference's error texts, and channels
//! closed with their subcluster, re-created at restart, and bounded against hostile clients.

use super::{Harness, body};
use crate::kernel::Reply;
use crate::kernel::{Call, LaunchPlan};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An answer that may come later.
type Slot = Arc<Mutex<Option<Result<Value, String>>>>;

impl Harness {
    /// Launches the scripted `counter` vat with `io` channels and `services`.
    fn launch_io(&mut self, io: Value, services: &[&str]) -> Result<Value, String> {
        let vat =
            json!({"bundleSpec": "file:///counter.bundle", "parameters": {"name": "counter"}});
        self.launch_io_vat(io, services, vat)
    }

    fn launch_io_vat(&mut self, io: Value, services: &[&str], vat: Value) -> Result<Value, String> {
        let raw = json!({"bootstrap": "counter", "io": io, "services": services,
                         "vats": {"counter": vat}});
        let config = crate::kernel::config::ClusterConfig::from_validated(raw);
        self.call(Call::Launch(LaunchPlan::from(config)))
    }

    /// Starts a call whose answer may come only after input arrives.
    fn start(&mut self, call: Call) -> Slot {
        let slot: Slot = Arc::default();
        let answer = Arc::clone(&slot);
        self.kernel().call(
            call,
            Reply::code(move |a| *answer.lock().unwrap() = Some(a.map_err(|e| e.to_string()))),
        );
        self.run();
        slot
    }

    /// Runs the kernel (as its loop would when woken) until `slot` is answered.
    fn wait(&mut self, slot: &Slot) -> Result<Value, String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.run();
            if let Some(answer) = slot.lock().unwrap().take() {
                return answer;
            }
            assert!(Instant::now() < deadline, "no answer within 20 s");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Whether `slot` stays unanswered while the kernel runs for a while.
    fn still_waiting(&mut self, slot: &Slot) -> bool {
        for _ in 0..20 {
            self.run();
            std::thread::sleep(Duration::from_millis(5));
        }
        slot.lock().unwrap().is_none()
    }

    fn io_send(&mut self, kref: &str, method: &str, args: Value) -> Slot {
        self.start(Call::QueueMessage {
            target: kref.into(),
            method: method.into(),
            args: args.as_array().cloned().unwrap_or_default(),
        })
    }
}

fn socket_at(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

fn io(path: &Path) -> Value {
    json!({"repl": {"type": "socket", "path": path}})
}

/// A client connected once the channel listens.
fn connect(path: &Path) -> UnixStream {
    let stream = UnixStream::connect(path).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Waits until the kernel knows the client is connected (a write no longer fails for lack of
/// one), so that what the test does next happens in a known order.
fn until_connected(h: &mut Harness, kref: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let slot = h.io_send(kref, "write", json!(["hello?"]));
        match h.wait(&slot) {
            Ok(_) => return,
            Err(e) if e.contains("has no connected client") => {}
            Err(e) => panic!("{e}"),
        }
        assert!(Instant::now() < deadline, "the client never became current");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the kernel knows the client left (a write fails for lack of one): a read issued
/// before that would be answered by the disconnect.
fn until_disconnected(h: &mut Harness, kref: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let slot = h.io_send(kref, "write", json!(["anyone?"]));
        if h.wait(&slot)
            .is_err_and(|e| e.contains("has no connected client"))
        {
            return;
        }
        assert!(Instant::now() < deadline, "the client never left");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn line_of(value: &Value) -> &str {
    body(value)
}

#[test]
fn channels_get_their_krefs_before_the_vats_and_are_private_spec_3_3_step_4() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    let launched = h.launch_io(io(&path), &["repl"]).unwrap();
    assert_eq!(launched["rootKref"], "ko5", "ko4 is the channel's service");
    assert_eq!(h.kv("kernelService.io:s1:repl").as_deref(), Some("ko4"));
    assert_eq!(h.kv("ko4.owner").as_deref(), Some("kernel"));
    assert_eq!(h.kv("pinnedObjects").as_deref(), Some("ko1,ko2,ko3,ko4"));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    h.assert_invariants();
}

#[test]
fn read_waits_for_lines_split_anyhow_and_a_disconnect_answers_null_after_the_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    h.launch_io(io(&path), &[]).unwrap();
    let first = h.io_send("ko4", "read", json!([]));
    assert!(
        h.still_waiting(&first),
        "no client, no line: the read waits"
    );
    let mut client = connect(&path);
    client.write_all("hé".as_bytes()[..2].as_ref()).unwrap();
    assert!(h.still_waiting(&first), "half a line is no line");
    client.write_all(&"hé".as_bytes()[2..]).unwrap();
    client.write_all(b"llo\nwor").unwrap();
    assert_eq!(line_of(&h.wait(&first).unwrap()), "#\"héllo\"");
    let second = h.io_send("ko4", "read", json!([]));
    let third = h.io_send("ko4", "read", json!([]));
    client.write_all(b"ld").unwrap();
    drop(client);
    assert_eq!(line_of(&h.wait(&second).unwrap()), "#\"world\"");
    assert_eq!(line_of(&h.wait(&third).unwrap()), "#null");
    // A read after the disconnect waits for the next client.
    let fourth = h.io_send("ko4", "read", json!([]));
    assert!(h.still_waiting(&fourth));
    let mut client = connect(&path);
    client.write_all(b"again\n").unwrap();
    assert_eq!(line_of(&h.wait(&fourth).unwrap()), "#\"again\"");
    assert_eq!(h.kv("ioReads.io:s1:repl"), None);
    assert_eq!(
        h.promise_rows(),
        Vec::<String>::new(),
        "answered reads leave nothing"
    );
    h.assert_invariants();
}

#[test]
fn lines_sent_before_a_read_wait_for_it_and_a_new_client_drops_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    h.launch_io(io(&path), &[]).unwrap();
    let mut client = connect(&path);
    client.write_all(b"one\ntwo\nstale\n").unwrap();
    until_connected(&mut h, "ko4");
    for expected in ["one", "two"] {
        let read = h.io_send("ko4", "read", json!([]));
        assert_eq!(line_of(&h.wait(&read).unwrap()), format!("#\"{expected}\""));
    }
    drop(client);
    until_disconnected(&mut h, "ko4");
    let mut next = connect(&path);
    next.write_all(b"fresh\n").unwrap();
    until_connected(&mut h, "ko4");
    let read = h.io_send("ko4", "read", json!([]));
    assert_eq!(
        line_of(&h.wait(&read).unwrap()),
        "#\"fresh\"",
        "stale was dropped"
    );
}

#[test]
fn one_client_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    h.launch_io(io(&path), &[]).unwrap();
    let mut first = connect(&path);
    until_connected(&mut h, "ko4");
    let mut second = connect(&path);
    let mut buf = [0u8; 16];
    assert_eq!(
        second.read(&mut buf).unwrap(),
        0,
        "the second client is dropped"
    );
    first.write_all(b"still here\n").unwrap();
    let read = h.io_send("ko4", "read", json!([]));
    assert_eq!(line_of(&h.wait(&read).unwrap()), "#\"still here\"");
    drop(first);
    until_disconnected(&mut h, "ko4");
    let mut third = connect(&path);
    third.write_all(b"my turn\n").unwrap();
    let read = h.io_send("ko4", "read", json!([]));
    assert_eq!(line_of(&h.wait(&read).unwrap()), "#\"my turn\"");
}

#[test]
fn write_goes_to_the_client_after_the_commit_and_needs_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    h.launch_io(io(&path), &[]).unwrap();
    let write = h.io_send("ko4", "write", json!(["hi"]));
    assert_eq!(
        h.wait(&write).unwrap_err(),
        "[KERNEL:DELIVERY_FAILED] IO channel \"repl\" has no connected client"
    );
    let client = connect(&path);
    until_connected(&mut h, "ko4");
    let mut lines = BufReader::new(client);
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    assert_eq!(line, "hello?\n");

    // Written in a crank, held until the batch commits.
    let slot: Slot = Arc::default();
    let answer = Arc::clone(&slot);
    h.kernel().call(
        Call::QueueMessage {
            target: "ko4".into(),
            method: "write".into(),
            args: vec![json!("après")],
        },
        Reply::code(move |a| *answer.lock().unwrap() = Some(a.map_err(|e| e.to_string()))),
    );
    while h.kernel().crank().unwrap() {}
    lines
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut early = String::new();
    assert!(
        lines.read_line(&mut early).is_err(),
        "nothing before the commit: {early:?}"
    );
    h.kernel().commit().unwrap();
    lines
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    assert_eq!(early + &line, "après\n");
    assert_eq!(body(&h.wait(&slot).unwrap()), "#\"#undefined\"");

    let wrong = h.io_send("ko4", "write", json!([42]));
    assert_eq!(
        h.wait(&wrong).unwrap_err(),
        "[KERNEL:DELIVERY_FAILED] IO channel \"repl\": write() takes a string"
    );
    let odd = h.io_send("ko4", "seek", json!([]));
    assert_eq!(
        h.wait(&odd).unwrap_err(),
        "[KERNEL:DELIVERY_FAILED] IO channel \"io:s1:repl\" has no method \"seek\""
    );
}

#[test]
fn directions_refuse_the_other_way_with_the_reference_texts() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new();
    let io = json!({
        "in": {"type": "socket", "path": dir.path().join("in.sock"), "direction": "in"},
        "out": {"type": "socket", "path": dir.path().join("out.sock"), "direction": "out", "unit": "line"},
    });
    h.launch_io(io, &["in", "out"]).unwrap();
    assert_eq!(h.kv("kernelService.io:s1:in").as_deref(), Some("ko4"));
    assert_eq!(h.kv("kernelService.io:s1:out").as_deref(), Some("ko5"));
    let write = h.io_send("ko4", "write", json!(["x"]));
    assert_eq!(
        h.wait(&write).unwrap_err(),
        "[KERNEL:DELIVERY_FAILED] IO channel \"io:s1:in\" is read-only"
    );
    let read = h.io_send("ko5", "read", json!([]));
    assert_eq!(
        h.wait(&read).unwrap_err(),
        "[KERNEL:DELIVERY_FAILED] IO channel \"io:s1:out\" is write-only"
    );
}

#[test]
fn unsupported_types_and_unusable_paths_are_refused_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new();
    for (io, expected) in [
        (
            json!({"c": {"type": "console"}}),
            "Unsupported IO channel type \"console\" for channel \"c\"",
        ),
        (
            json!({"l": {"type": "listen", "hostport": "127.0.0.1:1"}}),
            "Unsupported IO channel type \"listen\" for channel \"l\"",
        ),
        (
            json!({"n": {"type": "network", "hostport": "127.0.0.1:1"}}),
            "Unsupported IO channel type \"network\" for channel \"n\"",
        ),
        (
            json!({"f": {"type": "file", "path": "/tmp/x"}}),
            "Unsupported IO channel type \"file\" for channel \"f\"",
        ),
        (
            json!({"r": {"type": "socket", "path": "relative.sock"}}),
            "IO channel \"r\": the socket path must be absolute, not \"relative.sock\"",
        ),
    ] {
        assert_eq!(h.launch_io(io, &[]).unwrap_err(), expected);
    }
    assert_eq!(
        h.kv("nextSubclusterId").as_deref(),
        Some("1"),
        "nothing was started"
    );
    assert_eq!(h.kernel().warehouse.loaded(), Vec::<String>::new());

    // A later channel that cannot be bound undoes the earlier one.
    let first = dir.path().join("first.sock");
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "keep").unwrap();
    let io = json!({"a": {"type": "socket", "path": first}, "b": {"type": "socket", "path": file}});
    let err = h.launch_io(io, &[]).unwrap_err();
    assert!(
        err.ends_with("exists and is not a socket; it is left alone"),
        "{err}"
    );
    assert!(!first.exists(), "the first channel was closed again");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");

    // So does a vat that cannot start.
    let vat = json!({"bundleSpec": "file:///broken.bundle"});
    let err = h.launch_io_vat(io_at(&first), &[], vat).unwrap_err();
    assert_eq!(err, "Failed to launch vat v1 (counter)");
    assert!(!first.exists());
    assert_eq!(h.keys("kernelService.io"), Vec::<String>::new());
    assert_eq!(h.kernel().io.len(), 0);
    h.assert_invariants();

    // A service that is neither registered nor a channel of this config is refused.
    let err = h.launch_io(io_at(&first), &["repl", "nope"]).unwrap_err();
    assert_eq!(err, "no registered kernel service 'nope'");
}

fn io_at(path: &Path) -> Value {
    io(path)
}

#[test]
fn terminating_the_subcluster_answers_reads_with_null_and_removes_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    h.launch_io(io(&path), &[]).unwrap();
    let read = h.io_send("ko4", "read", json!([]));
    assert!(h.still_waiting(&read));
    h.call(Call::TerminateSubcluster("s1".into())).unwrap();
    assert_eq!(line_of(&h.wait(&read).unwrap()), "#null");
    assert!(!path.exists());
    assert_eq!(h.keys("kernelService.io"), Vec::<String>::new());
    assert_eq!(h.kv("pinnedObjects").as_deref(), Some("ko1,ko2,ko3"));
    let gone = h.io_send("ko4", "read", json!([]));
    assert_eq!(
        h.wait(&gone).unwrap_err(),
        "[KERNEL:OBJECT_DELETED] Target object has no owner; it may have been deleted"
    );
    h.assert_invariants();

    // The path is free for a new subcluster at once.
    let launched = h.launch_io(io(&path), &[]).unwrap();
    assert_eq!(launched["subclusterId"], "s2");
    assert!(path.exists());
}

#[test]
fn the_last_vat_going_takes_the_channels_with_the_subcluster() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    h.launch_io(io(&path), &[]).unwrap();
    h.call(Call::TerminateAllVats).unwrap();
    assert!(!path.exists());
    assert_eq!(h.keys("kernelService.io"), Vec::<String>::new());
    h.assert_invariants();
}

#[test]
fn channels_are_recreated_at_restart_and_reads_pending_across_it_get_null() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    h.launch_io(io(&path), &[]).unwrap();
    let read = h.io_send("ko4", "read", json!([]));
    assert!(h.still_waiting(&read));
    assert!(h.kv("ioReads.io:s1:repl").is_some());
    h.restart();
    assert!(
        read.lock().unwrap().is_none(),
        "that caller died with the old kernel"
    );
    assert_eq!(
        h.kv("ioReads.io:s1:repl"),
        None,
        "answered with null at start"
    );
    assert_eq!(
        h.kv("kernelService.io:s1:repl").as_deref(),
        Some("ko4"),
        "same kref"
    );
    assert_eq!(h.promise_rows(), Vec::<String>::new());
    h.assert_invariants();
    let mut client = connect(&path);
    client.write_all(b"back\n").unwrap();
    let read = h.io_send("ko4", "read", json!([]));
    assert_eq!(line_of(&h.wait(&read).unwrap()), "#\"back\"");
}

#[test]
fn a_channel_that_cannot_be_recreated_fails_its_messages_and_the_kernel_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    h.launch_io(io(&path), &[]).unwrap();
    let kernel = h.kernel.take().unwrap();
    drop(kernel.into_store());
    std::fs::write(&path, "someone else's file now").unwrap();
    h.kernel = Some(super::boot(&h.path, (h.factory)(), h.options));
    let read = h.io_send("ko4", "read", json!([]));
    let err = h.wait(&read).unwrap_err();
    assert!(
        err.starts_with("[KERNEL:DELIVERY_FAILED] IO channel \"io:s1:repl\" is not open: "),
        "{err}"
    );
    assert_eq!(
        body(&h.send("ko5", "resume", json!([])).unwrap()),
        "#\"Counter incremented to: 2\""
    );
    h.call(Call::TerminateSubcluster("s1".into())).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "someone else's file now"
    );
    h.assert_invariants();
}

#[test]
fn clear_state_closes_every_channel() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    h.launch_io(io(&path), &[]).unwrap();
    let read = h.io_send("ko4", "read", json!([]));
    h.call(Call::ClearState).unwrap();
    assert!(read.lock().unwrap().as_ref().is_some_and(|a| a.is_err()));
    assert!(!path.exists());
    assert_eq!(h.kernel().io.len(), 0);
    h.assert_invariants();
}

#[test]
fn pending_reads_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    h.launch_io(io(&path), &[]).unwrap();
    for _ in 0..crate::kernel::io::MAX_PENDING_READS {
        h.io_send("ko4", "read", json!([]));
    }
    let over = h.io_send("ko4", "read", json!([]));
    assert_eq!(
        h.wait(&over).unwrap_err(),
        "[KERNEL:DELIVERY_FAILED] IO channel \"repl\" already has 1024 reads waiting"
    );
}

#[test]
fn an_endless_line_drops_its_client_and_a_flood_is_not_read_past_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    h.launch_io(io(&path), &[]).unwrap();

    // An endless line: the client is dropped once it passes the limit, and a read waiting
    // meanwhile is answered with null (a disconnect), not with the line.
    let read = h.io_send("ko4", "read", json!([]));
    let mut endless = connect(&path);
    endless
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    let refused = loop {
        match endless.write_all(&chunk) {
            Ok(()) => sent += chunk.len(),
            Err(e) => break e,
        }
        h.run();
        assert!(sent < 64 << 20, "64 MiB accepted without a newline");
    };
    assert!(
        matches!(
            refused.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ),
        "{refused}"
    );
    assert!(sent <= crate::kernel::io::MAX_LINE + (8 << 20), "{sent}");
    assert_eq!(line_of(&h.wait(&read).unwrap()), "#null");

    // A flood nobody reads: the channel stops reading at its budget; the client's writes block.
    let mut flood = connect(&path);
    flood
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let lines = "0123456789abcdef\n".repeat(4096);
    let mut sent = 0;
    loop {
        h.run();
        match flood.write(lines.as_bytes()) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
        assert!(
            sent < 64 << 20,
            "64 MiB of lines read with nobody reading them"
        );
    }
    let queued = h.kernel().io.queued("io:s1:repl");
    // The last read may pass the budget by one line's bookkeeping.
    assert!(queued <= crate::kernel::io::MAX_QUEUED + 128, "{queued}");
    assert!(
        queued > crate::kernel::io::MAX_QUEUED / 2,
        "{queued}: the budget was used"
    );
    // Reads take lines again; the flood goes on where it stopped.
    let read = h.io_send("ko4", "read", json!([]));
    assert_eq!(line_of(&h.wait(&read).unwrap()), "#\"0123456789abcdef\"");
}

#[test]
fn a_lost_batch_reopens_the_channels_from_the_database_as_a_restart_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_at(dir.path(), "io.sock");
    let mut h = Harness::new();
    h.launch_io(io(&path), &[]).unwrap();
    let read = h.io_send("ko4", "read", json!([]));
    assert!(h.still_waiting(&read));
    let why = crate::kernel::KernelError::Refused("disk full".into());
    h.kernel().lose_batch(&why);
    assert!(!path.exists(), "shut with everything else in memory");
    assert_eq!(h.kernel().io.len(), 0);
    h.kernel().repair().unwrap();
    assert!(path.exists(), "re-created from the committed state");
    assert_eq!(
        h.kv("ioReads.io:s1:repl"),
        None,
        "the read was answered with null"
    );
    h.assert_invariants();
    let mut client = connect(&path);
    client.write_all(b"still works\n").unwrap();
    let read = h.io_send("ko4", "read", json!([]));
    assert_eq!(line_of(&h.wait(&read).unwrap()), "#\"still works\"");
}
