//! Smallcaps CapData: encode, decode and prettify (spec §8).
//!
//! A [`CapData`] is `{"body": string, "slots": [ref, …]}` (§8.1). The body is
//! *smallcaps*: `#` followed by a JSON text in which strings with a special
//! first character (`!` … `-`) carry meaning (§8.2): `$i`/`&i` point into
//! `slots`, `+10`/`-7` are bigints, `#undefined` etc. are constants, `%name`
//! is a symbol, and plain strings that start with a special character are
//! escaped with `!`. This is byte-compatible with Endo's `encodeToSmallcaps`
//! as used by MetaMask's ocap-kernel (kernel: error tagging off; liveslots:
//! slot dedupe), including JavaScript's number printing and object key order.
//!
//! * [`encode`] / [`encode_json`] build bodies (§8.2, `kser`).
//! * [`decode`] reverses them into a [`Passable`] and never panics (§8.2).
//! * [`error_message`] and [`kernel_error`] cover kernel errors (§2.4, §8.3).
//! * [`prettify`] is the CLI display transform `prettifySmallcaps` (§8.4);
//!   [`stringify_js`] prints its result like `JSON.stringify`.
//!
//! The kernel never rewrites bodies; translating between kernel and vat space
//! only maps `slots` element-wise (§8.1), so nothing here knows about krefs.

mod decode;
mod encode;
mod js_number;
mod js_object;
mod json_parse;
mod json_write;
mod kernel_error;
mod methargs;
mod prettify;
mod value;

#[cfg(test)]
pub(crate) mod proptests;

use serde::{Deserialize, Serialize};

pub use decode::{DecodeError, MAX_DEPTH, decode};
pub use encode::{encode, encode_json};
pub use js_number::js_number_to_string;
pub use js_object::{js_entries, js_property_order};
pub use json_write::{js_string, stringify_js};
pub use kernel_error::{error_message, kernel_error};
pub use methargs::decode_methargs;
pub use prettify::{PrettifyError, prettify};
pub use value::Passable;

/// A smallcaps body plus the slot references (krefs or vrefs) it points into.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapData {
    /// `#` followed by a JSON text (§8.1).
    pub body: String,
    /// Slot references indexed by `$i` / `&i` in the body.
    pub slots: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capdata_serde_field_names() {
        let data = CapData {
            body: "#null".into(),
            slots: vec!["ko1".into()],
        };
        let text = serde_json::to_string(&data).unwrap();
        assert_eq!(text, r##"{"body":"#null","slots":["ko1"]}"##);
        assert_eq!(serde_json::from_str::<CapData>(&text).unwrap(), data);
    }
}
