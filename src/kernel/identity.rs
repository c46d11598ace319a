//! The kernel's identity (spec §2.6): `keySeed`, `peerId` and `ocapURLKey` in `kv`, made once
//! and kept for good (even `clearState` keeps them), as the reference daemon does at start.

use super::error::KernelError;
use super::ocap_url::{self, Opened, Parts, Sealer, UrlError};
use super::state::State;
use std::sync::Arc;

/// The identity a kernel issues OCAP URLs under. Cheap to clone: the daemon holds a copy to
/// open URLs from clients off the kernel thread.
#[derive(Clone)]
pub struct Identity {
    /// The libp2p peer id (`12D3KooW…`) of the Ed25519 key from `keySeed`.
    pub peer_id: String,
    /// Seals and opens oids under `ocapURLKey`.
    pub sealer: Arc<Sealer>,
}

/// An OCAP URL on its way to being redeemed. Parsing and opening one costs key derivation
/// (PBKDF2, milliseconds), so the daemon does it off the kernel thread ([`Identity::open`])
/// and the kernel only looks up the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemable {
    /// Not yet looked at (a vat's redemption, which the kernel opens itself, or a test's).
    Unopened(String),
    /// One of this kernel's, opened.
    Here(Opened),
    /// Another kernel's.
    Elsewhere(Parts),
    /// Not a URL this kernel can redeem.
    Refused(UrlError),
}

impl Identity {
    /// Parses and opens `target` if it is still unopened.
    pub fn open(&self, target: Redeemable) -> Redeemable {
        let Redeemable::Unopened(url) = target else {
            return target;
        };
        let parts = match ocap_url::parse(&url) {
            Ok(parts) => parts,
            Err(e) => return Redeemable::Refused(e),
        };
        if parts.host != self.peer_id {
            return Redeemable::Elsewhere(parts);
        }
        match self.sealer.open(&parts.oid) {
            Ok(opened) => Redeemable::Here(opened),
            Err(e) => Redeemable::Refused(e),
        }
    }
}

/// Reads the identity from `state`, creating what is missing. Runs in the caller's transaction.
pub fn load_or_create(state: &State) -> Result<Identity, KernelError> {
    let peer_id = match state.peer_id()? {
        Some(peer_id) => peer_id,
        None => {
            let seed = match state.key_seed()? {
                Some(hex) => from_hex(&hex, "keySeed")?,
                None => random_key()?,
            };
            let peer_id = peer_id_of(&seed);
            state.set_peer_key(&to_hex(&seed), &peer_id)?;
            peer_id
        }
    };
    let url_key = match state.ocap_url_key()? {
        Some(hex) => from_hex(&hex, "ocapURLKey")?,
        None => {
            let key = random_key()?;
            state.set_ocap_url_key(&to_hex(&key))?;
            key
        }
    };
    Ok(Identity {
        peer_id,
        sealer: Arc::new(Sealer::new(url_key)),
    })
}

/// The kernel's `keySeed` (the Ed25519 seed of its libp2p identity).
#[cfg(feature = "remote")]
pub(super) fn key_seed(state: &State) -> Result<[u8; 32], KernelError> {
    let hex = state.key_seed()?.ok_or_else(|| KernelError::Corrupt {
        key: "keySeed".into(),
        detail: "missing".into(),
    })?;
    from_hex(&hex, "keySeed")
}

/// libp2p's peer id of an Ed25519 key: base58btc of the identity multihash (`0x00`, length 36)
/// of the protobuf `PublicKey {Type: Ed25519 (1), Data: 32 bytes}`.
pub fn peer_id_of(seed: &[u8; 32]) -> String {
    let public = ed25519_dalek::SigningKey::from_bytes(seed).verifying_key();
    let mut bytes = vec![0x00, 36, 0x08, 0x01, 0x12, 32];
    bytes.extend_from_slice(public.as_bytes());
    bs58::encode(bytes).into_string()
}

fn random_key() -> Result<[u8; 32], KernelError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| KernelError::Refused(format!("no randomness for the kernel's keys: {e}")))?;
    Ok(key)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str, key: &str) -> Result<[u8; 32], KernelError> {
    let corrupt = || KernelError::Corrupt {
        key: key.into(),
        detail: "not 64 hex digits".into(),
    };
    if text.len() != 64 || !text.is_ascii() {
        return Err(corrupt());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| corrupt())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_matches_libp2p() {
        // libp2p's `peerIdFromPrivateKey(generateKeyPairFromSeed('Ed25519', [0, 1, …, 31]))`.
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            peer_id_of(&seed),
            "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB"
        );
    }

    #[test]
    fn made_once_then_read_back() {
        let state = crate::kernel::state::testing::state();
        let store = state.store();
        let first = load_or_create(&state).unwrap();
        let seed = store.get("keySeed").unwrap().unwrap();
        assert_eq!(seed.len(), 64);
        assert_eq!(first.peer_id, peer_id_of(&from_hex(&seed, "k").unwrap()));
        assert_eq!(store.get("ocapURLKey").unwrap().unwrap().len(), 64);
        let again = load_or_create(&state).unwrap();
        assert_eq!(again.peer_id, first.peer_id);
        assert_eq!(store.get("keySeed").unwrap().unwrap(), seed);
    }

    #[test]
    fn a_malformed_key_is_reported() {
        let state = crate::kernel::state::testing::state();
        state.store().set("ocapURLKey", "xyz").unwrap();
        assert!(matches!(
            load_or_create(&state),
            Err(KernelError::Corrupt { .. })
        ));
    }
}
