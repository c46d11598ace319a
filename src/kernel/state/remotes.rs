//! Remote endpoints and the delivery state kept for them (remote-comms.md §5, §9), under the
//! reference's key names: `remote.<rN>` (`{"peerId", "hints"}`), `peerIncarnation.<peerId>`,
//! `remoteSeq.<rN>.{nextSendSeq,startSeq,highestReceivedSeq}`, `remotePending.<rN>.<seq>` (the
//! exact frame text), `knownRelays` (`[{addr, lastSeen, isBootstrap}]`), `lastActiveTime`, and
//! ocap's own `remoteCommsOptions` (the `initRemoteComms` options, so that remote comms come
//! back by themselves after a restart). Each remote's c-list is `clist.rs`'s, its import
//! counters `vats.rs`'s `init_endpoint`.

use super::{Result, State, corrupt};
use crate::remote::reliable::{Stored, Write};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A remote's record: the peer it stands for and where that peer may be found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteRecord {
    /// The peer's libp2p id.
    pub peer_id: String,
    /// Multiaddrs where it may be found (URL hints, `registerLocationHints`).
    pub hints: Vec<String>,
}

/// One entry of `knownRelays`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KnownRelay {
    /// The relay's multiaddr, ending in `/p2p/<relay id>`.
    pub addr: String,
    /// When it was last given or seen, in milliseconds since the epoch.
    pub last_seen: u64,
    /// Whether it came from `initRemoteComms` (preferred in URLs).
    pub is_bootstrap: bool,
}

/// A redemption of another kernel's OCAP URL awaiting its answer (`remoteRedemption.<kpid>`,
/// an ocap extension): the promise it settles is the reply key, and the record holds a
/// reference on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redemption {
    /// The remote asked.
    pub remote: String,
    /// When it fails for want of an answer, in milliseconds since the epoch.
    pub deadline: u64,
    /// Whether the object is pinned once it arrives (a kref handed to an RPC caller, which
    /// holds no reference).
    pub pin: bool,
}

const KNOWN_RELAYS: &str = "knownRelays";
const OPTIONS: &str = "remoteCommsOptions";
const LAST_ACTIVE: &str = "lastActiveTime";

impl State {
    /// The record of remote `remote`.
    pub fn remote(&self, remote: &str) -> Result<Option<RemoteRecord>> {
        self.get_json_option(&format!("remote.{remote}"))
    }

    /// Writes remote `remote`'s record.
    pub fn put_remote(&self, remote: &str, record: &RemoteRecord) -> Result<()> {
        self.set_json(&format!("remote.{remote}"), record)
    }

    /// A new remote for `peer_id`: its id, record and import counters.
    pub fn create_remote(&self, peer_id: &str, hints: &[String]) -> Result<String> {
        let remote = self.allocate_remote_id()?;
        let record = RemoteRecord {
            peer_id: peer_id.to_string(),
            hints: hints.to_vec(),
        };
        self.put_remote(&remote, &record)?;
        self.init_endpoint(&remote)?;
        Ok(remote)
    }

    /// Every remote with its record, in id order.
    pub fn remotes(&self) -> Result<Vec<(String, RemoteRecord)>> {
        let mut found = Vec::new();
        for (key, text) in self.store.scan("remote.")? {
            let remote = key["remote.".len()..].to_string();
            let record = serde_json::from_str(&text).map_err(|e| corrupt(&key, e.to_string()))?;
            found.push((remote, record));
        }
        found.sort_by_key(|(r, _)| r[1..].parse::<u64>().unwrap_or(u64::MAX));
        Ok(found)
    }

    /// The incarnation `peer_id` last announced (`peerIncarnation.<peerId>`).
    pub fn peer_incarnation(&self, peer_id: &str) -> Result<Option<String>> {
        Ok(self.store.get(&format!("peerIncarnation.{peer_id}"))?)
    }

    /// Records the incarnation `peer_id` announced.
    pub fn set_peer_incarnation(&self, peer_id: &str, incarnation: &str) -> Result<()> {
        Ok(self
            .store
            .set(&format!("peerIncarnation.{peer_id}"), incarnation)?)
    }

    /// This kernel's incarnation (made at initialization, new after `clearState`).
    pub fn incarnation_id(&self) -> Result<Option<String>> {
        Ok(self.store.get("incarnationId")?)
    }

    /// What is stored for `remote`'s reliable delivery.
    pub fn remote_stored(&self, remote: &str) -> Result<Stored> {
        let number = |field: &str| -> Result<Option<u64>> {
            let key = format!("remoteSeq.{remote}.{field}");
            match self.store.get(&key)? {
                None => Ok(None),
                Some(text) => text
                    .parse()
                    .map(Some)
                    .map_err(|_| corrupt(&key, format!("{text:?} is not a number"))),
            }
        };
        let mut stored = Stored {
            next_send_seq: number("nextSendSeq")?,
            start_seq: number("startSeq")?,
            highest_received: number("highestReceivedSeq")?,
            ..Stored::default()
        };
        let prefix = format!("remotePending.{remote}.");
        for (key, frame) in self.store.scan(&prefix)? {
            let seq = key[prefix.len()..]
                .parse()
                .map_err(|_| corrupt(&key, "not a sequence number".into()))?;
            stored.pending.insert(seq, frame);
        }
        Ok(stored)
    }

    /// Makes one durable change to `remote`'s delivery state.
    pub fn remote_write(&self, remote: &str, write: &Write) -> Result<()> {
        let seq_key = |field: &str| format!("remoteSeq.{remote}.{field}");
        match write {
            Write::NextSendSeq(n) => self.store.set(&seq_key("nextSendSeq"), &n.to_string())?,
            Write::StartSeq(n) => self.store.set(&seq_key("startSeq"), &n.to_string())?,
            Write::HighestReceived(n) => self
                .store
                .set(&seq_key("highestReceivedSeq"), &n.to_string())?,
            Write::PutPending(seq, frame) => self
                .store
                .set(&format!("remotePending.{remote}.{seq}"), frame)?,
            Write::DeletePending(seq) => self
                .store
                .delete(&format!("remotePending.{remote}.{seq}"))?,
            Write::ClearSeqState => {
                for field in ["nextSendSeq", "startSeq", "highestReceivedSeq"] {
                    self.store.delete(&seq_key(field))?;
                }
            }
        }
        Ok(())
    }

    /// Records a redemption awaiting its answer; the record holds a reference on `kpid`.
    pub fn put_redemption(&self, kpid: &str, redemption: &Redemption) -> Result<()> {
        self.set_json(&format!("remoteRedemption.{kpid}"), redemption)?;
        self.incref(kpid, true)
    }

    /// The redemption settling `kpid`, if one awaits its answer.
    pub fn redemption(&self, kpid: &str) -> Result<Option<Redemption>> {
        self.get_json_option(&format!("remoteRedemption.{kpid}"))
    }

    /// Forgets a redemption (answered, failed or timed out), releasing its reference.
    pub fn delete_redemption(&mut self, kpid: &str) -> Result<()> {
        self.store.delete(&format!("remoteRedemption.{kpid}"))?;
        self.decref(kpid, true)
    }

    /// Every redemption awaiting its answer, by promise.
    pub fn redemptions(&self) -> Result<Vec<(String, Redemption)>> {
        let mut found = Vec::new();
        for (key, text) in self.store.scan("remoteRedemption.")? {
            let record = serde_json::from_str(&text).map_err(|e| corrupt(&key, e.to_string()))?;
            found.push((key["remoteRedemption.".len()..].to_string(), record));
        }
        Ok(found)
    }

    /// The relays this kernel knows (`knownRelays`).
    pub fn known_relays(&self) -> Result<Vec<KnownRelay>> {
        self.get_json(KNOWN_RELAYS)
    }

    /// Replaces `knownRelays`.
    pub fn set_known_relays(&self, relays: &[KnownRelay]) -> Result<()> {
        self.set_json(KNOWN_RELAYS, &relays)
    }

    /// The persisted `initRemoteComms` options, if remote comms were ever initialized.
    pub fn remote_comms_options(&self) -> Result<Option<Value>> {
        self.get_json_option(OPTIONS)
    }

    /// Persists the `initRemoteComms` options.
    pub fn set_remote_comms_options(&self, options: &Value) -> Result<()> {
        self.set_json(OPTIONS, options)
    }

    /// Records when remote comms were last active (`lastActiveTime`, ms since the epoch).
    pub fn set_last_active_time(&self, ms: u64) -> Result<()> {
        Ok(self.store.set(LAST_ACTIVE, &ms.to_string())?)
    }

    /// When remote comms were last active.
    pub fn last_active_time(&self) -> Result<Option<u64>> {
        match self.store.get(LAST_ACTIVE)? {
            None => Ok(None),
            Some(_) => self.get_number(LAST_ACTIVE).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::state;
    use super::*;

    #[test]
    fn remotes_are_endpoints_with_the_references_keys_remote_comms_9() {
        let s = state();
        let r1 = s
            .create_remote("12D3KooWA", &["/ip4/127.0.0.1/tcp/1".into()])
            .unwrap();
        let r2 = s.create_remote("12D3KooWB", &[]).unwrap();
        assert_eq!((r1.as_str(), r2.as_str()), ("r1", "r2"));
        assert_eq!(
            s.store().get("remote.r1").unwrap().as_deref(),
            Some(r#"{"peerId":"12D3KooWA","hints":["/ip4/127.0.0.1/tcp/1"]}"#)
        );
        assert_eq!(
            s.store().get("e.nextObjectId.r2").unwrap().as_deref(),
            Some("1")
        );
        assert_eq!(s.store().get("nextRemoteId").unwrap().as_deref(), Some("3"));
        assert_eq!(s.remotes().unwrap().len(), 2);
    }

    #[test]
    fn delivery_state_round_trips_through_the_keys() {
        let s = state();
        s.create_remote("P", &[]).unwrap();
        for write in [
            Write::PutPending(1, "{\"seq\":1}".into()),
            Write::StartSeq(1),
            Write::NextSendSeq(1),
            Write::HighestReceived(4),
        ] {
            s.remote_write("r1", &write).unwrap();
        }
        let stored = s.remote_stored("r1").unwrap();
        assert_eq!(stored.next_send_seq, Some(1));
        assert_eq!(stored.start_seq, Some(1));
        assert_eq!(stored.highest_received, Some(4));
        assert_eq!(
            stored.pending.get(&1).map(String::as_str),
            Some("{\"seq\":1}")
        );
        assert_eq!(
            s.store()
                .get("remoteSeq.r1.highestReceivedSeq")
                .unwrap()
                .as_deref(),
            Some("4")
        );
        s.remote_write("r1", &Write::ClearSeqState).unwrap();
        s.remote_write("r1", &Write::DeletePending(1)).unwrap();
        assert_eq!(s.remote_stored("r1").unwrap(), Stored::default());
        s.store().set("remoteSeq.r1.startSeq", "x").unwrap();
        assert!(matches!(
            s.remote_stored("r1"),
            Err(crate::kernel::KernelError::Corrupt { .. })
        ));
    }
}
