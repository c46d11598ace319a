//! Reading a vat's code from a `file://`, `http://` or `https://` URL (the latter through
//! [`super::remote_code`]): the reference bundle format of spec §7.1, or a plain ES-module source
//! (a path ending `.js` or `.mjs`) converted by [`crate::vatsource`].

use super::remote_code;
use crate::vatsource;
use serde_json::Value;

/// Bytes a vat's code file may have.
const MAX_BUNDLE: u64 = 32 << 20;

/// The bundle code of the vat `config` names: `bundleSpec` (a bundle, or a module source when
/// the path ends `.js` or `.mjs`) or `sourceSpec` (a module source).
pub fn load(config: &Value) -> Result<String, String> {
    let (spec, source_only) = match (config.get("bundleSpec"), config.get("sourceSpec")) {
        (Some(Value::String(spec)), _) => (spec, false),
        (_, Some(Value::String(spec))) => (spec, true),
        _ => {
            return Err(
                "for now, only bundleSpec and sourceSpec are supported in vatConfig specifications"
                    .into(),
            );
        }
    };
    // The text, the name for a module source's errors, and whether it is one (by its path).
    let (text, name, module) = if remote_code::is_remote(spec) {
        let path = spec.split(['?', '#']).next().unwrap_or(spec);
        let module = vatsource::is_module_path(path);
        check_source_only(spec, source_only, module)?;
        (remote_code::fetch(spec)?, spec.clone(), module)
    } else if let Some(path) = spec.strip_prefix("file://") {
        let path = percent_decode(path)?;
        let module = vatsource::is_module_path(&path);
        check_source_only(spec, source_only, module)?;
        // Only a regular file, of bounded size: a FIFO here held the kernel thread forever.
        let text = crate::vat::fs::read_regular(std::path::Path::new(&path), MAX_BUNDLE)
            .map_err(|e| e.to_string())
            .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()))
            .map_err(|e| format!("fetch of user code {spec} failed: {e}"))?;
        (text, path, module)
    } else {
        return Err(format!(
            "ocapd's built-in runtime loads vat code from file://, http:// and https:// URLs \
             only, not {spec}"
        ));
    };
    if module {
        let converted = vatsource::convert(&text, &name).map_err(|e| e.to_string())?;
        return Ok(converted.code);
    }
    parse(&text).map_err(|e| format!("bundle {spec}: {e}"))
}

/// Fails when a `sourceSpec` names something other than an ES module.
fn check_source_only(spec: &str, source_only: bool, module: bool) -> Result<(), String> {
    if source_only && !module {
        return Err(format!(
            "sourceSpec {spec} must name an ES module (a .js or .mjs file)"
        ));
    }
    Ok(())
}

/// The `code` of a bundle's JSON text.
pub fn parse(text: &str) -> Result<String, String> {
    let bundle: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    match bundle.get("moduleFormat").and_then(Value::as_str) {
        Some("iife") => {}
        Some(other) => {
            return Err(format!(
                "unsupported moduleFormat {other:?} (only \"iife\")"
            ));
        }
        None => return Err("no moduleFormat".into()),
    }
    bundle
        .get("code")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| "no code".into())
}

/// Undoes `%XX` escapes in a URL path.
fn percent_decode(path: &str) -> Result<String, String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = path
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad escape in file URL path {path}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("file URL path {path} is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bundles_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("my vat.bundle");
        std::fs::write(
            &good,
            r#"{"moduleFormat":"iife","code":"var __vatExports__ = 1;"}"#,
        )
        .unwrap();
        let url = format!("file://{}", good.display()).replace(' ', "%20");
        assert_eq!(
            load(&json!({"bundleSpec": url})).unwrap(),
            "var __vatExports__ = 1;"
        );
        let bad = dir.path().join("bad.bundle");
        std::fs::write(&bad, "not json").unwrap();
        let err = load(&json!({"bundleSpec": format!("file://{}", bad.display())})).unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
        let err = load(&json!({"bundleSpec": "file:///nowhere/x.bundle"})).unwrap_err();
        assert!(
            err.starts_with("fetch of user code file:///nowhere/x.bundle failed"),
            "{err}"
        );
        let err = load(&json!({"bundleName": "x"})).unwrap_err();
        assert_eq!(
            err,
            "for now, only bundleSpec and sourceSpec are supported in vatConfig specifications"
        );
        assert!(parse(r#"{"moduleFormat":"endoZipBase64","code":""}"#).is_err());
        let err = load(&json!({"bundleSpec": "ftp://localhost/v.bundle"})).unwrap_err();
        assert!(
            err.ends_with("URLs only, not ftp://localhost/v.bundle"),
            "{err}"
        );
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn module_sources_are_converted_and_their_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("vat.mjs");
        std::fs::write(
            &good,
            "import { Far } from '@endo/far';\nexport const buildRootObject = () => Far('root', {});\n",
        )
        .unwrap();
        let url = format!("file://{}", good.display());
        for config in [json!({"bundleSpec": url}), json!({"sourceSpec": url})] {
            let code = load(&config).unwrap();
            assert!(code.starts_with("var __vatExports__ = "), "{code}");
            assert!(code.contains("require(\"@endo/far\", [\"Far\"])"), "{code}");
        }
        let bad = dir.path().join("bad.js");
        std::fs::write(
            &bad,
            "export function buildRootObject() {}\nimport x from './x.js';",
        )
        .unwrap();
        let err = load(&json!({"bundleSpec": format!("file://{}", bad.display())})).unwrap_err();
        assert!(
            err.starts_with(&format!("{}:2: relative import './x.js'", bad.display())),
            "{err}"
        );
        let bundle = dir.path().join("v.bundle");
        std::fs::write(&bundle, r#"{"moduleFormat":"iife","code":""}"#).unwrap();
        let err = load(&json!({"sourceSpec": format!("file://{}", bundle.display())})).unwrap_err();
        assert!(
            err.ends_with("must name an ES module (a .js or .mjs file)"),
            "{err}"
        );
    }
}
