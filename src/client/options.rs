//! `ocapctl`'s command line: the clap definitions its help, manual pages and shell completions
//! are generated from (`ocapctl manpages`, `ocapctl completions`). What each command does is in
//! [`super::run`].

use super::caps::{self, SendTarget};
use super::ids::{KRef, VatId, VatOrSubcluster};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// The exit statuses, after the top-level help.
const EXIT_STATUS: &str = "Exit status: 0 success; 1 the daemon answered with an error or the command failed; \
2 usage error; 69 no daemon reachable; 76 unintelligible reply; 77 permission denied.";

/// Control the ocap kernel daemon (ocapd).
#[derive(Debug, Parser)]
#[command(name = "ocapctl", version, about, after_help = EXIT_STATUS)]
pub struct Cli {
    /// Daemon socket [default: $OCAP_SOCKET_PATH, else the per-user default]
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// OCAP home directory: socket, database and log all live there (sets OCAP_HOME)
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Print JSON: `status` even on a terminal; `ping`, `terminate`, `restart`, `revoke`, `gc`
    /// the bare result instead of a word or nothing
    #[arg(long, global = true)]
    pub json: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// `ocapctl`'s commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send an RPC method call to the daemon (starts one if needed)
    Exec {
        /// RPC method name [default: getStatus]
        method: Option<String>,
        /// JSON-encoded method parameters, or a file holding them; read from standard input
        /// when it is a pipe or a file
        params: Option<String>,
        /// Read timeout in seconds [default: no timeout]
        #[arg(long, value_name = "SECS")]
        timeout: Option<String>,
        /// Instead of printing it, issue the object the result refers to (a lone reference, or
        /// launchSubcluster's rootKref) as a capability and write it to FILE (new, mode 0600)
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Launch a subcluster from a cluster config (launchSubcluster); prints its id, root kref
    /// and bootstrap result
    #[command(after_help = LAUNCH_HELP)]
    Launch {
        /// Cluster config: a JSON file, a JSON argument, or standard input when it is a pipe or
        /// a file
        #[arg(value_name = "CONFIG")]
        config: Option<String>,
        /// `--timeout`.
        #[command(flatten)]
        wait: Wait,
    },
    /// Send a message to a kernel object or promise (queueMessage), or to the capability in a
    /// .ocap file (invokeCapability), and print its result
    #[command(after_help = SEND_HELP)]
    Send {
        /// The object or promise: koN or kpN, or a .ocap capability file
        target: SendTarget,
        /// The method to call
        #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
        method: String,
        /// The arguments (see below)
        #[arg(allow_negative_numbers = true)]
        args: Vec<String>,
        /// Print the result CapData as the kernel returned it, not prettified
        #[arg(long)]
        raw: bool,
        /// `--out`, `--label`, `--expires`.
        #[command(flatten)]
        keep: KeepArgs,
        /// `--timeout`.
        #[command(flatten)]
        wait: Wait,
    },
    /// An interactive session: inspect vats and subclusters, send messages, name results
    /// (`let c = send ko4 makeCounter`, then `send c inc`), Tab completion of methods
    Console,
    /// Capabilities: OCAP URLs the daemon issued, each revocable on its own
    #[command(subcommand)]
    Caps(CapsCommand),
    /// Terminate a vat (vN: terminateVat) or a whole subcluster (sN: terminateSubcluster)
    Terminate {
        /// vN or sN
        #[arg(value_name = "VAT_OR_SUBCLUSTER")]
        id: VatOrSubcluster,
        /// `--timeout`.
        #[command(flatten)]
        wait: Wait,
    },
    /// Restart a vat from its persisted state (restartVat)
    Restart {
        /// vN
        vat: VatId,
        /// `--timeout`.
        #[command(flatten)]
        wait: Wait,
    },
    /// Check that a vat answers (pingVat); prints pong
    Ping {
        /// vN
        vat: VatId,
        /// `--timeout`.
        #[command(flatten)]
        wait: Wait,
    },
    /// Revoke a kernel object: messages to it then fail (revoke)
    Revoke {
        /// koN
        kref: KRef,
        /// `--timeout`.
        #[command(flatten)]
        wait: Wait,
    },
    /// Print whether a kernel object is revoked (isRevoked): true or false
    Revoked {
        /// koN
        kref: KRef,
        /// `--timeout`.
        #[command(flatten)]
        wait: Wait,
    },
    /// Clean up terminated vats and run the kernel's garbage collection (collectGarbage)
    Gc {
        /// `--timeout`.
        #[command(flatten)]
        wait: Wait,
    },
    /// Show whether a daemon runs and what its kernel holds
    Status,
    /// Make sure a daemon is serving (starts one unless a service manager owns the socket)
    Start,
    /// Stop the daemon: ask, then SIGTERM, then SIGKILL (never kills a supervised daemon)
    Stop,
    /// Copy the database, consistently, while the daemon runs (never overwrites FILE)
    Backup {
        /// Where to write the copy (a new file)
        file: PathBuf,
    },
    /// Check the database: SQLite's integrity check and the kernel's invariants (exit 1 if
    /// anything is wrong)
    Fsck,
    /// Show the kernels this daemon federates with: state, pending frames, last errors
    /// (listPeers)
    Peers,
    /// Print shell completions for ocapctl (install them where your shell looks)
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Turn a plain ES-module vat source into a reference bundle ({"moduleFormat":"iife",…}),
    /// offline; it may import only the packages ocapd provides to vats
    Bundle {
        /// The vat source (.js or .mjs)
        source: PathBuf,
        /// Where to write the bundle [default: SOURCE with the extension .bundle]
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Stop the daemon and delete all its state (database, log, lock, socket)
    Purge {
        /// Required: confirms that all state is to be deleted
        #[arg(long)]
        force: bool,
    },
    /// Show the daemon's log: the journal of ocap.service under systemd, else the log file
    Logs {
        /// Keep printing what is written, until interrupted
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines
        #[arg(short = 'n', long, value_name = "N")]
        lines: Option<usize>,
    },
    /// Check the socket unit, linger, permissions, paths, config and database, and say what to
    /// fix (exit 1 if a check fails; starts nothing)
    Doctor,
    /// Write the manual pages ocapctl.1 and ocapctl-COMMAND.1 into DIR (run by `make`)
    #[command(hide = true)]
    Manpages {
        /// An existing directory
        dir: PathBuf,
    },
}

/// `ocapctl caps …`.
#[derive(Debug, Subcommand)]
pub enum CapsCommand {
    /// List every capability: id, object, age, last use, state, label
    List,
    /// Revoke one capability: its URL stops working; the object and other URLs do not
    Revoke {
        /// The capability id (cap-…), from `ocapctl caps list`
        id: String,
    },
    /// Issue a capability for an object and write it as a .ocap file
    Issue {
        /// The object: koN (or a promise, kpN)
        kref: KRef,
        /// `--out`, `--label`, `--expires`.
        #[command(flatten)]
        keep: KeepArgs,
    },
}

/// Where and how a new capability is kept.
#[derive(Debug, Args)]
pub struct KeepArgs {
    /// Write a result that is an object reference as a new .ocap capability file (mode 0600)
    /// even on a terminal; off a terminal, standard output gets the file
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Label the capability (shown by `ocapctl caps list`)
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
    /// The capability stops working after this long: 45s, 30m, 1h, 2d
    #[arg(long, value_name = "DURATION", value_parser = caps::parse_duration)]
    pub expires: Option<u64>,
}

impl KeepArgs {
    /// How to keep a new capability, labelled `default_label` unless `--label` says otherwise.
    pub fn keep(&self, default_label: String) -> caps::Keep {
        caps::Keep {
            out: self.out.clone(),
            label: Some(self.label.clone().unwrap_or(default_label)),
            expires: self.expires,
        }
    }
}

/// `--timeout`, on every command that waits for the kernel.
#[derive(Debug, Args)]
pub struct Wait {
    /// Read timeout in seconds [default: no timeout]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<String>,
}

/// After `ocapctl launch --help`.
const LAUNCH_HELP: &str = "\
Relative bundleSpec paths become file:// URLs against the current directory. A whole
launchSubcluster params object, {\"config\": {...}}, is accepted too.

Example:
  ocapctl launch '{\"bootstrap\":\"counter\",\"vats\":{\"counter\":{\"bundleSpec\":\"./counter.bundle\"}}}'
  ocapctl launch cluster.json";

/// After `ocapctl send --help`.
const SEND_HELP: &str = "\
ARGS:
  none                      no arguments
  one JSON array            the whole argument list, as in `ocap daemon queueMessage`:
                            '[\"a\",1]' sends \"a\" and 1 (to send one array, wrap it: '[[1,2]]')
  otherwise, each ARG       one argument: JSON if it parses (5, -1.5, true, null, '\"x\"',
                            '{\"a\":1}', '[1,2]'), else the text itself (hello, ko4).
                            Text that starts like JSON ([ { \" or a number) must be valid JSON;
                            to send such text, or a word like true, as a string, quote it: '\"true\"'.
  Strings are never capabilities: \"ko4\" is sent as the string \"ko4\".

The result CapData is shown prettified (<ko5> (Alleged: Foo) for objects, 7n for bigints,
[undefined], [TypeError: boom]), indented on a terminal; --raw prints the CapData itself.
A result that is one object reference is instead issued as a capability and written as a
.ocap file when standard output is not a terminal (`> counter.ocap` makes it 0600), or with
--out FILE. `ocapctl send FILE.ocap METHOD [ARGS...]` invokes the object the file names, on
the socket the file names; object references in its results are new capabilities.

Example:
  ocapctl send ko4 add 5 '\"x\"' hello   sends [5,\"x\",\"hello\"]
  ocapctl send ko4 resume               prints \"Counter incremented to: 2\"
  ocapctl send ko4 makeCounter --expires 1h > counter.ocap
  ocapctl send counter.ocap increment";
