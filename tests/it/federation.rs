//! Two `ocapd` with separate homes federate over loopback (docs/remote.md): directly and
//! through `ocapd relay`; objects and promises cross both ways and come home as themselves;
//! a burst of numbered messages survives a restart and a `kill -9` of either side, arriving
//! exactly once and in order (a counter vat records them); `clearState` on one side
//! (`PEER_RESTARTED`), a peer given up on (`CONNECTION_LOST`) and back, the frame and queue
//! limits, and remote comms as a service (back by themselves after a restart, also under socket
//! activation; no idle exit while up). Everything binds 127.0.0.1.

use crate::common::{
    Daemon, Home, Notify, OCAPCTL, OCAPD, eventually, request_line, stderr, stdout, try_request,
};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The federated test vat's bundle.
fn bundle() -> String {
    format!("{}/test-vats/federated.bundle", env!("OUT_DIR"))
}

/// A port free on 127.0.0.1 now (a daemon listens on it next, across its restarts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One federated daemon: its home, its process and the flags it is (re)started with.
pub struct Side {
    pub home: Home,
    pub daemon: Option<Daemon>,
    args: Vec<String>,
    pub port: u16,
    /// The network namespace the daemon runs in, if not the test's.
    ns: Option<String>,
}

/// The flags every side starts with: frames unthrottled (the reference's 100/s would make the
/// bursts slow), acknowledgement timeouts short enough for a test to see a give-up.
const FLAGS: [&str; 4] = [
    "--remote-max-frames-per-sec",
    "10000",
    "--log-level",
    "info,libp2p=warn",
];

impl Side {
    /// A daemon with `extra` flags (its home fresh).
    pub fn start(extra: &[&str]) -> Side {
        Side::start_with(None, extra)
    }

    /// A daemon in network namespace `ns` (`ip netns exec`).
    pub fn start_in(ns: &str, extra: &[&str]) -> Side {
        Side::start_with(Some(ns.to_string()), extra)
    }

    fn start_with(ns: Option<String>, extra: &[&str]) -> Side {
        let mut args: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut side = Side {
            home: Home::new(),
            daemon: None,
            args,
            port: free_port(),
            ns,
        };
        side.up();
        side
    }

    fn up(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.daemon = Some(match &self.ns {
            None => self.home.daemon(&args),
            Some(ns) => {
                // `ip netns exec` runs ocapd in the namespace (it execs: the pid is ocapd's).
                let mut notify = Notify::new(self.home.path());
                let child = self
                    .home
                    .command("ip")
                    .args(["netns", "exec", ns, OCAPD, "--foreground"])
                    .args(&args)
                    .env("NOTIFY_SOCKET", &notify.path)
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                notify.expect("READY=1", Duration::from_secs(20));
                Daemon::new(child, notify)
            }
        });
    }

    /// Stops the daemon cleanly and starts it again over the same home.
    pub fn restart(&mut self) {
        self.stop();
        self.up();
    }

    /// Stops the daemon cleanly.
    pub fn stop(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            daemon.signal(libc::SIGTERM);
            daemon.wait_exit(Duration::from_secs(20));
        }
    }

    /// Kills the daemon (SIGKILL: no chance to finish anything) and starts it again.
    pub fn kill_and_restart(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            daemon.child.kill().unwrap();
            daemon.child.wait().unwrap();
        }
        self.up();
    }

    /// A call's result or its error message.
    pub fn try_call(&self, method: &str, params: Value) -> Result<Value, String> {
        let response = try_request(&self.home.socket(), &request_line(method, &params))?;
        match response.get("error") {
            Some(error) => Err(error["message"].as_str().unwrap_or_default().to_string()),
            None => Ok(response["result"].clone()),
        }
    }

    /// A call's result (panics on an error).
    pub fn call(&self, method: &str, params: Value) -> Value {
        self.try_call(method, params.clone())
            .unwrap_or_else(|e| panic!("{method} {params}: {e}"))
    }

    /// Starts remote comms listening on the side's port.
    pub fn listen(&self) {
        let addr = format!("/ip4/127.0.0.1/tcp/{}", self.port);
        self.call("initRemoteComms", json!({"directListenAddresses": [addr]}));
    }

    /// `getStatus.remoteComms`.
    pub fn comms(&self) -> Value {
        self.call("getStatus", json!([]))["remoteComms"].clone()
    }

    pub fn peer_id(&self) -> String {
        self.comms()["peerId"].as_str().unwrap().to_string()
    }

    /// The direct address it listens on (once the node reported it).
    pub fn addr(&self) -> String {
        let mut addrs = Vec::new();
        let found = eventually(Duration::from_secs(10), || {
            addrs = self.comms()["listenAddresses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            !addrs.is_empty()
        });
        assert!(found, "no listen address: {}", self.comms());
        addrs[0].as_str().unwrap().to_string()
    }

    /// Tells this side where `other` listens.
    pub fn knows(&self, other: &Side) {
        self.call(
            "registerLocationHints",
            json!({"peerId": other.peer_id(), "hints": [other.addr()]}),
        );
    }

    /// Launches the federated test vat with the URL services; its root kref.
    pub fn launch(&self) -> String {
        let config = json!({
            "bootstrap": "f",
            "services": ["ocapURLIssuerService", "ocapURLRedemptionService"],
            "vats": {"f": {"bundleSpec": format!("file://{}", bundle())}},
        });
        let launched = self.call("launchSubcluster", json!({"config": config}));
        launched["rootKref"].as_str().unwrap().to_string()
    }

    /// `queueMessage`: the result CapData, or the rejection's message.
    pub fn send(&self, target: &str, method: &str, args: Value) -> Result<Value, String> {
        self.try_call("queueMessage", json!([target, method, args]))
    }

    /// `queueMessage` whose result is plain data: that data.
    pub fn ask(&self, target: &str, method: &str, args: Value) -> Value {
        let result = self
            .send(target, method, args.clone())
            .unwrap_or_else(|e| panic!("{method} {args}: {e}"));
        let body = result["body"].as_str().unwrap();
        serde_json::from_str(&body[1..]).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    /// The fsck report: clean on both counts.
    pub fn assert_consistent(&self) {
        assert_eq!(
            self.call("checkIntegrity", json!([])),
            json!({"integrity": ["ok"], "invariants": []})
        );
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A listening, a dialling side that knows where the first is, and the federated vat on each.
fn pair(a_flags: &[&str], b_flags: &[&str]) -> (Side, Side, String, String) {
    pair_with(a_flags, b_flags, json!({}))
}

/// [`pair`], B's remote comms started with `b_options`.
fn pair_with(a_flags: &[&str], b_flags: &[&str], b_options: Value) -> (Side, Side, String, String) {
    let a = Side::start(a_flags);
    let b = Side::start(b_flags);
    a.listen();
    b.call("initRemoteComms", b_options);
    b.knows(&a);
    let (ra, rb) = (a.launch(), b.launch());
    (a, b, ra, rb)
}

#[test]
fn two_daemons_federate_objects_and_promises_cross_both_ways_and_come_home() {
    let (a, b, ra, rb) = pair(&[], &[]);
    assert_eq!(a.comms()["state"], "connected");
    // The RPC redemption: B gets a kref for A's vat and calls it.
    let url = a.ask(&ra, "issueSelf", json!([]));
    let url = url.as_str().unwrap().to_string();
    let alice = b.call("redeemOcapURL", json!({"url": url}));
    let alice = alice.as_str().unwrap();
    assert_eq!(b.ask(alice, "bump", json!([7])), json!(7));
    assert_eq!(a.ask(&ra, "bumps", json!([])), json!([7]));
    // A vat redeems another kernel's URL through ocapURLRedemptionService.
    let thing = a.ask(&ra, "issueOriginal", json!(["a thing"]));
    assert_eq!(
        b.ask(&rb, "redeemAndLabel", json!([thing.clone()])),
        json!("a thing")
    );
    // A's object held by B's vat goes back to A and is A's original.
    assert_eq!(b.ask(&rb, "hold", json!([thing])), json!("held"));
    assert_eq!(
        b.ask(&rb, "returnHeld", json!([url.clone()])),
        json!(true),
        "the thing came home as itself"
    );
    // B's object goes to A and back the same way.
    let b_thing = b.ask(&rb, "issueOriginal", json!(["b thing"]));
    let b_url = b.ask(&rb, "issueSelf", json!([]));
    assert_eq!(a.ask(&ra, "hold", json!([b_thing])), json!("held"));
    assert_eq!(
        a.ask(&ra, "returnHeld", json!([b_url.clone()])),
        json!(true)
    );
    // A promise A's vat decides, awaited from B: settled later from A.
    let b_root = rb.clone();
    let b_socket = b.home.socket();
    let awaiting = std::thread::spawn(move || {
        let line = request_line("queueMessage", &json!([b_root, "awaitLater", [url]]));
        try_request(&b_socket, &line)
    });
    let a_vat = a.ask(&ra, "bumps", json!([]));
    assert_eq!(a_vat, json!([7]));
    assert!(eventually(Duration::from_secs(10), || {
        a.send(&ra, "settleLater", json!(["from A"])).is_ok()
    }));
    let settled = awaiting.join().unwrap().unwrap();
    assert_eq!(settled["result"]["body"], "#\"from A\"", "{settled}");
    // A promise B's vat decides, handed to A as an argument, settled from B.
    assert_eq!(a.ask(&ra, "giveMine", json!([b_url])), json!("given"));
    assert!(eventually(Duration::from_secs(10), || {
        b.ask(&rb, "took", json!([])) == json!("waiting")
    }));
    a.ask(&ra, "settleMine", json!(["from A's promise"]));
    assert!(eventually(Duration::from_secs(10), || {
        b.ask(&rb, "took", json!([])) == json!("from A's promise")
    }));
    // Both kernels are consistent, and each knows the other as r1.
    let peers = b.call("listPeers", json!([]));
    assert_eq!(peers[0]["remote"], "r1");
    assert_eq!(peers[0]["peerId"], a.peer_id().as_str());
    assert_eq!(peers[0]["state"], "connected");
    a.assert_consistent();
    b.assert_consistent();
    // `ocapctl peers` shows the same.
    let out = Command::new(OCAPCTL)
        .args(["--home", b.home.path().to_str().unwrap(), "peers"])
        .env("OCAP_HOME", b.home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("r1") && text.contains(&a.peer_id()) && text.contains("connected"),
        "{text}"
    );
}

#[test]
fn through_ocapd_relay_the_url_carries_the_way() {
    let mut relay = Relay::start();
    let addr = relay.addr.clone();
    let a = Side::start(&[]);
    let b = Side::start(&[]);
    a.call("initRemoteComms", json!({"relays": [addr]}));
    b.call("initRemoteComms", json!({"relays": [addr]}));
    let ra = a.launch();
    // The URL names the relay (issueOcapURL adds the relay pool's hints), and no direct
    // address is known: B reaches A through the relay alone.
    let url = a.ask(&ra, "issueSelf", json!([]));
    let url = url.as_str().unwrap().to_string();
    assert!(url.ends_with(&format!(",{addr}")), "{url}");
    let alice = b.call("redeemOcapURL", json!({"url": url}));
    for n in 1..=5 {
        assert_eq!(b.ask(alice.as_str().unwrap(), "bump", json!([n])), json!(n));
    }
    assert_eq!(a.ask(&ra, "bumps", json!([])), json!([1, 2, 3, 4, 5]));
    relay.stop();
}

/// `ocapd relay` on loopback, its address read from its output.
pub struct Relay {
    child: Child,
    pub addr: String,
    _home: Home,
}

impl Relay {
    pub fn start() -> Relay {
        let home = Home::new();
        let mut child = home
            .command(OCAPD)
            .args(["relay", "--listen", "/ip4/127.0.0.1/tcp/0"])
            .arg("--key-file")
            .arg(home.path().join("relay.key"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        Relay {
            child,
            addr: line.trim().to_string(),
            _home: home,
        }
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until A's counter recorded `expected`; fails if it ever holds anything else but a
/// prefix of it (a lost, doubled or reordered bump).
fn await_bumps(a: &Side, ra: &str, expected: &[u64], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let bumps: Vec<u64> = serde_json::from_value(a.ask(ra, "bumps", json!([]))).unwrap();
        assert!(
            expected.starts_with(&bumps),
            "bumps out of order, lost or doubled: {bumps:?}"
        );
        if bumps.len() == expected.len() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {} bumps arrived",
            bumps.len(),
            expected.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn bursts_survive_restart_and_kill_of_either_side_exactly_once_in_order() {
    let flags = ["--remote-ack-timeout", "2"];
    // Room for a whole burst and the collection of its results while A does not acknowledge
    // (the default, 200, is the reference's; a full queue is a test of its own).
    let (mut a, mut b, ra, rb) = pair_with(&flags, &flags, json!({"maxQueue": 1000}));
    let url = a.ask(&ra, "issueSelf", json!([]));
    assert_eq!(b.ask(&rb, "hold", json!([url])), json!("held"));
    const BURST: u64 = 120;
    let mut expected = Vec::new();
    for (round, fault) in ["restart A", "kill A", "restart B", "kill B"]
        .iter()
        .enumerate()
    {
        let from = round as u64 * BURST + 1;
        // The burst is one delivery to B's vat: once its call returns, every send is committed.
        assert_eq!(b.ask(&rb, "burst", json!([from, BURST])), json!(BURST));
        expected.extend(from..from + BURST);
        let arrived = a.ask(&ra, "bumps", json!([])).as_array().unwrap().len();
        eprintln!(
            "{fault}: {arrived} of {} bumps arrived before it",
            expected.len()
        );
        match *fault {
            "restart A" => a.restart(),
            "kill A" => a.kill_and_restart(),
            "restart B" => b.restart(),
            _ => b.kill_and_restart(),
        }
        await_bumps(&a, &ra, &expected, Duration::from_secs(60));
    }
    a.assert_consistent();
    b.assert_consistent();
}

#[test]
fn clear_state_on_one_side_rejects_what_it_decided_with_peer_restarted() {
    let (a, b, ra, rb) = pair(&[], &[]);
    let url = a.ask(&ra, "issueSelf", json!([]));
    let alice = b.call("redeemOcapURL", json!({"url": url}));
    let alice = alice.as_str().unwrap().to_string();
    // B's vat awaits a promise A's vat decides.
    let (b_root, b_socket) = (rb.clone(), b.home.socket());
    let awaiting = std::thread::spawn(move || {
        let line = request_line("queueMessage", &json!([b_root, "awaitLater", [url]]));
        try_request(&b_socket, &line)
    });
    assert!(eventually(Duration::from_secs(10), || {
        a.ask(&ra, "laterAsked", json!([])) == json!(true)
    }));
    // A forgets everything (a new incarnation, same identity and address).
    a.call("clearState", json!([]));
    assert_eq!(a.comms()["state"], "connected", "remote comms go on");
    let restarted = "[KERNEL:PEER_RESTARTED] Remote peer restarted (incarnation changed)";
    // B learns at its next contact: what A decided is rejected, A's objects are gone.
    assert_eq!(b.send(&alice, "bump", json!([1])).unwrap_err(), restarted);
    let awaited = awaiting.join().unwrap().unwrap();
    assert_eq!(awaited["error"]["message"], restarted, "{awaited}");
    assert_eq!(
        b.send(&alice, "bump", json!([2])).unwrap_err(),
        "[KERNEL:OBJECT_DELETED] Target object has no owner; it may have been deleted"
    );
    // A fresh start from A works.
    let ra = a.launch();
    let url = a.ask(&ra, "issueSelf", json!([]));
    let again = b.call("redeemOcapURL", json!({"url": url}));
    assert_eq!(b.ask(again.as_str().unwrap(), "bump", json!([3])), json!(3));
    a.assert_consistent();
    b.assert_consistent();
}

#[test]
fn a_peer_given_up_on_rejects_with_connection_lost_then_recovers() {
    // Both sides with a short acknowledgement timeout: a gap a sender gave up on is closed by
    // the receiver after 1.5 of its timeouts, before the sender's 3 resends run out.
    let flags = ["--remote-ack-timeout", "0.4"];
    let (mut a, b, ra, _) = pair(&flags, &flags);
    let url = a.ask(&ra, "issueSelf", json!([]));
    let alice = b.call("redeemOcapURL", json!({"url": url}));
    let alice = alice.as_str().unwrap().to_string();
    assert_eq!(b.ask(&alice, "bump", json!([1])), json!(1));
    a.stop();
    let peer = a_peer(&b);
    let started = Instant::now();
    let err = b.send(&alice, "bump", json!([2])).unwrap_err();
    assert_eq!(
        err,
        format!(
            "[KERNEL:CONNECTION_LOST] Remote connection lost: {peer} (max retries reached or non-retryable error)"
        )
    );
    eprintln!("given up after {:?}", started.elapsed());
    let peers = b.call("listPeers", json!([]));
    assert_eq!(peers[0]["pending"], 0, "{peers}");
    // A comes back; B's node, which kept dialling, reconnects: new messages go through and the
    // one given up on never arrives.
    a.restart();
    assert!(
        eventually(Duration::from_secs(30), || {
            b.call("listPeers", json!([]))[0]["state"] == "connected"
        }),
        "{}",
        b.call("listPeers", json!([]))
    );
    assert_eq!(b.ask(&alice, "bump", json!([3])), json!(3));
    assert_eq!(a.ask(&ra, "bumps", json!([])), json!([1, 3]));
    a.assert_consistent();
    b.assert_consistent();
}

/// The peer id B knows its first remote by.
fn a_peer(b: &Side) -> String {
    let peers = b.call("listPeers", json!([]));
    peers[0]["peerId"].as_str().unwrap().to_string()
}

#[test]
fn a_frame_over_1_mib_and_a_full_queue_are_refused_at_the_sender() {
    let mut a = Side::start(&[]);
    let b = Side::start(&["--max-request-bytes", "4000000"]);
    a.listen();
    b.call("initRemoteComms", json!({"maxQueue": 2}));
    b.knows(&a);
    let ra = a.launch();
    let url = a.ask(&ra, "issueSelf", json!([]));
    let alice = b.call("redeemOcapURL", json!({"url": url}));
    let alice = alice.as_str().unwrap().to_string();
    let huge = "x".repeat(1_100_000);
    let err = b.send(&alice, "bump", json!([huge])).unwrap_err();
    assert!(
        err.starts_with("[KERNEL:DELIVERY_FAILED] Message size ")
            && err.ends_with(" bytes exceeds limit of 1048576 bytes"),
        "{err}"
    );
    // With A away, two messages wait in B's queue and the third is refused at once.
    a.stop();
    let waiting: Vec<_> = (1..=2)
        .map(|n| {
            let (socket, target) = (b.home.socket(), alice.clone());
            let handle = std::thread::spawn(move || {
                try_request(
                    &socket,
                    &request_line("queueMessage", &json!([target, "bump", [n]])),
                )
            });
            assert!(eventually(Duration::from_secs(10), || {
                b.call("listPeers", json!([]))[0]["pending"] == n
            }));
            handle
        })
        .collect();
    assert_eq!(
        b.send(&alice, "bump", json!([3])).unwrap_err(),
        "[KERNEL:DELIVERY_FAILED] Message rejected: pending queue at capacity (2)"
    );
    a.restart();
    for (n, handle) in waiting.into_iter().enumerate() {
        let response = handle.join().unwrap().unwrap();
        assert_eq!(
            response["result"]["body"],
            format!("#{}", n + 1),
            "{response}"
        );
    }
    assert_eq!(a.ask(&ra, "bumps", json!([])), json!([1, 2]));
    b.assert_consistent();
}

#[test]
fn remote_comms_are_a_service_back_after_restarts_and_no_idle_exit() {
    let mut a = Side::start(&["--idle-timeout", "1"]);
    a.listen();
    let addr = a.addr();
    assert_eq!(
        a.try_call("initRemoteComms", json!({})).unwrap_err(),
        "remote comms already initialized"
    );
    // Up, the daemon does not exit when idle (a daemon without remote comms does: below).
    std::thread::sleep(Duration::from_millis(2500));
    let daemon = a.daemon.as_mut().unwrap();
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "idle exit with remote comms up"
    );
    // Back by themselves after a restart, at the same address.
    a.restart();
    assert_eq!(a.comms()["state"], "connected");
    assert_eq!(a.addr(), addr);
    a.stop();
    // And under socket activation: the first connection starts the daemon, which resumes them.
    let socket = a.home.path().join("activated.sock");
    let mut activate = a.home.command("systemd-socket-activate");
    activate
        .args(["-l", socket.to_str().unwrap(), "--fdname=ocap"])
        .arg("--setenv=OCAP_HOME")
        .args([OCAPD, "--foreground"])
        .env("OCAP_HOME", a.home.path())
        .stderr(Stdio::null());
    let mut activator = activate
        .spawn()
        .expect("systemd-socket-activate must be installed (apt-get install systemd)");
    assert!(eventually(Duration::from_secs(10), || socket.exists()));
    let status = try_request(&socket, &request_line("getStatus", &json!([]))).unwrap();
    let comms = &status["result"]["remoteComms"];
    assert_eq!(comms["state"], "connected", "{status}");
    assert!(
        eventually(Duration::from_secs(10), || {
            let status = try_request(&socket, &request_line("getStatus", &json!([]))).unwrap();
            status["result"]["remoteComms"]["listenAddresses"] == json!([addr])
        }),
        "{status}"
    );
    let _ = try_request(&socket, &request_line("shutdown", &json!([])));
    let _ = activator.kill();
    let _ = activator.wait();
    // Without remote comms the same daemon exits when idle.
    let plain = Home::new();
    let mut daemon = plain.daemon(&["--idle-timeout", "1"]);
    assert_eq!(daemon.wait_exit(Duration::from_secs(20)), Some(0));
}

#[test]
fn remote_comms_from_the_config_file_and_shown_by_check_config() {
    let home = Home::new();
    let port = free_port();
    let listen = format!("/ip4/127.0.0.1/tcp/{port}");
    let config = home.path().join("ocapd.toml");
    std::fs::write(
        &config,
        format!(
            "remote-start = true\nremote-listen = [\"{listen}\"]\nremote-max-frames-per-sec = 5000\nremote-ack-timeout = 3\n"
        ),
    )
    .unwrap();
    let checked = home
        .command(OCAPD)
        .arg("--config")
        .arg(&config)
        .args(["--check-config", "--remote-max-frames-per-sec", "7000"])
        .output()
        .unwrap();
    assert!(checked.status.success(), "{}", stderr(&checked));
    let text = stdout(&checked);
    for line in [
        "remote-start = true  # config file".to_string(),
        format!("remote-listen = [\"{listen}\"]  # config file"),
        "remote-max-frames-per-sec = 7000  # command line or environment".to_string(),
        "remote-ack-timeout = 3.0  # config file".to_string(),
        "remote-max-remotes = 1024  # default".to_string(),
    ] {
        assert!(text.contains(&line), "{line:?} not in:\n{text}");
    }
    let bad = home
        .command(OCAPD)
        .args(["--check-config", "--remote-listen", "not/a/multiaddr"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    // Started from the file: remote comms run without initRemoteComms.
    let config_arg = config.to_str().unwrap().to_string();
    let _daemon = home.daemon(&["--config", &config_arg]);
    let status = crate::common::call(&home.socket(), "getStatus", "[]");
    assert_eq!(status["remoteComms"]["state"], "connected", "{status}");
    assert!(eventually(Duration::from_secs(10), || {
        let status = crate::common::call(&home.socket(), "getStatus", "[]");
        status["remoteComms"]["listenAddresses"][0]
            .as_str()
            .is_some_and(|a| a.starts_with(&listen))
    }));
}
