//! Reliable delivery to one peer (remote-comms.md §4.2, with ocapd's fixes of §10.1): sequence
//! numbers, cumulative acknowledgements, pending frames, retransmission and give-up, as a pure
//! state machine without IO, clocks or storage.
//!
//! The kernel thread owns a [`Session`] per remote and is its only caller. Every method that
//! changes durable state returns the [`Write`]s to make, in the reference's crash-safe order; the
//! kernel writes them in the transaction of the crank or command that caused them, and hands any
//! frame to the network only after that transaction committed (output commit). If a transaction
//! does not commit, the kernel drops the session and rebuilds it with [`Session::restore`] from
//! what is stored: the in-memory state is only ever a cache of the stored one.
//!
//! Differences from the reference (docs/remote.md, "Reliable delivery"):
//! - The receiver applies only `seq == highestReceived + 1`. A later frame is refused without an
//!   acknowledgement, so the sender retransmits it in order (the reference applies it and then
//!   drops the skipped frame as a "duplicate"). A sender that gave up on frames leaves a gap that
//!   will never fill: once the lowest frame beyond the gap has been seen again at least
//!   [`Limits::gap_grace_ms`] after its first sighting (a sender that still held the missing
//!   frames would have retransmitted them, in order, before it), the receiver resumes from there.
//! - `maxQueue` is honoured ([`Limits::max_pending`]).

use super::frame::MAX_FRAME;
use super::wire::{Body, Envelope, Frame};
use std::collections::{BTreeMap, VecDeque};

/// Tunables of a session; the defaults are the reference's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Frames awaiting acknowledgement before `send` refuses (`maxQueue`, default 200).
    pub max_pending: usize,
    /// Time without acknowledgement before pending frames are resent (`ackTimeoutMs`, 10 s).
    pub ack_timeout_ms: u64,
    /// Resends without progress before giving up (3).
    pub max_retransmits: u32,
    /// How long a gap must persist before the receiver accepts the frame beyond it (15 s: longer
    /// than one acknowledgement timeout, shorter than a sender's three retransmissions).
    pub gap_grace_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pending: 200,
            ack_timeout_ms: 10_000,
            max_retransmits: 3,
            gap_grace_ms: 15_000,
        }
    }
}

/// How far past the queue limit [`Session::send_priority`] may go, as a multiple of it.
pub const PRIORITY_FACTOR: usize = 4;

/// One durable change, named after the reference's kv keys for remote `rN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// `remoteSeq.<rN>.nextSendSeq` := the last sequence number used (the reference's meaning).
    NextSendSeq(u64),
    /// `remoteSeq.<rN>.startSeq` := the oldest unacknowledged sequence number.
    StartSeq(u64),
    /// `remoteSeq.<rN>.highestReceivedSeq`.
    HighestReceived(u64),
    /// `remotePending.<rN>.<seq>` := the exact frame text.
    PutPending(u64, String),
    /// Delete `remotePending.<rN>.<seq>`.
    DeletePending(u64),
    /// Delete the three `remoteSeq.<rN>.*` keys (after a peer restart).
    ClearSeqState,
}

/// What is stored for one remote, as read back at start or after a failed transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// `remoteSeq.<rN>.nextSendSeq`, if present.
    pub next_send_seq: Option<u64>,
    /// `remoteSeq.<rN>.startSeq`, if present.
    pub start_seq: Option<u64>,
    /// `remoteSeq.<rN>.highestReceivedSeq`, if present.
    pub highest_received: Option<u64>,
    /// Every `remotePending.<rN>.<seq>`.
    pub pending: BTreeMap<u64, String>,
}

impl Stored {
    /// What `write` leaves here: the meaning of each [`Write`], which the kernel's keeper carries
    /// out in kv (and in-memory stores, in tests, here).
    pub fn apply(&mut self, write: &Write) {
        match write {
            Write::NextSendSeq(n) => self.next_send_seq = Some(*n),
            Write::StartSeq(n) => self.start_seq = Some(*n),
            Write::HighestReceived(n) => self.highest_received = Some(*n),
            Write::PutPending(seq, frame) => {
                self.pending.insert(*seq, frame.clone());
            }
            Write::DeletePending(seq) => {
                self.pending.remove(seq);
            }
            Write::ClearSeqState => {
                self.next_send_seq = None;
                self.start_seq = None;
                self.highest_received = None;
            }
        }
    }
}

/// Why `send` refused; nothing changed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// The pending queue is full (the reference's text, for `[KERNEL:DELIVERY_FAILED] …`).
    #[error("Message rejected: pending queue at capacity ({0})")]
    QueueFull(usize),
    /// The frame would exceed the 1 MiB limit.
    #[error("Message size {0} bytes exceeds limit of {MAX_FRAME} bytes")]
    TooLarge(usize),
}

/// A frame to send once its writes are committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// Its sequence number.
    pub seq: u64,
    /// The acknowledgement it carries.
    pub ack: Option<u64>,
    /// The frame text, exactly as stored in `remotePending`.
    pub frame: String,
    /// What to write first.
    pub writes: Vec<Write>,
}

/// What to do with a received frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A standalone acknowledgement: nothing to apply.
    None,
    /// Apply `body` and make `writes` in the same transaction; after it commits, acknowledge
    /// `seq`. A body that cannot be applied is refused (logged) in that transaction all the same,
    /// so that it is acknowledged and not retransmitted forever (§10.4).
    Apply {
        /// Its sequence number.
        seq: u64,
        /// The message.
        body: Body,
        /// Whether it was accepted across a gap the sender gave up on (frames skipped).
        resynced: bool,
        /// `HighestReceived(seq)`.
        writes: Vec<Write>,
    },
    /// Already applied: acknowledge again (the sender did not see the acknowledgement).
    Duplicate {
        /// Its sequence number.
        seq: u64,
    },
    /// Beyond the next expected frame: refused without acknowledgement.
    Gap {
        /// Its sequence number.
        seq: u64,
        /// The sequence number the receiver waits for.
        expected: u64,
    },
}

/// The result of receiving a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Writes for the acknowledgement it carried (before the action's own).
    pub ack_writes: Vec<Write>,
    /// How many pending frames it acknowledged.
    pub acked: usize,
    /// What to do with its payload.
    pub action: Action,
}

/// What the acknowledgement timer asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Nothing due.
    Idle,
    /// Resend these frames, in order.
    Retransmit(Vec<String>),
    /// Give up on the peer: make `writes`, then reject whatever waited on `discarded`.
    GiveUp(GiveUp),
}

/// Frames abandoned, and the writes that discard them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GiveUp {
    /// Sequence numbers of the discarded frames.
    pub discarded: Vec<u64>,
    /// The writes.
    pub writes: Vec<Write>,
}

/// A gap seen by the receiver: the lowest sequence number beyond it and when it was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GapWatch {
    lowest: u64,
    first_seen: u64,
    last_seen: u64,
}

/// The delivery state for one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    limits: Limits,
    /// Last sequence number used (kv `nextSendSeq`); 0 before the first send.
    last_sent: u64,
    /// Oldest unacknowledged (kv `startSeq`); pending = `start..=last_sent`.
    start: u64,
    highest_received: u64,
    /// Frames `start..=last_sent`.
    pending: VecDeque<String>,
    retransmits: u32,
    ack_deadline: Option<u64>,
    gap: Option<GapWatch>,
}

impl Session {
    /// A session with nothing sent or received.
    pub fn new(limits: Limits) -> Session {
        Session {
            limits,
            last_sent: 0,
            start: 0,
            highest_received: 0,
            pending: VecDeque::new(),
            retransmits: 0,
            ack_deadline: None,
            gap: None,
        }
    }

    /// Rebuilds a session from storage, repairing what a crash between writes can leave (a frame
    /// stored before `nextSendSeq`, frames below `startSeq`), and returns the repairs to write.
    /// With pending frames, the acknowledgement timer runs from `now_ms`.
    pub fn restore(limits: Limits, stored: &Stored, now_ms: u64) -> (Session, Vec<Write>) {
        let mut session = Session::new(limits);
        let mut writes = Vec::new();
        session.last_sent = stored.next_send_seq.unwrap_or(0);
        session.start = stored.start_seq.unwrap_or(0);
        session.highest_received = stored.highest_received.unwrap_or(0);
        // A crash after `PutPending` but before `NextSendSeq` (or, for the first frame, before
        // `StartSeq`): the frame was never sent, but it is stored; take it as sent.
        if stored.pending.contains_key(&(session.last_sent + 1)) {
            session.last_sent += 1;
            if session.start == 0 {
                session.start = session.last_sent;
                writes.push(Write::StartSeq(session.start));
            }
            writes.push(Write::NextSendSeq(session.last_sent));
        }
        if session.start == 0 && session.last_sent > 0 {
            session.start = session.last_sent + 1;
            writes.push(Write::StartSeq(session.start));
        }
        for (&seq, frame) in &stored.pending {
            if seq >= session.start && seq <= session.last_sent {
                session.pending.push_back(frame.clone());
            } else {
                // Left behind by a crash between `StartSeq` and the deletes, or a give-up.
                writes.push(Write::DeletePending(seq));
            }
        }
        // Pending frames must be contiguous; a hole can only come from outside tampering, and
        // everything after it could never be delivered in order: discard from the hole on.
        let expected = session.pending_range().count();
        if session.pending.len() != expected {
            let present: Vec<u64> = session
                .pending_range()
                .take_while(|seq| stored.pending.contains_key(seq))
                .collect();
            let keep = present.len();
            session.pending.truncate(keep);
            for seq in session.pending_range().skip(keep) {
                if stored.pending.contains_key(&seq) {
                    writes.push(Write::DeletePending(seq));
                }
            }
            session.last_sent = session.start + keep as u64 - 1;
            writes.push(Write::NextSendSeq(session.last_sent));
        }
        if !session.pending.is_empty() {
            session.ack_deadline = Some(now_ms + limits.ack_timeout_ms);
        }
        (session, writes)
    }

    fn pending_range(&self) -> std::ops::RangeInclusive<u64> {
        if self.start == 0 {
            #[allow(clippy::reversed_empty_ranges)]
            return 1..=0;
        }
        self.start..=self.last_sent
    }

    /// Frames awaiting acknowledgement.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The highest sequence number received (and, once the caller committed, acknowledgeable).
    pub fn highest_received(&self) -> u64 {
        self.highest_received
    }

    /// The last sequence number used.
    pub fn last_sent(&self) -> u64 {
        self.last_sent
    }

    /// The pending frames, oldest first (to resend after a reconnect, before anything newer).
    pub fn pending_frames(&self) -> impl Iterator<Item = &str> {
        self.pending.iter().map(String::as_str)
    }

    /// When the acknowledgement timer is due, if anything is pending.
    pub fn deadline(&self) -> Option<u64> {
        self.ack_deadline
    }

    /// Numbers `body` as the next frame. `redeemURLReply` is exempt from the queue limit, as in
    /// the reference.
    pub fn send(&mut self, body: Body, now_ms: u64) -> Result<Outgoing, SendError> {
        let exempt = matches!(body, Body::RedeemUrlReply { .. });
        let limit = match exempt {
            true => usize::MAX,
            false => self.limits.max_pending,
        };
        self.send_within(body, now_ms, limit)
    }

    /// [`Session::send`] for what cannot be refused the way a message's result can be
    /// rejected (a `notify`, a GC delivery): allowed past the queue limit, up to
    /// [`PRIORITY_FACTOR`] times it; beyond that the peer has not acknowledged anything for so
    /// long that it will be given up on anyway.
    pub fn send_priority(&mut self, body: Body, now_ms: u64) -> Result<Outgoing, SendError> {
        let limit = self.limits.max_pending.saturating_mul(PRIORITY_FACTOR);
        self.send_within(body, now_ms, limit.max(1))
    }

    fn send_within(
        &mut self,
        body: Body,
        now_ms: u64,
        limit: usize,
    ) -> Result<Outgoing, SendError> {
        if self.pending.len() >= limit {
            return Err(SendError::QueueFull(limit));
        }
        let seq = self.last_sent + 1;
        let ack = (self.highest_received > 0).then_some(self.highest_received);
        let frame = Frame::Message(Envelope { seq, ack, body }).encode();
        if frame.len() > MAX_FRAME {
            return Err(SendError::TooLarge(frame.len()));
        }
        let was_empty = self.pending.is_empty();
        let mut writes = vec![Write::PutPending(seq, frame.clone())];
        if was_empty {
            self.start = seq;
            writes.push(Write::StartSeq(seq));
            self.ack_deadline = Some(now_ms + self.limits.ack_timeout_ms);
            self.retransmits = 0;
        }
        self.last_sent = seq;
        writes.push(Write::NextSendSeq(seq));
        self.pending.push_back(frame.clone());
        Ok(Outgoing {
            seq,
            ack,
            frame,
            writes,
        })
    }

    /// Takes in a decoded frame (not a handshake, which the network thread handles).
    pub fn receive(&mut self, frame: Frame, now_ms: u64) -> Received {
        let (ack, envelope) = match frame {
            Frame::Ack(ack) => (Some(ack), None),
            Frame::Message(envelope) => (envelope.ack, Some(envelope)),
            Frame::Handshake { .. } | Frame::HandshakeAck { .. } => (None, None),
        };
        let (acked, ack_writes) = match ack {
            Some(ack) => self.acknowledge(ack, now_ms),
            None => (0, Vec::new()),
        };
        let action = match envelope {
            None => Action::None,
            Some(Envelope { seq, body, .. }) => self.sequence(seq, body, now_ms),
        };
        Received {
            ack_writes,
            acked,
            action,
        }
    }

    fn acknowledge(&mut self, ack: u64, now_ms: u64) -> (usize, Vec<Write>) {
        let mut freed = Vec::new();
        while !self.pending.is_empty() && self.start <= ack {
            self.pending.pop_front();
            freed.push(self.start);
            self.start += 1;
        }
        if freed.is_empty() {
            return (0, Vec::new());
        }
        let mut writes = vec![Write::StartSeq(self.start)];
        writes.extend(freed.iter().map(|&seq| Write::DeletePending(seq)));
        self.retransmits = 0;
        self.ack_deadline = (!self.pending.is_empty()).then(|| now_ms + self.limits.ack_timeout_ms);
        (freed.len(), writes)
    }

    fn sequence(&mut self, seq: u64, body: Body, now_ms: u64) -> Action {
        let expected = self.highest_received + 1;
        if seq < expected {
            return Action::Duplicate { seq };
        }
        let resynced = seq > expected;
        if resynced {
            let grace = self.limits.gap_grace_ms;
            let watch = match self.gap {
                Some(w) if seq > w.lowest && now_ms.saturating_sub(w.last_seen) <= grace => {
                    return Action::Gap { seq, expected };
                }
                Some(w) if seq == w.lowest => GapWatch {
                    last_seen: now_ms,
                    ..w
                },
                _ => GapWatch {
                    lowest: seq,
                    first_seen: now_ms,
                    last_seen: now_ms,
                },
            };
            self.gap = Some(watch);
            if now_ms.saturating_sub(watch.first_seen) < grace {
                return Action::Gap { seq, expected };
            }
        }
        self.gap = None;
        self.highest_received = seq;
        Action::Apply {
            seq,
            body,
            resynced,
            writes: vec![Write::HighestReceived(seq)],
        }
    }

    /// The acknowledgement timer at `now_ms`: resend everything pending, in order, or give up
    /// after [`Limits::max_retransmits`] resends without progress.
    pub fn on_timer(&mut self, now_ms: u64) -> Timer {
        match self.ack_deadline {
            Some(due) if due <= now_ms && !self.pending.is_empty() => {}
            _ => return Timer::Idle,
        }
        if self.retransmits >= self.limits.max_retransmits {
            return Timer::GiveUp(self.give_up());
        }
        self.retransmits += 1;
        self.ack_deadline = Some(now_ms + self.limits.ack_timeout_ms);
        Timer::Retransmit(self.pending.iter().cloned().collect())
    }

    /// A new channel to the peer is up: everything pending is resent, in order, before anything
    /// newer. Restarts the acknowledgement timer.
    pub fn on_channel_up(&mut self, now_ms: u64) -> Vec<String> {
        if !self.pending.is_empty() {
            self.ack_deadline = Some(now_ms + self.limits.ack_timeout_ms);
        }
        self.pending.iter().cloned().collect()
    }

    /// Discards every pending frame (the peer was given up on). Numbering goes on after them.
    pub fn give_up(&mut self) -> GiveUp {
        if self.pending.is_empty() {
            return GiveUp::default();
        }
        let discarded: Vec<u64> = self.pending_range().collect();
        self.pending.clear();
        self.start = self.last_sent + 1;
        self.ack_deadline = None;
        self.retransmits = 0;
        let mut writes = vec![Write::StartSeq(self.start)];
        writes.extend(discarded.iter().map(|&seq| Write::DeletePending(seq)));
        GiveUp { discarded, writes }
    }

    /// The peer restarted (new incarnation): all sequence state is forgotten on both sides.
    pub fn reset_for_restart(&mut self) -> GiveUp {
        let discarded: Vec<u64> = self.pending_range().collect();
        let mut writes = vec![Write::ClearSeqState];
        writes.extend(discarded.iter().map(|&seq| Write::DeletePending(seq)));
        *self = Session::new(self.limits);
        GiveUp { discarded, writes }
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::wire::Delivery;

    fn boyd() -> Body {
        Body::Deliver(Delivery::BringOutYourDead)
    }

    #[test]
    fn first_send_writes_in_the_crash_safe_order() {
        let mut s = Session::new(Limits::default());
        let out = s.send(boyd(), 0).unwrap();
        assert_eq!(out.seq, 1);
        assert_eq!(
            out.frame,
            r#"{"seq":1,"method":"deliver","params":["bringOutYourDead"]}"#
        );
        assert_eq!(
            out.writes,
            vec![
                Write::PutPending(1, out.frame.clone()),
                Write::StartSeq(1),
                Write::NextSendSeq(1)
            ]
        );
        let second = s.send(boyd(), 0).unwrap();
        assert_eq!(
            second.writes,
            vec![
                Write::PutPending(2, second.frame.clone()),
                Write::NextSendSeq(2)
            ]
        );
        assert_eq!(s.deadline(), Some(10_000));
    }

    #[test]
    fn acks_are_cumulative_and_piggybacked() {
        let mut s = Session::new(Limits::default());
        for _ in 0..3 {
            s.send(boyd(), 0).unwrap();
        }
        let got = s.receive(Frame::Ack(2), 5);
        assert_eq!(got.acked, 2);
        assert_eq!(
            got.ack_writes,
            vec![
                Write::StartSeq(3),
                Write::DeletePending(1),
                Write::DeletePending(2)
            ]
        );
        assert_eq!(s.pending_count(), 1);
        // An ack beyond what was sent frees only what was sent.
        assert_eq!(s.receive(Frame::Ack(99), 6).acked, 1);
        assert_eq!(s.deadline(), None);
        // What we send next carries our highest received.
        let inbound = Frame::Message(Envelope {
            seq: 1,
            ack: None,
            body: boyd(),
        });
        assert!(matches!(
            s.receive(inbound, 7).action,
            Action::Apply { seq: 1, .. }
        ));
        let out = s.send(boyd(), 8).unwrap();
        assert_eq!(
            out.frame,
            r#"{"seq":4,"ack":1,"method":"deliver","params":["bringOutYourDead"]}"#
        );
    }

    fn msg(seq: u64) -> Frame {
        Frame::Message(Envelope {
            seq,
            ack: None,
            body: boyd(),
        })
    }

    #[test]
    fn the_receiver_applies_only_the_next_frame() {
        let mut s = Session::new(Limits::default());
        assert!(matches!(
            s.receive(msg(2), 0).action,
            Action::Gap {
                seq: 2,
                expected: 1
            }
        ));
        assert!(matches!(
            s.receive(msg(1), 1).action,
            Action::Apply { seq: 1, .. }
        ));
        assert!(matches!(
            s.receive(msg(1), 2).action,
            Action::Duplicate { seq: 1 }
        ));
        assert!(matches!(
            s.receive(msg(2), 3).action,
            Action::Apply {
                seq: 2,
                resynced: false,
                ..
            }
        ));
    }

    #[test]
    fn a_gap_the_sender_abandoned_is_crossed_after_the_grace() {
        let limits = Limits::default();
        let mut s = Session::new(limits);
        s.receive(msg(1), 0);
        // 2 and 3 were given up by the sender; 4 keeps coming, once per ack timeout.
        assert!(matches!(
            s.receive(msg(4), 1_000).action,
            Action::Gap { .. }
        ));
        assert!(matches!(
            s.receive(msg(5), 1_001).action,
            Action::Gap { .. }
        ));
        assert!(matches!(
            s.receive(msg(4), 11_000).action,
            Action::Gap { .. }
        ));
        // Higher frames never resync, only the lowest one beyond the gap.
        assert!(matches!(
            s.receive(msg(5), 16_100).action,
            Action::Gap { .. }
        ));
        assert!(matches!(
            s.receive(msg(4), 21_000).action,
            Action::Apply {
                seq: 4,
                resynced: true,
                ..
            }
        ));
        assert!(matches!(
            s.receive(msg(5), 21_001).action,
            Action::Apply { seq: 5, .. }
        ));
    }

    #[test]
    fn a_stale_lowest_frame_gives_way_to_the_next() {
        let mut s = Session::new(Limits::default());
        // 1 was seen once, then the sender gave it up too; 2 keeps coming.
        s.receive(msg(2), 0);
        for t in [20_000, 30_000] {
            assert!(matches!(s.receive(msg(3), t).action, Action::Gap { .. }));
        }
        assert!(matches!(
            s.receive(msg(3), 40_000).action,
            Action::Apply {
                seq: 3,
                resynced: true,
                ..
            }
        ));
    }

    #[test]
    fn retransmit_then_give_up() {
        let mut s = Session::new(Limits::default());
        s.send(boyd(), 0).unwrap();
        s.send(boyd(), 0).unwrap();
        assert_eq!(s.on_timer(9_999), Timer::Idle);
        for round in 1..=3u64 {
            match s.on_timer(round * 10_000) {
                Timer::Retransmit(frames) => assert_eq!(frames.len(), 2),
                other => panic!("{other:?}"),
            }
        }
        let Timer::GiveUp(given) = s.on_timer(40_000) else {
            panic!()
        };
        assert_eq!(given.discarded, vec![1, 2]);
        assert_eq!(
            given.writes,
            vec![
                Write::StartSeq(3),
                Write::DeletePending(1),
                Write::DeletePending(2)
            ]
        );
        assert_eq!(s.pending_count(), 0);
        assert_eq!(s.send(boyd(), 41_000).unwrap().seq, 3);
    }

    #[test]
    fn the_queue_limit_is_honoured_except_for_redemption_replies() {
        let mut s = Session::new(Limits {
            max_pending: 2,
            ..Limits::default()
        });
        s.send(boyd(), 0).unwrap();
        s.send(boyd(), 0).unwrap();
        let before = s.clone();
        assert_eq!(s.send(boyd(), 0), Err(SendError::QueueFull(2)));
        assert_eq!(s, before);
        assert_eq!(
            SendError::QueueFull(200).to_string(),
            "Message rejected: pending queue at capacity (200)"
        );
        let reply = Body::RedeemUrlReply {
            ok: false,
            reply_key: "1".into(),
            value: "no".into(),
        };
        assert_eq!(s.send(reply, 0).unwrap().seq, 3);
    }

    #[test]
    fn priority_frames_may_pass_the_queue_limit_up_to_a_bound() {
        let mut s = Session::new(Limits {
            max_pending: 2,
            ..Limits::default()
        });
        for _ in 0..2 * PRIORITY_FACTOR {
            s.send_priority(boyd(), 0).unwrap();
        }
        assert_eq!(s.send(boyd(), 0), Err(SendError::QueueFull(2)));
        let before = s.clone();
        assert_eq!(
            s.send_priority(boyd(), 0),
            Err(SendError::QueueFull(2 * PRIORITY_FACTOR))
        );
        assert_eq!(s, before);
    }

    #[test]
    fn an_oversized_frame_is_refused_and_changes_nothing() {
        let mut s = Session::new(Limits::default());
        let body = Body::RedeemUrl {
            url: "x".repeat(MAX_FRAME),
            reply_key: "1".into(),
        };
        assert!(matches!(s.send(body, 0), Err(SendError::TooLarge(_))));
        assert_eq!(s, Session::new(Limits::default()));
    }

    #[test]
    fn restore_repairs_what_a_crash_left() {
        let limits = Limits::default();
        // The first frame stored, nothing else.
        let mut stored = Stored::default();
        stored.pending.insert(1, "f1".into());
        let (s, writes) = Session::restore(limits, &stored, 0);
        assert_eq!(writes, vec![Write::StartSeq(1), Write::NextSendSeq(1)]);
        assert_eq!(s.pending_frames().collect::<Vec<_>>(), vec!["f1"]);
        // An ack half done: startSeq moved, the frames below it not yet deleted.
        let stored = Stored {
            next_send_seq: Some(3),
            start_seq: Some(3),
            highest_received: Some(7),
            pending: [(1, "f1"), (2, "f2"), (3, "f3")]
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect(),
        };
        let (s, writes) = Session::restore(limits, &stored, 0);
        assert_eq!(
            writes,
            vec![Write::DeletePending(1), Write::DeletePending(2)]
        );
        assert_eq!(s.pending_frames().collect::<Vec<_>>(), vec!["f3"]);
        assert_eq!(s.highest_received(), 7);
        assert_eq!(s.deadline(), Some(10_000));
    }

    #[test]
    fn a_peer_restart_forgets_everything() {
        let mut s = Session::new(Limits::default());
        s.send(boyd(), 0).unwrap();
        s.receive(msg(1), 0);
        let reset = s.reset_for_restart();
        assert_eq!(reset.discarded, vec![1]);
        assert_eq!(
            reset.writes,
            vec![Write::ClearSeqState, Write::DeletePending(1)]
        );
        assert_eq!(s, Session::new(Limits::default()));
    }
}
