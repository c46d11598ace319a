//! `prettifySmallcaps`: the CLI's display transform (spec §8.4).
//!
//! This walks the raw JSON of the body rather than decoding it, so it never
//! rejects unusual smallcaps; it only fails on a missing `#` or bad JSON.

use serde_json::{Map, Number, Value};

use super::CapData;
use super::decode::MAX_DEPTH;
use super::js_number::js_number_to_string;
use super::js_object::{dedupe_last_wins, js_property_order};
use super::json_parse::{Json, ParseError, parse};
use super::json_write::js_string;

/// Why a body could not be prettified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrettifyError {
    /// The body does not start with `#`; holds its first 20 UTF-16 units.
    #[error("Expected body to start with '#', got: {0}")]
    NotSmallcaps(String),
    /// The text after `#` is not valid JSON.
    #[error("invalid JSON in body at byte {offset}: {reason}")]
    Json {
        /// Byte offset within the body.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// Arrays/objects are nested too deeply.
    #[error("body nests deeper than {0} levels")]
    TooDeep(usize),
}

/// Turns CapData into a human-readable JSON value exactly like the JS CLI
/// (`<kref> (iface)` for slots, `7n` for bigints, `[TypeError: boom]` for
/// errors …). Print it with [`super::stringify_js`] for byte parity.
///
/// Values JavaScript's `JSON.stringify` would omit or null out (a missing
/// tagged payload, a `__proto__` key, non-finite numbers) are omitted or
/// nulled here, so the result equals what the CLI prints.
pub fn prettify(data: &CapData) -> Result<Value, PrettifyError> {
    let Some(text) = data.body.strip_prefix('#') else {
        return Err(PrettifyError::NotSmallcaps(head_utf16(&data.body, 20)));
    };
    let json = parse(text, MAX_DEPTH).map_err(|e| match e {
        ParseError::Syntax { offset, reason } => PrettifyError::Json {
            offset: offset + 1,
            reason,
        },
        ParseError::TooDeep { limit } => PrettifyError::TooDeep(limit),
    })?;
    Ok(walk(&json, &data.slots))
}

/// `body.slice(0, n)`; a surrogate pair cut in half becomes U+FFFD since Rust
/// strings cannot hold a lone surrogate.
fn head_utf16(s: &str, n: usize) -> String {
    let units: Vec<u16> = s.encode_utf16().take(n).collect();
    String::from_utf16_lossy(&units)
}

fn walk(json: &Json, slots: &[String]) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(x) => number(*x),
        Json::String(s) => Value::String(walk_string(s, slots)),
        Json::Array(items) => Value::Array(items.iter().map(|v| walk(v, slots)).collect()),
        Json::Object(entries) => walk_object(json, entries, slots),
    }
}

/// Integers up to 2^53 become JSON integers so they print without `.0`;
/// other numbers stay floats, and non-finite ones become `null` like
/// `JSON.stringify` does.
fn number(x: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if x.fract() == 0.0 && x.abs() <= EXACT {
        // Exact: x is integral with |x| <= 2^53; -0 becomes 0 as in JS output.
        Value::Number(Number::from(x as i64))
    } else {
        Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

fn walk_string(s: &str, slots: &[String]) -> String {
    if let Some(rest) = s.strip_prefix('!') {
        return rest.to_string();
    }
    if let Some(text) = slot_reference(s, slots) {
        return text;
    }
    // The prefixes are ASCII, so byte 1 is always a char boundary.
    let tail = s.get(1..).unwrap_or_default();
    match s.as_bytes().first() {
        Some(b'+') => format!("{tail}n"),
        Some(b'-') => format!("{s}n"),
        Some(b'#') => format!("[{tail}]"),
        Some(b'%') => format!("[Symbol: {tail}]"),
        _ => s.to_string(),
    }
}

/// Matches `^(\$|&)(\d+)(?:\.(.+))?$` (JS, `u` flag): ASCII digits, and an
/// interface of at least one character with no line terminator.
fn slot_reference(s: &str, slots: &[String]) -> Option<String> {
    let rest = s.strip_prefix(['$', '&'])?;
    let (digits, iface) = match rest.split_once('.') {
        Some((digits, iface)) => (digits, Some(iface)),
        None => (rest, None),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let line_break = |c: char| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}');
    if iface.is_some_and(|i| i.is_empty() || i.contains(line_break)) {
        return None;
    }
    let kref = slot_name(digits, slots);
    Some(match iface {
        Some(iface) => format!("<{kref}> ({iface})"),
        None => format!("<{kref}>"),
    })
}

/// `slots[Number(digits)] ?? "?" + Number(digits)`; huge indices print the
/// way JavaScript prints the rounded number (`?1e+21`, `?Infinity`).
fn slot_name(digits: &str, slots: &[String]) -> String {
    let index = digits.parse::<f64>().unwrap_or(f64::INFINITY);
    let found = digits
        .parse::<usize>()
        .ok()
        .and_then(|i| slots.get(i))
        .cloned();
    found.unwrap_or_else(|| format!("?{}", js_number_to_string(index)))
}

fn walk_object(json: &Json, entries: &[(String, Json)], slots: &[String]) -> Value {
    if let Some(tag) = json.get("#tag") {
        let label = format!("[Tagged: {}]", js_string(&walk(tag, slots)));
        let mut map = Map::new();
        // A missing payload is `undefined` in JS, which JSON.stringify drops.
        if let Some(payload) = json.get("payload") {
            map.insert(label, walk(payload, slots));
        }
        return Value::Object(map);
    }
    if let Some(message) = json.get("#error") {
        let message = js_string(&walk(message, slots));
        let name = json
            .get("name")
            .map_or_else(|| "Error".to_string(), |n| js_string(&walk(n, slots)));
        return Value::String(format!("[{name}: {message}]"));
    }
    record(entries, slots)
}

/// Assigning `result["__proto__"]` in JS sets the prototype instead of a
/// property, so that key never shows up in the output.
fn record(entries: &[(String, Json)], slots: &[String]) -> Value {
    let unescaped = entries
        .iter()
        .map(|(key, value)| {
            let key = key.strip_prefix('!').unwrap_or(key).to_string();
            (key, walk(value, slots))
        })
        .filter(|(key, _)| key != "__proto__")
        .collect();
    let ordered = js_property_order(dedupe_last_wins(unescaped));
    Value::Object(ordered.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capdata::stringify_js;
    use serde_json::json;

    fn pretty(body: &str, slots: &[&str]) -> Value {
        let data = CapData {
            body: body.into(),
            slots: slots.iter().map(|s| s.to_string()).collect(),
        };
        prettify(&data).unwrap()
    }

    /// The examples of spec §8.4.
    #[test]
    fn spec_examples() {
        let value = pretty(r#"#{"name":"$0.Alleged: MyObj","count":42}"#, &["ko12"]);
        assert_eq!(
            value,
            json!({"name": "<ko12> (Alleged: MyObj)", "count": 42})
        );
        assert_eq!(
            stringify_js(&value, false),
            r#"{"name":"<ko12> (Alleged: MyObj)","count":42}"#
        );
        let counter = pretty(r#"#"Counter incremented to: 2""#, &[]);
        assert_eq!(counter, json!("Counter incremented to: 2"));
        assert_eq!(pretty(r##"#"#undefined""##, &[]), json!("[undefined]"));
        let error = pretty(r##"#{"#error":"boom","name":"TypeError"}"##, &[]);
        assert_eq!(error, json!("[TypeError: boom]"));
    }

    #[test]
    fn not_smallcaps_message() {
        let data = CapData {
            body: r#""hello, this is a long legacy body""#.into(),
            slots: vec![],
        };
        let err = prettify(&data).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"Expected body to start with '#', got: "hello, this is a lo"#
        );
    }

    #[test]
    fn scalars_and_strings() {
        let cases: &[(&str, &[&str], Value)] = &[
            (r#"#"0xca46b9""#, &[], json!("0xca46b9")),
            ("#42", &[], json!(42)),
            ("#null", &[], Value::Null),
            ("#true", &[], json!(true)),
            (r#"#"$0""#, &["ko12"], json!("<ko12>")),
            (r#"#"&0""#, &["kp42"], json!("<kp42>")),
            (r#"#"$5""#, &["ko1"], json!("<?5>")),
            (r#"#"$007""#, &[], json!("<?7>")),
            (r#"#"&1000000000000000000000""#, &[], json!("<?1e+21>")),
            (r#"#"&0.x""#, &["kp1"], json!("<kp1> (x)")),
            (r#"#"$0.""#, &["ko1"], json!("$0.")),
            (r#"#"$0.a\nb""#, &["ko1"], json!("$0.a\nb")),
            (r#"#"!$0""#, &["ko1"], json!("$0")),
            (r#"#"!!hello""#, &[], json!("!hello")),
            (r##"#"+7""##, &[], json!("7n")),
            (r##"#"-7""##, &[], json!("-7n")),
            (r##"#"#NaN""##, &[], json!("[NaN]")),
            (r##"#"#-Infinity""##, &[], json!("[-Infinity]")),
            (r#"#"%foo""#, &[], json!("[Symbol: foo]")),
            (r#"#"(odd""#, &[], json!("(odd")),
            ("#-0", &[], json!(0)),
            ("#1e400", &[], Value::Null),
            ("#1.5", &[], json!(1.5)),
        ];
        for (body, slots, expected) in cases {
            assert_eq!(&pretty(body, slots), expected, "{body}");
        }
    }

    #[test]
    fn nested_objects_tags_and_errors() {
        let nested = pretty(
            r#"#{"items":["$0","$1"],"meta":{"ref":"&2"}}"#,
            &["ko1", "ko2", "kp3"],
        );
        assert_eq!(
            nested,
            json!({"items": ["<ko1>", "<ko2>"], "meta": {"ref": "<kp3>"}})
        );
        let tagged = pretty(r##"#{"#tag":"match:any","payload":"#undefined"}"##, &[]);
        assert_eq!(tagged, json!({"[Tagged: match:any]": "[undefined]"}));
        assert_eq!(pretty(r##"#{"#tag":"t"}"##, &[]), json!({}));
        let unnamed = pretty(r##"#{"#error":"something broke"}"##, &[]);
        assert_eq!(unnamed, json!("[Error: something broke]"));
        let odd = pretty(r##"#{"#error":[1,null,[2,3]],"name":null}"##, &[]);
        assert_eq!(odd, json!("[null: 1,,2,3]"));
        let keys = pretty(r##"#{"!#foo":"bar","normal":"baz","__proto__":1}"##, &[]);
        assert_eq!(keys, json!({"#foo": "bar", "normal": "baz"}));
    }

    #[test]
    fn output_keys_follow_js_order() {
        let value = pretty(r#"#{"b":1,"!5":2,"a":3,"1":4}"#, &[]);
        assert_eq!(stringify_js(&value, false), r#"{"1":4,"5":2,"b":1,"a":3}"#);
    }

    /// Outputs checked against the JavaScript implementation under Node.
    #[test]
    fn matches_javascript_on_edge_cases() {
        let slots = ["ko0", "kp1"];
        let cases = [
            (r#"#"$99999999999999999999999""#, r#""<?1e+23>""#),
            (r#"#"&0.a\u2028b""#, "\"&0.a\u{2028}b\""),
            (r#"#"$0.a\u0085b""#, "\"<ko0> (a\u{85}b)\""),
            (
                r##"#{"#error":{"#tag":"x","payload":1},"name":[null,[1,[2]],true]}"##,
                r#""[,1,2,true: [object Object]]""#,
            ),
            (
                r##"#{"#tag":{"#error":"m"},"payload":[]}"##,
                r#"{"[Tagged: [Error: m]]":[]}"#,
            ),
            (
                r#"#{"4294967295":1,"4294967294":2,"!10":3,"2":4}"#,
                r#"{"2":4,"10":3,"4294967294":2,"4294967295":1}"#,
            ),
            (
                "#[1e400,-1e400,-0,1e21,1e-7,123456789012345678901234]",
                "[null,null,0,1e+21,1e-7,1.2345678901234569e+23]",
            ),
        ];
        for (body, printed) in cases {
            assert_eq!(
                stringify_js(&pretty(body, &slots), false),
                printed,
                "{body}"
            );
        }
    }

    #[test]
    fn bad_json_is_an_error() {
        let data = CapData {
            body: "#{".into(),
            slots: vec![],
        };
        assert!(matches!(
            prettify(&data),
            Err(PrettifyError::Json { offset: 2, .. })
        ));
    }
}
