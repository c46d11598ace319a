//! The effective settings: command-line flags over the config file over built-in defaults.

use super::budget::Bounds;
use super::config::{ConfigError, ConfigFile, default_paths};
use super::options::Options;
use super::surface::Surface;
use crate::paths::Paths;
use std::path::PathBuf;
use std::time::Duration;

/// Connection limits; SIGHUP can change them while the daemon runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Largest request line, in bytes.
    pub max_request_bytes: usize,
    /// Time a client has to send its request line.
    pub read_timeout: Duration,
    /// Connections served at once on the control socket.
    pub max_connections: usize,
    /// Connections served at once on the capability socket.
    pub max_cap_connections: usize,
    /// Of those, how many one uid may hold.
    pub max_cap_connections_per_uid: usize,
    /// Bytes of unfinished request lines held across each socket's connections.
    pub max_buffered_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_request_bytes: 1 << 20,
            read_timeout: Duration::from_secs(30),
            max_connections: 256,
            max_cap_connections: 256,
            max_cap_connections_per_uid: 64,
            max_buffered_bytes: 64 << 20,
        }
    }
}

impl Limits {
    /// The bounds of the bytes of unfinished request lines on `surface`. On the capability
    /// socket each uid may hold the part of the budget that its part of the connections is (by
    /// default 64 of 256 connections: 16 of the 64 MiB); on the control socket, which serves
    /// only the owner, all of it.
    pub fn buffered_bounds(&self, surface: Surface) -> Bounds {
        let limit = self.max_buffered_bytes;
        let share = match surface {
            Surface::Control => limit,
            Surface::Capabilities => {
                let part = limit as u128 * self.max_cap_connections_per_uid as u128
                    / self.max_cap_connections.max(1) as u128;
                usize::try_from(part).unwrap_or(usize::MAX).min(limit)
            }
        };
        Bounds { limit, share }
    }
}

/// The log file's size at rotation, unless configured: with the one old file kept, the log
/// takes at most twice this.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 16 << 20;

/// Everything the daemon needs to know to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Socket, database and log locations.
    pub paths: Paths,
    /// The least-authority capability socket to bind, if any.
    pub cap_socket: Option<PathBuf>,
    /// Whether to stay attached to the terminal.
    pub foreground: bool,
    /// Exit after this long idle, if set.
    pub idle_timeout: Option<Duration>,
    /// How long in-flight requests may take on stop.
    pub drain_timeout: Duration,
    /// The reloadable limits.
    pub limits: Limits,
    /// The kernel's delivery budget and reaping schedule.
    pub kernel: crate::kernel::KernelOptions,
    /// How remote comms run.
    pub remote: crate::kernel::RemoteSettings,
    /// The only globals vats may ask for (`None`: any of spec §3.2's); fixed at start.
    pub allowed_global_names: Option<Vec<String>>,
    /// The tracing filter.
    pub log_level: String,
    /// Where logs go instead of stderr, if set.
    pub log_file: Option<PathBuf>,
    /// The size at which the log file is rotated.
    pub max_log_bytes: u64,
    /// The config file these settings were read from, if any (re-read on SIGHUP).
    pub config_path: Option<PathBuf>,
}

impl Settings {
    /// Reads the config file (if any) and merges it under the flags.
    pub fn load(options: &Options) -> Result<Settings, ConfigError> {
        let (config_path, config) = Settings::read_file(options)?;
        Ok(Settings::merge(options, &config, config_path))
    }

    /// The config file the daemon uses, and its contents: `--config` (which must exist), else
    /// the first default file that exists.
    pub fn read_file(options: &Options) -> Result<(Option<PathBuf>, ConfigFile), ConfigError> {
        Ok(match &options.config {
            Some(path) => (Some(path.clone()), ConfigFile::load(path, false)?),
            None => match default_paths().into_iter().find(|p| p.exists()) {
                Some(path) => (Some(path.clone()), ConfigFile::load(&path, true)?),
                None => (None, ConfigFile::default()),
            },
        })
    }

    /// Flags win over the file; the file wins over defaults.
    pub fn merge(options: &Options, config: &ConfigFile, config_path: Option<PathBuf>) -> Settings {
        let secs =
            |flag: Option<f64>, file: Option<f64>| flag.or(file).map(Duration::from_secs_f64);
        let socket = options.socket.as_ref().or(config.socket.as_ref());
        let db = options.db.as_ref().or(config.db.as_ref());
        let defaults = Limits::default();
        Settings {
            paths: Paths::from_env()
                .with_overrides(socket.map(|p| p.as_path()), db.map(|p| p.as_path())),
            cap_socket: options.cap_socket.clone().or(config.cap_socket.clone()),
            foreground: options.foreground,
            idle_timeout: secs(options.idle_timeout, config.idle_timeout),
            drain_timeout: secs(options.drain_timeout, config.drain_timeout)
                .unwrap_or(Duration::from_secs(10)),
            limits: Limits {
                max_request_bytes: options
                    .max_request_bytes
                    .or(config.max_request_bytes)
                    .unwrap_or(defaults.max_request_bytes),
                read_timeout: secs(options.read_timeout, config.read_timeout)
                    .unwrap_or(defaults.read_timeout),
                max_connections: options
                    .max_connections
                    .or(config.max_connections)
                    .unwrap_or(defaults.max_connections),
                max_cap_connections: options
                    .max_cap_connections
                    .or(config.max_cap_connections)
                    .unwrap_or(defaults.max_cap_connections),
                max_cap_connections_per_uid: options
                    .max_cap_connections_per_uid
                    .or(config.max_cap_connections_per_uid)
                    .unwrap_or(defaults.max_cap_connections_per_uid),
                max_buffered_bytes: options
                    .max_buffered_bytes
                    .or(config.max_buffered_bytes)
                    .unwrap_or(defaults.max_buffered_bytes),
            },
            kernel: crate::kernel::KernelOptions {
                delivery_budget: secs(options.delivery_timeout, config.delivery_timeout)
                    .unwrap_or(crate::kernel::KernelOptions::default().delivery_budget),
                reap_interval: options
                    .reap_interval
                    .or(config.reap_interval)
                    .unwrap_or(100),
            },
            remote: remote_settings(options, config),
            allowed_global_names: options
                .allowed_global_names
                .as_ref()
                .map(|names| names.0.clone())
                .or(config.allowed_global_names.clone()),
            log_level: options
                .log_level
                .clone()
                .or(config.log_level.clone())
                .unwrap_or_else(|| "info".into()),
            log_file: options.log_file.clone().or(config.log_file.clone()),
            max_log_bytes: options
                .max_log_bytes
                .or(config.max_log_bytes)
                .unwrap_or(DEFAULT_MAX_LOG_BYTES),
            config_path,
        }
    }

    /// Re-reads the config file for SIGHUP; paths, modes and remote comms stay as they are.
    pub fn reload(&self, options: &Options) -> Result<Settings, ConfigError> {
        let config = match &self.config_path {
            Some(path) => ConfigFile::load(path, options.config.is_none())?,
            None => ConfigFile::default(),
        };
        let fresh = Settings::merge(options, &config, self.config_path.clone());
        Ok(Settings {
            limits: fresh.limits,
            log_level: fresh.log_level,
            ..self.clone()
        })
    }
}

/// Remote comms' settings: flags over the file over the defaults (lists given as flags
/// replace the file's).
fn remote_settings(options: &Options, config: &ConfigFile) -> crate::kernel::RemoteSettings {
    let defaults = crate::kernel::RemoteSettings::default();
    let list = |flag: &Vec<String>, file: &Option<Vec<String>>| match flag.is_empty() {
        false => flag.clone(),
        true => file.clone().unwrap_or_default(),
    };
    crate::kernel::RemoteSettings {
        start: options.remote_start || config.remote_start.unwrap_or(false),
        listen: list(&options.remote_listen, &config.remote_listen),
        relays: list(&options.remote_relays, &config.remote_relays),
        max_frames_per_sec: options
            .remote_max_frames_per_sec
            .or(config.remote_max_frames_per_sec)
            .unwrap_or(defaults.max_frames_per_sec),
        max_connections: config
            .remote_max_connections
            .unwrap_or(defaults.max_connections),
        ack_timeout: options
            .remote_ack_timeout
            .or(config.remote_ack_timeout)
            .map_or(defaults.ack_timeout, Duration::from_secs_f64),
        max_remotes: config.remote_max_remotes.unwrap_or(defaults.max_remotes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let options = Options {
            read_timeout: Some(2.0),
            ..Options::default()
        };
        let config = ConfigFile {
            read_timeout: Some(5.0),
            max_request_bytes: Some(64),
            ..ConfigFile::default()
        };
        let s = Settings::merge(&options, &config, None);
        assert_eq!(s.limits.read_timeout, Duration::from_secs(2));
        assert_eq!(s.limits.max_request_bytes, 64);
        assert_eq!(s.limits.max_connections, 256);
        assert_eq!(s.limits.max_cap_connections, 256);
        assert_eq!(s.limits.max_cap_connections_per_uid, 64);
        assert_eq!(s.limits.max_buffered_bytes, 64 << 20);
        assert_eq!(s.max_log_bytes, 16 << 20);
        assert_eq!(s.drain_timeout, Duration::from_secs(10));
        assert_eq!(s.idle_timeout, None);
        assert_eq!(s.log_level, "info");
        assert_eq!(s.allowed_global_names, None);
        let options = Options {
            allowed_global_names: Some(super::super::options::GlobalNames(vec![])),
            ..Options::default()
        };
        let config = ConfigFile {
            allowed_global_names: Some(vec!["Date".into()]),
            ..ConfigFile::default()
        };
        let s = Settings::merge(&options, &config, None);
        assert_eq!(
            s.allowed_global_names,
            Some(vec![]),
            "an empty flag allows none"
        );
    }
}
