//! A request's `id`, kept as the JSON text the client wrote.
//!
//! JSON-RPC answers with the request's `id`, and clients match replies by it. Parsed into a number
//! and printed again, `1e2` came back as `100.0` and `-0` as `0`; kept as text, every id comes
//! back byte for byte.

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;
use std::fmt;

/// A request's `id` as its JSON text (`null` when the request had none or could not be read).
#[derive(Debug, Clone)]
pub struct RequestId(Box<RawValue>);

impl RequestId {
    /// The `null` id.
    pub fn null() -> RequestId {
        RequestId::from(Value::Null)
    }

    /// The id's JSON text.
    pub fn as_json(&self) -> &str {
        self.0.get()
    }
}

impl From<Value> for RequestId {
    fn from(value: Value) -> RequestId {
        RequestId(RawValue::from_string(value.to_string()).expect("a Value prints as JSON"))
    }
}

/// Equal when the texts are: `1e2` and `100` are different ids to a client matching text.
impl PartialEq for RequestId {
    fn eq(&self, other: &RequestId) -> bool {
        self.as_json() == other.as_json()
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// The members of a request object that matter: `id` as text, `method` and `params` as values.
/// A member given twice counts once, the last time, as `serde_json::Value` has it.
#[derive(Default)]
pub(super) struct Members {
    pub id: Option<RequestId>,
    pub method: Option<Value>,
    pub params: Option<Value>,
}

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Members, D::Error> {
        deserializer.deserialize_map(MembersVisitor)
    }
}

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC request object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        let mut members = Members::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "id" => members.id = Some(RequestId(map.next_value::<Box<RawValue>>()?)),
                "method" => members.method = Some(map.next_value()?),
                "params" => members.params = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_they_came() {
        for text in [
            "1e2",
            "-0",
            "1.50",
            "\"\\u0041\"",
            "{\"a\": [1 , 2]}",
            "null",
        ] {
            let members: Members = serde_json::from_str(&format!("{{\"id\": {text} }}")).unwrap();
            let id = members.id.unwrap();
            assert_eq!(id.as_json(), text);
            assert_eq!(serde_json::to_string(&id).unwrap(), text);
        }
        assert_eq!(RequestId::null().as_json(), "null");
        assert_ne!(RequestId::from(serde_json::json!(100)), {
            let m: Members = serde_json::from_str("{\"id\":1e2}").unwrap();
            m.id.unwrap()
        });
    }
}
