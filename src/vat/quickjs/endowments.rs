//! Which of spec §3.2's `globals` the built-in runtime provides (`vat-runtime/src/endowments.js`
//! makes them), so that a launch asking for another is refused before any vat starts.
//!
//! `crypto.subtle` and `SubtleCrypto` cover a subset of Web Crypto (digests, HMAC, AES-GCM,
//! Ed25519, PBKDF2, HKDF; `vat-runtime/src/subtle.js` lists it).
//!
//! Not provided: the network (`fetch`, `Request`, `Headers`, `Response`) and timers (so no
//! `AbortSignal.timeout` either). A timer callback
//! would run outside any delivery: liveslots has no delivery type for it, and flushes its
//! vatstore cache and does its GC bookkeeping only at the end of a dispatch, so the callback's
//! effects could be neither committed nor rolled back as a crank of their own. Timers belong in
//! a kernel timer service that wakes vats with ordinary messages, as SwingSet's timer device does.

use serde_json::Value;

/// The globals a vat in the built-in runtime may ask for.
pub const PROVIDED: [&str; 12] = [
    "AbortController",
    "AbortSignal",
    "Date",
    "Math",
    "TextEncoder",
    "TextDecoder",
    "URL",
    "URLSearchParams",
    "atob",
    "btoa",
    "crypto",
    "SubtleCrypto",
];

/// Refuses a config whose `globals` name one the runtime does not provide.
pub fn check(config: &Value) -> Result<(), String> {
    let requested = config.get("globals").and_then(Value::as_array);
    for name in requested.into_iter().flatten().filter_map(Value::as_str) {
        if !PROVIDED.contains(&name) {
            return Err(format!(
                "endowment \"{name}\" is not available in ocapd (its vats may ask for {})",
                PROVIDED.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_provided_globals_pass() {
        assert_eq!(
            check(&json!({"globals": ["Date", "crypto", "TextEncoder"]})),
            Ok(())
        );
        assert_eq!(check(&json!({})), Ok(()));
        let error = check(&json!({"globals": ["Math", "setTimeout"]})).unwrap_err();
        assert!(
            error.starts_with("endowment \"setTimeout\" is not available in ocapd"),
            "{error}"
        );
    }
}
