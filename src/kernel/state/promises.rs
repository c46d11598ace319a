//! Kernel promises (spec §4.4): state, decider, subscribers, value, refCount, message queue.

use super::{Result, State, corrupt};
use crate::capdata::CapData;

/// Where a promise stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromiseState {
    /// Not settled yet.
    Unresolved,
    /// Settled with a value.
    Fulfilled(CapData),
    /// Settled with a rejection reason.
    Rejected(CapData),
}

impl State {
    /// A new unresolved promise with no references yet.
    pub fn create_promise(&self, decider: Option<&str>) -> Result<String> {
        let kpid = self.allocate_promise_id()?;
        self.store.set(&format!("{kpid}.state"), "unresolved")?;
        self.store.set(&format!("{kpid}.subscribers"), "[]")?;
        self.store.set(&format!("{kpid}.refCount"), "0")?;
        if let Some(decider) = decider {
            self.set_decider(&kpid, Some(decider))?;
        }
        Ok(kpid)
    }

    /// The promise's state, `None` if it does not exist.
    pub fn promise_state(&self, kpid: &str) -> Result<Option<PromiseState>> {
        let key = format!("{kpid}.state");
        let Some(state) = self.store.get(&key)? else {
            return Ok(None);
        };
        let value = || -> Result<CapData> {
            let value_key = format!("{kpid}.value");
            let text = self
                .store
                .get(&value_key)?
                .ok_or_else(|| corrupt(&value_key, "settled promise has no value".into()))?;
            serde_json::from_str(&text).map_err(|e| corrupt(&value_key, e.to_string()))
        };
        Ok(Some(match state.as_str() {
            "unresolved" => PromiseState::Unresolved,
            "fulfilled" => PromiseState::Fulfilled(value()?),
            "rejected" => PromiseState::Rejected(value()?),
            other => return Err(corrupt(&key, format!("unknown state {other:?}"))),
        }))
    }

    /// Who may resolve the promise.
    pub fn decider(&self, kpid: &str) -> Result<Option<String>> {
        Ok(self.store.get(&format!("{kpid}.decider"))?)
    }

    /// Sets (or clears) who may resolve the promise.
    pub fn set_decider(&self, kpid: &str, decider: Option<&str>) -> Result<()> {
        let key = format!("{kpid}.decider");
        match decider {
            Some(decider) => Ok(self.store.set(&key, decider)?),
            None => Ok(self.store.delete(&key)?),
        }
    }

    /// The endpoints to notify on resolution, sorted.
    pub fn subscribers(&self, kpid: &str) -> Result<Vec<String>> {
        self.get_json(&format!("{kpid}.subscribers"))
    }

    /// Adds a subscriber (kept sorted and unique).
    pub fn add_subscriber(&self, kpid: &str, endpoint: &str) -> Result<()> {
        let mut subscribers = self.subscribers(kpid)?;
        if !subscribers.iter().any(|s| s == endpoint) {
            subscribers.push(endpoint.to_string());
            subscribers.sort();
        }
        self.set_json(&format!("{kpid}.subscribers"), &subscribers)
    }

    /// Settles the promise; returns its subscribers. The caller re-routes its queued messages.
    pub fn settle(&self, kpid: &str, rejected: bool, value: &CapData) -> Result<Vec<String>> {
        let subscribers = self.subscribers(kpid)?;
        self.store.set(
            &format!("{kpid}.state"),
            if rejected { "rejected" } else { "fulfilled" },
        )?;
        self.set_json(&format!("{kpid}.value"), value)?;
        self.store.delete(&format!("{kpid}.decider"))?;
        self.store.delete(&format!("{kpid}.subscribers"))?;
        Ok(subscribers)
    }

    /// Deletes every key of the promise, its queue included.
    pub fn delete_promise(&self, kpid: &str) -> Result<()> {
        for field in ["state", "decider", "subscribers", "value", "refCount"] {
            self.store.delete(&format!("{kpid}.{field}"))?;
        }
        Ok(self.store.delete_prefix(&format!("queue.{kpid}."))?)
    }
}
