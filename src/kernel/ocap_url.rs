//! OCAP URLs (spec §2.6), byte for byte as the reference makes them:
//! `ocap:<oid>@<peerId>[,<relay>…]`, where `oid` is multibase base58btc (`z…`) of
//! `salt(16) ‖ nonce(12) ‖ AES-128-GCM(kref padded to 16 chars) ‖ tag(16)` under the key
//! PBKDF2-HMAC-SHA-256(`ocapURLKey`, salt, 32,767 rounds) — libp2p's `AES_GCM` defaults.
//!
//! The salt is fresh for every URL, so it doubles as the URL's identity: the kernel files each
//! issued capability under a digest of it ([`Sealed::id`]), and revoking one URL leaves every
//! other URL for the same object working. Forging or altering a URL needs `ocapURLKey`: the tag
//! is 128 bits, and the salt feeds the key, so a changed salt fails the tag too.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

const SALT: usize = 16;
const NONCE: usize = 12;
const TAG: usize = 16;
const ROUNDS: u32 = 32_767;
/// The reference pads krefs to this many characters, so short and long krefs look alike.
const KREF_MIN_LEN: usize = 16;
/// Derived keys kept in memory, so redeeming the same URL again skips PBKDF2 (~10 ms).
const KEY_CACHE: usize = 4096;
/// The longest oid this kernel ever makes is 91 characters (a 66-byte sealed `ko` with 20
/// digits); anything much longer is refused before decoding, since base58 decoding takes time
/// quadratic in the length (a 400 KB oid took 35 s).
const MAX_OID: usize = 128;

/// A parsed OCAP URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    /// The sealed object id (`z…`).
    pub oid: String,
    /// The issuing kernel's peer id.
    pub host: String,
    /// Relay multiaddrs where the host may be reached.
    pub hints: Vec<String>,
}

/// Why a URL was refused; the texts are the reference's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a URL at all.
    #[error("unparseable URL")]
    Unparseable,
    /// A URL of another scheme.
    #[error("not an ocap URL")]
    NotOcap,
    /// An `ocap:` URL without exactly `oid@host`.
    #[error("bad ocap URL")]
    Malformed,
    /// The oid does not decrypt under this kernel's key, or holds no kref.
    #[error("ocapURL has bad object reference")]
    BadReference,
}

/// Parses like the reference's `parseOcapURL` over WHATWG `URL.parse`.
pub fn parse(url: &str) -> Result<Parts, UrlError> {
    let url = url.trim_matches(|c: char| c <= ' ');
    let (scheme, rest) = url.split_once(':').ok_or(UrlError::Unparseable)?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(UrlError::Unparseable);
    }
    if !scheme.eq_ignore_ascii_case("ocap") {
        return Err(UrlError::NotOcap);
    }
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    // `ocap://authority/path`: the pathname is what follows the authority.
    let path = match rest.strip_prefix("//") {
        Some(after) => after.find('/').map_or("", |i| &after[i..]),
        None => rest,
    };
    let (oid, place) = match path.split('@').collect::<Vec<_>>()[..] {
        [oid, place] if !oid.is_empty() && !place.is_empty() => (oid, place),
        _ => return Err(UrlError::Malformed),
    };
    let mut items = place.split(',');
    let host = items.next().filter(|h| !h.is_empty());
    let host = host.ok_or(UrlError::Malformed)?.to_string();
    Ok(Parts {
        oid: oid.to_string(),
        host,
        hints: items.filter(|h| !h.is_empty()).map(String::from).collect(),
    })
}

/// The URL for a sealed oid issued by `peer_id`, with relay hints.
pub fn format(oid: &str, peer_id: &str, hints: &[String]) -> String {
    let mut url = format!("ocap:{oid}@{peer_id}");
    for hint in hints {
        url.push(',');
        url.push_str(hint);
    }
    url
}

/// A kref sealed into an oid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The `z…` text.
    pub oid: String,
    /// The capability id this URL is filed under: a digest of its salt.
    pub id: String,
}

/// Opened oid: the kref it names and the capability id it is filed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The sealed kref.
    pub kref: String,
    /// The capability id (see [`Sealed::id`]).
    pub id: String,
}

/// Seals and opens oids under one `ocapURLKey`, caching derived keys by salt. Shared by the
/// kernel thread and the daemon, which opens URLs from clients off the kernel thread.
pub struct Sealer {
    key: [u8; 32],
    derived: Mutex<HashMap<[u8; SALT], [u8; 16]>>,
}

impl Sealer {
    /// A sealer for the raw 32-byte `ocapURLKey`.
    pub fn new(key: [u8; 32]) -> Sealer {
        Sealer {
            key,
            derived: Mutex::new(HashMap::new()),
        }
    }

    /// Seals `kref` with a fresh salt and nonce, so every call gives a different oid.
    pub fn seal(&self, kref: &str) -> Result<Sealed, getrandom::Error> {
        let mut salt = [0u8; SALT];
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut salt)?;
        getrandom::fill(&mut nonce)?;
        let plaintext = format!("{kref:>KREF_MIN_LEN$}");
        let cipher = Aes128Gcm::new(&self.key_for(&salt).into());
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), plaintext.as_bytes())
            .expect("AES-GCM encrypts any short message");
        let raw = [&salt[..], &nonce[..], &sealed].concat();
        Ok(Sealed {
            oid: format!("z{}", bs58::encode(raw).into_string()),
            id: capability_id(&salt),
        })
    }

    /// Opens an oid this key sealed; anything else is [`UrlError::BadReference`].
    pub fn open(&self, oid: &str) -> Result<Opened, UrlError> {
        if oid.len() > MAX_OID {
            return Err(UrlError::BadReference);
        }
        let text = oid.strip_prefix('z').ok_or(UrlError::BadReference)?;
        let raw = bs58::decode(text)
            .into_vec()
            .map_err(|_| UrlError::BadReference)?;
        if raw.len() < SALT + NONCE + TAG {
            return Err(UrlError::BadReference);
        }
        let (salt, rest) = raw.split_at(SALT);
        let (nonce, sealed) = rest.split_at(NONCE);
        let salt: [u8; SALT] = salt.try_into().expect("split at SALT");
        let nonce: [u8; NONCE] = nonce.try_into().expect("split at NONCE");
        let cipher = Aes128Gcm::new(&self.key_for(&salt).into());
        let plain = cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| UrlError::BadReference)?;
        let kref = String::from_utf8(plain).map_err(|_| UrlError::BadReference)?;
        let kref = kref.trim();
        if !super::ids::is_kref(kref) {
            return Err(UrlError::BadReference);
        }
        Ok(Opened {
            kref: kref.to_string(),
            id: capability_id(&salt),
        })
    }

    fn key_for(&self, salt: &[u8; SALT]) -> [u8; 16] {
        let cache = || self.derived.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = cache().get(salt) {
            return *key;
        }
        // Derived without the lock held: it takes milliseconds.
        let mut key = [0u8; 16];
        pbkdf2::pbkdf2_hmac::<Sha256>(&self.key, salt, ROUNDS, &mut key);
        let mut derived = cache();
        if derived.len() >= KEY_CACHE {
            derived.clear();
        }
        derived.insert(*salt, key);
        key
    }
}

/// `cap-` and 16 hex digits of SHA-256(salt): names a URL without being usable as one.
fn capability_id(salt: &[u8; SALT]) -> String {
    let digest = Sha256::digest(salt);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("cap-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oid_far_longer_than_any_this_kernel_makes_is_refused_without_decoding() {
        let sealer = Sealer::new([7; 32]);
        let longest = sealer.seal("ko18446744073709551615").unwrap().oid;
        assert!(longest.len() <= MAX_OID, "{}", longest.len());
        assert!(sealer.open(&longest).is_ok());
        // Quadratic base58 decoding made a 400 KB oid take 35 s on the kernel thread.
        let huge = format!("z{}", "2".repeat(400_000));
        assert_eq!(sealer.open(&huge), Err(UrlError::BadReference));
    }

    #[test]
    fn parse_follows_the_reference() {
        let parts = parse("ocap:zABC@12D3KooWx,/dns4/r1/tcp/1,,/dns4/r2/tcp/2").unwrap();
        assert_eq!(parts.oid, "zABC");
        assert_eq!(parts.host, "12D3KooWx");
        assert_eq!(parts.hints, ["/dns4/r1/tcp/1", "/dns4/r2/tcp/2"]);
        assert_eq!(parse("nonsense"), Err(UrlError::Unparseable));
        assert_eq!(parse("1x:abc"), Err(UrlError::Unparseable));
        assert_eq!(parse("https://x@y"), Err(UrlError::NotOcap));
        for bad in [
            "ocap:zABC",
            "ocap:@host",
            "ocap:zA@",
            "ocap:a@b@c",
            "ocap:zA@,r",
        ] {
            assert_eq!(parse(bad), Err(UrlError::Malformed), "{bad}");
        }
    }

    #[test]
    fn seal_open_round_trip_with_a_fresh_salt_each_time() {
        let sealer = Sealer::new([7; 32]);
        let a = sealer.seal("ko4").unwrap();
        let b = sealer.seal("ko4").unwrap();
        assert_ne!(a.oid, b.oid);
        assert_ne!(a.id, b.id);
        let opened = sealer.open(&a.oid).unwrap();
        assert_eq!(
            opened,
            Opened {
                kref: "ko4".into(),
                id: a.id.clone()
            }
        );
        // Salt 16 + nonce 12 + 16 padded chars + tag 16 = 60 bytes, base58: about 82 chars.
        assert!(a.oid.starts_with('z') && a.oid.len() > 75, "{}", a.oid);
    }

    #[test]
    fn opens_an_oid_the_reference_sealed() {
        // Made by libp2p's `AES_GCM.create().encrypt("ko42".padStart(16), key)`, key = 32 × 7.
        let oid =
            "zBfjuR3gNYVr2mCriNUkCTjFHTH3URh8vC2vsqE5Pq7QSPt2HZXMinnynAJ7PS2HdRR6KwVGvAvr3mK33KR";
        assert_eq!(Sealer::new([7; 32]).open(oid).unwrap().kref, "ko42");
    }

    #[test]
    fn other_keys_and_altered_oids_are_bad_references() {
        let sealer = Sealer::new([7; 32]);
        let sealed = sealer.seal("ko4").unwrap();
        assert_eq!(
            Sealer::new([8; 32]).open(&sealed.oid),
            Err(UrlError::BadReference)
        );
        let mut raw = bs58::decode(&sealed.oid[1..]).into_vec().unwrap();
        for i in [0, SALT, SALT + NONCE, raw.len() - 1] {
            raw[i] ^= 1;
            let altered = format!("z{}", bs58::encode(&raw).into_string());
            assert_eq!(
                sealer.open(&altered),
                Err(UrlError::BadReference),
                "byte {i}"
            );
            raw[i] ^= 1;
        }
        for junk in ["ABC", "z", "z0OIl", "zzz"] {
            assert_eq!(sealer.open(junk), Err(UrlError::BadReference), "{junk}");
        }
    }
}
