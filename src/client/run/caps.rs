//! `ocapctl caps list|revoke|issue`.

use super::print_json;
use crate::client::options::{CapsCommand, Cli};
use crate::client::{self, ClientError, Target, caps, output};
use serde_json::json;

/// Runs one `caps` subcommand.
pub(super) fn run(cli: &Cli, target: &Target, command: &CapsCommand) -> Result<(), ClientError> {
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
