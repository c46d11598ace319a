//! Cluster and vat configurations (spec §3.1, §3.2).
//!
//! These are built from JSON that has already passed the reference's schema (`launchSubcluster`'s
//! params, see `daemon::methods::schemas`, or a config the kernel persisted itself), so the
//! constructors never fail: anything missing or mistyped simply reads as absent. Each keeps its
//! JSON exactly as given in `raw`, for `getStatus` and persistence.

use crate::capdata::js_entries;
use serde_json::Value;

/// The host globals a vat may ask for in `globals` (spec §3.2; the reference's
/// `ALLOWED_GLOBAL_NAMES` in `ocap-kernel/src/vats/endowments.ts`).
pub const ALLOWED_GLOBAL_NAMES: [&str; 20] = [
    "setTimeout",
    "clearTimeout",
    "setInterval",
    "clearInterval",
    "Date",
    "Math",
    "crypto",
    "SubtleCrypto",
    "fetch",
    "Request",
    "Headers",
    "Response",
    "TextEncoder",
    "TextDecoder",
    "URL",
    "URLSearchParams",
    "atob",
    "btoa",
    "AbortController",
    "AbortSignal",
];

/// A `ClusterConfig` (spec §3.1).
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    /// The name of the vat that receives `bootstrap()`.
    pub bootstrap: String,
    /// The vats by name, in the order JavaScript iterates the `vats` object, which is the order
    /// the reference launches them in: integer-like names first, ascending, then the rest in the
    /// order given. (A `vats` array passes the schema too; its vats are named by index.)
    pub vats: Vec<(String, VatConfig)>,
    /// The kernel services and IO channels to hand to `bootstrap()` (`services`, default none).
    pub services: Vec<String>,
    /// The IO channels by name (`io`, default none), in JavaScript order; each value is an
    /// `IOConfig` as given (spec §3.4).
    pub io: Vec<(String, Value)>,
    /// The config exactly as given.
    pub raw: Value,
}

/// A `VatConfig` (spec §3.2).
#[derive(Clone, Debug, PartialEq)]
pub struct VatConfig {
    /// The config exactly as given.
    pub raw: Value,
    /// `bundleSpec`, the only code spec the kernel can run (`sourceSpec` and `bundleName` pass
    /// the schema but fail at launch).
    pub bundle_spec: Option<String>,
    /// `parameters` as given, if the key is there (the schema accepts any JSON value).
    pub parameters: Option<Value>,
    /// `creationOptions` as given, if the key is there (accepted and ignored by the reference).
    pub creation_options: Option<Value>,
    /// `globals`, each one of [`ALLOWED_GLOBAL_NAMES`]; none if absent or falsy.
    pub globals: Vec<String>,
}

/// `vats[bootstrap]` does not exist (spec §3.3 step 2). This is the kernel's error, not the
/// schema's, so it has no `Invalid params: ` prefix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid bootstrap vat name {}", quote(.0))]
pub struct InvalidBootstrap(pub String);

impl ClusterConfig {
    /// Reads a validated `ClusterConfig`.
    pub fn from_validated(raw: Value) -> ClusterConfig {
        let vats = entries(raw.get("vats"))
            .map(|(name, vat)| (name, VatConfig::from_validated(vat.clone())))
            .collect();
        let io = entries(raw.get("io"))
            .map(|(name, channel)| (name, channel.clone()))
            .collect();
        ClusterConfig {
            bootstrap: text(raw.get("bootstrap")).unwrap_or_default(),
            vats,
            services: strings(raw.get("services")),
            io,
            raw,
        }
    }

    /// The bootstrap vat's config, or the kernel's error if `bootstrap` names no vat.
    pub fn bootstrap_vat(&self) -> Result<&VatConfig, InvalidBootstrap> {
        self.vats
            .iter()
            .find(|(name, _)| *name == self.bootstrap)
            .map(|(_, vat)| vat)
            .ok_or_else(|| InvalidBootstrap(self.bootstrap.clone()))
    }
}

impl VatConfig {
    /// Reads a validated `VatConfig`.
    pub fn from_validated(raw: Value) -> VatConfig {
        VatConfig {
            bundle_spec: text(raw.get("bundleSpec")),
            parameters: raw.get("parameters").cloned(),
            creation_options: raw.get("creationOptions").cloned(),
            globals: strings(raw.get("globals")),
            raw,
        }
    }
}

/// The entries of an object (or array) field, in JavaScript order; none if absent.
fn entries(value: Option<&Value>) -> impl Iterator<Item = (String, &Value)> {
    value.map(js_entries).unwrap_or_default().into_iter()
}

fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_owned)
}

/// The strings of an array field; none if absent or not an array.
fn strings(value: Option<&Value>) -> Vec<String> {
    let items = value.and_then(Value::as_array).map(Vec::as_slice);
    items
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// How the reference's `Fail` template shows a string under `errorTaming: 'unsafe'`: SES's
/// `bestEffortStringify`, which is `JSON.stringify` except that a string starting with `[` is
/// first wrapped in brackets.
fn quote(s: &str) -> String {
    if s.starts_with('[') {
        Value::from(format!("[{s}]")).to_string()
    } else {
        Value::from(s).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_spec_3_2_io_example() {
        let raw = json!({
            "bootstrap": "io",
            "io": {"repl": {"type": "socket", "path": "/run/user/1000/io.sock"}},
            "services": ["repl", "ocapURLIssuerService"],
            "vats": {"io": {"bundleSpec": "file:///io-vat.bundle", "parameters": {"name": "io"}}}
        });
        let config = ClusterConfig::from_validated(raw.clone());
        assert_eq!(config.bootstrap, "io");
        assert_eq!(config.services, ["repl", "ocapURLIssuerService"]);
        assert_eq!(
            config.io,
            [(
                "repl".to_string(),
                json!({"type": "socket", "path": "/run/user/1000/io.sock"})
            )]
        );
        let (name, vat) = &config.vats[0];
        assert_eq!(name, "io");
        assert_eq!(vat.bundle_spec.as_deref(), Some("file:///io-vat.bundle"));
        assert_eq!(vat.parameters, Some(json!({"name": "io"})));
        assert_eq!(vat.creation_options, None);
        assert!(vat.globals.is_empty());
        assert_eq!(vat.raw, raw["vats"]["io"]);
        assert_eq!(config.raw, raw);
        assert_eq!(config.bootstrap_vat().unwrap(), vat);
    }

    #[test]
    fn spec_3_1_vats_launch_in_javascript_key_order() {
        let raw: Value = serde_json::from_str(
            r#"{"bootstrap":"b","vats":{"b":{"bundleSpec":"x"},"10":{"bundleSpec":"x"},
                "a":{"bundleSpec":"x"},"2":{"bundleSpec":"x"},"01":{"bundleSpec":"x"}}}"#,
        )
        .unwrap();
        let config = ClusterConfig::from_validated(raw);
        let names: Vec<&str> = config.vats.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["2", "10", "b", "a", "01"]);
    }

    #[test]
    fn a_vats_array_names_vats_by_index() {
        let config =
            ClusterConfig::from_validated(json!({"bootstrap": "0", "vats": [{"bundleName": "n"}]}));
        assert_eq!(config.vats[0].0, "0");
        assert_eq!(config.vats[0].1.bundle_spec, None);
        assert!(config.bootstrap_vat().is_ok());
    }

    #[test]
    fn vat_config_fields_are_read_as_given() {
        let vat = VatConfig::from_validated(json!({
            "bundleSpec": "file:///v.bundle",
            "parameters": 0,
            "creationOptions": {"a": 1},
            "globals": ["Date", "fetch"],
            "network": {"allowedHosts": ["example.com"]}
        }));
        assert_eq!(vat.parameters, Some(json!(0)));
        assert_eq!(vat.creation_options, Some(json!({"a": 1})));
        assert_eq!(vat.globals, ["Date", "fetch"]);
        assert_eq!(
            VatConfig::from_validated(json!({"globals": null})).globals,
            Vec::<String>::new()
        );
    }

    #[test]
    fn spec_3_3_missing_bootstrap_vat_is_the_kernels_error() {
        let config = ClusterConfig::from_validated(
            json!({"bootstrap": "x", "vats": {"a": {"bundleSpec": "s"}}}),
        );
        assert_eq!(
            config.bootstrap_vat().unwrap_err().to_string(),
            "invalid bootstrap vat name \"x\""
        );
        let odd = ClusterConfig::from_validated(json!({"bootstrap": "[a\"", "vats": {}}));
        assert_eq!(
            odd.bootstrap_vat().unwrap_err().to_string(),
            "invalid bootstrap vat name \"[[a\\\"]\""
        );
    }
}
