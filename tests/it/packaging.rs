//! Packages: `make install`/`uninstall` with man pages and completions, the Debian package
//! (built from the debug binaries, installed into a throwaway root with `dpkg --root`, checked
//! by lintian), the RPM spec's and the PKGBUILD's install steps run for real and compared with
//! the files they declare, the Homebrew formula, and `make dist`. A check whose tool is missing
//! is skipped with the reason printed; `.ci/run` installs the tools.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;

/// The Makefile regenerates man pages and completions beside the binaries; one `make` at a time.
static MAKE: Mutex<()> = Mutex::new(());

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The folder of the binaries this test run built (the Makefile's OUT).
fn out_dir() -> String {
    Path::new(env!("CARGO_BIN_EXE_ocapd"))
        .parent()
        .unwrap()
        .display()
        .to_string()
}

fn version() -> String {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let line = manifest
        .lines()
        .find(|l| l.starts_with("version = "))
        .unwrap();
    line.trim_start_matches("version = ")
        .trim_matches('"')
        .to_string()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run_ok(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(out.status.success(), "{command:?} failed:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `make ARGS` in the repository with the binaries of this test run and no make variables
/// leaking in from an outer `make test`.
fn make_command(args: &[&str]) -> Command {
    let mut command = Command::new("make");
    command
        .arg("-C")
        .arg(root())
        .args(args)
        .arg(format!("OUT={}", out_dir()))
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL");
    command
}

/// Runs `make ARGS` (see [`make_command`]); returns its output.
fn make(args: &[&str]) -> String {
    run_ok(&mut make_command(args))
}

/// Whether `tool` runs; if not, says which check is skipped.
fn have(tool: &str, check: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: {check}: `{tool}` is not installed");
    }
    found
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Every regular file or symlink under `dir`, relative to it.
fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found
}

/// What `make install` puts under PREFIX=/usr for every package: the canonical file list.
fn canonical_files() -> BTreeSet<String> {
    let dest = tempfile::tempdir().unwrap();
    make(&["generated"]);
    make(&[
        "install-bins",
        "install-docs",
        "install-files",
        &format!("DESTDIR={}", dest.path().display()),
        "PREFIX=/usr",
    ]);
    files_under(dest.path())
        .into_iter()
        .filter(|f| !f.starts_with("usr/share/ocap/"))
        .collect()
}

#[test]
fn make_install_puts_man_pages_and_completions_and_uninstall_removes_everything() {
    let _make = MAKE.lock().unwrap_or_else(|e| e.into_inner());
    make(&["generated"]);
    let dest = tempfile::tempdir().unwrap();
    let destdir = format!("DESTDIR={}", dest.path().display());
    make(&[
        "install-bins",
        "install-docs",
        "install-files",
        &destdir,
        "PREFIX=/opt/ocap",
    ]);
    let files = files_under(dest.path());
    for file in [
        "opt/ocap/bin/ocapd",
        "opt/ocap/bin/ocapctl",
        "opt/ocap/share/man/man8/ocapd.8",
        "opt/ocap/share/man/man1/ocapctl.1",
        "opt/ocap/share/man/man1/ocapctl-doctor.1",
        "opt/ocap/share/man/man1/ocapctl-logs.1",
        "opt/ocap/share/bash-completion/completions/ocapctl",
        "opt/ocap/share/zsh/site-functions/_ocapctl",
        "opt/ocap/share/fish/vendor_completions.d/ocapctl.fish",
        "opt/ocap/share/doc/ocap/README.md",
        "opt/ocap/lib/systemd/user/ocap.socket",
    ] {
        assert!(files.contains(file), "{file} not installed: {files:?}");
    }
    let page =
        std::fs::read_to_string(dest.path().join("opt/ocap/share/man/man1/ocapctl.1")).unwrap();
    assert!(
        page.contains(".SH \"EXIT STATUS\"") && page.contains("EX_UNAVAILABLE"),
        "{page}"
    );
    let bash = std::fs::read_to_string(
        dest.path()
            .join("opt/ocap/share/bash-completion/completions/ocapctl"),
    )
    .unwrap();
    assert!(
        bash.contains("doctor") && bash.contains("logs"),
        "bash completion lacks commands"
    );
    make(&["uninstall", &destdir, "PREFIX=/opt/ocap"]);
    let left = files_under(dest.path());
    assert!(left.is_empty(), "uninstall left {left:?}");
}

#[test]
fn deb_installs_into_a_throwaway_root_passes_lintian_and_removes_cleanly() {
    let tools = ["dpkg-deb", "dpkg", "dpkg-shlibdeps", "strip"];
    if !tools.iter().all(|t| have(t, "the Debian package")) {
        return;
    }
    if !is_root() {
        eprintln!("skipped: the Debian package: dpkg --root needs root");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    {
        let _make = MAKE.lock().unwrap_or_else(|e| e.into_inner());
        make(&[
            "deb-package",
            "PROFILE=debug",
            "DEB_COMPRESS=gzip",
            &format!("DEB_DIR={}", work.path().display()),
        ]);
    }
    let deb = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("make deb-package made no .deb");
    assert!(
        deb.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&format!("ocap_{}-1_", version())),
        "{deb:?}"
    );

    let sysroot = work.path().join("sysroot");
    for dir in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"] {
        std::fs::create_dir_all(sysroot.join(dir)).unwrap();
    }
    std::fs::write(sysroot.join("var/lib/dpkg/status"), "").unwrap();
    let dpkg = |args: &[&str]| {
        let mut command = Command::new("dpkg");
        command
            .arg(format!("--root={}", sysroot.display()))
            // Maintainer scripts run here with DPKG_ROOT set, not chrooted into an empty root.
            .args(["--force-script-chrootless", "--force-depends"])
            .args(args);
        command
    };
    run_ok(dpkg(&["--install"]).arg(&deb));
    let installed = files_under(&sysroot.join("usr"));
    for file in [
        "bin/ocapd",
        "bin/ocapctl",
        "lib/systemd/user/ocap.socket",
        "lib/systemd/user/ocap.service",
        "lib/systemd/system/ocap.socket",
        "lib/systemd/system/ocap.service",
        "lib/sysusers.d/ocap.conf",
        "share/man/man8/ocapd.8.gz",
        "share/man/man1/ocapctl.1.gz",
        "share/man/man1/ocapctl-send.1.gz",
        "share/bash-completion/completions/ocapctl",
        "share/zsh/vendor-completions/_ocapctl",
        "share/fish/vendor_completions.d/ocapctl.fish",
        "share/doc/ocap/copyright",
        "share/doc/ocap/changelog.Debian.gz",
        "share/doc/ocap/README.md.gz",
    ] {
        assert!(
            installed.contains(file),
            "usr/{file} not installed: {installed:?}"
        );
    }
    let unit = std::fs::read_to_string(sysroot.join("usr/lib/systemd/user/ocap.service")).unwrap();
    assert!(
        unit.contains("\nExecStart=/usr/bin/ocapd --foreground"),
        "{unit}"
    );
    let page = run_ok(
        Command::new("gzip")
            .arg("-dc")
            .arg(sysroot.join("usr/share/man/man8/ocapd.8.gz")),
    );
    assert!(
        page.contains(".SH \"EXIT STATUS\"") && page.contains("EX_CONFIG"),
        "{page}"
    );
    let ctl = run_ok(Command::new(sysroot.join("usr/bin/ocapctl")).arg("--version"));
    assert_eq!(ctl.trim(), format!("ocapctl {}", version()));
    // postinst created the system user in the throwaway root.
    let passwd = std::fs::read_to_string(sysroot.join("etc/passwd")).unwrap();
    let user = passwd
        .lines()
        .find(|l| l.starts_with("ocap:"))
        .unwrap_or_else(|| panic!("{passwd}"));
    assert!(user.ends_with(":/var/lib/ocap:/usr/sbin/nologin"), "{user}");

    if have("lintian", "lintian on the Debian package") {
        let out = Command::new("lintian")
            .args(["--fail-on", "error,warning"])
            .arg(&deb)
            .output()
            .unwrap();
        let report = text(&out);
        let findings: Vec<&str> = report.lines().filter(|l| l.contains(": ocap")).collect();
        assert!(
            out.status.success() && findings.is_empty(),
            "lintian:\n{report}"
        );
    }

    run_ok(&mut dpkg(&["--remove", "ocap"]));
    let left = files_under(&sysroot.join("usr"));
    assert!(left.is_empty(), "dpkg --remove left {left:?}");
}

/// The files a package's `%files`-style list matches: `*` stands for any run of characters.
fn glob_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len()).any(|i| {
                    name.is_char_boundary(head.len() + i)
                        && glob_matches(tail, &name[head.len() + i..])
                })
        }
    }
}

/// The lines of section `name` in an expanded spec, up to the next section.
fn spec_section<'a>(spec: &'a str, name: &str) -> Vec<&'a str> {
    let sections = [
        "%prep",
        "%build",
        "%install",
        "%pre",
        "%post",
        "%preun",
        "%postun",
        "%files",
        "%changelog",
        "%check",
    ];
    spec.lines()
        .skip_while(|l| l.trim() != name)
        .skip(1)
        .take_while(|l| !sections.contains(&l.split_whitespace().next().unwrap_or("")))
        .collect()
}

#[test]
fn rpm_spec_installs_exactly_the_files_it_lists() {
    if !have("rpmspec", "the RPM spec") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let spec = run_ok(
        Command::new("rpmspec")
            .arg("-P")
            .arg(root().join("packaging/rpm/ocap.spec"))
            .args([
                "--define",
                &format!("_buildrootdir {}", work.path().display()),
            ])
            // What systemd-rpm-macros (a BuildRequires) defines.
            .args(["--define", "_unitdir /usr/lib/systemd/system"])
            .args(["--define", "_userunitdir /usr/lib/systemd/user"])
            .args(["--define", "_sysusersdir /usr/lib/sysusers.d"]),
    );
    let version_line = format!("Version:        {}", version());
    assert!(
        spec.lines().any(|l| l == version_line),
        "spec version is not {}",
        version()
    );
    let install = spec_section(&spec, "%install").join("\n");
    {
        let _make = MAKE.lock().unwrap_or_else(|e| e.into_inner());
        make(&["generated"]);
        run_ok(
            Command::new("sh")
                .args(["-ec", &install])
                .current_dir(root())
                .env("MAKEFLAGS", format!("OUT={}", out_dir())),
        );
    }
    let buildroot = std::fs::read_dir(work.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let installed = files_under(&buildroot);
    let patterns: Vec<String> = spec_section(&spec, "%files")
        .iter()
        .map(|l| {
            l.trim()
                .trim_start_matches("%doc ")
                .trim_start_matches("%license ")
                .trim_start_matches('/')
                .to_string()
        })
        .filter(|l| !l.is_empty())
        .collect();
    for file in &installed {
        assert!(
            patterns.iter().any(|p| glob_matches(p, file)),
            "{file} is installed but not in %files"
        );
    }
    for pattern in &patterns {
        assert!(
            installed.iter().any(|f| glob_matches(pattern, f)),
            "%files {pattern} matches nothing"
        );
    }
    assert_eq!(
        installed,
        canonical_files_locked(),
        "the RPM installs other files than make install"
    );
}

fn canonical_files_locked() -> BTreeSet<String> {
    let _make = MAKE.lock().unwrap_or_else(|e| e.into_inner());
    canonical_files()
}

#[test]
fn pkgbuild_package_installs_the_same_files_as_make_install() {
    if !have("bash", "the PKGBUILD") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let srcdir = work.path().join("src");
    let pkgdir = work.path().join("pkg");
    std::fs::create_dir_all(&srcdir).unwrap();
    std::os::unix::fs::symlink(root(), srcdir.join(format!("ocap-{}", version()))).unwrap();
    let script = "source packaging/arch/PKGBUILD\n\
                  [ \"$pkgver\" = \"$VERSION\" ] || { echo \"pkgver $pkgver, not $VERSION\"; exit 1; }\n\
                  cd \"$srcdir\" && package";
    {
        let _make = MAKE.lock().unwrap_or_else(|e| e.into_inner());
        make(&["generated"]);
        run_ok(
            Command::new("bash")
                .args(["-ec", script])
                .current_dir(root())
                .env("srcdir", &srcdir)
                .env("pkgdir", &pkgdir)
                .env("VERSION", version())
                .env("MAKEFLAGS", format!("OUT={}", out_dir())),
        );
    }
    assert_eq!(
        files_under(&pkgdir),
        canonical_files_locked(),
        "the PKGBUILD installs other files"
    );
}

#[test]
fn make_dist_makes_the_tarball_and_the_recipes_that_build_from_it() {
    if !have("git", "make dist") || !root().join(".git").exists() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let _make = MAKE.lock().unwrap_or_else(|e| e.into_inner());
    make(&["dist", &format!("DIST_DIR={}", work.path().display())]);
    let tarball = work.path().join(format!("ocap-{}.tar.gz", version()));
    let listing = run_ok(Command::new("tar").arg("tzf").arg(&tarball));
    let archived: BTreeSet<&str> = listing.lines().filter(|l| !l.ends_with('/')).collect();
    let committed = run_ok(
        Command::new("git")
            .args(["ls-tree", "-r", "--name-only", "HEAD"])
            .current_dir(root()),
    );
    let prefix = format!("ocap-{}/", version());
    let committed: BTreeSet<String> = committed.lines().map(|f| format!("{prefix}{f}")).collect();
    assert_eq!(
        archived,
        committed.iter().map(String::as_str).collect(),
        "the tarball is not HEAD"
    );
    assert!(committed.contains(&format!("{prefix}Cargo.lock")));
    let sum = run_ok(Command::new("sha256sum").arg(&tarball));
    let sum = sum.split_whitespace().next().unwrap();
    let pkgbuild = std::fs::read_to_string(work.path().join("PKGBUILD")).unwrap();
    assert!(
        pkgbuild.contains(&format!("sha256sums=('{sum}')")),
        "{pkgbuild}"
    );
    let formula = std::fs::read_to_string(work.path().join("ocap.rb")).unwrap();
    assert!(formula.contains(&format!("sha256 \"{sum}\"")), "{formula}");
    assert!(
        formula.contains(&format!("url \"file://{}\"", tarball.display())),
        "{formula}"
    );
    assert!(
        formula.contains(&format!("version \"{}\"", version())),
        "{formula}"
    );
    assert!(
        !formula.contains('@') && !pkgbuild.contains('@'),
        "unfilled template"
    );
    for needle in [
        "service do",
        "run [opt_bin/\"ocapd\", \"--foreground\"]",
        "\"install-docs\"",
        "\"install-files\", \"PREFIX=#{prefix}\", \"BINDIR=#{opt_bin}\"",
        "launchd/org.ocap.ocapd.plist",
    ] {
        assert!(formula.contains(needle), "{needle} not in the formula");
    }
    if have("ruby", "the Homebrew formula's syntax") {
        run_ok(
            Command::new("ruby")
                .arg("-c")
                .arg(work.path().join("ocap.rb")),
        );
    }
    if have("makepkg", "makepkg on the PKGBUILD")
        && have("setpriv", "makepkg on the PKGBUILD")
        && is_root()
    {
        // makepkg refuses to run as root.
        let scratch = tempfile::tempdir().unwrap();
        for dir in [work.path(), scratch.path()] {
            std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
                .unwrap();
        }
        let makepkg = |arg: &str| {
            let mut command = Command::new("setpriv");
            command
                .args([
                    "--reuid=nobody",
                    "--regid=nogroup",
                    "--clear-groups",
                    "makepkg",
                    arg,
                ])
                .current_dir(work.path())
                .env("HOME", scratch.path())
                .env("BUILDDIR", scratch.path());
            run_ok(&mut command)
        };
        let info = makepkg("--printsrcinfo");
        // The checksum make dist wrote is the tarball's.
        makepkg("--verifysource");
        assert!(info.contains(&format!("pkgver = {}", version())), "{info}");
    }
}

#[test]
fn glob_matching_is_what_rpm_files_lists_need() {
    assert!(glob_matches(
        "usr/share/man/man1/ocapctl-*.1*",
        "usr/share/man/man1/ocapctl-send.1"
    ));
    assert!(glob_matches(
        "usr/share/man/man1/ocapctl.1*",
        "usr/share/man/man1/ocapctl.1.gz"
    ));
    assert!(!glob_matches(
        "usr/share/man/man1/ocapctl.1*",
        "usr/share/man/man1/ocapctl-send.1"
    ));
    assert!(!glob_matches("usr/bin/ocapd", "usr/bin/ocapctl"));
}

#[test]
fn make_install_user_and_uninstall_user_in_a_fresh_home() {
    let home = tempfile::tempdir().unwrap();
    // No user manager can be reached from here: uninstall-user's systemctl calls fail harmlessly.
    let runtime = tempfile::tempdir().unwrap();
    let vars = [
        format!("HOME={}", home.path().display()),
        format!("XDG_CONFIG_HOME={}/.config", home.path().display()),
        // The binaries are already built by this test run.
        "CARGO=true".to_string(),
    ];
    let with = |target: &str| {
        let mut args = vec![target];
        args.extend(vars.iter().map(String::as_str));
        let mut command = make_command(&args);
        command
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
        command
    };
    {
        let _make = MAKE.lock().unwrap_or_else(|e| e.into_inner());
        let hint = run_ok(&mut with("install-user"));
        assert!(hint.contains("systemctl --user daemon-reload"), "{hint}");
    }
    let files = files_under(home.path());
    for file in [
        ".local/bin/ocapd",
        ".local/bin/ocapctl",
        ".config/systemd/user/ocap.socket",
        ".config/systemd/user/ocap.service",
        ".local/share/man/man1/ocapctl.1",
        ".local/share/man/man8/ocapd.8",
        ".local/share/bash-completion/completions/ocapctl",
        ".local/share/fish/vendor_completions.d/ocapctl.fish",
    ] {
        assert!(files.contains(file), "{file} not installed: {files:?}");
    }
    let unit =
        std::fs::read_to_string(home.path().join(".config/systemd/user/ocap.service")).unwrap();
    let exec = format!(
        "\nExecStart={}/.local/bin/ocapd --foreground",
        home.path().display()
    );
    assert!(unit.contains(&exec), "{unit}");
    run_ok(&mut with("uninstall-user"));
    let left = files_under(home.path());
    assert!(left.is_empty(), "uninstall-user left {left:?}");
}
