//! Capabilities on the client side: `ocapctl caps list|revoke|issue`, `send FILE.ocap …`, and
//! results that are object references written as `.ocap` files (see [`super::capfile`]).
//!
//! When `send`'s result is one object reference and standard output is not a terminal (or
//! `--out FILE` is given), the reference is issued as a capability and the `.ocap` file is the
//! output; everything else prints as before, so pipelines that read results keep working.

use super::capfile::CapFile;
use super::commands::KernelCommand;
use super::send::{is_capdata, render_result};
use super::{ClientError, Connection, Target};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// What `send` is aimed at: a kref (on the daemon's control socket) or a capability file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendTarget {
    /// `koN`/`kpN`.
    Kref(super::ids::KRef),
    /// A `.ocap` file.
    File(PathBuf),
}

impl FromStr for SendTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<SendTarget, String> {
        match super::ids::KRef::from_str(text) {
            Ok(kref) => Ok(SendTarget::Kref(kref)),
            Err(_) if text.ends_with(".ocap") || Path::new(text).is_file() => {
                Ok(SendTarget::File(PathBuf::from(text)))
            }
            Err(e) => Err(format!("{e}, or a .ocap capability file")),
        }
    }
}

/// Where a capability that `send` or `caps issue` makes goes.
#[derive(Debug, Clone, Default)]
pub struct Keep {
    /// `--out FILE`, else standard output.
    pub out: Option<PathBuf>,
    /// `--label`.
    pub label: Option<String>,
    /// `--expires`, in seconds.
    pub expires: Option<u64>,
}

/// `1h`, `30m`, `45s`, `2d` or plain seconds, as seconds (at least 1).
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?}: expected a duration like 45s, 30m, 1h or 2d"
            ));
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration like 45s, 30m, 1h or 2d"))?;
    match n.checked_mul(scale) {
        Some(secs) if secs > 0 => Ok(secs),
        _ => Err(format!("{text:?}: a duration must be at least 1 s")),
    }
}

/// The slot of a result that is exactly one object reference (`#"$0.Alleged: X"`).
pub fn lone_reference(result: &Value) -> Option<&str> {
    if !is_capdata(result) {
        return None;
    }
    let body = result["body"].as_str()?;
    let slots = result["slots"].as_array()?;
    let text: String = serde_json::from_str(body.strip_prefix('#')?).ok()?;
    let index = text.strip_prefix("$0")?;
    let whole = index.is_empty() || index.starts_with('.');
    (whole && slots.len() == 1).then(|| slots[0].as_str())?
}

/// Issues a capability for `kref` on the daemon at `target`; the file names the socket the
/// daemon says serves capabilities, else the control socket.
pub fn issue(target: &Target, kref: &str, keep: &Keep) -> Result<CapFile, ClientError> {
    let mut params = json!({"kref": kref});
    if let Some(label) = &keep.label {
        params["label"] = json!(label);
    }
    if let Some(secs) = keep.expires {
        params["expiresIn"] = json!(secs);
    }
    let issued = super::call(target, "issueCapability", Some(&params))?;
    let url = issued["url"]
        .as_str()
        .ok_or_else(|| ClientError::Protocol("issueCapability answered without a url".into()))?;
    let socket = match issued["socket"].as_str() {
        Some(socket) => PathBuf::from(socket),
        None => std::path::absolute(&target.paths.socket)
            .unwrap_or_else(|_| target.paths.socket.clone()),
    };
    Ok(CapFile {
        url: url.to_string(),
        socket: Some(socket),
    })
}

/// Invokes the capability in `file` (on its socket, else `default_socket`).
pub fn invoke(
    file: &CapFile,
    default_socket: &Path,
    method: &str,
    args: &[Value],
    timeout: Option<Duration>,
) -> Result<Value, ClientError> {
    let socket = file.socket.as_deref().unwrap_or(default_socket);
    let params = json!({"url": file.url, "method": method, "args": args});
    Connection::open(socket)?.call("invokeCapability", Some(&params), timeout)
}

/// Writes `file` to `--out` or standard output.
pub fn keep(file: &CapFile, out: Option<&Path>) -> Result<(), ClientError> {
    match out {
        Some(path) => {
            file.write_new(path)?;
            eprintln!("Capability written to {}", path.display());
            Ok(())
        }
        None => file.write_stdout(),
    }
}

/// `send KREF …`: prints like the other kernel commands, except that a lone reference off a
/// terminal (or with `--out`) is issued as a capability and written as a `.ocap` file.
pub fn send_kref(
    target: &Target,
    command: &KernelCommand,
    keep: &Keep,
    tty: bool,
) -> Result<(), ClientError> {
    let KernelCommand::Send { raw, .. } = command else {
        return Err(ClientError::Failed("send_kref takes a send command".into()));
    };
    let result = super::call(target, command.method(), Some(&command.params()))?;
    match lone_reference(&result) {
        Some(kref) if !raw && (keep.out.is_some() || !tty) => {
            let file = issue(target, kref, keep)?;
            self::keep(&file, keep.out.as_deref())
        }
        _ => {
            print_result(&result, *raw, tty);
            Ok(())
        }
    }
}

/// `send FILE.ocap …`: invokes the capability on the socket the file names. A lone reference
/// in the result (already a new URL, made by the daemon) is kept like [`send_kref`] keeps one.
pub fn send_file(
    target: &Target,
    path: &Path,
    message: (&str, &[Value]),
    raw: bool,
    out: Option<&Path>,
    tty: bool,
) -> Result<(), ClientError> {
    let file = CapFile::read(path)?;
    let (method, args) = message;
    let result = invoke(&file, &target.paths.socket, method, args, target.timeout)?;
    match lone_reference(&result) {
        Some(url) if !raw && (out.is_some() || !tty) => {
            let next = CapFile {
                url: url.to_string(),
                socket: file.socket.clone(),
            };
            keep(&next, out)
        }
        _ => {
            print_result(&result, raw, tty);
            Ok(())
        }
    }
}

/// `exec --out FILE`: issues the object `result` refers to — a lone reference, or
/// `launchSubcluster`'s `rootKref` — and writes it to FILE.
pub fn keep_reference(
    target: &Target,
    result: &Value,
    label: &str,
    out: &Path,
) -> Result<(), ClientError> {
    let kref = lone_reference(result).or(result["rootKref"].as_str());
    let Some(kref) = kref else {
        return Err(ClientError::Failed(format!(
            "the result refers to no single object, so nothing was written to {}",
            out.display()
        )));
    };
    let keep = Keep {
        out: Some(out.to_path_buf()),
        label: Some(label.to_string()),
        expires: None,
    };
    let file = issue(target, kref, &keep)?;
    self::keep(&file, Some(out))
}

/// Prints a `send` result that is not kept as a file, as `send` always has.
pub fn print_result(result: &Value, raw: bool, tty: bool) {
    let (text, note) = render_result(result, raw, tty);
    if let Some(note) = note {
        eprintln!("Note: {note}");
    }
    super::output::print_line(&text);
}

/// `caps list` on a terminal: one line per capability.
pub fn list_text(records: &Value, now_ms: u64) -> String {
    let mut lines = vec![format!(
        "{:<20}  {:<8}  {:<10}  {:<10}  {:<12}  LABEL",
        "ID", "KREF", "CREATED", "LAST USE", "STATE"
    )];
    for cap in records.as_array().into_iter().flatten() {
        let when = |key: &str| cap[key].as_u64().map_or("-".into(), |t| ago(now_ms, t));
        let state = match (cap["revoked"].as_u64(), cap["expires"].as_u64()) {
            (Some(_), _) => "revoked".to_string(),
            (None, Some(t)) if t <= now_ms => "expired".to_string(),
            (None, Some(t)) => format!("{} left", span((t - now_ms) / 1000)),
            (None, None) => "active".to_string(),
        };
        lines.push(format!(
            "{:<20}  {:<8}  {:<10}  {:<10}  {:<12}  {}",
            cap["id"].as_str().unwrap_or("?"),
            cap["kref"].as_str().unwrap_or("?"),
            when("created"),
            when("lastUsed"),
            state,
            cap["label"].as_str().unwrap_or("")
        ));
    }
    lines.join("\n")
}

fn ago(now_ms: u64, then_ms: u64) -> String {
    format!("{} ago", span(now_ms.saturating_sub(then_ms) / 1000))
}

/// A short human span: `42s`, `5m`, `3h`, `2d`.
fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("45"), Ok(45));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        for bad in ["", "h", "1x", "0s", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_a_lone_reference_becomes_a_file() {
        let one = json!({"body": "#\"$0.Alleged: Counter\"", "slots": ["ko5"]});
        assert_eq!(lone_reference(&one), Some("ko5"));
        let bare = json!({"body": "#\"$0\"", "slots": ["ko5"]});
        assert_eq!(lone_reference(&bare), Some("ko5"));
        for other in [
            json!({"body": "#[\"$0.Alleged: C\"]", "slots": ["ko5"]}),
            json!({"body": "#\"$1.Alleged: C\"", "slots": ["ko5", "ko6"]}),
            json!({"body": "#\"&0\"", "slots": ["kp5"]}),
            json!({"body": "#\"$0x\"", "slots": ["ko5"]}),
            json!({"body": "#1", "slots": []}),
            json!("text"),
        ] {
            assert_eq!(lone_reference(&other), None, "{other}");
        }
    }

    #[test]
    fn send_targets() {
        assert!(matches!("ko4".parse(), Ok(SendTarget::Kref(_))));
        assert!(matches!("x.ocap".parse(), Ok(SendTarget::File(_))));
        let err = "ko".parse::<SendTarget>().unwrap_err();
        assert!(err.contains("expected a kernel reference") && err.contains(".ocap"));
    }

    #[test]
    fn the_list_reads_at_a_glance() {
        let records = json!([
            {"id": "cap-1", "kref": "ko4", "label": "bob", "created": 0, "lastUsed": null,
             "expires": 7_200_000, "revoked": null},
            {"id": "cap-2", "kref": "ko5", "label": null, "created": 0, "lastUsed": 60_000,
             "expires": null, "revoked": 1},
        ]);
        let text = list_text(&records, 3_600_000);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].contains("1h ago") && lines[1].contains("1h left"),
            "{text}"
        );
        assert!(lines[1].ends_with("bob"), "{text}");
        assert!(
            lines[2].contains("59m ago") && lines[2].contains("revoked"),
            "{text}"
        );
    }
}
