//! The commands that need no daemon: `bundle`, `completions` and `manpages`.

use crate::client::options::Cli;
use crate::client::{ClientError, bundle as vat_bundle, manual, output};
use clap::CommandFactory;
use std::path::Path;

/// `bundle SOURCE [-o OUT]`.
pub(super) fn bundle(source: &Path, out: Option<&Path>) -> Result<(), ClientError> {
    let written = vat_bundle::bundle(source, out)?;
    eprintln!("Bundle written to {}", written.display());
    Ok(())
}

/// `completions SHELL`: the script for `shell`, generated from the clap definitions.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<(), ClientError> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "ocapctl", &mut script);
    output::print_line(String::from_utf8_lossy(&script).trim_end());
    Ok(())
}

/// `manpages DIR`: ocapctl.1 and one page per command, generated from the clap definitions.
pub(super) fn manpages(dir: &Path) -> Result<(), ClientError> {
    crate::manpage::write_pages(Cli::command(), "1", manual::MANUAL, dir)
        .map_err(|e| ClientError::Failed(e.to_string()))?;
    Ok(())
}
