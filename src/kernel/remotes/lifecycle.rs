//! Starting and stopping remote comms: `initRemoteComms` (its options persisted, so that remote
//! comms come back by themselves when the kernel starts again), `clearState` (a new incarnation:
//! the node is restarted with it), location hints (persisted in `remote.<rN>`), the relay pool
//! (`knownRelays`) and the relay hints `issueOcapURL` adds.

use super::super::clock::now_ms;
use super::super::error::KernelError;
use super::super::machine::Kernel;
use super::super::state::KnownRelay;
use super::{Running, limits};
use crate::remote::driver::Driver;
use crate::remote::node::{NetCommand, NetConfig, NetLimits, parse_addr, parse_peer_id};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `initRemoteComms`'s options (spec §2), as the daemon validated them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RemoteOptions {
    /// Relays (`…/p2p/<relay id>`): reservations are kept on them, and they are added to the
    /// relay pool as bootstrap relays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relays: Option<Vec<String>>,
    /// Addresses to listen on directly (`/ip4/…/tcp/…[/ws]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_listen_addresses: Option<Vec<String>>,
    /// Failed dials before a peer is given up on (0: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retry_attempts: Option<u64>,
    /// Frames awaiting acknowledgement per peer before messages are refused (0: 200).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_queue: Option<u64>,
    /// Relay hints `issueOcapURL` puts in a URL at most (default 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_url_relay_hints: Option<u64>,
    /// Relays the pool keeps at most (default 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_known_relays: Option<u64>,
    /// Hosts plain `ws://` may be dialled on besides private ones (accepted and kept; ocapd dials
    /// only addresses it was given, see docs/remote.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_ws_hosts: Option<Vec<String>>,
}

const DEFAULT_URL_RELAY_HINTS: u64 = 3;
const DEFAULT_KNOWN_RELAYS: u64 = 20;

impl Kernel {
    /// `initRemoteComms`: starts the node and persists the options.
    pub(in crate::kernel) fn init_remote_comms(
        &mut self,
        options: RemoteOptions,
    ) -> Result<Value, KernelError> {
        if self.remotes.is_running() {
            return Err(KernelError::Refused(
                "remote comms already initialized".into(),
            ));
        }
        let json = serde_json::to_value(&options).expect("options serialize");
        self.state.set_remote_comms_options(&json)?;
        self.start_remotes(options)?;
        Ok(Value::Null)
    }

    /// Starts remote comms at boot if they were initialized before (their options are
    /// persisted) or the settings say so. A failure is logged; the kernel runs without them.
    pub(in crate::kernel) fn resume_remotes(&mut self) {
        let stored = match self.state.remote_comms_options() {
            Ok(stored) => stored,
            Err(e) => {
                tracing::error!("remote comms not resumed: {e}");
                return;
            }
        };
        let options = match stored {
            Some(json) => match serde_json::from_value::<RemoteOptions>(json) {
                Ok(options) => options,
                Err(e) => {
                    tracing::error!("remote comms not resumed: remoteCommsOptions: {e}");
                    return;
                }
            },
            None if self.remotes.settings.start => RemoteOptions::default(),
            None => return,
        };
        let started = self.atomically(|k| k.start_remotes(options));
        match started.and_then(|()| self.commit()) {
            Ok(()) => tracing::info!("remote comms resumed"),
            Err(e) => tracing::error!("remote comms could not start: {e}"),
        }
    }

    /// Starts the node with `options` over the settings, inside the caller's transaction.
    fn start_remotes(&mut self, options: RemoteOptions) -> Result<(), KernelError> {
        let refuse = |why: String| KernelError::Refused(why);
        let Some(sink) = self.remotes.sink.clone() else {
            return Err(refuse(
                "remote comms cannot run in this kernel: it has no event channel".into(),
            ));
        };
        let settings = self.remotes.settings.clone();
        let listen_texts = match &options.direct_listen_addresses {
            Some(list) if !list.is_empty() => list.clone(),
            _ => settings.listen.clone(),
        };
        let listen = listen_texts
            .iter()
            .map(|a| parse_addr(a).map_err(refuse))
            .collect::<Result<Vec<_>, _>>()?;
        let mut given: Vec<String> = options.relays.clone().unwrap_or_default();
        given.extend(settings.relays.iter().cloned());
        for relay in &given {
            parse_addr(relay).map_err(refuse)?;
        }
        let pool = self.merge_relays(&given, true, max_known(&options))?;
        let relays = pool
            .iter()
            .filter_map(|r| parse_addr(&r.addr).ok())
            .collect();
        let seed = super::super::identity::key_seed(&self.state)?;
        let incarnation_id = self
            .state
            .incarnation_id()?
            .ok_or_else(|| refuse("this kernel has no incarnationId".into()))?;
        let net_limits = NetLimits {
            max_frames_per_sec: settings.max_frames_per_sec.max(1),
            max_connections: settings.max_connections.max(1),
            max_retry_attempts: options
                .max_retry_attempts
                .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            ..NetLimits::default()
        };
        let config = NetConfig {
            key_seed: seed,
            incarnation_id,
            listen,
            relays,
            limits: net_limits,
        };
        self.remotes.generation += 1;
        let generation = self.remotes.generation;
        let link = (self.remotes.starter)(config, Box::new(move |event| sink(generation, event)))
            .map_err(refuse)?;
        tracing::info!("remote comms started as {}", link.peer_id());
        self.remotes.driver = Some(Driver::new(limits(&settings, options.max_queue)));
        self.remotes.running = Some(Running {
            link,
            options,
            listening: Vec::new(),
        });
        self.remotes.by_peer.clear();
        for (remote, record) in self.state.remotes()? {
            if !record.hints.is_empty() {
                self.remotes.command(NetCommand::Hints {
                    peer: record.peer_id.clone(),
                    hints: record.hints.clone(),
                });
            }
            if !self.state.remote_stored(&remote)?.pending.is_empty() {
                self.remotes.command(NetCommand::Connect {
                    peer: record.peer_id,
                });
            }
        }
        self.remotes.alarm = None;
        self.arm_redemption_alarm(None);
        Ok(())
    }

    /// `clearState` wiped the store: the node restarts after the commit with the new
    /// incarnation; meanwhile nothing of the old state is sent.
    pub(in crate::kernel) fn remotes_cleared(&mut self) {
        if !self.remotes.is_running() {
            return;
        }
        let limits = self.remotes.driver.as_ref().map(Driver::limits);
        if let Some(limits) = limits {
            self.remotes.driver = Some(Driver::new(limits));
        }
        self.remotes.by_peer.clear();
        self.remotes.deliveries.clear();
        self.remotes.peers.clear();
        // The old node's events are dropped from now on; the restart makes a new generation.
        self.remotes.generation += 1;
        self.remotes.restart = true;
    }

    /// After a commit: restarts the node if `clearState` asked for it.
    pub(in crate::kernel) fn restart_remotes_if_asked(&mut self) {
        if !std::mem::take(&mut self.remotes.restart) {
            return;
        }
        // Dropping the link stops the old node (its thread is joined).
        let old = self.remotes.running.take();
        let options = old.as_ref().map(|r| r.options.clone()).unwrap_or_default();
        drop(old);
        let started = self.atomically(|k| k.start_remotes(options));
        if let Err(e) = started {
            tracing::error!("remote comms could not restart after clearState: {e}");
        }
    }

    /// `registerLocationHints`: where `peer` may be found, persisted with its remote.
    pub(in crate::kernel) fn register_location_hints(
        &mut self,
        peer: &str,
        hints: Vec<String>,
    ) -> Result<Value, KernelError> {
        if !self.remotes.is_running() {
            return Err(KernelError::Refused("Remote comms not initialized".into()));
        }
        parse_peer_id(peer).map_err(KernelError::Refused)?;
        for hint in &hints {
            parse_addr(hint).map_err(KernelError::Refused)?;
        }
        self.remote_for_peer(peer, &hints)?;
        self.remotes.command(NetCommand::Hints {
            peer: peer.to_string(),
            hints,
        });
        Ok(Value::Null)
    }

    /// Adds relays a redeemed URL named to the pool (not as bootstrap relays).
    pub(super) fn learn_relays(&mut self, relays: &[String]) -> Result<(), KernelError> {
        let usable: Vec<String> = relays
            .iter()
            .filter(|r| parse_addr(r).is_ok() && r.contains("/p2p/"))
            .cloned()
            .collect();
        if usable.is_empty() {
            return Ok(());
        }
        let max = self
            .remotes
            .running
            .as_ref()
            .map_or(DEFAULT_KNOWN_RELAYS, |r| max_known(&r.options));
        self.merge_relays(&usable, false, max)?;
        self.remotes.command(NetCommand::Relays(usable));
        Ok(())
    }

    /// Merges `given` into `knownRelays` (seen now; `bootstrap` ones flagged, and the flag
    /// taken from bootstrap relays not given again), keeping at most `max`: bootstrap relays
    /// first, then the most recently seen. Returns the pool.
    fn merge_relays(
        &mut self,
        given: &[String],
        bootstrap: bool,
        max: u64,
    ) -> Result<Vec<KnownRelay>, KernelError> {
        let now = now_ms();
        let mut pool = self.state.known_relays()?;
        if bootstrap {
            for relay in &mut pool {
                relay.is_bootstrap = false;
            }
        }
        for addr in given {
            match pool.iter_mut().find(|r| &r.addr == addr) {
                Some(relay) => {
                    relay.last_seen = now;
                    relay.is_bootstrap |= bootstrap;
                }
                None => pool.push(KnownRelay {
                    addr: addr.clone(),
                    last_seen: now,
                    is_bootstrap: bootstrap,
                }),
            }
        }
        sort_pool(&mut pool);
        pool.truncate(usize::try_from(max.max(1)).unwrap_or(usize::MAX));
        self.state.set_known_relays(&pool)?;
        Ok(pool)
    }

    /// The relay hints for a new URL: at most `maxUrlRelayHints` of the pool, bootstrap
    /// relays first, then the most recently seen.
    pub(in crate::kernel) fn url_hints(&self) -> Result<Vec<String>, KernelError> {
        let max = self
            .remotes
            .running
            .as_ref()
            .and_then(|r| r.options.max_url_relay_hints)
            .unwrap_or(DEFAULT_URL_RELAY_HINTS);
        let mut pool = self.state.known_relays()?;
        sort_pool(&mut pool);
        Ok(pool
            .into_iter()
            .take(usize::try_from(max).unwrap_or(usize::MAX))
            .map(|r| r.addr)
            .collect())
    }
}

fn max_known(options: &RemoteOptions) -> u64 {
    options.max_known_relays.unwrap_or(DEFAULT_KNOWN_RELAYS)
}

/// Bootstrap relays first, then the most recently seen.
fn sort_pool(pool: &mut [KnownRelay]) {
    pool.sort_by(|a, b| {
        b.is_bootstrap
            .cmp(&a.is_bootstrap)
            .then(b.last_seen.cmp(&a.last_seen))
    });
}
