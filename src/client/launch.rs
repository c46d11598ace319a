//! `ocapctl launch [CONFIG]`: `launchSubcluster {"config": …}` from a cluster config (spec §2,
//! §3.1) given as a file, a JSON argument, or standard input.

use super::{ClientError, params};
use serde_json::{Value, json};
use std::path::Path;

/// Reads the cluster config like `exec` reads params ([`params::read`]): `arg` as JSON, else as
/// a file holding JSON, else standard input when it is a pipe or a redirected file. `None`
/// means nothing was given. An argument that is neither JSON nor a file, and does not start
/// like a JSON object or array, is reported as a missing file.
pub fn read_config(arg: Option<&str>) -> Result<Option<Value>, ClientError> {
    if let Some(text) = arg.filter(|a| !a.is_empty())
        && serde_json::from_str::<Value>(text).is_err()
        && !text.trim_start().starts_with(['{', '['])
    {
        let path = Path::new(text);
        if !path.exists() {
            return Err(ClientError::Usage(format!(
                "{text}: no such file (CONFIG is a cluster config file, a JSON argument, \
                 or standard input)"
            )));
        }
        if !path.is_file() {
            return Err(ClientError::Usage(format!("{text}: not a file")));
        }
    }
    params::read_as(arg, "config")
}

/// The `launchSubcluster` params for `config`: `{"config": config}` with relative `bundleSpec`
/// paths made `file://` URLs against `cwd` (as `exec launchSubcluster` does). A whole params
/// object, `{"config": {…}}`, is accepted too: a cluster config cannot have a `config` key.
pub fn launch_params(config: Value, cwd: &Path) -> Result<Value, ClientError> {
    let config = match config {
        Value::Object(mut object) if object.len() == 1 && object.contains_key("config") => {
            object.remove("config").expect("checked above")
        }
        other => other,
    };
    if !config.is_object() {
        return Err(ClientError::Usage(
            "config must be a JSON object: a cluster config such as \
             {\"bootstrap\":\"main\",\"vats\":{\"main\":{\"bundleSpec\":\"./main.bundle\"}}}"
                .into(),
        ));
    }
    let mut params = json!({ "config": config });
    params::resolve_bundle_specs("launchSubcluster", &mut params, cwd);
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"bootstrap":"counter","vats":{"counter":{"bundleSpec":"./counter.bundle","parameters":{"name":"Counter"}}}}"#;

    fn expected() -> Value {
        json!({"config":{"bootstrap":"counter","vats":{"counter":{
            "bundleSpec":"file:///work/dir/counter.bundle","parameters":{"name":"Counter"}}}}})
    }

    #[test]
    fn a_config_becomes_launch_params_with_file_urls() {
        let config = read_config(Some(CONFIG)).unwrap().unwrap();
        let params = launch_params(config, Path::new("/work/dir")).unwrap();
        assert_eq!(params, expected());
        assert_eq!(
            serde_json::to_string(&params).unwrap(),
            serde_json::to_string(&expected()).unwrap(),
            "key order is kept"
        );
    }

    #[test]
    fn whole_params_are_accepted_too() {
        let config: Value = serde_json::from_str(&format!(r#"{{"config":{CONFIG}}}"#)).unwrap();
        assert_eq!(
            launch_params(config, Path::new("/work/dir")).unwrap(),
            expected()
        );
    }

    #[test]
    fn a_config_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cluster.json");
        std::fs::write(&file, CONFIG).unwrap();
        let config = read_config(Some(file.to_str().unwrap())).unwrap().unwrap();
        assert_eq!(config["bootstrap"], "counter");
    }

    #[test]
    fn bad_configs_are_refused_before_sending() {
        let err = |arg: &str| read_config(Some(arg)).unwrap_err().to_string();
        assert_eq!(err("{bad"), "config must be valid JSON.");
        assert_eq!(err("[1,"), "config must be valid JSON.");
        assert_eq!(err("null"), "config must be valid JSON.");
        assert!(
            err("/no/such/cluster.json").starts_with("/no/such/cluster.json: no such file"),
            "{}",
            err("/no/such/cluster.json")
        );
        assert_eq!(err("/"), "/: not a file");
        for not_object in [json!([1]), json!("x"), json!(5), json!({"config": 5})] {
            let e = launch_params(not_object.clone(), Path::new("/"))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("config must be a JSON object"),
                "{not_object}: {e}"
            );
        }
    }
}
