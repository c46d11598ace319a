//! The primitives under the vats' `crypto.subtle` (`vat-runtime/src/subtle.js`), from RustCrypto:
//! digests, HMAC, AES-GCM, Ed25519, PBKDF2 and HKDF over bytes. The JavaScript side checks
//! algorithms, usages and lengths and names the errors; these functions only compute, and answer
//! `null`/`false` where Web Crypto's answer depends on the data (a tag or signature that fails).

use crate::vat::budget::{Budget, Charge};
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Nonce, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use rquickjs::{ArrayBuffer, Ctx, FromJs, Function, IntoJs, Object, Value};
use sha2::Digest;
use std::sync::Arc;

/// PBKDF2 runs its HMACs inside one host call, where the vat's CPU budget cannot interrupt it,
/// so a call may ask for at most this many (iterations × output blocks).
const PBKDF2_MAX_HMACS: u64 = 1_000_000;

/// An `ArrayBuffer` argument, read in place: the computations here run no JavaScript, so
/// nothing can detach or change it meanwhile, and no copy outside the vat's heap is made.
struct Input<'js>(ArrayBuffer<'js>);

impl<'js> FromJs<'js> for Input<'js> {
    fn from_js(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<Self> {
        ArrayBuffer::from_js(ctx, value).map(Input)
    }
}

impl Input<'_> {
    /// The buffer's bytes.
    fn bytes(&self) -> rquickjs::Result<&[u8]> {
        // SAFETY: see the type's comment: no JavaScript runs while the slice is used.
        unsafe { self.0.as_bytes() }
            .ok_or_else(|| rquickjs::Error::new_from_js_message("ArrayBuffer", "bytes", "detached"))
    }
}

/// A result handed back as a new `ArrayBuffer` in the vat's heap (so counted against its
/// memory); a result of a size the vat chose was made under a charge on its budget, held
/// until the copy is made.
struct Bytes {
    bytes: Vec<u8>,
    _held: Option<Charge>,
}

impl<'js> IntoJs<'js> for Bytes {
    fn into_js(self, ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
        ArrayBuffer::new_copy(ctx.clone(), &self.bytes)?.into_js(ctx)
    }
}

/// A small result of a fixed size.
fn small(bytes: Vec<u8>) -> Bytes {
    Bytes { bytes, _held: None }
}

/// A result made under `charge`.
fn charged(bytes: Vec<u8>, charge: Charge) -> Bytes {
    Bytes {
        bytes,
        _held: Some(charge),
    }
}

/// Reserves `bytes` of the vat's budget for a result about to be made, or refuses with a
/// `RangeError` the vat can catch.
fn reserve(ctx: &Ctx<'_>, budget: &Arc<Budget>, bytes: usize) -> rquickjs::Result<Charge> {
    budget.charge(bytes).ok_or_else(|| {
        rquickjs::Exception::throw_range(
            ctx,
            &format!("the vat's memory budget has no room for a {bytes}-byte result"),
        )
    })
}

/// Why a host function refused its arguments (the JavaScript side checks them first).
fn refused(message: String) -> rquickjs::Error {
    rquickjs::Error::new_from_js_message("arguments", "subtle", message)
}

/// Runs `$body` with `$h` the RustCrypto type of Web Crypto hash `$name`.
macro_rules! by_hash {
    ($name:expr, $h:ident => $body:expr) => {
        match $name {
            "SHA-1" => {
                type $h = sha1::Sha1;
                Ok($body)
            }
            "SHA-256" => {
                type $h = sha2::Sha256;
                Ok($body)
            }
            "SHA-384" => {
                type $h = sha2::Sha384;
                Ok($body)
            }
            "SHA-512" => {
                type $h = sha2::Sha512;
                Ok($body)
            }
            other => Err(refused(format!("no hash {other}"))),
        }
    };
}

fn digest(hash: &str, data: &[u8]) -> rquickjs::Result<Vec<u8>> {
    by_hash!(hash, H => H::digest(data).to_vec())
}

fn hmac_sign(hash: &str, key: &[u8], data: &[u8]) -> rquickjs::Result<Vec<u8>> {
    by_hash!(hash, H => {
        let mut mac = <Hmac<H> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    })
}

/// Compares in constant time, as a MAC check should.
fn hmac_verify(hash: &str, key: &[u8], data: &[u8], tag: &[u8]) -> rquickjs::Result<bool> {
    by_hash!(hash, H => {
        let mut mac = <Hmac<H> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(data);
        mac.verify_slice(tag).is_ok()
    })
}

/// AES-GCM with a 96-bit IV and a 128-bit tag (appended to the ciphertext); `None` when the
/// tag does not authenticate.
fn aes_gcm(encrypt: bool, key: &[u8], iv: &[u8], aad: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let payload = Payload { msg: data, aad };
    match key.len() {
        16 => crypt::<Aes128Gcm>(encrypt, key, iv, payload),
        24 => crypt::<AesGcm<aes_gcm::aes::Aes192, U12>>(encrypt, key, iv, payload),
        32 => crypt::<Aes256Gcm>(encrypt, key, iv, payload),
        _ => None,
    }
}

fn crypt<C: Aead + KeyInit>(
    encrypt: bool,
    key: &[u8],
    iv: &[u8],
    payload: Payload,
) -> Option<Vec<u8>> {
    let cipher = C::new_from_slice(key).ok()?;
    let nonce = Nonce::<C>::try_from(iv).ok()?;
    match encrypt {
        true => cipher.encrypt(&nonce, payload),
        false => cipher.decrypt(&nonce, payload),
    }
    .ok()
}

fn seed(bytes: &[u8]) -> rquickjs::Result<SigningKey> {
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| refused("an Ed25519 private key is 32 bytes".into()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// RFC 8032 verification, refusing small-order keys and `R` points as the Web Crypto spec asks.
fn ed25519_verify(public: &[u8], signature: &[u8], data: &[u8]) -> bool {
    let (Ok(public), Ok(signature)) = (
        <[u8; 32]>::try_from(public),
        Signature::from_slice(signature),
    ) else {
        return false;
    };
    VerifyingKey::from_bytes(&public).is_ok_and(|key| key.verify_strict(data, &signature).is_ok())
}

fn pbkdf2(
    hash: &str,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    out: usize,
) -> rquickjs::Result<Vec<u8>> {
    let block = digest(hash, &[])?.len();
    let hmacs = u64::from(iterations) * out.div_ceil(block) as u64;
    if iterations == 0 || hmacs > PBKDF2_MAX_HMACS {
        return Err(refused(format!("PBKDF2 would run {hmacs} HMACs")));
    }
    let mut bytes = vec![0u8; out];
    by_hash!(hash, H => pbkdf2::pbkdf2_hmac::<H>(password, salt, iterations, &mut bytes))?;
    Ok(bytes)
}

/// HKDF (RFC 5869); `None` past its limit of 255 hash lengths.
fn hkdf(
    hash: &str,
    ikm: &[u8],
    salt: &[u8],
    info: &[u8],
    out: usize,
) -> rquickjs::Result<Option<Vec<u8>>> {
    if out > 255 * digest(hash, &[])?.len() {
        return Ok(None);
    }
    let mut bytes = vec![0u8; out];
    by_hash!(hash, H => hkdf::Hkdf::<H>::new(Some(salt), ikm).expand(info, &mut bytes))?
        .map_err(|e| refused(e.to_string()))?;
    Ok(Some(bytes))
}

/// Adds the `subtle*` host functions to `ocapHost`; results of a size the vat chooses are
/// reserved against `budget` before they are made.
pub fn install<'js>(
    ctx: &Ctx<'js>,
    object: &Object<'js>,
    budget: &Arc<Budget>,
) -> rquickjs::Result<()> {
    let f = |name: &str, function| object.set(name, function);
    f(
        "subtleDigest",
        Function::new(ctx.clone(), |h: String, data: Input| {
            digest(&h, data.bytes()?).map(small)
        })?,
    )?;
    f(
        "subtleHmacSign",
        Function::new(ctx.clone(), |h: String, key: Input, data: Input| {
            hmac_sign(&h, key.bytes()?, data.bytes()?).map(small)
        })?,
    )?;
    f(
        "subtleHmacVerify",
        Function::new(
            ctx.clone(),
            |h: String, key: Input, data: Input, tag: Input| {
                hmac_verify(&h, key.bytes()?, data.bytes()?, tag.bytes()?)
            },
        )?,
    )?;
    let b = Arc::clone(budget);
    f(
        "subtleAesGcm",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, encrypt: bool, key: Input, iv: Input, aad: Input, data: Input| {
                let data = data.bytes()?;
                let charge = reserve(&ctx, &b, data.len() + 16)?;
                let out = aes_gcm(encrypt, key.bytes()?, iv.bytes()?, aad.bytes()?, data);
                rquickjs::Result::Ok(out.map(|out| charged(out, charge)))
            },
        )?,
    )?;
    f(
        "subtleEd25519Public",
        Function::new(ctx.clone(), |private: Input| {
            let key = seed(private.bytes()?)?;
            rquickjs::Result::Ok(small(key.verifying_key().to_bytes().to_vec()))
        })?,
    )?;
    f(
        "subtleEd25519Sign",
        Function::new(ctx.clone(), |private: Input, data: Input| {
            let key = seed(private.bytes()?)?;
            rquickjs::Result::Ok(small(key.sign(data.bytes()?).to_bytes().to_vec()))
        })?,
    )?;
    f(
        "subtleEd25519Verify",
        Function::new(
            ctx.clone(),
            |public: Input, signature: Input, data: Input| {
                rquickjs::Result::Ok(ed25519_verify(
                    public.bytes()?,
                    signature.bytes()?,
                    data.bytes()?,
                ))
            },
        )?,
    )?;
    let b = Arc::clone(budget);
    f(
        "subtlePbkdf2",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  h: String,
                  password: Input,
                  salt: Input,
                  iterations: u32,
                  out: usize| {
                let charge = reserve(&ctx, &b, out)?;
                pbkdf2(&h, password.bytes()?, salt.bytes()?, iterations, out)
                    .map(|bytes| charged(bytes, charge))
            },
        )?,
    )?;
    f(
        "subtleHkdf",
        Function::new(
            ctx.clone(),
            |h: String, ikm: Input, salt: Input, info: Input, out: usize| {
                hkdf(&h, ikm.bytes()?, salt.bytes()?, info.bytes()?, out)
                    .map(|bytes| bytes.map(small))
            },
        )?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn digests_and_macs_match_their_standard_vectors() {
        // FIPS 180-2 "abc"; RFC 4231 test case 2.
        assert_eq!(
            digest("SHA-1", b"abc").unwrap(),
            hex("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        let tag = hmac_sign("SHA-256", b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(
            tag,
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        assert!(hmac_verify("SHA-256", b"Jefe", b"what do ya want for nothing?", &tag).unwrap());
        assert!(!hmac_verify("SHA-256", b"Jefe", b"what do ya want for something?", &tag).unwrap());
        assert!(digest("MD5", b"abc").is_err());
    }

    #[test]
    fn aes_gcm_refuses_a_tampered_tag_and_the_kdfs_their_limits() {
        let (key, iv) = ([7u8; 32], [1u8; 12]);
        let mut sealed = aes_gcm(true, &key, &iv, b"aad", b"secret").unwrap();
        assert_eq!(sealed.len(), 6 + 16);
        assert_eq!(
            aes_gcm(false, &key, &iv, b"aad", &sealed).unwrap(),
            b"secret"
        );
        assert_eq!(aes_gcm(false, &key, &iv, b"other", &sealed), None);
        sealed[0] ^= 1;
        assert_eq!(aes_gcm(false, &key, &iv, b"aad", &sealed), None);
        assert_eq!(aes_gcm(true, &key[..20], &iv, b"", b""), None);
        // RFC 6070 case 2; then a derivation past the per-call limit.
        let derived = pbkdf2("SHA-1", b"password", b"salt", 2, 20).unwrap();
        assert_eq!(derived, hex("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"));
        assert!(pbkdf2("SHA-256", b"p", b"s", 600_000, 64).is_err());
        assert!(pbkdf2("SHA-256", b"p", b"s", 0, 32).is_err());
        assert_eq!(hkdf("SHA-256", b"k", b"", b"", 255 * 32 + 1).unwrap(), None);
    }
}
