//! Vat records (spec §6.2): `vatConfig.<vatId>` (present = alive, restart me on boot),
//! `vatToSubclusterMap`, `vats.terminated` awaiting cleanup, each endpoint's import counters
//! `e.nextObjectId.<vatId>` / `e.nextPromiseId.<vatId>`, and the vat's rows of `kv_vatstore`.

use super::{Result, State};
use crate::vat::VatstoreDelta;
use serde_json::{Map, Value};

impl State {
    /// The config a live vat was launched with.
    pub fn vat_config(&self, vat: &str) -> Result<Option<Value>> {
        let key = format!("vatConfig.{vat}");
        match self.store.get(&key)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| super::corrupt(&key, e.to_string())),
        }
    }

    /// Records a live vat's config.
    pub fn set_vat_config(&self, vat: &str, config: &Value) -> Result<()> {
        self.set_json(&format!("vatConfig.{vat}"), config)
    }

    /// Forgets a vat's config (it is no longer alive).
    pub fn delete_vat_config(&self, vat: &str) -> Result<()> {
        Ok(self.store.delete(&format!("vatConfig.{vat}"))?)
    }

    /// Starts a new endpoint's import counters at 1 (the reference's `initEndpoint`).
    pub fn init_endpoint(&self, endpoint: &str) -> Result<()> {
        self.store.set(&format!("e.nextObjectId.{endpoint}"), "1")?;
        Ok(self
            .store
            .set(&format!("e.nextPromiseId.{endpoint}"), "1")?)
    }

    /// Deletes what is left of a terminated vat once its c-list is empty: every `<vat>.*` key,
    /// its import counters, its vatstore and its config.
    pub fn forget_vat(&self, vat: &str) -> Result<()> {
        self.store.delete_prefix(&format!("{vat}."))?;
        self.store.delete(&format!("e.nextObjectId.{vat}"))?;
        self.store.delete(&format!("e.nextPromiseId.{vat}"))?;
        self.store.delete_vatstore(vat)?;
        self.delete_vat_config(vat)
    }

    /// A vat's whole vatstore (liveslots' own keys, opaque to the kernel; spec §6.3).
    pub fn vatstore(&self, vat: &str) -> Result<Vec<(String, String)>> {
        Ok(self.store.vatstore(vat)?)
    }

    /// Applies the vatstore changes of a delivery that went well.
    pub fn apply_vatstore(&self, vat: &str, delta: &VatstoreDelta) -> Result<()> {
        Ok(self.store.apply_vatstore(vat, delta)?)
    }

    /// Every live vat, in launch (numeric id) order.
    pub fn live_vats(&self) -> Result<Vec<String>> {
        let mut vats: Vec<String> = self
            .store
            .scan("vatConfig.")?
            .into_iter()
            .map(|(key, _)| key["vatConfig.".len()..].to_string())
            .collect();
        vats.sort_by_key(|v| v[1..].parse::<u64>().unwrap_or(u64::MAX));
        Ok(vats)
    }

    /// The subcluster a vat belongs to.
    pub fn subcluster_of(&self, vat: &str) -> Result<Option<String>> {
        let map: Map<String, Value> = self.get_json("vatToSubclusterMap")?;
        Ok(map.get(vat).and_then(Value::as_str).map(String::from))
    }

    /// Records or forgets (`None`) a vat's subcluster.
    pub fn set_subcluster_of(&self, vat: &str, subcluster: Option<&str>) -> Result<()> {
        let mut map: Map<String, Value> = self.get_json("vatToSubclusterMap")?;
        match subcluster {
            Some(s) => map.insert(vat.to_string(), Value::String(s.to_string())),
            None => map.remove(vat),
        };
        self.set_json("vatToSubclusterMap", &map)
    }

    /// Vats terminated but not yet cleaned up.
    pub fn terminated_vats(&self) -> Result<Vec<String>> {
        self.get_json("vats.terminated")
    }

    /// Replaces the list of vats awaiting cleanup.
    pub fn set_terminated_vats(&self, vats: &[String]) -> Result<()> {
        self.set_json("vats.terminated", &vats)
    }
}
