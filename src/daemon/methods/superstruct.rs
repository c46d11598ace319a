//! Param validation with the reference's exact messages (`@metamask/superstruct` 3.2.1, spec §2).
//!
//! The reference checks params with superstruct and reports the first failure as
//! `Invalid params: [At path: P -- ]<message>`, with values printed the JavaScript way. Clients
//! show these texts, so we reproduce them.
//!
//! A [`Kind`] describes one superstruct struct. [`validate`] walks a value the way superstruct's
//! `run` does and stops at the first failure: the struct's own check first, then its children
//! (an object's schema keys in schema order, then its unknown keys as `never`), then its
//! refinement (`min`, `empty`), which runs only if nothing else failed.

use crate::capdata::{js_entries, js_number_to_string};
use crate::jsonrpc::RpcError;
use serde_json::{Map, Value};

/// A field of an object schema: its name and what it must hold.
pub type Field = (&'static str, Kind);

/// One superstruct struct.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `string()`.
    String,
    /// `boolean()`.
    Boolean,
    /// `min(integer(), n)`: an integer no smaller than `n`.
    IntegerAtLeast(i64),
    /// `define(name, test)`: a custom test; `undefined` always fails it.
    Define(&'static str, fn(&Value) -> bool),
    /// `literal(s)` of a string.
    Literal(&'static str),
    /// `enums([...])` of strings.
    OneOf(&'static [&'static str]),
    /// `array(T)`.
    ArrayOf(&'static Kind),
    /// `tuple([...])`: exactly these elements.
    Tuple(&'static [Kind]),
    /// `record(string(), T)`.
    Record(&'static Kind),
    /// A strict `object({...})`: unknown keys are refused.
    Object(&'static [Field]),
    /// `exactOptional(T)`, or `optional(T)` (the same for JSON, which has no `undefined`): as a
    /// field of an object, it may be absent.
    Optional(&'static Kind),
    /// `union([...])`: any one of these.
    Union(&'static [Kind]),
    /// `never()`.
    Never,
}

impl Kind {
    /// `VatIdStruct = define('VatId', /^v\d+$/)`.
    pub const VAT_ID: Kind = Kind::Define("VatId", |v| digits_after(v, &["v"]));
    /// `SubclusterIdStruct = define('SubclusterId', /^s\d+$/)`.
    pub const SUBCLUSTER_ID: Kind = Kind::Define("SubclusterId", |v| digits_after(v, &["s"]));
    /// `KRefStruct = define('KRef', /^k[op]\d+$/)`.
    pub const KREF: Kind = Kind::Define("KRef", |v| digits_after(v, &["ko", "kp"]));
    /// `UnsafeJsonStruct = define('JSON', …)`: every parsed JSON value passes.
    pub const JSON: Kind = Kind::Define("JSON", |_| true);

    /// superstruct's `struct.type`, as a union's message lists it.
    fn type_name(self) -> String {
        match self {
            Kind::String => "string".into(),
            Kind::Boolean => "boolean".into(),
            Kind::IntegerAtLeast(_) => "integer".into(),
            Kind::Define(name, _) => name.into(),
            Kind::Literal(_) => "literal".into(),
            Kind::OneOf(_) => "enums".into(),
            Kind::ArrayOf(_) => "array".into(),
            Kind::Tuple(_) => "tuple".into(),
            Kind::Record(_) => "record".into(),
            Kind::Object(_) => "object".into(),
            Kind::Optional(inner) => format!("exact optional {}", inner.type_name()),
            Kind::Union(_) => "union".into(),
            Kind::Never => "never".into(),
        }
    }
}

/// Whether `value` is a string made of one of `prefixes` and then one or more ASCII digits.
fn digits_after(value: &Value, prefixes: &[&str]) -> bool {
    let Some(s) = value.as_str() else {
        return false;
    };
    prefixes.iter().any(|prefix| {
        s.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Checks `params` against `kind`; the error is the reference's text for the first failure.
pub fn validate(params: &Value, kind: Kind) -> Result<(), RpcError> {
    check(Some(params), kind, &[]).map_err(RpcError::from)
}

/// superstruct's `is`: whether `value` passes `kind`.
pub fn is(value: &Value, kind: Kind) -> bool {
    check(Some(value), kind, &[]).is_ok()
}

/// `EmptyJsonArray` (`empty(array(UnsafeJsonStruct))`): params must be exactly `[]`.
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

/// A strict `object({...})`; returns the object's fields. (Arrays pass superstruct's object
/// check; their indices are then unknown keys, exactly as in the reference.)
pub fn object(params: &Value, schema: &'static [Field]) -> Result<Map<String, Value>, RpcError> {
    validate(params, Kind::Object(schema))?;
    Ok(js_entries(params)
        .into_iter()
        .map(|(key, value)| (key, value.clone()))
        .collect())
}

/// Where validation failed and why.
struct Failure {
    path: Vec<String>,
    message: String,
}

impl From<Failure> for RpcError {
    /// superstruct's `StructError` message, behind the reference's `Invalid params: `.
    fn from(failure: Failure) -> RpcError {
        if failure.path.is_empty() {
            RpcError::invalid_params(failure.message)
        } else {
            let path = failure.path.join(".");
            RpcError::invalid_params(format!("At path: {path} -- {}", failure.message))
        }
    }
}

/// A child to check: its key, its value (`None` is `undefined`) and what it must hold.
type Child<'v> = (String, Option<&'v Value>, Kind);

/// superstruct's `run`, stopped at the first failure. `None` is JavaScript's `undefined`.
fn check(value: Option<&Value>, kind: Kind, path: &[String]) -> Result<(), Failure> {
    let fail = |message| Failure {
        path: path.to_vec(),
        message,
    };
    own_check(value, kind).map_err(fail)?;
    for (key, child, child_kind) in children(value, kind) {
        let mut child_path = path.to_vec();
        child_path.push(key);
        check(child, child_kind, &child_path)?;
    }
    refinement(value, kind).map_err(fail)
}

/// The struct's own validator, with superstruct's message on failure.
fn own_check(value: Option<&Value>, kind: Kind) -> Result<(), String> {
    let passes = match kind {
        Kind::String => value.is_some_and(Value::is_string),
        Kind::Boolean => value.is_some_and(Value::is_boolean),
        Kind::IntegerAtLeast(_) => value
            .and_then(Value::as_f64)
            .is_some_and(|x| x.fract() == 0.0),
        Kind::Define(_, test) => value.is_some_and(test),
        Kind::Literal(constant) => value.and_then(Value::as_str) == Some(constant),
        Kind::OneOf(names) => value
            .and_then(Value::as_str)
            .is_some_and(|s| names.contains(&s)),
        Kind::ArrayOf(_) | Kind::Tuple(_) => value.is_some_and(Value::is_array),
        Kind::Record(_) | Kind::Object(_) => value.is_some_and(is_object),
        Kind::Optional(inner) => return own_check(value, *inner),
        Kind::Union(members) => members.iter().any(|m| check(value, *m, &[]).is_ok()),
        Kind::Never => false,
    };
    if passes {
        Ok(())
    } else {
        Err(own_message(value, kind))
    }
}

/// What superstruct says when `value` fails `kind`'s own validator.
fn own_message(value: Option<&Value>, kind: Kind) -> String {
    let received = print(value);
    match kind {
        Kind::String => format!("Expected a string, but received: {received}"),
        Kind::IntegerAtLeast(_) => format!("Expected an integer, but received: {received}"),
        Kind::Literal(constant) => format!(
            "Expected the literal `{}`, but received: {received}",
            json_string(constant)
        ),
        Kind::OneOf(names) => {
            let names: Vec<String> = names.iter().map(|n| json_string(n)).collect();
            format!(
                "Expected one of `{}`, but received: {received}",
                names.join(",")
            )
        }
        Kind::ArrayOf(_) => format!("Expected an array value, but received: {received}"),
        Kind::Tuple(_) => format!("Expected an array, but received: {received}"),
        Kind::Record(_) | Kind::Object(_) => {
            format!("Expected an object, but received: {received}")
        }
        Kind::Union(members) => {
            let names: Vec<String> = members.iter().map(|m| m.type_name()).collect();
            format!(
                "Expected the value to satisfy a union of `{}`, but received: {received}",
                names.join(" | ")
            )
        }
        Kind::Optional(inner) => own_message(value, *inner),
        // `define()` structs (boolean, never and ours) whose test returned false.
        Kind::Boolean | Kind::Define(..) | Kind::Never => format!(
            "Expected a value of type `{}`, but received: `{received}`",
            kind.type_name()
        ),
    }
}

/// The children superstruct's `entries` yields for `kind`, in its order.
fn children(value: Option<&Value>, kind: Kind) -> Vec<Child<'_>> {
    match (kind, value) {
        (Kind::Optional(inner), _) => children(value, *inner),
        (Kind::ArrayOf(element), Some(Value::Array(items))) => items
            .iter()
            .enumerate()
            .map(|(i, item)| (i.to_string(), Some(item), *element))
            .collect(),
        (Kind::Tuple(elements), Some(Value::Array(items))) => (0..elements.len().max(items.len()))
            .map(|i| {
                let element = elements.get(i).copied().unwrap_or(Kind::Never);
                (i.to_string(), items.get(i), element)
            })
            .collect(),
        // The record's keys are checked against `string()` too, which keys always pass.
        (Kind::Record(element), Some(record)) => js_entries(record)
            .into_iter()
            .map(|(key, item)| (key, Some(item), *element))
            .collect(),
        (Kind::Object(fields), Some(object)) if is_object(object) => {
            object_children(object, fields)
        }
        _ => Vec::new(),
    }
}

/// An object's schema fields in schema order (skipping absent optional ones), then its other
/// keys, in JavaScript order, as `never`.
fn object_children<'v>(object: &'v Value, fields: &[Field]) -> Vec<Child<'v>> {
    let entries = js_entries(object);
    let get = |name: &str| entries.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
    let known = fields
        .iter()
        .filter(|(name, kind)| !matches!(kind, Kind::Optional(_)) || get(name).is_some())
        .map(|(name, kind)| (name.to_string(), get(name), *kind));
    let unknown = entries
        .iter()
        .filter(|(key, _)| !fields.iter().any(|(name, _)| name == key))
        .map(|(key, item)| (key.clone(), Some(*item), Kind::Never));
    known.chain(unknown).collect()
}

/// The struct's refiner: `min` is the only refinement besides [`empty_array`]'s `empty`.
fn refinement(value: Option<&Value>, kind: Kind) -> Result<(), String> {
    match (kind, value.and_then(Value::as_f64)) {
        (Kind::Optional(inner), _) => refinement(value, *inner),
        (Kind::IntegerAtLeast(min), Some(x)) if x < min as f64 => Err(format!(
            "Expected a integer greater than or equal to {min} but received `{}`",
            js_number_to_string(x)
        )),
        _ => Ok(()),
    }
}

/// superstruct's `isObject`: arrays count.
fn is_object(value: &Value) -> bool {
    value.is_object() || value.is_array()
}

/// `JSON.stringify` of a string.
fn json_string(s: &str) -> String {
    Value::from(s).to_string()
}

/// superstruct's `print`: strings as JSON, everything else as JavaScript's `${value}`.
pub fn print(value: Option<&Value>) -> String {
    match value {
        None => "undefined".into(),
        Some(Value::String(s)) => json_string(s),
        Some(other) => crate::capdata::js_string(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(result: Result<impl std::fmt::Debug, RpcError>) -> String {
        result.unwrap_err().message
    }

    fn failure(value: Value, kind: Kind) -> String {
        message(validate(&value, kind))
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
        let sql = &[("sql", Kind::String)];
        assert_eq!(
            message(object(&json!([]), sql)),
            "Invalid params: At path: sql -- Expected a string, but received: undefined"
        );
        assert_eq!(
            message(object(&json!({"sql": 1}), sql)),
            "Invalid params: At path: sql -- Expected a string, but received: 1"
        );
        assert_eq!(
            message(object(&json!({"sql": "select 1", "x": 1}), sql)),
            "Invalid params: At path: x -- Expected a value of type `never`, but received: `1`"
        );
        assert_eq!(
            object(&json!({"sql": "x"}), sql).unwrap()["sql"],
            json!("x")
        );
        assert_eq!(
            message(object(&json!(5), sql)),
            "Invalid params: Expected an object, but received: 5"
        );
    }

    #[test]
    fn unknown_keys_are_reported_in_javascript_order() {
        let sql = &[("sql", Kind::String)];
        assert_eq!(
            message(object(&json!({"sql": "x", "b": 1, "7": 2}), sql)),
            "Invalid params: At path: 7 -- Expected a value of type `never`, but received: `2`"
        );
        // An array's indices are unknown keys once the schema's fields are there.
        let all_optional = &[("a", Kind::Optional(&Kind::String))];
        assert_eq!(
            message(object(&json!(["z"]), all_optional)),
            "Invalid params: At path: 0 -- Expected a value of type `never`, but received: `\"z\"`"
        );
    }

    #[test]
    fn defined_ids_follow_their_patterns() {
        for (kind, good, bad) in [
            (Kind::VAT_ID, "v12", ["v", "v1a", "V1", "ko1", " v1", "v１"]),
            (
                Kind::KREF,
                "kp3",
                ["k1", "ko", "kx1", "ko1\n", "v1", "ko-1"],
            ),
            (
                Kind::SUBCLUSTER_ID,
                "s0",
                ["s", "s1.5", "v1", "S1", "s+1", ""],
            ),
        ] {
            assert!(is(&json!(good), kind), "{good}");
            for bad in bad {
                assert!(!is(&json!(bad), kind), "{bad:?}");
            }
            assert!(!is(&json!(1), kind));
        }
        assert_eq!(
            failure(json!(7), Kind::KREF),
            "Invalid params: Expected a value of type `KRef`, but received: `7`"
        );
    }

    #[test]
    fn booleans_and_never_print_in_backticks() {
        assert_eq!(
            failure(json!("yes"), Kind::Boolean),
            "Invalid params: Expected a value of type `boolean`, but received: `\"yes\"`"
        );
        assert_eq!(
            failure(json!(null), Kind::Never),
            "Invalid params: Expected a value of type `never`, but received: `null`"
        );
    }

    #[test]
    fn tuples_check_each_position_then_extras() {
        const PAIR: Kind = Kind::Tuple(&[Kind::String, Kind::Boolean]);
        assert!(is(&json!(["a", true]), PAIR));
        assert_eq!(
            failure(json!({}), PAIR),
            "Invalid params: Expected an array, but received: [object Object]"
        );
        assert_eq!(
            failure(json!([]), PAIR),
            "Invalid params: At path: 0 -- Expected a string, but received: undefined"
        );
        assert_eq!(
            failure(json!(["a", true, 3]), PAIR),
            "Invalid params: At path: 2 -- Expected a value of type `never`, but received: `3`"
        );
    }

    #[test]
    fn arrays_check_every_element() {
        const STRINGS: Kind = Kind::ArrayOf(&Kind::String);
        assert!(is(&json!([]), STRINGS));
        assert_eq!(
            failure(json!(["a", null]), STRINGS),
            "Invalid params: At path: 1 -- Expected a string, but received: null"
        );
        assert_eq!(
            failure(json!("a"), STRINGS),
            "Invalid params: Expected an array value, but received: \"a\""
        );
    }

    #[test]
    fn records_check_values_in_javascript_order_and_accept_arrays() {
        const BOOLS: Kind = Kind::Record(&Kind::Boolean);
        assert!(is(&json!({"a": true}), BOOLS));
        assert!(is(&json!([]), BOOLS));
        assert_eq!(
            failure(json!({"b": 1, "3": 2}), BOOLS),
            "Invalid params: At path: 3 -- Expected a value of type `boolean`, but received: `2`"
        );
        assert_eq!(
            failure(json!(null), BOOLS),
            "Invalid params: Expected an object, but received: null"
        );
    }

    #[test]
    fn optional_fields_may_be_absent_but_not_null() {
        const FLAGS: Kind = Kind::Object(&[("a", Kind::Optional(&Kind::Boolean))]);
        assert!(is(&json!({}), FLAGS));
        assert!(is(&json!({"a": false}), FLAGS));
        assert_eq!(
            failure(json!({"a": null}), FLAGS),
            "Invalid params: At path: a -- Expected a value of type `boolean`, but received: `null`"
        );
        const NESTED: Kind =
            Kind::Object(&[("list", Kind::Optional(&Kind::ArrayOf(&Kind::String)))]);
        assert_eq!(
            failure(json!({"list": ["x", 2]}), NESTED),
            "Invalid params: At path: list.1 -- Expected a string, but received: 2"
        );
    }

    #[test]
    fn unions_report_their_members_types() {
        const IO: Kind = Kind::Union(&[
            Kind::Object(&[("type", Kind::Literal("console"))]),
            Kind::Object(&[("type", Kind::Literal("file")), ("path", Kind::String)]),
        ]);
        assert!(is(&json!({"type": "console"}), IO));
        assert!(is(&json!({"type": "file", "path": "/x"}), IO));
        assert_eq!(
            failure(json!({"type": "file"}), IO),
            "Invalid params: Expected the value to satisfy a union of `object | object`, \
             but received: [object Object]"
        );
    }

    #[test]
    fn literals_and_enums_quote_their_values() {
        assert_eq!(
            failure(json!("x"), Kind::Literal("in")),
            "Invalid params: Expected the literal `\"in\"`, but received: \"x\""
        );
        assert_eq!(
            failure(json!(1), Kind::OneOf(&["a", "b"])),
            "Invalid params: Expected one of `\"a\",\"b\"`, but received: 1"
        );
    }

    #[test]
    fn integer_minimums_are_refinements() {
        const COUNT: Kind = Kind::IntegerAtLeast(1);
        assert!(is(&json!(1), COUNT));
        assert!(is(&json!(2.0), COUNT));
        assert_eq!(
            failure(json!(1.5), COUNT),
            "Invalid params: Expected an integer, but received: 1.5"
        );
        assert_eq!(
            failure(json!("1"), COUNT),
            "Invalid params: Expected an integer, but received: \"1\""
        );
        assert_eq!(
            failure(json!(0), COUNT),
            "Invalid params: Expected a integer greater than or equal to 1 but received `0`"
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
        assert_eq!(print(Some(&json!(1.0))), "1");
        assert_eq!(print(Some(&json!(1e21))), "1e+21");
        assert_eq!(print(Some(&json!(-0.0))), "0");
        assert_eq!(
            print(Some(&json!(12345678901234567890u64))),
            "12345678901234567000"
        );
        assert_eq!(print(Some(&json!("a\"\n"))), "\"a\\\"\\n\"");
    }
}
