//! A console session: the daemon it talks to, the names bound with `let`, and running each
//! [`Line`] to the text it prints.

use super::line::{COMMANDS, Line};
use crate::client::capfile::CapFile;
use crate::client::caps::{invoke, lone_reference};
use crate::client::send::render_result;
use crate::client::{ClientError, Target, output};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

/// What a name or a word can reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A kref, on the control socket.
    Kref(String),
    /// A capability, on the socket its file names.
    Capability(CapFile),
}

/// What `let` bound.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// An object the result referred to.
    Reference(Reference),
    /// A result that was not one reference: kept, prettified, to show.
    Value(Value),
}

/// The session's state.
pub struct Session {
    target: Target,
    names: BTreeMap<String, Binding>,
    methods: HashMap<String, Vec<String>>,
}

/// How long completion waits for a target to list its methods: a promise that never resolves
/// must not freeze the prompt.
const METHODS_TIMEOUT: Duration = Duration::from_secs(2);

impl Session {
    /// A session with the daemon at `target`.
    pub fn new(target: Target) -> Session {
        Session {
            target,
            names: BTreeMap::new(),
            methods: HashMap::new(),
        }
    }

    /// The names bound so far.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.names.keys()
    }

    /// Runs one line; `Ok(None)` means quit.
    pub fn run(&mut self, line: Line) -> Result<Option<String>, ClientError> {
        let text = match line {
            Line::Empty => String::new(),
            Line::Quit => return Ok(None),
            Line::Help => help(),
            Line::Status => {
                let info = self.call("daemonInfo", None)?;
                output::status_summary(&info, &self.call("getStatus", None)?)
            }
            Line::Vats => vats(&self.call("getStatus", None)?),
            Line::Subclusters => subclusters(&self.call("getStatus", None)?),
            Line::Names => self.names_text(),
            Line::Methods(word) => {
                let reference = self.resolve(&word)?;
                self.list_methods(&word, &reference, None)?.join("  ")
            }
            Line::Exec { method, params } => {
                output::json_text(&self.call(&method, params.as_ref())?, true)
            }
            Line::Send {
                bind,
                target,
                method,
                args,
            } => {
                let reference = self.resolve(&target)?;
                let result = self.send(&reference, &method, &args, self.target.timeout)?;
                let (shown, _) = render_result(&result, false, true);
                match bind {
                    Some(name) => {
                        let binding = bind_result(&reference, &result);
                        self.names.insert(name.clone(), binding);
                        format!("{name} = {shown}")
                    }
                    None => shown,
                }
            }
        };
        Ok(Some(text))
    }

    /// The methods `word` reports, cached; empty when it reports none or is not a reference.
    pub fn methods_of(&mut self, word: &str) -> Vec<String> {
        if let Some(known) = self.methods.get(word) {
            return known.clone();
        }
        let Ok(reference) = self.resolve(word) else {
            return Vec::new();
        };
        self.list_methods(word, &reference, Some(METHODS_TIMEOUT))
            .unwrap_or_default()
    }

    fn list_methods(
        &mut self,
        word: &str,
        reference: &Reference,
        timeout: Option<Duration>,
    ) -> Result<Vec<String>, ClientError> {
        let result = self.send(reference, "__getMethodNames__", &[], timeout)?;
        let (shown, _) = render_result(&result, false, false);
        let names: Vec<String> = serde_json::from_str::<Vec<String>>(&shown)
            .map_err(|_| ClientError::Failed(format!("{word} did not list its methods")))?;
        self.methods.insert(word.to_string(), names.clone());
        Ok(names)
    }

    /// A word as a reference: a bound name, a kref, or a `.ocap` file.
    fn resolve(&self, word: &str) -> Result<Reference, ClientError> {
        match self.names.get(word) {
            Some(Binding::Reference(reference)) => return Ok(reference.clone()),
            Some(Binding::Value(_)) => {
                return Err(ClientError::Usage(format!(
                    "{word} names a value, not an object"
                )));
            }
            None => {}
        }
        if word.parse::<crate::client::ids::KRef>().is_ok() {
            return Ok(Reference::Kref(word.to_string()));
        }
        if word.ends_with(".ocap") || Path::new(word).is_file() {
            return Ok(Reference::Capability(CapFile::read(Path::new(word))?));
        }
        Err(ClientError::Usage(format!(
            "{word} is not a name, a kref (koN, kpN) or a .ocap file"
        )))
    }

    fn send(
        &self,
        reference: &Reference,
        method: &str,
        args: &[Value],
        timeout: Option<Duration>,
    ) -> Result<Value, ClientError> {
        match reference {
            Reference::Kref(kref) => {
                let target = Target {
                    timeout,
                    ..self.target.clone()
                };
                let params = json!([kref, method, args]);
                crate::client::call(&target, "queueMessage", Some(&params))
            }
            Reference::Capability(file) => {
                invoke(file, &self.target.paths.socket, method, args, timeout)
            }
        }
    }

    fn call(&self, method: &str, params: Option<&Value>) -> Result<Value, ClientError> {
        crate::client::call(&self.target, method, params)
    }

    fn names_text(&self) -> String {
        let lines: Vec<String> = self
            .names
            .iter()
            .map(|(name, binding)| match binding {
                Binding::Reference(Reference::Kref(kref)) => format!("{name} = {kref}"),
                Binding::Reference(Reference::Capability(_)) => {
                    format!("{name} = (a capability)")
                }
                Binding::Value(value) => format!("{name} = {}", output::json_text(value, false)),
            })
            .collect();
        if lines.is_empty() {
            "no names yet: let NAME = send TARGET METHOD [ARGS…]".into()
        } else {
            lines.join("\n")
        }
    }
}

/// What `let` keeps of a result: the object it refers to when it is one reference (a kref, or
/// a new capability when the message went through a capability), else the shown value.
fn bind_result(reference: &Reference, result: &Value) -> Binding {
    match (lone_reference(result), reference) {
        (Some(slot), Reference::Kref(_)) => Binding::Reference(Reference::Kref(slot.into())),
        (Some(url), Reference::Capability(file)) => {
            Binding::Reference(Reference::Capability(CapFile {
                url: url.into(),
                socket: file.socket.clone(),
            }))
        }
        (None, _) => {
            let (shown, _) = render_result(result, false, false);
            Binding::Value(serde_json::from_str(&shown).unwrap_or(Value::String(shown)))
        }
    }
}

fn help() -> String {
    let mut lines: Vec<String> = COMMANDS
        .iter()
        .map(|(name, what)| format!("  {name:<12} {what}"))
        .collect();
    lines
        .push("  quit         leave (or Ctrl-D); Tab completes commands, names and methods".into());
    lines.join("\n")
}

fn vats(status: &Value) -> String {
    let rows: Vec<String> = status["vats"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|vat| {
            format!(
                "{:<5} {:<5} {}",
                vat["id"].as_str().unwrap_or("?"),
                vat["subclusterId"].as_str().unwrap_or("-"),
                vat["config"]["bundleSpec"].as_str().unwrap_or("")
            )
        })
        .collect();
    if rows.is_empty() {
        "no vats running".into()
    } else {
        rows.join("\n")
    }
}

fn subclusters(status: &Value) -> String {
    let rows: Vec<String> = status["subclusters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let vats: Vec<String> = s["vats"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, id)| format!("{name}={}", id.as_str().unwrap_or("?")))
                .collect();
            format!(
                "{:<5} bootstrap {:<12} {}",
                s["id"].as_str().unwrap_or("?"),
                s["config"]["bootstrap"].as_str().unwrap_or("?"),
                vats.join(" ")
            )
        })
        .collect();
    if rows.is_empty() {
        "no subclusters".into()
    } else {
        rows.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn let_keeps_the_reference_or_the_value() {
        let one = json!({"body": "#\"$0.Alleged: Counter\"", "slots": ["ko5"]});
        let kref = Reference::Kref("ko4".into());
        assert_eq!(
            bind_result(&kref, &one),
            Binding::Reference(Reference::Kref("ko5".into()))
        );
        let file = Reference::Capability(CapFile {
            url: "ocap:zA@p".into(),
            socket: Some("/s".into()),
        });
        let via_url = json!({"body": "#\"$0.Alleged: Counter\"", "slots": ["ocap:zB@p"]});
        assert_eq!(
            bind_result(&file, &via_url),
            Binding::Reference(Reference::Capability(CapFile {
                url: "ocap:zB@p".into(),
                socket: Some("/s".into()),
            }))
        );
        let value = json!({"body": "#[1,2]", "slots": []});
        assert_eq!(bind_result(&kref, &value), Binding::Value(json!([1, 2])));
    }

    #[test]
    fn listings_read_at_a_glance() {
        let status = json!({"vats": [{"id": "v1", "subclusterId": "s1",
            "config": {"bundleSpec": "file:///c.bundle"}}],
            "subclusters": [{"id": "s1", "config": {"bootstrap": "c"}, "vats": {"c": "v1"}}]});
        assert_eq!(vats(&status), "v1    s1    file:///c.bundle");
        assert_eq!(subclusters(&status), "s1    bootstrap c            c=v1");
        assert_eq!(vats(&json!({})), "no vats running");
    }
}
