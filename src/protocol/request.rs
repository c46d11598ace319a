//! Parsing one request line into a method call (spec §1.4 steps 1–2).

use super::RpcError;
use serde_json::{Map, Value, json};

/// A parsed request: the method name and its params, plus the `id` to echo back.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The request's `id`, any JSON value, `null` when absent.
    pub id: Value,
    /// The method name.
    pub method: String,
    /// The params; `[]` when absent or `null`, as the reference substitutes.
    pub params: Value,
}

impl Request {
    /// Parses a request line. On failure returns the `id` to answer with (when one could be
    /// read) and the error.
    pub fn parse(line: &[u8]) -> Result<Request, (Value, RpcError)> {
        let text = std::str::from_utf8(line).map_err(|e| {
            (
                Value::Null,
                RpcError::internal(format!("Request is not valid UTF-8: {e}")),
            )
        })?;
        let value: Value = serde_json::from_str(text).map_err(|e| {
            (
                Value::Null,
                RpcError::internal(format!("Request is not valid JSON: {e}")),
            )
        })?;
        let Value::Object(mut object) = value else {
            return Err((Value::Null, RpcError::missing_method()));
        };
        let id = object.remove("id").unwrap_or(Value::Null);
        match object.remove("method") {
            Some(Value::String(method)) => Ok(Request {
                id,
                method,
                params: params_of(&mut object),
            }),
            _ => Err((id, RpcError::missing_method())),
        }
    }
}

fn params_of(object: &mut Map<String, Value>) -> Value {
    match object.remove("params") {
        None | Some(Value::Null) => Value::Array(Vec::new()),
        Some(params) => params,
    }
}

/// The line a client sends: `{"jsonrpc":"2.0","id":ID,"method":M[,"params":P]}` plus `\n`.
pub fn client_request_line(id: &str, method: &str, params: Option<&Value>) -> String {
    let mut request = json!({"jsonrpc": "2.0", "id": id, "method": method});
    if let Some(params) = params {
        request["params"] = params.clone();
    }
    let mut line = request.to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codes;

    fn parse(text: &str) -> Result<Request, (Value, RpcError)> {
        Request::parse(text.as_bytes())
    }

    #[test]
    fn params_default_to_an_empty_array() {
        let r = parse(r#"{"id":7,"method":"getStatus"}"#).unwrap();
        assert_eq!(
            (r.id, r.method, r.params),
            (json!(7), "getStatus".into(), json!([]))
        );
        let r = parse(r#"{"method":"getStatus","params":null}"#).unwrap();
        assert_eq!((r.id, r.params), (Value::Null, json!([])));
    }

    #[test]
    fn any_id_is_echoed_unchanged() {
        let r = parse(r#"{"id":{"a":[1]},"method":"m","params":{}}"#).unwrap();
        assert_eq!(r.id, json!({"a":[1]}));
    }

    #[test]
    fn a_float_id_is_echoed_to_the_last_digit() {
        // Found by tests/it/fuzz_requests.rs: without serde_json's `float_roundtrip`, parsing
        // could land one unit off, and the id came back as a different number.
        for text in ["1.3834428143949889e-207", "1.3834428143949887e-207"] {
            let r = parse(&format!(r#"{{"id":{text},"method":"m"}}"#)).unwrap();
            assert_eq!(r.id.to_string(), text);
        }
    }

    #[test]
    fn missing_or_non_string_method_is_invalid_request_with_id() {
        let (id, err) = parse(r#"{"id":"x","method":5}"#).unwrap_err();
        assert_eq!(id, json!("x"));
        assert_eq!(err, RpcError::missing_method());
        let (id, err) = parse("[1,2]").unwrap_err();
        assert_eq!((id, err.code), (Value::Null, codes::INVALID_REQUEST));
    }

    #[test]
    fn garbage_is_an_internal_error_as_in_the_reference() {
        let (id, err) = parse("xyz").unwrap_err();
        assert_eq!((id, err.code), (Value::Null, codes::INTERNAL_ERROR));
        assert!(err.message.starts_with("Request is not valid JSON"));
        let (_, err) = Request::parse(b"{\"method\":\"\xff\"}").unwrap_err();
        assert!(err.message.starts_with("Request is not valid UTF-8"));
    }

    #[test]
    fn client_line_omits_absent_params() {
        assert_eq!(
            client_request_line("1", "getStatus", None),
            "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"method\":\"getStatus\"}\n"
        );
        assert!(client_request_line("1", "m", Some(&json!([]))).ends_with(",\"params\":[]}\n"));
    }
}
