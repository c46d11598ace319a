//! Federation across network namespaces (root only; skipped with the reason otherwise): a relay
//! namespace linked to A's and to B's by veth pairs, no route between A and B, so everything
//! goes through `ocapd relay`. The A link is cut shorter than the give-up time (traffic resumes,
//! every message exactly once, in order) and longer (the sender gives up: `CONNECTION_LOST`,
//! then recovery). Only addresses of the namespaces the test makes are used, and the
//! namespaces are always deleted.

use crate::common::{Home, OCAPD, eventually};
use crate::federation::Side;
use serde_json::json;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The namespaces and links of one test, deleted on drop.
struct Namespaces {
    names: [String; 3],
    /// What the names and links of this set share (the tests run side by side).
    tag: String,
}

impl Namespaces {
    /// `relay`, `a`, `b`: relay 10.231.1.1 ↔ a 10.231.1.2, relay 10.231.2.1 ↔ b 10.231.2.2.
    fn make() -> Result<Namespaces, String> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let tag = format!("{}{n}", std::process::id() % 10_000);
        let names = [
            format!("ocap{tag}r"),
            format!("ocap{tag}a"),
            format!("ocap{tag}b"),
        ];
        let made = Namespaces {
            names,
            tag: tag.clone(),
        };
        for name in &made.names {
            ip(&["netns", "add", name])?;
            ip(&["-n", name, "link", "set", "lo", "up"])?;
        }
        let [relay, a, b] = &made.names;
        for (side, net, end) in [(a, 1, "a"), (b, 2, "b")] {
            let (near, far) = (format!("ov{tag}r{end}"), format!("ov{tag}{end}"));
            ip(&[
                "link", "add", &near, "netns", relay, "type", "veth", "peer", "name", &far,
                "netns", side,
            ])?;
            ip(&[
                "-n",
                relay,
                "addr",
                "add",
                &format!("10.231.{net}.1/24"),
                "dev",
                &near,
            ])?;
            ip(&[
                "-n",
                side,
                "addr",
                "add",
                &format!("10.231.{net}.2/24"),
                "dev",
                &far,
            ])?;
            ip(&["-n", relay, "link", "set", &near, "up"])?;
            ip(&["-n", side, "link", "set", &far, "up"])?;
        }
        Ok(made)
    }

    /// Takes A's end of its link down (`up == false`) or back up.
    fn link_a(&self, up: bool) {
        let tag = &self.tag;
        let state = if up { "up" } else { "down" };
        ip(&[
            "-n",
            &self.names[1],
            "link",
            "set",
            &format!("ov{tag}a"),
            state,
        ])
        .unwrap();
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// The namespaces, or why these tests cannot run here.
fn namespaces() -> Option<Namespaces> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping the network-namespace tests: they need root");
        return None;
    }
    match Namespaces::make() {
        Ok(made) => Some(made),
        Err(e) => {
            eprintln!("skipping the network-namespace tests: cannot make namespaces: {e}");
            None
        }
    }
}

/// `ocapd relay` in the relay namespace, on both links: its addresses by link.
struct NsRelay {
    child: Child,
    addrs: Vec<String>,
    _home: Home,
}

impl NsRelay {
    fn start(ns: &str) -> NsRelay {
        let home = Home::new();
        let mut child = home
            .command("ip")
            .args(["netns", "exec", ns, OCAPD, "relay"])
            .args(["--listen", "/ip4/10.231.1.1/tcp/4001"])
            .args(["--listen", "/ip4/10.231.2.1/tcp/4001"])
            .arg("--key-file")
            .arg(home.path().join("relay.key"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut addrs = Vec::new();
        while addrs.len() < 2 {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "the relay ended");
            addrs.push(line.trim().to_string());
        }
        addrs.sort();
        NsRelay {
            child,
            addrs,
            _home: home,
        }
    }
}

impl Drop for NsRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A side whose daemon runs in namespace `ns`, knowing `relay`.
fn side_in(ns: &str, relay: &str) -> Side {
    let side = Side::start_in(ns, &["--remote-ack-timeout", "1"]);
    side.call("initRemoteComms", json!({"relays": [relay]}));
    side
}

fn bumps(side: &Side, root: &str) -> Vec<u64> {
    serde_json::from_value(side.ask(root, "bumps", json!([]))).unwrap()
}

#[test]
fn link_cuts_short_and_long_across_namespaces() {
    let Some(ns) = namespaces() else { return };
    let relay = NsRelay::start(&ns.names[0]);
    let (via_a, via_b) = (relay.addrs[0].clone(), relay.addrs[1].clone());
    assert!(via_a.contains("/10.231.1.1/") && via_b.contains("/10.231.2.1/"));
    let a = side_in(&ns.names[1], &via_a);
    let b = side_in(&ns.names[2], &via_b);
    let (ra, rb) = (a.launch(), b.launch());
    // The URL names A's side of the relay, which B cannot reach; B goes through its own.
    let url = a.ask(&ra, "issueSelf", json!([]));
    assert!(url.as_str().unwrap().contains("10.231.1.1"), "{url}");
    assert_eq!(b.ask(&rb, "hold", json!([url])), json!("held"));
    // A cut shorter than the give-up time (1 s acknowledgement timeout, 3 resends): a burst
    // sent across it arrives whole, once, in order.
    assert_eq!(b.ask(&rb, "burst", json!([1, 50])), json!(50));
    ns.link_a(false);
    std::thread::sleep(Duration::from_millis(1500));
    ns.link_a(true);
    let expected: Vec<u64> = (1..=50).collect();
    assert!(
        eventually(Duration::from_secs(60), || bumps(&a, &ra) == expected),
        "{:?}",
        bumps(&a, &ra)
    );
    // A cut longer than the give-up time: B gives up (CONNECTION_LOST).
    let alice = b.call("redeemOcapURL", json!({"url": url}));
    let alice = alice.as_str().unwrap().to_string();
    ns.link_a(false);
    let started = Instant::now();
    let peer = b.call("listPeers", json!([]))[0]["peerId"].clone();
    let err = b.send(&alice, "bump", json!([51])).unwrap_err();
    assert_eq!(
        err,
        format!(
            "[KERNEL:CONNECTION_LOST] Remote connection lost: {} (max retries reached or non-retryable error)",
            peer.as_str().unwrap()
        )
    );
    eprintln!("B gave up after {:?}", started.elapsed());
    std::thread::sleep(Duration::from_secs(2));
    ns.link_a(true);
    // Then it recovers: a later message arrives; the one given up on arrived at most once (it
    // may have been in flight when B gave up), and nothing is out of order.
    assert_eq!(b.ask(&alice, "bump", json!([52])), json!(52));
    let got = bumps(&a, &ra);
    let mut want: Vec<u64> = (1..=50).collect();
    if got.contains(&51) {
        want.push(51);
    }
    want.push(52);
    assert_eq!(got, want);
    a.assert_consistent();
    b.assert_consistent();
}

/// Runs `command` in network namespace `ns` (entered between fork and exec, as `ip netns exec`
/// does, which itself needs netlink) and, unless `netlink`, unable to open netlink sockets, as
/// `RestrictAddressFamilies=` without `AF_NETLINK` makes it: a seccomp filter failing
/// `socket(AF_NETLINK, …)` with `EAFNOSUPPORT`.
fn in_namespace(command: &mut Command, ns: &str, netlink: bool) {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let handle: OwnedFd = std::fs::File::open(format!("/var/run/netns/{ns}"))
        .unwrap()
        .into();
    const LD_ABS_W: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    let filter = [
        // seccomp_data: nr at 0, args[0] (low half, little-endian) at 16.
        libc::sock_filter {
            code: LD_ABS_W,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: JEQ_K,
            jt: 0,
            jf: 3,
            k: libc::SYS_socket as u32,
        },
        libc::sock_filter {
            code: LD_ABS_W,
            jt: 0,
            jf: 0,
            k: 16,
        },
        libc::sock_filter {
            code: JEQ_K,
            jt: 0,
            jf: 1,
            k: libc::AF_NETLINK as u32,
        },
        libc::sock_filter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: RET_ERRNO | libc::EAFNOSUPPORT as u32,
        },
        libc::sock_filter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: RET_ALLOW,
        },
    ];
    // SAFETY: only async-signal-safe calls between fork and exec; the filter and the
    // namespace's handle outlive them.
    unsafe {
        command.pre_exec(move || {
            if libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if netlink {
                return Ok(());
            }
            let program = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &program as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The state remote comms reach in a daemon that listens on every interface of a fresh
/// namespace (only its loopback and test link), with or without netlink.
fn listening_on_all_interfaces(ns: &str, netlink: bool) -> String {
    let home = Home::new();
    let mut notify = crate::common::Notify::new(home.path());
    let mut command = home.command(OCAPD);
    command
        .args(["--foreground", "--remote-start"])
        .args(["--remote-listen", "/ip4/0.0.0.0/tcp/4001"])
        .env("NOTIFY_SOCKET", &notify.path)
        .stderr(Stdio::null());
    in_namespace(&mut command, ns, netlink);
    let mut child = command.spawn().unwrap();
    notify.expect("READY=1", Duration::from_secs(20));
    let status = crate::common::call(&home.socket(), "getStatus", "[]");
    let _ = child.kill();
    let _ = child.wait();
    status["remoteComms"]["state"].as_str().unwrap().to_string()
}

#[test]
fn listening_on_all_interfaces_needs_netlink() {
    let Some(ns) = namespaces() else { return };
    // libp2p's TCP transport lists the interfaces of an unspecified listen address through
    // rtnetlink: the units must allow AF_NETLINK for `remote-listen = ["/ip4/0.0.0.0/…"]`.
    assert_eq!(listening_on_all_interfaces(&ns.names[1], true), "connected");
    assert_eq!(
        listening_on_all_interfaces(&ns.names[1], false),
        "identity-only"
    );
}
