# ocap: build, test and install ocapd / ocapctl and their service-manager files.
#
#   make                      build release binaries (same as make build)
#   make install              build, then install binaries, systemd units,
#                             sysusers snippet and launchd template under
#                             $(DESTDIR)$(PREFIX)
#   make install-files        only the service files (no cargo), for packagers
#   make install-user         per-user install into ~/.local/bin and
#                             ~/.config/systemd/user (Linux, no root)
#   make install-launchd      per-user LaunchAgent (macOS; binaries from
#                             make install or Homebrew)
#
# The unit files name /usr/bin/ocapd and the plist /usr/local/bin/ocapd; the
# install targets rewrite those to the directory the binaries go to.

PREFIX ?= /usr/local
DESTDIR ?=
CARGO ?= cargo
BINDIR ?= $(PREFIX)/bin
SYSTEMD_USER_DIR ?= $(PREFIX)/lib/systemd/user
SYSTEMD_SYSTEM_DIR ?= $(PREFIX)/lib/systemd/system
SYSUSERS_DIR ?= $(PREFIX)/lib/sysusers.d
LAUNCHD_DIR ?= $(PREFIX)/share/ocap/launchd

# Per-user install locations (install-user, install-launchd).
USER_BINDIR ?= $(HOME)/.local/bin
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

.PHONY: all build test run bench lint clean \
	install install-bins install-files \
	uninstall uninstall-bins uninstall-files \
	install-user uninstall-user install-launchd uninstall-launchd

all: build

build:
	$(CARGO) build --release --locked

test:
	$(CARGO) test --locked

# Build, then start a daemon with the built-in defaults (no service manager) and show it.
run: build
	target/release/ocapctl start
	target/release/ocapctl status

bench:
	$(CARGO) bench --locked --bench service

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

clean:
	$(CARGO) clean

install: build
	$(MAKE) install-bins install-files

install-bins:
	install -d "$(DESTDIR)$(BINDIR)"
	install -m 755 target/release/ocapd "$(DESTDIR)$(BINDIR)/ocapd"
	install -m 755 target/release/ocapctl "$(DESTDIR)$(BINDIR)/ocapctl"

install-files:
	install -d "$(DESTDIR)$(SYSTEMD_USER_DIR)"
	install -m 644 systemd/ocap.socket "$(DESTDIR)$(SYSTEMD_USER_DIR)/ocap.socket"
	install -m 644 systemd/ocap-caps.socket "$(DESTDIR)$(SYSTEMD_USER_DIR)/ocap-caps.socket"
	$(call install_sed,$(call unit_exec,$(BINDIR)),systemd/ocap.service,$(DESTDIR)$(SYSTEMD_USER_DIR)/ocap.service)
	install -d "$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)"
	install -m 644 systemd/system/ocap.socket "$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/ocap.socket"
	$(call install_sed,$(call unit_exec,$(BINDIR)),systemd/system/ocap.service,$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/ocap.service)
	install -d "$(DESTDIR)$(SYSUSERS_DIR)"
	install -m 644 systemd/system/ocap.sysusers "$(DESTDIR)$(SYSUSERS_DIR)/ocap.conf"
	install -d "$(DESTDIR)$(LAUNCHD_DIR)"
	$(call install_sed,$(call plist_exec,$(BINDIR)),launchd/$(PLIST),$(DESTDIR)$(LAUNCHD_DIR)/$(PLIST))

uninstall: uninstall-bins uninstall-files

uninstall-bins:
	rm -f "$(DESTDIR)$(BINDIR)/ocapd" "$(DESTDIR)$(BINDIR)/ocapctl"

uninstall-files:
	rm -f "$(DESTDIR)$(SYSTEMD_USER_DIR)/ocap.socket" "$(DESTDIR)$(SYSTEMD_USER_DIR)/ocap.service"
	rm -f "$(DESTDIR)$(SYSTEMD_USER_DIR)/ocap-caps.socket"
	rm -f "$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/ocap.socket" "$(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/ocap.service"
	rm -f "$(DESTDIR)$(SYSUSERS_DIR)/ocap.conf"
	rm -f "$(DESTDIR)$(LAUNCHD_DIR)/$(PLIST)"
	rmdir "$(DESTDIR)$(LAUNCHD_DIR)" 2>/dev/null || true

install-user: build
	install -d "$(USER_BINDIR)"
	install -m 755 target/release/ocapd "$(USER_BINDIR)/ocapd"
	install -m 755 target/release/ocapctl "$(USER_BINDIR)/ocapctl"
	install -d "$(USER_UNIT_DIR)"
	install -m 644 systemd/ocap.socket "$(USER_UNIT_DIR)/ocap.socket"
	install -m 644 systemd/ocap-caps.socket "$(USER_UNIT_DIR)/ocap-caps.socket"
	$(call install_sed,$(call unit_exec,$(USER_BINDIR)),systemd/ocap.service,$(USER_UNIT_DIR)/ocap.service)
	@echo
	@echo "Now run:  systemctl --user daemon-reload && systemctl --user enable --now ocap.socket"

uninstall-user:
	systemctl --user disable --now ocap-caps.socket ocap.socket ocap.service 2>/dev/null || true
	rm -f "$(USER_BINDIR)/ocapd" "$(USER_BINDIR)/ocapctl"
	rm -f "$(USER_UNIT_DIR)/ocap.socket" "$(USER_UNIT_DIR)/ocap.service"
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
