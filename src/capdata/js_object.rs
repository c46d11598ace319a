//! JavaScript object property order.
//!
//! `JSON.stringify`, `Object.entries` and `JSON.parse` all iterate an object's
//! array-index keys (`"0"`, `"7"`, `"10"` …) first in ascending numeric order,
//! then the other keys in insertion order. Byte-exact bodies depend on it:
//! Endo sorts record keys as strings, but the printed JSON still lists
//! `"9"` before `"10"`.

use serde_json::Value;
use std::collections::HashMap;

/// The numeric value of `key` if it is a JavaScript array index
/// (canonical decimal, at most 2^32 − 2).
pub(super) fn array_index(key: &str) -> Option<u32> {
    let canonical = key == "0" || (!key.starts_with('0') && !key.is_empty());
    if !canonical || key.len() > 10 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u64>()
        .ok()
        .filter(|&n| n <= u64::from(u32::MAX - 1))
        .and_then(|n| u32::try_from(n).ok())
}

/// Reorders entries the way a JavaScript object would iterate them.
///
/// The sort is stable, so non-index keys keep their insertion order.
pub fn js_property_order<T>(mut entries: Vec<(String, T)>) -> Vec<(String, T)> {
    entries.sort_by_key(|(key, _)| match array_index(key) {
        Some(i) => (0, i),
        None => (1, 0),
    });
    entries
}

/// `Object.entries(value)` for a JSON object or array, in JavaScript order; other values have
/// none. (Arrays count: they are objects to JavaScript, keyed by index.)
pub fn js_entries(value: &Value) -> Vec<(String, &Value)> {
    match value {
        Value::Object(map) => js_property_order(map.iter().map(|(k, v)| (k.clone(), v)).collect()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    }
}

/// Collapses duplicate keys like repeated assignment: the last value wins but
/// the key keeps the position of its first appearance.
pub(super) fn dedupe_last_wins<T>(entries: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut position: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<(String, T)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        match position.get(&key) {
            Some(&i) => {
                if let Some(slot) = out.get_mut(i) {
                    slot.1 = value;
                }
            }
            None => {
                position.insert(key.clone(), out.len());
                out.push((key, value));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_array_indices() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("10"), Some(10));
        assert_eq!(array_index("4294967294"), Some(4294967294));
        for key in [
            "",
            "00",
            "01",
            "-1",
            "1.0",
            "4294967295",
            "99999999999",
            "a",
            "+1",
        ] {
            assert_eq!(array_index(key), None, "{key:?}");
        }
    }

    #[test]
    fn index_keys_come_first() {
        let entries = vec![("b", 1), ("10", 2), ("a", 3), ("9", 4)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let keys: Vec<String> = js_property_order(entries)
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(keys, ["9", "10", "b", "a"]);
    }

    #[test]
    fn entries_of_json_values() {
        let object = serde_json::json!({"b": 1, "10": 2, "a": 3, "9": 4});
        let keys: Vec<String> = js_entries(&object).into_iter().map(|e| e.0).collect();
        assert_eq!(keys, ["9", "10", "b", "a"]);
        let array = serde_json::json!(["x", "y"]);
        let entries = js_entries(&array);
        assert_eq!(entries[1], ("1".to_string(), &serde_json::json!("y")));
        assert!(js_entries(&serde_json::json!("xy")).is_empty());
    }

    #[test]
    fn duplicates_keep_first_position_last_value() {
        let entries = vec![("a", 1), ("b", 2), ("a", 3)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let out = dedupe_last_wins(entries);
        assert_eq!(out, vec![("a".to_string(), 3), ("b".to_string(), 2)]);
    }
}
