//! Builds the JavaScript side of the built-in vat runtime (DESIGN.md "Vats").
//!
//! The third-party code (SES, liveslots, @endo/*) comes from the npm registry, pinned by
//! `vat-runtime/package-lock.json`: `npm ci --ignore-scripts` installs it into `OUT_DIR`, and
//! esbuild (from the same lockfile) bundles our entry points into scripts that `src/vat/quickjs`
//! embeds. Example and test vats are bundled into the reference bundle format (spec §7.1). Nothing
//! built is committed; a machine without Node.js and npm cannot build this crate and is told so.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Scripts evaluated in vats' QuickJS contexts: (entry, output name). The first four run in every
/// vat, in this order; `url.js` only in a vat that asks for `URL`, `URLSearchParams` or one of the
/// Fetch classes (`Headers`, `Request`, `Response`).
const RUNTIME_SCRIPTS: [(&str, &str); 5] = [
    ("vat-runtime/src/prelude.js", "prelude.js"),
    ("vat-runtime/src/endoify.js", "endoify.js"),
    ("vat-runtime/src/liveslots.js", "liveslots.js"),
    ("vat-runtime/src/supervisor.js", "supervisor.js"),
    ("vat-runtime/src/url.js", "url.js"),
];

/// Vat sources bundled into spec §7.1 bundles: (source, bundle name).
const VATS: [(&str, &str); 3] = [
    ("examples/counter/counter.js", "counter.bundle"),
    ("examples/ping-pong/ping.js", "ping.bundle"),
    ("examples/ping-pong/pong.js", "pong.bundle"),
];

/// Folder of test vats, each `NAME.js` bundled to `test-vats/NAME.bundle`.
const TEST_VATS: &str = "vat-runtime/test-vats";

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for watched in [
        "build.rs",
        "vat-runtime/package.json",
        "vat-runtime/package-lock.json",
        "vat-runtime/src",
        TEST_VATS,
        "examples",
    ] {
        println!("cargo:rerun-if-changed={watched}");
    }
    let modules = install(&root, &out);
    let esbuild = modules.join("esbuild/bin/esbuild");
    for (entry, name) in RUNTIME_SCRIPTS {
        let target = out.join(name);
        bundle(&esbuild, &modules, &root.join(entry), &target, None);
        // Our supervisor and liveslots never contain SES's forbidden `import(` once comments are
        // gone; the SES shim itself does (in its own detector), and is not evaluated by SES.
        if name != "endoify.js" {
            check_ses_evaluable(&target);
        }
    }
    let test_vats = out.join("test-vats");
    std::fs::create_dir_all(&test_vats).unwrap();
    let mut vats: Vec<(PathBuf, PathBuf)> = VATS
        .iter()
        .map(|(source, name)| (root.join(source), out.join(name)))
        .collect();
    let mut tests: Vec<PathBuf> = std::fs::read_dir(root.join(TEST_VATS))
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    tests.sort();
    for source in tests {
        if source.extension().is_some_and(|e| e == "js") {
            let name = source.file_stem().unwrap().to_string_lossy().to_string();
            vats.push((source, test_vats.join(format!("{name}.bundle"))));
        }
    }
    for (source, target) in vats {
        let code_file = target.with_extension("js");
        bundle(
            &esbuild,
            &modules,
            &source,
            &code_file,
            Some("__vatExports__"),
        );
        check_ses_evaluable(&code_file);
        let code = std::fs::read_to_string(&code_file).unwrap();
        let bundle = serde_json::json!({
            "moduleFormat": "iife",
            "code": code,
            "exports": ["buildRootObject"],
            "external": [],
        });
        std::fs::write(&target, bundle.to_string()).unwrap();
    }
}

/// Installs the locked npm packages into `OUT_DIR/npm` (again only when the lockfile changed)
/// and returns its `node_modules`.
fn install(root: &Path, out: &Path) -> PathBuf {
    let dir = out.join("npm");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::read(root.join("vat-runtime/package-lock.json"))
        .expect("vat-runtime/package-lock.json is missing");
    let manifest = std::fs::read(root.join("vat-runtime/package.json")).unwrap();
    let stamp = dir.join("installed.lock");
    let modules = dir.join("node_modules");
    if std::fs::read(&stamp).ok().as_ref() == Some(&lock) && modules.is_dir() {
        return modules;
    }
    std::fs::write(dir.join("package.json"), manifest).unwrap();
    std::fs::write(dir.join("package-lock.json"), &lock).unwrap();
    run(
        Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .arg("--loglevel=error")
            .current_dir(&dir),
        "npm ci (vat-runtime)",
    );
    std::fs::write(&stamp, lock).unwrap();
    modules
}

/// Bundles `entry` into one script with comments and whitespace stripped; with `global`, as an
/// IIFE assigning the module's exports to `var <global>` (the reference vat bundle code).
fn bundle(esbuild: &Path, modules: &Path, entry: &Path, target: &Path, global: Option<&str>) {
    let mut command = Command::new("node");
    command
        .arg(esbuild)
        .arg(entry)
        .args([
            "--bundle",
            "--format=iife",
            "--minify-whitespace",
            "--legal-comments=none",
            "--target=es2022",
            "--log-level=warning",
            "--charset=ascii",
        ])
        .arg(format!("--outfile={}", target.display()))
        // Sources outside the install folder find the packages here.
        .env("NODE_PATH", modules);
    if let Some(global) = global {
        command.arg(format!("--global-name={global}"));
    }
    run(&mut command, &format!("esbuild {}", entry.display()));
}

/// Fails the build if `file` holds text SES refuses to evaluate: `import(` (even in a comment or
/// string) or an HTML comment token.
fn check_ses_evaluable(file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices("import") {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let word_start =
            !before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$');
        let after = text[i + 6..].trim_start();
        let dotted = before == Some(b'.') && !text[..i].ends_with("...");
        if word_start
            && !dotted
            && (after.starts_with('(') || after.starts_with("//") || after.starts_with("/*"))
        {
            let start = i.saturating_sub(60);
            panic!(
                "{} contains `import(` (SES rejects any source containing it, even in comments or strings), near: {:?}",
                file.display(),
                &text[start..(i + 40).min(text.len())]
            );
        }
    }
    for token in ["<!--", "-->"] {
        if let Some(i) = text.find(token) {
            panic!(
                "{} contains the HTML comment token {token:?}, which SES rejects, near: {:?}",
                file.display(),
                &text[i.saturating_sub(60)..(i + 40).min(text.len())]
            );
        }
    }
}

/// Runs a build tool, failing the build with what to install when it is missing.
fn run(command: &mut Command, what: &str) {
    let program = command.get_program().to_string_lossy().to_string();
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("{what} failed ({status})"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{program}` was not found: building ocap needs Node.js (18 or newer) and npm to fetch \
             and bundle the vat runtime's JavaScript (Debian/Ubuntu: `apt-get install nodejs npm`; \
             macOS: `brew install node`)"
        ),
        Err(e) => panic!("{what}: cannot run `{program}`: {e}"),
    }
}
