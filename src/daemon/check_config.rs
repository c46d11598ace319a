//! `ocapd --check-config`: validate the config file and the flags the way a start would, then
//! print the effective value of every config key, and where it came from, as a config file.

use super::config::{ConfigError, ConfigFile};
use super::options::Options;
use super::settings::Settings;
use std::path::Path;
use std::time::Duration;
use toml::Value;

/// Exit status for a bad configuration (sysexits `EX_CONFIG`), at start and here.
pub const EXIT_CONFIG: u8 = 78;

/// Checks and prints; returns the exit status (0, or 78 when the configuration is invalid).
pub fn run(options: &Options) -> u8 {
    match check(options) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("ocapd: {e}");
            EXIT_CONFIG
        }
    }
}

/// The effective configuration as `ocapd.toml` text, or what is wrong with it.
pub fn check(options: &Options) -> Result<String, ConfigError> {
    let (path, file) = Settings::read_file(options)?;
    let settings = Settings::merge(options, &file, path.clone());
    let invalid = |message: String| ConfigError::Invalid {
        path: path.clone().unwrap_or_else(|| "command line".into()),
        message,
    };
    super::logging::parse_filter(&settings.log_level)
        .map_err(|e| invalid(format!("log-level: {e}")))?;
    Ok(render(options, &file, &settings, path.as_deref()))
}

fn render(options: &Options, file: &ConfigFile, s: &Settings, path: Option<&Path>) -> String {
    let secs = |d: Duration| Value::Float(d.as_secs_f64());
    let int = |n: usize| Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    let text = |p: &Path| Value::String(p.display().to_string());
    let names = |names: &Vec<String>| {
        Value::Array(names.iter().map(|n| Value::String(n.clone())).collect())
    };
    let r = &s.remote;
    let rows: [(&str, Option<Value>, bool, bool, &str); 23] = [
        (
            "socket",
            Some(text(&s.paths.socket)),
            options.socket.is_some(),
            file.socket.is_some(),
            "",
        ),
        (
            "db",
            Some(text(&s.paths.database)),
            options.db.is_some(),
            file.db.is_some(),
            "",
        ),
        (
            "idle-timeout",
            s.idle_timeout.map(secs),
            options.idle_timeout.is_some(),
            file.idle_timeout.is_some(),
            "never exits when idle",
        ),
        (
            "drain-timeout",
            Some(secs(s.drain_timeout)),
            options.drain_timeout.is_some(),
            file.drain_timeout.is_some(),
            "",
        ),
        (
            "read-timeout",
            Some(secs(s.limits.read_timeout)),
            options.read_timeout.is_some(),
            file.read_timeout.is_some(),
            "",
        ),
        (
            "delivery-timeout",
            Some(secs(s.kernel.delivery_budget)),
            options.delivery_timeout.is_some(),
            file.delivery_timeout.is_some(),
            "",
        ),
        (
            "reap-interval",
            Some(Value::Integer(s.kernel.reap_interval.into())),
            options.reap_interval.is_some(),
            file.reap_interval.is_some(),
            "",
        ),
        (
            "max-request-bytes",
            Some(int(s.limits.max_request_bytes)),
            options.max_request_bytes.is_some(),
            file.max_request_bytes.is_some(),
            "",
        ),
        (
            "max-connections",
            Some(int(s.limits.max_connections)),
            options.max_connections.is_some(),
            file.max_connections.is_some(),
            "",
        ),
        (
            "max-cap-connections",
            Some(int(s.limits.max_cap_connections)),
            options.max_cap_connections.is_some(),
            file.max_cap_connections.is_some(),
            "",
        ),
        (
            "max-cap-connections-per-uid",
            Some(int(s.limits.max_cap_connections_per_uid)),
            options.max_cap_connections_per_uid.is_some(),
            file.max_cap_connections_per_uid.is_some(),
            "",
        ),
        (
            "max-buffered-bytes",
            Some(int(s.limits.max_buffered_bytes)),
            options.max_buffered_bytes.is_some(),
            file.max_buffered_bytes.is_some(),
            "",
        ),
        (
            "allowed-global-names",
            s.allowed_global_names.as_ref().map(names),
            options.allowed_global_names.is_some(),
            file.allowed_global_names.is_some(),
            "a vat may ask for any of the reference's globals",
        ),
        (
            "log-level",
            Some(Value::String(s.log_level.clone())),
            options.log_level.is_some(),
            file.log_level.is_some(),
            "",
        ),
        (
            "log-file",
            s.log_file.as_deref().map(text),
            options.log_file.is_some(),
            file.log_file.is_some(),
            "stderr, or the journal under systemd; daemon.log when detached",
        ),
        (
            "max-log-bytes",
            Some(Value::Integer(
                i64::try_from(s.max_log_bytes).unwrap_or(i64::MAX),
            )),
            options.max_log_bytes.is_some(),
            file.max_log_bytes.is_some(),
            "",
        ),
        (
            "remote-start",
            Some(Value::Boolean(r.start)),
            options.remote_start,
            file.remote_start.is_some(),
            "",
        ),
        (
            "remote-listen",
            Some(names(&r.listen)),
            !options.remote_listen.is_empty(),
            file.remote_listen.is_some(),
            "",
        ),
        (
            "remote-relays",
            Some(names(&r.relays)),
            !options.remote_relays.is_empty(),
            file.remote_relays.is_some(),
            "",
        ),
        (
            "remote-max-frames-per-sec",
            Some(Value::Integer(r.max_frames_per_sec.into())),
            options.remote_max_frames_per_sec.is_some(),
            file.remote_max_frames_per_sec.is_some(),
            "",
        ),
        (
            "remote-max-connections",
            Some(Value::Integer(r.max_connections.into())),
            false,
            file.remote_max_connections.is_some(),
            "",
        ),
        (
            "remote-ack-timeout",
            Some(secs(r.ack_timeout)),
            options.remote_ack_timeout.is_some(),
            file.remote_ack_timeout.is_some(),
            "",
        ),
        (
            "remote-max-remotes",
            Some(int(r.max_remotes)),
            false,
            file.remote_max_remotes.is_some(),
            "",
        ),
    ];
    let mut out = format!(
        "# ocapd {}: effective configuration (flags over {} over built-in defaults)\n",
        env!("CARGO_PKG_VERSION"),
        path.map_or("no config file".into(), |p| p.display().to_string())
    );
    for (key, value, flag, in_file, unset) in rows {
        let from = match (flag, in_file) {
            (true, _) => "command line or environment",
            (false, true) => "config file",
            (false, false) => "default",
        };
        match value {
            Some(value) => out.push_str(&format!("{key} = {value}  # {from}\n")),
            None => out.push_str(&format!("# {key} is not set: {unset}\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_file(text: &str) -> (tempfile::TempDir, Options) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ocapd.toml");
        std::fs::write(&path, text).unwrap();
        let options = Options {
            config: Some(path),
            ..Options::default()
        };
        (dir, options)
    }

    #[test]
    fn every_key_is_printed_and_reads_back_as_the_same_configuration() {
        let text = "socket = \"/tmp/s.sock\"\ndb = \"/tmp/k.sqlite\"\nidle-timeout = 300\n\
                    drain-timeout = 2.5\nread-timeout = 4\ndelivery-timeout = 6\nreap-interval = 7\n\
                    max-request-bytes = 4096\nmax-connections = 9\nmax-cap-connections = 10\n\
                    max-cap-connections-per-uid = 3\nmax-buffered-bytes = 65536\n\
                    log-level = \"ocap=debug\"\nlog-file = \"/tmp/o.log\"\nmax-log-bytes = 4096\n\
                    allowed-global-names = [\"Date\", \"Math\"]\n\
                    remote-start = true\nremote-listen = [\"/ip4/127.0.0.1/tcp/4001\"]\n\
                    remote-relays = []\nremote-max-frames-per-sec = 5000\n\
                    remote-max-connections = 50\nremote-ack-timeout = 2.5\nremote-max-remotes = 10\n";
        let (_dir, options) = config_file(text);
        let printed = check(&options).unwrap();
        assert_eq!(
            ConfigFile::parse(&printed).unwrap(),
            ConfigFile::parse(text).unwrap(),
            "{printed}"
        );
        assert_eq!(printed.matches("# config file").count(), 23, "{printed}");
    }

    #[test]
    fn flags_win_and_unset_keys_are_named() {
        let (_dir, mut options) = config_file("read-timeout = 4\n");
        options.read_timeout = Some(8.0);
        let printed = check(&options).unwrap();
        assert!(
            printed.contains("read-timeout = 8.0  # command line"),
            "{printed}"
        );
        assert!(
            printed.contains("max-connections = 256  # default"),
            "{printed}"
        );
        assert!(printed.contains("# idle-timeout is not set"), "{printed}");
        assert!(printed.contains("# log-file is not set"), "{printed}");
    }

    #[test]
    fn a_bad_log_filter_is_an_error() {
        let (_dir, options) = config_file("log-level = \"ocap=[\"\n");
        let err = check(&options).unwrap_err().to_string();
        assert!(
            err.contains("log-level") && err.contains("ocapd.toml"),
            "{err}"
        );
    }
}
