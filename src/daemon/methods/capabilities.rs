//! The capability methods (ocap extensions, beside the reference's `issueOcapURL` and
//! `redeemOcapURL`): issue with a label and expiry, list, revoke one URL, and invoke by URL.
//! `invokeCapability` is also what the least-authority socket serves.

use super::superstruct::{self, Field, Kind};
use crate::daemon::shared::Shared;
use crate::jsonrpc::RpcError;
use crate::kernel::{Call, IssueOptions, Redeemable, now_ms};
use serde_json::{Map, Value};

/// The kernel call for a capability `method`, or `None` if it is not one.
pub fn parse(method: &str, params: &Value) -> Option<Result<Call, RpcError>> {
    Some(match method {
        "issueCapability" => issue(params),
        "listCapabilities" => superstruct::empty_array(params).map(|()| Call::ListCapabilities),
        "revokeCapability" => revoke(params),
        "invokeCapability" => invoke(params),
        _ => return None,
    })
}

/// Runs a parsed call. A new capability's result also names the socket to present it on:
/// the capability socket, or `null` when the daemon has none.
pub async fn call(shared: &Shared, call: Call) -> Result<Value, RpcError> {
    let issuing = matches!(call, Call::IssueCapability { .. });
    let mut result = shared
        .kernel
        .call(call)
        .await
        .map_err(super::kernel_control::rpc_error)?;
    if issuing {
        result["socket"] = shared.info["capSocket"].clone();
    }
    Ok(result)
}

/// `{kref: KRef, label?: string, expiresIn?: integer ≥ 1}` (seconds).
fn issue(params: &Value) -> Result<Call, RpcError> {
    const SCHEMA: &[Field] = &[
        ("kref", Kind::KREF),
        ("label", Kind::Optional(&Kind::String)),
        ("expiresIn", Kind::Optional(&Kind::IntegerAtLeast(1))),
    ];
    let fields = superstruct::object(params, SCHEMA)?;
    let expires = fields.get("expiresIn").and_then(Value::as_f64).map(|secs| {
        let ms = now_ms() as f64 + secs * 1000.0;
        ms.min(u64::MAX as f64) as u64
    });
    Ok(Call::IssueCapability {
        kref: text(&fields, "kref"),
        options: IssueOptions {
            label: fields.get("label").map(|_| text(&fields, "label")),
            expires,
        },
    })
}

/// `{id: string}`.
fn revoke(params: &Value) -> Result<Call, RpcError> {
    let fields = superstruct::object(params, &[("id", Kind::String)])?;
    Ok(Call::RevokeCapability(text(&fields, "id")))
}

/// `{url: string, method: string, args?: Json[]}`.
fn invoke(params: &Value) -> Result<Call, RpcError> {
    const SCHEMA: &[Field] = &[
        ("url", Kind::String),
        ("method", Kind::String),
        ("args", Kind::Optional(&Kind::ArrayOf(&Kind::JSON))),
    ];
    let fields = superstruct::object(params, SCHEMA)?;
    let args = fields.get("args").and_then(Value::as_array);
    Ok(Call::InvokeCapability {
        url: Redeemable::Unopened(text(&fields, "url")),
        method: text(&fields, "method"),
        args: args.cloned().unwrap_or_default(),
    })
}

fn text(fields: &Map<String, Value>, name: &str) -> String {
    let value = fields.get(name).and_then(Value::as_str);
    value.unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(method: &str, params: Value) -> Result<Call, String> {
        parse(method, &params).unwrap().map_err(|e| e.message)
    }

    #[test]
    fn params_are_checked_strictly() {
        assert!(matches!(
            parsed("issueCapability", json!({"kref": "ko4", "label": "x", "expiresIn": 60})),
            Ok(Call::IssueCapability { kref, options }) if kref == "ko4"
                && options.label.as_deref() == Some("x") && options.expires.is_some()
        ));
        for bad in [
            json!({"kref": "x4"}),
            json!({"kref": "ko4", "expiresIn": 0}),
            json!({"kref": "ko4", "other": 1}),
            json!([]),
        ] {
            let err = parsed("issueCapability", bad.clone()).unwrap_err();
            assert!(err.starts_with("Invalid params"), "{bad}: {err}");
        }
        assert!(matches!(
            parsed("invokeCapability", json!({"url": "u", "method": "m"})),
            Ok(Call::InvokeCapability { args, .. }) if args.is_empty()
        ));
        assert!(parsed("invokeCapability", json!({"url": "u"})).is_err());
        assert!(parsed("listCapabilities", json!({})).is_err());
        assert!(parsed("revokeCapability", json!({"id": 1})).is_err());
        assert!(parse("nope", &json!([])).is_none());
    }
}
