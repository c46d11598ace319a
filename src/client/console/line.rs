//! Parsing one console line into a [`Line`]. Words are split on white space, except inside a
//! JSON string or between JSON brackets, so `send ko4 put {"a": 1} "two words"` has four
//! arguments after the method; each argument then follows `ocapctl send`'s rule (JSON if it
//! parses, else the text itself).

use crate::client::send::parse_args;
use serde_json::Value;

/// What a console line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Nothing (an empty line).
    Empty,
    /// `help`.
    Help,
    /// `status`.
    Status,
    /// `vats`.
    Vats,
    /// `subclusters`.
    Subclusters,
    /// `names`: the names bound with `let`.
    Names,
    /// `methods TARGET`: what the target says it answers to.
    Methods(String),
    /// `[let NAME =] send TARGET METHOD [ARGS…]`.
    Send {
        /// Bind the result to this name.
        bind: Option<String>,
        /// A kref, a bound name or a `.ocap` file.
        target: String,
        /// The method.
        method: String,
        /// The arguments.
        args: Vec<Value>,
    },
    /// `exec METHOD [PARAMS]`: any RPC method.
    Exec {
        /// The method.
        method: String,
        /// The params, JSON.
        params: Option<Value>,
    },
    /// `quit` / `exit`.
    Quit,
}

/// The console's commands, for `help` and completion.
pub const COMMANDS: [(&str, &str); 9] = [
    ("help", "this list"),
    ("status", "the daemon and its kernel in a few lines"),
    ("vats", "running vats: id, subcluster, bundle"),
    ("subclusters", "subclusters: id, bootstrap vat, vats"),
    (
        "send",
        "send TARGET METHOD [ARGS…]: TARGET is a kref, a name or a .ocap file",
    ),
    (
        "let",
        "let NAME = send TARGET METHOD [ARGS…]: name the result",
    ),
    (
        "methods",
        "methods TARGET: the methods TARGET reports (__getMethodNames__)",
    ),
    ("names", "the names bound with let"),
    (
        "exec",
        "exec METHOD [PARAMS]: any RPC method, params as JSON",
    ),
];

/// Parses a line; the error is for the user.
pub fn parse(text: &str) -> Result<Line, String> {
    let words = split(text)?;
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] => Ok(Line::Empty),
        ["help"] | ["?"] => Ok(Line::Help),
        ["status"] => Ok(Line::Status),
        ["vats"] => Ok(Line::Vats),
        ["subclusters"] => Ok(Line::Subclusters),
        ["names"] => Ok(Line::Names),
        ["quit"] | ["exit"] => Ok(Line::Quit),
        ["methods", target] => Ok(Line::Methods(target.to_string())),
        ["send", rest @ ..] => send(None, rest),
        ["let", name, "=", "send", rest @ ..] => {
            if !is_name(name) {
                return Err(format!(
                    "{name:?} cannot be a name: use letters, digits and _, not starting with a digit, and not a kref"
                ));
            }
            send(Some(name.to_string()), rest)
        }
        ["exec", method] => Ok(Line::Exec {
            method: method.to_string(),
            params: None,
        }),
        ["exec", method, params] => {
            let params = serde_json::from_str(params)
                .map_err(|e| format!("exec: PARAMS must be JSON: {e}"))?;
            Ok(Line::Exec {
                method: method.to_string(),
                params: Some(params),
            })
        }
        [command, ..] if COMMANDS.iter().any(|(c, _)| c == command) => {
            let usage = COMMANDS.iter().find(|(c, _)| c == command).map(|(_, u)| *u);
            Err(format!("usage: {}", usage.unwrap_or(command)))
        }
        [other, ..] => Err(format!("unknown command {other:?}; try help")),
    }
}

fn send(bind: Option<String>, rest: &[&str]) -> Result<Line, String> {
    let [target, method, args @ ..] = rest else {
        return Err("usage: send TARGET METHOD [ARGS…]".into());
    };
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    Ok(Line::Send {
        bind,
        target: target.to_string(),
        method: method.to_string(),
        args: parse_args(&args).map_err(|e| e.to_string())?,
    })
}

/// A name for `let`: an identifier that is not a kref (so `ko4` always means the kref).
pub fn is_name(word: &str) -> bool {
    let mut chars = word.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    first_ok
        && word.chars().all(|c| c.is_alphanumeric() || c == '_')
        && word.parse::<crate::client::ids::KRef>().is_err()
}

/// Splits on white space outside JSON strings and brackets.
pub fn split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            word.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            c if c.is_whitespace() && depth == 0 => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            '"' => in_string = true,
            '[' | '{' => depth += 1,
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        word.push(c);
    }
    if in_string {
        return Err("a string is not closed (missing \")".into());
    }
    if !word.is_empty() {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn words_keep_json_together() {
        assert_eq!(
            split(r#"send ko4 put {"a": [1, 2]} "two words" x"#).unwrap(),
            [
                "send",
                "ko4",
                "put",
                r#"{"a": [1, 2]}"#,
                "\"two words\"",
                "x"
            ]
        );
        assert!(split(r#"send ko4 m "open"#).is_err());
    }

    #[test]
    fn sends_and_lets() {
        assert_eq!(
            parse("let c = send ko4 makeCounter").unwrap(),
            Line::Send {
                bind: Some("c".into()),
                target: "ko4".into(),
                method: "makeCounter".into(),
                args: vec![],
            }
        );
        assert_eq!(
            parse(r#"send c add 5 "x" hello"#).unwrap(),
            Line::Send {
                bind: None,
                target: "c".into(),
                method: "add".into(),
                args: vec![json!(5), json!("x"), json!("hello")],
            }
        );
        assert!(
            parse("let ko5 = send ko4 m")
                .unwrap_err()
                .contains("cannot be a name")
        );
        assert!(parse("let 1x = send ko4 m").is_err());
        assert_eq!(
            parse("send ko4").unwrap_err(),
            "usage: send TARGET METHOD [ARGS…]"
        );
    }

    #[test]
    fn other_commands() {
        assert_eq!(parse("  ").unwrap(), Line::Empty);
        assert_eq!(parse("methods c").unwrap(), Line::Methods("c".into()));
        assert_eq!(
            parse(r#"exec pingVat {"id": "v1"}"#).unwrap(),
            Line::Exec {
                method: "pingVat".into(),
                params: Some(json!({"id": "v1"})),
            }
        );
        assert!(
            parse("methods")
                .unwrap_err()
                .starts_with("usage: methods TARGET")
        );
        assert!(parse("frob").unwrap_err().contains("unknown command"));
        assert_eq!(parse("exit").unwrap(), Line::Quit);
    }
}
