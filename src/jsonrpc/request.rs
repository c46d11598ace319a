//! Parsing one request line into a method call (spec §1.4 steps 1–2).

use super::RpcError;
use super::id::{Members, RequestId};
use serde_json::{Value, json};

/// A parsed request: the method name and its params, plus the `id` to echo back.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The request's `id`, any JSON value as the client wrote it, `null` when absent.
    pub id: RequestId,
    /// The method name.
    pub method: String,
    /// The params; `[]` when absent or `null`, as the reference substitutes.
    pub params: Value,
}

impl Request {
    /// Parses a request line. On failure returns the `id` to answer with (when one could be
    /// read) and the error.
    pub fn parse(line: &[u8]) -> Result<Request, (RequestId, RpcError)> {
        let text = std::str::from_utf8(line).map_err(|e| {
            (
                RequestId::null(),
                RpcError::internal(format!("Request is not valid UTF-8: {e}")),
            )
        })?;
        let members: Members = match serde_json::from_str(text) {
            Ok(members) => members,
            // Not an object, or not JSON: parsed again as any value to tell which.
            Err(_) => {
                return Err(match serde_json::from_str::<Value>(text) {
                    Ok(_) => (RequestId::null(), RpcError::missing_method()),
                    Err(e) => (
                        RequestId::null(),
                        RpcError::internal(format!("Request is not valid JSON: {e}")),
                    ),
                });
            }
        };
        let id = members.id.unwrap_or_else(RequestId::null);
        match members.method {
            Some(Value::String(method)) => Ok(Request {
                id,
                method,
                params: match members.params {
                    None | Some(Value::Null) => Value::Array(Vec::new()),
                    Some(params) => params,
                },
            }),
            _ => Err((id, RpcError::missing_method())),
        }
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
    use crate::jsonrpc::codes;

    fn parse(text: &str) -> Result<Request, (RequestId, RpcError)> {
        Request::parse(text.as_bytes())
    }

    fn id(value: Value) -> RequestId {
        RequestId::from(value)
    }

    #[test]
    fn params_default_to_an_empty_array() {
        let r = parse(r#"{"id":7,"method":"getStatus"}"#).unwrap();
        assert_eq!(
            (r.id, r.method, r.params),
            (id(json!(7)), "getStatus".into(), json!([]))
        );
        let r = parse(r#"{"method":"getStatus","params":null}"#).unwrap();
        assert_eq!((r.id, r.params), (RequestId::null(), json!([])));
    }

    #[test]
    fn any_id_is_echoed_unchanged() {
        let r = parse(r#"{"id":{"a":[1]},"method":"m","params":{}}"#).unwrap();
        assert_eq!(r.id, id(json!({"a":[1]})));
    }

    #[test]
    fn a_number_id_is_echoed_as_written_not_as_reprinted() {
        // Parsed and printed again, `1e2` came back as `100.0` and `-0` as `0`.
        for text in [
            "1e2",
            "-0",
            "1E+2",
            "0.10",
            "-1.0e-0",
            "12345678901234567890123",
        ] {
            let r = parse(&format!(r#"{{"id":{text},"method":"m"}}"#)).unwrap();
            assert_eq!(r.id.as_json(), text);
            let (echoed, _) = parse(&format!(r#"{{"id": {text} ,"method":5}}"#)).unwrap_err();
            assert_eq!(echoed.as_json(), text);
        }
        let r = parse(r#"{"id":1,"method":"a","id":"2","method":"b","params":null}"#).unwrap();
        assert_eq!((r.id.as_json(), r.method.as_str()), ("\"2\"", "b"));
    }

    #[test]
    fn a_float_id_is_echoed_to_the_last_digit() {
        // Found by tests/it/fuzz_requests.rs: without serde_json's `float_roundtrip`, parsing
        // could land one unit off, and the id came back as a different number.
        for text in ["1.3834428143949889e-207", "1.3834428143949887e-207"] {
            let r = parse(&format!(r#"{{"id":{text},"method":"m"}}"#)).unwrap();
            assert_eq!(r.id.as_json(), text);
        }
    }

    #[test]
    fn missing_or_non_string_method_is_invalid_request_with_id() {
        let (id, err) = parse(r#"{"id":"x","method":5}"#).unwrap_err();
        assert_eq!(id, RequestId::from(json!("x")));
        assert_eq!(err, RpcError::missing_method());
        let (id, err) = parse("[1,2]").unwrap_err();
        assert_eq!((id, err.code), (RequestId::null(), codes::INVALID_REQUEST));
    }

    #[test]
    fn garbage_is_an_internal_error_as_in_the_reference() {
        let (id, err) = parse("xyz").unwrap_err();
        assert_eq!((id, err.code), (RequestId::null(), codes::INTERNAL_ERROR));
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
