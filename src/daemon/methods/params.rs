//! Param validation with the reference's exact messages (superstruct 3.2, spec §2).
//!
//! The reference reports the first failure as `Invalid params: [At path: P -- ]<message>`, with
//! values printed the JavaScript way. Clients show these texts, so we reproduce them.

use crate::protocol::RpcError;
use serde_json::{Map, Value};

/// What a field of an object schema must hold.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Any string (`string()`).
    String,
}

/// `EmptyJsonArray`: params must be exactly `[]`.
pub fn empty_array(params: &Value) -> Result<(), RpcError> {
    match params {
        Value::Array(items) if items.is_empty() => Ok(()),
        Value::Array(items) => Err(RpcError::invalid_params(format!(
            "Expected an empty array but received one with a size of `{}`",
            items.len()
        ))),
        other => Err(RpcError::invalid_params(format!(
            "Expected an array value, but received: {}",
            print(Some(other))
        ))),
    }
}

/// A strict `object({…})`: known fields checked in schema order, then unknown keys refused.
/// Returns the object's fields. (Arrays pass superstruct's object check; their indices are then
/// unknown keys, exactly as in the reference.)
pub fn object(params: &Value, schema: &[(&str, Kind)]) -> Result<Map<String, Value>, RpcError> {
    let fields = as_object(params)?;
    for (name, kind) in schema {
        check(name, fields.get(*name), *kind)?;
    }
    if let Some((key, value)) = fields
        .iter()
        .find(|(k, _)| !schema.iter().any(|(n, _)| n == k))
    {
        let detail = format!(
            "Expected a value of type `never`, but received: `{}`",
            print(Some(value))
        );
        return Err(at(key, detail));
    }
    Ok(fields)
}

fn as_object(params: &Value) -> Result<Map<String, Value>, RpcError> {
    match params {
        Value::Object(map) => Ok(map.clone()),
        Value::Array(items) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.clone()))
            .collect()),
        other => Err(RpcError::invalid_params(format!(
            "Expected an object, but received: {}",
            print(Some(other))
        ))),
    }
}

fn check(name: &str, value: Option<&Value>, kind: Kind) -> Result<(), RpcError> {
    match (kind, value) {
        (Kind::String, Some(Value::String(_))) => Ok(()),
        (Kind::String, other) => Err(at(
            name,
            format!("Expected a string, but received: {}", print(other)),
        )),
    }
}

fn at(path: &str, detail: String) -> RpcError {
    RpcError::invalid_params(format!("At path: {path} -- {detail}"))
}

/// superstruct's `print`: strings as JSON, everything else as JavaScript's `${value}`.
pub fn print(value: Option<&Value>) -> String {
    match value {
        None => "undefined".into(),
        Some(Value::String(s)) => Value::String(s.clone()).to_string(),
        Some(other) => to_js_string(other),
    }
}

/// JavaScript's `String(value)` for JSON values.
fn to_js_string(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                if v.is_null() {
                    String::new()
                } else {
                    to_js_string(v)
                }
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

    fn message(result: Result<impl std::fmt::Debug, RpcError>) -> String {
        result.unwrap_err().message
    }

    #[test]
    fn empty_array_messages_match_the_reference() {
        assert!(empty_array(&json!([])).is_ok());
        assert_eq!(
            message(empty_array(&json!({}))),
            "Invalid params: Expected an array value, but received: [object Object]"
        );
        assert_eq!(
            message(empty_array(&json!([1]))),
            "Invalid params: Expected an empty array but received one with a size of `1`"
        );
        assert_eq!(
            message(empty_array(&json!("x"))),
            "Invalid params: Expected an array value, but received: \"x\""
        );
    }

    #[test]
    fn object_messages_match_the_reference() {
        let sql = [("sql", Kind::String)];
        assert_eq!(
            message(object(&json!([]), &sql)),
            "Invalid params: At path: sql -- Expected a string, but received: undefined"
        );
        assert_eq!(
            message(object(&json!({"sql": 1}), &sql)),
            "Invalid params: At path: sql -- Expected a string, but received: 1"
        );
        assert_eq!(
            message(object(&json!({"sql": "select 1", "x": 1}), &sql)),
            "Invalid params: At path: x -- Expected a value of type `never`, but received: `1`"
        );
        assert_eq!(
            object(&json!({"sql": "x"}), &sql).unwrap()["sql"],
            json!("x")
        );
        assert_eq!(
            message(object(&json!(5), &sql)),
            "Invalid params: Expected an object, but received: 5"
        );
    }

    #[test]
    fn values_print_like_javascript() {
        assert_eq!(
            print(Some(&json!([1, [2, null], {"a": 1}]))),
            "1,2,,[object Object]"
        );
        assert_eq!(print(Some(&json!(null))), "null");
        assert_eq!(print(None), "undefined");
    }
}
