//! What `ocapctl` does with a parsed command line: one function per command, grouped by what
//! the commands work on (the kernel, capabilities, the service, offline tools).

mod caps;
mod kernel;
mod service;
mod tools;

use super::options::{Cli, Command};
use super::{ClientError, Target, output};
use crate::paths::Paths;
use clap::CommandFactory;
use serde_json::Value;

/// Runs `cli` and returns the exit status, after printing the error, if any, on standard error.
/// Call it before any other thread exists: `--home` is passed on through the environment.
pub fn run(cli: Cli) -> u8 {
    if let Some(home) = &cli.home {
        let home = std::path::absolute(home).unwrap_or_else(|_| home.clone());
        // SAFETY: single-threaded (see above); the daemons this process spawns must see the
        // same home.
        unsafe { std::env::set_var("OCAP_HOME", home) };
    }
    let paths = Paths::from_env().with_overrides(cli.socket.as_deref(), None);
    let target = Target::new(paths, cli.socket.clone());
    match dispatch(&cli, target) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{}", e.report());
            e.exit_code()
        }
    }
}

fn dispatch(cli: &Cli, target: Target) -> Result<(), ClientError> {
    match &cli.command {
        Command::Exec {
            method,
            params,
            timeout,
            out,
        } => kernel::exec(
            target,
            method.as_deref(),
            params.as_deref(),
            timeout.as_deref(),
            out.as_deref(),
        ),
        Command::Launch { config, wait } => kernel::launch(cli, target, config.as_deref(), wait),
        Command::Send {
            target: to,
            method,
            args,
            raw,
            keep,
            wait,
        } => kernel::send(cli, target, to, (method, args), *raw, keep, wait),
        Command::Terminate { id, wait } => kernel::terminate(cli, target, id, wait),
        Command::Restart { vat, wait } => kernel::restart(cli, target, vat, wait),
        Command::Ping { vat, wait } => kernel::ping(cli, target, vat, wait),
        Command::Revoke { kref, wait } => kernel::revoke(cli, target, kref, wait),
        Command::Revoked { kref, wait } => kernel::revoked(cli, target, kref, wait),
        Command::Gc { wait } => kernel::gc(cli, target, wait),
        Command::Console => kernel::console(target),
        Command::Caps(command) => caps::run(cli, &target, command),
        Command::Status => service::status(&target, cli.json),
        Command::Start => service::start(&target),
        Command::Stop => service::stop(&target),
        Command::Fsck => service::fsck(&target, cli.json),
        Command::Peers => super::peers::show(&target, cli.json),
        Command::Backup { file } => service::backup(&target, file),
        Command::Purge { force } => service::purge(&target, *force),
        Command::Logs { follow, lines } => service::logs(&target, *follow, *lines),
        Command::Doctor => service::doctor(&target, cli.json),
        Command::Bundle { source, output } => tools::bundle(source, output.as_deref()),
        Command::Completions { shell } => tools::completions(*shell),
        Command::Manpages { dir } => tools::manpages(dir),
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

/// Pretty on a terminal, compact otherwise.
fn print_json(value: &Value) {
    output::print_line(&output::json_text(value, output::stdout_is_tty()));
}
