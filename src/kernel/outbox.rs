//! The output-commit rule (DESIGN.md principle 3): nothing that leaves the kernel — an RPC reply,
//! a line written to an IO channel's client, a frame to a remote peer later — is released before
//! the transaction that produced it has committed. Everything bound for outside goes into the [`Outbox`]; the kernel loop releases
//! it after each commit, or, when a commit fails, answers every held reply with that failure
//! instead (its effects were not kept).

use super::error::KernelError;
use serde_json::Value;
use tokio::sync::oneshot;

/// A call's answer: the RPC result, or why there is none.
pub type Answer = Result<Value, KernelError>;

/// Where a call's answer goes.
pub enum Reply {
    /// An RPC caller, who may hang up before the answer comes.
    Caller(oneshot::Sender<Answer>),
    /// Code that always takes its answer (the kernel's tests).
    Code(Box<dyn FnOnce(Answer) + Send>),
}

impl Reply {
    /// A reply to `code`.
    pub fn code(code: impl FnOnce(Answer) + Send + 'static) -> Reply {
        Reply::Code(Box::new(code))
    }

    /// Whether nobody will read the answer any more: the caller hung up.
    pub fn is_gone(&self) -> bool {
        match self {
            Reply::Caller(sender) => sender.is_closed(),
            Reply::Code(_) => false,
        }
    }

    fn send(self, answer: Answer) {
        match self {
            Reply::Caller(sender) => {
                let _ = sender.send(answer);
            }
            Reply::Code(code) => code(answer),
        }
    }
}

/// Something else that leaves the kernel (an IO channel's write): run once committed, dropped
/// unrun if the commit fails.
pub type Output = Box<dyn FnOnce() + Send>;

/// One thing held until the next commit.
enum Held {
    /// A reply and its answer.
    Reply(Reply, Answer),
    /// Any other output.
    Output(Output),
}

/// What waits for the batch transaction to commit.
#[derive(Default)]
pub struct Outbox {
    held: Vec<Held>,
}

impl Outbox {
    /// Answers `reply` once the current transaction has committed.
    pub fn reply(&mut self, reply: Reply, answer: Answer) {
        self.held.push(Held::Reply(reply, answer));
    }

    /// Lets `output` out once the current transaction has committed.
    pub fn send(&mut self, output: Output) {
        self.held.push(Held::Output(output));
    }

    /// Whether anything waits for the commit (the kernel then commits sooner).
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The transaction committed: lets everything out.
    pub fn release(&mut self) {
        for held in std::mem::take(&mut self.held) {
            match held {
                Held::Reply(reply, answer) => reply.send(answer),
                Held::Output(output) => output(),
            }
        }
    }

    /// The transaction did not commit (`why`): nothing it produced may leave, so every held
    /// reply is answered with the failure instead, and other output is dropped.
    pub fn fail(&mut self, why: &KernelError) {
        for held in std::mem::take(&mut self.held) {
            match held {
                Held::Reply(reply, _) => reply.send(Err(KernelError::Refused(format!(
                    "the kernel could not commit this request's effects, so they were undone: {why}"
                )))),
                Held::Output(_) => {}
            }
        }
    }
}
