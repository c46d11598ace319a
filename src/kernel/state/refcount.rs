//! Reference counting (spec §5.1, with the fix of §14.2: every reference is counted).
//!
//! An object's counts are the sum of: its owner's own reference (the exporter's c-list entry,
//! or the kernel's for kernel objects), every importer's c-list entry (reachable while its flag is
//! `R`), every queued message that names it, every settled promise whose value names it, and pins.
//! A promise's single count is the sum of its c-list entries, queued messages, promise values and
//! kernel waiters (recorded in `kernelWaiters`, since the waiters themselves are in memory and do
//! not survive a crash). Each increment has exactly one matching decrement, so counts never underflow;
//! an attempt to is reported as corruption rather than wrapped.

use super::queue::RunItem;
use super::{Result, State, corrupt};
use crate::capdata::CapData;
use crate::kernel::ids::is_promise;
use crate::vat::Message;
use std::collections::BTreeMap;

/// The key recording the references kernel waiters hold: JSON `{kpid: count}`.
const WAITERS: &str = "kernelWaiters";

impl State {
    /// A promise's count (`kpN.refCount`; a promise without one has none).
    pub fn promise_refcount(&self, kpid: &str) -> Result<u64> {
        self.get_number(&format!("{kpid}.refCount"))
    }

    /// Adds a reference to `kref` (reachable, or recognizable only).
    pub fn incref(&self, kref: &str, reachable: bool) -> Result<()> {
        if is_promise(kref) {
            let count = self.get_number(&format!("{kref}.refCount"))?;
            return Ok(self
                .store
                .set(&format!("{kref}.refCount"), &(count + 1).to_string())?);
        }
        let mut count = self.refcount(kref)?;
        count.recognizable += 1;
        if reachable {
            count.reachable += 1;
        }
        self.set_refcount(kref, count)
    }

    /// Removes a reference from `kref`; one that reaches zero is noted as maybe-free, and so is
    /// an object down to one reference (its owner's own, which for a remote's object is all
    /// that keeps it here: see `gc.rs`).
    pub fn decref(&mut self, kref: &str, reachable: bool) -> Result<()> {
        if is_promise(kref) {
            let key = format!("{kref}.refCount");
            let count = self.get_number(&key)?;
            let count = count
                .checked_sub(1)
                .ok_or_else(|| corrupt(&key, "promise refcount underflow".into()))?;
            self.store.set(&key, &count.to_string())?;
            if count == 0 {
                self.maybe_free.insert(kref.to_string());
            }
            return Ok(());
        }
        let key = format!("{kref}.refCount");
        let mut count = self.refcount(kref)?;
        let underflow = || corrupt(&key, "object refcount underflow".into());
        count.recognizable = count.recognizable.checked_sub(1).ok_or_else(underflow)?;
        if reachable {
            count.reachable = count.reachable.checked_sub(1).ok_or_else(underflow)?;
        }
        self.set_refcount(kref, count)?;
        if count.reachable <= 1 || count.recognizable <= 1 {
            self.maybe_free.insert(kref.to_string());
        }
        Ok(())
    }

    /// Adds a reference to each slot of a value.
    pub fn incref_slots(&self, data: &CapData) -> Result<()> {
        data.slots
            .iter()
            .try_for_each(|kref| self.incref(kref, true))
    }

    /// Removes the references of [`State::incref_slots`].
    pub fn decref_slots(&mut self, data: &CapData) -> Result<()> {
        data.slots
            .clone()
            .iter()
            .try_for_each(|kref| self.decref(kref, true))
    }

    /// The references a queued item holds: target, result and slots of a send; the promise of a
    /// notify.
    pub fn incref_item(&self, item: &RunItem) -> Result<()> {
        match item {
            RunItem::Send { target, message } => {
                self.incref(target, true)?;
                self.incref_message(message)
            }
            RunItem::Notify { kpid, .. } => self.incref(kpid, true),
        }
    }

    /// Removes the references of [`State::incref_item`].
    pub fn decref_item(&mut self, item: &RunItem) -> Result<()> {
        match item {
            RunItem::Send { target, message } => {
                self.decref(target, true)?;
                self.decref_message(message)
            }
            RunItem::Notify { kpid, .. } => self.decref(kpid, true),
        }
    }

    fn incref_message(&self, message: &Message) -> Result<()> {
        if let Some(result) = &message.result {
            self.incref(result, true)?;
        }
        self.incref_slots(&message.methargs)
    }

    fn decref_message(&mut self, message: &Message) -> Result<()> {
        if let Some(result) = &message.result {
            self.decref(result, true)?;
        }
        self.decref_slots(&message.methargs)
    }

    /// Counts a reference held by a kernel waiter, recording it in `kernelWaiters`.
    pub fn hold_for_waiter(&self, kpid: &str) -> Result<()> {
        let mut held = self.waiter_holds()?;
        *held.entry(kpid.to_string()).or_insert(0) += 1;
        self.set_json(WAITERS, &held)?;
        self.incref(kpid, true)
    }

    /// Removes a reference of [`State::hold_for_waiter`].
    pub fn release_for_waiter(&mut self, kpid: &str) -> Result<()> {
        let mut held = self.waiter_holds()?;
        match held.get_mut(kpid) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                held.remove(kpid);
            }
            None => return Err(corrupt(WAITERS, format!("no waiter holds {kpid}"))),
        }
        if held.is_empty() {
            self.store.delete(WAITERS)?;
        } else {
            self.set_json(WAITERS, &held)?;
        }
        self.decref(kpid, true)
    }

    /// The references kernel waiters hold, by promise (`kernelWaiters`, absent when none).
    pub fn waiter_holds(&self) -> Result<BTreeMap<String, u64>> {
        self.get_json(WAITERS)
    }

    /// Queues `item` on the run queue, counting its references.
    pub fn push_run(&self, item: &RunItem) -> Result<()> {
        self.incref_item(item)?;
        self.enqueue("run", item)
    }
}

#[cfg(test)]
mod tests {
    use super::super::RefCount;
    use super::super::testing::state;

    #[test]
    fn counts_go_up_and_down_and_never_underflow() {
        let mut s = state();
        let ko = s.create_object("kernel").unwrap();
        s.incref(&ko, false).unwrap();
        assert_eq!(
            s.refcount(&ko).unwrap(),
            RefCount {
                reachable: 1,
                recognizable: 2
            }
        );
        s.decref(&ko, false).unwrap();
        s.decref(&ko, true).unwrap();
        assert_eq!(s.refcount(&ko).unwrap(), RefCount::default());
        assert!(s.take_maybe_free().contains(&ko));
        assert!(
            s.decref(&ko, true).is_err(),
            "underflow is an error, not a wrap"
        );
        let kp = s.create_promise(None).unwrap();
        s.incref(&kp, true).unwrap();
        s.decref(&kp, true).unwrap();
        assert!(s.decref(&kp, true).is_err());
    }
}
