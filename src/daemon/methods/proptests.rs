//! Fuzzing the param schemas and the cluster config validator: arbitrary JSON, and valid
//! configs with one part broken, must give a config or the reference's `Invalid params: …`
//! text — never a panic, never anything else — and a config that passes must be launchable
//! data (its plan and bootstrap lookup never fail to build).
//!
//! `PROPTEST_CASES` sets the number of cases (default 512 here).

use super::{kernel_control, schemas};
use crate::jsonrpc::codes;
use crate::kernel::LaunchPlan;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// The keys the schemas look at, so random objects often hit them.
const KEYS: &[&str] = &[
    "config",
    "bootstrap",
    "vats",
    "bundleSpec",
    "sourceSpec",
    "bundleName",
    "parameters",
    "creationOptions",
    "worker",
    "globals",
    "services",
    "io",
    "type",
    "direction",
    "forceReset",
    "bundles",
    "platformConfig",
    "id",
    "kref",
    "sql",
    "0",
    "1",
    "__proto__",
    "",
];

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "(v|s|ko|kp)[0-9]{0,3}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
        prop::sample::select(KEYS).prop_map(|k| Value::String(k.to_string())),
    ];
    let key = prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => any::<String>(),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            vec((key.clone(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A valid `launchSubcluster` params object.
fn valid_config() -> impl Strategy<Value = Value> {
    let vat = (
        "[a-z]{1,6}",
        prop::option::of(json()),
        prop::option::of(vec(
            prop::sample::select(&["Date", "Math", "URL"][..]),
            0..3,
        )),
    )
        .prop_map(|(spec, parameters, globals)| {
            let mut vat = json!({"bundleSpec": format!("file:///{spec}.bundle")});
            if let Some(p) = parameters {
                vat["parameters"] = p;
            }
            if let Some(g) = globals {
                vat["globals"] = json!(g);
            }
            vat
        });
    (
        vec(("[a-z0-9]{1,5}", vat), 1..4),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(vats, i)| {
            let bootstrap = vats[i.index(vats.len())].0.clone();
            let vats: Map<String, Value> = vats.into_iter().collect();
            json!({"config": {"bootstrap": bootstrap, "vats": vats}})
        })
}

/// Replaces the value at a random path inside `value` with `with`.
fn break_at(value: &mut Value, path: &[prop::sample::Index], with: Value) {
    let Some((first, rest)) = path.split_first() else {
        return *value = with;
    };
    let child = match value {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(first.index(map.len())).unwrap().clone();
            map.get_mut(&key)
        }
        Value::Array(items) if !items.is_empty() => {
            let n = items.len();
            items.get_mut(first.index(n))
        }
        _ => None,
    };
    match child {
        Some(child) => break_at(child, rest, with),
        None => *value = with,
    }
}

fn check_launch(params: &Value) -> Result<(), TestCaseError> {
    match schemas::launch_subcluster(params) {
        Ok(config) => {
            prop_assert_eq!(&config.raw, &params["config"]);
            let _ = config.bootstrap_vat();
            let plan = LaunchPlan::from(config);
            prop_assert_eq!(&plan.raw, &params["config"]);
        }
        Err(e) => {
            prop_assert_eq!(e.code, codes::INTERNAL_ERROR);
            prop_assert!(e.message.starts_with("Invalid params: "), "{}", e.message);
        }
    }
    Ok(())
}

const METHODS: &[&str] = &[
    "launchSubcluster",
    "queueMessage",
    "pingVat",
    "restartVat",
    "terminateVat",
    "terminateSubcluster",
    "terminateAllVats",
    "collectGarbage",
    "clearState",
    "revoke",
    "isRevoked",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::capdata::proptests::cases(512)))]

    #[test]
    fn any_params_give_a_config_or_invalid_params(params in json()) {
        check_launch(&params)?;
        check_launch(&json!({"config": params}))?;
    }

    #[test]
    fn a_valid_config_passes(params in valid_config()) {
        let config = schemas::launch_subcluster(&params);
        prop_assert!(config.is_ok(), "{} -> {:?}", params, config);
        let config = config.unwrap();
        prop_assert!(config.bootstrap_vat().is_ok());
    }

    #[test]
    fn a_broken_config_is_refused_or_still_well_formed(
        mut params in valid_config(),
        path in vec(any::<prop::sample::Index>(), 0..5),
        with in json(),
    ) {
        break_at(&mut params, &path, with);
        check_launch(&params)?;
        let again = schemas::launch_subcluster(&params).map(|c| c.raw);
        prop_assert_eq!(again.ok(), schemas::launch_subcluster(&params).map(|c| c.raw).ok());
    }

    #[test]
    fn every_method_s_params_give_a_call_or_invalid_params(
        method in prop::sample::select(METHODS),
        params in json(),
    ) {
        let parsed = kernel_control::parse(method, &params);
        prop_assert!(parsed.is_some(), "{} is a kernel-control method", method);
        if let Some(Err(e)) = parsed {
            prop_assert_eq!(e.code, codes::INTERNAL_ERROR);
            prop_assert!(e.message.starts_with("Invalid params: "), "{}", e.message);
        }
    }
}
