//! C-lists (spec §4.2): per endpoint, `<endpoint>.c.<eref>` = kref and
//! `<endpoint>.c.<kref>` = `"<flag> <eref>"`, flag `R` (reachable) or `_` (recognizable only).
//! Every entry holds one reference on its kref.

use super::{Result, State, corrupt};

/// Whether an endpoint considers a c-list entry reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `R`: reachable.
    Reachable,
    /// `_`: recognizable only (the endpoint dropped it).
    Recognizable,
}

impl State {
    /// Maps `eref` ↔ `kref` for `endpoint` and counts the reference.
    pub fn clist_add(&self, endpoint: &str, eref: &str, kref: &str) -> Result<()> {
        self.store.set(&format!("{endpoint}.c.{eref}"), kref)?;
        self.store
            .set(&format!("{endpoint}.c.{kref}"), &format!("R {eref}"))?;
        self.incref(kref, true)
    }

    /// The kref `endpoint` knows as `eref`.
    pub fn clist_kref(&self, endpoint: &str, eref: &str) -> Result<Option<String>> {
        Ok(self.store.get(&format!("{endpoint}.c.{eref}"))?)
    }

    /// How `endpoint` knows `kref`: its flag and eref.
    pub fn clist_eref(&self, endpoint: &str, kref: &str) -> Result<Option<(Flag, String)>> {
        let key = format!("{endpoint}.c.{kref}");
        let Some(text) = self.store.get(&key)? else {
            return Ok(None);
        };
        match text.split_once(' ') {
            Some(("R", eref)) => Ok(Some((Flag::Reachable, eref.to_string()))),
            Some(("_", eref)) => Ok(Some((Flag::Recognizable, eref.to_string()))),
            _ => Err(corrupt(&key, format!("{text:?} is not \"<R|_> <eref>\""))),
        }
    }

    /// Marks an entry recognizable-only (`dropImports`), releasing its reachable reference.
    pub fn clist_drop(&mut self, endpoint: &str, kref: &str) -> Result<bool> {
        let Some((Flag::Reachable, eref)) = self.clist_eref(endpoint, kref)? else {
            return Ok(false);
        };
        self.store
            .set(&format!("{endpoint}.c.{kref}"), &format!("_ {eref}"))?;
        let mut count = self.refcount(kref)?;
        count.reachable = count
            .reachable
            .checked_sub(1)
            .ok_or_else(|| corrupt(&format!("{kref}.refCount"), "underflow".into()))?;
        self.set_refcount(kref, count)?;
        if count.reachable <= 1 {
            self.maybe_free.insert(kref.to_string());
        }
        Ok(true)
    }

    /// Marks a recognizable-only entry reachable again (the kernel hands the endpoint the ref
    /// once more), taking back the reachable reference `clist_drop` released.
    pub fn clist_reachable_again(&mut self, endpoint: &str, kref: &str) -> Result<()> {
        let Some((Flag::Recognizable, eref)) = self.clist_eref(endpoint, kref)? else {
            return Ok(());
        };
        self.store
            .set(&format!("{endpoint}.c.{kref}"), &format!("R {eref}"))?;
        let mut count = self.refcount(kref)?;
        count.reachable += 1;
        self.set_refcount(kref, count)
    }

    /// Deletes an entry and releases its reference.
    pub fn clist_remove(&mut self, endpoint: &str, kref: &str) -> Result<()> {
        let Some((flag, eref)) = self.clist_eref(endpoint, kref)? else {
            return Ok(());
        };
        self.store.delete(&format!("{endpoint}.c.{kref}"))?;
        self.store.delete(&format!("{endpoint}.c.{eref}"))?;
        self.decref(kref, flag == Flag::Reachable)
    }

    /// Every kref in `endpoint`'s c-list.
    pub fn clist_krefs(&self, endpoint: &str) -> Result<Vec<String>> {
        let prefix = format!("{endpoint}.c.k");
        Ok(self
            .store
            .scan(&prefix)?
            .into_iter()
            .map(|(key, _)| key[prefix.len() - 1..].to_string())
            .collect())
    }

    /// The endpoints (other than `except`) whose c-lists hold `kref`.
    pub fn importers(&self, kref: &str, vats: &[String]) -> Result<Vec<String>> {
        let mut found = Vec::new();
        for vat in vats {
            if self.store.get(&format!("{vat}.c.{kref}"))?.is_some() {
                found.push(vat.clone());
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::state;
    use super::*;
    use crate::kernel::state::RefCount;

    #[test]
    fn entries_are_bidirectional_and_counted_spec_4_2() {
        let mut s = state();
        let ko = s.create_object("v1").unwrap();
        s.clist_add("v1", "o+0", &ko).unwrap();
        s.clist_add("v2", "o-1", &ko).unwrap();
        assert_eq!(
            s.store().get("v1.c.o+0").unwrap().as_deref(),
            Some(ko.as_str())
        );
        assert_eq!(
            s.store().get(&format!("v2.c.{ko}")).unwrap().as_deref(),
            Some("R o-1")
        );
        assert_eq!(
            s.refcount(&ko).unwrap(),
            RefCount {
                reachable: 2,
                recognizable: 2
            }
        );
        assert!(s.clist_drop("v2", &ko).unwrap());
        assert_eq!(
            s.clist_eref("v2", &ko).unwrap(),
            Some((Flag::Recognizable, "o-1".into()))
        );
        assert_eq!(
            s.refcount(&ko).unwrap(),
            RefCount {
                reachable: 1,
                recognizable: 2
            }
        );
        s.clist_remove("v2", &ko).unwrap();
        assert_eq!(
            s.refcount(&ko).unwrap(),
            RefCount {
                reachable: 1,
                recognizable: 1
            }
        );
        assert_eq!(s.clist_krefs("v1").unwrap(), vec![ko.clone()]);
        assert_eq!(s.store().get("v2.c.o-1").unwrap(), None);
    }
}
