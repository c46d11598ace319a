//! `ocapd`, the kernel daemon: parse the command line and run [`ocap::daemon::run`].

use clap::{CommandFactory, Parser};
use ocap::daemon::Options;
use ocap::daemon::Subcommand;
use std::process::ExitCode;

fn main() -> ExitCode {
    let options = Options::parse();
    if let Some(dir) = &options.manpages {
        return match ocap::manpage::write_pages(Options::command(), "8", ocap::daemon::MANUAL, dir)
        {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ocapd: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Subcommand::Relay(args)) = &options.command {
        return ExitCode::from(relay(args));
    }
    ExitCode::from(ocap::daemon::run(options))
}

#[cfg(feature = "remote")]
fn relay(args: &ocap::daemon::RelayArgs) -> u8 {
    ocap::daemon::relay::run(args)
}

#[cfg(not(feature = "remote"))]
fn relay(_: &ocap::daemon::RelayArgs) -> u8 {
    eprintln!("ocapd: built without remote comms (cargo feature `remote`)");
    2
}
