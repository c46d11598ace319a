//! The folders the daemon writes in, checked before anything is opened there (see
//! [`crate::ownership`]) and then named by their real paths, so that no symbolic link another
//! user controls lies on the way to the database, the lock, the log or a socket.

use super::settings::Settings;
use crate::ownership::{self, Rule};
use crate::paths::{DATABASE_FILE, Paths, config_home, env_var};
use std::path::{Path, PathBuf};

/// Refuses to make a new kernel at the default place while one made by an earlier
/// `ocap.service` waits in `$XDG_CONFIG_HOME/ocap`: systemd before 254 put a user unit's
/// `StateDirectory=` there, and starting afresh beside it would silently give the user a new
/// kernel with a new identity.
pub fn no_stranded_kernel(paths: &Paths) -> Result<(), String> {
    let chosen = env_var("OCAP_HOME").is_some() || env_var("STATE_DIRECTORY").is_some();
    if cfg!(target_os = "macos") || chosen || paths.database != Paths::from_env().database {
        return Ok(());
    }
    let stranded = config_home().join("ocap").join(DATABASE_FILE);
    if paths.database.exists() || stranded == paths.database || !stranded.exists() {
        return Ok(());
    }
    let (from, to) = (stranded.display(), paths.database.display());
    Err(format!(
        "{from} holds the kernel of an earlier ocap.service (systemd before 254 kept a user \
         unit's state in ~/.config); this ocapd keeps it at {to}. With no daemon running, move \
         it there (mv {from}* {dir}/), or pass --db {from} to keep it where it is",
        dir = paths.state_dir().display()
    ))
}

/// Checks (creating where missing) the state folder by [`Rule::Private`], and the folders of the
/// log and of the sockets the daemon binds itself by [`Rule::Shared`]; rewrites their paths in
/// `settings` to the real ones. Sockets the service manager passed are its business.
pub fn secure(settings: &mut Settings, binds_socket: bool) -> Result<(), String> {
    let paths = &mut settings.paths;
    paths.database = real(&paths.database, Rule::Private, true)?;
    paths.log = real(&paths.log, Rule::Shared, false)?;
    if let Some(log) = &settings.log_file {
        settings.log_file = Some(real(log, Rule::Shared, true)?);
    }
    if binds_socket {
        paths.socket = real(&paths.socket, Rule::Shared, true)?;
    }
    if let Some(caps) = &settings.cap_socket {
        // The capability socket's folder is the admin's to make (and to open to others).
        settings.cap_socket = Some(real(caps, Rule::Shared, false)?);
    }
    Ok(())
}

/// `file` in the real path of its folder, which is checked by `rule` (and made first if `make`).
/// A folder that does not exist and is not to be made is left for whoever opens the file.
fn real(file: &Path, rule: Rule, make: bool) -> Result<PathBuf, String> {
    let name = file
        .file_name()
        .ok_or_else(|| format!("{} does not name a file", file.display()))?;
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let checked = if make {
        ownership::prepare(dir, rule)
    } else if dir.exists() {
        ownership::check(dir, rule)
    } else {
        return Ok(file.to_path_buf());
    };
    Ok(checked.map_err(|e| e.to_string())?.join(name))
}
