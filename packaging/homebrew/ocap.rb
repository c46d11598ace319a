# Homebrew formula of ocap, built from the release tarball. `make dist` writes this file with
# the tarball's URL and checksum filled in to target/dist/ocap.rb (DIST_URL= for a published
# tarball; by default the local file), then: brew install --formula target/dist/ocap.rb
class Ocap < Formula
  desc "Object-capability kernel that runs as a service (ocapd, ocapctl)"
  url "@URL@"
  version "0.1.0"
  sha256 "@SHA256@"
  license any_of: ["MIT", "Apache-2.0"]

  depends_on "node" => :build
  depends_on "rust" => :build

  def install
    system "make", "build"
    system "make", "install-bins", "install-docs",
           "PREFIX=#{prefix}",
           "MANDIR=#{man}",
           "BASH_COMPLETION_DIR=#{bash_completion}",
           "ZSH_COMPLETION_DIR=#{zsh_completion}",
           "FISH_COMPLETION_DIR=#{fish_completion}"
    # The plist and units name ocapd by its opt path, which survives upgrades.
    system "make", "install-files", "PREFIX=#{prefix}", "BINDIR=#{opt_bin}"
    # systemd units mean nothing on macOS; the LaunchAgent template
    # (share/ocap/launchd/org.ocap.ocapd.plist) stays for socket activation.
    rm_r lib/"systemd" if OS.mac?
    rm_r lib/"sysusers.d" if OS.mac?
  end

  def caveats
    <<~EOS
      `brew services start ocap` runs ocapd at login; it binds
        ~/Library/Application Support/ocap/daemon.sock
      For socket activation instead (ocapd starts on the first connection and exits when idle),
      install the LaunchAgent template:
        mkdir -p ~/Library/Logs/ocap && mkdir -m 700 -p ~/Library/Application\\ Support/ocap
        sed -e "s|__HOME__|$HOME|g" #{opt_share}/ocap/launchd/org.ocap.ocapd.plist \\
          > ~/Library/LaunchAgents/org.ocap.ocapd.plist
        launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/org.ocap.ocapd.plist
      Check with `ocapctl status` and `ocapctl doctor`. The service's log is #{var}/log/ocap.log;
      the LaunchAgent's ~/Library/Logs/ocap/ocapd.log (`ocapctl logs`).
    EOS
  end

  # Homebrew's `sockets` takes only TCP/UDP host:port, so the service runs ocapd itself (it binds
  # its Unix socket); restarted only if it crashes, so `ocapctl stop` stays stopped.
  service do
    run [opt_bin/"ocapd", "--foreground"]
    keep_alive crashed: true
    process_type :background
    log_path var/"log/ocap.log"
    error_log_path var/"log/ocap.log"
  end

  test do
    assert_match "max-connections = 256", shell_output("#{bin}/ocapd --check-config")
    assert_match "EXIT STATUS", (man1/"ocapctl.1").read
    system bin/"ocapctl", "completions", "zsh"
  end
end
