//! The platform's file-system capability (spec §3.2 `platformConfig.fs`): reads confined to a
//! vat's `rootDir`, as the reference's Node platform gives (`existsSync`, `promises.readFile`,
//! `promises.access`, each only if the config turns it on; `vat-runtime/src/platform.js` makes
//! the JavaScript side).
//!
//! As in the reference, a path outside the root is refused (`Path P is outside allowed root R`)
//! and so is a symbolic link (`Symlinks are prohibited: P`); unlike it, a link anywhere below the
//! root is refused, not only the last component, so no link can lead out of the root; a relative
//! path is taken from the root (the reference takes it from the daemon's working directory, which
//! is outside any sensible root); and a file read may have at most [`MAX_READ`] bytes.
//!
//! The path is resolved beneath the root in the same step that opens it, so nobody who can write
//! under the root can swap a component for a link between a check and the open: on Linux with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, elsewhere (and where `openat2` is missing or
//! filtered) one `openat(O_NOFOLLOW)` per component from the root's descriptor. Only regular
//! files are read, opened with `O_NONBLOCK` and checked before the first read: a FIFO held the
//! kernel thread forever.

use crate::paths::lexical;
use serde_json::Value;
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Bytes one `readFile` may return (the vat's memory limit applies on top).
pub const MAX_READ: u64 = 16 << 20;

/// What a vat's `platformConfig.fs` turns on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsConfig {
    /// `rootDir`: every path is resolved beneath it.
    pub root: PathBuf,
    /// Whether `fs.existsSync` is given.
    pub exists_sync: bool,
    /// Whether `fs.promises.readFile` is given.
    pub read_file: bool,
    /// Whether `fs.promises.access` is given.
    pub access: bool,
}

/// Why a path could not be reached beneath the root.
enum Refusal {
    /// `..` led above the root.
    Outside,
    /// A component is a symbolic link.
    Link,
    /// The system said no.
    Io(io::Error),
}

impl From<io::Error> for Refusal {
    fn from(error: io::Error) -> Refusal {
        // ELOOP: O_NOFOLLOW or RESOLVE_NO_SYMLINKS met a link (FreeBSD says EMLINK).
        match error.raw_os_error() {
            Some(libc::ELOOP | libc::EMLINK) => Refusal::Link,
            Some(libc::EXDEV) => Refusal::Outside,
            _ => Refusal::Io(error),
        }
    }
}

impl FsConfig {
    /// The `fs` capability `config` asks for, if any.
    pub fn from_config(config: &Value) -> Result<Option<FsConfig>, String> {
        let Some(fs) = config.pointer("/platformConfig/fs") else {
            return Ok(None);
        };
        let root = fs
            .get("rootDir")
            .and_then(Value::as_str)
            .ok_or("platformConfig.fs.rootDir must be a string")?;
        if !Path::new(root).is_absolute() {
            return Err(format!(
                "platformConfig.fs.rootDir must be an absolute path, not {root}"
            ));
        }
        let on = |pointer: &str| fs.pointer(pointer).and_then(Value::as_bool) == Some(true);
        Ok(Some(FsConfig {
            root: lexical(Path::new(root)),
            exists_sync: on("/existsSync"),
            read_file: on("/promises/readFile"),
            access: on("/promises/access"),
        }))
    }

    /// Whether `path` names something, as Node's `existsSync` (false for a path it may not see).
    pub fn exists(&self, path: &str) -> Result<bool, String> {
        match self.look(path) {
            Ok(()) => Ok(true),
            Err(Refusal::Io(_)) => Ok(false),
            Err(refusal) => Err(self.message(refusal, "access", path)),
        }
    }

    /// Succeeds if `path` exists, as Node's `access` does for `F_OK`.
    pub fn access(&self, path: &str) -> Result<(), String> {
        self.look(path)
            .map_err(|refusal| self.message(refusal, "access", path))
    }

    /// The bytes of the regular file at `path`.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        let file = self
            .open_beneath(path)
            .map_err(|refusal| self.message(refusal, "open", path))?;
        read_opened(file, MAX_READ).map_err(|e| match e {
            ReadError::Io(e) => node_error(&e, "read", path),
            other => format!("{path} is {other}"),
        })
    }

    /// The text of the error for `refusal` of `syscall` on `path`.
    fn message(&self, refusal: Refusal, syscall: &str, path: &str) -> String {
        match refusal {
            Refusal::Outside => format!(
                "Path {path} is outside allowed root {}",
                self.root.display()
            ),
            Refusal::Link => format!("Symlinks are prohibited: {path}"),
            Refusal::Io(e) => node_error(&e, syscall, path),
        }
    }

    /// `path` relative to the root, by name; refused if `..` leads above it.
    fn below(&self, path: &str) -> Result<PathBuf, Refusal> {
        let full = lexical(&self.root.join(path));
        full.strip_prefix(&self.root)
            .map(Path::to_path_buf)
            .map_err(|_| Refusal::Outside)
    }

    /// Opens `path` beneath the root for reading, without following any link or blocking.
    fn open_beneath(&self, path: &str) -> Result<File, Refusal> {
        let below = self.below(path)?;
        let root = open_dir(&self.root)?;
        let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
        #[cfg(target_os = "linux")]
        match beneath::openat2(&root, &below, flags) {
            Err(e) if beneath::unavailable(&e) => {}
            opened => return Ok(File::from(opened?)),
        }
        let (dir, last) = walk(root, &below)?;
        let fd = match last {
            Some(name) => openat(&dir, name, flags | libc::O_NOFOLLOW)?,
            None => dir,
        };
        Ok(File::from(fd))
    }

    /// Checks that `path` exists beneath the root, without following any link.
    fn look(&self, path: &str) -> Result<(), Refusal> {
        let below = self.below(path)?;
        let root = open_dir(&self.root)?;
        #[cfg(target_os = "linux")]
        match beneath::openat2(&root, &below, libc::O_PATH | libc::O_CLOEXEC) {
            Err(e) if beneath::unavailable(&e) => {}
            found => return found.map(drop).map_err(Refusal::from),
        }
        let (dir, last) = walk(root, &below)?;
        match last {
            Some(name) if kind(&dir, name)? == libc::S_IFLNK => Err(Refusal::Link),
            _ => Ok(()),
        }
    }
}

/// Why a file could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A FIFO, device, socket or folder: reading it could wait forever, or never end.
    #[error("not a regular file; only regular files are read")]
    NotRegular,
    /// Larger than allowed.
    #[error("larger than {} MiB", .0 >> 20)]
    TooLarge(u64),
    /// The system said no.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// The bytes of the regular file at `path`, at most `max` of them: opened without blocking (a
/// FIFO would wait for a writer) and refused unless it is a regular file, so reading it cannot
/// hold the caller for longer than the disk takes.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    read_opened(file, max)
}

fn read_opened(file: File, max: u64) -> Result<Vec<u8>, ReadError> {
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(ReadError::Io(io::Error::from_raw_os_error(libc::EISDIR)));
    }
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok(bytes)
}

/// The folder `root` (the admin's choice, links and all), to resolve beneath.
fn open_dir(root: &Path) -> io::Result<OwnedFd> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(root)
        .map(OwnedFd::from)
}

/// Opens each folder of `below` from `root` without following links; the folder holding the
/// last component, and that component (none when `below` is the root itself).
fn walk(root: OwnedFd, below: &Path) -> Result<(OwnedFd, Option<&OsStr>), Refusal> {
    let parts: Vec<&OsStr> = below
        .components()
        .map(|c| match c {
            Component::Normal(name) => Ok(name),
            _ => Err(Refusal::Outside),
        })
        .collect::<Result<_, _>>()?;
    let Some((last, folders)) = parts.split_last() else {
        return Ok((root, None));
    };
    let mut dir = root;
    for name in folders {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        dir = match openat(&dir, name, flags) {
            // O_DIRECTORY wins over O_NOFOLLOW on Linux: a link reads as "not a directory".
            Err(Refusal::Io(e)) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                return Err(match kind(&dir, name)? {
                    libc::S_IFLNK => Refusal::Link,
                    _ => Refusal::Io(e),
                });
            }
            opened => opened?,
        };
    }
    Ok((dir, Some(last)))
}

/// The file type bits (`S_IFMT`) of `name` in `dir`, not following a link.
fn kind(dir: &OwnedFd, name: &OsStr) -> Result<libc::mode_t, Refusal> {
    let name = c_name(name)?;
    // SAFETY: a zeroed stat is valid; fstatat writes it; the name is NUL-terminated.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut stat,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error().into());
    }
    Ok(stat.st_mode & libc::S_IFMT)
}

fn c_name(name: &OsStr) -> Result<CString, Refusal> {
    CString::new(name.as_bytes())
        .map_err(|_| Refusal::Io(io::Error::from_raw_os_error(libc::EINVAL)))
}

fn openat(dir: &OwnedFd, name: &OsStr, flags: i32) -> Result<OwnedFd, Refusal> {
    let name = c_name(name)?;
    // SAFETY: the name is NUL-terminated; a returned fd is ours alone.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error().into());
    }
    // SAFETY: fd was just opened and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Linux's `openat2`, which resolves a whole path beneath a folder, refusing links, in one call.
#[cfg(target_os = "linux")]
mod beneath {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    #[cfg(test)]
    thread_local! {
        /// Set by a test to take the walk, as where `openat2` is missing.
        pub static WALK_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Opens `below` beneath `root` with `flags`: no link followed, nothing above `root`.
    pub fn openat2(root: &OwnedFd, below: &Path, flags: i32) -> io::Result<OwnedFd> {
        #[cfg(test)]
        if WALK_ONLY.with(std::cell::Cell::get) {
            return Err(io::Error::from_raw_os_error(libc::ENOSYS));
        }
        let below = if below.as_os_str().is_empty() {
            Path::new(".")
        } else {
            below
        };
        let name = std::ffi::CString::new(below.as_os_str().as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: open_how is plain data; zeroed is valid (mode 0, no resolve flags yet).
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = flags as u64;
        how.resolve =
            libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
        // SAFETY: the arguments are a valid fd, a NUL-terminated path and an open_how of the
        // size passed; a returned fd is ours alone.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                name.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }

    /// Whether `error` says `openat2` itself is missing (a kernel before 5.6) or filtered out
    /// (a seccomp filter answering EPERM), so the component-by-component walk must do.
    pub fn unavailable(error: &io::Error) -> bool {
        matches!(error.raw_os_error(), Some(libc::ENOSYS | libc::EPERM))
    }
}

/// An I/O error as Node words it: `ENOENT: no such file or directory, open '/x'`.
fn node_error(error: &io::Error, syscall: &str, path: &str) -> String {
    let (code, text) = match error.kind() {
        io::ErrorKind::NotFound => ("ENOENT", "no such file or directory"),
        io::ErrorKind::PermissionDenied => ("EACCES", "permission denied"),
        io::ErrorKind::IsADirectory => ("EISDIR", "illegal operation on a directory"),
        io::ErrorKind::NotADirectory => ("ENOTDIR", "not a directory"),
        _ => return format!("{error}, {syscall} '{path}'"),
    };
    format!("{code}: {text}, {syscall} '{path}'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn root() -> (tempfile::TempDir, FsConfig) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), "hello").unwrap();
        std::fs::write(dir.path().with_extension("secret"), "no").unwrap();
        let config = json!({"platformConfig": {"fs": {"rootDir": dir.path(), "existsSync": true,
            "promises": {"readFile": true}}}});
        let fs = FsConfig::from_config(&config).unwrap().unwrap();
        (dir, fs)
    }

    #[test]
    fn reads_stay_inside_the_root() {
        let (dir, fs) = root();
        assert!((fs.exists_sync, fs.read_file, fs.access) == (true, true, false));
        assert_eq!(fs.read("sub/a.txt").unwrap(), b"hello");
        let absolute = dir.path().join("sub/./../sub/a.txt");
        assert_eq!(fs.read(absolute.to_str().unwrap()).unwrap(), b"hello");
        assert_eq!(fs.exists("sub/none"), Ok(false));
        assert_eq!(
            fs.read("sub/none"),
            Err("ENOENT: no such file or directory, open 'sub/none'".into())
        );
        let outside = fs.read("../x.secret").unwrap_err();
        assert!(
            outside.starts_with("Path ../x.secret is outside allowed root"),
            "{outside}"
        );
        assert!(fs.exists("/etc/passwd").is_err());
    }

    #[test]
    fn links_anywhere_below_the_root_are_refused() {
        let (dir, fs) = root();
        std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", dir.path().join("a")).unwrap();
        assert_eq!(
            fs.read("etc/passwd"),
            Err("Symlinks are prohibited: etc/passwd".into())
        );
        assert_eq!(fs.read("a"), Err("Symlinks are prohibited: a".into()));
    }

    #[test]
    fn only_regular_files_are_read_and_a_fifo_never_blocks() {
        // Reading a FIFO waited for a writer forever, on the kernel thread.
        let (dir, fs) = root();
        let fifo = dir.path().join("sub/fifo");
        let name = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = fs.clone();
        std::thread::spawn(move || tx.send(reader.read("sub/fifo")).unwrap());
        let answer = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("reading a FIFO blocked");
        assert_eq!(
            answer,
            Err("sub/fifo is not a regular file; only regular files are read".into())
        );
        assert_eq!(fs.exists("sub/fifo"), Ok(true));
        assert_eq!(
            fs.read("sub"),
            Err("EISDIR: illegal operation on a directory, read 'sub'".into())
        );
        assert!(matches!(
            read_regular(&fifo, 10),
            Err(ReadError::NotRegular)
        ));
        assert!(matches!(
            read_regular(Path::new("/dev/zero"), 10),
            Err(ReadError::NotRegular)
        ));
        std::fs::write(dir.path().join("big"), vec![b'x'; 11]).unwrap();
        assert!(matches!(
            read_regular(&dir.path().join("big"), 10),
            Err(ReadError::TooLarge(10))
        ));
        assert_eq!(read_regular(&dir.path().join("big"), 11).unwrap().len(), 11);
    }

    #[test]
    fn a_link_below_the_root_is_refused_by_exists_and_access_too() {
        let (dir, fs) = root();
        let fs = FsConfig { access: true, ..fs };
        std::os::unix::fs::symlink("sub", dir.path().join("inside")).unwrap();
        assert_eq!(
            fs.read("inside/a.txt"),
            Err("Symlinks are prohibited: inside/a.txt".into())
        );
        assert_eq!(
            fs.exists("inside"),
            Err("Symlinks are prohibited: inside".into())
        );
        assert_eq!(
            fs.access("inside/a.txt"),
            Err("Symlinks are prohibited: inside/a.txt".into())
        );
        assert_eq!(fs.access("sub/a.txt"), Ok(()));
        assert_eq!(
            fs.access("sub/none"),
            Err("ENOENT: no such file or directory, access 'sub/none'".into())
        );
        assert_eq!(fs.exists("sub/a.txt/x"), Ok(false));
        assert_eq!(fs.exists(""), Ok(true));
    }

    /// Swaps the entries `a` and `b` of `dir` in one step (Linux `renameat2(RENAME_EXCHANGE)`).
    #[cfg(target_os = "linux")]
    fn exchange(a: &CString, b: &CString) -> bool {
        // SAFETY: two NUL-terminated paths; AT_FDCWD for both.
        unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            ) == 0
        }
    }

    /// Runs `test` with `openat2`, and then with the walk that stands in where it is missing.
    fn both_ways(test: impl Fn()) {
        test();
        #[cfg(target_os = "linux")]
        {
            beneath::WALK_ONLY.with(|w| w.set(true));
            test();
            beneath::WALK_ONLY.with(|w| w.set(false));
        }
    }

    #[test]
    fn links_fifos_and_folders_are_refused_both_ways() {
        both_ways(|| {
            links_anywhere_below_the_root_are_refused();
            a_link_below_the_root_is_refused_by_exists_and_access_too();
            only_regular_files_are_read_and_a_fifo_never_blocks();
            reads_stay_inside_the_root();
        });
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_component_swapped_for_a_link_during_reads_never_leads_outside() {
        both_ways(swapped_components_never_lead_outside);
    }

    /// The check-then-open let a vat read outside the root when someone could write under it:
    /// a folder swapped for a link between the check and the open.
    #[cfg(target_os = "linux")]
    fn swapped_components_never_lead_outside() {
        let (dir, fs) = root();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("a.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("swap")).unwrap();
        let c = |name: &str| CString::new(dir.path().join(name).as_os_str().as_bytes()).unwrap();
        let (sub, swap) = (c("sub"), c("swap"));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flipping = std::sync::Arc::clone(&stop);
        let flipper = std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !flipping.load(std::sync::atomic::Ordering::Relaxed) {
                assert!(exchange(&sub, &swap));
                swaps += 1;
            }
            swaps
        });
        let (mut read, mut refused) = (0, 0);
        for _ in 0..20_000 {
            match fs.read("sub/a.txt") {
                Ok(bytes) => {
                    assert_eq!(bytes, b"hello", "read outside the root");
                    read += 1;
                }
                Err(_) => refused += 1,
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let swaps = flipper.join().unwrap();
        assert!(
            read > 0 && refused > 0 && swaps > 0,
            "{read} {refused} {swaps}"
        );
    }

    #[test]
    fn no_fs_without_config_and_a_relative_root_is_refused() {
        assert_eq!(FsConfig::from_config(&json!({})), Ok(None));
        let relative = json!({"platformConfig": {"fs": {"rootDir": "data"}}});
        assert!(FsConfig::from_config(&relative).is_err());
    }
}
