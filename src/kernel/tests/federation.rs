//! Two kernels with scripted vats federated over a simulated network that stands in for the
//! libp2p node (handshakes with incarnations, channels, frames, acknowledgements, timers), so
//! that what crosses between kernels — refs and their polarity, promises, GC, restarts,
//! give-ups, refused frames — is checked exactly and fast. The real node is tested in
//! `tests/it/remote_net.rs` and the whole of it between two `ocapd` in `tests/it/federation.rs`.

use super::scripted::ScriptedFactory;
use crate::capdata::{CapData, Passable, encode};
use crate::kernel::Reply;
use crate::kernel::options::RemoteSettings;
use crate::kernel::remotes::{NetLink, RemoteOptions};
use crate::kernel::store::{Store, open};
use crate::kernel::{Call, Kernel, KernelOptions, LaunchPlan, Redeemable, invariants};
use crate::remote::node::{NetCommand, NetEvent, Verdict, VerdictReply};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Events = Box<dyn FnMut(NetEvent) + Send>;

/// What a simulated node shares with the network: the kernel's commands, and a way to hand
/// the kernel events (the callback the kernel gave its node, bound to that node's generation).
#[derive(Clone, Default)]
struct Port {
    out: Arc<Mutex<Vec<NetCommand>>>,
    inject: Arc<Mutex<Option<Events>>>,
    incarnation: Arc<Mutex<String>>,
    id: Arc<Mutex<String>>,
}

struct FakeLink {
    out: Arc<Mutex<Vec<NetCommand>>>,
    id: String,
}

impl NetLink for FakeLink {
    fn send(&self, command: NetCommand) -> bool {
        self.out.lock().unwrap().push(command);
        true
    }

    fn peer_id(&self) -> String {
        self.id.clone()
    }
}

/// One kernel on the simulated network.
struct Node {
    kernel: Kernel,
    port: Port,
    inbox: Arc<Mutex<VecDeque<(u64, NetEvent)>>>,
    wakes: HashMap<String, Instant>,
    alarm: Option<Instant>,
    _dir: tempfile::TempDir,
}

fn settings() -> RemoteSettings {
    RemoteSettings {
        ack_timeout: Duration::from_millis(40),
        ..RemoteSettings::default()
    }
}

impl Node {
    fn new() -> Node {
        Node::with_options(RemoteOptions::default())
    }

    fn with_options(remote: RemoteOptions) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(open(&dir.path().join("kernel.sqlite")).unwrap());
        let options = KernelOptions {
            reap_interval: 1_000,
            ..KernelOptions::default()
        };
        let mut kernel =
            Kernel::with_remote_settings(store, Box::new(ScriptedFactory), options, settings())
                .unwrap();
        let port = Port::default();
        let starter_port = port.clone();
        kernel
            .remotes
            .set_starter(Box::new(move |config, events: Events| {
                let id = crate::remote::node::peer_id_of(&config.key_seed);
                *starter_port.id.lock().unwrap() = id.clone();
                *starter_port.incarnation.lock().unwrap() = config.incarnation_id;
                *starter_port.inject.lock().unwrap() = Some(events);
                Ok(Box::new(FakeLink {
                    out: Arc::clone(&starter_port.out),
                    id,
                }) as Box<dyn NetLink>)
            }));
        let inbox: Arc<Mutex<VecDeque<(u64, NetEvent)>>> = Arc::default();
        let sink_inbox = Arc::clone(&inbox);
        kernel.resume_remote_comms(Arc::new(move |generation, event| {
            sink_inbox.lock().unwrap().push_back((generation, event));
        }));
        let mut node = Node {
            kernel,
            port,
            inbox,
            wakes: HashMap::new(),
            alarm: None,
            _dir: dir,
        };
        node.call(Call::InitRemoteComms(remote)).unwrap();
        node
    }

    fn id(&self) -> String {
        self.port.id.lock().unwrap().clone()
    }

    fn inject(&self, event: NetEvent) {
        let mut inject = self.port.inject.lock().unwrap();
        (inject.as_mut().expect("the node runs"))(event);
    }

    /// Handles its events and runs its cranks, then commits.
    fn run(&mut self) -> bool {
        let mut worked = false;
        loop {
            let next = self.inbox.lock().unwrap().pop_front();
            let Some((generation, event)) = next else {
                break;
            };
            self.kernel.network_event(generation, event);
            worked = true;
        }
        while self.kernel.crank().unwrap() {
            worked = true;
        }
        self.kernel.commit().unwrap();
        worked
    }

    /// Starts a call; its answer arrives after the commit that settles it.
    fn start_call(&mut self, call: Call) -> Arc<Mutex<Option<Result<Value, String>>>> {
        let slot = Arc::new(Mutex::new(None));
        let answer = Arc::clone(&slot);
        self.kernel.call(
            call,
            Reply::code(move |a| *answer.lock().unwrap() = Some(a.map_err(|e| e.to_string()))),
        );
        self.run();
        slot
    }

    /// A call answered without the network.
    fn call(&mut self, call: Call) -> Result<Value, String> {
        let slot = self.start_call(call);
        let answer = slot.lock().unwrap().take();
        answer.expect("answered without the network")
    }

    fn launch(&mut self, vats: &[&str]) {
        let configs: Vec<(String, Value)> = vats
            .iter()
            .map(|name| {
                (
                    name.to_string(),
                    json!({"bundleSpec": "file:///scripted", "parameters": {"name": name}}),
                )
            })
            .collect();
        let raw = json!({"bootstrap": vats[0], "vats": configs.iter().cloned().collect::<serde_json::Map<_, _>>()});
        self.call(Call::Launch(LaunchPlan {
            raw,
            bootstrap: vats[0].into(),
            vats: configs,
            services: vec![],
            io: Vec::new(),
        }))
        .unwrap();
    }

    fn issue(&mut self, kref: &str) -> String {
        let url = self.call(Call::IssueOcapUrl(kref.into())).unwrap();
        url.as_str().unwrap().to_string()
    }

    fn kv(&self, key: &str) -> Option<String> {
        self.kernel.state().store().get(key).unwrap()
    }

    fn keys(&self, prefix: &str) -> Vec<String> {
        let scanned = self.kernel.state().store().scan(prefix).unwrap();
        scanned.into_iter().map(|(k, _)| k).collect()
    }

    fn assert_invariants(&self) {
        let extra = self.kernel.waiter_refs();
        let problems = invariants::check_with(self.kernel.state().store(), &extra);
        assert_eq!(problems, Vec::<String>::new());
    }

    /// Sends `methargs` from the kernel to `target` (slots allowed, unlike `queueMessage`).
    fn send_capdata(
        &mut self,
        target: &str,
        methargs: CapData,
    ) -> Arc<Mutex<Option<Result<Value, String>>>> {
        let slot = Arc::new(Mutex::new(None));
        let answer = Arc::clone(&slot);
        self.kernel.send_from_kernel(
            target.into(),
            methargs,
            Reply::code(move |a| *answer.lock().unwrap() = Some(a.map_err(|e| e.to_string()))),
        );
        self.run();
        slot
    }
}

/// Two kernels and the wire between them.
struct Net {
    nodes: Vec<Node>,
    up: bool,
    connected: HashSet<(usize, usize)>,
    /// Frames carried, with the index of the node that sent each.
    carried: Vec<(usize, String)>,
    /// Frames to this node are acknowledged by the wire and never reach its kernel (a kernel
    /// too busy to answer, as far as its peers can tell).
    swallow: Option<usize>,
}

impl Net {
    fn new() -> Net {
        Net::of(Node::new(), Node::new())
    }

    fn of(a: Node, b: Node) -> Net {
        Net {
            nodes: vec![a, b],
            up: true,
            connected: HashSet::new(),
            carried: Vec::new(),
            swallow: None,
        }
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id() == id)
    }

    fn is_connected(&self, a: usize, b: usize) -> bool {
        self.connected.contains(&(a.min(b), a.max(b)))
    }

    /// Opens a channel between `a` and `b` the way the node does: a handshake both ways (each
    /// kernel judges the other's incarnation), then `ChannelUp` — unless a kernel found that
    /// its peer restarted, which closes the channel (the next dial succeeds).
    fn connect(&mut self, a: usize, b: usize) {
        if !self.up || self.is_connected(a, b) {
            return;
        }
        let mut verdicts = Vec::new();
        for (me, other) in [(a, b), (b, a)] {
            let (reply, verdict) = VerdictReply::channel();
            let peer = self.nodes[other].id();
            let incarnation = self.nodes[other].port.incarnation.lock().unwrap().clone();
            self.nodes[me].inject(NetEvent::Handshake {
                peer,
                incarnation,
                reply,
            });
            self.nodes[me].run();
            verdicts.push(verdict);
        }
        let accepted = verdicts
            .into_iter()
            .all(|mut v| v.try_recv() == Ok(Verdict::Accept));
        if !accepted {
            return;
        }
        self.connected.insert((a.min(b), a.max(b)));
        for (me, other) in [(a, b), (b, a)] {
            let peer = self.nodes[other].id();
            self.nodes[me].inject(NetEvent::ChannelUp { peer });
        }
    }

    /// Cuts the wire: both sides see their channel close.
    fn cut(&mut self) {
        self.up = false;
        for (a, b) in std::mem::take(&mut self.connected) {
            for (me, other) in [(a, b), (b, a)] {
                let peer = self.nodes[other].id();
                self.nodes[me].inject(NetEvent::ChannelDown {
                    peer,
                    reason: "cut".into(),
                });
            }
        }
    }

    fn mend(&mut self) {
        self.up = true;
    }

    /// One round: every kernel runs, then every command it gave is carried out.
    fn step(&mut self) -> bool {
        let mut worked = false;
        for node in &mut self.nodes {
            worked |= node.run();
        }
        for from in 0..self.nodes.len() {
            let commands: Vec<NetCommand> =
                std::mem::take(&mut *self.nodes[from].port.out.lock().unwrap());
            for command in commands {
                worked = true;
                self.carry(from, command);
            }
        }
        let now = Instant::now();
        for node in &mut self.nodes {
            let due: Vec<String> = node
                .wakes
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(p, _)| p.clone())
                .collect();
            for peer in due {
                node.wakes.remove(&peer);
                node.inject(NetEvent::Wake { peer });
                worked = true;
            }
            if node.alarm.is_some_and(|at| at <= now) {
                node.alarm = None;
                node.inject(NetEvent::Alarm);
                worked = true;
            }
        }
        worked
    }

    fn carry(&mut self, from: usize, command: NetCommand) {
        let me = self.nodes[from].id();
        match command {
            NetCommand::Send { peer, frame, .. } => {
                let Some(to) = self.index(&peer) else { return };
                if self.is_connected(from, to) && self.swallow == Some(to) {
                    let seq = serde_json::from_str::<Value>(&frame).unwrap()["seq"].clone();
                    self.nodes[from].inject(NetEvent::Frame {
                        peer,
                        frame: format!("{{\"ack\":{seq}}}").into_bytes(),
                        credit: Default::default(),
                    });
                } else if self.is_connected(from, to) {
                    self.carried.push((from, frame.clone()));
                    self.nodes[to].inject(NetEvent::Frame {
                        peer: me,
                        frame: frame.into_bytes(),
                        credit: Default::default(),
                    });
                } else {
                    // As the node: the frame is dropped and a channel dialled; the kernel
                    // resends everything pending once it is up.
                    self.connect(from, to);
                }
            }
            NetCommand::Ack { peer, upto } => {
                let Some(to) = self.index(&peer) else { return };
                if self.is_connected(from, to) {
                    self.nodes[to].inject(NetEvent::Frame {
                        peer: me,
                        frame: format!("{{\"ack\":{upto}}}").into_bytes(),
                        credit: Default::default(),
                    });
                }
            }
            NetCommand::Connect { peer } => {
                if let Some(to) = self.index(&peer) {
                    self.connect(from, to);
                }
            }
            NetCommand::WakeAt { peer, at } => {
                self.nodes[from].wakes.insert(peer, at);
            }
            NetCommand::AlarmAt { at } => self.nodes[from].alarm = Some(at),
            NetCommand::Hints { .. } | NetCommand::Relays(_) | NetCommand::Forget { .. } => {}
        }
    }

    /// Steps until nothing moves (timers included, up to `limit`).
    fn settle(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut quiet = 0;
        while Instant::now() < deadline && quiet < 3 {
            if self.step() {
                quiet = 0;
            } else {
                quiet += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// Steps until `slot` is answered.
    fn answer(
        &mut self,
        slot: &Arc<Mutex<Option<Result<Value, String>>>>,
    ) -> Result<Value, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(answer) = slot.lock().unwrap().take() {
                return answer;
            }
            assert!(Instant::now() < deadline, "no answer");
            if !self.step() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// `b` redeems a URL `a` issued for `kref`: the kref in `b`.
    fn redeem(&mut self, a: usize, kref: &str, b: usize) -> String {
        let url = self.nodes[a].issue(kref);
        let slot = self.nodes[b].start_call(Call::RedeemOcapUrl(Redeemable::Unopened(url)));
        let kref = self.answer(&slot).unwrap();
        kref.as_str().unwrap().to_string()
    }

    fn send(
        &mut self,
        node: usize,
        target: &str,
        method: &str,
        args: Value,
    ) -> Result<Value, String> {
        let slot = self.nodes[node].start_call(Call::QueueMessage {
            target: target.into(),
            method: method.into(),
            args: args.as_array().cloned().unwrap_or_default(),
        });
        self.answer(&slot)
    }

    fn assert_invariants(&mut self) {
        self.settle(Duration::from_millis(500));
        for node in &self.nodes {
            node.assert_invariants();
        }
    }
}

fn presence(kref: &str) -> Passable {
    Passable::Remotable {
        slot: kref.into(),
        iface: Some("Alleged: x".into()),
    }
}

fn methargs(method: &str, args: Vec<Passable>) -> CapData {
    encode(&Passable::Array(vec![
        Passable::String(method.into()),
        Passable::Array(args),
    ]))
}

#[test]
fn a_redeemed_object_answers_across_kernels_remote_comms_5() {
    let mut net = Net::new();
    net.nodes[0].launch(&["alice"]);
    let alice = net.redeem(0, "ko4", 1);
    assert_eq!(alice, "ko4", "B's first object is its import of alice");
    assert_eq!(net.nodes[1].kv("ko4.owner").as_deref(), Some("r1"));
    assert_eq!(net.nodes[1].kv("r1.c.ro+1").as_deref(), Some("ko4"));
    assert_eq!(net.nodes[0].kv("r1.c.ro-1").as_deref(), Some("ko4"));
    let answer = net.send(1, &alice, "resume", json!([])).unwrap();
    assert_eq!(answer["body"], "#\"Counter incremented to: 2\"");
    // The frames carried refs in the receiver's frame: B's `ro+1` went as `ro-1`, its result
    // `rp-1` as `rp+1`; A's notify came back as `rp-1`.
    let frames: Vec<&String> = net.carried.iter().map(|(_, f)| f).collect();
    assert!(
        frames.iter().any(|f| f.contains(r##""method":"deliver","params":["message","ro-1",{"methargs":{"body":"#[\"resume\",[]]","slots":[]},"result":"rp+1"}]"##)),
        "{frames:#?}"
    );
    assert!(
        frames
            .iter()
            .any(|f| f.contains(r#""params":["notify",[["rp-1",false,"#)),
        "{frames:#?}"
    );
    // Nothing is left of the finished call on either side but the redeemed, pinned object.
    net.assert_invariants();
    assert!(
        net.nodes[1].keys("kp").is_empty(),
        "{:?}",
        net.nodes[1].keys("kp")
    );
    assert_eq!(net.nodes[1].keys("r1.c."), vec!["r1.c.ko4", "r1.c.ro+1"]);
    assert_eq!(net.nodes[0].keys("r1.c."), vec!["r1.c.ko4", "r1.c.ro-1"]);
}

#[test]
fn objects_and_promises_cross_both_ways_and_return_as_their_original_krefs() {
    let mut net = Net::new();
    net.nodes[0].launch(&["alice", "carol"]);
    net.nodes[1].launch(&["bob"]);
    let alice = net.redeem(0, "ko4", 1);
    let carol = net.redeem(0, "ko5", 1);
    // B hands A's carol to A's alice, which echoes her back: on A she is carol's own kref,
    // and back on B she is B's kref for her again.
    let slot = net.nodes[1].send_capdata(&alice, methargs("echo", vec![presence(&carol)]));
    let answer = net.answer(&slot).unwrap();
    assert_eq!(answer["slots"], json!([carol]));
    assert!(
        net.nodes[0].kv("v1.c.ko5").is_some(),
        "alice received carol as A's ko5: {:?}",
        net.nodes[0].keys("v1.c.")
    );
    // B's own object (bob's root, launched first) goes to A and comes back as itself.
    let bob = "ko4";
    assert_eq!(net.nodes[1].kv("ko4.owner").as_deref(), Some("v1"));
    let slot = net.nodes[1].send_capdata(&alice, methargs("echo", vec![presence(bob)]));
    assert_eq!(net.answer(&slot).unwrap()["slots"], json!([bob]));
    // A promise B's bob decides crosses to A (alice holds it) and A's alice's answer crosses
    // back; `relay` makes alice send to her presence of bob.
    let slot = net.nodes[1].send_capdata(&alice, methargs("hold", vec![presence(bob)]));
    net.answer(&slot).unwrap();
    let made = net.send(1, &alice, "relay", json!([0])).unwrap();
    let made = made["slots"][0].as_str().unwrap().to_string();
    assert_eq!(
        net.nodes[1].kv(&format!("{made}.owner")).as_deref(),
        Some("v1"),
        "bob made it, and B knows it as bob's own: {made}"
    );
    // Messages pipelined to a result promise the remote decides wait for it, then go on.
    let slot = net.nodes[1].send_capdata(&alice, methargs("make", vec![]));
    let made_by_alice = net.answer(&slot).unwrap()["slots"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        net.send(1, &made_by_alice, "whoami", json!([])).unwrap()["body"],
        "#\"alice\""
    );
    net.assert_invariants();
}

/// Frames `node` sent that contain `text`.
fn sent_by(net: &Net, node: usize, text: &str) -> Vec<String> {
    net.carried
        .iter()
        .filter(|(from, frame)| *from == node && frame.contains(text))
        .map(|(_, frame)| frame.clone())
        .collect()
}

/// Injects a frame into `to` as if `from` sent it, with the next sequence number `to` expects.
fn inject_frame(net: &mut Net, from: usize, to: usize, method_params: &str) -> u64 {
    let seq = net.nodes[to]
        .kv("remoteSeq.r1.highestReceivedSeq")
        .map_or(0, |s| s.parse::<u64>().unwrap())
        + 1;
    let peer = net.nodes[from].id();
    net.nodes[to].inject(NetEvent::Frame {
        peer,
        frame: format!("{{\"seq\":{seq},{method_params}}}").into_bytes(),
        credit: Default::default(),
    });
    net.settle(Duration::from_millis(300));
    seq
}

#[test]
fn gc_goes_both_ways_refs_flipped_and_nothing_is_left() {
    let mut net = Net::new();
    net.nodes[0].launch(&["alice"]);
    net.nodes[1].launch(&["bob"]);
    let alice_in_b = net.redeem(0, "ko4", 1);
    let bob_in_a = net.redeem(1, "ko4", 0);
    // Each holds the other's presence.
    let slot = net.nodes[1].send_capdata("ko4", methargs("hold", vec![presence(&alice_in_b)]));
    net.answer(&slot).unwrap();
    let slot = net.nodes[0].send_capdata("ko4", methargs("hold", vec![presence(&bob_in_a)]));
    net.answer(&slot).unwrap();
    let before_a = net.nodes[0].keys("r1.c.");
    let before_b = net.nodes[1].keys("r1.c.");
    // bob gives alice a fresh object of his; alice gives bob one of hers.
    net.send(1, "ko4", "give", json!([0, 0, 0])).unwrap();
    net.send(0, "ko4", "give", json!([0, 0, 0])).unwrap();
    net.settle(Duration::from_millis(300));
    assert_eq!(
        net.nodes[0].keys("r1.c.").len(),
        before_a.len() + 4,
        "{:?}",
        net.nodes[0].keys("r1.c.")
    );
    // Each drops what it holds: the other side hears dropExports and retireExports, in its
    // own frame, and forgets the entries; the exporter's objects live on with their owners.
    net.send(1, "ko4", "drop", json!([])).unwrap();
    net.send(0, "ko4", "drop", json!([])).unwrap();
    net.settle(Duration::from_millis(300));
    assert_eq!(net.nodes[0].keys("r1.c."), before_a);
    assert_eq!(net.nodes[1].keys("r1.c."), before_b);
    for (node, other) in [(0, 1), (1, 0)] {
        let drops = sent_by(&net, node, r#"["dropExports",["ro-"#);
        let retires = sent_by(&net, node, r#"["retireExports",["ro-"#);
        assert!(
            !drops.is_empty() && !retires.is_empty(),
            "{:?}",
            net.carried
        );
        assert!(sent_by(&net, other, "bringOutYourDead").is_empty());
    }
    net.assert_invariants();
}

#[test]
fn gc_refs_in_the_references_unflipped_form_are_accepted_and_never_create() {
    let mut net = Net::new();
    net.nodes[0].launch(&["alice"]);
    net.redeem(0, "ko4", 1);
    assert_eq!(net.nodes[0].kv("r1.c.ro-1").as_deref(), Some("ko4"));
    // The reference sends GC refs in its own frame: B's `ro+1` for A's `ro-1`. A ref that
    // names nothing is ignored, and nothing is made from it.
    inject_frame(
        &mut net,
        1,
        0,
        r#""method":"deliver","params":["retireExports",["ro+1","ro+77","rp-3"]]"#,
    );
    assert_eq!(net.nodes[0].kv("r1.c.ro-1"), None);
    assert_eq!(net.nodes[0].kv("r1.c.ro-77"), None);
    assert_eq!(net.nodes[0].kv("ko4.refCount").as_deref(), Some("1,1"));
    // And bringOutYourDead from a peer reaps here but sends none back (the ping-pong guard).
    inject_frame(
        &mut net,
        1,
        0,
        r#""method":"deliver","params":["bringOutYourDead"]"#,
    );
    assert!(sent_by(&net, 0, "bringOutYourDead").is_empty());
    net.nodes[0].assert_invariants();
}

#[test]
fn a_frame_that_cannot_be_applied_is_refused_acknowledged_and_noted() {
    let mut net = Net::new();
    net.nodes[0].launch(&["alice"]);
    net.redeem(0, "ko4", 1);
    let seq = inject_frame(
        &mut net,
        1,
        0,
        r##""method":"deliver","params":["message","ro-99",{"methargs":{"body":"#[\"resume\",[]]","slots":["ro+5"]},"result":"rp+9"}]"##,
    );
    assert_eq!(
        net.nodes[0].kv("remoteSeq.r1.highestReceivedSeq"),
        Some(seq.to_string()),
        "refused, and acknowledged all the same"
    );
    assert_eq!(net.nodes[0].kv("r1.c.ro+5"), None, "nothing of it was kept");
    // A frame may not make more than 1024 new objects here.
    let slots: Vec<String> = (1..=1025).map(|n| format!("\"ro+{n}\"")).collect();
    let flood = format!(
        r##""method":"deliver","params":["message","ro-1",{{"methargs":{{"body":"#[\"resume\",[]]","slots":[{}]}},"result":null}}]"##,
        slots.join(",")
    );
    inject_frame(&mut net, 1, 0, &flood);
    assert_eq!(net.nodes[0].kv("r1.c.ro+1"), None);
    let peers = net.nodes[0].call(Call::ListPeers).unwrap();
    assert!(
        peers[0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("which this kernel never gave r1"),
        "{peers}"
    );
    assert!(
        peers[0]["errors"][1]
            .as_str()
            .unwrap()
            .contains("at most 1024 new references"),
        "{peers}"
    );
    net.assert_invariants();
}

#[test]
fn a_peer_that_restarted_rejects_what_it_decided_with_peer_restarted() {
    let mut net = Net::new();
    net.nodes[0].launch(&["alice"]);
    let alice = net.redeem(0, "ko4", 1);
    let deferred = net.nodes[1].start_call(Call::QueueMessage {
        target: alice.clone(),
        method: "defer".into(),
        args: vec![],
    });
    net.settle(Duration::from_millis(200));
    assert!(deferred.lock().unwrap().is_none());
    net.nodes[0].call(Call::ClearState).unwrap();
    net.cut();
    net.mend();
    let restarted = "[KERNEL:PEER_RESTARTED] Remote peer restarted (incarnation changed)";
    let err = net.send(1, &alice, "resume", json!([])).unwrap_err();
    assert_eq!(err, restarted);
    assert_eq!(net.answer(&deferred).unwrap_err(), restarted);
    assert_eq!(net.nodes[1].kv("ko4.owner"), None, "A's alice is forgotten");
    // A fresh start works.
    net.nodes[0].launch(&["alice"]);
    let again = net.redeem(0, "ko4", 1);
    assert_eq!(
        net.send(1, &again, "resume", json!([])).unwrap()["body"],
        "#\"Counter incremented to: 2\""
    );
    net.assert_invariants();
}

#[test]
fn a_peer_given_up_on_rejects_with_connection_lost_then_recovers() {
    let mut net = Net::new();
    net.nodes[0].launch(&["alice"]);
    let alice = net.redeem(0, "ko4", 1);
    net.cut();
    let err = net.send(1, &alice, "resume", json!([])).unwrap_err();
    let peer = net.nodes[0].id();
    assert_eq!(
        err,
        format!(
            "[KERNEL:CONNECTION_LOST] Remote connection lost: {peer} (max retries reached or non-retryable error)"
        )
    );
    assert_eq!(
        net.nodes[1].kv("remoteSeq.r1.startSeq"),
        net.nodes[1]
            .kv("remoteSeq.r1.nextSendSeq")
            .map(|n| (n.parse::<u64>().unwrap() + 1).to_string())
    );
    net.mend();
    // The frame given up on never reached A: its counter moves once, now.
    assert_eq!(
        net.send(1, &alice, "resume", json!([])).unwrap()["body"],
        "#\"Counter incremented to: 2\""
    );
    net.assert_invariants();
}

#[test]
fn the_queue_limit_and_the_frame_limit_refuse_with_delivery_failed() {
    let options = RemoteOptions {
        max_queue: Some(2),
        ..RemoteOptions::default()
    };
    let mut net = Net::of(Node::new(), Node::with_options(options));
    net.nodes[0].launch(&["alice"]);
    let alice = net.redeem(0, "ko4", 1);
    let huge = "x".repeat(1_100_000);
    let err = net.send(1, &alice, "echo", json!([huge])).unwrap_err();
    assert!(
        err.starts_with("[KERNEL:DELIVERY_FAILED] Message size ")
            && err.ends_with(" bytes exceeds limit of 1048576 bytes"),
        "{err}"
    );
    net.cut();
    let first = net.nodes[1].start_call(Call::QueueMessage {
        target: alice.clone(),
        method: "resume".into(),
        args: vec![],
    });
    let second = net.nodes[1].start_call(Call::QueueMessage {
        target: alice.clone(),
        method: "resume".into(),
        args: vec![],
    });
    let third = net.nodes[1].start_call(Call::QueueMessage {
        target: alice.clone(),
        method: "resume".into(),
        args: vec![],
    });
    assert_eq!(
        third.lock().unwrap().take().unwrap().unwrap_err(),
        "[KERNEL:DELIVERY_FAILED] Message rejected: pending queue at capacity (2)"
    );
    net.mend();
    net.nodes[1].inject(NetEvent::Wake {
        peer: net.nodes[0].id(),
    });
    assert_eq!(
        net.answer(&first).unwrap()["body"],
        "#\"Counter incremented to: 2\""
    );
    assert_eq!(
        net.answer(&second).unwrap()["body"],
        "#\"Counter incremented to: 3\""
    );
    net.assert_invariants();
}

#[test]
fn capability_records_apply_to_remote_redemption_and_unanswered_ones_time_out() {
    let mut net = Net::new();
    net.nodes[0].launch(&["alice"]);
    let url = net.nodes[0].issue("ko4");
    let list = net.nodes[0].call(Call::ListCapabilities).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();
    net.nodes[0]
        .call(Call::RevokeCapability(id.clone()))
        .unwrap();
    let slot = net.nodes[1].start_call(Call::RedeemOcapUrl(Redeemable::Unopened(url)));
    assert_eq!(
        net.answer(&slot).unwrap_err(),
        format!("Capability {id} has been revoked")
    );
    let forged = format!("ocap:zBogus@{}", net.nodes[0].id());
    let slot = net.nodes[1].start_call(Call::RedeemOcapUrl(Redeemable::Unopened(forged)));
    assert_eq!(
        net.answer(&slot).unwrap_err(),
        "ocapURL has bad object reference"
    );
    // A kernel that never answers: the redemption fails after 4 acknowledgement timeouts.
    let url = net.nodes[0].issue("ko4");
    net.swallow = Some(0);
    let slot = net.nodes[1].start_call(Call::RedeemOcapUrl(Redeemable::Unopened(url)));
    assert_eq!(
        net.answer(&slot).unwrap_err(),
        "URL redemption timed out after 160ms"
    );
    net.swallow = None;
    net.assert_invariants();
    assert!(net.nodes[1].keys("remoteRedemption.").is_empty());
}
