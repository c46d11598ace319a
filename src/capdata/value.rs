//! The decoded form of a smallcaps value.

use std::collections::BTreeMap;

/// A decoded smallcaps value (the passable subset the kernel sees, §8.2).
///
/// `Record` is a `BTreeMap`, which orders keys by UTF-8 bytes. JavaScript
/// sorts record keys by UTF-16 code units; the two orders differ only when
/// comparing characters above U+FFFF with U+E000–U+FFFF. The encoder
/// re-sorts keys the JavaScript way, so the map order never leaks into bodies.
#[derive(Clone, Debug, PartialEq)]
pub enum Passable {
    /// JavaScript `undefined` (`"#undefined"`).
    Undefined,
    /// JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A JavaScript number, including NaN and ±Infinity (`-0` encodes as `0`).
    Number(f64),
    /// A bigint as canonical decimal digits with an optional leading `-`.
    BigInt(String),
    /// A string (escaped with `!` on the wire when it starts specially).
    String(String),
    /// A passable symbol by name (`"@@asyncIterator"` is the well-known one).
    Symbol(String),
    /// A copyArray.
    Array(Vec<Passable>),
    /// A copyRecord.
    Record(BTreeMap<String, Passable>),
    /// A tagged value such as a copySet or a pattern.
    Tagged {
        /// The tag, e.g. `copySet`.
        tag: String,
        /// The tagged payload.
        payload: Box<Passable>,
    },
    /// An error; `error_id` is present only when error tagging is on.
    Error {
        /// Constructor name, e.g. `Error` or `TypeError`.
        name: String,
        /// The error message.
        message: String,
        /// Liveslots' `errorId`, absent for kernel-made errors.
        error_id: Option<String>,
    },
    /// A remotable (presence or exo) at a slot.
    Remotable {
        /// The kref or vref.
        slot: String,
        /// Interface name, normally `Alleged: <name>`.
        iface: Option<String>,
    },
    /// A promise at a slot.
    Promise {
        /// The kpid or vpid.
        slot: String,
    },
}

impl From<&serde_json::Value> for Passable {
    /// Maps plain JSON onto passables: objects become records.
    fn from(value: &serde_json::Value) -> Self {
        use serde_json::Value;
        match value {
            Value::Null => Passable::Null,
            Value::Bool(b) => Passable::Bool(*b),
            // Without `arbitrary_precision` every JSON number has an f64 form;
            // NaN is an unreachable fallback. `as f64` rounds like JS parsing.
            Value::Number(n) => Passable::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Passable::String(s.clone()),
            Value::Array(items) => Passable::Array(items.iter().map(Passable::from).collect()),
            Value::Object(map) => Passable::Record(
                map.iter()
                    .map(|(k, v)| (k.clone(), Passable::from(v)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_maps_to_passable() {
        let value = json!({"a": [1, "x", null, true], "b": {}});
        let expected = Passable::Record(BTreeMap::from([
            (
                "a".to_string(),
                Passable::Array(vec![
                    Passable::Number(1.0),
                    Passable::String("x".into()),
                    Passable::Null,
                    Passable::Bool(true),
                ]),
            ),
            ("b".to_string(), Passable::Record(BTreeMap::new())),
        ]));
        assert_eq!(Passable::from(&value), expected);
    }

    #[test]
    fn large_integers_round_like_js() {
        let value = json!(u64::MAX);
        assert_eq!(
            Passable::from(&value),
            Passable::Number(18446744073709551616.0)
        );
    }
}
