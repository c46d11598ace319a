//! The parts of `ocapd(8)` that clap does not generate: exit status, signals, environment, files.

use crate::manpage::Section;

/// The sections after OPTIONS in `ocapd(8)`.
pub const MANUAL: &[Section<'static>] = &[
    Section {
        title: "EXIT STATUS",
        items: &[
            (
                "0",
                "Stopped cleanly: SIGTERM, SIGINT, the shutdown method or the idle timeout; or --check-config found the configuration valid.",
            ),
            (
                "1",
                "Could not start or serve: the socket or database is unusable, another daemon holds the database lock, or the database comes from a newer ocapd.",
            ),
            ("2", "Usage error on the command line."),
            (
                "78",
                "Invalid configuration (sysexits EX_CONFIG): the config file cannot be read, has an unknown key (named with its line) or a bad value.",
            ),
        ],
    },
    Section {
        title: "SIGNALS",
        items: &[
            (
                "SIGTERM, SIGINT",
                "Stop accepting, let in-flight requests finish within --drain-timeout, checkpoint the database and exit 0.",
            ),
            (
                "SIGHUP",
                "Re-read the config file and apply the log filter and the request limits; a broken file keeps the running configuration.",
            ),
        ],
    },
    Section {
        title: "ENVIRONMENT",
        items: &[
            (
                "OCAP_HOME",
                "Directory holding the socket, database and log.",
            ),
            ("OCAP_SOCKET_PATH", "The socket, as --socket."),
            ("OCAP_LOG", "The log filter, as --log-level."),
            ("OCAP_CONFIG", "The config file, as --config."),
            (
                "LISTEN_FDS, LISTEN_FDNAMES",
                "A socket passed by systemd socket activation (the fd named ocap).",
            ),
            (
                "NOTIFY_SOCKET, WATCHDOG_USEC",
                "systemd readiness notification and watchdog.",
            ),
            (
                "JOURNAL_STREAM",
                "Log to the journal when standard error is the journal.",
            ),
        ],
    },
    Section {
        title: "FILES",
        items: &[
            (
                "$XDG_CONFIG_HOME/ocap/ocapd.toml",
                "The config file; its keys are the long option names (idle-timeout = 300). Options on the command line win.",
            ),
            (
                "/etc/ocap/ocapd.toml",
                "The config file when the user has none, and the system service's.",
            ),
            (
                "$XDG_RUNTIME_DIR/ocap/daemon.sock",
                "The control socket of a per-user daemon (/run/ocap/daemon.sock for the system service).",
            ),
            (
                "$XDG_STATE_HOME/ocap/kernel.sqlite",
                "The kernel database, with kernel.sqlite.lock held by the running daemon, daemon.log when detached (moved to daemon.log.1 at --max-log-bytes, one old file kept), and daemon.pid (its decimal pid, as the reference daemon writes it) while a daemon that bound its own socket runs.",
            ),
        ],
    },
    Section {
        title: "SEE ALSO",
        items: &[("", "ocapctl(1), systemd.socket(5), systemd-sysusers(8)")],
    },
];
