//! What remote comms show: `getStatus.remoteComms` (`{state: "connected", peerId,
//! listenAddresses}` once running, as the reference) and `listPeers` (an ocap extension behind
//! `ocapctl peers`): every remote with its connection, delivery counts and recent errors.

use super::super::error::KernelError;
use super::super::machine::Kernel;
use serde::Serialize;
use serde_json::Value;

/// One remote as `listPeers` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    /// The remote endpoint (`rN`).
    pub remote: String,
    /// The peer's libp2p id.
    pub peer_id: String,
    /// `connected`, `disconnected`, `given up` or `idle` (never reported since start).
    pub state: String,
    /// Since when, in milliseconds since the epoch, if known.
    pub since: Option<u64>,
    /// Frames sent and not yet acknowledged.
    pub pending: usize,
    /// The last sequence number sent.
    pub last_sent: u64,
    /// The highest sequence number received and applied.
    pub highest_received: u64,
    /// URL redemptions awaiting its answer.
    pub redemptions: usize,
    /// The incarnation it last announced.
    pub incarnation: Option<String>,
    /// Where it may be found.
    pub hints: Vec<String>,
    /// Its c-list's size.
    pub clist: usize,
    /// Recent errors, oldest first.
    pub errors: Vec<String>,
}

impl Kernel {
    /// The running node's peer id and addresses, if remote comms run.
    pub(in crate::kernel) fn remote_status(&self) -> Option<(String, Vec<String>)> {
        let running = self.remotes.running.as_ref()?;
        Some((running.link.peer_id(), running.listening.clone()))
    }

    /// `listPeers`: every remote, in id order.
    pub(in crate::kernel) fn list_peers(&self) -> Result<Value, KernelError> {
        let redemptions = self.state.redemptions()?;
        let mut peers = Vec::new();
        for (remote, record) in self.state.remotes()? {
            let stored = self.state.remote_stored(&remote)?;
            let status = self.remotes.peers.get(&record.peer_id);
            let state = match status {
                None => "idle",
                Some(s) if s.gave_up => "given up",
                Some(s) if s.connected => "connected",
                Some(_) => "disconnected",
            };
            peers.push(PeerInfo {
                remote: remote.clone(),
                state: state.to_string(),
                since: status.and_then(|s| s.since),
                pending: stored.pending.len(),
                last_sent: stored.next_send_seq.unwrap_or(0),
                highest_received: stored.highest_received.unwrap_or(0),
                redemptions: redemptions
                    .iter()
                    .filter(|(_, r)| r.remote == remote)
                    .count(),
                incarnation: self.state.peer_incarnation(&record.peer_id)?,
                clist: self.state.clist_krefs(&remote)?.len(),
                errors: status.map(|s| s.errors.clone()).unwrap_or_default(),
                hints: record.hints,
                peer_id: record.peer_id,
            });
        }
        Ok(serde_json::to_value(peers).expect("peers serialize"))
    }
}
