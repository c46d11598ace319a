//! Id allocation (spec §4.1): global counters `next*Id` and per-endpoint import counters.

use super::{Result, State};

impl State {
    /// Takes the next value of counter `key` (counters start at 1).
    fn allocate(&self, key: &str) -> Result<u64> {
        let next = self.get_number(key)?.max(1);
        self.store.set(key, &(next + 1).to_string())?;
        Ok(next)
    }

    /// A new kernel object id, `koN`.
    pub fn allocate_object_id(&self) -> Result<String> {
        Ok(format!("ko{}", self.allocate("nextObjectId")?))
    }

    /// A new kernel promise id, `kpN`.
    pub fn allocate_promise_id(&self) -> Result<String> {
        Ok(format!("kp{}", self.allocate("nextPromiseId")?))
    }

    /// A new vat id, `vN`.
    pub fn allocate_vat_id(&self) -> Result<String> {
        Ok(format!("v{}", self.allocate("nextVatId")?))
    }

    /// A new remote id, `rN`.
    pub fn allocate_remote_id(&self) -> Result<String> {
        Ok(format!("r{}", self.allocate("nextRemoteId")?))
    }

    /// A new subcluster id, `sN`.
    pub fn allocate_subcluster_id(&self) -> Result<String> {
        Ok(format!("s{}", self.allocate("nextSubclusterId")?))
    }

    /// A new import ref in `endpoint`'s space: `o-N` or `p-N` for a vat, `ro-N` or `rp-N` for
    /// a remote (in this kernel's frame; the sender flips it for the wire).
    pub fn allocate_import(&self, endpoint: &str, promise: bool) -> Result<String> {
        let remote = crate::kernel::ids::is_remote_id(endpoint);
        let (counter, prefix) = match (promise, remote) {
            (true, false) => ("e.nextPromiseId", "p-"),
            (false, false) => ("e.nextObjectId", "o-"),
            (true, true) => ("e.nextPromiseId", "rp-"),
            (false, true) => ("e.nextObjectId", "ro-"),
        };
        Ok(format!(
            "{prefix}{}",
            self.allocate(&format!("{counter}.{endpoint}"))?
        ))
    }
}
