//! The kernel's side of the contract with the network node (docs/remote.md "Kernel
//! integration"), written once: a [`Driver`] keeps the [`Session`] of every remote, turns
//! [`NetEvent`]s and outgoing messages into durable writes and effects through a [`Host`] (the
//! kernel: its store and its message handling, inside its current transaction), and holds back
//! everything the network may observe (frames, acknowledgements, handshake verdicts) until the
//! caller reports that the transaction committed.
//!
//! Use: for every event or outgoing message, inside a transaction, call [`Driver::handle`] or
//! [`Driver::send`]; then commit and call [`Driver::committed`] with the node's handle — or, if
//! the transaction failed, [`Driver::rolled_back`], which forgets the sessions it touched (they
//! are rebuilt from the store on next use) and everything held back. A caller that groups work
//! into savepoints inside one transaction brackets each with [`Driver::savepoint`] and
//! [`Driver::release_savepoint`] or [`Driver::rollback_savepoint`], so that undoing one piece
//! forgets only what that piece held and touched.

use super::node::{NetCommand, NetEvent, NetHandle, Verdict, VerdictReply};
use super::reliable::{Action, GiveUp, Limits, SendError, Session, Stored, Timer, Write};
use super::wire::{Body, Frame};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Why frames to a peer will never be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discard {
    /// The peer was given up on (unacknowledged after retransmissions, or unreachable):
    /// reject with `CONNECTION_LOST`.
    GaveUp,
    /// The peer restarted with a new incarnation: reject with `PEER_RESTARTED`.
    PeerRestarted,
}

/// What the driver needs from the kernel; every call happens inside the caller's transaction.
pub trait Host {
    /// A storage failure; the caller rolls the transaction back.
    type Error;

    /// What is stored for the peer's remote (`remoteSeq.<rN>.*`, `remotePending.<rN>.*`).
    fn load(&mut self, peer: &str) -> Result<Stored, Self::Error>;

    /// Makes one durable change for the peer's remote.
    fn write(&mut self, peer: &str, write: &Write) -> Result<(), Self::Error>;

    /// Applies message `seq` from the peer, returning the reply to send back in the same
    /// transaction, if any (`redeemURLReply` for a `redeemURL`, `[false, key, text]` when it is
    /// refused). A message that cannot be applied is refused here (logged) — it is acknowledged
    /// all the same.
    fn apply(&mut self, peer: &str, seq: u64, body: Body) -> Result<Option<Body>, Self::Error>;

    /// Records the incarnation the peer announced; true if it differs from the one on file
    /// (the peer restarted: also forget what it exported to us).
    fn incarnation(&mut self, peer: &str, incarnation: &str) -> Result<bool, Self::Error>;

    /// Frames `seqs` to the peer are abandoned: reject whatever waited on them.
    fn discarded(&mut self, peer: &str, seqs: &[u64], why: Discard) -> Result<(), Self::Error>;

    /// The node's addresses changed (for `getStatus.remoteComms.listenAddresses`).
    fn listening(&mut self, addrs: Vec<String>);
}

/// Why [`Driver::send`] failed.
#[derive(Debug)]
pub enum SendFailed<E> {
    /// Refused by the session (queue full, frame too large); nothing changed.
    Refused(SendError),
    /// The host's storage failed.
    Host(E),
}

/// What is released after commit.
enum Held {
    Net(NetCommand),
    Verdict(VerdictReply, Verdict),
}

/// Where a savepoint began: how much was held then, and the sessions touched since.
struct Mark {
    held: usize,
    touched: HashSet<String>,
}

/// The sessions of every remote, and what waits for the commit.
pub struct Driver {
    limits: Limits,
    epoch: Instant,
    sessions: HashMap<String, Session>,
    touched: HashSet<String>,
    held: Vec<Held>,
    marks: Vec<Mark>,
}

impl Driver {
    /// A driver whose sessions use `limits`.
    pub fn new(limits: Limits) -> Driver {
        Driver {
            limits,
            epoch: Instant::now(),
            sessions: HashMap::new(),
            touched: HashSet::new(),
            held: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// The limits sessions are made with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Begins a savepoint inside the current transaction.
    pub fn savepoint(&mut self) {
        self.marks.push(Mark {
            held: self.held.len(),
            touched: HashSet::new(),
        });
    }

    /// Keeps what the innermost savepoint did (it is now part of the enclosing one).
    pub fn release_savepoint(&mut self) {
        if let Some(mark) = self.marks.pop()
            && let Some(outer) = self.marks.last_mut()
        {
            outer.touched.extend(mark.touched);
        }
    }

    /// Undoes the innermost savepoint: what it held is dropped and the sessions it touched
    /// are forgotten (rebuilt from the store, which the caller rolled back too, on next use).
    pub fn rollback_savepoint(&mut self) {
        if let Some(mark) = self.marks.pop() {
            self.held.truncate(mark.held);
            for peer in mark.touched {
                self.sessions.remove(&peer);
            }
        }
    }

    /// Whether anything waits for the commit.
    pub fn has_held(&self) -> bool {
        !self.held.is_empty()
    }

    /// The peer's session as it stands, if it is in memory.
    pub fn session_in_memory(&self, peer: &str) -> Option<&Session> {
        self.sessions.get(peer)
    }

    fn touch(&mut self, peer: &str) {
        self.touched.insert(peer.to_string());
        if let Some(mark) = self.marks.last_mut() {
            mark.touched.insert(peer.to_string());
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The peer's session, restored from the store (repairs written) if not in memory.
    fn session<H: Host>(&mut self, host: &mut H, peer: &str) -> Result<&mut Session, H::Error> {
        self.touch(peer);
        if !self.sessions.contains_key(peer) {
            let stored = host.load(peer)?;
            let (session, repairs) = Session::restore(self.limits, &stored, self.now());
            for write in &repairs {
                host.write(peer, write)?;
            }
            self.sessions.insert(peer.to_string(), session);
        }
        Ok(self.sessions.get_mut(peer).expect("inserted above"))
    }

    fn write_all<H: Host>(host: &mut H, peer: &str, writes: &[Write]) -> Result<(), H::Error> {
        writes.iter().try_for_each(|w| host.write(peer, w))
    }

    fn hold_wake(&mut self, peer: &str) {
        if let Some(at) = self.sessions.get(peer).and_then(Session::deadline) {
            self.held.push(Held::Net(NetCommand::WakeAt {
                peer: peer.to_string(),
                at: self.epoch + Duration::from_millis(at),
            }));
        }
    }

    fn hold_frames(&mut self, peer: &str, frames: Vec<String>) {
        for frame in frames {
            self.held.push(Held::Net(NetCommand::Send {
                peer: peer.to_string(),
                frame,
                ack: None,
            }));
        }
    }

    /// Frames still pending for the peer (restored from the store if need be).
    pub fn pending<H: Host>(&mut self, host: &mut H, peer: &str) -> Result<usize, H::Error> {
        Ok(self.session(host, peer)?.pending_count())
    }

    /// Numbers `body` for the peer and writes it; the frame goes out after commit. Returns its
    /// sequence number.
    pub fn send<H: Host>(
        &mut self,
        host: &mut H,
        peer: &str,
        body: Body,
    ) -> Result<u64, SendFailed<H::Error>> {
        self.send_as(host, peer, body, false)
    }

    /// [`Driver::send`] for what cannot be refused like a message (a `notify`, a GC delivery):
    /// past the queue limit, within [`Session::send_priority`]'s bound.
    pub fn send_priority<H: Host>(
        &mut self,
        host: &mut H,
        peer: &str,
        body: Body,
    ) -> Result<u64, SendFailed<H::Error>> {
        self.send_as(host, peer, body, true)
    }

    fn send_as<H: Host>(
        &mut self,
        host: &mut H,
        peer: &str,
        body: Body,
        priority: bool,
    ) -> Result<u64, SendFailed<H::Error>> {
        let now = self.now();
        let session = self.session(host, peer).map_err(SendFailed::Host)?;
        let sent = match priority {
            true => session.send_priority(body, now),
            false => session.send(body, now),
        };
        let out = sent.map_err(SendFailed::Refused)?;
        Self::write_all(host, peer, &out.writes).map_err(SendFailed::Host)?;
        self.held.push(Held::Net(NetCommand::Send {
            peer: peer.to_string(),
            frame: out.frame,
            ack: out.ack,
        }));
        self.hold_wake(peer);
        Ok(out.seq)
    }

    /// Handles one event from the node.
    pub fn handle<H: Host>(&mut self, host: &mut H, event: NetEvent) -> Result<(), H::Error> {
        let now = self.now();
        match event {
            // The kernel's own timers: nothing for the sessions.
            NetEvent::Alarm => {}
            NetEvent::Listening { addrs } => host.listening(addrs),
            NetEvent::Handshake {
                peer,
                incarnation,
                reply,
            } => {
                let verdict = if host.incarnation(&peer, &incarnation)? {
                    let reset = self.session(host, &peer)?.reset_for_restart();
                    self.discard(host, &peer, reset, Discard::PeerRestarted)?;
                    Verdict::PeerRestarted
                } else {
                    Verdict::Accept
                };
                self.held.push(Held::Verdict(reply, verdict));
            }
            NetEvent::ChannelUp { peer } => {
                let frames = self.session(host, &peer)?.on_channel_up(now);
                self.hold_frames(&peer, frames);
                self.hold_wake(&peer);
            }
            NetEvent::ChannelDown { peer, .. } => {
                if self.session(host, &peer)?.pending_count() > 0 {
                    self.held.push(Held::Net(NetCommand::Connect { peer }));
                }
            }
            NetEvent::Frame { peer, frame, .. } => {
                let decoded = match Frame::decode(&frame) {
                    Ok(Frame::Handshake { .. } | Frame::HandshakeAck { .. }) => return Ok(()),
                    Ok(decoded) => decoded,
                    Err(e) => {
                        tracing::warn!("remote: {peer}: frame refused: {e}");
                        return Ok(());
                    }
                };
                let received = self.session(host, &peer)?.receive(decoded, now);
                Self::write_all(host, &peer, &received.ack_writes)?;
                let ack = match received.action {
                    Action::Apply {
                        seq, body, writes, ..
                    } => {
                        let reply = host.apply(&peer, seq, body)?;
                        Self::write_all(host, &peer, &writes)?;
                        if let Some(reply) = reply {
                            match self.send(host, &peer, reply) {
                                Ok(_) => {}
                                Err(SendFailed::Host(e)) => return Err(e),
                                // Replies are exempt from the queue limit; one over 1 MiB is
                                // the host's bug, and the requester's wait times out.
                                Err(SendFailed::Refused(e)) => {
                                    tracing::warn!("remote: {peer}: reply not sent: {e}");
                                }
                            }
                        }
                        true
                    }
                    Action::Duplicate { .. } => true,
                    Action::Gap { seq, expected } => {
                        tracing::debug!(
                            "remote: {peer}: seq {seq} refused, waiting for {expected}"
                        );
                        false
                    }
                    Action::None => false,
                };
                if ack {
                    let upto = self.session(host, &peer)?.highest_received();
                    self.held.push(Held::Net(NetCommand::Ack {
                        peer: peer.clone(),
                        upto,
                    }));
                }
                self.hold_wake(&peer);
            }
            NetEvent::Wake { peer } => {
                match self.session(host, &peer)?.on_timer(now) {
                    Timer::Idle => {}
                    Timer::Retransmit(frames) => self.hold_frames(&peer, frames),
                    Timer::GiveUp(given) => self.discard(host, &peer, given, Discard::GaveUp)?,
                }
                self.hold_wake(&peer);
            }
            NetEvent::GiveUp { peer, reason } => {
                tracing::info!("remote: giving up on {peer}: {reason}");
                let given = self.session(host, &peer)?.give_up();
                self.discard(host, &peer, given, Discard::GaveUp)?;
            }
        }
        Ok(())
    }

    fn discard<H: Host>(
        &mut self,
        host: &mut H,
        peer: &str,
        given: GiveUp,
        why: Discard,
    ) -> Result<(), H::Error> {
        Self::write_all(host, peer, &given.writes)?;
        if !given.discarded.is_empty() {
            host.discarded(peer, &given.discarded, why)?;
        }
        Ok(())
    }

    /// The transaction committed: release what was held, in order, to the node.
    pub fn committed(&mut self, net: &NetHandle) {
        self.release(|command| {
            net.send(command);
        });
    }

    /// The transaction committed: hand each held command to `send`, in order, and answer the
    /// held handshakes.
    pub fn release(&mut self, mut send: impl FnMut(NetCommand)) {
        for held in self.held.drain(..) {
            match held {
                Held::Net(command) => send(command),
                Held::Verdict(reply, verdict) => reply.send(verdict),
            }
        }
        self.touched.clear();
        self.marks.clear();
    }

    /// The transaction failed: forget the sessions it touched (rebuilt from the store on next
    /// use) and everything held back (a refused handshake is dialled again by the peer; frames
    /// are resent from the store).
    pub fn rolled_back(&mut self) {
        for peer in self.touched.drain() {
            self.sessions.remove(&peer);
        }
        self.held.clear();
        self.marks.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::wire::Delivery;

    /// A store that records writes and applications; `fail` makes the next write fail.
    #[derive(Default)]
    struct Mem {
        stored: HashMap<String, Stored>,
        applied: Vec<(String, u64)>,
        fail: bool,
    }

    impl Host for Mem {
        type Error = &'static str;
        fn load(&mut self, peer: &str) -> Result<Stored, &'static str> {
            Ok(self.stored.get(peer).cloned().unwrap_or_default())
        }
        fn write(&mut self, peer: &str, write: &Write) -> Result<(), &'static str> {
            if std::mem::take(&mut self.fail) {
                return Err("disk full");
            }
            self.stored.entry(peer.into()).or_default().apply(write);
            Ok(())
        }
        fn apply(
            &mut self,
            peer: &str,
            seq: u64,
            body: Body,
        ) -> Result<Option<Body>, &'static str> {
            self.applied.push((peer.into(), seq));
            Ok(match body {
                Body::RedeemUrl { reply_key, .. } => Some(Body::RedeemUrlReply {
                    ok: false,
                    reply_key,
                    value: "no such capability".into(),
                }),
                _ => None,
            })
        }
        fn incarnation(&mut self, _: &str, _: &str) -> Result<bool, &'static str> {
            Ok(false)
        }
        fn discarded(&mut self, _: &str, _: &[u64], _: Discard) -> Result<(), &'static str> {
            Ok(())
        }
        fn listening(&mut self, _: Vec<String>) {}
    }

    fn boyd() -> Body {
        Body::Deliver(Delivery::BringOutYourDead)
    }

    fn released(driver: &mut Driver) -> Vec<NetCommand> {
        let mut out = Vec::new();
        driver.release(|c| out.push(c));
        out
    }

    #[test]
    fn frames_leave_only_after_commit_and_in_order() {
        let mut host = Mem::default();
        let mut driver = Driver::new(Limits::default());
        assert_eq!(driver.send(&mut host, "P", boyd()).unwrap(), 1);
        assert_eq!(driver.send(&mut host, "P", boyd()).unwrap(), 2);
        assert_eq!(host.stored["P"].pending.len(), 2);
        let out = released(&mut driver);
        let frames: Vec<&str> = out
            .iter()
            .filter_map(|c| match c {
                NetCommand::Send { frame, .. } => Some(frame.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(frames.len(), 2);
        assert!(frames[0].starts_with(r#"{"seq":1,"#) && frames[1].starts_with(r#"{"seq":2,"#));
        assert!(out.iter().any(|c| matches!(c, NetCommand::WakeAt { .. })));
        assert!(released(&mut driver).is_empty());
    }

    #[test]
    fn a_failed_transaction_releases_nothing_and_restores_from_the_store() {
        let mut host = Mem::default();
        let mut driver = Driver::new(Limits::default());
        driver.send(&mut host, "P", boyd()).unwrap();
        released(&mut driver);
        // The second send's transaction fails after its first write (the frame was stored).
        host.fail = true;
        assert!(matches!(
            driver.send(&mut host, "P", boyd()),
            Err(SendFailed::Host("disk full"))
        ));
        // The caller rolls the store back too; here nothing of it was written.
        driver.rolled_back();
        assert!(released(&mut driver).is_empty());
        assert_eq!(driver.send(&mut host, "P", boyd()).unwrap(), 2);
    }

    #[test]
    fn a_savepoint_rolled_back_drops_only_what_it_held() {
        let mut host = Mem::default();
        let mut driver = Driver::new(Limits::default());
        driver.savepoint();
        driver.send(&mut host, "P", boyd()).unwrap();
        driver.release_savepoint();
        driver.savepoint();
        driver.send(&mut host, "Q", boyd()).unwrap();
        driver.rollback_savepoint();
        // The store of Q's send is rolled back by the caller; here it is dropped by hand.
        host.stored.remove("Q");
        let peers: Vec<String> = released(&mut driver)
            .into_iter()
            .filter_map(|c| match c {
                NetCommand::Send { peer, .. } => Some(peer),
                _ => None,
            })
            .collect();
        assert_eq!(peers, vec!["P"]);
        assert!(driver.session_in_memory("Q").is_none());
        assert_eq!(driver.send(&mut host, "Q", boyd()).unwrap(), 1);
    }

    #[test]
    fn applied_frames_are_acknowledged_after_commit_duplicates_again_gaps_not() {
        let mut host = Mem::default();
        let mut driver = Driver::new(Limits::default());
        let frame = |seq: u64| NetEvent::Frame {
            peer: "P".into(),
            frame: format!(r#"{{"seq":{seq},"method":"deliver","params":["bringOutYourDead"]}}"#)
                .into_bytes(),
            credit: Default::default(),
        };
        driver.handle(&mut host, frame(1)).unwrap();
        assert_eq!(host.applied, vec![("P".to_string(), 1)]);
        assert_eq!(host.stored["P"].highest_received, Some(1));
        let acks = |out: Vec<NetCommand>| -> Vec<u64> {
            out.into_iter()
                .filter_map(|c| match c {
                    NetCommand::Ack { upto, .. } => Some(upto),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(acks(released(&mut driver)), vec![1]);
        driver.handle(&mut host, frame(1)).unwrap();
        assert_eq!(acks(released(&mut driver)), vec![1]);
        driver.handle(&mut host, frame(3)).unwrap();
        assert!(acks(released(&mut driver)).is_empty());
        assert_eq!(host.applied.len(), 1);
        // A redemption is answered in the same transaction, carrying the acknowledgement.
        let redeem = NetEvent::Frame {
            peer: "P".into(),
            frame: br#"{"seq":2,"method":"redeemURL","params":["ocap:x@y","7"]}"#.to_vec(),
            credit: Default::default(),
        };
        driver.handle(&mut host, redeem).unwrap();
        let out = released(&mut driver);
        assert!(out.iter().any(|c| matches!(c, NetCommand::Send { frame, .. }
            if frame == r#"{"seq":1,"ack":2,"method":"redeemURLReply","params":[false,"7","no such capability"]}"#)));
        // Garbage is refused without an acknowledgement.
        let garbage = NetEvent::Frame {
            peer: "P".into(),
            frame: b"{nope".to_vec(),
            credit: Default::default(),
        };
        driver.handle(&mut host, garbage).unwrap();
        assert!(released(&mut driver).is_empty());
    }
}
