//! The `getStatus` result (spec §2.1): running vats, subclusters, remote comms.

use super::error::KernelError;
use super::state::State;
use serde::Serialize;
use serde_json::{Value, json};

/// The kernel status, serialized with the reference's key order.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Running vats: `{id, config, subclusterId}`.
    pub vats: Vec<Value>,
    /// Persisted subcluster records: `{id, config, vats}`.
    pub subclusters: Vec<Value>,
    /// The remote-comms state.
    pub remote_comms: RemoteComms,
}

/// Remote comms state (spec §2.1).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum RemoteComms {
    /// No identity and no networking.
    Disconnected,
    /// An identity (OCAP URLs can be issued and redeemed locally), no networking: the
    /// reference daemon's default.
    IdentityOnly {
        /// The kernel's libp2p peer id.
        #[serde(rename = "peerId")]
        peer_id: String,
    },
    /// Remote comms run (`initRemoteComms`, or resumed at start).
    Connected {
        /// The kernel's libp2p peer id.
        #[serde(rename = "peerId")]
        peer_id: String,
        /// Where the node can be reached (direct and relayed, each ending in `/p2p/<peerId>`).
        #[serde(rename = "listenAddresses")]
        listen_addresses: Vec<String>,
    },
}

/// Reads the status: every live vat with its launch config and subcluster, every subcluster.
pub fn read(state: &State) -> Result<Status, KernelError> {
    let mut vats = Vec::new();
    for id in state.live_vats()? {
        let config = state.vat_config(&id)?.unwrap_or(Value::Null);
        let subcluster = state.subcluster_of(&id)?;
        vats.push(json!({"id": id, "config": config, "subclusterId": subcluster}));
    }
    let subclusters = state
        .subclusters()?
        .into_iter()
        .map(|s| serde_json::to_value(s).expect("serializes"))
        .collect();
    let remote_comms = match state.peer_id()? {
        Some(peer_id) => RemoteComms::IdentityOnly { peer_id },
        None => RemoteComms::Disconnected,
    };
    Ok(Status {
        vats,
        subclusters,
        remote_comms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::state::testing::state;

    #[test]
    fn empty_kernel_status_has_the_reference_shape_spec_2_1() {
        let status = read(&state()).unwrap();
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            r#"{"vats":[],"subclusters":[],"remoteComms":{"state":"disconnected"}}"#
        );
    }

    #[test]
    fn a_kernel_with_an_identity_is_identity_only_spec_2_1() {
        let s = state();
        s.store().set("peerId", "12D3KooWx").unwrap();
        assert_eq!(
            serde_json::to_value(read(&s).unwrap()).unwrap()["remoteComms"],
            json!({"state": "identity-only", "peerId": "12D3KooWx"})
        );
    }

    #[test]
    fn malformed_subclusters_key_is_reported_not_ignored() {
        let s = state();
        s.store().set("subclusters", "{").unwrap();
        assert!(matches!(read(&s), Err(KernelError::Corrupt { .. })));
    }
}
