//! Kernel state over the store: the "keepers". Each file holds one table of spec §4–§6 with the
//! reference's key names and value formats, so the reference's SQL works on our databases, and
//! nothing outside this folder names a key (the raw store is for tests only).
//!
//! The whole key map of `kv`, by keeper (as SwingSet's `kernelKeeper.js` opens):
//!
//! | keys | value | keeper |
//! |---|---|---|
//! | `initialized` | `true` once the fresh keys are written | `init.rs` |
//! | `nextObjectId`, `nextPromiseId`, `nextVatId`, `nextRemoteId`, `nextSubclusterId` | next id to allocate, from 1 | `counters.rs` |
//! | `e.nextObjectId.<endpoint>`, `e.nextPromiseId.<endpoint>` | next import number | `counters.rs`, `vats.rs` (`init_endpoint`) |
//! | `<endpoint>.c.<eref>` / `<endpoint>.c.<kref>` | kref / `"R <eref>"` or `"_ <eref>"` | `clist.rs` |
//! | `koN.owner`, `koN.refCount` (`reachable,recognizable`), `koN.revoked` | | `objects.rs`, `refcount.rs` |
//! | `kpN.state`, `.decider`, `.subscribers`, `.value`, `.refCount` | | `promises.rs`, `refcount.rs` |
//! | `queue.run.head/tail/<i>`, `queue.kpN.head/tail/<i>`, `queue.run.unprocessable.<i>` | run queue and promise queues | `queue.rs` |
//! | `gcActions`, `vats.terminated` | JSON arrays (kept for the reference's layout) | `init.rs`, `vats.rs` |
//! | `reapQueue` | vats due for `bringOutYourDead` | `reap.rs` |
//! | `vatConfig.<vat>`, `vatToSubclusterMap` | live vats' configs, their subclusters | `vats.rs` |
//! | `subclusters` | `[{id, config, vats}]` | `subclusters.rs` |
//! | `kernelService.<name>`, `pinnedObjects` | the kernel services (`ko1`–`ko3`) | `init.rs` |
//! | `kernelService.io:<sN>:<name>` | an IO channel's service (spec §3.4) | `io.rs` |
//! | `ioReads.<service>` | JSON array of the kpids of `read()`s an IO service owes (an ocap key) | `io.rs` |
//! | `keySeed`, `peerId`, `ocapURLKey` | the identity, kept by `clearState` | `identity.rs` |
//! | `incarnationId` | this kernel's incarnation (UUID), new after `clearState` | `init.rs` |
//! | `kernelWaiters` | references held by RPC callers awaiting promises | `refcount.rs` |
//! | `capability.<id>` | one record per issued OCAP URL (an ocap extension) | `capabilities.rs` |
//! | `remote.<rN>` | `{peerId, hints}`: the peer a remote endpoint stands for | `remotes.rs` |
//! | `peerIncarnation.<peerId>` | the incarnation the peer last announced | `remotes.rs` |
//! | `remoteSeq.<rN>.nextSendSeq/startSeq/highestReceivedSeq`, `remotePending.<rN>.<seq>` | reliable delivery to and from a remote (the exact frame text pending) | `remotes.rs` |
//! | `knownRelays`, `lastActiveTime` | `[{addr, lastSeen, isBootstrap}]`; when remote comms were last active | `remotes.rs` |
//! | `remoteCommsOptions` | the `initRemoteComms` options (an ocap extension), kept by `clearState` | `remotes.rs` |
//! | `remoteRedemption.<kpid>` | `{remote, deadline, pin}`: another kernel's URL being redeemed (an ocap extension) | `remotes.rs` |
//!
//! `kv_vatstore` (liveslots' own keys, opaque to the kernel) is `vats.rs`'s too.
//!
//! [`State`] also tracks which refs may have become garbage during a crank (`maybe_free`), and
//! keeps that in-memory set consistent with the database across savepoint rollbacks.

mod capabilities;
mod clist;
mod counters;
mod identity;
pub(crate) mod init;
mod io;
mod objects;
mod promises;
mod queue;
mod reap;
mod refcount;
#[cfg(feature = "remote")]
mod remotes;
mod subclusters;
mod vats;

pub use capabilities::Capability;
pub use clist::Flag;
pub use init::SERVICES;
pub use objects::RefCount;
pub use promises::PromiseState;
pub use queue::RunItem;
#[cfg(feature = "remote")]
pub use remotes::{KnownRelay, Redemption, RemoteRecord};
pub use subclusters::Subcluster;

use super::error::KernelError;
use super::store::Store;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;

/// Result type of every state operation.
pub type Result<T> = std::result::Result<T, KernelError>;

/// The kernel's persistent state and its crank-local bookkeeping.
pub struct State {
    store: Store,
    maybe_free: BTreeSet<String>,
    /// The bookkeeping as each open savepoint began (savepoints nest).
    saved_maybe_free: Vec<BTreeSet<String>>,
}

impl State {
    /// Wraps the store; call [`State::initialize`] before use.
    pub fn new(store: Store) -> State {
        State {
            store,
            maybe_free: BTreeSet::new(),
            saved_maybe_free: Vec::new(),
        }
    }

    /// The raw store, for tests only: everything else goes through the keepers.
    #[cfg(test)]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Gives the store back (to close it).
    pub fn into_store(self) -> Store {
        self.store
    }

    /// Starts a crank: a savepoint, and a copy of the in-memory bookkeeping to restore on abort.
    /// Savepoints nest (a piece of a crank that may be undone on its own is one).
    pub fn begin_crank(&mut self) -> Result<()> {
        self.store.savepoint()?;
        self.saved_maybe_free.push(self.maybe_free.clone());
        Ok(())
    }

    /// Keeps the crank's effects.
    pub fn commit_crank(&mut self) -> Result<()> {
        self.saved_maybe_free.pop();
        Ok(self.store.release()?)
    }

    /// Undoes the crank's effects, in the database and in memory.
    pub fn abort_crank(&mut self) -> Result<()> {
        if let Some(saved) = self.saved_maybe_free.pop() {
            self.maybe_free = saved;
        }
        Ok(self.store.rollback()?)
    }

    /// Rolls back whatever the batch transaction holds (its commit failed) and forgets the
    /// in-memory bookkeeping that went with it.
    pub fn forget_uncommitted(&mut self) -> Result<()> {
        self.maybe_free.clear();
        self.saved_maybe_free.clear();
        Ok(self.store.abandon()?)
    }

    /// Opens the batch transaction if none is open.
    pub fn begin(&self) -> Result<()> {
        Ok(self.store.begin()?)
    }

    /// Commits the batch transaction (all cranks since the last commit).
    pub fn commit(&self) -> Result<()> {
        Ok(self.store.commit()?)
    }

    /// Takes the refs that may have become garbage.
    pub fn take_maybe_free(&mut self) -> BTreeSet<String> {
        std::mem::take(&mut self.maybe_free)
    }

    fn get_json<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T> {
        match self.store.get(key)? {
            None => Ok(T::default()),
            Some(text) => serde_json::from_str(&text).map_err(|e| corrupt(key, e.to_string())),
        }
    }

    /// The JSON value at `key`, `None` if absent.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    fn get_json_option<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.store.get(key)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| corrupt(key, e.to_string())),
        }
    }

    fn set_json<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string(value).expect("kernel state always serializes");
        Ok(self.store.set(key, &text)?)
    }

    fn get_number(&self, key: &str) -> Result<u64> {
        match self.store.get(key)? {
            None => Ok(0),
            Some(text) => text
                .parse()
                .map_err(|_| corrupt(key, format!("{text:?} is not a number"))),
        }
    }
}

fn corrupt(key: &str, detail: String) -> KernelError {
    KernelError::Corrupt {
        key: key.into(),
        detail,
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A fresh, initialized state over an in-memory database.
    pub fn state() -> State {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::kernel::store::migrate_for_tests(&mut conn);
        let mut state = State::new(Store::new(conn));
        state.initialize().unwrap();
        state
    }
}
