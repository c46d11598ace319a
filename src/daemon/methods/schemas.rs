//! The params of every kernel-control method (spec §2), checked against the reference's schemas
//! (`ocap-kernel/src/rpc/kernel-control/*.ts`, `ocap-kernel/src/types.ts`) and returned typed.
//!
//! | Methods | Schema | Parse with |
//! |---|---|---|
//! | `getStatus`, `terminateAllVats`, `collectGarbage`, `clearState` | `EmptyJsonArray` | [`no_params`] |
//! | `pingVat`, `restartVat`, `terminateVat` | `{id: VatId}` | [`vat_id`] |
//! | `terminateSubcluster` | `{id: SubclusterId}` | [`subcluster_id`] |
//! | `revoke`, `isRevoked`, `issueOcapURL` | `{kref: KRef}` | [`kref`] |
//! | `redeemOcapURL` | `{url: string}` | [`url`] |
//! | `executeDBQuery` | `{sql: string}` | [`sql`] |
//! | `queueMessage` | `[KRef, string, Json[]]` | [`queue_message`] |
//! | `launchSubcluster` | `{config: ClusterConfig}` | [`launch_subcluster`] |
//! | `initRemoteComms` | `{relays?, directListenAddresses?, maxRetryAttempts?, …}` | [`remote_comms_options`] |
//! | `registerLocationHints` | `{peerId: string, hints: string[]}` | [`location_hints`] |

use super::superstruct::{self, Field, Kind};
use crate::jsonrpc::RpcError;
use crate::kernel::config::{ALLOWED_GLOBAL_NAMES, ClusterConfig};
use serde_json::{Map, Value};

/// `EmptyJsonArray`: the params of `getStatus`, `terminateAllVats`, `collectGarbage` and
/// `clearState` must be exactly `[]`.
pub fn no_params(params: &Value) -> Result<(), RpcError> {
    superstruct::empty_array(params)
}

/// `{id: VatId}`: the vat of `pingVat`, `restartVat` and `terminateVat`.
pub fn vat_id(params: &Value) -> Result<String, RpcError> {
    only_string(params, &[("id", Kind::VAT_ID)])
}

/// `{id: SubclusterId}`: the subcluster of `terminateSubcluster`.
pub fn subcluster_id(params: &Value) -> Result<String, RpcError> {
    only_string(params, &[("id", Kind::SUBCLUSTER_ID)])
}

/// `{kref: KRef}`: the object of `revoke`, `isRevoked` and `issueOcapURL`.
pub fn kref(params: &Value) -> Result<String, RpcError> {
    only_string(params, &[("kref", Kind::KREF)])
}

/// `{url: string}`: the URL of `redeemOcapURL`.
pub fn url(params: &Value) -> Result<String, RpcError> {
    only_string(params, &[("url", Kind::String)])
}

/// `{sql: string}`: the query of `executeDBQuery`.
pub fn sql(params: &Value) -> Result<String, RpcError> {
    only_string(params, &[("sql", Kind::String)])
}

/// A one-field object schema whose field is a string; returns that string.
fn only_string(params: &Value, schema: &'static [Field; 1]) -> Result<String, RpcError> {
    let fields = superstruct::object(params, schema)?;
    Ok(string(&fields, schema[0].0))
}

/// `queueMessage`'s params (spec §2.3).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueMessage {
    /// The kref the message is sent to.
    pub target: String,
    /// The method name.
    pub method: String,
    /// The arguments, plain JSON.
    pub args: Vec<Value>,
}

/// `tuple([KRefStruct, string(), array(UnsafeJsonStruct)])`.
pub fn queue_message(params: &Value) -> Result<QueueMessage, RpcError> {
    const SCHEMA: Kind = Kind::Tuple(&[Kind::KREF, Kind::String, Kind::ArrayOf(&Kind::JSON)]);
    superstruct::validate(params, SCHEMA)?;
    let text = |i: usize| params.get(i).and_then(Value::as_str).unwrap_or_default();
    let args = params.get(2).and_then(Value::as_array);
    Ok(QueueMessage {
        target: text(0).to_owned(),
        method: text(1).to_owned(),
        args: args.cloned().unwrap_or_default(),
    })
}

/// `{config: ClusterConfigStruct}`. The kernel's own check that the bootstrap vat exists comes
/// later ([`ClusterConfig::bootstrap_vat`]), as in the reference.
pub fn launch_subcluster(params: &Value) -> Result<ClusterConfig, RpcError> {
    let mut fields = superstruct::object(params, &[("config", CLUSTER_CONFIG)])?;
    let config = fields.remove("config").unwrap_or_default();
    Ok(ClusterConfig::from_validated(config))
}

/// `initRemoteComms`'s params: each one optional.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(
    not(feature = "remote"),
    allow(
        dead_code,
        reason = "served only with remote comms (cargo feature `remote`)"
    )
)]
pub struct RemoteCommsOptions {
    /// `relays`.
    pub relays: Option<Vec<String>>,
    /// `directListenAddresses`.
    pub direct_listen_addresses: Option<Vec<String>>,
    /// `maxRetryAttempts` (≥ 0; 0 means retry forever).
    pub max_retry_attempts: Option<u64>,
    /// `maxQueue` (≥ 0).
    pub max_queue: Option<u64>,
    /// `maxUrlRelayHints` (≥ 1).
    pub max_url_relay_hints: Option<u64>,
    /// `maxKnownRelays` (≥ 1).
    pub max_known_relays: Option<u64>,
    /// `allowedWsHosts`.
    pub allowed_ws_hosts: Option<Vec<String>>,
}

/// `object({relays: optional(array(string())), …, maxQueue: optional(min(integer(), 0)), …})`.
/// Integers too large for a `u64` saturate.
#[cfg_attr(
    not(feature = "remote"),
    allow(
        dead_code,
        reason = "served only with remote comms (cargo feature `remote`)"
    )
)]
pub fn remote_comms_options(params: &Value) -> Result<RemoteCommsOptions, RpcError> {
    const STRINGS: Kind = Kind::Optional(&Kind::ArrayOf(&Kind::String));
    const SCHEMA: &[Field] = &[
        ("relays", STRINGS),
        ("directListenAddresses", STRINGS),
        ("maxRetryAttempts", Kind::Optional(&Kind::IntegerAtLeast(0))),
        ("maxQueue", Kind::Optional(&Kind::IntegerAtLeast(0))),
        ("maxUrlRelayHints", Kind::Optional(&Kind::IntegerAtLeast(1))),
        ("maxKnownRelays", Kind::Optional(&Kind::IntegerAtLeast(1))),
        ("allowedWsHosts", STRINGS),
    ];
    let fields = superstruct::object(params, SCHEMA)?;
    let count = |name: &str| fields.get(name).and_then(Value::as_f64).map(|x| x as u64);
    let list = |name: &str| fields.get(name).map(|_| strings(&fields, name));
    Ok(RemoteCommsOptions {
        relays: list("relays"),
        direct_listen_addresses: list("directListenAddresses"),
        max_retry_attempts: count("maxRetryAttempts"),
        max_queue: count("maxQueue"),
        max_url_relay_hints: count("maxUrlRelayHints"),
        max_known_relays: count("maxKnownRelays"),
        allowed_ws_hosts: list("allowedWsHosts"),
    })
}

/// `registerLocationHints`'s params.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    not(feature = "remote"),
    allow(
        dead_code,
        reason = "served only with remote comms (cargo feature `remote`)"
    )
)]
pub struct LocationHints {
    /// The peer the hints are about.
    pub peer_id: String,
    /// Multiaddrs where it may be found.
    pub hints: Vec<String>,
}

/// `object({peerId: string(), hints: array(string())})`.
#[cfg_attr(
    not(feature = "remote"),
    allow(
        dead_code,
        reason = "served only with remote comms (cargo feature `remote`)"
    )
)]
pub fn location_hints(params: &Value) -> Result<LocationHints, RpcError> {
    const SCHEMA: &[Field] = &[
        ("peerId", Kind::String),
        ("hints", Kind::ArrayOf(&Kind::String)),
    ];
    let fields = superstruct::object(params, SCHEMA)?;
    Ok(LocationHints {
        peer_id: string(&fields, "peerId"),
        hints: strings(&fields, "hints"),
    })
}

/// A validated string field.
fn string(fields: &Map<String, Value>, name: &str) -> String {
    let text = fields.get(name).and_then(Value::as_str);
    text.unwrap_or_default().to_owned()
}

/// A validated array-of-strings field.
fn strings(fields: &Map<String, Value>, name: &str) -> Vec<String> {
    let items = fields.get(name).and_then(Value::as_array);
    items
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// `ClusterConfigStruct` (spec §3.1).
const CLUSTER_CONFIG: Kind = Kind::Object(&[
    ("bootstrap", Kind::String),
    ("forceReset", Kind::Optional(&Kind::Boolean)),
    ("services", Kind::Optional(&Kind::ArrayOf(&Kind::String))),
    ("io", Kind::Optional(&Kind::Record(&IO_CONFIG))),
    ("vats", Kind::Record(&VAT_CONFIG)),
    ("bundles", Kind::Optional(&Kind::Record(&VAT_CONFIG))),
]);

/// `IOConfigStruct` (spec §3.4): `union([assign(ConsoleIOSpec, IOExtra), …])`, five strict
/// objects, so a bad channel reports "a union of `object | object | object | object | object`".
const IO_CONFIG: Kind = Kind::Union(&[
    Kind::Object(&[("type", Kind::Literal("console")), IO_DIRECTION, IO_UNIT]),
    Kind::Object(&[
        ("type", Kind::Literal("listen")),
        ("hostport", Kind::String),
        IO_DIRECTION,
        IO_UNIT,
    ]),
    Kind::Object(&[
        ("type", Kind::Literal("network")),
        ("hostport", Kind::String),
        IO_DIRECTION,
        IO_UNIT,
    ]),
    Kind::Object(&[
        ("type", Kind::Literal("file")),
        ("path", Kind::String),
        IO_DIRECTION,
        IO_UNIT,
    ]),
    Kind::Object(&[
        ("type", Kind::Literal("socket")),
        ("path", Kind::String),
        IO_DIRECTION,
        IO_UNIT,
    ]),
]);

const IO_DIRECTION: Field = (
    "direction",
    Kind::Optional(&Kind::Union(&[
        Kind::Literal("in"),
        Kind::Literal("out"),
        Kind::Literal("inout"),
    ])),
);

const IO_UNIT: Field = (
    "unit",
    Kind::Optional(&Kind::Union(&[
        Kind::Literal("line"),
        Kind::Literal("string"),
        Kind::Literal("chars"),
        Kind::Literal("bytes"),
    ])),
);

/// `VatConfigStruct = define('VatConfig', …)` (spec §3.2). Its test returns only true or false,
/// so every bad vat config gives the same message: "Expected a value of type `VatConfig`".
const VAT_CONFIG: Kind = Kind::Define("VatConfig", is_vat_config);

/// The reference's test: after taking out the five optional keys, exactly one code spec
/// (`sourceSpec`, `bundleSpec` or `bundleName`, a string) must remain; each optional key that is
/// present and truthy must then pass its own schema. (Falsy ones — `null`, `false`, `0`, `""` —
/// are skipped, as in the reference. Non-objects never pass: spreading them leaves no code spec.)
fn is_vat_config(value: &Value) -> bool {
    const OPTIONAL_KEYS: [&str; 5] = [
        "creationOptions",
        "parameters",
        "platformConfig",
        "globals",
        "network",
    ];
    let Value::Object(config) = value else {
        return false;
    };
    let spec_only: Map<String, Value> = config
        .iter()
        .filter(|(key, _)| !OPTIONAL_KEYS.contains(&key.as_str()))
        .map(|(key, item)| (key.clone(), item.clone()))
        .collect();
    let passes = |key: &str, kind: Kind| {
        config
            .get(key)
            .filter(|item| truthy(item))
            .is_none_or(|item| superstruct::is(item, kind))
    };
    // `creationOptions` and `parameters` must be `UnsafeJsonStruct`s, which any JSON value is.
    superstruct::is(&Value::Object(spec_only), USER_CODE_SPEC)
        && passes("platformConfig", PLATFORM_CONFIG)
        && passes(
            "globals",
            Kind::ArrayOf(&Kind::OneOf(&ALLOWED_GLOBAL_NAMES)),
        )
        && passes("network", NETWORK)
}

/// `UserCodeSpecStruct`: exactly one of the three code specs.
const USER_CODE_SPEC: Kind = Kind::Union(&[
    Kind::Object(&[("sourceSpec", Kind::String)]),
    Kind::Object(&[("bundleSpec", Kind::String)]),
    Kind::Object(&[("bundleName", Kind::String)]),
]);

/// `platformConfigStruct` (`kernel-platforms/src/capabilities`).
const PLATFORM_CONFIG: Kind = Kind::Object(&[(
    "fs",
    Kind::Optional(&Kind::Object(&[
        ("rootDir", Kind::String),
        ("existsSync", Kind::Optional(&Kind::Boolean)),
        (
            "promises",
            Kind::Optional(&Kind::Object(&[
                ("readFile", Kind::Optional(&Kind::Boolean)),
                ("access", Kind::Optional(&Kind::Boolean)),
            ])),
        ),
    ])),
)]);

/// `vatNetworkConfigStruct`.
const NETWORK: Kind = Kind::Object(&[("allowedHosts", Kind::ArrayOf(&Kind::String))]);

/// JavaScript truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Parses `params` as `method` would; `"ok"` or the error message.
    fn outcome(method: &str, params: &str) -> String {
        fn text<T>(result: Result<T, RpcError>) -> String {
            result.map_or_else(|e| e.message, |_| "ok".into())
        }
        let p: Value = serde_json::from_str(params).unwrap();
        match method {
            "getStatus" | "terminateAllVats" | "collectGarbage" | "clearState" => {
                text(no_params(&p))
            }
            "pingVat" | "restartVat" | "terminateVat" => text(vat_id(&p)),
            "terminateSubcluster" => text(subcluster_id(&p)),
            "revoke" | "isRevoked" | "issueOcapURL" => text(kref(&p)),
            "redeemOcapURL" => text(url(&p)),
            "executeDBQuery" => text(sql(&p)),
            "queueMessage" => text(queue_message(&p)),
            "launchSubcluster" => text(launch_subcluster(&p)),
            "initRemoteComms" => text(remote_comms_options(&p)),
            "registerLocationHints" => text(location_hints(&p)),
            _ => panic!("no such method {method}"),
        }
    }

    /// Spec §2's schemas: each row's expected text is what `@metamask/superstruct` 3.2.1 (with
    /// `@metamask/utils` 11.11.0) printed for the reference's struct definitions, behind the
    /// reference's `Invalid params: `, run in Node.
    const REFERENCE_OUTCOMES: &[(&str, &str, &str)] = &[
        ("getStatus", r#"[]"#, r#"ok"#),
        (
            "getStatus",
            r#"{}"#,
            r#"Invalid params: Expected an array value, but received: [object Object]"#,
        ),
        (
            "getStatus",
            r#"[null]"#,
            r#"Invalid params: Expected an empty array but received one with a size of `1`"#,
        ),
        (
            "clearState",
            r#""x""#,
            r#"Invalid params: Expected an array value, but received: "x""#,
        ),
        ("pingVat", r#"{"id":"v1"}"#, r#"ok"#),
        (
            "pingVat",
            r#"{}"#,
            r#"Invalid params: At path: id -- Expected a value of type `VatId`, but received: `undefined`"#,
        ),
        (
            "pingVat",
            r#"{"id":"x1"}"#,
            r#"Invalid params: At path: id -- Expected a value of type `VatId`, but received: `"x1"`"#,
        ),
        (
            "pingVat",
            r#"{"vatId":"v1"}"#,
            r#"Invalid params: At path: id -- Expected a value of type `VatId`, but received: `undefined`"#,
        ),
        (
            "pingVat",
            r#"[]"#,
            r#"Invalid params: At path: id -- Expected a value of type `VatId`, but received: `undefined`"#,
        ),
        (
            "pingVat",
            r#"{"id":1}"#,
            r#"Invalid params: At path: id -- Expected a value of type `VatId`, but received: `1`"#,
        ),
        (
            "pingVat",
            r#"{"id":"v1","x":1}"#,
            r#"Invalid params: At path: x -- Expected a value of type `never`, but received: `1`"#,
        ),
        (
            "pingVat",
            r#""v1""#,
            r#"Invalid params: Expected an object, but received: "v1""#,
        ),
        (
            "pingVat",
            r#"null"#,
            r#"Invalid params: Expected an object, but received: null"#,
        ),
        ("terminateSubcluster", r#"{"id":"s1"}"#, r#"ok"#),
        (
            "terminateSubcluster",
            r#"{"id":"v1"}"#,
            r#"Invalid params: At path: id -- Expected a value of type `SubclusterId`, but received: `"v1"`"#,
        ),
        (
            "terminateSubcluster",
            r#"{"id":null}"#,
            r#"Invalid params: At path: id -- Expected a value of type `SubclusterId`, but received: `null`"#,
        ),
        ("revoke", r#"{"kref":"ko1"}"#, r#"ok"#),
        ("revoke", r#"{"kref":"kp12"}"#, r#"ok"#),
        (
            "revoke",
            r#"{"kref":"ko"}"#,
            r#"Invalid params: At path: kref -- Expected a value of type `KRef`, but received: `"ko"`"#,
        ),
        (
            "revoke",
            r#"{"kref":["ko1"]}"#,
            r#"Invalid params: At path: kref -- Expected a value of type `KRef`, but received: `ko1`"#,
        ),
        ("redeemOcapURL", r#"{"url":"ocap:abc@peer"}"#, r#"ok"#),
        (
            "redeemOcapURL",
            r#"{"url":null}"#,
            r#"Invalid params: At path: url -- Expected a string, but received: null"#,
        ),
        (
            "redeemOcapURL",
            r#"{"url":"u","uri":"u"}"#,
            r#"Invalid params: At path: uri -- Expected a value of type `never`, but received: `"u"`"#,
        ),
        ("executeDBQuery", r#"{"sql":"SELECT 1"}"#, r#"ok"#),
        (
            "executeDBQuery",
            r#"{"sql":1.0}"#,
            r#"Invalid params: At path: sql -- Expected a string, but received: 1"#,
        ),
        ("queueMessage", r#"["ko4","resume",[]]"#, r#"ok"#),
        (
            "queueMessage",
            r#"["kp1","m",[1,"a",{"b":[null]}]]"#,
            r#"ok"#,
        ),
        (
            "queueMessage",
            r#"[]"#,
            r#"Invalid params: At path: 0 -- Expected a value of type `KRef`, but received: `undefined`"#,
        ),
        (
            "queueMessage",
            r#"["ko1","m"]"#,
            r#"Invalid params: At path: 2 -- Expected an array value, but received: undefined"#,
        ),
        (
            "queueMessage",
            r#"{"target":"ko1"}"#,
            r#"Invalid params: Expected an array, but received: [object Object]"#,
        ),
        (
            "queueMessage",
            r#"["v1","m",[]]"#,
            r#"Invalid params: At path: 0 -- Expected a value of type `KRef`, but received: `"v1"`"#,
        ),
        (
            "queueMessage",
            r#"["ko1",5,[]]"#,
            r#"Invalid params: At path: 1 -- Expected a string, but received: 5"#,
        ),
        (
            "queueMessage",
            r#"["ko1","m",{}]"#,
            r#"Invalid params: At path: 2 -- Expected an array value, but received: [object Object]"#,
        ),
        (
            "queueMessage",
            r#"["ko1","m",[],1]"#,
            r#"Invalid params: At path: 3 -- Expected a value of type `never`, but received: `1`"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"main","vats":{"main":{"bundleSpec":"file:///m.bundle","parameters":{"name":"M"}}}}}"#,
            r#"ok"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"io","io":{"repl":{"type":"socket","path":"/run/io.sock"}},"services":["repl","ocapURLIssuerService"],"vats":{"io":{"bundleSpec":"file:///io.bundle","parameters":{"name":"io"}}}}}"#,
            r#"ok"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"nope","vats":{}}}"#,
            r#"ok"#,
        ),
        (
            "launchSubcluster",
            r#"[]"#,
            r#"Invalid params: At path: config -- Expected an object, but received: undefined"#,
        ),
        (
            "launchSubcluster",
            r#"{}"#,
            r#"Invalid params: At path: config -- Expected an object, but received: undefined"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":[]}"#,
            r#"Invalid params: At path: config.bootstrap -- Expected a string, but received: undefined"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"vats":{}}}"#,
            r#"Invalid params: At path: config.bootstrap -- Expected a string, but received: undefined"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a"}}"#,
            r#"Invalid params: At path: config.vats -- Expected an object, but received: undefined"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":"a"}}"#,
            r#"Invalid params: At path: config.vats -- Expected an object, but received: "a""#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{},"forceReset":"yes"}}"#,
            r#"Invalid params: At path: config.forceReset -- Expected a value of type `boolean`, but received: `"yes"`"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{},"services":"s"}}"#,
            r#"Invalid params: At path: config.services -- Expected an array value, but received: "s""#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{},"services":["s",2]}}"#,
            r#"Invalid params: At path: config.services.1 -- Expected a string, but received: 2"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{}}}}"#,
            r#"Invalid params: At path: config.vats.a -- Expected a value of type `VatConfig`, but received: `[object Object]`"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":"file:///a.bundle"}}}"#,
            r#"Invalid params: At path: config.vats.a -- Expected a value of type `VatConfig`, but received: `"file:///a.bundle"`"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x","sourceSpec":"y"}}}}"#,
            r#"Invalid params: At path: config.vats.a -- Expected a value of type `VatConfig`, but received: `[object Object]`"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x","name":"y"}}}}"#,
            r#"Invalid params: At path: config.vats.a -- Expected a value of type `VatConfig`, but received: `[object Object]`"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x","globals":["eval"]}}}}"#,
            r#"Invalid params: At path: config.vats.a -- Expected a value of type `VatConfig`, but received: `[object Object]`"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x","globals":["Date","fetch"],"network":{"allowedHosts":["example.com"]}}}}}"#,
            r#"ok"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x","network":{}}}}}"#,
            r#"Invalid params: At path: config.vats.a -- Expected a value of type `VatConfig`, but received: `[object Object]`"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x","globals":null,"network":0,"platformConfig":""}}}}"#,
            r#"ok"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x","platformConfig":{"fs":{"rootDir":"/d","existsSync":true,"promises":{"readFile":true}}}}}}}"#,
            r#"ok"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x","platformConfig":{"fs":{}}}}}}"#,
            r#"Invalid params: At path: config.vats.a -- Expected a value of type `VatConfig`, but received: `[object Object]`"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleName":"b","parameters":5,"creationOptions":[1]}}}}"#,
            r#"ok"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"b":{"bundleSpec":"x"},"10":[],"a":null}}}"#,
            r#"Invalid params: At path: config.vats.10 -- Expected a value of type `VatConfig`, but received: ``"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"0","vats":[{"bundleSpec":"x"}]}}"#,
            r#"ok"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x"}},"io":{"r":{"type":"socket"}}}}"#,
            r#"Invalid params: At path: config.io.r -- Expected the value to satisfy a union of `object | object | object | object | object`, but received: [object Object]"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x"}},"io":{"r":{"type":"listen","hostport":"h:1","direction":"in","unit":"bytes"}}}}"#,
            r#"ok"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x"}},"io":{"r":{"type":"file","path":"/p","direction":"up"}}}}"#,
            r#"Invalid params: At path: config.io.r -- Expected the value to satisfy a union of `object | object | object | object | object`, but received: [object Object]"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x"}},"io":"r"}}"#,
            r#"Invalid params: At path: config.io -- Expected an object, but received: "r""#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x"}},"bundles":{"b":{}}}}"#,
            r#"Invalid params: At path: config.bundles.b -- Expected a value of type `VatConfig`, but received: `[object Object]`"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x"}},"extra":true}}"#,
            r#"Invalid params: At path: config.extra -- Expected a value of type `never`, but received: `true`"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"x"}}},"x":1}"#,
            r#"Invalid params: At path: x -- Expected a value of type `never`, but received: `1`"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"vats":5,"bootstrap":7}}"#,
            r#"Invalid params: At path: config.bootstrap -- Expected a string, but received: 7"#,
        ),
        (
            "launchSubcluster",
            r#"{"config":{"bootstrap":"a","vats":1,"forceReset":1}}"#,
            r#"Invalid params: At path: config.forceReset -- Expected a value of type `boolean`, but received: `1`"#,
        ),
        ("initRemoteComms", r#"{}"#, r#"ok"#),
        ("initRemoteComms", r#"[]"#, r#"ok"#),
        (
            "initRemoteComms",
            r#"{"relays":["/dns4/r/tcp/9001/ws/p2p/x"],"maxRetryAttempts":0,"maxQueue":200,"maxUrlRelayHints":3,"maxKnownRelays":20,"allowedWsHosts":["h"],"directListenAddresses":[]}"#,
            r#"ok"#,
        ),
        (
            "initRemoteComms",
            r#"{"maxQueue":-1}"#,
            r#"Invalid params: At path: maxQueue -- Expected a integer greater than or equal to 0 but received `-1`"#,
        ),
        (
            "initRemoteComms",
            r#"{"maxUrlRelayHints":0}"#,
            r#"Invalid params: At path: maxUrlRelayHints -- Expected a integer greater than or equal to 1 but received `0`"#,
        ),
        (
            "initRemoteComms",
            r#"{"maxKnownRelays":2.5}"#,
            r#"Invalid params: At path: maxKnownRelays -- Expected an integer, but received: 2.5"#,
        ),
        (
            "initRemoteComms",
            r#"{"relays":null}"#,
            r#"Invalid params: At path: relays -- Expected an array value, but received: null"#,
        ),
        (
            "initRemoteComms",
            r#"{"mnemonic":"abandon"}"#,
            r#"Invalid params: At path: mnemonic -- Expected a value of type `never`, but received: `"abandon"`"#,
        ),
        (
            "registerLocationHints",
            r#"{"peerId":"p","hints":["/ip4/1.2.3.4/tcp/1"]}"#,
            r#"ok"#,
        ),
        (
            "registerLocationHints",
            r#"{"peerId":"p"}"#,
            r#"Invalid params: At path: hints -- Expected an array value, but received: undefined"#,
        ),
        (
            "registerLocationHints",
            r#"{"hints":[],"peerId":1}"#,
            r#"Invalid params: At path: peerId -- Expected a string, but received: 1"#,
        ),
    ];

    #[test]
    fn spec_2_params_give_the_reference_texts() {
        for (method, params, expected) in REFERENCE_OUTCOMES {
            assert_eq!(outcome(method, params), *expected, "{method} {params}");
        }
    }

    #[test]
    fn spec_2_methods_sharing_a_schema_share_its_texts() {
        for method in ["pingVat", "restartVat", "terminateVat"] {
            assert_eq!(
                outcome(method, r#"{"id":"x1"}"#),
                "Invalid params: At path: id -- Expected a value of type `VatId`, but received: `\"x1\"`"
            );
        }
        for method in ["revoke", "isRevoked", "issueOcapURL"] {
            assert_eq!(
                outcome(method, "{}"),
                "Invalid params: At path: kref -- Expected a value of type `KRef`, but received: `undefined`"
            );
        }
        for method in [
            "getStatus",
            "terminateAllVats",
            "collectGarbage",
            "clearState",
        ] {
            assert_eq!(outcome(method, "[]"), "ok");
        }
    }

    #[test]
    fn ids_and_strings_come_back_typed() {
        assert_eq!(vat_id(&json!({"id": "v12"})).unwrap(), "v12");
        assert_eq!(subcluster_id(&json!({"id": "s3"})).unwrap(), "s3");
        assert_eq!(kref(&json!({"kref": "kp7"})).unwrap(), "kp7");
        assert_eq!(url(&json!({"url": "ocap:z@p"})).unwrap(), "ocap:z@p");
        assert_eq!(sql(&json!({"sql": "SELECT 1"})).unwrap(), "SELECT 1");
    }

    #[test]
    fn spec_2_3_queue_message_comes_back_typed() {
        let message = queue_message(&json!(["ko4", "resume", [1, {"a": null}]])).unwrap();
        assert_eq!(
            message,
            QueueMessage {
                target: "ko4".into(),
                method: "resume".into(),
                args: vec![json!(1), json!({"a": null})],
            }
        );
    }

    #[test]
    fn spec_3_launch_subcluster_comes_back_as_a_cluster_config() {
        let params = json!({"config": {
            "bootstrap": "b",
            "vats": {"b": {"bundleSpec": "file:///b.bundle"}, "1": {"bundleName": "one"}},
            "services": ["kernelFacet"],
            "forceReset": true
        }});
        let config = launch_subcluster(&params).unwrap();
        assert_eq!(config.raw, params["config"]);
        assert_eq!(config.bootstrap, "b");
        let names: Vec<&str> = config.vats.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["1", "b"]);
        assert_eq!(config.services, ["kernelFacet"]);
        assert_eq!(
            config.bootstrap_vat().unwrap().bundle_spec.as_deref(),
            Some("file:///b.bundle")
        );
    }

    #[test]
    fn spec_3_3_a_missing_bootstrap_vat_passes_the_schema_and_fails_in_the_kernel() {
        let config =
            launch_subcluster(&json!({"config": {"bootstrap": "nope", "vats": {}}})).unwrap();
        assert_eq!(
            config.bootstrap_vat().unwrap_err().to_string(),
            "invalid bootstrap vat name \"nope\""
        );
    }

    #[test]
    fn remote_comms_options_and_location_hints_come_back_typed() {
        let options =
            remote_comms_options(&json!({"relays": ["r"], "maxQueue": 0, "maxKnownRelays": 1e30}));
        assert_eq!(
            options.unwrap(),
            RemoteCommsOptions {
                relays: Some(vec!["r".into()]),
                max_queue: Some(0),
                max_known_relays: Some(u64::MAX),
                ..RemoteCommsOptions::default()
            }
        );
        assert_eq!(
            remote_comms_options(&json!([])).unwrap(),
            RemoteCommsOptions::default()
        );
        let hints = location_hints(&json!({"peerId": "p", "hints": ["a", "b"]})).unwrap();
        assert_eq!(hints.peer_id, "p");
        assert_eq!(hints.hints, ["a", "b"]);
    }
}
