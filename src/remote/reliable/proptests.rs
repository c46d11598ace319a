//! The session against a model: one sender, one receiver, a network of channels (streams: each
//! delivers a prefix of what was written to it, in order; any of them may break and lose what it
//! still carries; old ones may deliver after new ones, so frames arrive duplicated and reordered
//! across channels; a crashed process's channels are dead), acknowledgements
//! lost and reordered, and crashes of either side after any single durable write. Whatever
//! happens, the receiver applies messages in send order and at most once; once the network
//! behaves, every message the sender committed is applied unless the sender gave up on it.

use super::*;
use proptest::prelude::*;
use std::collections::{HashSet, VecDeque};

#[derive(Clone, Debug)]
enum Op {
    /// Send the next message; with `Some(k)`, the sender crashes after `k` of its writes.
    Send(Option<usize>),
    /// Deliver the next frame of one channel (index modulo the channels carrying something);
    /// the receiver crashes before its transaction commits with `crash`.
    ToReceiver { index: usize, crash: bool },
    /// Deliver an in-flight acknowledgement; the sender crashes after `k` of its writes.
    ToSender {
        index: usize,
        crash_at: Option<usize>,
    },
    /// A channel breaks, losing what it carries (`back`: an acknowledgement is lost instead).
    Lose { index: usize, back: bool },
    /// Time passes and the sender's timer runs.
    Tick(u64),
    /// A new channel: the sender resends everything pending.
    ChannelUp,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::option::weighted(0.2, 0usize..4).prop_map(Op::Send),
        6 => (any::<usize>(), proptest::bool::weighted(0.1))
            .prop_map(|(index, crash)| Op::ToReceiver { index, crash }),
        3 => (any::<usize>(), proptest::option::weighted(0.2, 0usize..4))
            .prop_map(|(index, crash_at)| Op::ToSender { index, crash_at }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(index, back)| Op::Lose { index, back }),
        2 => (1u64..12_000).prop_map(Op::Tick),
        1 => Just(Op::ChannelUp),
    ]
}

/// One side: its session, its store, and (receiver) what it applied, stored with it.
struct Side {
    session: Session,
    stored: Stored,
    applied: Vec<u64>,
}

impl Side {
    fn new(limits: Limits) -> Side {
        Side {
            session: Session::new(limits),
            stored: Stored::default(),
            applied: Vec::new(),
        }
    }

    /// Makes `writes`, crashing after `crash_at` of them; returns whether all were made.
    fn write(&mut self, writes: &[Write], crash_at: Option<usize>, now: u64) -> bool {
        for (i, write) in writes.iter().enumerate() {
            if crash_at == Some(i) {
                self.crash(now);
                return false;
            }
            self.stored.apply(write);
        }
        true
    }

    fn crash(&mut self, now: u64) {
        let (session, repairs) = Session::restore(self.session.limits, &self.stored, now);
        for write in &repairs {
            self.stored.apply(write);
        }
        self.session = session;
    }
}

fn id_of(frame: &str) -> u64 {
    match Frame::decode(frame.as_bytes()).unwrap() {
        Frame::Message(Envelope {
            body: Body::RedeemUrl { url, .. },
            ..
        }) => url.parse().unwrap(),
        other => panic!("{other:?}"),
    }
}

struct World {
    now: u64,
    sender: Side,
    receiver: Side,
    channels: Vec<VecDeque<String>>,
    current: Option<usize>,
    to_sender: Vec<u64>,
    next_id: u64,
    committed: Vec<u64>,
    given_up: HashSet<u64>,
}

impl World {
    fn new() -> World {
        let limits = Limits {
            max_pending: 8,
            ..Limits::default()
        };
        World {
            now: 0,
            sender: Side::new(limits),
            receiver: Side::new(limits),
            channels: Vec::new(),
            current: None,
            to_sender: Vec::new(),
            next_id: 1,
            committed: Vec::new(),
            given_up: HashSet::new(),
        }
    }

    fn give_up(&mut self, given: GiveUp, crash_at: Option<usize>) {
        // The caller rejects what waited on these frames whether or not the writes finish:
        // either way they are never sent again (a restore deletes what is left below startSeq).
        let frames: Vec<String> = given
            .discarded
            .iter()
            .filter_map(|seq| self.sender.stored.pending.get(seq).cloned())
            .collect();
        for frame in frames {
            self.given_up.insert(id_of(&frame));
        }
        if !self.sender.write(&given.writes, crash_at, self.now) {
            self.current = None;
        }
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Send(crash_at) => {
                let id = self.next_id;
                let body = Body::RedeemUrl {
                    url: id.to_string(),
                    reply_key: "k".into(),
                };
                let Ok(out) = self.sender.session.send(body, self.now) else {
                    return;
                };
                self.next_id += 1;
                if self.sender.write(&out.writes, crash_at, self.now) {
                    self.committed.push(id);
                    self.transmit([out.frame]);
                } else {
                    // The sender's process died: what it wrote may still arrive, nothing more.
                    self.current = None;
                    if self.sender.session.last_sent() >= out.seq {
                        // Stored before the crash: the restore took it as sent.
                        self.committed.push(id);
                    }
                }
            }
            Op::ToReceiver { index, crash } => {
                let busy: Vec<usize> = (0..self.channels.len())
                    .filter(|&c| !self.channels[c].is_empty())
                    .collect();
                if busy.is_empty() {
                    return;
                }
                let frame = self.channels[busy[index % busy.len()]].pop_front().unwrap();
                let decoded = Frame::decode(frame.as_bytes()).unwrap();
                let got = self.receiver.session.receive(decoded, self.now);
                match got.action {
                    Action::Apply { writes, .. } => {
                        if crash {
                            // The receiver's process died: its channels died with it.
                            self.receiver.crash(self.now);
                            self.channels.iter_mut().for_each(VecDeque::clear);
                            self.current = None;
                            return;
                        }
                        // One transaction: the effect and the writes together.
                        self.receiver.applied.push(id_of(&frame));
                        self.receiver.write(&writes, None, self.now);
                        self.to_sender
                            .push(self.receiver.session.highest_received());
                    }
                    Action::Duplicate { .. } => self
                        .to_sender
                        .push(self.receiver.session.highest_received()),
                    Action::Gap { .. } | Action::None => {}
                }
            }
            Op::ToSender { index, crash_at } => {
                if self.to_sender.is_empty() {
                    return;
                }
                let ack = self.to_sender.remove(index % self.to_sender.len());
                let got = self.sender.session.receive(Frame::Ack(ack), self.now);
                if !self.sender.write(&got.ack_writes, crash_at, self.now) {
                    self.current = None;
                }
            }
            Op::Lose { index, back: true } => {
                if !self.to_sender.is_empty() {
                    self.to_sender.remove(index % self.to_sender.len());
                }
            }
            Op::Lose { index, back: false } => {
                if !self.channels.is_empty() {
                    let c = index % self.channels.len();
                    self.channels[c].clear();
                    if self.current == Some(c) {
                        self.current = None;
                    }
                }
            }
            Op::Tick(ms) => {
                self.now += ms;
                match self.sender.session.on_timer(self.now) {
                    Timer::Idle => {}
                    Timer::Retransmit(frames) => self.transmit(frames),
                    Timer::GiveUp(given) => self.give_up(given, None),
                }
            }
            Op::ChannelUp => {
                self.channels.push(VecDeque::new());
                self.current = Some(self.channels.len() - 1);
                let frames = self.sender.session.on_channel_up(self.now);
                self.transmit(frames);
            }
        }
    }

    /// Writes frames to the current channel; with none up, they are not sent.
    fn transmit(&mut self, frames: impl IntoIterator<Item = String>) {
        if let Some(c) = self.current {
            self.channels[c].extend(frames);
        }
    }

    fn in_flight(&self) -> bool {
        self.channels.iter().any(|c| !c.is_empty())
    }

    fn check_order(&self) {
        let applied = &self.receiver.applied;
        assert!(
            applied.windows(2).all(|w| w[0] < w[1]),
            "out of order or twice: {applied:?}"
        );
        for id in applied {
            assert!(self.committed.contains(id), "{id} applied but never sent");
        }
        let last = applied.last().copied().unwrap_or(0);
        for id in &self.committed {
            if *id < last && !applied.contains(id) {
                assert!(self.given_up.contains(id), "{id} skipped but not given up");
            }
        }
    }

    /// A network that behaves: resend on a fresh channel and deliver everything, with time
    /// passing, until nothing is pending.
    fn drain(&mut self) {
        for _ in 0..30 {
            if self.sender.session.pending_count() == 0 && !self.in_flight() {
                break;
            }
            self.now += 10_000;
            self.step(Op::ChannelUp);
            while self.in_flight() {
                self.step(Op::ToReceiver {
                    index: 0,
                    crash: false,
                });
            }
            while !self.to_sender.is_empty() {
                self.step(Op::ToSender {
                    index: 0,
                    crash_at: None,
                });
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn exactly_once_in_order_across_loss_reordering_and_crashes(
        ops in proptest::collection::vec(op(), 1..120)
    ) {
        let mut world = World::new();
        for op in ops {
            world.step(op);
            world.check_order();
        }
        world.drain();
        world.check_order();
        prop_assert_eq!(world.sender.session.pending_count(), 0);
        for id in &world.committed {
            prop_assert!(
                world.receiver.applied.contains(id) || world.given_up.contains(id),
                "{} neither applied nor given up", id
            );
        }
        // What is stored is what is in memory: a restore changes nothing.
        for side in [&world.sender, &world.receiver] {
            let (restored, repairs) = Session::restore(side.session.limits, &side.stored, 0);
            prop_assert!(repairs.is_empty(), "{:?}", repairs);
            prop_assert_eq!(restored.last_sent(), side.session.last_sent());
            prop_assert_eq!(restored.highest_received(), side.session.highest_received());
            prop_assert!(restored.pending_frames().eq(side.session.pending_frames()));
        }
    }
}
