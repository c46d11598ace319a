//! `ocapctl`, the small client of `ocapd`: parse the command line, call [`ocap::client`].

use clap::{Parser, Subcommand};
use ocap::client::{self, ClientError, StopOutcome, Target, exit_codes, output, params};
use ocap::paths::Paths;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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

    /// Print JSON even on a terminal
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
    },
    /// Show whether a daemon runs and what its kernel holds
    Status,
    /// Make sure a daemon is serving (starts one unless a service manager owns the socket)
    Start,
    /// Stop the daemon: ask, then SIGTERM, then SIGKILL (never kills a supervised daemon)
    Stop,
    /// Stop the daemon and delete all its state (database, log, lock, socket)
    Purge {
        /// Required: confirms that all state is to be deleted
        #[arg(long)]
        force: bool,
    },
}

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
        } => {
            client::ensure_daemon(&target)?;
            target.timeout = parse_timeout(timeout.as_deref())?;
            exec(&target, method.as_deref(), params.as_deref())
        }
        Command::Status => status(&target, cli.json),
        Command::Start => {
            client::ensure_daemon(&target)?;
            eprintln!("Daemon running. Socket: {}", target.paths.socket.display());
            Ok(())
        }
        Command::Stop => stop(&target),
        Command::Purge { force } => purge(&target, *force),
    }
}

fn exec(target: &Target, method: Option<&str>, params: Option<&str>) -> Result<(), ClientError> {
    let method = method.filter(|m| !m.is_empty()).unwrap_or("getStatus");
    let mut params = params::read(params)?;
    if let (Some(params), Ok(cwd)) = (params.as_mut(), std::env::current_dir()) {
        params::resolve_bundle_specs(method, params, &cwd);
    }
    let result = client::call(target, method, params.as_ref())?;
    print_json(&result);
    Ok(())
}

fn status(target: &Target, json: bool) -> Result<(), ClientError> {
    let info = client::call(target, "daemonInfo", None)?;
    let status = client::call(target, "getStatus", None)?;
    if output::stdout_is_tty() && !json {
        println!("{}", output::status_summary(&info, &status));
    } else {
        print_json(&json!({"daemon": info, "status": status}));
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
    println!("{}", output::json_text(value, output::stdout_is_tty()));
}

/// `--timeout` as the reference takes it: a positive whole number of seconds.
fn parse_timeout(text: Option<&str>) -> Result<Option<Duration>, ClientError> {
    let Some(text) = text else { return Ok(None) };
    match text.parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(Some(Duration::from_secs(secs))),
        _ => Err(ClientError::Usage(format!(
            "--timeout must be a positive integer, got: {text}"
        ))),
    }
}
