//! IO channel services (spec §3.4): `kernelService.io:<sN>:<name>`, keyed as the reference keys
//! them, and the reads each owes, `ioReads.<service>` (ours: a JSON array of kpids in the order
//! the reads came). A pending read holds one reference on its result promise, so the promise
//! outlives its asker until the kernel settles it.

use super::{Result, State, corrupt};

/// The prefix of every IO service's `kernelService.*` key.
const SERVICE_PREFIX: &str = "kernelService.io:";

fn reads_key(service: &str) -> String {
    format!("ioReads.{service}")
}

impl State {
    /// The kref of IO service `service` (`io:sN:name`): the one already recorded (a restart
    /// re-creates the channel under its old kref), else a new kernel object, pinned.
    pub fn register_io_service(&self, service: &str) -> Result<String> {
        if let Some(kref) = self.service(service)? {
            return Ok(kref);
        }
        let kref = self.create_object("kernel")?;
        self.pin(&kref)?;
        self.store.set(&format!("kernelService.{service}"), &kref)?;
        Ok(kref)
    }

    /// Forgets IO service `service`: unpinned, its key deleted, and the kernel's owner
    /// reference dropped, so messages to it splat with `OBJECT_DELETED` and the object goes once
    /// nothing refers to it.
    pub fn unregister_io_service(&mut self, service: &str) -> Result<()> {
        let Some(kref) = self.service(service)? else {
            return Ok(());
        };
        self.unpin(&kref)?;
        self.store.delete(&format!("kernelService.{service}"))?;
        if self.owner(&kref)?.as_deref() == Some("kernel") {
            self.orphan(&kref)?;
            self.decref(&kref, true)?;
        }
        Ok(())
    }

    /// The IO services recorded (of subcluster `subcluster` only, if given), as
    /// `(service, kref)` in key order.
    pub fn io_services(&self, subcluster: Option<&str>) -> Result<Vec<(String, String)>> {
        let prefix = match subcluster {
            Some(id) => format!("{SERVICE_PREFIX}{id}:"),
            None => SERVICE_PREFIX.to_string(),
        };
        Ok(self
            .store
            .scan(&prefix)?
            .into_iter()
            .map(|(key, kref)| (key["kernelService.".len()..].to_string(), kref))
            .collect())
    }

    /// The reads `service` owes, oldest first.
    pub fn io_reads(&self, service: &str) -> Result<Vec<String>> {
        self.get_json(&reads_key(service))
    }

    /// Every service's pending reads (`ioReads.*`), in key order.
    pub fn all_io_reads(&self) -> Result<Vec<(String, Vec<String>)>> {
        let mut all = Vec::new();
        for (key, text) in self.store.scan("ioReads.")? {
            let reads = serde_json::from_str(&text).map_err(|e| corrupt(&key, e.to_string()))?;
            all.push((key["ioReads.".len()..].to_string(), reads));
        }
        Ok(all)
    }

    /// Records a read `service` owes, answered through `kpid`, holding a reference on it.
    pub fn add_io_read(&self, service: &str, kpid: &str) -> Result<()> {
        let mut reads = self.io_reads(service)?;
        reads.push(kpid.to_string());
        self.set_json(&reads_key(service), &reads)?;
        self.incref(kpid, true)
    }

    /// Forgets a read (it was answered), releasing its reference; whether it was pending.
    pub fn remove_io_read(&mut self, service: &str, kpid: &str) -> Result<bool> {
        let mut reads = self.io_reads(service)?;
        let Some(at) = reads.iter().position(|r| r == kpid) else {
            return Ok(false);
        };
        reads.remove(at);
        if reads.is_empty() {
            self.store.delete(&reads_key(service))?;
        } else {
            self.set_json(&reads_key(service), &reads)?;
        }
        self.decref(kpid, true)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::state;

    #[test]
    fn an_io_service_is_a_pinned_kernel_object_reused_until_unregistered() {
        let mut s = state();
        let kref = s.register_io_service("io:s1:repl").unwrap();
        assert_eq!(kref, "ko4");
        assert_eq!(s.register_io_service("io:s1:repl").unwrap(), "ko4");
        assert_eq!(
            s.store()
                .get("kernelService.io:s1:repl")
                .unwrap()
                .as_deref(),
            Some("ko4")
        );
        assert_eq!(
            s.store().get("pinnedObjects").unwrap().as_deref(),
            Some("ko1,ko2,ko3,ko4")
        );
        assert_eq!(
            s.io_services(Some("s1")).unwrap(),
            [("io:s1:repl".to_string(), "ko4".to_string())]
        );
        assert!(s.io_services(Some("s10")).unwrap().is_empty());
        assert!(crate::kernel::invariants::check(s.store()).is_empty());

        s.unregister_io_service("io:s1:repl").unwrap();
        assert_eq!(s.service("io:s1:repl").unwrap(), None);
        assert_eq!(
            s.store().get("pinnedObjects").unwrap().as_deref(),
            Some("ko1,ko2,ko3")
        );
        assert_eq!(s.owner("ko4").unwrap(), None);
        assert!(
            s.take_maybe_free().contains("ko4"),
            "nothing holds it any more"
        );
    }

    #[test]
    fn pending_reads_keep_their_order_and_a_reference() {
        let mut s = state();
        let a = s.create_promise(Some("kernel")).unwrap();
        let b = s.create_promise(Some("kernel")).unwrap();
        s.add_io_read("io:s1:repl", &a).unwrap();
        s.add_io_read("io:s1:repl", &b).unwrap();
        assert_eq!(s.io_reads("io:s1:repl").unwrap(), [a.clone(), b.clone()]);
        assert_eq!(s.promise_refcount(&a).unwrap(), 1);
        assert_eq!(
            s.all_io_reads().unwrap(),
            [("io:s1:repl".to_string(), vec![a.clone(), b.clone()])]
        );
        assert!(s.remove_io_read("io:s1:repl", &a).unwrap());
        assert!(!s.remove_io_read("io:s1:repl", &a).unwrap());
        assert_eq!(s.promise_refcount(&a).unwrap(), 0);
        assert!(s.remove_io_read("io:s1:repl", &b).unwrap());
        assert_eq!(s.store().get("ioReads.io:s1:repl").unwrap(), None);
    }
}
