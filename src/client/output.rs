//! Printing results: pretty JSON on a terminal, compact otherwise (the reference's
//! `JSON.stringify(result, null, 2)` vs `JSON.stringify(result)`), and the human status view.

use serde_json::Value;
use std::io::IsTerminal;

/// Prints `text` and a newline on standard output. A reader that went away (`ocapctl … | head`)
/// is not an error worth a panic: the process just exits quietly, like other Unix tools.
pub fn print_line(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("Error: writing the output: {e}");
        std::process::exit(1);
    }
}

/// Whether standard output is a terminal.
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// The JSON text for `value`: indented by two spaces when `pretty`.
pub fn json_text(value: &Value, pretty: bool) -> String {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    text.expect("JSON values always serialize")
}

/// A few lines about the daemon and its kernel, for `ocapctl status` on a terminal.
pub fn status_summary(info: &Value, status: &Value) -> String {
    let count = |key: &str| status[key].as_array().map_or(0, Vec::len);
    let mut lines = vec![
        format!(
            "ocapd {} running (pid {}, started by {})",
            info["version"].as_str().unwrap_or("?"),
            info["pid"],
            info["activation"].as_str().unwrap_or("?")
        ),
        format!("socket:       {}", info["socket"].as_str().unwrap_or("?")),
        format!("database:     {}", info["database"].as_str().unwrap_or("?")),
        format!("vats:         {}", count("vats")),
        format!("subclusters:  {}", count("subclusters")),
        format!(
            "remote comms: {}",
            status["remoteComms"]["state"].as_str().unwrap_or("?")
        ),
    ];
    for vat in status["vats"].as_array().into_iter().flatten() {
        lines.push(format!(
            "  {} in {}",
            vat["id"].as_str().unwrap_or("?"),
            vat["subclusterId"].as_str().unwrap_or("?")
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pretty_matches_json_stringify_with_two_spaces() {
        let v = json!({"vats": [], "a": {"b": [1, 2]}});
        assert_eq!(
            json_text(&v, true),
            "{\n  \"vats\": [],\n  \"a\": {\n    \"b\": [\n      1,\n      2\n    ]\n  }\n}"
        );
        assert_eq!(json_text(&v, false), "{\"vats\":[],\"a\":{\"b\":[1,2]}}");
    }
}
