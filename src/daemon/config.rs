//! The optional configuration file `ocapd.toml`: one key per daemon flag, same names.
//!
//! Unknown keys are errors that name the key and its line, so a typo never silently falls back
//! to a default.

use crate::paths::env_var;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The file's contents; every key is optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
    /// As `--socket`.
    pub socket: Option<PathBuf>,
    /// As `--db`.
    pub db: Option<PathBuf>,
    /// As `--cap-socket`.
    pub cap_socket: Option<PathBuf>,
    /// As `--idle-timeout`, seconds.
    pub idle_timeout: Option<f64>,
    /// As `--drain-timeout`, seconds.
    pub drain_timeout: Option<f64>,
    /// As `--read-timeout`, seconds.
    pub read_timeout: Option<f64>,
    /// As `--delivery-timeout`, seconds.
    pub delivery_timeout: Option<f64>,
    /// As `--reap-interval`.
    pub reap_interval: Option<u32>,
    /// As `--max-request-bytes`.
    pub max_request_bytes: Option<usize>,
    /// As `--max-connections`.
    pub max_connections: Option<usize>,
    /// As `--max-cap-connections`.
    pub max_cap_connections: Option<usize>,
    /// As `--max-cap-connections-per-uid`.
    pub max_cap_connections_per_uid: Option<usize>,
    /// As `--max-buffered-bytes`.
    pub max_buffered_bytes: Option<usize>,
    /// As `--allowed-global-names`, as a list.
    pub allowed_global_names: Option<Vec<String>>,
    /// As `--log-level`.
    pub log_level: Option<String>,
    /// As `--log-file`.
    pub log_file: Option<PathBuf>,
    /// As `--max-log-bytes`.
    pub max_log_bytes: Option<u64>,
    /// As `--remote-start`: start remote comms at boot without `initRemoteComms`.
    pub remote_start: Option<bool>,
    /// As `--remote-listen`, as a list: direct listen addresses for remote comms.
    pub remote_listen: Option<Vec<String>>,
    /// As `--remote-relay`, as a list: relays for remote comms.
    pub remote_relays: Option<Vec<String>>,
    /// As `--remote-max-frames-per-sec`.
    pub remote_max_frames_per_sec: Option<u32>,
    /// Connections remote comms keep at most.
    pub remote_max_connections: Option<u32>,
    /// As `--remote-ack-timeout`, seconds.
    pub remote_ack_timeout: Option<f64>,
    /// Remote endpoints kept at most.
    pub remote_max_remotes: Option<usize>,
}

/// Why the configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid for ocapd (the message names the key and line).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its position.
        message: String,
    },
}

impl ConfigFile {
    /// Reads `path`; a missing file is an empty configuration only when `optional`.
    pub fn load(path: &Path, optional: bool) -> Result<ConfigFile, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.into(),
                    source,
                });
            }
        };
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.into(),
            message,
        })
    }

    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<ConfigFile, String> {
        let config: ConfigFile =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        for (key, secs) in [
            ("idle-timeout", config.idle_timeout),
            ("drain-timeout", config.drain_timeout),
            ("read-timeout", config.read_timeout),
            ("delivery-timeout", config.delivery_timeout),
            ("remote-ack-timeout", config.remote_ack_timeout),
        ] {
            if let Some(secs) = secs {
                super::options::parse_seconds(&secs.to_string())
                    .map_err(|e| format!("{key}: {e}"))?;
            }
        }
        for (key, count) in [
            ("max-connections", config.max_connections.map(|n| n as u64)),
            (
                "max-cap-connections",
                config.max_cap_connections.map(|n| n as u64),
            ),
            (
                "max-cap-connections-per-uid",
                config.max_cap_connections_per_uid.map(|n| n as u64),
            ),
            (
                "max-buffered-bytes",
                config.max_buffered_bytes.map(|n| n as u64),
            ),
            ("max-log-bytes", config.max_log_bytes),
        ] {
            if count == Some(0) {
                return Err(format!(
                    "{key}: expected a whole number of at least 1, got 0"
                ));
            }
        }
        if let Some(names) = &config.allowed_global_names {
            super::options::check_global_names(names)
                .map_err(|e| format!("allowed-global-names: {e}"))?;
        }
        for (key, addrs) in [
            ("remote-listen", &config.remote_listen),
            ("remote-relays", &config.remote_relays),
        ] {
            for addr in addrs.iter().flatten() {
                super::options::check_multiaddr(addr).map_err(|e| format!("{key}: {e}"))?;
            }
        }
        for (key, n) in [
            (
                "remote-max-frames-per-sec",
                config.remote_max_frames_per_sec,
            ),
            ("remote-max-connections", config.remote_max_connections),
        ] {
            if n == Some(0) {
                return Err(format!("{key}: must be at least 1"));
            }
        }
        if config.remote_max_remotes == Some(0) {
            return Err("remote-max-remotes: must be at least 1".into());
        }
        Ok(config)
    }
}

/// The system-wide file, for the system service and as every user's fallback.
pub const SYSTEM_PATH: &str = "/etc/ocap/ocapd.toml";

/// The files used when `--config` is not given, in order of preference: the user's
/// `$XDG_CONFIG_HOME/ocap/ocapd.toml` (else `~/.config/ocap/ocapd.toml`), then [`SYSTEM_PATH`].
pub fn default_paths() -> Vec<PathBuf> {
    let base = env_var("XDG_CONFIG_HOME").or_else(|| env_var("HOME").map(|h| h.join(".config")));
    let user = base.map(|b| b.join("ocap").join("ocapd.toml"));
    user.into_iter()
        .chain([PathBuf::from(SYSTEM_PATH)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_flags() {
        let c = ConfigFile::parse(
            "idle-timeout = 300\nlog-level = \"debug\"\nmax-request-bytes = 10\n",
        )
        .unwrap();
        assert_eq!(c.idle_timeout, Some(300.0));
        assert_eq!(c.log_level.as_deref(), Some("debug"));
        assert_eq!(c.max_request_bytes, Some(10));
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let err = ConfigFile::parse("log-level = \"info\"\nidle-timout = 5\n").unwrap_err();
        assert!(
            err.contains("idle-timout") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn the_system_file_comes_after_the_users() {
        let paths = default_paths();
        assert_eq!(paths.last(), Some(&PathBuf::from(SYSTEM_PATH)));
        if std::env::var_os("HOME").is_some() {
            assert!(
                paths[0].ends_with("ocap/ocapd.toml") && paths.len() == 2,
                "{paths:?}"
            );
        }
    }

    #[test]
    fn allowed_global_names_are_a_list_of_the_references() {
        let c = ConfigFile::parse("allowed-global-names = [\"Date\", \"fetch\"]\n").unwrap();
        assert_eq!(
            c.allowed_global_names,
            Some(vec!["Date".into(), "fetch".into()])
        );
        let c = ConfigFile::parse("allowed-global-names = []\n").unwrap();
        assert_eq!(c.allowed_global_names, Some(vec![]));
        let err = ConfigFile::parse("allowed-global-names = [\"process\"]").unwrap_err();
        assert!(
            err.starts_with("allowed-global-names: unknown global \"process\""),
            "{err}"
        );
        assert!(ConfigFile::parse("allowed-global-names = \"Date\"").is_err());
    }

    #[test]
    fn remote_keys_are_checked() {
        let c = ConfigFile::parse(
            "remote-listen = [\"/ip4/127.0.0.1/tcp/4001\"]\nremote-max-frames-per-sec = 5000\n",
        )
        .unwrap();
        assert_eq!(
            c.remote_listen,
            Some(vec!["/ip4/127.0.0.1/tcp/4001".into()])
        );
        assert_eq!(c.remote_max_frames_per_sec, Some(5000));
        assert!(
            ConfigFile::parse("remote-max-frames-per-sec = 0")
                .unwrap_err()
                .contains("remote-max-frames-per-sec")
        );
        if cfg!(feature = "remote") {
            let err = ConfigFile::parse("remote-relays = [\"not an address\"]").unwrap_err();
            assert!(err.starts_with("remote-relays: "), "{err}");
        }
    }

    #[test]
    fn a_zero_limit_is_refused() {
        let err = ConfigFile::parse("max-cap-connections-per-uid = 0").unwrap_err();
        assert!(err.starts_with("max-cap-connections-per-uid: "), "{err}");
        assert!(ConfigFile::parse("max-log-bytes = 1").is_ok());
    }

    #[test]
    fn bad_durations_are_refused() {
        assert!(
            ConfigFile::parse("read-timeout = -1")
                .unwrap_err()
                .contains("read-timeout")
        );
    }
}
