//! Property tests: round trips, canonical output, and no panics on junk.
//!
//! `PROPTEST_CASES` raises the number of cases of every property test in the crate (the
//! defaults keep CI short).

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use serde_json::Value;

use super::*;

/// `PROPTEST_CASES` if set, else `default`: the crate's property tests run briefly in CI and as
/// long as asked otherwise.
pub(crate) fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Structural equality that treats NaN as equal to NaN.
fn same(a: &Passable, b: &Passable) -> bool {
    use Passable as P;
    match (a, b) {
        (P::Number(x), P::Number(y)) => x == y || (x.is_nan() && y.is_nan()),
        (P::Array(xs), P::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y))
        }
        (P::Record(xs), P::Record(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .zip(ys)
                    .all(|((kx, x), (ky, y))| kx == ky && same(x, y))
        }
        (
            P::Tagged { tag, payload },
            P::Tagged {
                tag: tag2,
                payload: payload2,
            },
        ) => tag == tag2 && same(payload, payload2),
        _ => a == b,
    }
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        -1e6..1e6f64,
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(1e21),
        Just(5e-324),
    ]
}

/// Strings biased towards special prefixes, dots and index-like keys.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[!-\\-]{0,2}[a-z0-9.@#$%&+\\-]{0,6}",
        "[0-9]{1,3}",
        "[\u{e000}-\u{ffff}\u{10000}-\u{10010}]{1,3}",
    ]
}

fn symbol_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "([a-z.][a-z@.]{0,5})?",
        Just("@@asyncIterator".to_string()),
        "@@@[a-z]{0,4}",
    ]
}

/// Interfaces are a function of the slot: one slot is one object (§8.2).
fn remotable(i: usize) -> Passable {
    let iface = match i {
        0 => Some("Alleged: Foo".to_string()),
        1 => None,
        2 => Some("Alleged: a.b $%".to_string()),
        _ => Some(String::new()),
    };
    Passable::Remotable {
        slot: format!("ko{i}"),
        iface,
    }
}

fn leaf() -> impl Strategy<Value = Passable> {
    prop_oneof![
        Just(Passable::Undefined),
        Just(Passable::Null),
        any::<bool>().prop_map(Passable::Bool),
        number().prop_map(Passable::Number),
        "-?[1-9][0-9]{0,30}|0".prop_map(Passable::BigInt),
        text().prop_map(Passable::String),
        symbol_name().prop_map(Passable::Symbol),
        (0..4usize).prop_map(remotable),
        (0..3usize).prop_map(|i| Passable::Promise {
            slot: format!("kp{i}")
        }),
        (text(), text(), option::of(text())).prop_map(|(name, message, error_id)| {
            Passable::Error {
                name,
                message,
                error_id,
            }
        }),
    ]
}

fn passable() -> impl Strategy<Value = Passable> {
    leaf().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Passable::Array),
            btree_map(text(), inner.clone(), 0..6).prop_map(Passable::Record),
            (text(), inner).prop_map(|(tag, payload)| Passable::Tagged {
                tag,
                payload: Box::new(payload),
            }),
        ]
    })
}

/// Plain JSON whose numbers survive prettify unchanged: integers within
/// 2^53 and floats that are not such integers.
fn plain_json() -> impl Strategy<Value = Value> {
    let safe_int = -(1i64 << 53)..=(1i64 << 53);
    let float = any::<f64>()
        .prop_filter("finite non-small-integer", |x| {
            x.is_finite() && !(x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_992.0)
        })
        .prop_map(Value::from);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        safe_int.prop_map(Value::from),
        float,
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(text(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON shaped like smallcaps (special strings, `#tag`/`#error` records) to
/// reach deep into the decoder and prettifier.
fn smallcaps_json() -> impl Strategy<Value = String> {
    let word = "[!-\\-$&#%+]?[0-9a-z.@]{0,5}";
    let key = prop_oneof![
        Just("#tag".to_string()),
        Just("#error".to_string()),
        Just("payload".to_string()),
        Just("name".to_string()),
        Just("errorId".to_string()),
        Just("message".to_string()),
        word.prop_map(String::from),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(Value::from),
        word.prop_map(Value::String),
    ];
    let tree = leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            vec((key.clone(), inner), 0..5).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    });
    tree.prop_map(|v| v.to_string())
}

fn slots() -> impl Strategy<Value = Vec<String>> {
    vec(any::<String>(), 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(512)))]

    #[test]
    fn decode_inverts_encode(value in passable()) {
        let data = encode(&value);
        let decoded = decode(&data);
        prop_assert!(decoded.is_ok(), "{:?} -> {:?}", data, decoded);
        let decoded = decoded.unwrap_or(Passable::Null);
        prop_assert!(same(&decoded, &value), "{:?} -> {:?}", value, decoded);
    }

    #[test]
    fn encoding_is_canonical(value in passable()) {
        let data = encode(&value);
        let body = data.body.strip_prefix('#').unwrap_or_default();
        prop_assert!(serde_json::from_str::<Value>(body).is_ok());
        let again = decode(&data).map(|v| encode(&v));
        prop_assert_eq!(again, Ok(data));
    }

    #[test]
    fn encode_json_round_trips(value in plain_json()) {
        let data = encode_json(&value);
        prop_assert!(data.slots.is_empty());
        let decoded = decode(&data).unwrap_or(Passable::Symbol("failed".into()));
        prop_assert!(same(&decoded, &Passable::from(&value)));
        prop_assert_eq!(prettify(&data), Ok(value));
    }

    #[test]
    fn js_numbers_round_trip(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        let text = js_number_to_string(x);
        prop_assert_eq!(text.parse::<f64>().ok(), Some(x));
    }

    #[test]
    fn no_panic_on_arbitrary_text(text in any::<String>(), slots in slots()) {
        for body in [format!("#{text}"), text.clone()] {
            let data = CapData { body, slots: slots.clone() };
            let _ = decode(&data);
            let _ = prettify(&data);
            let _ = error_message(&data);
        }
    }

    #[test]
    fn no_panic_on_smallcaps_json(text in smallcaps_json(), slots in slots()) {
        let data = CapData { body: format!("#{text}"), slots };
        let _ = decode(&data);
        prop_assert!(prettify(&data).is_ok());
    }

    #[test]
    fn no_panic_on_mangled_encodings(value in passable(), cut in any::<prop::sample::Index>()) {
        let data = encode(&value);
        let chars: Vec<char> = data.body.chars().collect();
        let end = cut.index(chars.len() + 1);
        let body: String = chars.iter().take(end).collect();
        let _ = decode(&CapData { body: body.clone(), slots: vec![] });
        let _ = prettify(&CapData { body, slots: data.slots });
    }

    /// Whatever decodes is canonical after one round: encoding it again and decoding gives the
    /// same value (the kernel re-encodes what vats send).
    #[test]
    fn decoded_junk_re_encodes_stably(text in smallcaps_json(), slots in kref_slots()) {
        let data = CapData { body: format!("#{text}"), slots };
        if let Ok(value) = decode(&data) {
            let again = encode(&value);
            let decoded = decode(&again);
            prop_assert!(decoded.is_ok(), "{:?} -> {:?} -> {:?}", data, again, decoded);
            prop_assert!(same(&decoded.unwrap_or(Passable::Null), &value));
        }
        let _ = decode_methargs(&data);
    }

    /// Nesting far past the parser's limit is an error, not a stack overflow.
    #[test]
    fn deep_nesting_is_refused_without_overflow(depth in 1usize..20_000, open in "[\\[{]") {
        let (opening, closing) = if open == "[" { ("[", "]") } else { ("{\"a\":", "}") };
        let body = format!("#{}0{}", opening.repeat(depth), closing.repeat(depth));
        let data = CapData { body, slots: vec![] };
        let _ = decode(&data);
        let _ = prettify(&data);
        let _ = decode_methargs(&data);
    }
}

/// Slot lists like the kernel's and vats' refs, so `$N`/`&N` references resolve.
fn kref_slots() -> impl Strategy<Value = Vec<String>> {
    vec("(ko|kp|o\\+|o-|p\\+|p-)[0-9]{1,2}", 0..5)
}
