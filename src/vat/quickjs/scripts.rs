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

/// Every script, in evaluation order, with a name for error messages.
pub const ALL: [(&str, &str); 4] = [
    ("prelude", PRELUDE),
    ("endoify", ENDOIFY),
    ("liveslots", LIVESLOTS),
    ("supervisor", SUPERVISOR),
];
