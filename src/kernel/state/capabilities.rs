//! Issued capabilities (an ocap extension): one `capability.<id>` row per OCAP URL the kernel
//! issued, so each URL can be listed, expired and revoked on its own. The URL itself is never
//! stored: the row is found from the URL, never the other way round.

use super::{Result, State};
use serde::{Deserialize, Serialize};

const PREFIX: &str = "capability.";

/// What the kernel remembers of one issued URL. Times are milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capability {
    /// `cap-` and 16 hex digits (see `ocap_url::Sealed::id`).
    pub id: String,
    /// The object (or promise) the URL names.
    pub kref: String,
    /// Who it was issued for, as the issuer described it.
    pub label: Option<String>,
    /// When it was issued.
    pub created: u64,
    /// When it was last redeemed.
    pub last_used: Option<u64>,
    /// After this it no longer redeems.
    pub expires: Option<u64>,
    /// When it was revoked.
    pub revoked: Option<u64>,
    /// For one handed back by `invokeCapability`: the capability at the start of the chain of
    /// invocations that minted it, whose budget it draws on (see `Kernel::mint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// How many capabilities invocations through this one, or through those it minted, have
    /// minted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl State {
    /// The record of capability `id`.
    pub fn capability(&self, id: &str) -> Result<Option<Capability>> {
        self.get_json(&format!("{PREFIX}{id}"))
    }

    /// Writes (or rewrites) a capability record.
    pub fn put_capability(&self, capability: &Capability) -> Result<()> {
        self.set_json(&format!("{PREFIX}{}", capability.id), capability)
    }

    /// Every capability record, oldest first.
    pub fn capabilities(&self) -> Result<Vec<Capability>> {
        let mut all: Vec<Capability> = Vec::new();
        for (key, _) in self.store.scan(PREFIX)? {
            all.extend(self.get_json::<Option<Capability>>(&key)?);
        }
        all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::state::testing::state;

    #[test]
    fn records_round_trip_and_list() {
        let s = state();
        let cap = Capability {
            root: None,
            minted: 0,
            id: "cap-00".into(),
            kref: "ko4".into(),
            label: Some("backup script".into()),
            created: 1,
            last_used: None,
            expires: Some(9),
            revoked: None,
        };
        s.put_capability(&cap).unwrap();
        assert_eq!(s.capability("cap-00").unwrap(), Some(cap.clone()));
        assert_eq!(s.capability("cap-01").unwrap(), None);
        assert_eq!(s.capabilities().unwrap(), vec![cap]);
    }
}
