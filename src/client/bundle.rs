//! `ocapctl bundle SOURCE [-o OUT]`: a plain ES-module vat source turned into the reference
//! bundle format (spec §7.1) by [`crate::vatsource`], offline (no daemon involved).

use super::ClientError;
use crate::vatsource;
use std::path::{Path, PathBuf};

/// Writes the bundle of `source` to `out` (default: `source` with the extension `.bundle`)
/// and returns where it went. The file is written whole or not at all.
pub fn bundle(source: &Path, out: Option<&Path>) -> Result<PathBuf, ClientError> {
    let text = std::fs::read_to_string(source)
        .map_err(|e| ClientError::Failed(format!("cannot read {}: {e}", source.display())))?;
    let bundle = vatsource::bundle(&text, &source.display().to_string())
        .map_err(|e| ClientError::Failed(e.to_string()))?;
    let out = out.map_or_else(|| source.with_extension("bundle"), Path::to_path_buf);
    let mut temporary = out.clone().into_os_string();
    temporary.push(".tmp");
    let write = std::fs::write(&temporary, format!("{bundle}\n"))
        .and_then(|()| std::fs::rename(&temporary, &out));
    write.map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        ClientError::Failed(format!("cannot write {}: {e}", out.display()))
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_becomes_a_bundle_beside_it_or_where_asked() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("vat.mjs");
        std::fs::write(&source, "export function buildRootObject() {}\n").unwrap();
        let out = bundle(&source, None).unwrap();
        assert_eq!(out, dir.path().join("vat.bundle"));
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(written["moduleFormat"], "iife");
        assert_eq!(written["exports"], serde_json::json!(["buildRootObject"]));
        let elsewhere = dir.path().join("other.json");
        assert_eq!(bundle(&source, Some(&elsewhere)).unwrap(), elsewhere);

        std::fs::write(&source, "import x from 'left-pad';\n").unwrap();
        let error = bundle(&source, Some(&dir.path().join("bad.bundle"))).unwrap_err();
        assert!(
            error.to_string().contains("vat.mjs:1: package 'left-pad'"),
            "{error}"
        );
        assert!(!dir.path().join("bad.bundle").exists());
        assert!(bundle(&dir.path().join("missing.js"), None).is_err());
    }
}
