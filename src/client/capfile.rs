//! `.ocap` capability files: an OCAP URL and the socket that serves it, in a few lines.
//!
//! ```text
//! #!/usr/bin/env -S ocapctl send
//! # ocap capability: whoever can read this file can use the object it names.
//! url=ocap:zBfju…@12D3KooW…
//! socket=/run/user/1000/ocap/caps.sock
//! ```
//!
//! Lines starting with `#` and blank lines are ignored, other lines are `key=value`; `url` is
//! required, `socket` optional (then the caller's daemon socket), other keys are ignored so
//! later versions can add some. Files are written mode 0600 and never over an existing file.

use super::ClientError;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What a capability file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapFile {
    /// The OCAP URL.
    pub url: String,
    /// The socket to present it on, if the file names one.
    pub socket: Option<PathBuf>,
}

impl CapFile {
    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut text = String::from(
            "#!/usr/bin/env -S ocapctl send\n\
             # ocap capability: whoever can read this file can use the object it names.\n",
        );
        text.push_str(&format!("url={}\n", self.url));
        if let Some(socket) = &self.socket {
            text.push_str(&format!("socket={}\n", socket.display()));
        }
        text
    }

    /// Parses a file's text.
    pub fn parse(text: &str) -> Result<CapFile, String> {
        let mut url = None;
        let mut socket = None;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once('=') {
                Some(("url", value)) => url = Some(value.trim().to_string()),
                Some(("socket", value)) => socket = Some(PathBuf::from(value.trim())),
                Some(_) => {}
                None => return Err(format!("not a capability file line: {line:?}")),
            }
        }
        let url = url.filter(|u| u.starts_with("ocap:"));
        let url = url.ok_or("no url=ocap:… line: not a capability file")?;
        Ok(CapFile { url, socket })
    }

    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<CapFile, ClientError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ClientError::Failed(format!("{}: {e}", path.display())))?;
        CapFile::parse(&text).map_err(|e| ClientError::Failed(format!("{}: {e}", path.display())))
    }

    /// Writes a new file at `path`, mode 0600; refuses to replace an existing one.
    pub fn write_new(&self, path: &Path) -> Result<(), ClientError> {
        let failed = |e: std::io::Error| ClientError::Failed(format!("{}: {e}", path.display()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(failed)?;
        file.write_all(self.to_text().as_bytes()).map_err(failed)
    }

    /// Writes the file's text on standard output; when that is a regular file (a shell
    /// redirection), makes it 0600 first, since the shell created it with the umask's mode.
    pub fn write_stdout(&self) -> Result<(), ClientError> {
        let stdout = std::io::stdout();
        let fd = std::os::fd::AsFd::as_fd(&stdout).try_clone_to_owned();
        if let Ok(file) = fd.map(std::fs::File::from) {
            let regular = file.metadata().is_ok_and(|m| m.is_file());
            if regular {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| ClientError::Failed(format!("making stdout private: {e}")))?;
            }
        }
        super::output::print_line(self.to_text().trim_end());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_is_strict_about_the_url() {
        let file = CapFile {
            url: "ocap:zA@12D3KooWx".into(),
            socket: Some("/run/caps.sock".into()),
        };
        assert_eq!(CapFile::parse(&file.to_text()), Ok(file));
        let bare = CapFile::parse("url=ocap:zA@p\nfuture=1\n").unwrap();
        assert_eq!(bare.socket, None);
        assert!(CapFile::parse("socket=/x\n").is_err());
        assert!(CapFile::parse("url=https://x\n").is_err());
        assert!(
            CapFile::parse("d-1\n").is_err(),
            "the seed's refs are not capabilities"
        );
    }

    #[test]
    fn written_files_are_private_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ocap");
        let file = CapFile {
            url: "ocap:zA@p".into(),
            socket: None,
        };
        file.write_new(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(file.write_new(&path).is_err());
        assert_eq!(CapFile::read(&path).unwrap(), file);
    }
}
