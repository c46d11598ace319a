//! `ocapd`'s command line. Every value is optional here so that a flag given on the command
//! line can be told apart from the config file's value and the built-in default (see
//! [`super::settings`]).

use clap::Parser;
use std::path::PathBuf;

/// The ocap kernel daemon: serves the JSON-RPC control API on a Unix socket.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "ocapd", version, about, long_about = None)]
pub struct Options {
    /// Socket to bind when not socket-activated [default: see paths; env OCAP_SOCKET_PATH]
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Also serve a least-authority socket here, for anyone: only help, status and invoking
    /// presented capabilities (OCAP URLs) [default: none, unless systemd passes one]
    #[arg(long, value_name = "PATH")]
    pub cap_socket: Option<PathBuf>,

    /// Kernel database [default: kernel.sqlite in the state directory]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Stay in the foreground with logs on stderr (or journald); otherwise detach once ready
    #[arg(long)]
    pub foreground: bool,

    /// Exit after this many seconds with no connection and no work [default: never]
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub idle_timeout: Option<f64>,

    /// On stop, how long in-flight requests may take to finish [default: 10]
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub drain_timeout: Option<f64>,

    /// How long a client may take to send its request line [default: 30]
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub read_timeout: Option<f64>,

    /// How long one delivery to a vat may take before the vat is terminated [default: 2]
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub delivery_timeout: Option<f64>,

    /// Deliveries between `bringOutYourDead` for each vat, so vat-level GC runs [default: 100]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub reap_interval: Option<u32>,

    /// Largest request line accepted, in bytes [default: 1048576]
    #[arg(long, value_name = "BYTES")]
    pub max_request_bytes: Option<usize>,

    /// Connections served at once on the control socket; more are answered with an error
    /// [default: 256]
    #[arg(long, value_name = "N", value_parser = parse_count::<usize>)]
    pub max_connections: Option<usize>,

    /// Connections served at once on the capability socket, a limit of its own so that others
    /// there cannot lock the owner out [default: 256]
    #[arg(long, value_name = "N", value_parser = parse_count::<usize>)]
    pub max_cap_connections: Option<usize>,

    /// Of the capability socket's connections, how many one uid may hold at once
    /// [default: 64]
    #[arg(long, value_name = "N", value_parser = parse_count::<usize>)]
    pub max_cap_connections_per_uid: Option<usize>,

    /// Bytes of unfinished request lines held at once on each socket (past the first 16 KiB of
    /// each; on the capability socket one uid may hold its connections' part of it); a
    /// connection that would pass it is answered with an error and closed [default: 67108864]
    #[arg(long, value_name = "BYTES", value_parser = parse_count::<usize>)]
    pub max_buffered_bytes: Option<usize>,

    /// The only globals (spec §3.2) vats may ask for, comma-separated (the reference kernel's
    /// `allowedGlobalNames`); a vat asking for another fails to start [default: all of them]
    #[arg(long, value_name = "NAMES", value_parser = parse_global_names)]
    pub allowed_global_names: Option<GlobalNames>,

    /// Log filter, e.g. `info` or `ocap=debug` [default: info; env OCAP_LOG]
    #[arg(long, value_name = "FILTER", env = "OCAP_LOG")]
    pub log_level: Option<String>,

    /// Append logs to this file instead of stderr (used when detached)
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Rotate the log file at this size, keeping one old file (PATH.1) [default: 16777216]
    #[arg(long, value_name = "BYTES", value_parser = parse_count::<u64>)]
    pub max_log_bytes: Option<u64>,
    /// Start remote comms (kernel-to-kernel federation) at boot even if `initRemoteComms` was
    /// never called; once called, its options are kept and remote comms always come back
    #[arg(long)]
    pub remote_start: bool,

    /// Direct listen address for remote comms, repeatable, used when `initRemoteComms` gives
    /// none (e.g. /ip4/0.0.0.0/tcp/4001) [default: none]
    #[arg(long = "remote-listen", value_name = "MULTIADDR", value_parser = parse_multiaddr)]
    pub remote_listen: Vec<String>,

    /// Relay for remote comms (…/p2p/RELAY-ID), repeatable, besides those `initRemoteComms`
    /// gives [default: none]
    #[arg(long = "remote-relay", value_name = "MULTIADDR", value_parser = parse_multiaddr)]
    pub remote_relays: Vec<String>,

    /// Frames read from one peer per second at most [default: 100, the reference's]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub remote_max_frames_per_sec: Option<u32>,

    /// Seconds without acknowledgement before frames to a peer are resent; after 3 resends the
    /// peer is given up on, and URL redemptions time out after 4 times it [default: 10]
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub remote_ack_timeout: Option<f64>,

    /// Configuration file [default: $XDG_CONFIG_HOME/ocap/ocapd.toml, else /etc/ocap/ocapd.toml,
    /// if it exists]
    #[arg(long, value_name = "PATH", env = "OCAP_CONFIG")]
    pub config: Option<PathBuf>,

    /// Check the configuration file and flags, print the effective configuration and exit
    /// (0 if valid, 78 if not)
    #[arg(long)]
    pub check_config: bool,

    /// Write the manual page ocapd.8 into DIR and exit (run by `make` after the build)
    #[arg(long, value_name = "DIR", hide = true)]
    pub manpages: Option<PathBuf>,

    /// Run something other than the kernel daemon
    #[command(subcommand)]
    pub command: Option<Subcommand>,
}

/// What `ocapd` runs instead of the daemon.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Subcommand {
    /// Run a libp2p circuit-relay v2 server for ocapd-to-ocapd federation (docs/remote.md);
    /// prints each listen address (ending in `/p2p/<relay id>`) on a line, runs until SIGTERM
    Relay(RelayArgs),
}

/// `ocapd relay`'s options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RelayArgs {
    /// Multiaddr to listen on, repeatable [default: /ip4/0.0.0.0/tcp/9001/ws and
    /// /ip4/0.0.0.0/tcp/9002, the reference relay's ports]
    #[arg(long = "listen", value_name = "MULTIADDR")]
    pub listen: Vec<String>,

    /// Multiaddr clients are told to reach the relay at, repeatable [default: the bound
    /// listen addresses]
    #[arg(long = "announce", value_name = "MULTIADDR")]
    pub announce: Vec<String>,

    /// The relay's identity: a file of 64 hex digits (Ed25519 seed), created if missing
    /// [default: relay.key in the state directory]
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
}

/// A list of global names, each one of the reference's (`ALLOWED_GLOBAL_NAMES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalNames(pub Vec<String>);

/// Parses `Date,Math,…` (empty: none); each name must be one a vat may ask for.
pub fn parse_global_names(text: &str) -> Result<GlobalNames, String> {
    let names: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(String::from)
        .collect();
    check_global_names(&names)?;
    Ok(GlobalNames(names))
}

/// Fails on a name that is not one of the globals a vat may ask for (spec §3.2).
pub fn check_global_names(names: &[String]) -> Result<(), String> {
    use crate::kernel::config::ALLOWED_GLOBAL_NAMES;
    match names
        .iter()
        .find(|n| !ALLOWED_GLOBAL_NAMES.contains(&n.as_str()))
    {
        Some(bad) => Err(format!(
            "unknown global {bad:?}: expected some of {}",
            ALLOWED_GLOBAL_NAMES.join(", ")
        )),
        None => Ok(()),
    }
}

/// Parses a count of at least 1 (connections, bytes).
pub fn parse_count<T: std::str::FromStr + PartialOrd + From<u8>>(text: &str) -> Result<T, String> {
    match text.parse::<T>() {
        Ok(n) if n >= T::from(1) => Ok(n),
        _ => Err(format!(
            "expected a whole number of at least 1, got {text:?}"
        )),
    }
}

/// Checks a multiaddr the way remote comms will use it (without remote comms built in, any text
/// is kept: it is never used).
pub fn check_multiaddr(text: &str) -> Result<(), String> {
    #[cfg(feature = "remote")]
    crate::remote::node::parse_addr(text)?;
    #[cfg(not(feature = "remote"))]
    let _ = text;
    Ok(())
}

fn parse_multiaddr(text: &str) -> Result<String, String> {
    check_multiaddr(text).map(|()| text.to_string())
}

/// Parses a positive number of seconds (fractions allowed).
pub fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Ok(secs),
        _ => Err(format!(
            "expected a positive number of seconds, got {text:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_names_are_the_references_and_may_be_none() {
        assert_eq!(
            parse_global_names("Date, Math").unwrap(),
            GlobalNames(vec!["Date".into(), "Math".into()])
        );
        assert_eq!(parse_global_names("").unwrap(), GlobalNames(vec![]));
        let err = parse_global_names("Date,eval").unwrap_err();
        assert!(
            err.starts_with("unknown global \"eval\": expected some of setTimeout, "),
            "{err}"
        );
    }

    #[test]
    fn counts_are_whole_and_at_least_one() {
        assert_eq!(parse_count::<usize>("64"), Ok(64));
        for bad in ["0", "-1", "1.5", "x", ""] {
            assert!(parse_count::<usize>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seconds_must_be_positive_and_finite() {
        assert_eq!(parse_seconds("1.5"), Ok(1.5));
        for bad in ["0", "-1", "inf", "NaN", "x", ""] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
