//! `ocapd relay`: the relay server as a foreground command (identity file, addresses printed,
//! SIGTERM/SIGINT to stop).

use super::options::RelayArgs;
use crate::remote::relay::{RelayHandle, RelayOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The reference relay's listen addresses (WebSocket 9001 for browsers, TCP 9002).
const DEFAULT_LISTEN: [&str; 2] = ["/ip4/0.0.0.0/tcp/9001/ws", "/ip4/0.0.0.0/tcp/9002"];

/// Runs the relay until SIGTERM or SIGINT; returns the exit code.
pub fn run(args: &RelayArgs) -> u8 {
    match serve(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ocapd relay: {e}");
            1
        }
    }
}

fn serve(args: &RelayArgs) -> Result<(), String> {
    let parse = |list: &[String]| -> Result<Vec<_>, String> {
        list.iter()
            .map(|a| crate::remote::node::parse_addr(a))
            .collect()
    };
    let mut listen = parse(&args.listen)?;
    if listen.is_empty() {
        listen = DEFAULT_LISTEN.iter().map(|a| a.parse().unwrap()).collect();
    }
    let key_file = match &args.key_file {
        Some(path) => path.clone(),
        None => default_key_file(),
    };
    let seed = load_or_create_seed(&key_file)?;
    let mut options = RelayOptions::new(seed, listen);
    options.announce = parse(&args.announce)?;
    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .map_err(|e| format!("cannot handle signals: {e}"))?;
    let relay = RelayHandle::start(options).map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout().lock();
    for addr in &relay.addrs {
        let _ = writeln!(stdout, "{addr}");
    }
    let _ = stdout.flush();
    drop(stdout);
    let mut signals = signals;
    let _ = signals.forever().next();
    relay.stop();
    Ok(())
}

fn default_key_file() -> PathBuf {
    crate::paths::Paths::from_env()
        .state_dir()
        .join("relay.key")
}

/// Reads the seed from `path`, or makes a random one and writes it there (mode 0600).
pub fn load_or_create_seed(path: &Path) -> Result<[u8; 32], String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            parse_seed(text.trim()).ok_or_else(|| format!("{}: not 64 hex digits", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
            crate::paths::create_parent_dir(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            writeln!(file, "{hex}").map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(seed)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn parse_seed(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/relay.key");
        let seed = load_or_create_seed(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create_seed(&path).unwrap(), seed);
        std::fs::write(&path, "zz").unwrap();
        assert!(
            load_or_create_seed(&path)
                .unwrap_err()
                .contains("64 hex digits")
        );
    }
}
