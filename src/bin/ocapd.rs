//! `ocapd`, the kernel daemon: parse the command line and run [`ocap::daemon::run`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let options = ocap::daemon::Options::parse();
    ExitCode::from(ocap::daemon::run(options))
}
