//! The output-commit rule (DESIGN.md principle 3): nothing that leaves the kernel — an RPC reply
//! today, a frame to a remote peer later — is released before the transaction that produced it
//! has committed. Everything bound for outside goes into the [`Outbox`]; the kernel loop releases
//! it after each commit, or, when a commit fails, answers every held reply with that failure
//! instead (its effects were not kept).

use super::error::KernelError;
use serde_json::Value;

/// Where a call's answer goes: the RPC result, or why there is none.
pub type Reply = Box<dyn FnOnce(Result<Value, KernelError>) + Send>;

/// One thing held until the next commit.
enum Held {
    /// A reply and its answer.
    Reply(Reply, Result<Value, KernelError>),
}

/// What waits for the batch transaction to commit.
#[derive(Default)]
pub struct Outbox {
    held: Vec<Held>,
}

impl Outbox {
    /// Answers `reply` once the current transaction has committed.
    pub fn reply(&mut self, reply: Reply, answer: Result<Value, KernelError>) {
        self.held.push(Held::Reply(reply, answer));
    }

    /// Whether anything waits for the commit (the kernel then commits sooner).
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The transaction committed: lets everything out.
    pub fn release(&mut self) {
        for held in std::mem::take(&mut self.held) {
            match held {
                Held::Reply(reply, answer) => reply(answer),
            }
        }
    }

    /// The transaction did not commit (`why`): nothing it produced may leave, so every held
    /// reply is answered with the failure instead.
    pub fn fail(&mut self, why: &KernelError) {
        for held in std::mem::take(&mut self.held) {
            match held {
                Held::Reply(reply, _) => reply(Err(KernelError::Refused(format!(
                    "the kernel could not commit this request's effects, so they were undone: {why}"
                )))),
            }
        }
    }
}
