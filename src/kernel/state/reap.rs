//! The reap queue (spec §6.2 `reapQueue`): vats due for `bringOutYourDead`, a JSON array of vat
//! ids in the order they became due. Reaping only lets vats report what they dropped, so an
//! unreadable queue is logged and started afresh rather than stopping the kernel — on both
//! reading and writing, the one policy for this key.

use super::{Result, State};

const KEY: &str = "reapQueue";

impl State {
    /// The queue, or an empty one if it cannot be read.
    fn reap_queue(&self) -> Result<Vec<String>> {
        let Some(text) = self.store.get(KEY)? else {
            return Ok(Vec::new());
        };
        Ok(serde_json::from_str(&text).unwrap_or_else(|e| {
            tracing::error!("{KEY} is unreadable ({e}); starting it afresh");
            Vec::new()
        }))
    }

    /// Queues `vat` for `bringOutYourDead`, unless it is queued already.
    pub fn schedule_reap(&self, vat: &str) -> Result<()> {
        let mut queue = self.reap_queue()?;
        if !queue.iter().any(|v| v == vat) {
            queue.push(vat.to_string());
        }
        self.set_json(KEY, &queue)
    }

    /// Takes the next vat due for `bringOutYourDead`.
    pub fn next_reap(&self) -> Result<Option<String>> {
        let mut queue = self.reap_queue()?;
        if queue.is_empty() {
            return Ok(None);
        }
        let vat = queue.remove(0);
        self.set_json(KEY, &queue)?;
        Ok(Some(vat))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::state;

    #[test]
    fn vats_are_reaped_once_each_in_order_and_an_unreadable_queue_starts_afresh() {
        let s = state();
        s.schedule_reap("v2").unwrap();
        s.schedule_reap("v1").unwrap();
        s.schedule_reap("v2").unwrap();
        assert_eq!(s.next_reap().unwrap().as_deref(), Some("v2"));
        assert_eq!(s.next_reap().unwrap().as_deref(), Some("v1"));
        assert_eq!(s.next_reap().unwrap(), None);
        s.store().set("reapQueue", "{").unwrap();
        assert_eq!(s.next_reap().unwrap(), None);
        s.store().set("reapQueue", "{").unwrap();
        s.schedule_reap("v3").unwrap();
        assert_eq!(
            s.store().get("reapQueue").unwrap().as_deref(),
            Some("[\"v3\"]")
        );
    }
}
