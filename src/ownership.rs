//! Whether anyone but the daemon's user (and root) could change what a folder's name leads to.
//!
//! A folder another user can write in lets that user swap what the daemon opens there: plant a
//! symbolic link where the lock file goes (and have root overwrite a file of root's), or replace
//! the database (and have root run that user's worker command). So the daemon refuses a state
//! folder that is not its own, or any folder above one of its files that another user may write
//! in, and from then on uses the folders' real paths (no symbolic link on the way).
//! `ocapctl doctor` judges folders by the same rules.

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How strictly a folder is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The daemon's own folder (the database's): the daemon's user owns it and nobody else may
    /// write in it.
    Private,
    /// A folder on the way, or one holding a socket or log: owned by the daemon's user or root,
    /// and writable by nobody else unless sticky (as `/tmp`, where only an entry's owner may
    /// rename or remove it).
    Shared,
}

/// Why a folder cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum Untrusted {
    /// The folder belongs to someone else.
    #[error(
        "{path} belongs to uid {owner}, but ocapd runs as uid {uid}: another user could replace \
         what ocapd keeps there; use a folder of uid {uid}'s (or chown it)"
    )]
    Owner {
        /// The folder.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The daemon's user.
        uid: u32,
    },
    /// Others may write in the folder.
    #[error(
        "{path} is writable by other users (mode {mode:04o}): they could replace what ocapd \
         keeps there; chmod go-w {path}"
    )]
    Writable {
        /// The folder.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not a folder at all.
    #[error("{path} is not a directory")]
    NotDirectory {
        /// The path.
        path: PathBuf,
    },
    /// The folder could not be examined.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// What is wrong with the folder `path` whose metadata is `meta`, judged by `rule` for `uid`.
pub fn judge(path: &Path, meta: &Metadata, uid: u32, rule: Rule) -> Result<(), Untrusted> {
    if !meta.is_dir() {
        return Err(Untrusted::NotDirectory { path: path.into() });
    }
    let mode = meta.mode() & 0o7777;
    let owner_ok = match rule {
        Rule::Private => meta.uid() == uid,
        Rule::Shared => meta.uid() == uid || meta.uid() == 0,
    };
    if !owner_ok {
        return Err(Untrusted::Owner {
            path: path.into(),
            owner: meta.uid(),
            uid,
        });
    }
    let sticky = mode & 0o1000 != 0 && rule == Rule::Shared;
    if mode & 0o022 != 0 && !sticky {
        return Err(Untrusted::Writable {
            path: path.into(),
            mode,
        });
    }
    Ok(())
}

/// Checks the existing folder `dir` by `rule` and every folder above it by [`Rule::Shared`], for
/// the effective uid; returns the folder's real path, which is what to use from then on.
pub fn check(dir: &Path, rule: Rule) -> Result<PathBuf, Untrusted> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Untrusted::Io { path, source }
    };
    let real = std::fs::canonicalize(dir).map_err(io(dir))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    for (depth, folder) in real.ancestors().enumerate() {
        let meta = std::fs::symlink_metadata(folder).map_err(io(folder))?;
        judge(
            folder,
            &meta,
            uid,
            if depth == 0 { rule } else { Rule::Shared },
        )?;
    }
    Ok(real)
}

/// Creates `dir` (0700, with its parents) if it is missing, then [`check`]s it.
pub fn prepare(dir: &Path, rule: Rule) -> Result<PathBuf, Untrusted> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| Untrusted::Io {
            path: dir.into(),
            source,
        })?;
    check(dir, rule)
}

/// Words an open's failure so that a refused symbolic link says so (`ELOOP` reads "too many
/// levels of symbolic links", which hides why).
pub fn open_error(path: &Path, error: io::Error) -> io::Error {
    let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if link {
        return io::Error::other(format!(
            "{} is a symbolic link; ocapd does not follow links in its own folders",
            path.display()
        ));
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_private_folder_must_be_ours_and_closed_to_others() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let real = prepare(&state, Rule::Private).unwrap();
        assert_eq!(real, std::fs::canonicalize(&state).unwrap());
        for mode in [0o770, 0o707, 0o1777] {
            chmod(&state, mode);
            let err = check(&state, Rule::Private).unwrap_err();
            assert!(matches!(err, Untrusted::Writable { .. }), "{mode:o}: {err}");
        }
        chmod(&state, 0o755);
        check(&state, Rule::Private).unwrap();
        // Sticky and world-writable, as /tmp: fine above a folder, and for a socket's.
        chmod(&state, 0o1777);
        check(&state, Rule::Shared).unwrap();
        check(&state.join("."), Rule::Shared).unwrap();
        let inner = prepare(&state.join("inner"), Rule::Private).unwrap();
        assert!(inner.ends_with("state/inner"));
        // Group-writable and not sticky: nobody else may write above our folder either.
        chmod(&state, 0o775);
        let err = check(&inner, Rule::Private).unwrap_err();
        assert!(
            matches!(err, Untrusted::Writable { ref path, .. } if path.ends_with("state")),
            "{err}"
        );
    }

    #[test]
    fn a_link_leads_to_the_real_folder_and_that_one_is_judged() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        chmod(&real, 0o700);
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let found = check(&dir.path().join("link"), Rule::Private).unwrap();
        assert_eq!(found, std::fs::canonicalize(&real).unwrap());
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(matches!(
            check(&file, Rule::Private),
            Err(Untrusted::NotDirectory { .. })
        ));
    }

    #[test]
    fn another_users_folder_is_refused() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: giving a folder to another uid needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        let err = check(&theirs, Rule::Private).unwrap_err();
        assert!(
            matches!(err, Untrusted::Owner { owner: 65534, .. }),
            "{err}"
        );
        // Below it, even a folder of ours: its owner could swap it.
        let ours = theirs.join("ours");
        std::fs::create_dir(&ours).unwrap();
        let err = check(&ours, Rule::Private).unwrap_err();
        assert!(
            matches!(err, Untrusted::Owner { owner: 65534, .. }),
            "{err}"
        );
    }
}
