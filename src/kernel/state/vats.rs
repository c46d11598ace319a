//! Vat records (spec §6.2): `vatConfig.<vatId>` (present = alive, restart me on boot),
//! `vatToSubclusterMap`, and `vats.terminated` awaiting cleanup.

use super::{Result, State};
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
