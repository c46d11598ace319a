//! A fresh kernel's keys (spec §6.2) and its kernel services (spec §2.5).

use super::{Result, State};

/// Keys that survive `clearState`: the kernel's identity (spec §2.6), and the options remote
/// comms run with (they go on, as a new incarnation).
const IDENTITY: [&str; 4] = ["keySeed", "peerId", "ocapURLKey", "remoteCommsOptions"];

/// The kernel services every kernel registers, in allocation order: `ko1`, `ko2`, `ko3`.
pub const SERVICES: [&str; 3] = [
    "ocapURLIssuerService",
    "ocapURLRedemptionService",
    "kernelFacet",
];

impl State {
    /// Creates the default keys and the kernel services if this database has none yet.
    pub fn initialize(&mut self) -> Result<()> {
        if self.store.get("initialized")?.is_some() {
            return Ok(());
        }
        self.store.begin()?;
        self.populate()?;
        self.commit()
    }

    /// Writes a fresh kernel's keys, inside the caller's transaction.
    pub fn populate(&mut self) -> Result<()> {
        for counter in [
            "nextObjectId",
            "nextPromiseId",
            "nextVatId",
            "nextRemoteId",
            "nextSubclusterId",
        ] {
            self.store.set(counter, "1")?;
        }
        self.store.set("queue.run.head", "1")?;
        self.store.set("queue.run.tail", "1")?;
        for (key, empty) in [
            ("gcActions", "[]"),
            ("reapQueue", "[]"),
            ("vats.terminated", "[]"),
            ("subclusters", "[]"),
        ] {
            self.store.set(key, empty)?;
        }
        self.store.set("vatToSubclusterMap", "{}")?;
        self.store.set("incarnationId", &crate::random::uuid_v4())?;
        let mut pinned = Vec::new();
        for name in SERVICES {
            let kref = self.create_object("kernel")?;
            self.pin(&kref)?;
            self.store.set(&format!("kernelService.{name}"), &kref)?;
            pinned.push(kref);
        }
        Ok(self.store.set("initialized", "true")?)
    }

    /// Wipes both tables and starts afresh, keeping only the identity keys and the remote-comms
    /// options (`clearState`).
    pub fn reset(&mut self) -> Result<()> {
        let mut identity = Vec::new();
        for key in IDENTITY {
            if let Some(value) = self.store.get(key)? {
                identity.push((key, value));
            }
        }
        self.store
            .conn()
            .execute_batch("DELETE FROM kv; DELETE FROM kv_vatstore;")?;
        for (key, value) in identity {
            self.store.set(key, &value)?;
        }
        self.maybe_free.clear();
        self.populate()
    }

    /// The kref of kernel service `name`.
    pub fn service(&self, name: &str) -> Result<Option<String>> {
        Ok(self.store.get(&format!("kernelService.{name}"))?)
    }

    /// Whether `kref` is the system-only `kernelFacet`, which outside callers may not reach.
    pub fn is_system_only(&self, kref: &str) -> Result<bool> {
        Ok(self.service("kernelFacet")?.as_deref() == Some(kref))
    }

    /// Pins an object unless it is pinned already.
    pub fn pin_once(&self, kref: &str) -> Result<()> {
        let pinned = self.store.get("pinnedObjects")?.unwrap_or_default();
        if pinned.split(',').any(|k| k == kref) {
            return Ok(());
        }
        self.pin(kref)
    }

    /// Pins an object so it is never collected (`pinnedObjects`, +1,+1).
    pub(super) fn pin(&self, kref: &str) -> Result<()> {
        self.incref(kref, true)?;
        let mut pinned = self.pinned()?;
        pinned.push(kref.to_string());
        pinned.sort();
        Ok(self.store.set("pinnedObjects", &pinned.join(","))?)
    }

    /// Removes one pin of [`State::pin`], if the object has one.
    pub(super) fn unpin(&mut self, kref: &str) -> Result<()> {
        let mut pinned = self.pinned()?;
        let Some(at) = pinned.iter().position(|p| p == kref) else {
            return Ok(());
        };
        pinned.remove(at);
        self.store.set("pinnedObjects", &pinned.join(","))?;
        self.decref(kref, true)
    }

    fn pinned(&self) -> Result<Vec<String>> {
        Ok(match self.store.get("pinnedObjects")? {
            Some(list) if !list.is_empty() => list.split(',').map(String::from).collect(),
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::state;

    #[test]
    fn a_fresh_kernel_reserves_ko1_to_ko3_for_services_spec_6_2() {
        let s = state();
        assert_eq!(
            s.service("ocapURLIssuerService").unwrap().as_deref(),
            Some("ko1")
        );
        assert_eq!(
            s.service("ocapURLRedemptionService").unwrap().as_deref(),
            Some("ko2")
        );
        assert_eq!(s.service("kernelFacet").unwrap().as_deref(), Some("ko3"));
        assert_eq!(s.store().get("nextObjectId").unwrap().as_deref(), Some("4"));
        assert_eq!(
            s.store().get("pinnedObjects").unwrap().as_deref(),
            Some("ko1,ko2,ko3")
        );
        assert_eq!(
            s.store().get("ko3.refCount").unwrap().as_deref(),
            Some("2,2")
        );
        assert_eq!(
            s.store().get("ko3.owner").unwrap().as_deref(),
            Some("kernel")
        );
        assert!(s.is_system_only("ko3").unwrap() && !s.is_system_only("ko1").unwrap());
    }
}
