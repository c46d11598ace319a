//! Why a kernel operation failed: a refusal meant for the caller, a broken store, or a stopped
//! kernel. At the bottom of the kernel's modules, so that every part can name it without
//! importing back up through `mod.rs`.

/// Why a kernel command failed.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The kernel thread has stopped.
    #[error("the kernel has stopped")]
    Stopped,
    /// The store failed.
    #[error("kernel store: {0}")]
    Store(#[from] rusqlite::Error),
    /// The kernel refused a request; the message is for the caller.
    #[error("{0}")]
    Refused(String),
    /// A stored value is not what the kernel wrote.
    #[error("kernel store holds a malformed value at {key}: {detail}")]
    Corrupt {
        /// The `kv` key.
        key: String,
        /// What is wrong with it.
        detail: String,
    },
}

impl KernelError {
    /// Whether this is the kernel refusing a request (the caller's mistake) rather than the
    /// kernel failing (a broken store, a stopped thread), which the daemon also logs.
    pub fn is_refusal(&self) -> bool {
        matches!(self, KernelError::Refused(_))
    }
}
