//! The commands that call the kernel: `exec`, `launch`, `send`, `terminate`, `restart`, `ping`,
//! `revoke`, `revoked`, `gc` and `console`.

use super::{print_json, usage_error};
use crate::client::caps::{self, SendTarget};
use crate::client::commands::{KernelCommand, Style, parse_timeout};
use crate::client::ids::{KRef, VatId, VatOrSubcluster};
use crate::client::options::{Cli, KeepArgs, Wait};
use crate::client::{self, ClientError, Target, launch, output, params};
use serde_json::Value;
use std::path::Path;

/// `exec [METHOD] [PARAMS] [--timeout] [--out FILE]`.
pub(super) fn exec(
    mut target: Target,
    method: Option<&str>,
    params: Option<&str>,
    timeout: Option<&str>,
    out: Option<&Path>,
) -> Result<(), ClientError> {
    client::ensure_daemon(&target)?;
    target.timeout = parse_timeout(timeout)?;
    let method = method.filter(|m| !m.is_empty()).unwrap_or("getStatus");
    let mut params = params::read(params)?;
    if let (Some(params), Ok(cwd)) = (params.as_mut(), std::env::current_dir()) {
        params::resolve_bundle_specs(method, params, &cwd);
    }
    let result = client::call(&target, method, params.as_ref())?;
    match out {
        Some(out) => caps::keep_reference(&target, &result, &format!("ocapctl exec {method}"), out),
        None => {
            print_json(&result);
            Ok(())
        }
    }
}

/// `launch [CONFIG]`.
pub(super) fn launch(
    cli: &Cli,
    target: Target,
    config: Option<&str>,
    wait: &Wait,
) -> Result<(), ClientError> {
    let Some(config) = launch::read_config(config)? else {
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

/// `terminate vN|sN`.
pub(super) fn terminate(
    cli: &Cli,
    target: Target,
    id: &VatOrSubcluster,
    wait: &Wait,
) -> Result<(), ClientError> {
    kernel(cli, target, KernelCommand::Terminate(id.clone()), wait)
}

/// `restart vN`.
pub(super) fn restart(
    cli: &Cli,
    target: Target,
    vat: &VatId,
    wait: &Wait,
) -> Result<(), ClientError> {
    kernel(cli, target, KernelCommand::Restart(vat.clone()), wait)
}

/// `ping vN`.
pub(super) fn ping(cli: &Cli, target: Target, vat: &VatId, wait: &Wait) -> Result<(), ClientError> {
    kernel(cli, target, KernelCommand::Ping(vat.clone()), wait)
}

/// `revoke koN`.
pub(super) fn revoke(
    cli: &Cli,
    target: Target,
    kref: &KRef,
    wait: &Wait,
) -> Result<(), ClientError> {
    kernel(cli, target, KernelCommand::Revoke(kref.clone()), wait)
}

/// `revoked koN`.
pub(super) fn revoked(
    cli: &Cli,
    target: Target,
    kref: &KRef,
    wait: &Wait,
) -> Result<(), ClientError> {
    kernel(cli, target, KernelCommand::Revoked(kref.clone()), wait)
}

/// `gc`.
pub(super) fn gc(cli: &Cli, target: Target, wait: &Wait) -> Result<(), ClientError> {
    kernel(cli, target, KernelCommand::CollectGarbage, wait)
}

/// `console`.
pub(super) fn console(target: Target) -> Result<(), ClientError> {
    client::ensure_daemon(&target)?;
    let history = target.paths.database.with_file_name("console_history");
    client::console::run(target, &history)
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
pub(super) fn send(
    cli: &Cli,
    mut target: Target,
    to: &SendTarget,
    (method, args): (&str, &[String]),
    raw: bool,
    keep: &KeepArgs,
    wait: &Wait,
) -> Result<(), ClientError> {
    let args: Vec<Value> = client::send::parse_args(args)?;
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
