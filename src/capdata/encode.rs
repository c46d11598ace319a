//! Smallcaps encoding (spec §8.2, Endo `encodeToSmallcaps`).

use std::collections::{BTreeMap, HashMap};

use super::CapData;
use super::js_object::js_property_order;
use super::json_write::{write_number, write_str};
use super::value::Passable;

/// Encodes a passable into smallcaps CapData.
///
/// Slots are deduplicated by slot string like liveslots does: the first
/// occurrence prints `$i.iface`, repeats print `$i`. Indices follow a
/// depth-first walk with record keys sorted by UTF-16 code units.
/// Bigints must be canonical (see [`Passable::BigInt`]); encoding cannot
/// fail, so nesting depth is not checked here (decoders limit it).
pub fn encode(value: &Passable) -> CapData {
    let mut encoder = Encoder::default();
    let mut body = String::from("#");
    encoder.value(value, &mut body);
    CapData {
        body,
        slots: encoder.slots,
    }
}

/// Encodes plain JSON the way the kernel's `kser` does for `queueMessage`
/// (§2.3): objects become records, strings are escaped, numbers print as in
/// JavaScript.
pub fn encode_json(value: &serde_json::Value) -> CapData {
    encode(&Passable::from(value))
}

/// True when a string's first character is in the special range `!`…`-`.
pub(super) fn starts_special(s: &str) -> bool {
    matches!(s.as_bytes().first(), Some(b'!'..=b'-'))
}

/// The wire form of a plain string: `!`-prefixed when it starts specially.
fn escape(s: &str) -> String {
    if starts_special(s) {
        format!("!{s}")
    } else {
        s.to_string()
    }
}

#[derive(Default)]
struct Encoder {
    slots: Vec<String>,
    index: HashMap<String, usize>,
}

impl Encoder {
    fn value(&mut self, value: &Passable, out: &mut String) {
        match value {
            Passable::Undefined => write_str(out, "#undefined"),
            Passable::Null => out.push_str("null"),
            Passable::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Passable::Number(x) => number(*x, out),
            Passable::BigInt(digits) => bigint(digits, out),
            Passable::String(s) => write_str(out, &escape(s)),
            Passable::Symbol(name) => write_str(out, &format!("%{name}")),
            Passable::Array(items) => self.array(items, out),
            Passable::Record(map) => self.record(map, out),
            Passable::Tagged { tag, payload } => self.tagged(tag, payload, out),
            Passable::Error {
                name,
                message,
                error_id,
            } => error(name, message, error_id.as_deref(), out),
            Passable::Remotable { slot, iface } => self.slot_ref('$', slot, iface.as_deref(), out),
            Passable::Promise { slot } => self.slot_ref('&', slot, None, out),
        }
    }

    fn array(&mut self, items: &[Passable], out: &mut String) {
        out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.value(item, out);
        }
        out.push(']');
    }

    /// Values are encoded in UTF-16 key order (which fixes slot numbering),
    /// then printed in JavaScript property order, as `JSON.stringify` does
    /// with the object Endo builds.
    fn record(&mut self, map: &BTreeMap<String, Passable>, out: &mut String) {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
        let mut entries = Vec::with_capacity(keys.len());
        for key in keys {
            let mut fragment = String::new();
            if let Some(value) = map.get(key) {
                self.value(value, &mut fragment);
            }
            entries.push((escape(key), fragment));
        }
        out.push('{');
        for (i, (key, fragment)) in js_property_order(entries).into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(out, &key);
            out.push(':');
            out.push_str(&fragment);
        }
        out.push('}');
    }

    fn tagged(&mut self, tag: &str, payload: &Passable, out: &mut String) {
        out.push_str("{\"#tag\":");
        write_str(out, &escape(tag));
        out.push_str(",\"payload\":");
        self.value(payload, out);
        out.push('}');
    }

    fn slot_ref(&mut self, prefix: char, slot: &str, iface: Option<&str>, out: &mut String) {
        let (index, first) = match self.index.get(slot) {
            Some(&i) => (i, false),
            None => {
                let i = self.slots.len();
                self.slots.push(slot.to_string());
                self.index.insert(slot.to_string(), i);
                (i, true)
            }
        };
        // The interface is only announced the first time a slot appears.
        let text = match iface {
            Some(iface) if first => format!("{prefix}{index}.{iface}"),
            _ => format!("{prefix}{index}"),
        };
        write_str(out, &text);
    }
}

fn number(x: f64, out: &mut String) {
    if x.is_nan() {
        write_str(out, "#NaN");
    } else if x == f64::INFINITY {
        write_str(out, "#Infinity");
    } else if x == f64::NEG_INFINITY {
        write_str(out, "#-Infinity");
    } else {
        write_number(out, x);
    }
}

fn bigint(digits: &str, out: &mut String) {
    if digits.starts_with('-') {
        write_str(out, digits);
    } else {
        write_str(out, &format!("+{digits}"));
    }
}

/// Key order is `#error`, `errorId`, `name`: Endo spreads `{errorId, name}`
/// after `#error`. Name and id are escaped like any other string.
fn error(name: &str, message: &str, error_id: Option<&str>, out: &mut String) {
    out.push_str("{\"#error\":");
    write_str(out, &escape(message));
    if let Some(id) = error_id {
        out.push_str(",\"errorId\":");
        write_str(out, &escape(id));
    }
    out.push_str(",\"name\":");
    write_str(out, &escape(name));
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: &Passable) -> String {
        encode(value).body
    }

    fn s(text: &str) -> Passable {
        Passable::String(text.into())
    }

    fn record(entries: Vec<(&str, Passable)>) -> Passable {
        Passable::Record(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    fn err(name: &str, message: &str) -> Passable {
        Passable::Error {
            name: name.into(),
            message: message.into(),
            error_id: None,
        }
    }

    /// The verified table of spec §8.2.
    #[test]
    fn spec_examples() {
        let n = Passable::Number;
        let cases: Vec<(Passable, &str)> = vec![
            (s("hello"), r#"#"hello""#),
            (s("$not a slot"), r#"#"!$not a slot""#),
            (Passable::Undefined, r##"#"#undefined""##),
            (Passable::Null, "#null"),
            (
                Passable::Array(vec![n(1.0), Passable::Undefined, s("x")]),
                r##"#[1,"#undefined","x"]"##,
            ),
            (
                record(vec![("b", n(1.0)), ("a", n(2.0)), ("#x", n(3.0))]),
                r##"#{"!#x":3,"a":2,"b":1}"##,
            ),
            (Passable::BigInt("10".into()), r##"#"+10""##),
            (Passable::BigInt("-7".into()), r##"#"-7""##),
            (
                err("Error", "boom"),
                r##"#{"#error":"boom","name":"Error"}"##,
            ),
            (
                err("TypeError", "bad type"),
                r##"#{"#error":"bad type","name":"TypeError"}"##,
            ),
            (
                record(vec![("e", err("Error", "inner"))]),
                r##"#{"e":{"#error":"inner","name":"Error"}}"##,
            ),
            (
                Passable::Tagged {
                    tag: "copySet".into(),
                    payload: Box::new(Passable::Array(vec![s("a"), s("b")])),
                },
                r##"#{"#tag":"copySet","payload":["a","b"]}"##,
            ),
            (
                Passable::Array(vec![s("resume"), Passable::Array(vec![])]),
                r##"#["resume",[]]"##,
            ),
            (
                record(vec![("name", s("alice")), ("n", n(3.0))]),
                r##"#{"n":3,"name":"alice"}"##,
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(
                encode(&value),
                CapData {
                    body: expected.into(),
                    slots: vec![]
                }
            );
        }
    }

    #[test]
    fn promise_uses_slot() {
        let data = encode(&Passable::Promise {
            slot: "kp12".into(),
        });
        assert_eq!(data.body, r##"#"&0""##);
        assert_eq!(data.slots, ["kp12"]);
    }

    #[test]
    fn escapes_special_strings_and_keys() {
        assert_eq!(body(&s("!x")), r#"#"!!x""#);
        assert_eq!(body(&s("-3")), r#"#"!-3""#);
        assert_eq!(body(&s("#undefined")), r##"#"!#undefined""##);
        assert_eq!(body(&s(".x")), r#"#".x""#);
        assert_eq!(body(&s("")), r#"#"""#);
        assert_eq!(
            body(&record(vec![("#x", n1()), ("+", n1())])),
            r##"#{"!#x":1,"!+":1}"##
        );
    }

    fn n1() -> Passable {
        Passable::Number(1.0)
    }

    #[test]
    fn special_numbers_and_symbols() {
        assert_eq!(body(&Passable::Number(-0.0)), "#0");
        assert_eq!(body(&Passable::Number(f64::NAN)), r##"#"#NaN""##);
        assert_eq!(body(&Passable::Number(f64::INFINITY)), r##"#"#Infinity""##);
        assert_eq!(
            body(&Passable::Number(f64::NEG_INFINITY)),
            r##"#"#-Infinity""##
        );
        assert_eq!(body(&Passable::Number(1e21)), "#1e+21");
        assert_eq!(body(&Passable::BigInt("0".into())), r##"#"+0""##);
        let symbol = Passable::Symbol("@@asyncIterator".into());
        assert_eq!(body(&symbol), r#"#"%@@asyncIterator""#);
    }

    #[test]
    fn dedupes_slots_like_liveslots() {
        let foo = Passable::Remotable {
            slot: "ko7".into(),
            iface: Some("Alleged: Foo".into()),
        };
        let data = encode(&Passable::Array(vec![foo.clone(), foo]));
        assert_eq!(data.body, r#"#["$0.Alleged: Foo","$0"]"#);
        assert_eq!(data.slots, ["ko7"]);
        let bare = Passable::Remotable {
            slot: "o-1".into(),
            iface: None,
        };
        assert_eq!(encode(&bare).body, r#"#"$0""#);
    }

    /// Slot numbers follow the sorted key walk even though `"9"` prints first.
    #[test]
    fn index_keys_print_first_but_number_slots_in_sorted_order() {
        let obj = |slot: &str| Passable::Remotable {
            slot: slot.into(),
            iface: None,
        };
        let value = record(vec![("9", obj("ko9")), ("10", obj("ko10")), ("a", n1())]);
        let data = encode(&value);
        assert_eq!(data.body, r#"#{"9":"$1","10":"$0","a":1}"#);
        assert_eq!(data.slots, ["ko10", "ko9"]);
    }

    /// U+FFFD sorts after U+10000 in UTF-8 byte order but before it in UTF-16.
    #[test]
    fn record_keys_sort_by_utf16() {
        let value = record(vec![("\u{10000}", n1()), ("\u{fffd}", n1())]);
        assert_eq!(body(&value), "#{\"\u{10000}\":1,\"\u{fffd}\":1}");
    }

    #[test]
    fn error_with_id_orders_keys() {
        let value = Passable::Error {
            name: "Error".into(),
            message: "boom".into(),
            error_id: Some("error:liveSlots:v1#70001".into()),
        };
        assert_eq!(
            body(&value),
            r##"#{"#error":"boom","errorId":"error:liveSlots:v1#70001","name":"Error"}"##
        );
    }

    #[test]
    fn encode_json_matches_kser() {
        let methargs = json!(["bootstrap", [{"b": 1.0, "a": "$x", "#k": -0.0, "10": 1e21}]]);
        assert_eq!(
            encode_json(&methargs).body,
            r##"#["bootstrap",[{"10":1e+21,"!#k":0,"a":"!$x","b":1}]]"##
        );
        assert_eq!(
            encode_json(&json!(9007199254740993u64)).body,
            "#9007199254740992"
        );
    }
}
