//! `ocapctl`, the small client of `ocapd`: parse the command line and run [`ocap::client::run`].

use clap::Parser;
use ocap::client::options::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(ocap::client::run(Cli::parse()))
}
