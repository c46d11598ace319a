//! `ocapctl exec` params: a JSON argument, a file, or standard input (the seed's three input
//! modes), and the reference's `bundleSpec` path resolution for `launchSubcluster`.

use super::ClientError;
use serde_json::Value;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Reads the params: `arg` as JSON, else `arg` as a file holding JSON, else standard input
/// when it is a pipe or a redirected file. `None` means "send no params". Params that are not
/// JSON get the reference CLI's message, `params-json must be valid JSON.`
pub fn read(arg: Option<&str>) -> Result<Option<Value>, ClientError> {
    read_as(arg, "params-json")
}

/// [`read`] for another JSON input: what is not JSON is refused with `<label> must be valid
/// JSON.`
pub fn read_as(arg: Option<&str>, label: &str) -> Result<Option<Value>, ClientError> {
    let not_json = || ClientError::Usage(format!("{label} must be valid JSON."));
    match arg.filter(|a| !a.is_empty()) {
        Some(text) => from_arg(text, not_json).map(Some),
        None => from_stdin(not_json),
    }
}

fn from_arg(text: &str, not_json: impl Fn() -> ClientError) -> Result<Value, ClientError> {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return not_null(value, not_json);
    }
    let path = Path::new(text);
    if path.is_file() {
        let content = std::fs::read_to_string(path)
            .map_err(|e| ClientError::Usage(format!("{text}: {e}")))?;
        let value = serde_json::from_str(&content)
            .map_err(|e| ClientError::Usage(format!("{text}: not valid JSON: {e}")))?;
        return not_null(value, not_json);
    }
    Err(not_json())
}

fn not_null(value: Value, not_json: impl Fn() -> ClientError) -> Result<Value, ClientError> {
    if value.is_null() {
        Err(not_json())
    } else {
        Ok(value)
    }
}

/// Standard input counts only when it is a pipe or a regular file: a terminal would block
/// forever, and `/dev/null` or a closed descriptor mean "nothing given".
fn from_stdin(not_json: impl Fn() -> ClientError) -> Result<Option<Value>, ClientError> {
    let Ok(meta) = std::fs::metadata("/dev/stdin") else {
        return Ok(None);
    };
    let kind = meta.file_type();
    if !(kind.is_fifo() || kind.is_file()) {
        return Ok(None);
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| ClientError::Usage(format!("reading standard input: {e}")))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value = serde_json::from_str(&text).map_err(|_| not_json())?;
    not_null(value, not_json).map(Some)
}

/// For `launchSubcluster`: every `config.vats.*.bundleSpec` without `://` becomes the `file://`
/// URL of that path resolved against `cwd` (spec §1.5; nothing else is rewritten).
pub fn resolve_bundle_specs(method: &str, params: &mut Value, cwd: &Path) {
    if method != "launchSubcluster" {
        return;
    }
    let config = &mut params["config"];
    if config.get("bootstrap").is_none() {
        return;
    }
    let Some(vats) = config.get_mut("vats").and_then(Value::as_object_mut) else {
        return;
    };
    for vat in vats.values_mut() {
        if let Some(Value::String(spec)) = vat.get_mut("bundleSpec")
            && !spec.contains("://")
        {
            *spec = file_url(&cwd.join(&*spec));
        }
    }
}

/// A `file://` URL for an absolute path, normalized and percent-encoded like Node's
/// `pathToFileURL`.
pub fn file_url(path: &Path) -> String {
    let parts: Vec<String> = crate::paths::lexical(path)
        .components()
        .filter_map(|part| match part {
            std::path::Component::Normal(name) => Some(encode(&name.to_string_lossy())),
            _ => None,
        })
        .collect();
    format!("file:///{}", parts.join("/"))
}

fn encode(segment: &str) -> String {
    let mut out = String::new();
    for byte in segment.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOT_JSON: &str = "params-json must be valid JSON.";

    fn from_arg(text: &str) -> Result<Value, ClientError> {
        super::from_arg(text, || ClientError::Usage(NOT_JSON.into()))
    }

    #[test]
    fn json_arguments_and_files_are_read() {
        assert_eq!(from_arg("{\"a\":1}").unwrap(), json!({"a":1}));
        assert_eq!(from_arg("5").unwrap(), json!(5));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.json");
        std::fs::write(&file, "[\"ko4\",\"m\",[]]").unwrap();
        assert_eq!(
            from_arg(file.to_str().unwrap()).unwrap(),
            json!(["ko4", "m", []])
        );
    }

    #[test]
    fn non_json_and_null_are_refused_with_the_reference_text() {
        assert_eq!(from_arg("{bad").unwrap_err().to_string(), NOT_JSON);
        assert_eq!(from_arg("null").unwrap_err().to_string(), NOT_JSON);
        assert_eq!(
            read_as(Some("{bad"), "config").unwrap_err().to_string(),
            "config must be valid JSON."
        );
    }

    #[test]
    fn relative_bundle_specs_become_file_urls() {
        let mut params = json!({"config":{"bootstrap":"a","vats":{
            "a":{"bundleSpec":"./vats/a b.bundle"},
            "b":{"bundleSpec":"../x.bundle"},
            "c":{"bundleSpec":"https://example.test/c.bundle"}}}});
        resolve_bundle_specs("launchSubcluster", &mut params, Path::new("/home/u/w"));
        let vats = &params["config"]["vats"];
        assert_eq!(
            vats["a"]["bundleSpec"],
            "file:///home/u/w/vats/a%20b.bundle"
        );
        assert_eq!(vats["b"]["bundleSpec"], "file:///home/u/x.bundle");
        assert_eq!(vats["c"]["bundleSpec"], "https://example.test/c.bundle");
    }

    #[test]
    fn other_methods_are_left_alone() {
        let mut params = json!({"config":{"bootstrap":"a","vats":{"a":{"bundleSpec":"a.bundle"}}}});
        let before = params.clone();
        resolve_bundle_specs("queueMessage", &mut params, Path::new("/w"));
        assert_eq!(params, before);
    }
}
