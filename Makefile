# ocap: build, test, install and package ocapd / ocapctl, their manual pages,
# shell completions and service-manager files.
#
#   make                      build release binaries, then their man pages and
#                             completions (same as make build)
#   make install              build, then install binaries, man pages,
#                             completions, docs, systemd units, sysusers snippet
#                             and launchd template under $(DESTDIR)$(PREFIX)
#   make install-files        only the service files (no cargo), for packagers
#   make install-docs         only man pages, completions and docs (after a build)
#   make install-user         per-user install into ~/.local and
#                             ~/.config/systemd/user (Linux, no root)
#   make install-launchd      per-user LaunchAgent (macOS; binaries from
#                             make install or Homebrew)
#   make test-systemd         opt-in: the shipped user units under a real
#                             systemd --user (root; USER_MANAGER= names the
#                             user-manager scripts, skipped when absent)
#   make deb                  build target/debian/ocap_VERSION-1_ARCH.deb
#   make dist                 release tarball target/dist/ocap-VERSION.tar.gz (git
#                             archive), what packaging/{rpm,arch,homebrew} build from
#
# PROFILE=debug builds and packages the debug binaries (the packaging test
# does, to reuse what cargo test built). The unit files name /usr/bin/ocapd and
# the plist /usr/local/bin/ocapd; the install targets rewrite those to the
# directory the binaries go to.

PREFIX ?= /usr/local
DESTDIR ?=
CARGO ?= cargo
BINDIR ?= $(PREFIX)/bin
SYSTEMD_USER_DIR ?= $(PREFIX)/lib/systemd/user
SYSTEMD_SYSTEM_DIR ?= $(PREFIX)/lib/systemd/system
SYSUSERS_DIR ?= $(PREFIX)/lib/sysusers.d
LAUNCHD_DIR ?= $(PREFIX)/share/ocap/launchd
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/ocap
BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions
ZSH_COMPLETION_DIR ?= $(PREFIX)/share/zsh/site-functions
FISH_COMPLETION_DIR ?= $(PREFIX)/share/fish/vendor_completions.d

# Which cargo profile to build and install: release or debug; OUT is where
# cargo puts its binaries (the tests point it at their own build).
PROFILE ?= release
OUT := $(or $(CARGO_TARGET_DIR),target)/$(PROFILE)
# Man pages and completions, written by the built binaries themselves.
GEN := $(OUT)/generated
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

# Per-user install locations (install-user, install-launchd).
USER_PREFIX ?= $(HOME)/.local
USER_BINDIR ?= $(USER_PREFIX)/bin
XDG_CONFIG_HOME ?= $(HOME)/.config
USER_UNIT_DIR ?= $(XDG_CONFIG_HOME)/systemd/user
LAUNCH_AGENTS_DIR ?= $(HOME)/Library/LaunchAgents

PLIST := org.ocap.ocapd.plist

# install_sed SED-SCRIPT, SOURCE, TARGET: install SOURCE as TARGET (mode 0644)
# after running it through sed. Goes through a temporary file so that the
# mode comes from install -m, not from the umask.
install_sed = tmp="$$(mktemp)" && sed -e $(1) "$(2)" > "$$tmp" \
	&& install -m 644 "$$tmp" "$(3)"; rc=$$?; rm -f "$$tmp"; exit $$rc

# Point ExecStart= of a unit, or ProgramArguments of the plist, at DIR/ocapd.
unit_exec = 's|^ExecStart=/usr/bin/ocapd |ExecStart=$(1)/ocapd |'
plist_exec = 's|<string>/usr/local/bin/ocapd</string>|<string>$(1)/ocapd</string>|'

.PHONY: all build generated test test-systemd run bench lint clean \
	install install-bins install-files install-docs \
	uninstall uninstall-bins uninstall-files uninstall-docs \
	install-user uninstall-user install-launchd uninstall-launchd \
	deb deb-package dist

all: build

build:
	$(CARGO) build $(if $(filter release,$(PROFILE)),--release) --locked
	$(MAKE) generated

generated:
	rm -rf "$(GEN)"
	install -d "$(GEN)/man" "$(GEN)/completions"
	"$(OUT)/ocapd" --manpages "$(GEN)/man"
	"$(OUT)/ocapctl" manpages "$(GEN)/man"
	"$(OUT)/ocapctl" completions bash > "$(GEN)/completions/ocapctl"
	"$(OUT)/ocapctl" completions zsh > "$(GEN)/completions/_ocapctl"
	"$(OUT)/ocapctl" completions fish > "$(GEN)/completions/ocapctl.fish"

test:
	$(CARGO) test --locked
	OCAP_BENCH_SMOKE=1 $(CARGO) test --locked --bench suite

# The shipped user units under a real systemd --user, started by the user-manager
# scripts that live outside the repository (they need root, and give the manager
# private cgroups and a private mount namespace). Not part of make test.
USER_MANAGER ?= $(abspath ../shared/tools/user-manager)

test-systemd:
	@if [ ! -f "$(USER_MANAGER)/start_user_manager.sh" ]; then \
		echo "test-systemd: skipped: no user-manager scripts in $(USER_MANAGER) (set USER_MANAGER=DIR)"; \
	else \
		OCAP_USER_MANAGER="$(USER_MANAGER)" $(CARGO) test --locked --test it systemd_manager:: -- --ignored --nocapture; \
	fi

# Build, then start a daemon with the built-in defaults (no service manager) and show it.
run: build
	"$(OUT)/ocapctl" start
	"$(OUT)/ocapctl" status

bench:
	$(CARGO) bench --locked --bench suite

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --locked --no-deps

clean:
	$(CARGO) clean

install: build
	$(MAKE) install-bins install-docs install-files

install-bins:
	install -d "$(DESTDIR)$(BINDIR)"
	install -m 755 "$(OUT)/ocapd" "$(DESTDIR)$(BINDIR)/ocapd"
	install -m 755 "$(OUT)/ocapctl" "$(DESTDIR)$(BINDIR)/ocapctl"

install-docs:
	install -d "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(MANDIR)/man8"
	install -m 644 "$(GEN)"/man/*.1 "$(DESTDIR)$(MANDIR)/man1/"
	install -m 644 "$(GEN)"/man/ocapd*.8 "$(DESTDIR)$(MANDIR)/man8/"
	install -d "$(DESTDIR)$(BASH_COMPLETION_DIR)" "$(DESTDIR)$(ZSH_COMPLETION_DIR)" "$(DESTDIR)$(FISH_COMPLETION_DIR)"
	install -m 644 "$(GEN)/completions/ocapctl" "$(DESTDIR)$(BASH_COMPLETION_DIR)/ocapctl"
	install -m 644 "$(GEN)/completions/_ocapctl" "$(DESTDIR)$(ZSH_COMPLETION_DIR)/_ocapctl"
	install -m 644 "$(GEN)/completions/ocapctl.fish" "$(DESTDIR)$(FISH_COMPLETION_DIR)/ocapctl.fish"
	install -d "$(DESTDIR)$(DOCDIR)"
	install -m 644 README.md LICENSE-MIT LICENSE-APACHE "$(DESTDIR)$(DOCDIR)/"

install-files:
	install -d "$(DESTDIR)$(SYSTEMD_USER_DIR)"
	install -m 644 systemd/ocap.socket "$(DESTDIR)$(SYSTEMD_USER_DIR)/ocap.socket"
	install -m 644 systemd/ocap-caps.socket "$(DESTDIR)$(SYSTEMD_USER_DIR)/ocap-caps.socket"
	$(call install_sed,$(call unit_exec,$(BINDIR)),systemd/ocap.service,$(DESTDIR)$(SYSTEMD_USER_DIR)/ocap.service)
	install -d "$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)"
	install -m 644 systemd/system/ocap.socket "$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/ocap.socket"
	install -m 644 systemd/system/ocap-caps.socket "$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/ocap-caps.socket"
	$(call install_sed,$(call unit_exec,$(BINDIR)),systemd/system/ocap.service,$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/ocap.service)
	install -d "$(DESTDIR)$(SYSUSERS_DIR)"
	install -m 644 systemd/system/ocap.sysusers "$(DESTDIR)$(SYSUSERS_DIR)/ocap.conf"
	install -d "$(DESTDIR)$(LAUNCHD_DIR)"
	$(call install_sed,$(call plist_exec,$(BINDIR)),launchd/$(PLIST),$(DESTDIR)$(LAUNCHD_DIR)/$(PLIST))

uninstall: uninstall-bins uninstall-docs uninstall-files

uninstall-bins:
	rm -f "$(DESTDIR)$(BINDIR)/ocapd" "$(DESTDIR)$(BINDIR)/ocapctl"

uninstall-docs:
	rm -f "$(DESTDIR)$(MANDIR)/man8/ocapd.8" "$(DESTDIR)$(MANDIR)"/man8/ocapd-*.8 "$(DESTDIR)$(MANDIR)/man1/ocapctl.1" "$(DESTDIR)$(MANDIR)"/man1/ocapctl-*.1
	rm -f "$(DESTDIR)$(BASH_COMPLETION_DIR)/ocapctl" "$(DESTDIR)$(ZSH_COMPLETION_DIR)/_ocapctl" "$(DESTDIR)$(FISH_COMPLETION_DIR)/ocapctl.fish"
	rm -f "$(DESTDIR)$(DOCDIR)/README.md" "$(DESTDIR)$(DOCDIR)/LICENSE-MIT" "$(DESTDIR)$(DOCDIR)/LICENSE-APACHE"
	rmdir "$(DESTDIR)$(DOCDIR)" 2>/dev/null || true

uninstall-files:
	rm -f "$(DESTDIR)$(SYSTEMD_USER_DIR)/ocap.socket" "$(DESTDIR)$(SYSTEMD_USER_DIR)/ocap.service"
	rm -f "$(DESTDIR)$(SYSTEMD_USER_DIR)/ocap-caps.socket"
	rm -f "$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/ocap.socket" "$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/ocap.service"
	rm -f "$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/ocap-caps.socket"
	rm -f "$(DESTDIR)$(SYSUSERS_DIR)/ocap.conf"
	rm -f "$(DESTDIR)$(LAUNCHD_DIR)/$(PLIST)"
	rmdir "$(DESTDIR)$(LAUNCHD_DIR)" 2>/dev/null || true

install-user: build
	install -d "$(USER_BINDIR)"
	install -m 755 "$(OUT)/ocapd" "$(USER_BINDIR)/ocapd"
	install -m 755 "$(OUT)/ocapctl" "$(USER_BINDIR)/ocapctl"
	install -d "$(USER_UNIT_DIR)"
	install -m 644 systemd/ocap.socket "$(USER_UNIT_DIR)/ocap.socket"
	install -m 644 systemd/ocap-caps.socket "$(USER_UNIT_DIR)/ocap-caps.socket"
	$(call install_sed,$(call unit_exec,$(USER_BINDIR)),systemd/ocap.service,$(USER_UNIT_DIR)/ocap.service)
	$(MAKE) install-docs PREFIX="$(USER_PREFIX)" DESTDIR=
	@echo
	@echo "Man pages are in $(USER_PREFIX)/share/man; zsh completion in $(USER_PREFIX)/share/zsh/site-functions (add it to fpath)."
	@echo
	@echo "Now run:  systemctl --user daemon-reload && systemctl --user enable --now ocap.socket"

uninstall-user:
	systemctl --user disable --now ocap-caps.socket ocap.socket ocap.service 2>/dev/null || true
	rm -f "$(USER_BINDIR)/ocapd" "$(USER_BINDIR)/ocapctl"
	rm -f "$(USER_UNIT_DIR)/ocap.socket" "$(USER_UNIT_DIR)/ocap.service"
	$(MAKE) uninstall-docs PREFIX="$(USER_PREFIX)" DESTDIR=
	rm -f "$(USER_UNIT_DIR)/ocap-caps.socket"
	systemctl --user daemon-reload 2>/dev/null || true

# macOS. launchd needs absolute paths, so __HOME__ in the template becomes
# $(HOME); launchd creates neither the socket's directory nor the log's.
install-launchd:
	install -d -m 700 "$(HOME)/Library/Application Support/ocap"
	install -d "$(HOME)/Library/Logs/ocap"
	install -d "$(LAUNCH_AGENTS_DIR)"
	$(call install_sed,'s|__HOME__|$(HOME)|g' -e $(call plist_exec,$(BINDIR)),launchd/$(PLIST),$(LAUNCH_AGENTS_DIR)/$(PLIST))
	@echo
	@echo "Now run:  launchctl bootstrap gui/$$(id -u) \"$(LAUNCH_AGENTS_DIR)/$(PLIST)\""

uninstall-launchd:
	launchctl bootout "gui/$$(id -u)/org.ocap.ocapd" 2>/dev/null || true
	rm -f "$(LAUNCH_AGENTS_DIR)/$(PLIST)"

# Debian package, laid out by the install targets themselves.
MAINTAINER ?= ocap maintainers <maintainers@users.noreply.r-seed-5cb1b456.example>
DEB_VERSION := $(VERSION)-1
DEB_DIR ?= target/debian
DEB_ROOT := $(DEB_DIR)/root
DEB_COMPRESS ?= xz
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

deb: build
	$(MAKE) deb-package

# Packages what the last build made (any PROFILE), without running cargo.
deb-package: generated
	rm -rf "$(DEB_ROOT)" "$(DEB_DIR)/shlibs"
	$(MAKE) install-bins install-docs install-files DESTDIR="$(abspath $(DEB_ROOT))" PREFIX=/usr \
		ZSH_COMPLETION_DIR=/usr/share/zsh/vendor-completions
	rm -r "$(DEB_ROOT)/usr/share/ocap"    # the launchd template: macOS only
	strip --strip-unneeded --remove-section=.comment --remove-section=.note \
		"$(DEB_ROOT)/usr/bin/ocapd" "$(DEB_ROOT)/usr/bin/ocapctl"
	gzip -9n "$(DEB_ROOT)"/usr/share/man/man*/* "$(DEB_ROOT)/usr/share/doc/ocap/README.md"
	rm "$(DEB_ROOT)"/usr/share/doc/ocap/LICENSE-*    # Debian keeps license texts in copyright
	install -m 644 packaging/debian/copyright "$(DEB_ROOT)/usr/share/doc/ocap/copyright"
	sed -e 's|@VERSION@|$(DEB_VERSION)|' -e 's|@MAINTAINER@|$(MAINTAINER)|' \
		-e "s|@DATE@|$$(date -u -R -d @$(SOURCE_DATE_EPOCH))|" packaging/debian/changelog.in \
		| gzip -9n > "$(DEB_ROOT)/usr/share/doc/ocap/changelog.Debian.gz"
	install -D -m 644 packaging/debian/lintian-overrides "$(DEB_ROOT)/usr/share/lintian/overrides/ocap"
	install -d "$(DEB_ROOT)/DEBIAN"
	install -m 755 packaging/debian/postinst packaging/debian/postrm "$(DEB_ROOT)/DEBIAN/"
	install -d "$(DEB_DIR)/shlibs/debian"
	printf 'Source: ocap\n\nPackage: ocap\nArchitecture: any\n' > "$(DEB_DIR)/shlibs/debian/control"
	shlibs="$$(cd "$(DEB_DIR)/shlibs" && dpkg-shlibdeps -O -e"$(abspath $(DEB_ROOT))/usr/bin/ocapd" \
		-e"$(abspath $(DEB_ROOT))/usr/bin/ocapctl" | sed -n 's/^shlibs:Depends=//p')" && \
	sed -e 's|@VERSION@|$(DEB_VERSION)|' -e 's|@ARCH@|$(shell dpkg --print-architecture)|' \
		-e 's|@MAINTAINER@|$(MAINTAINER)|' -e "s|@SHLIBS@|$$shlibs|" \
		-e "s|@SIZE@|$$(du -sk --apparent-size --exclude=DEBIAN "$(DEB_ROOT)" | cut -f1)|" \
		packaging/debian/control.in > "$(DEB_ROOT)/DEBIAN/control"
	cd "$(DEB_ROOT)" && find usr -type f -exec md5sum {} + | sort -k 2 > DEBIAN/md5sums
	dpkg-deb --root-owner-group -Z$(DEB_COMPRESS) --build "$(DEB_ROOT)" \
		"$(DEB_DIR)/ocap_$(DEB_VERSION)_$(shell dpkg --print-architecture).deb"

# The release tarball the RPM spec, the PKGBUILD and the Homebrew formula build
# from: the committed tree at HEAD (commit first), as ocap-VERSION/. Beside it
# in target/dist: the PKGBUILD and the formula with its checksum (and the
# formula with DIST_URL, where the tarball is published), the sysusers file
# the spec takes as a second source.
DIST_DIR ?= target/dist
DIST_TARBALL = $(DIST_DIR)/ocap-$(VERSION).tar.gz
DIST_URL ?= file://$(abspath $(DIST_TARBALL))

dist:
	install -d "$(DIST_DIR)"
	git archive --format=tar.gz --prefix=ocap-$(VERSION)/ -o "$(DIST_TARBALL)" HEAD
	install -m 644 systemd/system/ocap.sysusers "$(DIST_DIR)/ocap.sysusers"
	sum="$$(sha256sum "$(DIST_TARBALL)" | cut -d ' ' -f 1)" && \
	sed -e "s|@SHA256@|$$sum|" packaging/arch/PKGBUILD > "$(DIST_DIR)/PKGBUILD" && \
	sed -e "s|@SHA256@|$$sum|" -e 's|@URL@|$(DIST_URL)|' packaging/homebrew/ocap.rb > "$(DIST_DIR)/ocap.rb"
	@echo "$(DIST_TARBALL)"
