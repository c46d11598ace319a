//! `ocapd`, the kernel daemon: parse the command line and run [`ocap::daemon::run`].

use clap::{CommandFactory, Parser};
use ocap::daemon::Options;
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
    ExitCode::from(ocap::daemon::run(options))
}
