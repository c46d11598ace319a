//! A consistency check of the raw `kv` table: every invariant the kernel keeps, recomputed
//! from scratch (for the tests, `ocapctl fsck` and `checkIntegrity`).
//!
//! It reads the store only, never the kernel's in-memory state, so it can judge a database on
//! its own; references held from outside the store, if any, can be passed to [`check_with`] as
//! `extra`. Reference counts are recomputed by the rules of `state/refcount.rs`:
//!
//! * an object is referred to by its owner (the exporter's c-list entry, or `+1,+1` for a
//!   `kernel`-owned object), by every importer's c-list entry (reachable iff flagged `R`), by
//!   every queued item naming it (run queue and promise queues: a `send`'s target, result and
//!   slots, a `notify`'s promise), by every settled promise whose value names it, and by each
//!   occurrence in `pinnedObjects`;
//! * a promise likewise by c-list entries, queued items and values, plus the kernel's waiters
//!   (RPC callers awaiting it), which `kernelWaiters` records, and the IO channel reads it
//!   answers, which `ioReads.<service>` records.
//!
//! The result is one line per violation, empty when the store is consistent.

use super::ids::{
    is_endpoint_export, is_kref, is_promise, is_remote_id, is_rref, is_subcluster_id, is_vat_id,
    is_vref,
};
use super::state::RunItem;
use super::store::Store;
use crate::capdata::CapData;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Checks the whole store, assuming nothing outside it holds references.
pub fn check(store: &Store) -> Vec<String> {
    check_with(store, &BTreeMap::new())
}

/// Checks the whole store; `extra` counts references held outside it (kref → how many).
pub fn check_with(store: &Store, extra: &BTreeMap<String, u64>) -> Vec<String> {
    let read = || -> rusqlite::Result<(BTreeMap<String, String>, Vec<String>)> {
        let mut stmt = store.conn().prepare("SELECT key, value FROM kv")?;
        let kv = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut stmt = store
            .conn()
            .prepare("SELECT DISTINCT vatID FROM kv_vatstore ORDER BY vatID")?;
        let vatstores = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok((kv, vatstores))
    };
    match read() {
        Ok((kv, vatstores)) => check_kv(kv, &vatstores, extra),
        Err(e) => vec![format!("cannot read the store: {e}")],
    }
}

/// The fields of one `koN.*` row set.
#[derive(Default, Clone)]
struct ObjectRow {
    owner: Option<String>,
    ref_count: Option<String>,
    revoked: Option<String>,
}

/// The fields of one `kpN.*` row set.
#[derive(Default, Clone)]
struct PromiseRow {
    state: Option<String>,
    decider: Option<String>,
    subscribers: Option<String>,
    value: Option<String>,
    ref_count: Option<String>,
}

/// One persistent queue (`queue.<name>.*`).
#[derive(Default)]
struct QueueRows {
    head: Option<String>,
    tail: Option<String>,
    items: BTreeMap<u64, String>,
}

/// The counts a kref should have, and who holds them (for the report).
#[derive(Default)]
struct Expected {
    reachable: u64,
    recognizable: u64,
    holders: Vec<String>,
}

struct Checker<'a> {
    kv: BTreeMap<String, String>,
    problems: Vec<String>,
    objects: BTreeMap<String, ObjectRow>,
    promises: BTreeMap<String, PromiseRow>,
    queues: BTreeMap<String, QueueRows>,
    /// Endpoint → (kref → (flag, eref)) from `<ep>.c.<kref>` keys.
    forward: BTreeMap<String, BTreeMap<String, (String, String)>>,
    /// Endpoint → (eref → kref) from `<ep>.c.<eref>` keys.
    reverse: BTreeMap<String, BTreeMap<String, String>>,
    /// Endpoint → its keys that are not c-list entries.
    endpoint_keys: BTreeMap<String, Vec<String>>,
    live_vats: BTreeSet<String>,
    /// `vats.terminated`: vats whose keys may remain until cleanup.
    awaiting_cleanup: BTreeSet<String>,
    expected: BTreeMap<String, Expected>,
    /// Krefs referred to that do not exist → who refers to them.
    missing: BTreeMap<String, Vec<String>>,
    extra: &'a BTreeMap<String, u64>,
}

fn check_kv(
    kv: BTreeMap<String, String>,
    vatstores: &[String],
    extra: &BTreeMap<String, u64>,
) -> Vec<String> {
    let mut c = Checker {
        kv,
        problems: Vec::new(),
        objects: BTreeMap::new(),
        promises: BTreeMap::new(),
        queues: BTreeMap::new(),
        forward: BTreeMap::new(),
        reverse: BTreeMap::new(),
        endpoint_keys: BTreeMap::new(),
        live_vats: BTreeSet::new(),
        awaiting_cleanup: BTreeSet::new(),
        expected: BTreeMap::new(),
        missing: BTreeMap::new(),
        extra,
    };
    c.sort_keys();
    c.check_vats(vatstores);
    c.check_clists();
    c.count_owners_and_pins();
    c.check_queues();
    c.check_promises();
    c.check_objects();
    c.count_extra();
    c.check_counts();
    c.check_counters();
    c.check_misc();
    c.check_remotes();
    c.problems
}

/// `koN.field` / `kpN.field` → (kref, field).
fn kref_key(key: &str) -> Option<(&str, &str)> {
    let (kref, field) = key.split_once('.')?;
    is_kref(kref).then_some((kref, field))
}

/// An endpoint id: `vN` or `rN`.
fn is_endpoint(s: &str) -> bool {
    is_vat_id(s) || is_remote_id(s)
}

fn number(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// The numeric part of `koN`, `vN`, `sN`, `o-N`…
fn suffix_number(s: &str, prefix: &str) -> Option<u64> {
    s.strip_prefix(prefix).and_then(number)
}

impl Checker<'_> {
    fn problem(&mut self, text: String) {
        self.problems.push(text);
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        let text = self.kv.get(key)?.clone();
        match serde_json::from_str(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(format!("{key} is not valid: {e} ({text:?})"));
                None
            }
        }
    }

    /// Files every key under the table it belongs to.
    fn sort_keys(&mut self) {
        let keys: Vec<(String, String)> = self
            .kv
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, value) in keys {
            if let Some((kref, field)) = kref_key(&key) {
                let slot = if is_promise(kref) {
                    let row = self.promises.entry(kref.to_string()).or_default();
                    match field {
                        "state" => Some(&mut row.state),
                        "decider" => Some(&mut row.decider),
                        "subscribers" => Some(&mut row.subscribers),
                        "value" => Some(&mut row.value),
                        "refCount" => Some(&mut row.ref_count),
                        _ => None,
                    }
                } else {
                    let row = self.objects.entry(kref.to_string()).or_default();
                    match field {
                        "owner" => Some(&mut row.owner),
                        "refCount" => Some(&mut row.ref_count),
                        "revoked" => Some(&mut row.revoked),
                        _ => None,
                    }
                };
                match slot {
                    Some(slot) => *slot = Some(value),
                    None => self.problem(format!("unknown kernel table key {key}")),
                }
            } else if let Some(rest) = key.strip_prefix("queue.") {
                let Some((name, part)) = rest.rsplit_once('.') else {
                    self.problem(format!("malformed queue key {key}"));
                    continue;
                };
                let queue = self.queues.entry(name.to_string()).or_default();
                match part {
                    "head" => queue.head = Some(value),
                    "tail" => queue.tail = Some(value),
                    index => match number(index) {
                        Some(i) => {
                            queue.items.insert(i, value);
                        }
                        None => self.problem(format!("malformed queue key {key}")),
                    },
                }
            } else if let Some((ep, rest)) = key.split_once('.').filter(|(ep, _)| is_endpoint(ep)) {
                match rest.strip_prefix("c.") {
                    Some(r) if is_kref(r) => {
                        let parsed = match value.split_once(' ') {
                            Some((flag, eref)) if flag == "R" || flag == "_" => {
                                (flag.to_string(), eref.to_string())
                            }
                            _ => {
                                self.problem(format!("{key} is {value:?}, not \"<R|_> <eref>\""));
                                continue;
                            }
                        };
                        self.forward
                            .entry(ep.to_string())
                            .or_default()
                            .insert(r.to_string(), parsed);
                    }
                    Some(r) => {
                        self.reverse
                            .entry(ep.to_string())
                            .or_default()
                            .insert(r.to_string(), value);
                    }
                    None => self
                        .endpoint_keys
                        .entry(ep.to_string())
                        .or_default()
                        .push(key),
                }
            } else if let Some(ep) = key
                .strip_prefix("e.nextObjectId.")
                .or_else(|| key.strip_prefix("e.nextPromiseId."))
            {
                if !is_endpoint(ep) || number(&value).is_none() {
                    self.problem(format!("{key} is malformed ({value:?})"));
                }
                self.endpoint_keys
                    .entry(ep.to_string())
                    .or_default()
                    .push(key);
            } else if let Some(vat) = key.strip_prefix("vatConfig.") {
                if !is_vat_id(vat) {
                    self.problem(format!("{key}: {vat:?} is not a vat id"));
                }
                if !matches!(serde_json::from_str(&value), Ok(Value::Object(_))) {
                    self.problem(format!("{key} is not a JSON object"));
                }
                self.live_vats.insert(vat.to_string());
            }
        }
    }

    fn live_endpoint(&self, ep: &str) -> bool {
        self.live_vats.contains(ep) || self.kv.contains_key(&format!("remote.{ep}"))
    }

    /// Vats and subclusters agree; nothing of a terminated vat is left.
    fn check_vats(&mut self, vatstores: &[String]) {
        if let Some(list) = self.json::<Vec<String>>("vats.terminated") {
            for vat in list {
                if self.live_vats.contains(&vat) {
                    self.problem(format!("{vat} is live but listed in vats.terminated"));
                }
                self.awaiting_cleanup.insert(vat);
            }
        }
        let map: BTreeMap<String, String> = self.json("vatToSubclusterMap").unwrap_or_default();
        let subclusters: Vec<Value> = self.json("subclusters").unwrap_or_default();
        let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for record in &subclusters {
            let Some(id) = record["id"].as_str() else {
                self.problem(format!("subcluster record without an id: {record}"));
                continue;
            };
            if !is_subcluster_id(id) {
                self.problem(format!("subcluster id {id:?} is malformed"));
            }
            let Some(vats) = record["vats"].as_object() else {
                self.problem(format!("subcluster {id} has no vats object"));
                continue;
            };
            if members.contains_key(id) {
                self.problem(format!("subcluster {id} is recorded twice"));
            }
            if vats.is_empty() {
                self.problem(format!("subcluster {id} is empty but was not pruned"));
            }
            let set = members.entry(id.to_string()).or_default();
            for (name, vat) in vats {
                match vat.as_str() {
                    Some(vat) => {
                        set.insert(vat.to_string());
                    }
                    None => self
                        .problems
                        .push(format!("subcluster {id} vat {name:?} is not a vat id")),
                }
            }
        }
        for vat in self.live_vats.clone() {
            match map.get(&vat) {
                None => self.problem(format!("live vat {vat} is not in vatToSubclusterMap")),
                Some(s) => match members.get(s) {
                    None => self.problem(format!(
                        "live vat {vat} belongs to subcluster {s}, which does not exist"
                    )),
                    Some(set) if !set.contains(&vat) => {
                        self.problem(format!("live vat {vat} is missing from {s}'s vats"))
                    }
                    Some(_) => {}
                },
            }
        }
        for (vat, s) in &map {
            if !self.live_vats.contains(vat) {
                self.problems.push(format!(
                    "vatToSubclusterMap lists {vat} (in {s}), which is not a live vat"
                ));
            }
        }
        for (s, set) in &members {
            for vat in set {
                if !self.live_vats.contains(vat) {
                    self.problems.push(format!(
                        "subcluster {s} lists {vat}, which is not a live vat"
                    ));
                } else if map.get(vat) != Some(s) {
                    self.problems.push(format!(
                        "subcluster {s} lists {vat}, but vatToSubclusterMap says {:?}",
                        map.get(vat)
                    ));
                }
            }
        }
        let endpoints: BTreeSet<String> = self
            .forward
            .keys()
            .chain(self.reverse.keys())
            .chain(self.endpoint_keys.keys())
            .cloned()
            .collect();
        for ep in endpoints {
            if self.live_endpoint(&ep) || self.awaiting_cleanup.contains(&ep) {
                continue;
            }
            let count = self.forward.get(&ep).map_or(0, BTreeMap::len)
                + self.reverse.get(&ep).map_or(0, BTreeMap::len)
                + self.endpoint_keys.get(&ep).map_or(0, Vec::len);
            self.problem(format!(
                "{ep} is not a live endpoint but {count} of its keys remain"
            ));
        }
        for vat in vatstores {
            if !self.live_vats.contains(vat) && !self.awaiting_cleanup.contains(vat) {
                self.problem(format!("{vat} is not a live vat but has kv_vatstore rows"));
            }
        }
    }

    /// Both directions of every c-list entry agree, and each entry counts.
    fn check_clists(&mut self) {
        let forward = std::mem::take(&mut self.forward);
        for (ep, entries) in &forward {
            for (kref, (flag, eref)) in entries {
                let key = format!("{ep}.c.{kref}");
                let back = self.reverse.get(ep).and_then(|r| r.get(eref));
                if back != Some(kref) {
                    self.problem(format!(
                        "{key} is {flag} {eref} but {ep}.c.{eref} is {back:?}"
                    ));
                }
                let promise = is_promise(kref);
                let kind_ok = if is_vat_id(ep) {
                    is_vref(eref) && eref.starts_with(if promise { 'p' } else { 'o' })
                } else {
                    is_rref(eref) && eref.starts_with(if promise { "rp" } else { "ro" })
                };
                if !kind_ok {
                    self.problem(format!("{key}: {eref} is not a ref of the kind of {kref}"));
                }
                if promise && flag != "R" {
                    self.problem(format!("{key}: a promise entry flagged {flag}"));
                }
                self.check_import_counter(ep, eref);
                self.refer(kref, flag == "R", &format!("{ep} c-list ({flag} {eref})"));
            }
        }
        for (ep, entries) in &self.reverse.clone() {
            for (eref, kref) in entries {
                let there = forward.get(ep).and_then(|f| f.get(kref));
                if there.map(|(_, e)| e) != Some(eref) {
                    self.problem(format!(
                        "{ep}.c.{eref} is {kref} but {ep}.c.{kref} is {:?}",
                        there.map(|(f, e)| format!("{f} {e}"))
                    ));
                }
            }
        }
        self.forward = forward;
    }

    /// An import ref `o-N`/`p-N` (a remote's `ro-N`/`rp-N`) was allocated by the endpoint's
    /// counter.
    fn check_import_counter(&mut self, ep: &str, eref: &str) {
        let bare = eref.strip_prefix('r').unwrap_or(eref);
        let (counter, n) = if let Some(n) = suffix_number(bare, "o-") {
            ("e.nextObjectId", n)
        } else if let Some(n) = suffix_number(bare, "p-") {
            ("e.nextPromiseId", n)
        } else {
            return;
        };
        let key = format!("{counter}.{ep}");
        match self.kv.get(&key).and_then(|v| number(v)) {
            Some(next) if n < next => {}
            next => self.problem(format!(
                "{ep} imports {eref}, but {key} is {next:?} (not yet allocated)"
            )),
        }
    }

    /// Counts one reference to `kref`, held by `holder`.
    fn refer(&mut self, kref: &str, reachable: bool, holder: &str) {
        if !is_kref(kref) {
            self.problem(format!("{holder} refers to {kref:?}, which is not a kref"));
            return;
        }
        let exists = if is_promise(kref) {
            self.promises
                .get(kref)
                .is_some_and(|p| p.ref_count.is_some())
        } else {
            self.objects
                .get(kref)
                .is_some_and(|o| o.ref_count.is_some())
        };
        if !exists {
            self.missing
                .entry(kref.to_string())
                .or_default()
                .push(holder.to_string());
        }
        let e = self.expected.entry(kref.to_string()).or_default();
        e.recognizable += 1;
        if reachable || is_promise(kref) {
            e.reachable += 1;
        }
        e.holders.push(holder.to_string());
    }

    fn count_owners_and_pins(&mut self) {
        let kernel_owned: Vec<String> = self
            .objects
            .iter()
            .filter(|(_, o)| o.owner.as_deref() == Some("kernel"))
            .map(|(k, _)| k.clone())
            .collect();
        for kref in kernel_owned {
            self.refer(&kref, true, "its owner, the kernel");
        }
        if let Some(pinned) = self.kv.get("pinnedObjects").cloned() {
            let list: Vec<&str> = pinned.split(',').filter(|s| !s.is_empty()).collect();
            if !list.is_sorted() {
                self.problem(format!("pinnedObjects is not sorted: {pinned}"));
            }
            for kref in list {
                self.refer(kref, true, "pinnedObjects");
            }
        }
    }

    fn count_extra(&mut self) {
        let waiters: BTreeMap<String, u64> = self.json("kernelWaiters").unwrap_or_default();
        for (kpid, n) in waiters {
            if !is_promise(&kpid) || n == 0 {
                self.problem(format!("kernelWaiters holds {kpid}: {n}"));
            }
            for _ in 0..n {
                self.refer(&kpid, true, "kernelWaiters");
            }
        }
        let reads: Vec<String> = self
            .kv
            .range("ioReads.".to_string()..)
            .take_while(|(k, _)| k.starts_with("ioReads."))
            .map(|(k, _)| k.clone())
            .collect();
        for key in reads {
            let service = &key["ioReads.".len()..];
            if !self.kv.contains_key(&format!("kernelService.{service}")) {
                self.problem(format!(
                    "{key} holds reads of a service that does not exist"
                ));
            }
            for kpid in self.json::<Vec<String>>(&key).unwrap_or_default() {
                let row = self.promises.get(&kpid);
                let waiting = row.is_some_and(|p| {
                    p.state.as_deref() == Some("unresolved")
                        && p.decider.as_deref() == Some("kernel")
                });
                if !waiting {
                    self.problem(format!(
                        "{key} holds {kpid}, which is not unresolved and decided by the kernel"
                    ));
                }
                self.refer(&kpid, true, &key);
            }
        }
        for (kref, n) in self.extra {
            for _ in 0..*n {
                self.refer(kref, true, "extra");
            }
        }
        for (key, kpid, text) in self.with_prefix("remoteRedemption.") {
            if !is_promise(&kpid) || !is_kref(&kpid) {
                self.problem(format!("{key}: {kpid:?} is not a promise"));
                continue;
            }
            self.refer(&kpid, true, &key);
            let row = self.promises.get(&kpid).cloned().unwrap_or_default();
            if row.state.as_deref() != Some("unresolved")
                || row.decider.as_deref() != Some("kernel")
            {
                self.problem(format!(
                    "{key} awaits an answer for {kpid}, which is not an unresolved promise the kernel decides"
                ));
            }
            let remote = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|r| r["remote"].as_str().map(String::from));
            if !remote.is_some_and(|r| self.kv.contains_key(&format!("remote.{r}"))) {
                self.problem(format!("{key} names no known remote: {text}"));
            }
        }
    }

    /// Queues are well formed, and their items count.
    fn check_queues(&mut self) {
        if !self.queues.contains_key("run") {
            self.problem("the run queue has no head/tail".into());
        }
        for (name, queue) in std::mem::take(&mut self.queues) {
            let owner_ok = name == "run"
                || (is_promise(&name)
                    && self.promises.get(&name).and_then(|p| p.state.as_deref())
                        == Some("unresolved"));
            if !owner_ok {
                self.problem(format!(
                    "queue.{name} exists but {name} is not the run queue or an unresolved promise"
                ));
            }
            let head = queue.head.as_deref().and_then(number);
            let tail = queue.tail.as_deref().and_then(number);
            let (Some(head), Some(tail)) = (head, tail) else {
                self.problem(format!(
                    "queue.{name}.head/tail are {:?}/{:?}",
                    queue.head, queue.tail
                ));
                continue;
            };
            if head < tail {
                self.problem(format!("queue.{name}.head {head} < tail {tail}"));
            }
            for i in tail..head {
                if !queue.items.contains_key(&i) {
                    self.problem(format!(
                        "queue.{name}.{i} is missing (tail {tail}, head {head})"
                    ));
                }
            }
            for (i, text) in &queue.items {
                let holder = format!("queue.{name}.{i}");
                if *i < tail || *i >= head {
                    self.problem(format!("{holder} is outside tail {tail}..head {head}"));
                }
                match serde_json::from_str::<RunItem>(text) {
                    Ok(RunItem::Send { target, message }) => {
                        self.refer(&target, true, &format!("{holder} (target)"));
                        if let Some(result) = &message.result {
                            if !is_promise(result) {
                                self.problem(format!("{holder}: result {result} is not a promise"));
                            }
                            // A message's result is settled by whoever the message reaches.
                            let result_state =
                                self.promises.get(result).and_then(|p| p.state.clone());
                            if result_state.as_deref().is_some_and(|s| s != "unresolved") {
                                self.problem(format!(
                                    "{holder}: result {result} is already settled"
                                ));
                            }
                            let decider = self.promises.get(result).and_then(|p| p.decider.clone());
                            if let Some(decider) = decider {
                                self.problem(format!(
                                    "{holder}: result {result} is in transit but decided by {decider}"
                                ));
                            }
                            self.refer(result, true, &format!("{holder} (result)"));
                        }
                        for slot in &message.methargs.slots {
                            self.refer(slot, true, &format!("{holder} (slot)"));
                        }
                    }
                    Ok(RunItem::Notify { endpoint, kpid }) => {
                        if !is_endpoint(&endpoint) {
                            self.problem(format!("{holder}: notify to {endpoint:?}"));
                        }
                        self.refer(&kpid, true, &format!("{holder} (notify)"));
                    }
                    Err(e) => self.problem(format!("{holder} is not a run-queue item: {e}")),
                }
            }
        }
    }

    /// States, deciders, subscribers and values.
    fn check_promises(&mut self) {
        for (kpid, p) in &self.promises.clone() {
            self.check_promise(kpid, p);
        }
    }

    fn check_promise(&mut self, kpid: &str, p: &PromiseRow) {
        if p.ref_count.is_none() {
            self.problem(format!("{kpid} has keys but no refCount"));
        }
        match p.state.as_deref() {
            Some("unresolved") => {
                if p.value.is_some() {
                    self.problem(format!("{kpid} is unresolved but has a value"));
                }
                match p
                    .subscribers
                    .as_deref()
                    .map(serde_json::from_str::<Vec<String>>)
                {
                    None => self.problem(format!("{kpid} is unresolved but has no subscribers")),
                    Some(Err(e)) => self.problem(format!("{kpid}.subscribers is not valid: {e}")),
                    Some(Ok(subscribers)) => {
                        let mut sorted = subscribers.clone();
                        sorted.sort();
                        sorted.dedup();
                        if sorted != subscribers {
                            self.problem(format!(
                                "{kpid}.subscribers {subscribers:?} is not sorted and unique"
                            ));
                        }
                        // A terminated subscriber may stay listed: its notify is skipped. A
                        // live one must know the promise, or it could not be told.
                        for s in subscribers {
                            if !is_endpoint(&s) {
                                self.problem(format!("{kpid} subscriber {s:?} is not an endpoint"));
                            } else if self.live_endpoint(&s) && !self.in_clist(&s, kpid) {
                                self.problem(format!(
                                    "{kpid} subscriber {s} has no c-list entry for it"
                                ));
                            }
                        }
                    }
                }
                match p.decider.as_deref() {
                    None | Some("kernel") => {}
                    Some(d) if self.live_endpoint(d) => {
                        if !self.in_clist(d, kpid) {
                            self.problem(format!("{kpid} decider {d} has no c-list entry for it"));
                        }
                    }
                    Some(d) if self.awaiting_cleanup.contains(d) => {}
                    Some(d) => self.problem(format!(
                        "{kpid} is unresolved and its decider {d} is gone: it can never settle"
                    )),
                }
            }
            Some("fulfilled") | Some("rejected") => {
                if p.decider.is_some() {
                    self.problem(format!("{kpid} is settled but still has a decider"));
                }
                if p.subscribers.is_some() {
                    self.problem(format!("{kpid} is settled but still has subscribers"));
                }
                match p.value.as_deref().map(serde_json::from_str::<CapData>) {
                    None => self.problem(format!("{kpid} is settled but has no value")),
                    Some(Err(e)) => self.problem(format!("{kpid}.value is not CapData: {e}")),
                    Some(Ok(value)) => {
                        for slot in &value.slots {
                            self.refer(slot, true, &format!("{kpid}.value"));
                        }
                    }
                }
            }
            other => self.problem(format!("{kpid}.state is {other:?}")),
        }
    }

    fn in_clist(&self, ep: &str, kref: &str) -> bool {
        self.forward.get(ep).is_some_and(|f| f.contains_key(kref))
    }

    /// Owners, revocation marks, exporters' entries.
    fn check_objects(&mut self) {
        for (kref, o) in &self.objects.clone() {
            if o.ref_count.is_none() {
                self.problem(format!("{kref} has keys but no refCount"));
            }
            if let Some(r) = o.revoked.as_deref().filter(|r| *r != "true") {
                self.problem(format!("{kref}.revoked is {r:?}"));
            }
            match o.owner.as_deref() {
                None | Some("kernel") => {}
                Some(owner) if self.live_endpoint(owner) => {
                    let exported = self
                        .forward
                        .get(owner)
                        .and_then(|f| f.get(kref.as_str()))
                        .is_some_and(|(_, eref)| is_endpoint_export(eref));
                    if !exported {
                        self.problem(format!(
                            "{kref} is owned by {owner}, whose c-list does not export it"
                        ));
                    }
                }
                Some(owner) if self.awaiting_cleanup.contains(owner) => {}
                Some(owner) => self.problem(format!(
                    "{kref}'s owner {owner} is neither the kernel nor a live endpoint"
                )),
            }
        }
        // Exported entries belong to the object's owner.
        for (ep, entries) in &self.forward {
            for (kref, (_, eref)) in entries {
                if is_promise(kref) {
                    continue;
                }
                let owner = self.objects.get(kref).and_then(|o| o.owner.as_deref());
                if is_endpoint_export(eref) && owner != Some(ep.as_str()) {
                    self.problems.push(format!(
                        "{ep} exports {kref} as {eref}, but its owner is {owner:?}"
                    ));
                }
                if !is_endpoint_export(eref) && owner == Some(ep.as_str()) {
                    self.problems
                        .push(format!("{ep} imports {kref} as {eref}, but owns it"));
                }
            }
        }
    }

    /// Stored counts equal the recomputed ones; nothing refers to what does not exist;
    /// nothing unreferenced is left uncollected.
    fn check_counts(&mut self) {
        for (kref, holders) in std::mem::take(&mut self.missing) {
            self.problem(format!(
                "{kref} does not exist but is referred to by {}",
                holders.join(", ")
            ));
        }
        let expected = std::mem::take(&mut self.expected);
        let holders = |kref: &str| {
            expected
                .get(kref)
                .map_or("nothing".to_string(), |e| e.holders.join(", "))
        };
        let mut problems = Vec::new();
        for (kpid, p) in &self.promises {
            let Some(text) = &p.ref_count else { continue };
            let Some(count) = number(text) else {
                problems.push(format!("{kpid}.refCount {text:?} is not a count"));
                continue;
            };
            let want = expected.get(kpid).map_or(0, |e| e.reachable);
            if count != want {
                problems.push(format!(
                    "{kpid}.refCount is {count} but its referrers add up to {want} ({})",
                    holders(kpid)
                ));
            } else if count == 0 {
                problems.push(format!("{kpid} has no references but was not collected"));
            }
        }
        for (kref, o) in &self.objects {
            let Some(text) = &o.ref_count else { continue };
            let parsed = text
                .split_once(',')
                .and_then(|(a, b)| Some((number(a)?, number(b)?)));
            let Some((reachable, recognizable)) = parsed else {
                problems.push(format!(
                    "{kref}.refCount {text:?} is not \"reachable,recognizable\""
                ));
                continue;
            };
            if reachable > recognizable {
                problems.push(format!(
                    "{kref}.refCount {text}: reachable exceeds recognizable"
                ));
            }
            let want = expected
                .get(kref)
                .map_or((0, 0), |e| (e.reachable, e.recognizable));
            if (reachable, recognizable) != want {
                problems.push(format!(
                    "{kref}.refCount is {reachable},{recognizable} but its referrers add up to {},{} ({})",
                    want.0,
                    want.1,
                    holders(kref)
                ));
            } else if recognizable == 0 && o.owner.is_none() {
                problems.push(format!(
                    "{kref} has no owner and no references but was not collected"
                ));
            } else if let Some(owner) = o.owner.as_deref().filter(|o| is_remote_id(o)) {
                // Nothing here holds a remote's object but its owner's own entry: the peer
                // should have been told (dropExports, retireExports) and the entry retired.
                let flag = self
                    .forward
                    .get(owner)
                    .and_then(|f| f.get(kref.as_str()))
                    .map(|(flag, _)| flag.as_str());
                if recognizable == 1 && flag.is_some() {
                    problems.push(format!(
                        "{kref} is owned by remote {owner} and nothing else refers to it, \
                         but it was not retired"
                    ));
                } else if reachable == 1 && flag == Some("R") {
                    problems.push(format!(
                        "{kref} is owned by remote {owner} and nothing else reaches it, \
                         but it was not dropped"
                    ));
                }
            }
        }
        self.problems.extend(problems);
    }

    /// Id counters are ahead of every id in use.
    fn check_counters(&mut self) {
        let max = |ids: &mut dyn Iterator<Item = Option<u64>>| ids.flatten().max();
        let objects = max(&mut self.objects.keys().map(|k| suffix_number(k, "ko")));
        let promises = max(&mut self.promises.keys().map(|k| suffix_number(k, "kp")));
        let vats = max(&mut self
            .live_vats
            .iter()
            .chain(self.forward.keys())
            .map(|k| suffix_number(k, "v")));
        let subclusters: Vec<Value> = self
            .kv
            .get("subclusters")
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let subclusters = max(&mut subclusters
            .iter()
            .map(|s| s["id"].as_str().and_then(|id| suffix_number(id, "s"))));
        let remotes = max(&mut self
            .kv
            .range("remote.".to_string()..)
            .take_while(|(k, _)| k.starts_with("remote."))
            .map(|(k, _)| suffix_number(&k["remote.".len()..], "r"))
            .chain(self.forward.keys().map(|k| suffix_number(k, "r"))));
        for (counter, highest) in [
            ("nextObjectId", objects),
            ("nextPromiseId", promises),
            ("nextVatId", vats),
            ("nextRemoteId", remotes),
            ("nextSubclusterId", subclusters),
        ] {
            let next = self.kv.get(counter).and_then(|v| number(v));
            match (next, highest) {
                (None, _) => self.problem(format!("{counter} is missing or not a number")),
                (Some(next), Some(highest)) if next <= highest => self.problem(format!(
                    "{counter} is {next} but id {highest} is already in use"
                )),
                _ => {}
            }
        }
    }

    /// Kernel services, GC actions, the reap queue.
    fn check_misc(&mut self) {
        let services: Vec<(String, String)> = self
            .kv
            .range("kernelService.".to_string()..)
            .take_while(|(k, _)| k.starts_with("kernelService."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, kref) in services {
            match self.objects.get(&kref) {
                Some(o) if o.owner.as_deref() == Some("kernel") => {}
                Some(_) => self.problem(format!("{key} is {kref}, which the kernel does not own")),
                None => self.problem(format!("{key} is {kref}, which does not exist")),
            }
        }
        if let Some(actions) = self.json::<Vec<String>>("gcActions") {
            for action in actions {
                let parts: Vec<&str> = action.split(' ').collect();
                let ok = matches!(parts.as_slice(),
                    [ep, kind, kref] if is_endpoint(ep)
                        && ["dropExport", "retireExport", "retireImport"].contains(kind)
                        && is_kref(kref) && !is_promise(kref));
                if !ok {
                    self.problem(format!("gcActions holds malformed action {action:?}"));
                }
            }
        }
        if let Some(queue) = self.json::<Vec<String>>("reapQueue") {
            for vat in queue {
                if !is_endpoint(&vat) {
                    self.problem(format!("reapQueue holds {vat:?}, not an endpoint"));
                }
            }
        }
    }
}

impl Checker<'_> {
    /// The keys of `prefix`, with the rest of each key.
    fn with_prefix(&self, prefix: &str) -> Vec<(String, String, String)> {
        self.kv
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), k[prefix.len()..].to_string(), v.clone()))
            .collect()
    }

    /// Remote records, incarnations, delivery state and the relay pool (remote-comms.md §9).
    fn check_remotes(&mut self) {
        let mut peers: BTreeMap<String, String> = BTreeMap::new();
        for (key, remote, text) in self.with_prefix("remote.") {
            if !is_remote_id(&remote) {
                self.problem(format!("{key}: {remote:?} is not a remote id"));
            }
            let record: Option<Value> = self.json(&key);
            let peer = record.as_ref().and_then(|r| r["peerId"].as_str());
            let hints_ok = record.as_ref().is_some_and(|r| {
                r["hints"]
                    .as_array()
                    .is_some_and(|h| h.iter().all(Value::is_string))
            });
            let Some(peer) = peer.filter(|_| hints_ok) else {
                self.problem(format!("{key} is not {{peerId, hints}}: {text}"));
                continue;
            };
            if let Some(other) = peers.insert(peer.to_string(), remote.clone()) {
                self.problem(format!("peer {peer} is both {other} and {remote}"));
            }
        }
        let remotes: BTreeSet<String> = peers.values().cloned().collect();
        for (key, peer, _) in self.with_prefix("peerIncarnation.") {
            if !peers.contains_key(&peer) {
                self.problem(format!("{key} is kept for a peer no remote stands for"));
            }
        }
        let mut seqs: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (key, rest, value) in self.with_prefix("remoteSeq.") {
            let Some((remote, field)) = rest.split_once('.') else {
                self.problem(format!("malformed key {key}"));
                continue;
            };
            if !remotes.contains(remote) {
                self.problem(format!("{key} is kept for {remote}, which is not a remote"));
            }
            if !["nextSendSeq", "startSeq", "highestReceivedSeq"].contains(&field) {
                self.problem(format!("unknown key {key}"));
            }
            match number(&value) {
                Some(n) => {
                    seqs.entry(remote.to_string())
                        .or_default()
                        .insert(field.to_string(), n);
                }
                None => self.problem(format!("{key} is {value:?}, not a number")),
            }
        }
        for (key, rest, frame) in self.with_prefix("remotePending.") {
            let parsed = rest
                .split_once('.')
                .and_then(|(remote, seq)| Some((remote.to_string(), number(seq)?)));
            let Some((remote, seq)) = parsed else {
                self.problem(format!("malformed key {key}"));
                continue;
            };
            if !remotes.contains(&remote) {
                self.problem(format!("{key} is kept for {remote}, which is not a remote"));
            }
            let fields = seqs.get(&remote);
            let start = fields.and_then(|f| f.get("startSeq")).copied();
            let last = fields.and_then(|f| f.get("nextSendSeq")).copied();
            match (start, last) {
                (Some(start), Some(last)) if (start..=last).contains(&seq) => {}
                _ => self.problem(format!(
                    "{key} is outside startSeq {start:?}..=nextSendSeq {last:?}"
                )),
            }
            let stated = serde_json::from_str::<Value>(&frame)
                .ok()
                .and_then(|v| v["seq"].as_u64());
            if stated != Some(seq) {
                self.problem(format!("{key} holds a frame numbered {stated:?}"));
            }
        }
        if let Some(relays) = self.json::<Vec<Value>>("knownRelays") {
            for relay in relays {
                let ok = relay["addr"].is_string()
                    && relay["lastSeen"].is_u64()
                    && relay["isBootstrap"].is_boolean();
                if !ok {
                    self.problem(format!(
                        "knownRelays holds {relay}, not {{addr, lastSeen, isBootstrap}}"
                    ));
                }
            }
        }
        if self.kv.contains_key("remoteCommsOptions")
            && !matches!(self.json("remoteCommsOptions"), Some(Value::Object(_)))
        {
            self.problem("remoteCommsOptions is not a JSON object".into());
        }
        if let Some(text) = self.kv.get("lastActiveTime").cloned()
            && number(&text).is_none()
        {
            self.problem(format!("lastActiveTime is {text:?}, not a number"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::state::testing::state;

    /// A small consistent store: vat v1 in s1 exports ko4 (its root) to v2, which holds it;
    /// v2 decides kp1, which v1 imports and subscribes to; a send to ko4 is queued.
    fn consistent() -> Store {
        let s = state().into_store();
        for (k, v) in [
            ("vatConfig.v1", r#"{"bundleSpec":"a"}"#),
            ("vatConfig.v2", r#"{"bundleSpec":"b"}"#),
            ("nextVatId", "3"),
            ("nextSubclusterId", "2"),
            ("nextObjectId", "5"),
            ("nextPromiseId", "3"),
            ("vatToSubclusterMap", r#"{"v1":"s1","v2":"s1"}"#),
            (
                "subclusters",
                r#"[{"id":"s1","config":{},"vats":{"a":"v1","b":"v2"}}]"#,
            ),
            ("e.nextObjectId.v1", "1"),
            ("e.nextPromiseId.v1", "2"),
            ("e.nextObjectId.v2", "2"),
            ("e.nextPromiseId.v2", "1"),
            ("ko4.owner", "v1"),
            ("ko4.refCount", "3,3"),
            ("v1.c.o+0", "ko4"),
            ("v1.c.ko4", "R o+0"),
            ("v2.c.o-1", "ko4"),
            ("v2.c.ko4", "R o-1"),
            ("kp1.state", "unresolved"),
            ("kp1.decider", "v2"),
            ("kp1.subscribers", r#"["v1"]"#),
            ("kp1.refCount", "2"),
            ("v2.c.p+5", "kp1"),
            ("v2.c.kp1", "R p+5"),
            ("v1.c.p-1", "kp1"),
            ("v1.c.kp1", "R p-1"),
            ("kp2.state", "fulfilled"),
            ("kp2.value", r##"{"body":"#\"$0\"","slots":["ko4"]}"##),
            ("kp2.refCount", "1"),
            ("queue.run.head", "2"),
            ("queue.run.tail", "1"),
            (
                "queue.run.1",
                r##"{"type":"notify","endpointId":"v1","kpid":"kp2"}"##,
            ),
        ] {
            s.set(k, v).unwrap();
        }
        s
    }

    fn problems_after(edit: impl FnOnce(&Store)) -> Vec<String> {
        let s = consistent();
        edit(&s);
        check(&s)
    }

    #[track_caller]
    fn fires(edit: impl FnOnce(&Store), expect: &str) {
        let problems = problems_after(edit);
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "expected a problem containing {expect:?}, got {problems:#?}"
        );
    }

    #[test]
    fn a_consistent_store_passes() {
        assert_eq!(check(&consistent()), Vec::<String>::new());
        assert_eq!(check(&state().into_store()), Vec::<String>::new());
    }

    #[test]
    fn wrong_object_counts_are_found() {
        fires(
            |s| s.set("ko4.refCount", "2,3").unwrap(),
            "ko4.refCount is 2,3 but its referrers add up to 3,3",
        );
        // A dropped import still recognizes: 2,3.
        fires(
            |s| s.set("v2.c.ko4", "_ o-1").unwrap(),
            "ko4.refCount is 3,3 but its referrers add up to 2,3",
        );
        fires(
            |s| s.set("pinnedObjects", "ko1,ko2").unwrap(),
            "ko3.refCount is 2,2 but its referrers add up to 1,1",
        );
        fires(
            |s| {
                s.set("queue.run.head", "3").unwrap();
                s.set(
                    "queue.run.2",
                    r##"{"type":"send","target":"ko4","message":{"methargs":{"body":"#[]","slots":["ko4"]}}}"##,
                )
                .unwrap();
            },
            "ko4.refCount is 3,3 but its referrers add up to 5,5",
        );
        fires(
            |s| s.set("ko4.refCount", "4,3").unwrap(),
            "reachable exceeds recognizable",
        );
        fires(
            |s| s.set("ko4.refCount", "-1,3").unwrap(),
            "is not \"reachable,recognizable\"",
        );
    }

    #[test]
    fn io_reads_count_and_must_wait_on_the_kernel() {
        let io_read = |s: &Store| {
            s.set("nextObjectId", "6").unwrap();
            s.set("ko5.owner", "kernel").unwrap();
            s.set("ko5.refCount", "2,2").unwrap();
            s.set("pinnedObjects", "ko1,ko2,ko3,ko5").unwrap();
            s.set("kernelService.io:s1:repl", "ko5").unwrap();
            s.set("nextPromiseId", "4").unwrap();
            s.set("kp3.state", "unresolved").unwrap();
            s.set("kp3.decider", "kernel").unwrap();
            s.set("kp3.subscribers", r#"["v1"]"#).unwrap();
            s.set("kp3.refCount", "2").unwrap();
            s.set("v1.c.p-2", "kp3").unwrap();
            s.set("v1.c.kp3", "R p-2").unwrap();
            s.set("e.nextPromiseId.v1", "3").unwrap();
            s.set("ioReads.io:s1:repl", r#"["kp3"]"#).unwrap();
        };
        assert_eq!(problems_after(io_read), Vec::<String>::new());
        fires(
            |s| {
                io_read(s);
                s.set("kp3.refCount", "1").unwrap();
            },
            "kp3.refCount is 1 but its referrers add up to 2 (v1 c-list (R p-2), ioReads.io:s1:repl)",
        );
        fires(
            |s| {
                io_read(s);
                s.set("kp3.decider", "v1").unwrap();
            },
            "ioReads.io:s1:repl holds kp3, which is not unresolved and decided by the kernel",
        );
        fires(
            |s| {
                io_read(s);
                s.delete("kernelService.io:s1:repl").unwrap();
            },
            "ioReads.io:s1:repl holds reads of a service that does not exist",
        );
    }

    #[test]
    fn wrong_promise_counts_are_found() {
        fires(
            |s| s.set("kp1.refCount", "1").unwrap(),
            "kp1.refCount is 1 but its referrers add up to 2",
        );
        fires(
            |s| s.set("kp2.refCount", "x").unwrap(),
            "kp2.refCount \"x\" is not a count",
        );
        // Waiters' references are recorded; others can be passed in.
        let s = consistent();
        s.set("kp2.refCount", "3").unwrap();
        s.set("kernelWaiters", r#"{"kp2":1}"#).unwrap();
        assert!(!check(&s).is_empty());
        let extra = BTreeMap::from([("kp2".to_string(), 1)]);
        assert_eq!(check_with(&s, &extra), Vec::<String>::new());
        fires(
            |s| s.set("kernelWaiters", r#"{"kp1":1}"#).unwrap(),
            "kp1.refCount is 2 but its referrers add up to 3",
        );
        fires(
            |s| s.set("kernelWaiters", r#"{"kp9":1}"#).unwrap(),
            "kp9 does not exist but is referred to by kernelWaiters",
        );
    }

    #[test]
    fn uncollected_garbage_is_found() {
        fires(
            |s| {
                s.set("ko5.refCount", "0,0").unwrap();
                s.set("nextObjectId", "6").unwrap();
            },
            "ko5 has no owner and no references but was not collected",
        );
        fires(
            |s| {
                s.set("queue.run.head", "1").unwrap();
                s.delete("queue.run.1").unwrap();
                s.set("kp2.refCount", "0").unwrap();
            },
            "kp2 has no references but was not collected",
        );
    }

    #[test]
    fn c_list_inconsistencies_are_found() {
        fires(
            |s| s.set("v2.c.o-1", "ko3").unwrap(),
            "v2.c.ko4 is R o-1 but v2.c.o-1 is Some(\"ko3\")",
        );
        fires(
            |s| s.delete("v2.c.o-1").unwrap(),
            "v2.c.ko4 is R o-1 but v2.c.o-1 is None",
        );
        fires(
            |s| s.delete("v2.c.ko4").unwrap(),
            "v2.c.o-1 is ko4 but v2.c.ko4 is None",
        );
        fires(
            |s| s.set("v2.c.ko4", "X o-1").unwrap(),
            "v2.c.ko4 is \"X o-1\", not \"<R|_> <eref>\"",
        );
        fires(
            |s| {
                s.set("v2.c.ko4", "R p-1").unwrap();
                s.delete("v2.c.o-1").unwrap();
                s.set("v2.c.p-1", "ko4").unwrap();
            },
            "p-1 is not a ref of the kind of ko4",
        );
        fires(
            |s| s.set("v1.c.kp1", "_ p-1").unwrap(),
            "a promise entry flagged _",
        );
        fires(
            |s| s.set("e.nextObjectId.v2", "1").unwrap(),
            "v2 imports o-1, but e.nextObjectId.v2 is Some(1)",
        );
        fires(
            |s| {
                s.set("v2.c.ko4", "R o+3").unwrap();
                s.delete("v2.c.o-1").unwrap();
                s.set("v2.c.o+3", "ko4").unwrap();
            },
            "v2 exports ko4 as o+3, but its owner is Some(\"v1\")",
        );
        fires(
            |s| s.set("ko4.owner", "v2").unwrap(),
            "v2 imports ko4 as o-1, but owns it",
        );
    }

    #[test]
    fn dangling_refs_and_owners_are_found() {
        fires(
            |s| {
                s.set("v2.c.o-2", "ko9").unwrap();
                s.set("v2.c.ko9", "R o-2").unwrap();
                s.set("e.nextObjectId.v2", "3").unwrap();
            },
            "ko9 does not exist but is referred to by v2 c-list (R o-2)",
        );
        fires(
            |s| {
                s.set("kp2.value", r##"{"body":"#\"$0\"","slots":["kp7"]}"##)
                    .unwrap()
            },
            "kp7 does not exist but is referred to by kp2.value",
        );
        fires(
            |s| s.set("ko4.owner", "v7").unwrap(),
            "ko4's owner v7 is neither the kernel nor a live endpoint",
        );
        fires(
            |s| {
                s.delete("v1.c.o+0").unwrap();
                s.delete("v1.c.ko4").unwrap();
                s.set("ko4.refCount", "2,2").unwrap();
            },
            "ko4 is owned by v1, whose c-list does not export it",
        );
        fires(
            |s| s.set("ko4.revoked", "yes").unwrap(),
            "ko4.revoked is \"yes\"",
        );
        fires(
            |s| s.set("ko4.colour", "red").unwrap(),
            "unknown kernel table key ko4.colour",
        );
        fires(
            |s| s.set("kernelService.x", "ko4").unwrap(),
            "kernelService.x is ko4, which the kernel does not own",
        );
    }

    #[test]
    fn promise_states_are_checked() {
        fires(
            |s| s.set("kp1.decider", "v9").unwrap(),
            "kp1 is unresolved and its decider v9 is gone: it can never settle",
        );
        fires(
            |s| {
                s.delete("v2.c.kp1").unwrap();
                s.delete("v2.c.p+5").unwrap();
                s.set("kp1.refCount", "1").unwrap();
            },
            "kp1 decider v2 has no c-list entry for it",
        );
        fires(
            |s| s.set("kp1.subscribers", r#"["v2","v1"]"#).unwrap(),
            "is not sorted and unique",
        );
        fires(
            |s| {
                s.delete("v1.c.kp1").unwrap();
                s.delete("v1.c.p-1").unwrap();
                s.set("kp1.refCount", "1").unwrap();
            },
            "kp1 subscriber v1 has no c-list entry for it",
        );
        fires(
            |s| s.delete("kp1.subscribers").unwrap(),
            "kp1 is unresolved but has no subscribers",
        );
        fires(
            |s| s.set("kp1.value", r##"{"body":"#1","slots":[]}"##).unwrap(),
            "kp1 is unresolved but has a value",
        );
        fires(
            |s| s.set("kp2.decider", "v1").unwrap(),
            "kp2 is settled but still has a decider",
        );
        fires(
            |s| s.set("kp2.subscribers", "[]").unwrap(),
            "kp2 is settled but still has subscribers",
        );
        fires(
            |s| s.delete("kp2.value").unwrap(),
            "kp2 is settled but has no value",
        );
        fires(
            |s| s.set("kp2.state", "maybe").unwrap(),
            "kp2.state is Some(\"maybe\")",
        );
        fires(
            |s| {
                s.set("queue.kp2.head", "1").unwrap();
                s.set("queue.kp2.tail", "1").unwrap();
            },
            "queue.kp2 exists but kp2 is not the run queue or an unresolved promise",
        );
    }

    fn queue_send_with_result(s: &Store, kpid: &str) {
        s.set("queue.run.head", "3").unwrap();
        let item = format!(
            r##"{{"type":"send","target":"ko4","message":{{"methargs":{{"body":"#[]","slots":[]}},"result":"{kpid}"}}}}"##
        );
        s.set("queue.run.2", &item).unwrap();
    }

    #[test]
    fn queued_results_are_unsettled_and_undecided() {
        fires(
            |s| queue_send_with_result(s, "kp2"),
            "queue.run.2: result kp2 is already settled",
        );
        fires(
            |s| queue_send_with_result(s, "kp1"),
            "queue.run.2: result kp1 is in transit but decided by v2",
        );
    }

    #[test]
    fn queues_are_checked() {
        fires(
            |s| s.set("queue.run.tail", "3").unwrap(),
            "queue.run.head 2 < tail 3",
        );
        fires(
            |s| s.set("queue.run.head", "3").unwrap(),
            "queue.run.2 is missing (tail 1, head 3)",
        );
        fires(
            |s| s.set("queue.run.7", "{}").unwrap(),
            "queue.run.7 is outside tail 1..head 2",
        );
        fires(
            |s| s.set("queue.run.1", "{}").unwrap(),
            "queue.run.1 is not a run-queue item",
        );
        fires(
            |s| s.delete("queue.run.head").unwrap(),
            "queue.run.head/tail are None/Some(\"1\")",
        );
    }

    #[test]
    fn vats_and_subclusters_are_checked() {
        fires(
            |s| s.set("vatToSubclusterMap", r#"{"v1":"s1"}"#).unwrap(),
            "live vat v2 is not in vatToSubclusterMap",
        );
        fires(
            |s| {
                s.set(
                    "subclusters",
                    r#"[{"id":"s1","config":{},"vats":{"a":"v1"}}]"#,
                )
                .unwrap()
            },
            "live vat v2 is missing from s1's vats",
        );
        fires(
            |s| {
                s.set("vatToSubclusterMap", r#"{"v1":"s1","v2":"s5"}"#)
                    .unwrap()
            },
            "live vat v2 belongs to subcluster s5, which does not exist",
        );
        fires(
            |s| {
                s.set(
                    "subclusters",
                    r#"[{"id":"s1","config":{},"vats":{"a":"v1","b":"v2"}},{"id":"s2","config":{},"vats":{}}]"#,
                )
                .unwrap();
                s.set("nextSubclusterId", "3").unwrap();
            },
            "subcluster s2 is empty but was not pruned",
        );
        // v2 terminated, but its keys stayed behind.
        fires(
            |s| s.delete("vatConfig.v2").unwrap(),
            "v2 is not a live endpoint but 6 of its keys remain",
        );
        fires(
            |s| s.delete("vatConfig.v2").unwrap(),
            "vatToSubclusterMap lists v2 (in s1), which is not a live vat",
        );
        fires(
            |s| s.delete("vatConfig.v2").unwrap(),
            "subcluster s1 lists v2, which is not a live vat",
        );
        fires(
            |s| {
                s.apply_vatstore(
                    "v3",
                    &crate::vat::VatstoreDelta(vec![("k".into(), "v".into())], vec![]),
                )
                .unwrap()
            },
            "v3 is not a live vat but has kv_vatstore rows",
        );
        fires(
            |s| s.set("vats.terminated", r#"["v1"]"#).unwrap(),
            "v1 is live but listed in vats.terminated",
        );
    }

    #[test]
    fn counters_and_misc_are_checked() {
        fires(
            |s| s.set("nextObjectId", "4").unwrap(),
            "nextObjectId is 4 but id 4 is already in use",
        );
        fires(
            |s| s.set("nextPromiseId", "2").unwrap(),
            "nextPromiseId is 2 but id 2 is already in use",
        );
        fires(
            |s| s.set("nextVatId", "2").unwrap(),
            "nextVatId is 2 but id 2 is already in use",
        );
        fires(
            |s| s.set("nextSubclusterId", "1").unwrap(),
            "nextSubclusterId is 1 but id 1 is already in use",
        );
        fires(
            |s| s.set("gcActions", r#"["v1 dropExport kp1"]"#).unwrap(),
            "gcActions holds malformed action",
        );
        fires(
            |s| s.set("reapQueue", "{").unwrap(),
            "reapQueue is not valid",
        );
        fires(
            |s| s.set("pinnedObjects", "ko2,ko1,ko3").unwrap(),
            "pinnedObjects is not sorted",
        );
        fires(
            |s| s.set("vatConfig.v2", "[]").unwrap(),
            "vatConfig.v2 is not a JSON object",
        );
    }

    /// [`consistent`] plus remote r1 (peer P): v1's ko4 is exported to it as `ro-1`, and it
    /// owns ko5 (`ro+1`), which v2 holds; one frame to it is pending.
    fn with_remote(s: &Store) {
        for (k, v) in [
            ("nextRemoteId", "2"),
            ("nextObjectId", "6"),
            ("remote.r1", r#"{"peerId":"P","hints":[]}"#),
            ("peerIncarnation.P", "a-uuid"),
            ("e.nextObjectId.r1", "2"),
            ("e.nextPromiseId.r1", "1"),
            ("r1.c.ro-1", "ko4"),
            ("r1.c.ko4", "R ro-1"),
            ("ko4.refCount", "4,4"),
            ("ko5.owner", "r1"),
            ("ko5.refCount", "2,2"),
            ("r1.c.ro+1", "ko5"),
            ("r1.c.ko5", "R ro+1"),
            ("v2.c.o-2", "ko5"),
            ("v2.c.ko5", "R o-2"),
            ("e.nextObjectId.v2", "3"),
            ("remoteSeq.r1.nextSendSeq", "3"),
            ("remoteSeq.r1.startSeq", "3"),
            ("remoteSeq.r1.highestReceivedSeq", "7"),
            (
                "remotePending.r1.3",
                r#"{"seq":3,"method":"deliver","params":["bringOutYourDead"]}"#,
            ),
            (
                "knownRelays",
                r#"[{"addr":"/ip4/127.0.0.1/tcp/9/p2p/R","lastSeen":1,"isBootstrap":true}]"#,
            ),
            ("remoteCommsOptions", "{}"),
            ("lastActiveTime", "12"),
        ] {
            s.set(k, v).unwrap();
        }
    }

    #[test]
    fn remotes_are_checked() {
        assert_eq!(problems_after(with_remote), Vec::<String>::new());
        let remote = |edit: fn(&Store), expect: &str| {
            fires(
                |s| {
                    with_remote(s);
                    edit(s)
                },
                expect,
            )
        };
        remote(
            |s| s.set("nextRemoteId", "1").unwrap(),
            "nextRemoteId is 1 but id 1 is already in use",
        );
        remote(
            |s| s.set("remote.r2", r#"{"peerId":"P","hints":[]}"#).unwrap(),
            "peer P is both r1 and r2",
        );
        remote(
            |s| s.set("remote.r1", r#"{"peerId":"P"}"#).unwrap(),
            "remote.r1 is not {peerId, hints}",
        );
        remote(
            |s| s.set("peerIncarnation.Q", "x").unwrap(),
            "peerIncarnation.Q is kept for a peer no remote stands for",
        );
        remote(
            |s| s.set("remotePending.r1.4", r#"{"seq":4}"#).unwrap(),
            "remotePending.r1.4 is outside startSeq",
        );
        remote(
            |s| s.set("remotePending.r1.3", r#"{"seq":2}"#).unwrap(),
            "holds a frame numbered Some(2)",
        );
        remote(
            |s| s.set("remoteSeq.r2.startSeq", "1").unwrap(),
            "remoteSeq.r2.startSeq is kept for r2, which is not a remote",
        );
        remote(
            |s| s.set("r1.c.ro-5", "ko4").unwrap(),
            "r1.c.ro-5 is ko4 but r1.c.ko4 is",
        );
        remote(
            |s| {
                s.set("r1.c.ko4", "R ro-9").unwrap();
                s.set("r1.c.ro-9", "ko4").unwrap();
                s.delete("r1.c.ro-1").unwrap();
            },
            "r1 imports ro-9, but e.nextObjectId.r1 is Some(2)",
        );
        remote(
            |s| {
                s.delete("v2.c.o-2").unwrap();
                s.delete("v2.c.ko5").unwrap();
                s.set("ko5.refCount", "1,1").unwrap();
            },
            "ko5 is owned by remote r1 and nothing else refers to it, but it was not retired",
        );
        remote(
            |s| {
                s.set("v2.c.ko5", "_ o-2").unwrap();
                s.set("ko5.refCount", "1,2").unwrap();
            },
            "ko5 is owned by remote r1 and nothing else reaches it, but it was not dropped",
        );
        remote(
            |s| s.set("r1.c.ko5", "R ro-1").unwrap(),
            "r1.c.ko5 is R ro-1 but r1.c.ro-1 is Some(\"ko4\")",
        );
        remote(
            |s| s.set("knownRelays", r#"[{"addr":1}]"#).unwrap(),
            "knownRelays holds",
        );
        remote(
            |s| s.set("lastActiveTime", "soon").unwrap(),
            "lastActiveTime is \"soon\"",
        );
    }
}
