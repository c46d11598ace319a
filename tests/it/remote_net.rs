//! Two network nodes in this process, each driven by a kernel stand-in built on
//! `ocap::remote::driver` (the kernel's side of the contract, docs/remote.md "Kernel
//! integration") with an in-memory store, over loopback only: directly (TCP and WebSocket) and
//! through our relay. Frames arrive exactly once and in order at the application level, across
//! restarts of a node (its sessions rebuilt from the store) and a peer's new incarnation.

use ocap::remote::driver::{Discard, Driver, Host};
use ocap::remote::node::{
    FRAME_OVERHEAD, NetCommand, NetConfig, NetEvent, NetHandle, NetLimits, Verdict,
};
use ocap::remote::relay::{RelayHandle, RelayOptions};
use ocap::remote::reliable::{Limits, Stored, Write};
use ocap::remote::wire::Body;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The kernel stand-in's store and effects.
#[derive(Default)]
pub struct MemHost {
    /// The durable delivery state per peer (what the kernel keeps in kv).
    pub stored: HashMap<String, Stored>,
    /// Incarnations on file per peer.
    pub incarnations: HashMap<String, String>,
    /// The payloads applied, per peer, in order.
    pub applied: HashMap<String, Vec<String>>,
    /// Verdicts given, in order.
    pub verdicts: Vec<(String, Verdict)>,
    /// Frames abandoned, per peer.
    pub discarded: Vec<(String, Vec<u64>, Discard)>,
    pub listening: Vec<String>,
}

impl Host for MemHost {
    type Error = Infallible;

    fn load(&mut self, peer: &str) -> Result<Stored, Infallible> {
        Ok(self.stored.get(peer).cloned().unwrap_or_default())
    }

    fn write(&mut self, peer: &str, write: &Write) -> Result<(), Infallible> {
        self.stored
            .entry(peer.to_string())
            .or_default()
            .apply(write);
        Ok(())
    }

    fn apply(&mut self, peer: &str, _seq: u64, body: Body) -> Result<Option<Body>, Infallible> {
        let text = match body {
            Body::RedeemUrl { url, .. } => url,
            Body::RedeemUrlReply {
                ok,
                reply_key,
                value,
            } => format!("reply {ok} {reply_key} {value}"),
            Body::Deliver(delivery) => delivery.to_value().to_string(),
        };
        self.applied.entry(peer.to_string()).or_default().push(text);
        Ok(None)
    }

    fn incarnation(&mut self, peer: &str, incarnation: &str) -> Result<bool, Infallible> {
        let restarted = self
            .incarnations
            .insert(peer.to_string(), incarnation.to_string())
            .is_some_and(|old| old != incarnation);
        let verdict = if restarted {
            Verdict::PeerRestarted
        } else {
            Verdict::Accept
        };
        self.verdicts.push((peer.to_string(), verdict));
        Ok(restarted)
    }

    fn discarded(&mut self, peer: &str, seqs: &[u64], why: Discard) -> Result<(), Infallible> {
        self.discarded.push((peer.to_string(), seqs.to_vec(), why));
        Ok(())
    }

    fn listening(&mut self, addrs: Vec<String>) {
        self.listening = addrs;
    }
}

/// A kernel stand-in: a node, a driver, and an in-memory store that outlives both (as the
/// kernel's database outlives the daemon).
pub struct TestKernel {
    seed: [u8; 32],
    pub incarnation: String,
    pub node: Option<NetHandle>,
    events: mpsc::Receiver<NetEvent>,
    driver: Driver,
    pub host: MemHost,
    /// Peers given up on.
    pub gave_up: Vec<String>,
    /// Channel-down reasons, per peer, in order.
    pub downs: Vec<(String, String)>,
    /// The node's limits.
    limits: NetLimits,
}

impl TestKernel {
    /// A kernel whose key seed is `[seed, 7, 0, …]`, listening on `listen`, knowing `relays`.
    pub fn start(seed: u8, listen: &[&str], relays: &[String]) -> TestKernel {
        TestKernel::start_with(seed, listen, relays, |_| {})
    }

    /// [`TestKernel::start`] with the node's limits adjusted by `tune`.
    pub fn start_with(
        seed: u8,
        listen: &[&str],
        relays: &[String],
        tune: impl FnOnce(&mut NetLimits),
    ) -> TestKernel {
        let mut limits = NetLimits {
            reconnect_max: Duration::from_millis(500),
            max_frames_per_sec: 10_000,
            ..NetLimits::default()
        };
        tune(&mut limits);
        let mut key = [0u8; 32];
        key[0] = seed;
        key[1] = 7;
        let (tx, events) = mpsc::channel();
        let mut kernel = TestKernel {
            seed: key,
            incarnation: ocap::random::uuid_v4(),
            node: None,
            events,
            driver: Driver::new(Limits::default()),
            host: MemHost::default(),
            gave_up: Vec::new(),
            downs: Vec::new(),
            limits,
        };
        kernel.node = Some(kernel.launch(tx, listen, relays));
        kernel
    }

    fn launch(&self, tx: mpsc::Sender<NetEvent>, listen: &[&str], relays: &[String]) -> NetHandle {
        let config = NetConfig {
            key_seed: self.seed,
            incarnation_id: self.incarnation.clone(),
            listen: listen.iter().map(|a| a.parse().unwrap()).collect(),
            relays: relays.iter().map(|a| a.parse().unwrap()).collect(),
            limits: self.limits.clone(),
        };
        NetHandle::start(config, move |event| {
            let _ = tx.send(event);
        })
        .unwrap()
    }

    /// A daemon restart: the node and the in-memory sessions go, the store stays; with `renew`
    /// the store is cleared and the incarnation is new (`clearState`).
    pub fn restart(&mut self, listen: &[&str], relays: &[String], renew: bool) {
        drop(self.node.take());
        self.driver = Driver::new(Limits::default());
        if renew {
            self.incarnation = ocap::random::uuid_v4();
            self.host.stored.clear();
            self.host.incarnations.clear();
        }
        let (tx, events) = mpsc::channel();
        self.events = events;
        self.host.listening.clear();
        self.node = Some(self.launch(tx, listen, relays));
    }

    pub fn peer_id(&self) -> String {
        self.node.as_ref().unwrap().peer_id().to_string()
    }

    pub fn net(&self, command: NetCommand) {
        assert!(self.node.as_ref().unwrap().send(command));
    }

    /// One "transaction" (the store cannot fail), then the commit.
    fn commit(&mut self) {
        self.driver.committed(self.node.as_ref().unwrap());
    }

    /// Sends `text` to `peer` as a `redeemURL` (any sequenced message would do).
    pub fn send(&mut self, peer: &str, text: &str) {
        self.send_body(
            peer,
            Body::RedeemUrl {
                url: text.into(),
                reply_key: "k".into(),
            },
        );
    }

    /// Sends `body` to `peer`.
    pub fn send_body(&mut self, peer: &str, body: Body) {
        if let Err(e) = self.driver.send(&mut self.host, peer, body) {
            panic!("send refused: {e:?}");
        }
        self.commit();
    }

    pub fn hints(&self, peer: &str, hints: &[String]) {
        self.net(NetCommand::Hints {
            peer: peer.into(),
            hints: hints.to_vec(),
        });
    }

    /// Frames pending for `peer`, as stored.
    pub fn pending(&self, peer: &str) -> usize {
        self.host.stored.get(peer).map_or(0, |s| s.pending.len())
    }

    pub fn applied(&self, peer: &str) -> Vec<String> {
        self.host.applied.get(peer).cloned().unwrap_or_default()
    }

    /// Takes the events that arrived within `wait`, handling all but frames, which are
    /// returned unhandled (their credit still held).
    pub fn pump_holding_frames(&mut self, wait: Duration) -> Vec<NetEvent> {
        let mut held = Vec::new();
        let deadline = Instant::now() + wait;
        while let Ok(event) = self
            .events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            match event {
                NetEvent::Frame { .. } => held.push(event),
                other => self.handle(other),
            }
        }
        held
    }

    /// Handles events taken earlier.
    pub fn handle_all(&mut self, events: Vec<NetEvent>) {
        for event in events {
            self.handle(event);
        }
    }

    /// Handles the events that arrived within `wait`.
    pub fn pump(&mut self, wait: Duration) {
        let Ok(event) = self.events.recv_timeout(wait) else {
            return;
        };
        self.handle(event);
        while let Ok(event) = self.events.try_recv() {
            self.handle(event);
        }
    }

    fn handle(&mut self, event: NetEvent) {
        match &event {
            NetEvent::ChannelDown { peer, reason } => {
                self.downs.push((peer.clone(), reason.clone()))
            }
            NetEvent::GiveUp { peer, .. } => self.gave_up.push(peer.clone()),
            _ => {}
        }
        let before = self.host.discarded.len();
        let Ok(()) = self.driver.handle(&mut self.host, event);
        for (peer, _, why) in &self.host.discarded[before..] {
            if *why == Discard::GaveUp {
                self.gave_up.push(peer.clone());
            }
        }
        self.commit();
    }
}

/// Pumps every kernel until `done` holds, or panics after `limit`.
pub fn pump_until(
    kernels: &mut [&mut TestKernel],
    limit: Duration,
    what: &str,
    done: impl Fn(&[&mut TestKernel]) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done(kernels) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        for kernel in kernels.iter_mut() {
            kernel.pump(Duration::from_millis(5));
        }
    }
}

fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i}")).collect()
}

fn direct_addr(kernel: &TestKernel, transport: &str) -> String {
    kernel
        .host
        .listening
        .iter()
        .find(|a| a.contains(transport) && !a.contains("p2p-circuit"))
        .unwrap_or_else(|| panic!("no {transport} address in {:?}", kernel.host.listening))
        .clone()
}

/// A listening on loopback TCP (B too when `b_listen` says so), and B knowing A's address: the
/// pair most tests start from, with A's and B's peer ids.
fn direct_pair(seeds: (u8, u8), b_listen: &[&str]) -> (TestKernel, TestKernel, String, String) {
    let mut a = TestKernel::start(seeds.0, &["/ip4/127.0.0.1/tcp/0"], &[]);
    let mut b = TestKernel::start(seeds.1, b_listen, &[]);
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        "listening",
        |k| {
            !k[0].host.listening.is_empty()
                && (b_listen.is_empty() || !k[1].host.listening.is_empty())
        },
    );
    let (ida, idb) = (a.peer_id(), b.peer_id());
    b.hints(&ida, &[direct_addr(&a, "/tcp/")]);
    (a, b, ida, idb)
}

#[test]
fn two_nodes_talk_directly_both_ways_exactly_once_in_order() {
    let mut a = TestKernel::start(1, &["/ip4/127.0.0.1/tcp/0"], &[]);
    let mut b = TestKernel::start(2, &["/ip4/127.0.0.1/tcp/0/ws"], &[]);
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        "listening",
        |k| !k[0].host.listening.is_empty() && !k[1].host.listening.is_empty(),
    );
    let (ida, idb) = (a.peer_id(), b.peer_id());
    assert!(
        a.host.listening[0].ends_with(&format!("/p2p/{ida}")),
        "{:?}",
        a.host.listening
    );
    // B dials A over TCP; A answers over the channel B opened (it knows no address of B).
    b.hints(&ida, &[direct_addr(&a, "/tcp/")]);
    for text in numbered("b→a ", 50) {
        b.send(&ida, &text);
    }
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(20),
        "b→a",
        |k| k[0].applied(&idb).len() == 50 && k[1].pending(&ida) == 0,
    );
    for text in numbered("a→b ", 50) {
        a.send(&idb, &text);
    }
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(20),
        "a→b",
        |k| k[1].applied(&ida).len() == 50 && k[0].pending(&idb) == 0,
    );
    assert_eq!(a.applied(&idb), numbered("b→a ", 50));
    assert_eq!(b.applied(&ida), numbered("a→b ", 50));
    assert_eq!(a.host.verdicts, vec![(idb.clone(), Verdict::Accept)]);
    // Now A dials B over WebSocket after B's channel is gone.
    a.hints(&idb, &[direct_addr(&b, "/ws")]);
    b.restart(&["/ip4/127.0.0.1/tcp/0/ws"], &[], false);
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        "b listening",
        |k| !k[1].host.listening.is_empty(),
    );
    a.hints(&idb, &[direct_addr(&b, "/ws")]);
    a.send(&idb, "after restart");
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(30),
        "a→b again",
        |k| k[1].applied(&ida).len() == 51,
    );
    assert_eq!(b.applied(&ida).last().unwrap(), "after restart");
}

#[test]
fn reading_pauses_while_the_kernel_has_not_handled_a_peers_frames() {
    // Room for about three frames of ~90 bytes (each costs its length + FRAME_OVERHEAD).
    let budget = 3 * (FRAME_OVERHEAD + 100);
    let mut a = TestKernel::start_with(13, &["/ip4/127.0.0.1/tcp/0"], &[], |limits| {
        limits.max_unhandled_bytes = budget
    });
    let mut b = TestKernel::start(14, &[], &[]);
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        "listening",
        |k| !k[0].host.listening.is_empty(),
    );
    let (ida, idb) = (a.peer_id(), b.peer_id());
    b.hints(&ida, &[direct_addr(&a, "/tcp/")]);
    for text in numbered("f", 20) {
        b.send(&ida, &text);
    }
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        b.pump(Duration::from_millis(5));
        held.extend(a.pump_holding_frames(Duration::from_millis(20)));
    }
    // What the kernel has not handled stays within the budget; the rest waits in the peer's
    // stream, not in memory.
    assert!(
        !held.is_empty() && held.len() <= 3,
        "{} frames reached a kernel that handled none",
        held.len()
    );
    a.handle_all(held);
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(20),
        "every frame",
        |k| k[0].applied(&idb).len() == 20 && k[1].pending(&ida) == 0,
    );
    assert_eq!(a.applied(&idb), numbered("f", 20));
}

#[test]
fn frames_sent_while_the_peer_is_down_arrive_once_in_order_after_it_returns() {
    let (mut a, mut b, ida, idb) = direct_pair((3, 4), &[]);
    for text in numbered("m", 5) {
        b.send(&ida, &text);
    }
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(20),
        "first five",
        |k| k[0].applied(&idb).len() == 5 && k[1].pending(&ida) == 0,
    );
    // A goes away; B keeps sending (frames stay pending in B's session).
    drop(a.node.take());
    for text in numbered("m", 20).into_iter().skip(5) {
        b.send(&ida, &text);
    }
    for _ in 0..20 {
        b.pump(Duration::from_millis(10));
    }
    assert_eq!(b.pending(&ida), 15);
    a.restart(&["/ip4/127.0.0.1/tcp/0"], &[], false);
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        "a listening",
        |k| !k[0].host.listening.is_empty(),
    );
    b.hints(&ida, &[direct_addr(&a, "/tcp/")]);
    b.net(NetCommand::Connect { peer: ida.clone() });
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(30),
        "the rest",
        |k| k[0].applied(&idb).len() == 20 && k[1].pending(&ida) == 0,
    );
    assert_eq!(a.applied(&idb), numbered("m", 20));
}

#[test]
fn a_new_incarnation_is_reported_and_the_channel_redialled() {
    let (mut a, mut b, ida, idb) = direct_pair((5, 6), &[]);
    b.send(&ida, "one");
    pump_until(&mut [&mut a, &mut b], Duration::from_secs(20), "one", |k| {
        k[0].applied(&idb).len() == 1
    });
    // A loses its state (clearState): new incarnation, nothing received yet.
    a.restart(&["/ip4/127.0.0.1/tcp/0"], &[], true);
    a.host.applied.clear();
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        "a listening",
        |k| !k[0].host.listening.is_empty(),
    );
    b.hints(&ida, &[direct_addr(&a, "/tcp/")]);
    b.send(&ida, "two");
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(30),
        "restart seen",
        |k| {
            k[1].host
                .verdicts
                .iter()
                .any(|(_, v)| *v == Verdict::PeerRestarted)
        },
    );
    // B reset its session with A: the next message is seq 1 again and gets through.
    b.send(&ida, "three");
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(30),
        "three",
        |k| k[0].applied(&idb).contains(&"three".to_string()),
    );
    assert!(!a.applied(&idb).contains(&"one".to_string()));
}

#[test]
fn two_nodes_talk_through_a_relay_only() {
    let mut seed = [0u8; 32];
    seed[0] = 99;
    let relay = RelayHandle::start(RelayOptions::new(
        seed,
        vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
    ))
    .unwrap();
    let relays = relay.addrs.clone();
    let mut a = TestKernel::start(7, &[], &relays);
    let mut b = TestKernel::start(8, &[], &relays);
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(20),
        "reservations",
        |k| {
            k.iter()
                .all(|k| k.host.listening.iter().any(|a| a.contains("/p2p-circuit")))
        },
    );
    let (ida, idb) = (a.peer_id(), b.peer_id());
    assert!(
        a.host.listening[0].starts_with(&relays[0]),
        "{:?} vs {relays:?}",
        a.host.listening
    );
    for text in numbered("via relay ", 30) {
        b.send(&ida, &text);
        a.send(&idb, &text);
    }
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(30),
        "relayed",
        |k| k[0].applied(&idb).len() == 30 && k[1].applied(&ida).len() == 30,
    );
    assert_eq!(a.applied(&idb), numbered("via relay ", 30));
    assert_eq!(b.applied(&ida), numbered("via relay ", 30));
    relay.stop();
}

/// Runs `ocapd relay` on loopback with `key`; returns the child and its first address.
fn ocapd_relay(key: &std::path::Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(crate::common::OCAPD)
        .args(["relay", "--listen", "/ip4/127.0.0.1/tcp/0", "--key-file"])
        .arg(key)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

fn terminate(mut child: std::process::Child) -> std::process::ExitStatus {
    // SAFETY: a signal to the process this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    child.wait().unwrap()
}

#[test]
fn ocapd_relay_carries_two_nodes_and_keeps_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("relay.key");
    let (child, addr) = ocapd_relay(&key);
    assert!(addr.starts_with("/ip4/127.0.0.1/tcp/"), "{addr}");
    let relay_id = addr.rsplit('/').next().unwrap().to_string();
    let relays = vec![addr.clone()];
    let mut a = TestKernel::start(9, &[], &relays);
    let mut b = TestKernel::start(10, &[], &relays);
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(20),
        "reservations",
        |k| {
            k.iter()
                .all(|k| k.host.listening.iter().any(|a| a.contains("/p2p-circuit")))
        },
    );
    let (ida, idb) = (a.peer_id(), b.peer_id());
    b.send(&ida, "hello through ocapd relay");
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(30),
        "relayed",
        |k| k[0].applied(&idb).len() == 1,
    );
    drop((a, b));
    assert!(terminate(child).success());
    // The identity is in the key file: the same peer id again.
    let (child, again) = ocapd_relay(&key);
    assert!(again.ends_with(&format!("/p2p/{relay_id}")), "{again}");
    assert!(terminate(child).success());
}

#[test]
fn addresses_learned_from_identify_are_never_dialled() {
    // A gives up after three attempts (a dial, or finding no address, counts as one).
    let mut a = TestKernel::start_with(11, &["/ip4/127.0.0.1/tcp/0"], &[], |limits| {
        limits.max_retry_attempts = 3
    });
    let mut b = TestKernel::start(12, &["/ip4/127.0.0.1/tcp/0"], &[]);
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        "listening",
        |k| !k[0].host.listening.is_empty() && !k[1].host.listening.is_empty(),
    );
    let (ida, idb) = (a.peer_id(), b.peer_id());
    b.hints(&ida, &[direct_addr(&a, "/tcp/")]);
    b.send(&ida, "hello");
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(20),
        "hello",
        |k| k[0].applied(&idb).len() == 1 && k[1].pending(&ida) == 0,
    );
    // A heard B's listen address through identify, but was never given it: once the connection
    // is gone, A has no address for B, and gives up instead of dialling what identify told it.
    a.net(NetCommand::Forget { peer: idb.clone() });
    std::thread::sleep(Duration::from_millis(300));
    a.send(&idb, "back");
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(20),
        "give-up",
        |k| k[0].gave_up.contains(&idb),
    );
    assert!(b.applied(&ida).is_empty());
}

#[test]
fn a_listener_keeps_its_frames_for_a_peer_it_cannot_dial_until_that_peer_returns() {
    // It gave up at once, since it had no address to dial: a listening kernel that restarted
    // abandoned everything pending for the kernels that dial it, and rejected their promises.
    let (mut a, mut b, ida, idb) = direct_pair((15, 16), &[]);
    b.send(&ida, "hello");
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(20),
        "hello",
        |k| k[0].applied(&idb).len() == 1 && k[1].pending(&ida) == 0,
    );
    drop(b.node.take());
    for _ in 0..20 {
        a.pump(Duration::from_millis(10));
    }
    a.send(&idb, "while you were away");
    for _ in 0..100 {
        a.pump(Duration::from_millis(10));
    }
    assert!(a.gave_up.is_empty(), "A gave up on a peer that dials it");
    b.restart(&[], &[], false);
    b.hints(&ida, &[direct_addr(&a, "/tcp/")]);
    b.send(&ida, "back");
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(20),
        "both ways",
        |k| {
            k[1].applied(&ida).len() == 1
                && k[0].applied(&idb).len() == 2
                && k[0].pending(&idb) == 0
        },
    );
    assert_eq!(b.applied(&ida), vec!["while you were away".to_string()]);
    assert!(a.gave_up.is_empty());
}

#[test]
fn simultaneous_dials_settle_on_one_channel() {
    let (mut a, mut b, ida, idb) = direct_pair((13, 14), &["/ip4/127.0.0.1/tcp/0"]);
    a.hints(&idb, &[direct_addr(&b, "/tcp/")]);
    // Both dial at once.
    for text in numbered("x", 20) {
        a.send(&idb, &text);
        b.send(&ida, &text);
    }
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(30),
        "both ways",
        |k| {
            k[0].applied(&idb).len() == 20
                && k[1].applied(&ida).len() == 20
                && k[0].pending(&idb) == 0
                && k[1].pending(&ida) == 0
        },
    );
    assert_eq!(a.applied(&idb), numbered("x", 20));
    assert_eq!(b.applied(&ida), numbered("x", 20));
    // The channel that won stays: more traffic causes no further channel changes.
    let (downs_a, downs_b) = (a.downs.len(), b.downs.len());
    for text in numbered("y", 20) {
        a.send(&idb, &text);
        b.send(&ida, &text);
    }
    pump_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(30),
        "again",
        |k| k[0].applied(&idb).len() == 40 && k[1].applied(&ida).len() == 40,
    );
    assert_eq!((a.downs.len(), b.downs.len()), (downs_a, downs_b));
}
