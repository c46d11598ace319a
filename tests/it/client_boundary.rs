//! `ocapctl` must stay small and quick to start: nothing on its code path may use the async
//! runtime, SQLite, the JavaScript engine, libp2p, or the daemon's, kernel's and vats' modules (DESIGN.md
//! "Layout"). This reads the sources of every module the client uses.

use std::path::{Path, PathBuf};

const CLIENT_SOURCES: &[&str] = &[
    "src/bin/ocapctl.rs",
    "src/client",
    "src/jsonrpc",
    "src/capdata",
    "src/paths.rs",
    "src/peer.rs",
    "src/lockfile.rs",
    "src/ownership.rs",
    "src/log_file.rs",
    "src/random.rs",
    "src/vatsource",
];

const FORBIDDEN: &[&str] = &[
    "tokio",
    "rusqlite",
    "rquickjs",
    "crate::daemon",
    "crate::kernel",
    "crate::vat",
    "ocap::daemon",
    "ocap::kernel",
    "ocap::vat",
    "libp2p",
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// Whether `code` names `word` as a whole path segment (`crate::vat`, not `crate::vatsource`).
fn names(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(at, _)| {
        let next = code[at + word.len()..].chars().next();
        !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn the_client_code_path_uses_no_daemon_dependencies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for source in CLIENT_SOURCES {
        rust_files(&root.join(source), &mut files);
    }
    assert!(files.len() > 10, "found too few sources: {files:?}");
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in FORBIDDEN {
                if names(code, word) {
                    offences.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "client code reaches daemon dependencies:\n{}",
        offences.join("\n")
    );
}

/// Symbols of a built binary whose (mangled) names mention one of `crates`, read with `nm`
/// (binutils, which `.ci/run` installs).
#[cfg(feature = "remote")]
fn symbols_from(binary: &str, crates: &[&str]) -> Vec<String> {
    let out = std::process::Command::new("nm")
        .arg(binary)
        .output()
        .expect("`nm` (binutils) is needed to read the binaries' symbol tables");
    assert!(out.status.success(), "nm {binary} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| crates.iter().any(|c| line.contains(c)))
        .map(String::from)
        .collect()
}

#[cfg(feature = "remote")]
#[test]
fn the_ocapctl_binary_links_no_libp2p() {
    let crates = ["libp2p", "yamux", "multistream_select", "6remote"];
    let daemon = symbols_from(env!("CARGO_BIN_EXE_ocapd"), &crates);
    assert!(
        daemon.len() > 100,
        "ocapd should link libp2p (else this check proves nothing)"
    );
    let client = symbols_from(env!("CARGO_BIN_EXE_ocapctl"), &crates);
    assert!(
        client.is_empty(),
        "ocapctl links libp2p code:\n{}",
        client
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
