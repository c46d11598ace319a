//! `ocapctl`, the small client of `ocapd`: parse the command line, call [`ocap::client`].

use clap::{Args, CommandFactory, Parser, Subcommand};
use ocap::client::caps::{self, SendTarget};
use ocap::client::commands::{KernelCommand, Style, parse_timeout};
use ocap::client::ids::{KRef, VatId, VatOrSubcluster};
use ocap::client::{self, ClientError, StopOutcome, Target, exit_codes, launch, output, params};
use ocap::paths::Paths;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_STATUS: &str = "Exit status: 0 success; 1 the daemon answered with an error or the command failed; \
2 usage error; 69 no daemon reachable; 76 unintelligible reply; 77 permission denied.";

/// Control the ocap kernel daemon (ocapd).
#[derive(Debug, Parser)]
#[command(name = "ocapctl", version, about, after_help = EXIT_STATUS)]
struct Cli {
    /// Daemon socket [default: $OCAP_SOCKET_PATH, else the per-user default]
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,

    /// OCAP home directory: socket, database and log all live there (sets OCAP_HOME)
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,

    /// Print JSON: `status` even on a terminal; `ping`, `terminate`, `restart`, `revoke`, `gc`
    /// the bare result instead of a word or nothing
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
        #[command(flatten)]
        keep: KeepArgs,
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
        #[command(flatten)]
        wait: Wait,
    },
    /// Restart a vat from its persisted state (restartVat)
    Restart {
        /// vN
        vat: VatId,
        #[command(flatten)]
        wait: Wait,
    },
    /// Check that a vat answers (pingVat); prints pong
    Ping {
        /// vN
        vat: VatId,
        #[command(flatten)]
        wait: Wait,
    },
    /// Revoke a kernel object: messages to it then fail (revoke)
    Revoke {
        /// koN
        kref: KRef,
        #[command(flatten)]
        wait: Wait,
    },
    /// Print whether a kernel object is revoked (isRevoked): true or false
    Revoked {
        /// koN
        kref: KRef,
        #[command(flatten)]
        wait: Wait,
    },
    /// Clean up terminated vats and run the kernel's garbage collection (collectGarbage)
    Gc {
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
enum CapsCommand {
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
        #[command(flatten)]
        keep: KeepArgs,
    },
}

/// Where and how a new capability is kept.
#[derive(Debug, Args)]
struct KeepArgs {
    /// Write a result that is an object reference as a new .ocap capability file (mode 0600)
    /// even on a terminal; off a terminal, standard output gets the file
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Label the capability (shown by `ocapctl caps list`)
    #[arg(long, value_name = "TEXT")]
    label: Option<String>,
    /// The capability stops working after this long: 45s, 30m, 1h, 2d
    #[arg(long, value_name = "DURATION", value_parser = caps::parse_duration)]
    expires: Option<u64>,
}

impl KeepArgs {
    fn keep(&self, default_label: String) -> caps::Keep {
        caps::Keep {
            out: self.out.clone(),
            label: Some(self.label.clone().unwrap_or(default_label)),
            expires: self.expires,
        }
    }
}

/// `--timeout`, on every command that waits for the kernel.
#[derive(Debug, Args)]
struct Wait {
    /// Read timeout in seconds [default: no timeout]
    #[arg(long, value_name = "SECS")]
    timeout: Option<String>,
}

const LAUNCH_HELP: &str = "\
Relative bundleSpec paths become file:// URLs against the current directory. A whole
launchSubcluster params object, {\"config\": {...}}, is accepted too.

Example:
  ocapctl launch '{\"bootstrap\":\"counter\",\"vats\":{\"counter\":{\"bundleSpec\":\"./counter.bundle\"}}}'
  ocapctl launch cluster.json";

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(home) = &cli.home {
        let home = std::path::absolute(home).unwrap_or_else(|_| home.clone());
        // SAFETY: single-threaded; the daemons this process spawns must see the same home.
        unsafe { std::env::set_var("OCAP_HOME", home) };
    }
    let paths = Paths::from_env().with_overrides(cli.socket.as_deref(), None);
    let target = Target::new(paths, cli.socket.clone());
    match run(&cli, target) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", e.report());
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: &Cli, mut target: Target) -> Result<(), ClientError> {
    match &cli.command {
        Command::Exec {
            method,
            params,
            timeout,
            out,
        } => {
            client::ensure_daemon(&target)?;
            target.timeout = parse_timeout(timeout.as_deref())?;
            exec(
                &target,
                method.as_deref(),
                params.as_deref(),
                out.as_deref(),
            )
        }
        Command::Launch { config, wait } => {
            let Some(config) = launch::read_config(config.as_deref())? else {
                usage_error(
                    "launch",
                    "launch needs a cluster config: a file, a JSON argument, \
                     or standard input (a pipe or a file)",
                );
            };
            let cwd = std::env::current_dir()
                .map_err(|e| ClientError::Failed(format!("current directory: {e}")))?;
            let params = launch::launch_params(config, &cwd)?;
            kernel(cli, target, KernelCommand::Launch { params }, wait)
        }
        Command::Send {
            target: to,
            method,
            args,
            raw,
            keep,
            wait,
        } => {
            let args = client::send::parse_args(args)?;
            send(cli, target, to, (method, args), *raw, keep, wait)
        }
        Command::Caps(command) => caps_command(cli, &target, command),
        Command::Console => {
            client::ensure_daemon(&target)?;
            let history = target.paths.database.with_file_name("console_history");
            client::console::run(target, &history)
        }
        Command::Terminate { id, wait } => {
            kernel(cli, target, KernelCommand::Terminate(id.clone()), wait)
        }
        Command::Restart { vat, wait } => {
            kernel(cli, target, KernelCommand::Restart(vat.clone()), wait)
        }
        Command::Ping { vat, wait } => kernel(cli, target, KernelCommand::Ping(vat.clone()), wait),
        Command::Revoke { kref, wait } => {
            kernel(cli, target, KernelCommand::Revoke(kref.clone()), wait)
        }
        Command::Revoked { kref, wait } => {
            kernel(cli, target, KernelCommand::Revoked(kref.clone()), wait)
        }
        Command::Gc { wait } => kernel(cli, target, KernelCommand::CollectGarbage, wait),
        Command::Status => status(&target, cli.json),
        Command::Start => {
            client::ensure_daemon(&target)?;
            eprintln!("Daemon running. Socket: {}", target.paths.socket.display());
            Ok(())
        }
        Command::Stop => stop(&target),
        Command::Fsck => fsck(&target, cli.json),
        Command::Peers => client::peers::show(&target, cli.json),
        Command::Backup { file } => {
            let file = std::path::absolute(file)
                .map_err(|e| ClientError::Usage(format!("{}: {e}", file.display())))?;
            client::ensure_daemon(&target)?;
            client::call(&target, "backupDatabase", Some(&json!({"path": file})))?;
            eprintln!("Database copied to {}", file.display());
            Ok(())
        }
        Command::Purge { force } => purge(&target, *force),
        Command::Bundle { source, output } => {
            let written = client::bundle::bundle(source, output.as_deref())?;
            eprintln!("Bundle written to {}", written.display());
            Ok(())
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut command, "ocapctl", &mut script);
            output::print_line(String::from_utf8_lossy(&script).trim_end());
            Ok(())
        }
        Command::Logs { follow, lines } => {
            let options = client::logs::LogOptions {
                lines: *lines,
                follow: *follow,
            };
            client::logs::show(&client::logs::source(&target), options)
        }
        Command::Doctor => doctor(&target, cli.json),
        Command::Manpages { dir } => {
            ocap::manpage::write_pages(Cli::command(), "1", client::manual::MANUAL, dir)
                .map_err(|e| ClientError::Failed(e.to_string()))?;
            Ok(())
        }
    }
}

fn doctor(target: &Target, json: bool) -> Result<(), ClientError> {
    let checks = client::doctor::run(target);
    if output::stdout_is_tty() && !json {
        output::print_line(&client::doctor::to_text(&checks));
    } else {
        print_json(&client::doctor::to_json(&checks));
    }
    client::doctor::outcome(&checks)
}

fn exec(
    target: &Target,
    method: Option<&str>,
    params: Option<&str>,
    out: Option<&std::path::Path>,
) -> Result<(), ClientError> {
    let method = method.filter(|m| !m.is_empty()).unwrap_or("getStatus");
    let mut params = params::read(params)?;
    if let (Some(params), Ok(cwd)) = (params.as_mut(), std::env::current_dir()) {
        params::resolve_bundle_specs(method, params, &cwd);
    }
    let result = client::call(target, method, params.as_ref())?;
    match out {
        Some(out) => caps::keep_reference(target, &result, &format!("ocapctl exec {method}"), out),
        None => {
            print_json(&result);
            Ok(())
        }
    }
}

/// Exits with clap's usage error (exit 2) for `subcommand`.
fn usage_error(subcommand: &str, message: &str) -> ! {
    let mut cli = Cli::command();
    cli.build();
    let sub = cli
        .find_subcommand_mut(subcommand)
        .expect("the subcommand exists");
    sub.error(clap::error::ErrorKind::MissingRequiredArgument, message)
        .exit()
}

/// A kernel command, its arguments already checked: start a daemon if needed, call, print.
fn kernel(
    cli: &Cli,
    mut target: Target,
    command: KernelCommand,
    wait: &Wait,
) -> Result<(), ClientError> {
    let timeout = parse_timeout(wait.timeout.as_deref())?;
    client::ensure_daemon(&target)?;
    target.timeout = timeout;
    let result = client::call(&target, command.method(), Some(&command.params()))?;
    let style = Style {
        tty: output::stdout_is_tty(),
        json: cli.json,
    };
    let printed = command.render(&result, style);
    if let Some(line) = printed.stderr {
        eprintln!("{line}");
    }
    if let Some(line) = printed.stdout {
        output::print_line(&line);
    }
    Ok(())
}

/// `send`: to a kref like the other kernel commands, except that a lone reference off a
/// terminal or with `--out` becomes a capability file; or to the capability in a file.
fn send(
    cli: &Cli,
    mut target: Target,
    to: &SendTarget,
    (method, args): (&str, Vec<Value>),
    raw: bool,
    keep: &KeepArgs,
    wait: &Wait,
) -> Result<(), ClientError> {
    let tty = output::stdout_is_tty();
    match to {
        SendTarget::File(file) => {
            if keep.label.is_some() || keep.expires.is_some() {
                usage_error(
                    "send",
                    "--label and --expires are for krefs: the daemon labels the capabilities \
                     a capability file's results carry, and they expire with it",
                );
            }
            target.timeout = parse_timeout(wait.timeout.as_deref())?;
            let out = keep.out.as_deref();
            caps::send_file(&target, file, (method, &args), raw, out, tty)
        }
        SendTarget::Kref(kref) => {
            let command = KernelCommand::Send {
                target: kref.clone(),
                method: method.to_string(),
                args,
                raw,
            };
            if raw || (tty && keep.out.is_none()) {
                return kernel(cli, target, command, wait);
            }
            target.timeout = parse_timeout(wait.timeout.as_deref())?;
            client::ensure_daemon(&target)?;
            let keep = keep.keep(format!("ocapctl send {kref} {method}"));
            caps::send_kref(&target, &command, &keep, tty)
        }
    }
}

fn caps_command(cli: &Cli, target: &Target, command: &CapsCommand) -> Result<(), ClientError> {
    client::ensure_daemon(target)?;
    match command {
        CapsCommand::List => {
            let records = client::call(target, "listCapabilities", None)?;
            if output::stdout_is_tty() && !cli.json {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                output::print_line(&caps::list_text(&records, now));
            } else {
                print_json(&records);
            }
        }
        CapsCommand::Revoke { id } => {
            client::call(target, "revokeCapability", Some(&json!({"id": id})))?;
            eprintln!("Capability {id} revoked.");
        }
        CapsCommand::Issue { kref, keep } => {
            let keep = keep.keep(format!("ocapctl caps issue {kref}"));
            let file = caps::issue(target, kref.as_str(), &keep)?;
            caps::keep(&file, keep.out.as_deref())?;
        }
    }
    Ok(())
}

fn status(target: &Target, json: bool) -> Result<(), ClientError> {
    let info = client::call(target, "daemonInfo", None)?;
    let status = client::call(target, "getStatus", None)?;
    if output::stdout_is_tty() && !json {
        output::print_line(&output::status_summary(&info, &status));
    } else {
        print_json(&json!({"daemon": info, "status": status}));
    }
    Ok(())
}

fn fsck(target: &Target, json: bool) -> Result<(), ClientError> {
    client::ensure_daemon(target)?;
    let report = client::call(target, "checkIntegrity", None)?;
    let integrity: Vec<&str> = report["integrity"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let problems: Vec<&str> = report["invariants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if output::stdout_is_tty() && !json {
        output::print_line(&format!("database integrity: {}", integrity.join("; ")));
        let invariants = if problems.is_empty() {
            "ok".to_string()
        } else {
            problems.join("\n  ")
        };
        output::print_line(&format!("kernel invariants: {invariants}"));
    } else {
        print_json(&report);
    }
    let count = problems.len() + usize::from(integrity != ["ok"]);
    if count > 0 {
        return Err(ClientError::Failed(format!(
            "the database has {count} problem(s)"
        )));
    }
    Ok(())
}

fn stop(target: &Target) -> Result<(), ClientError> {
    match client::stop(target)? {
        StopOutcome::NotRunning => eprintln!("Daemon is not running."),
        StopOutcome::Stopped { note } => {
            eprintln!("Daemon stopped.");
            if let Some(note) = note {
                eprintln!("Note: {note}");
            }
        }
    }
    Ok(())
}

fn purge(target: &Target, force: bool) -> Result<(), ClientError> {
    if !force {
        eprintln!("Usage: ocapctl purge --force\nThis will delete all OCAP daemon state.");
        std::process::exit(exit_codes::FAILURE.into());
    }
    client::purge(target)?;
    eprintln!("All daemon state deleted.");
    Ok(())
}

/// Pretty on a terminal, compact otherwise.
fn print_json(value: &Value) {
    output::print_line(&output::json_text(value, output::stdout_is_tty()));
}
