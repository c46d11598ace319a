//! Tab completion: commands first, then names after `send`/`methods`, then the methods the
//! target reports (`__getMethodNames__`, which exos answer) after `send TARGET`.

use super::line::{COMMANDS, split};
use super::session::Session;
use rustyline::Context;
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use std::cell::RefCell;
use std::rc::Rc;

/// The console's rustyline helper.
pub struct Helper {
    session: Rc<RefCell<Session>>,
}

impl Helper {
    /// A helper completing against `session`.
    pub fn new(session: Rc<RefCell<Session>>) -> Helper {
        Helper { session }
    }

    /// The candidates for the word being typed at the end of `before`, and where it starts.
    pub fn candidates(&self, before: &str) -> (usize, Vec<String>) {
        let Ok(mut words) = split(before) else {
            return (before.len(), Vec::new());
        };
        let typing = if before.ends_with(char::is_whitespace) || words.is_empty() {
            String::new()
        } else {
            words.pop().unwrap_or_default()
        };
        let start = before.len() - typing.len();
        let offered = self.offer(&words);
        let matching = offered
            .into_iter()
            .filter(|c| c.starts_with(&typing))
            .filter(|c| !c.starts_with("__") || typing.starts_with('_'))
            .collect();
        (start, matching)
    }

    /// What may come after `words`.
    fn offer(&self, words: &[String]) -> Vec<String> {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let words = match words.as_slice() {
            ["let", _, "=", rest @ ..] => rest,
            ["let", ..] => return Vec::new(),
            other => other,
        };
        match words {
            [] => COMMANDS.iter().map(|(c, _)| c.to_string()).collect(),
            ["send"] | ["methods"] => self.session.borrow().names().cloned().collect(),
            ["send", target] => self.session.borrow_mut().methods_of(target),
            _ => Vec::new(),
        }
    }
}

impl Completer for Helper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.candidates(&line[..pos]))
    }
}

impl Hinter for Helper {
    type Hint = String;
}

impl Highlighter for Helper {}

impl Validator for Helper {}

impl rustyline::Helper for Helper {}
