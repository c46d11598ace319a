//! The kernel's identity (spec §2.6): `keySeed` (64 hex digits), `peerId` (the libp2p peer id
//! of the Ed25519 key from that seed) and `ocapURLKey` (64 hex digits). `clearState` keeps them
//! (see `init.rs`).

use super::{Result, State};

impl State {
    /// `keySeed`, as stored (hex).
    pub fn key_seed(&self) -> Result<Option<String>> {
        Ok(self.store.get("keySeed")?)
    }

    /// `peerId`.
    pub fn peer_id(&self) -> Result<Option<String>> {
        Ok(self.store.get("peerId")?)
    }

    /// `ocapURLKey`, as stored (hex).
    pub fn ocap_url_key(&self) -> Result<Option<String>> {
        Ok(self.store.get("ocapURLKey")?)
    }

    /// Records the key seed (hex) and the peer id derived from it.
    pub fn set_peer_key(&self, seed: &str, peer_id: &str) -> Result<()> {
        self.store.set("keySeed", seed)?;
        Ok(self.store.set("peerId", peer_id)?)
    }

    /// Records the key OCAP URLs are sealed under (hex).
    pub fn set_ocap_url_key(&self, key: &str) -> Result<()> {
        Ok(self.store.set("ocapURLKey", key)?)
    }
}
