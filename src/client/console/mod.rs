//! `ocapctl console`: an interactive session with the daemon (line editing, history, Tab
//! completion): inspect vats and subclusters, send messages, name results with `let` and send
//! to them. Each line is one or two ordinary requests; nothing runs inside the daemon for it.

mod complete;
mod line;
mod session;

use super::{ClientError, Target};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use session::Session;
use std::cell::RefCell;
use std::rc::Rc;

/// Runs the console until `quit` or end of input. History is kept in `history`.
pub fn run(target: Target, history: &std::path::Path) -> Result<(), ClientError> {
    let session = Rc::new(RefCell::new(Session::new(target)));
    let mut editor: rustyline::Editor<complete::Helper, DefaultHistory> =
        rustyline::Editor::new().map_err(failed)?;
    editor.set_helper(Some(complete::Helper::new(Rc::clone(&session))));
    // A first session has no history yet; that is not an error.
    let _ = editor.load_history(history);
    println!("ocap console: help lists the commands, Tab completes, Ctrl-D leaves.");
    loop {
        let text = match editor.readline("ocap> ") {
            Ok(text) => text,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(failed(e)),
        };
        if !text.trim().is_empty() {
            let _ = editor.add_history_entry(text.as_str());
        }
        let outcome = match line::parse(&text) {
            Ok(parsed) => session.borrow_mut().run(parsed),
            Err(usage) => Err(ClientError::Usage(usage)),
        };
        match outcome {
            Ok(Some(shown)) if shown.is_empty() => {}
            Ok(Some(shown)) => println!("{shown}"),
            Ok(None) => break,
            Err(e) => println!("{}", e.report()),
        }
    }
    if let Some(dir) = history.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    editor.save_history(history).map_err(failed)?;
    // Lines may hold URLs (`exec redeemOcapURL …`): the history is private like them.
    use std::os::unix::fs::PermissionsExt;
    let private = std::fs::Permissions::from_mode(0o600);
    std::fs::set_permissions(history, private)
        .map_err(|e| ClientError::Failed(format!("{}: {e}", history.display())))
}

fn failed(e: ReadlineError) -> ClientError {
    ClientError::Failed(format!("console: {e}"))
}
