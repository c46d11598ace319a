//! Persistent FIFO queues: the run queue `queue.run.*` and each promise's `queue.kpN.*`.
//!
//! The reference's naming is inverted (spec §4.5, kept for database compatibility): `head` is
//! the next index to write, `tail` the next index to read; both start at 1.

use super::{Result, State, corrupt};
use crate::vat::Message;
use serde::{Deserialize, Serialize};

/// A run-queue item (spec §4.5), stored as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum RunItem {
    /// Deliver a message to an object or promise.
    Send {
        /// The target kref.
        target: String,
        /// The message, in kernel space.
        message: Message,
    },
    /// Tell an endpoint that a promise it subscribed to is settled.
    Notify {
        /// The subscriber.
        #[serde(rename = "endpointId")]
        endpoint: String,
        /// The settled promise.
        kpid: String,
    },
}

impl State {
    /// Appends an item to queue `name` (`run` or a kpid).
    pub fn enqueue(&self, name: &str, item: &RunItem) -> Result<()> {
        let head_key = format!("queue.{name}.head");
        let head = self.get_number(&head_key)?.max(1);
        if self.store.get(&format!("queue.{name}.tail"))?.is_none() {
            self.store.set(&format!("queue.{name}.tail"), "1")?;
        }
        self.set_json(&format!("queue.{name}.{head}"), item)?;
        Ok(self.store.set(&head_key, &(head + 1).to_string())?)
    }

    /// Takes the oldest item of queue `name`.
    pub fn dequeue(&self, name: &str) -> Result<Option<RunItem>> {
        let tail_key = format!("queue.{name}.tail");
        let tail = self.get_number(&tail_key)?.max(1);
        let head = self.get_number(&format!("queue.{name}.head"))?.max(1);
        if tail >= head {
            return Ok(None);
        }
        let key = format!("queue.{name}.{tail}");
        let text = self
            .store
            .get(&key)?
            .ok_or_else(|| corrupt(&key, "missing queue entry".into()))?;
        let item = serde_json::from_str(&text).map_err(|e| corrupt(&key, e.to_string()))?;
        self.store.delete(&key)?;
        self.store.set(&tail_key, &(tail + 1).to_string())?;
        Ok(Some(item))
    }

    /// Moves queue `name`'s head entry, unparsed, to `queue.<name>.unprocessable.<index>`.
    pub fn set_aside_head(&self, name: &str) -> Result<()> {
        let tail_key = format!("queue.{name}.tail");
        let tail = self.get_number(&tail_key)?.max(1);
        if tail >= self.get_number(&format!("queue.{name}.head"))?.max(1) {
            return Ok(());
        }
        let key = format!("queue.{name}.{tail}");
        if let Some(raw) = self.store.get(&key)? {
            self.store
                .set(&format!("queue.{name}.unprocessable.{tail}"), &raw)?;
            self.store.delete(&key)?;
        }
        Ok(self.store.set(&tail_key, &(tail + 1).to_string())?)
    }

    /// How many items queue `name` holds.
    pub fn queue_length(&self, name: &str) -> Result<u64> {
        let tail = self.get_number(&format!("queue.{name}.tail"))?.max(1);
        let head = self.get_number(&format!("queue.{name}.head"))?.max(1);
        Ok(head.saturating_sub(tail))
    }

    /// Empties queue `name`, returning its items in order and deleting its keys.
    pub fn drain_queue(&self, name: &str) -> Result<Vec<RunItem>> {
        let mut items = Vec::new();
        while let Some(item) = self.dequeue(name)? {
            items.push(item);
        }
        self.store.delete(&format!("queue.{name}.head"))?;
        self.store.delete(&format!("queue.{name}.tail"))?;
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::state;
    use super::*;

    fn notify(n: u32) -> RunItem {
        RunItem::Notify {
            endpoint: "v1".into(),
            kpid: format!("kp{n}"),
        }
    }

    #[test]
    fn fifo_with_the_reference_head_tail_convention_spec_4_5() {
        let s = state();
        s.enqueue("run", &notify(1)).unwrap();
        s.enqueue("run", &notify(2)).unwrap();
        assert_eq!(
            s.store().get("queue.run.head").unwrap().as_deref(),
            Some("3")
        );
        assert_eq!(
            s.store().get("queue.run.tail").unwrap().as_deref(),
            Some("1")
        );
        assert_eq!(
            s.store().get("queue.run.1").unwrap().as_deref(),
            Some(r#"{"type":"notify","endpointId":"v1","kpid":"kp1"}"#)
        );
        assert_eq!(s.queue_length("run").unwrap(), 2);
        assert_eq!(s.dequeue("run").unwrap(), Some(notify(1)));
        assert_eq!(s.dequeue("run").unwrap(), Some(notify(2)));
        assert_eq!(s.dequeue("run").unwrap(), None);
        assert_eq!(s.store().get("queue.run.1").unwrap(), None);
    }

    #[test]
    fn promise_queues_drain_and_leave_no_keys() {
        let s = state();
        s.enqueue("kp7", &notify(1)).unwrap();
        assert_eq!(s.drain_queue("kp7").unwrap(), vec![notify(1)]);
        assert!(s.store().scan("queue.kp7.").unwrap().is_empty());
    }
}
