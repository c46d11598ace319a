//! Responses: `{"jsonrpc":"2.0","id":…,"result":…}` or `{…,"error":{"code","message"}}`.

use super::RpcError;
use super::id::RequestId;
use serde::Serialize;
use serde_json::Value;

/// One response line's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The request's `id`, echoed unchanged (`null` when it had none or could not be read).
    pub id: RequestId,
    /// The method's result or its error.
    pub outcome: Result<Value, RpcError>,
}

/// Field order matters to byte-level compatibility: `jsonrpc`, `id`, then `result`/`error`.
#[derive(Serialize)]
struct Wire<'a> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RpcError>,
}

/// Why a response line could not be understood by a client.
#[derive(Debug, thiserror::Error)]
pub enum ResponseParseError {
    /// The line is not JSON.
    #[error("the daemon sent invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The line is JSON but not a JSON-RPC response.
    #[error("the daemon sent something that is not a JSON-RPC response")]
    Shape,
}

impl Response {
    /// A successful response.
    pub fn ok(id: impl Into<RequestId>, result: Value) -> Response {
        Response {
            id: id.into(),
            outcome: Ok(result),
        }
    }

    /// An error response.
    pub fn error(id: impl Into<RequestId>, error: RpcError) -> Response {
        Response {
            id: id.into(),
            outcome: Err(error),
        }
    }

    /// The response as one line, newline included.
    pub fn to_line(&self) -> String {
        let wire = Wire {
            jsonrpc: "2.0",
            id: &self.id,
            result: self.outcome.as_ref().ok(),
            error: self.outcome.as_ref().err(),
        };
        let mut line = serde_json::to_string(&wire).expect("JSON values always serialize");
        line.push('\n');
        line
    }

    /// Parses a response line received by a client.
    pub fn parse(line: &str) -> Result<Response, ResponseParseError> {
        let value: Value = serde_json::from_str(line)?;
        let Value::Object(mut object) = value else {
            return Err(ResponseParseError::Shape);
        };
        let id = object.remove("id").unwrap_or(Value::Null);
        if let Some(error) = object.remove("error") {
            let error: RpcError =
                serde_json::from_value(error).map_err(|_| ResponseParseError::Shape)?;
            return Ok(Response::error(id, error));
        }
        match object.remove("result") {
            Some(result) => Ok(Response::ok(id, result)),
            None => Err(ResponseParseError::Shape),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn result_line_has_the_reference_key_order() {
        let line = Response::ok(json!("a"), json!({"status": "shutting down"})).to_line();
        assert_eq!(
            line,
            "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{\"status\":\"shutting down\"}}\n"
        );
    }

    #[test]
    fn error_line_has_no_data_field() {
        let line = Response::error(Value::Null, RpcError::one_request_only()).to_line();
        assert_eq!(
            line,
            "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Only one request per connection is allowed\"}}\n"
        );
    }

    #[test]
    fn null_results_are_kept() {
        let line = Response::ok(json!(1), Value::Null).to_line();
        assert_eq!(line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}\n");
        assert_eq!(Response::parse(&line).unwrap().outcome, Ok(Value::Null));
    }

    #[test]
    fn parse_round_trips_errors_and_rejects_other_shapes() {
        let line = Response::error(json!(2), RpcError::method_not_found()).to_line();
        assert_eq!(
            Response::parse(&line).unwrap().outcome,
            Err(RpcError::method_not_found())
        );
        assert!(Response::parse("[1]").is_err());
        assert!(Response::parse("{\"id\":1}").is_err());
    }
}
