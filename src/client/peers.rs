//! `ocapctl peers`: the kernels this daemon federates with (`listPeers`), one line each on a
//! terminal — remote id, peer id, connection state, frames awaiting acknowledgement,
//! redemptions awaiting answers, the last error — and the whole record as JSON otherwise.

use super::{ClientError, Target, output};
use serde_json::Value;

/// Prints the daemon's peers.
pub fn show(target: &Target, json: bool) -> Result<(), ClientError> {
    super::ensure_daemon(target)?;
    let peers = super::call(target, "listPeers", None)?;
    if json || !output::stdout_is_tty() {
        output::print_line(&output::json_text(&peers, output::stdout_is_tty()));
    } else {
        output::print_line(&to_text(&peers));
    }
    Ok(())
}

/// The table `peers` prints on a terminal.
pub fn to_text(peers: &Value) -> String {
    let list = peers.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        return "No peers (remote comms: initRemoteComms, then redeem another kernel's URL)".into();
    }
    let mut lines = vec![format!(
        "{:<6} {:<54} {:<13} {:>7} {:>11}  {}",
        "REMOTE", "PEER", "STATE", "PENDING", "REDEMPTIONS", "LAST ERROR"
    )];
    for peer in list {
        let text = |key: &str| peer[key].as_str().unwrap_or("-").to_string();
        let number = |key: &str| peer[key].as_u64().unwrap_or(0);
        let last_error = peer["errors"]
            .as_array()
            .and_then(|e| e.last())
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_string();
        lines.push(format!(
            "{:<6} {:<54} {:<13} {:>7} {:>11}  {}",
            text("remote"),
            text("peerId"),
            text("state"),
            number("pending"),
            number("redemptions"),
            last_error
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_line_per_peer_with_its_last_error() {
        let peers = json!([{"remote": "r1", "peerId": "12D3KooWA", "state": "connected",
            "pending": 3, "redemptions": 1, "errors": ["old", "channel closed: idle"]}]);
        let text = to_text(&peers);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("r1     12D3KooWA"), "{text}");
        assert!(
            lines[1].ends_with("3           1  channel closed: idle"),
            "{text}"
        );
        assert!(to_text(&json!([])).starts_with("No peers"));
    }
}
