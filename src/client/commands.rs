//! The friendly kernel commands of `ocapctl` (`launch`, `send`, `terminate`, `restart`, `ping`,
//! `revoke`, `revoked`, `gc`): which method each calls with which params (spec §2), and what it
//! prints. Everything here is checked before the daemon is contacted.

use super::ClientError;
use super::ids::{KRef, VatId, VatOrSubcluster};
use super::output::json_text;
use super::send::render_result;
use serde_json::{Value, json};
use std::time::Duration;

/// One kernel command, its arguments already checked.
#[derive(Clone, Debug, PartialEq)]
pub enum KernelCommand {
    /// `launchSubcluster`, with the params built by [`super::launch::launch_params`].
    Launch {
        /// `{"config": ClusterConfig}`.
        params: Value,
    },
    /// `queueMessage [target, method, args]`.
    Send {
        /// The object or promise the message goes to.
        target: KRef,
        /// The method name.
        method: String,
        /// The arguments, plain JSON (see [`super::send::parse_args`]).
        args: Vec<Value>,
        /// Print the result CapData itself instead of prettifying it.
        raw: bool,
    },
    /// `terminateVat` or `terminateSubcluster`.
    Terminate(VatOrSubcluster),
    /// `restartVat`.
    Restart(VatId),
    /// `pingVat`.
    Ping(VatId),
    /// `revoke`.
    Revoke(KRef),
    /// `isRevoked`.
    Revoked(KRef),
    /// `collectGarbage`.
    CollectGarbage,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// Standard output is a terminal: JSON is indented.
    pub tty: bool,
    /// `--json`: print the bare JSON result even where a word or nothing is printed otherwise.
    pub json: bool,
}

/// What a command prints once the daemon has answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Printed {
    /// A line for standard output.
    pub stdout: Option<String>,
    /// A line for standard error (a confirmation or a note).
    pub stderr: Option<String>,
}

impl KernelCommand {
    /// The JSON-RPC method.
    pub fn method(&self) -> &'static str {
        match self {
            KernelCommand::Launch { .. } => "launchSubcluster",
            KernelCommand::Send { .. } => "queueMessage",
            KernelCommand::Terminate(VatOrSubcluster::Vat(_)) => "terminateVat",
            KernelCommand::Terminate(VatOrSubcluster::Subcluster(_)) => "terminateSubcluster",
            KernelCommand::Restart(_) => "restartVat",
            KernelCommand::Ping(_) => "pingVat",
            KernelCommand::Revoke(_) => "revoke",
            KernelCommand::Revoked(_) => "isRevoked",
            KernelCommand::CollectGarbage => "collectGarbage",
        }
    }

    /// The params, exactly as the method's schema wants them (spec §2).
    pub fn params(&self) -> Value {
        match self {
            KernelCommand::Launch { params } => params.clone(),
            KernelCommand::Send {
                target,
                method,
                args,
                ..
            } => json!([target.as_str(), method, args]),
            KernelCommand::Terminate(VatOrSubcluster::Vat(id))
            | KernelCommand::Restart(id)
            | KernelCommand::Ping(id) => json!({ "id": id.as_str() }),
            KernelCommand::Terminate(VatOrSubcluster::Subcluster(id)) => {
                json!({ "id": id.as_str() })
            }
            KernelCommand::Revoke(kref) | KernelCommand::Revoked(kref) => {
                json!({ "kref": kref.as_str() })
            }
            KernelCommand::CollectGarbage => json!([]),
        }
    }

    /// What to print for the daemon's `result`.
    ///
    /// * `launch`: the result JSON, indented on a terminal.
    /// * `send`: see [`render_result`].
    /// * `ping`: the word (`pong`); `revoked`: `true` or `false`.
    /// * `terminate`, `restart`, `revoke`, `gc`: a confirmation on standard error and nothing on
    ///   standard output, as their result is `null`.
    ///
    /// With `--json`, and whenever the result is not what the method promises (a string for
    /// `ping`, `null` for the others), standard output gets the result as compact JSON.
    pub fn render(&self, result: &Value, style: Style) -> Printed {
        let json = || Some(json_text(result, false));
        match self {
            KernelCommand::Launch { .. } => Printed {
                stdout: Some(json_text(result, style.tty)),
                stderr: None,
            },
            KernelCommand::Send { raw, .. } => {
                let (text, note) = render_result(result, *raw, style.tty);
                Printed {
                    stdout: Some(text),
                    stderr: note.map(|n| format!("Note: {n}")),
                }
            }
            KernelCommand::Ping(_) => Printed {
                stdout: match result {
                    Value::String(word) if !style.json => Some(word.clone()),
                    _ => json(),
                },
                stderr: None,
            },
            KernelCommand::Revoked(_) => Printed {
                stdout: json(),
                stderr: None,
            },
            KernelCommand::Terminate(_)
            | KernelCommand::Restart(_)
            | KernelCommand::Revoke(_)
            | KernelCommand::CollectGarbage => Printed {
                stdout: if result.is_null() && !style.json {
                    None
                } else {
                    json()
                },
                stderr: self.done(),
            },
        }
    }

    /// The confirmation for a command whose result is `null`.
    fn done(&self) -> Option<String> {
        Some(match self {
            KernelCommand::Terminate(VatOrSubcluster::Vat(id)) => format!("Vat {id} terminated."),
            KernelCommand::Terminate(VatOrSubcluster::Subcluster(id)) => {
                format!("Subcluster {id} terminated.")
            }
            KernelCommand::Restart(id) => format!("Vat {id} restarted."),
            KernelCommand::Revoke(kref) => format!("{kref} revoked."),
            KernelCommand::CollectGarbage => "Garbage collected.".into(),
            _ => return None,
        })
    }
}

/// `--timeout` as the reference takes it: a positive whole number of seconds; `None` waits as
/// long as the daemon takes.
pub fn parse_timeout(text: Option<&str>) -> Result<Option<Duration>, ClientError> {
    let Some(text) = text else { return Ok(None) };
    match text.parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(Some(Duration::from_secs(secs))),
        _ => Err(ClientError::Usage(format!(
            "--timeout must be a positive integer, got: {text}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vat(id: &str) -> VatId {
        id.parse().unwrap()
    }

    fn kref(id: &str) -> KRef {
        id.parse().unwrap()
    }

    fn request(command: &KernelCommand) -> String {
        format!(
            "{} {}",
            command.method(),
            serde_json::to_string(&command.params()).unwrap()
        )
    }

    #[test]
    fn methods_and_params_match_the_kernel_schemas() {
        let cases = [
            (
                KernelCommand::Send {
                    target: kref("ko4"),
                    method: "add".into(),
                    args: vec![json!(5), json!("x"), json!("hello")],
                    raw: false,
                },
                r#"queueMessage ["ko4","add",[5,"x","hello"]]"#,
            ),
            (
                KernelCommand::Send {
                    target: kref("kp2"),
                    method: "resume".into(),
                    args: vec![],
                    raw: true,
                },
                r#"queueMessage ["kp2","resume",[]]"#,
            ),
            (
                KernelCommand::Terminate("v3".parse().unwrap()),
                r#"terminateVat {"id":"v3"}"#,
            ),
            (
                KernelCommand::Terminate("s1".parse().unwrap()),
                r#"terminateSubcluster {"id":"s1"}"#,
            ),
            (
                KernelCommand::Restart(vat("v1")),
                r#"restartVat {"id":"v1"}"#,
            ),
            (KernelCommand::Ping(vat("v2")), r#"pingVat {"id":"v2"}"#),
            (
                KernelCommand::Revoke(kref("ko9")),
                r#"revoke {"kref":"ko9"}"#,
            ),
            (
                KernelCommand::Revoked(kref("ko9")),
                r#"isRevoked {"kref":"ko9"}"#,
            ),
            (KernelCommand::CollectGarbage, "collectGarbage []"),
            (
                KernelCommand::Launch {
                    params: json!({"config":{"bootstrap":"a","vats":{}}}),
                },
                r#"launchSubcluster {"config":{"bootstrap":"a","vats":{}}}"#,
            ),
        ];
        for (command, expected) in cases {
            assert_eq!(request(&command), expected);
        }
    }

    #[test]
    fn launch_prints_the_result_json() {
        let launch = KernelCommand::Launch { params: json!({}) };
        let result = json!({"subclusterId":"s1","rootKref":"ko4","bootstrapResult":null});
        let plain = launch.render(&result, Style::default());
        assert_eq!(
            plain.stdout.unwrap(),
            r#"{"subclusterId":"s1","rootKref":"ko4","bootstrapResult":null}"#
        );
        let tty = launch.render(
            &result,
            Style {
                tty: true,
                json: false,
            },
        );
        assert!(
            tty.stdout
                .unwrap()
                .starts_with("{\n  \"subclusterId\": \"s1\",\n")
        );
    }

    #[test]
    fn send_prints_prettified_capdata() {
        let send = |raw| KernelCommand::Send {
            target: kref("ko4"),
            method: "resume".into(),
            args: vec![],
            raw,
        };
        let result = json!({"body":"#\"Counter incremented to: 2\"","slots":[]});
        assert_eq!(
            send(false).render(&result, Style::default()),
            Printed {
                stdout: Some("\"Counter incremented to: 2\"".into()),
                stderr: None,
            }
        );
        assert_eq!(
            send(true).render(&result, Style::default()).stdout.unwrap(),
            r##"{"body":"#\"Counter incremented to: 2\"","slots":[]}"##
        );
        let odd = json!({"body":"x","slots":[]});
        let printed = send(false).render(&odd, Style::default());
        assert!(printed.stderr.unwrap().starts_with("Note: "));
    }

    #[test]
    fn ping_prints_pong_and_revoked_a_boolean() {
        let ping = KernelCommand::Ping(vat("v1"));
        assert_eq!(
            ping.render(&json!("pong"), Style::default())
                .stdout
                .unwrap(),
            "pong"
        );
        let json_style = Style {
            tty: true,
            json: true,
        };
        assert_eq!(
            ping.render(&json!("pong"), json_style).stdout.unwrap(),
            "\"pong\""
        );
        let revoked = KernelCommand::Revoked(kref("ko4"));
        for flag in [true, false] {
            assert_eq!(
                revoked.render(&json!(flag), Style::default()),
                Printed {
                    stdout: Some(flag.to_string()),
                    stderr: None
                }
            );
        }
    }

    #[test]
    fn null_results_print_a_confirmation_on_stderr() {
        let cases = [
            (
                KernelCommand::Terminate("v1".parse().unwrap()),
                "Vat v1 terminated.",
            ),
            (
                KernelCommand::Terminate("s2".parse().unwrap()),
                "Subcluster s2 terminated.",
            ),
            (KernelCommand::Restart(vat("v1")), "Vat v1 restarted."),
            (KernelCommand::Revoke(kref("ko4")), "ko4 revoked."),
            (KernelCommand::CollectGarbage, "Garbage collected."),
        ];
        for (command, message) in cases {
            assert_eq!(
                command.render(&Value::Null, Style::default()),
                Printed {
                    stdout: None,
                    stderr: Some(message.into())
                }
            );
            let json_style = Style {
                tty: false,
                json: true,
            };
            assert_eq!(
                command.render(&Value::Null, json_style).stdout.as_deref(),
                Some("null")
            );
            assert_eq!(
                command
                    .render(&json!({"odd": 1}), Style::default())
                    .stdout
                    .as_deref(),
                Some(r#"{"odd":1}"#),
                "an unexpected result is shown"
            );
        }
    }

    #[test]
    fn timeouts_are_positive_whole_seconds() {
        assert_eq!(parse_timeout(None).unwrap(), None);
        assert_eq!(
            parse_timeout(Some("30")).unwrap(),
            Some(Duration::from_secs(30))
        );
        for bad in ["0", "-1", "1.5", "x", ""] {
            assert_eq!(
                parse_timeout(Some(bad)).unwrap_err().to_string(),
                format!("--timeout must be a positive integer, got: {bad}")
            );
        }
    }
}
