//! JSON text output byte-identical to JavaScript's `JSON.stringify`.

use std::fmt::Write as _;

use serde_json::Value;

use super::js_number::js_number_to_string;
use super::js_object::js_property_order;

/// Appends `s` as a JSON string literal escaped like `JSON.stringify`.
pub(super) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // JavaScript uses lowercase hex; DEL and U+2028/9 stay literal.
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a number as `JSON.stringify` prints it (non-finite → `null`).
pub(super) fn write_number(out: &mut String, x: f64) {
    if x.is_finite() {
        out.push_str(&js_number_to_string(x));
    } else {
        out.push_str("null");
    }
}

/// Prints a JSON value like `JSON.stringify(value)` or, when `pretty`, like
/// `JSON.stringify(value, null, 2)` (the CLI's TTY output, §8.4).
///
/// Numbers use JavaScript formatting and object keys use JavaScript property
/// order, so the output matches the JS CLI byte for byte.
pub fn stringify_js(value: &Value, pretty: bool) -> String {
    let mut out = String::new();
    let indent = if pretty { Some(2) } else { None };
    write_value(&mut out, value, indent, 0);
    out
}

fn write_value(out: &mut String, value: &Value, indent: Option<usize>, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            let items: Vec<_> = items.iter().map(|v| (None, v)).collect();
            write_container(out, ('[', ']'), &items, indent, level);
        }
        Value::Object(map) => {
            let entries: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v)).collect();
            let entries: Vec<_> = js_property_order(entries)
                .into_iter()
                .map(|(k, v)| (Some(k), v))
                .collect();
            write_container(out, ('{', '}'), &entries, indent, level);
        }
    }
}

/// Writes `[…]` or `{…}`; empty containers print as `[]` / `{}` even when
/// pretty, as in JavaScript.
fn write_container(
    out: &mut String,
    (open, close): (char, char),
    items: &[(Option<String>, &Value)],
    indent: Option<usize>,
    level: usize,
) {
    out.push(open);
    for (i, (key, value)) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, indent, level + 1);
        if let Some(key) = key {
            write_str(out, key);
            out.push(':');
            if indent.is_some() {
                out.push(' ');
            }
        }
        write_value(out, value, indent, level + 1);
    }
    if !items.is_empty() {
        newline(out, indent, level);
    }
    out.push(close);
}

fn newline(out: &mut String, indent: Option<usize>, level: usize) {
    if let Some(width) = indent {
        out.push('\n');
        out.push_str(&" ".repeat(width * level));
    }
}

/// JavaScript's `String(value)` for a JSON value (`[object Object]`, arrays joined with
/// commas, `null` elements as empty strings).
pub fn js_string(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_number_to_string(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                // Array.prototype.join prints null (and undefined) as "".
                Value::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_like_javascript() {
        let mut out = String::new();
        write_str(
            &mut out,
            "a\"b\\c\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}\u{2028}é😀/",
        );
        assert_eq!(
            out,
            "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}\u{2028}é😀/\""
        );
    }

    #[test]
    fn compact_output() {
        // Keys listed in byte order so the test holds with or without
        // serde_json's preserve_order; "9" must still move before "10".
        let value = json!({"10": true, "9": "x", "a": {}, "b": [1, 2.5, null]});
        assert_eq!(
            stringify_js(&value, false),
            r#"{"9":"x","10":true,"a":{},"b":[1,2.5,null]}"#
        );
    }

    #[test]
    fn pretty_output() {
        let value = json!({"a": [1, {"b": []}], "c": 1e21});
        let expected =
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ],\n  \"c\": 1e+21\n}";
        assert_eq!(stringify_js(&value, true), expected);
    }

    #[test]
    fn numbers_print_like_javascript() {
        assert_eq!(stringify_js(&json!(1.0), false), "1");
        assert_eq!(stringify_js(&json!(-0.0), false), "0");
        assert_eq!(stringify_js(&json!(1e-7), false), "1e-7");
        assert_eq!(
            stringify_js(&json!(u64::MAX), false),
            "18446744073709552000"
        );
    }
}
