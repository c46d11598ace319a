//! `launchSubcluster` (spec §3.3), atomic: if any vat fails to start, or the bootstrap method
//! fails, every vat it started is terminated, every IO channel it opened closed, and no record
//! is left (the reference leaves orphan vats behind, spec §14.8).

use super::awaiting::reply_on_settlement;
use super::error::KernelError;
use super::lifecycle::StartError;
use super::machine::Kernel;
use super::outbox::Reply;
use super::state::{RunItem, Subcluster};
use super::waiters::Settlement;
use crate::capdata::{CapData, Passable, encode, error_message};
use crate::vat::Message;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A validated cluster config, ready to launch.
#[derive(Debug, Clone)]
pub struct LaunchPlan {
    /// The config exactly as given (persisted and reported by `getStatus`).
    pub raw: Value,
    /// The vat that receives `bootstrap()`.
    pub bootstrap: String,
    /// Vat names and configs, in launch order.
    pub vats: Vec<(String, Value)>,
    /// Kernel services (and IO channels) handed to `bootstrap`.
    pub services: Vec<String>,
    /// The IO channels (`io`): names and `IOConfig`s, in launch order.
    pub io: Vec<(String, Value)>,
}

/// Why a launch failed before its bootstrap message was sent.
enum LaunchError {
    /// A message for the caller; nothing was kept.
    Refused(String),
    /// The store failed.
    Kernel(KernelError),
}

impl From<KernelError> for LaunchError {
    fn from(e: KernelError) -> LaunchError {
        LaunchError::Kernel(e)
    }
}

impl Kernel {
    /// Launches a subcluster; `reply` is called after the commit that settles its bootstrap.
    pub(super) fn launch_subcluster(&mut self, plan: LaunchPlan, reply: Reply) {
        if let Err(why) = self.check_plan(&plan) {
            return self.outbox.reply(reply, Err(KernelError::Refused(why)));
        }
        let mut started = Vec::new();
        let launched = self.atomically(|k| {
            k.start_subcluster(&plan, &mut started)
                .map_err(|e| match e {
                    LaunchError::Refused(why) => KernelError::Refused(why),
                    LaunchError::Kernel(e) => e,
                })
        });
        match launched {
            Ok((subcluster, root, kpid)) => {
                let waiter = reply_on_settlement(reply, move |kernel, settlement| {
                    kernel.bootstrap_answer(subcluster, root, settlement)
                });
                self.wait_held(&kpid, waiter);
            }
            Err(e) => {
                // The rollback undid the records; the runtimes live in memory and go here.
                for vat in started {
                    self.warehouse.forget(&vat);
                }
                self.outbox.reply(reply, Err(e));
            }
        }
    }

    fn check_plan(&self, plan: &LaunchPlan) -> Result<(), String> {
        if !plan.vats.iter().any(|(name, _)| *name == plan.bootstrap) {
            return Err(format!("invalid bootstrap vat name \"{}\"", plan.bootstrap));
        }
        // The reference creates the channels before it looks at services or vats.
        super::io::check_io(&plan.io)?;
        for (name, config) in &plan.vats {
            self.warehouse
                .check(config)
                .map_err(|why| format!("vat \"{name}\": {why}"))?;
        }
        // IO channel names are services of this config (spec §3.3 step 5).
        let io_names: Vec<&String> = plan.io.iter().map(|(name, _)| name).collect();
        for name in plan.services.iter().filter(|n| !io_names.contains(n)) {
            let registered = self.state.service(name).ok().flatten();
            let usable = registered
                .as_deref()
                .is_some_and(|kref| !self.state.is_system_only(kref).unwrap_or(true));
            if !usable {
                return Err(format!("no registered kernel service '{name}'"));
            }
        }
        Ok(())
    }

    /// Records the subcluster, starts its vats, exports their roots and queues `bootstrap`.
    fn start_subcluster(
        &mut self,
        plan: &LaunchPlan,
        started: &mut Vec<String>,
    ) -> Result<(String, String, String), LaunchError> {
        let id = self.state.allocate_subcluster_id()?;
        // Step 4: the channels' services get their krefs before the vats' roots.
        let mut granted = match self.open_io(&id, &plan.io)? {
            Ok(channels) => channels,
            Err(why) => return Err(LaunchError::Refused(why)),
        };
        for name in &plan.services {
            if !granted.contains_key(name) {
                granted.insert(name.clone(), self.state.service(name)?.unwrap_or_default());
            }
        }
        let mut record = Subcluster {
            id: id.clone(),
            config: plan.raw.clone(),
            vats: Map::new(),
        };
        let mut roots = BTreeMap::new();
        for (name, config) in &plan.vats {
            let vat = self.state.allocate_vat_id()?;
            record.vats.insert(name.clone(), Value::String(vat.clone()));
            self.state.put_subcluster(&record)?;
            self.state.set_subcluster_of(&vat, Some(&id))?;
            self.state.set_vat_config(&vat, config)?;
            started.push(vat.clone());
            match self.ensure_started(&vat) {
                Ok(()) => {}
                Err(StartError::Kernel(e)) => return Err(e.into()),
                Err(StartError::Vat(why)) => {
                    tracing::warn!(vat, "launch failed: {why}");
                    return Err(LaunchError::Refused(format!(
                        "Failed to launch vat {vat} ({name})"
                    )));
                }
            }
            roots.insert(name.clone(), self.export_root(&vat)?);
        }
        let root = roots[&plan.bootstrap].clone();
        let methargs = bootstrap_args(&roots, &granted);
        let kpid = self.state.create_promise(None)?;
        let message = Message {
            methargs,
            result: Some(kpid.clone()),
        };
        self.state.push_run(&RunItem::Send {
            target: root.clone(),
            message,
        })?;
        self.state.hold_for_waiter(&kpid)?;
        Ok((id, root, kpid))
    }

    /// The vat's root object `o+0`, exported to the kernel.
    fn export_root(&mut self, vat: &str) -> Result<String, KernelError> {
        self.state.init_endpoint(vat)?;
        let kref = self.state.create_object(vat)?;
        self.state.clist_add(vat, "o+0", &kref)?;
        Ok(kref)
    }

    /// `launchSubcluster`'s answer once the bootstrap result settled: the ids and that result,
    /// or, if `bootstrap()` failed, the failure (and the subcluster is undone).
    fn bootstrap_answer(
        &mut self,
        subcluster: String,
        root: String,
        settlement: Settlement,
    ) -> Result<Value, KernelError> {
        let failure = match &settlement {
            Ok(value) => error_message(value),
            Err(reason) => Some(error_message(reason).unwrap_or_else(|| reason.body.clone())),
        };
        if let Some(why) = failure {
            self.abandon_subcluster(&subcluster, &why);
            return Err(KernelError::Refused(why));
        }
        Ok(
            json!({"subclusterId": subcluster, "rootKref": root, "bootstrapResult": settlement.ok()}),
        )
    }

    /// Undoes a launch whose bootstrap failed: its vats are terminated, its record removed.
    fn abandon_subcluster(&mut self, id: &str, why: &str) {
        let result =
            self.atomically(|k| k.terminate_subcluster(id, &format!("bootstrap failed: {why}")));
        if let Err(e) = result {
            tracing::error!("abandoning subcluster {id}: {e}");
        }
    }

    /// Terminates every vat of a subcluster (in reverse launch order) and deletes its record.
    pub(super) fn terminate_subcluster(
        &mut self,
        id: &str,
        reason: &str,
    ) -> Result<(), KernelError> {
        let Some(record) = self.state.subcluster(id)? else {
            return Ok(());
        };
        let vats: Vec<String> = record
            .vats
            .values()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        for vat in vats.iter().rev() {
            self.terminate_vat(vat, reason)?;
        }
        self.close_io(id)?;
        self.state.remove_subcluster(id)
    }
}

/// `["bootstrap", [{name: root…}, {service: kref…}]]`, encoded as the reference kernel does
/// (spec §3.3 step 8): roots with interface `vatRoot`, services with `undefined`.
fn bootstrap_args(
    roots: &BTreeMap<String, String>,
    services: &BTreeMap<String, String>,
) -> CapData {
    let presence = |kref: &str, iface: &str| Passable::Remotable {
        slot: kref.into(),
        iface: Some(format!("Alleged: {iface}")),
    };
    let roots = roots
        .iter()
        .map(|(name, kref)| (name.clone(), presence(kref, "vatRoot")))
        .collect();
    let granted = services
        .iter()
        .map(|(name, kref)| (name.clone(), presence(kref, "undefined")))
        .collect();
    let args = Passable::Array(vec![Passable::Record(roots), Passable::Record(granted)]);
    encode(&Passable::Array(vec![
        Passable::String("bootstrap".into()),
        args,
    ]))
}

impl From<super::config::ClusterConfig> for LaunchPlan {
    fn from(config: super::config::ClusterConfig) -> LaunchPlan {
        LaunchPlan {
            raw: config.raw,
            bootstrap: config.bootstrap,
            vats: config
                .vats
                .into_iter()
                .map(|(name, vat)| (name, vat.raw))
                .collect(),
            services: config.services,
            io: config.io,
        }
    }
}
