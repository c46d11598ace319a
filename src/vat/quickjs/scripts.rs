//! The JavaScript built from `vat-runtime/` by `build.rs`, embedded in the binary.

/// A `console` that hands lines to the host; evaluated first.
pub const PRELUDE: &str = include_str!(concat!(env!("OUT_DIR"), "/prelude.js"));
/// SES (`ses` from the lockfile) with the eventual-send shim, then `lockdown` as kernel-shims'
/// `endoify` calls it.
pub const ENDOIFY: &str = include_str!(concat!(env!("OUT_DIR"), "/endoify.js"));
/// `@agoric/swingset-liveslots`, exposing `makeLiveSlots` to the supervisor.
pub const LIVESLOTS: &str = include_str!(concat!(env!("OUT_DIR"), "/liveslots.js"));
/// Our supervisor (`vat-runtime/src/supervisor.js`).
pub const SUPERVISOR: &str = include_str!(concat!(env!("OUT_DIR"), "/supervisor.js"));

/// `URL` and `URLSearchParams` (whatwg-url), for the vats that ask for them.
pub const URL: &str = include_str!(concat!(env!("OUT_DIR"), "/url.js"));

/// Every script with a name for error messages: the first [`EVERY_VAT`] run in every vat, in
/// this order; the one at [`URL_SCRIPT`] when a vat's endowments need it.
pub const ALL: [(&str, &str); 5] = [
    ("prelude", PRELUDE),
    ("endoify", ENDOIFY),
    ("liveslots", LIVESLOTS),
    ("supervisor", SUPERVISOR),
    ("url", URL),
];

/// How many of [`ALL`] every vat runs.
pub const EVERY_VAT: usize = 4;

/// The index of [`URL`] in [`ALL`].
pub const URL_SCRIPT: usize = 4;
