//! An `IOConfig` (spec §3.4) as the kernel reads it, and the checks made before a launch.
//!
//! The config has passed the reference's schema already (one of five strict shapes), so reading
//! never fails; what this kernel cannot do is found by [`IoConfig::check`], with the reference's
//! texts where it has one.

use serde_json::Value;
use std::path::PathBuf;

/// Which way data may flow (`direction`, default `inout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `read()` only: `write()` fails with `… is read-only`.
    In,
    /// `write()` only: `read()` fails with `… is write-only`.
    Out,
    /// Both.
    InOut,
}

/// One channel's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoConfig {
    /// `type`: `socket` is the only one this kernel (like the reference's Node platform) has.
    pub kind: String,
    /// `path` of a `socket` (or `file`) channel.
    pub path: Option<String>,
    /// `direction`.
    pub direction: Direction,
}

impl IoConfig {
    /// Reads a schema-valid `IOConfig`.
    pub fn from_validated(raw: &Value) -> IoConfig {
        let direction = match raw.get("direction").and_then(Value::as_str) {
            Some("in") => Direction::In,
            Some("out") => Direction::Out,
            _ => Direction::InOut,
        };
        IoConfig {
            kind: raw["type"].as_str().unwrap_or_default().to_string(),
            path: raw.get("path").and_then(Value::as_str).map(String::from),
            direction,
        }
    }

    /// The socket path of channel `name`, or why this kernel cannot open it: the reference's
    /// text for a type it lacks, ours for a path it will not use.
    pub fn check(&self, name: &str) -> Result<PathBuf, String> {
        if self.kind != "socket" {
            return Err(format!(
                "Unsupported IO channel type \"{}\" for channel \"{name}\"",
                self.kind
            ));
        }
        let path = PathBuf::from(self.path.as_deref().unwrap_or_default());
        // A relative path would be resolved against whatever directory the daemon happens to
        // run in (the reference's behaviour), which nobody chooses on purpose.
        if !path.is_absolute() {
            return Err(format!(
                "IO channel \"{name}\": the socket path must be absolute, not {:?}",
                path.display().to_string()
            ));
        }
        let max = super::socket::max_path_len();
        let len = path.as_os_str().len();
        if len > max {
            return Err(format!(
                "IO channel \"{name}\": the socket path is {len} bytes long; \
                 Unix sockets allow at most {max}"
            ));
        }
        Ok(path)
    }
}

/// The kernel service name of channel `name` of subcluster `subcluster` (spec §3.3 step 4).
pub fn service_name(subcluster: &str, name: &str) -> String {
    format!("io:{subcluster}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_type_path_and_direction_with_inout_by_default() {
        let c = IoConfig::from_validated(&json!({"type": "socket", "path": "/run/x.sock"}));
        assert_eq!(c.direction, Direction::InOut);
        assert_eq!(c.check("repl").unwrap(), PathBuf::from("/run/x.sock"));
        let c = IoConfig::from_validated(
            &json!({"type": "socket", "path": "/x", "direction": "in", "unit": "line"}),
        );
        assert_eq!(c.direction, Direction::In);
        let c =
            IoConfig::from_validated(&json!({"type": "socket", "path": "/x", "direction": "out"}));
        assert_eq!(c.direction, Direction::Out);
    }

    #[test]
    fn types_other_than_socket_are_refused_with_the_reference_text() {
        for raw in [
            json!({"type": "console"}),
            json!({"type": "listen", "hostport": "127.0.0.1:1"}),
            json!({"type": "network", "hostport": "127.0.0.1:1"}),
            json!({"type": "file", "path": "/tmp/f"}),
        ] {
            let kind = raw["type"].as_str().unwrap().to_string();
            assert_eq!(
                IoConfig::from_validated(&raw).check("repl").unwrap_err(),
                format!("Unsupported IO channel type \"{kind}\" for channel \"repl\"")
            );
        }
    }

    #[test]
    fn relative_and_overlong_paths_are_refused() {
        let c = IoConfig::from_validated(&json!({"type": "socket", "path": "io.sock"}));
        assert_eq!(
            c.check("repl").unwrap_err(),
            "IO channel \"repl\": the socket path must be absolute, not \"io.sock\""
        );
        let long = format!("/{}", "a".repeat(200));
        let c = IoConfig::from_validated(&json!({"type": "socket", "path": long}));
        assert!(
            c.check("repl")
                .unwrap_err()
                .contains("Unix sockets allow at most")
        );
    }

    #[test]
    fn service_names_are_scoped_by_subcluster() {
        assert_eq!(service_name("s1", "repl"), "io:s1:repl");
    }
}
