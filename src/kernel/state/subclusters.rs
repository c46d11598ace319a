//! Subcluster records (spec §6.2 `subclusters`): `[{id, config, vats: {name: vatId}}]`.

use super::{Result, State};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One subcluster as persisted and as `getStatus` reports it (spec §2.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subcluster {
    /// `sN`.
    pub id: String,
    /// The cluster config exactly as launched.
    pub config: Value,
    /// Vat name → vat id.
    pub vats: Map<String, Value>,
}

impl State {
    /// Every subcluster, in creation order.
    pub fn subclusters(&self) -> Result<Vec<Subcluster>> {
        self.get_json("subclusters")
    }

    /// Replaces the subcluster list.
    pub fn set_subclusters(&self, list: &[Subcluster]) -> Result<()> {
        self.set_json("subclusters", &list)
    }

    /// One subcluster by id.
    pub fn subcluster(&self, id: &str) -> Result<Option<Subcluster>> {
        Ok(self.subclusters()?.into_iter().find(|s| s.id == id))
    }

    /// Inserts or replaces a subcluster record.
    pub fn put_subcluster(&self, record: &Subcluster) -> Result<()> {
        let mut list = self.subclusters()?;
        match list.iter_mut().find(|s| s.id == record.id) {
            Some(existing) => *existing = record.clone(),
            None => list.push(record.clone()),
        }
        self.set_subclusters(&list)
    }

    /// Deletes a subcluster record.
    pub fn remove_subcluster(&self, id: &str) -> Result<()> {
        let mut list = self.subclusters()?;
        list.retain(|s| s.id != id);
        self.set_subclusters(&list)
    }
}
