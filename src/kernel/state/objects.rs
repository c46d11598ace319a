//! Kernel objects (spec §4.3): `koN.owner`, `koN.refCount`, `koN.revoked`.

use super::{Result, State, corrupt};

/// An object's reference counts: `"<reachable>,<recognizable>"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefCount {
    /// References that keep the object alive.
    pub reachable: u64,
    /// References that can still recognize it (a superset of reachable ones).
    pub recognizable: u64,
}

impl State {
    /// A new object owned by `owner` (a vat id or `kernel`), with no references yet: the
    /// owner's own reference is added with its c-list entry (or, for the kernel's own objects,
    /// by pinning them).
    pub fn create_object(&self, owner: &str) -> Result<String> {
        let kref = self.allocate_object_id()?;
        self.store.set(&format!("{kref}.owner"), owner)?;
        self.set_refcount(&kref, RefCount::default())?;
        if owner == "kernel" {
            self.incref(&kref, true)?;
        }
        Ok(kref)
    }

    /// The object's owner, `None` once the owner is gone.
    pub fn owner(&self, kref: &str) -> Result<Option<String>> {
        Ok(self.store.get(&format!("{kref}.owner"))?)
    }

    /// Forgets the owner (the owner vat was terminated).
    pub fn orphan(&self, kref: &str) -> Result<()> {
        Ok(self.store.delete(&format!("{kref}.owner"))?)
    }

    /// Whether the object exists at all.
    pub fn object_exists(&self, kref: &str) -> Result<bool> {
        Ok(self.store.get(&format!("{kref}.refCount"))?.is_some())
    }

    /// The object's counts (`0,0` when absent).
    pub fn refcount(&self, kref: &str) -> Result<RefCount> {
        let key = format!("{kref}.refCount");
        let Some(text) = self.store.get(&key)? else {
            return Ok(RefCount::default());
        };
        let parse = |s: Option<&str>| s.and_then(|n| n.parse().ok());
        let mut parts = text.split(',');
        match (parse(parts.next()), parse(parts.next())) {
            (Some(reachable), Some(recognizable)) => Ok(RefCount {
                reachable,
                recognizable,
            }),
            _ => Err(corrupt(
                &key,
                format!("{text:?} is not \"reachable,recognizable\""),
            )),
        }
    }

    /// Writes the object's counts.
    pub fn set_refcount(&self, kref: &str, count: RefCount) -> Result<()> {
        let text = format!("{},{}", count.reachable, count.recognizable);
        Ok(self.store.set(&format!("{kref}.refCount"), &text)?)
    }

    /// Deletes every key of the object.
    pub fn delete_object(&self, kref: &str) -> Result<()> {
        for field in ["owner", "refCount", "revoked"] {
            self.store.delete(&format!("{kref}.{field}"))?;
        }
        Ok(())
    }

    /// Marks the object revoked (spec §4.9).
    pub fn revoke(&self, kref: &str) -> Result<()> {
        Ok(self.store.set(&format!("{kref}.revoked"), "true")?)
    }

    /// Whether the object is revoked.
    pub fn is_revoked(&self, kref: &str) -> Result<bool> {
        Ok(self.store.get(&format!("{kref}.revoked"))?.as_deref() == Some("true"))
    }
}
