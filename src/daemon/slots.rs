//! Who holds the connection slots. The control socket and the capability socket count their
//! connections separately, so that strangers on the capability socket can never lock the owner
//! out of the control socket; and on the capability socket each uid may hold only its share, so
//! that one stranger cannot lock out the others. Refusals, which take a moment to write, have a
//! small bound of their own.

use super::settings::Limits;
use super::surface::Surface;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Refusals being written at once; past this a connection is closed without a word, so that a
/// flood of connections costs neither descriptors nor memory.
pub const MAX_REFUSING: usize = 64;

/// Why a connection gets no slot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The control socket is full.
    #[error("Too many connections (limit {0}); try again")]
    Control(usize),
    /// The capability socket is full.
    #[error("Too many connections on the capability socket (limit {0}); try again")]
    Capabilities(usize),
    /// This uid holds its share of the capability socket.
    #[error(
        "Too many connections from uid {uid} on the capability socket (limit {limit}); try again"
    )]
    Uid {
        /// The peer's uid.
        uid: u32,
        /// Its share.
        limit: usize,
    },
}

/// The counts of held slots.
#[derive(Debug, Default)]
pub struct Slots {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    control: usize,
    caps: usize,
    caps_by_uid: HashMap<u32, usize>,
    refusing: usize,
}

/// What a held slot counts against; given back when dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Control,
    Capabilities(u32),
    Refusing,
}

/// A slot, held for as long as its connection is served.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    held: Held,
}

impl Slots {
    /// A slot on `surface` for a client of `uid`, within `limits`.
    pub fn take(
        self: &Arc<Self>,
        surface: Surface,
        uid: u32,
        limits: &Limits,
    ) -> Result<Slot, Refusal> {
        let mut counts = self.lock();
        let held = match surface {
            Surface::Control => {
                if counts.control >= limits.max_connections {
                    return Err(Refusal::Control(limits.max_connections));
                }
                counts.control += 1;
                Held::Control
            }
            Surface::Capabilities => {
                if counts.caps >= limits.max_cap_connections {
                    return Err(Refusal::Capabilities(limits.max_cap_connections));
                }
                let mine = counts.caps_by_uid.entry(uid).or_default();
                if *mine >= limits.max_cap_connections_per_uid {
                    return Err(Refusal::Uid {
                        uid,
                        limit: limits.max_cap_connections_per_uid,
                    });
                }
                *mine += 1;
                counts.caps += 1;
                Held::Capabilities(uid)
            }
        };
        Ok(self.slot(held))
    }

    /// A slot for writing a refusal, if fewer than [`MAX_REFUSING`] are being written.
    pub fn take_refusing(self: &Arc<Self>) -> Option<Slot> {
        let mut counts = self.lock();
        if counts.refusing >= MAX_REFUSING {
            return None;
        }
        counts.refusing += 1;
        Some(self.slot(Held::Refusing))
    }

    fn slot(self: &Arc<Self>, held: Held) -> Slot {
        Slot {
            slots: Arc::clone(self),
            held,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.slots.lock();
        match self.held {
            Held::Control => counts.control -= 1,
            Held::Refusing => counts.refusing -= 1,
            Held::Capabilities(uid) => {
                counts.caps -= 1;
                if let Some(mine) = counts.caps_by_uid.get_mut(&uid) {
                    *mine -= 1;
                    if *mine == 0 {
                        // A map of every uid ever seen would grow without bound.
                        counts.caps_by_uid.remove(&uid);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_connections: 2,
            max_cap_connections: 3,
            max_cap_connections_per_uid: 2,
            ..Limits::default()
        }
    }

    #[test]
    fn each_socket_counts_its_own_and_each_uid_its_share() {
        let slots = Arc::new(Slots::default());
        let l = limits();
        let strangers: Vec<Slot> = (0..2)
            .map(|_| slots.take(Surface::Capabilities, 7, &l).unwrap())
            .collect();
        assert_eq!(
            slots.take(Surface::Capabilities, 7, &l).unwrap_err(),
            Refusal::Uid { uid: 7, limit: 2 }
        );
        let other = slots.take(Surface::Capabilities, 8, &l).unwrap();
        assert_eq!(
            slots.take(Surface::Capabilities, 9, &l).unwrap_err(),
            Refusal::Capabilities(3)
        );
        let owner: Vec<Slot> = (0..2)
            .map(|_| slots.take(Surface::Control, 0, &l).unwrap())
            .collect();
        assert_eq!(
            slots.take(Surface::Control, 0, &l).unwrap_err(),
            Refusal::Control(2)
        );
        drop(strangers);
        assert!(!slots.lock().caps_by_uid.contains_key(&7), "forgotten");
        slots.take(Surface::Capabilities, 7, &l).unwrap();
        drop((other, owner));
        let counts = slots.lock();
        assert_eq!((counts.control, counts.caps), (0, 0));
    }

    #[test]
    fn refusals_in_flight_are_bounded() {
        let slots = Arc::new(Slots::default());
        let held: Vec<Slot> = (0..MAX_REFUSING)
            .map(|_| slots.take_refusing().unwrap())
            .collect();
        assert!(slots.take_refusing().is_none());
        drop(held);
        assert!(slots.take_refusing().is_some());
    }
}
