//! Which of spec §3.2's `globals` the built-in runtime provides (`vat-runtime/src/endowments.js`
//! makes them), so that a launch asking for another is refused before any vat starts.
//!
//! Timers (`setTimeout`, `setInterval`, their clears) are `vat-runtime/src/timers.js`: a due
//! timer wakes its vat for a crank of its own (`vat::Wakeups`), which ends like a delivery.
//! `Headers`, `Request` and `Response` are `vat-runtime/src/http.js`; `fetch` is
//! `vat-runtime/src/fetch.js` over the host's `vat::http`, its responses arriving as timers do.
//!
//! Not provided: `SubtleCrypto`.

use serde_json::Value;

/// The globals a vat in the built-in runtime may ask for.
pub const PROVIDED: [&str; 19] = [
    "AbortController",
    "AbortSignal",
    "Date",
    "Headers",
    "Math",
    "Request",
    "Response",
    "TextEncoder",
    "TextDecoder",
    "URL",
    "URLSearchParams",
    "atob",
    "btoa",
    "crypto",
    "fetch",
    "setTimeout",
    "clearTimeout",
    "setInterval",
    "clearInterval",
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
        let error = check(&json!({"globals": ["Math", "SubtleCrypto"]})).unwrap_err();
        assert!(
            error.starts_with("endowment \"SubtleCrypto\" is not available in ocapd"),
            "{error}"
        );
    }
}
