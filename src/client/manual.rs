//! The parts of `ocapctl(1)` that clap does not generate: exit status, environment, files.

use crate::manpage::Section;

/// The sections after the subcommands in `ocapctl(1)`.
pub const MANUAL: &[Section<'static>] = &[
    Section {
        title: "EXIT STATUS",
        items: &[
            ("0", "Success."),
            (
                "1",
                "The daemon answered with an error, or the command failed (fsck found problems, doctor found a failing check).",
            ),
            ("2", "Usage error on the command line."),
            (
                "69",
                "No daemon could be reached (sysexits EX_UNAVAILABLE); the message says how to start one.",
            ),
            (
                "76",
                "The daemon sent something that is not a JSON-RPC response (EX_PROTOCOL).",
            ),
            (
                "77",
                "Permission denied: the socket belongs to another user's daemon (EX_NOPERM).",
            ),
        ],
    },
    Section {
        title: "OUTPUT",
        items: &[(
            "",
            "On a terminal, results are shown for people (status, fsck and doctor as text, JSON indented); otherwise, and with --json, as JSON for scripts. Messages go to standard error.",
        )],
    },
    Section {
        title: "ENVIRONMENT",
        items: &[
            (
                "OCAP_HOME",
                "Directory holding the socket, database and log (--home sets it).",
            ),
            ("OCAP_SOCKET_PATH", "The daemon's socket, as --socket."),
            (
                "XDG_RUNTIME_DIR, XDG_STATE_HOME",
                "Where the per-user socket and database are by default.",
            ),
        ],
    },
    Section {
        title: "FILES",
        items: &[
            (
                "$XDG_RUNTIME_DIR/ocap/daemon.sock",
                "The per-user daemon's socket; /run/ocap/daemon.sock for the system service.",
            ),
            (
                "$XDG_STATE_HOME/ocap/daemon.log",
                "The log of a daemon that ocapctl started, daemon.log.1 the one before it (ocapctl logs shows both, or the journal under systemd).",
            ),
            (
                "~/.config/systemd/user/ocap.socket, /usr/lib/systemd/user/ocap.socket",
                "The socket unit that starts ocapd on the first connection.",
            ),
        ],
    },
    Section {
        title: "SEE ALSO",
        items: &[("", "ocapd(8), journalctl(1), systemctl(1)")],
    },
];

#[cfg(test)]
mod tests {
    use super::super::exit_codes;

    #[test]
    fn every_exit_code_is_documented() {
        let documented: Vec<&str> = super::MANUAL[0]
            .items
            .iter()
            .map(|(code, _)| *code)
            .collect();
        for code in [
            0,
            exit_codes::FAILURE,
            exit_codes::USAGE,
            exit_codes::UNAVAILABLE,
            exit_codes::PROTOCOL,
            exit_codes::NO_PERMISSION,
        ] {
            assert!(documented.contains(&code.to_string().as_str()), "{code}");
        }
    }
}
