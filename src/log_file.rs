//! The daemon's log file, capped: once the next line would take it past its size, it is renamed
//! to `NAME.1` (replacing the one before) and a new file begun, so the log takes at most twice
//! the cap on disk. The daemon writes it; `ocapctl logs` reads both. Plain `std` only, for the
//! client's sake.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where the previous log goes on rotation: `daemon.log` -> `daemon.log.1`.
pub fn rotated(path: &Path) -> PathBuf {
    crate::paths::sibling(path, ".1")
}

/// A log file rotated at a size.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    /// The file's size so far.
    size: u64,
    /// The size past which it is rotated.
    max: u64,
}

impl RotatingFile {
    /// Opens `path` to append (creating it 0600), to be rotated past `max` bytes.
    pub fn open(path: &Path, max: u64) -> std::io::Result<RotatingFile> {
        let file = open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            file,
            size,
            max,
        })
    }

    /// Moves the current file aside and starts a new one. Should that fail, the current file is
    /// emptied instead: the cap holds either way.
    fn rotate(&mut self) -> std::io::Result<()> {
        let renamed = std::fs::rename(&self.path, rotated(&self.path)).and_then(|()| {
            self.file = open(&self.path)?;
            Ok(())
        });
        if renamed.is_err() {
            self.file.set_len(0)?;
        }
        self.size = 0;
        Ok(())
    }
}

/// Appends to `path`, creating it 0600; a symbolic link there is refused, not followed.
fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

impl Write for RotatingFile {
    /// Writes `buf` whole (one log event), rotating first if it would pass the cap.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let len = buf.len() as u64;
        if self.size > 0 && self.size.saturating_add(len) > self.max {
            self.rotate()?;
        }
        self.file.write_all(buf)?;
        self.size = self.size.saturating_add(len);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_cap_the_file_moves_to_dot_one_and_only_one_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        std::fs::write(&path, "old\n").unwrap();
        let mut log = RotatingFile::open(&path, 10).unwrap();
        log.write_all(b"12345\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n12345\n");
        log.write_all(b"abc\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc\n");
        assert_eq!(
            std::fs::read_to_string(rotated(&path)).unwrap(),
            "old\n12345\n"
        );
        log.write_all(b"defghij\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "defghij\n");
        assert_eq!(std::fs::read_to_string(rotated(&path)).unwrap(), "abc\n");
        // A line longer than the cap still gets written, alone.
        log.write_all(b"a line longer than ten bytes\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a line longer than ten bytes\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_symlink_in_its_place_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        let path = dir.path().join("daemon.log");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(RotatingFile::open(&path, 10).is_err());
    }
}
