//! The platform's file-system capability (spec §3.2 `platformConfig.fs`): reads confined to a
//! vat's `rootDir`, as the reference's Node platform gives (`existsSync`, `promises.readFile`,
//! `promises.access`, each only if the config turns it on; `vat-runtime/src/platform.js` makes
//! the JavaScript side).
//!
//! As in the reference, a path outside the root is refused (`Path P is outside allowed root R`)
//! and so is a symbolic link (`Symlinks are prohibited: P`); unlike it, a link anywhere below the
//! root is refused, not only the last component, so no link can lead out of the root; a relative
//! path is taken from the root (the reference takes it from the daemon's working directory, which
//! is outside any sensible root); and a file read may have at most [`MAX_READ`] bytes.

use crate::paths::lexical;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Bytes one `readFile` may return (the vat's memory limit applies on top).
pub const MAX_READ: u64 = 16 << 20;

/// What a vat's `platformConfig.fs` turns on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsConfig {
    pub root: PathBuf,
    pub exists_sync: bool,
    pub read_file: bool,
    pub access: bool,
}

impl FsConfig {
    /// The `fs` capability `config` asks for, if any.
    pub fn from_config(config: &Value) -> Result<Option<FsConfig>, String> {
        let Some(fs) = config.pointer("/platformConfig/fs") else {
            return Ok(None);
        };
        let root = fs
            .get("rootDir")
            .and_then(Value::as_str)
            .ok_or("platformConfig.fs.rootDir must be a string")?;
        if !Path::new(root).is_absolute() {
            return Err(format!(
                "platformConfig.fs.rootDir must be an absolute path, not {root}"
            ));
        }
        let on = |pointer: &str| fs.pointer(pointer).and_then(Value::as_bool) == Some(true);
        Ok(Some(FsConfig {
            root: lexical(Path::new(root)),
            exists_sync: on("/existsSync"),
            read_file: on("/promises/readFile"),
            access: on("/promises/access"),
        }))
    }

    /// Whether `path` names something, as Node's `existsSync` (false for a path it may not see).
    pub fn exists(&self, path: &str) -> Result<bool, String> {
        let path = self.confine(path)?;
        Ok(path.exists())
    }

    /// Succeeds if `path` exists, as Node's `access` does for `F_OK`.
    pub fn access(&self, path: &str) -> Result<(), String> {
        let full = self.confine(path)?;
        std::fs::metadata(&full)
            .map(drop)
            .map_err(|e| node_error(&e, "access", path))
    }

    /// The bytes of the file at `path`.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        let full = self.confine(path)?;
        let file = std::fs::File::open(&full).map_err(|e| node_error(&e, "open", path))?;
        let mut bytes = Vec::new();
        file.take(MAX_READ + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| node_error(&e, "read", path))?;
        if bytes.len() as u64 > MAX_READ {
            return Err(format!("{path} is larger than {} MiB", MAX_READ >> 20));
        }
        Ok(bytes)
    }

    /// `path` resolved under the root, refused if it leaves the root or passes a link.
    fn confine(&self, path: &str) -> Result<PathBuf, String> {
        let full = lexical(&self.root.join(path));
        let Ok(below) = full.strip_prefix(&self.root) else {
            return Err(format!(
                "Path {path} is outside allowed root {}",
                self.root.display()
            ));
        };
        let mut walked = self.root.clone();
        for part in below.components() {
            walked.push(part);
            match std::fs::symlink_metadata(&walked) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(format!("Symlinks are prohibited: {path}"));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(full)
    }
}

/// An I/O error as Node words it: `ENOENT: no such file or directory, open '/x'`.
fn node_error(error: &std::io::Error, syscall: &str, path: &str) -> String {
    let (code, text) = match error.kind() {
        std::io::ErrorKind::NotFound => ("ENOENT", "no such file or directory"),
        std::io::ErrorKind::PermissionDenied => ("EACCES", "permission denied"),
        std::io::ErrorKind::IsADirectory => ("EISDIR", "illegal operation on a directory"),
        _ => return format!("{error}, {syscall} '{path}'"),
    };
    format!("{code}: {text}, {syscall} '{path}'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn root() -> (tempfile::TempDir, FsConfig) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), "hello").unwrap();
        std::fs::write(dir.path().with_extension("secret"), "no").unwrap();
        let config = json!({"platformConfig": {"fs": {"rootDir": dir.path(), "existsSync": true,
            "promises": {"readFile": true}}}});
        let fs = FsConfig::from_config(&config).unwrap().unwrap();
        (dir, fs)
    }

    #[test]
    fn reads_stay_inside_the_root() {
        let (dir, fs) = root();
        assert!((fs.exists_sync, fs.read_file, fs.access) == (true, true, false));
        assert_eq!(fs.read("sub/a.txt").unwrap(), b"hello");
        let absolute = dir.path().join("sub/./../sub/a.txt");
        assert_eq!(fs.read(absolute.to_str().unwrap()).unwrap(), b"hello");
        assert_eq!(fs.exists("sub/none"), Ok(false));
        assert_eq!(
            fs.read("sub/none"),
            Err("ENOENT: no such file or directory, open 'sub/none'".into())
        );
        let outside = fs.read("../x.secret").unwrap_err();
        assert!(
            outside.starts_with("Path ../x.secret is outside allowed root"),
            "{outside}"
        );
        assert!(fs.exists("/etc/passwd").is_err());
    }

    #[test]
    fn links_anywhere_below_the_root_are_refused() {
        let (dir, fs) = root();
        std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", dir.path().join("a")).unwrap();
        assert_eq!(
            fs.read("etc/passwd"),
            Err("Symlinks are prohibited: etc/passwd".into())
        );
        assert_eq!(fs.read("a"), Err("Symlinks are prohibited: a".into()));
    }

    #[test]
    fn no_fs_without_config_and_a_relative_root_is_refused() {
        assert_eq!(FsConfig::from_config(&json!({})), Ok(None));
        let relative = json!({"platformConfig": {"fs": {"rootDir": "data"}}});
        assert!(FsConfig::from_config(&relative).is_err());
    }
}
