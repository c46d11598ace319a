//! The kernel's IO channel logic (spec §3.4): opening a subcluster's channels at launch and at
//! start, closing them with the subcluster, answering `read()` and `write()` on their services,
//! and settling waiting reads, each in a crank of its own, as input arrives.
//!
//! A `read()` is recorded (`ioReads`, holding its result promise) and left unsettled, with the
//! kernel as decider; the IO thread rings the kernel when input comes, and the kernel takes it
//! in a crank: a line settles the oldest read, a disconnect settles every read with `null`.
//! Reads still pending when the kernel starts (it stopped, or lost a batch) get `null` too: the
//! restart dropped every client, and a disconnect answers reads that way.

use super::config::{Direction, IoConfig, service_name};
use super::inbox::{MAX_OUTGOING, Taken};
use super::{MAX_CHANNELS, socket};
use crate::capdata::{CapData, Passable, decode_methargs, encode, kernel_error};
use crate::kernel::config::ClusterConfig;
use crate::kernel::error::KernelError;
use crate::kernel::machine::Kernel;
use crate::kernel::state::PromiseState;
use crate::vat::Message;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// At most this many reads may wait on one channel.
pub const MAX_PENDING_READS: usize = 1024;

/// Input taken from a channel for a crank of its own.
#[derive(Debug)]
pub struct IoJob {
    service: String,
    taken: Taken,
}

/// A refusal for the caller, or the store failing.
type Refusable<T> = Result<Result<T, String>, KernelError>;

/// Why a config's `io` cannot be opened by this kernel, found before a launch starts anything:
/// the first channel (in JavaScript order) whose type or path this kernel refuses.
pub fn check_io(io: &[(String, Value)]) -> Result<(), String> {
    for (name, raw) in io {
        IoConfig::from_validated(raw).check(name)?;
    }
    Ok(())
}

impl Kernel {
    /// Opens `subcluster`'s channels and registers their services (launch step 4); returns
    /// each channel's service kref by channel name. A failure leaves channels opened before it
    /// to the caller's rollback.
    pub(in crate::kernel) fn open_io(
        &mut self,
        subcluster: &str,
        io: &[(String, Value)],
    ) -> Refusable<BTreeMap<String, String>> {
        let mut krefs = BTreeMap::new();
        for (name, raw) in io {
            match self.open_channel(subcluster, name, raw)? {
                Ok(kref) => krefs.insert(name.clone(), kref),
                Err(why) => return Ok(Err(why)),
            };
        }
        Ok(Ok(krefs))
    }

    fn open_channel(&mut self, subcluster: &str, name: &str, raw: &Value) -> Refusable<String> {
        let config = IoConfig::from_validated(raw);
        let path = match config.check(name) {
            Ok(path) => path,
            Err(why) => return Ok(Err(why)),
        };
        if self.io.len() >= MAX_CHANNELS {
            return Ok(Err(format!(
                "IO channel \"{name}\": this kernel already has {MAX_CHANNELS} IO channels open"
            )));
        }
        let service = service_name(subcluster, name);
        let kref = self.state.register_io_service(&service)?;
        let opened = socket::bind(name, &path).and_then(|bound| {
            self.io
                .open(&service, name, subcluster, &kref, config.direction, bound)
        });
        if let Err(why) = opened {
            return Ok(Err(why));
        }
        tracing::info!(
            "created IO channel \"{name}\" for subcluster {subcluster} at {}",
            path.display()
        );
        Ok(Ok(kref))
    }

    /// Closes `subcluster`'s channels (it is terminated, or its last vat is gone): their
    /// pending reads get `null`, as the reference's `close()` answers them, and their services
    /// are forgotten, so messages to them splat with `OBJECT_DELETED`.
    pub(in crate::kernel) fn close_io(&mut self, subcluster: &str) -> Result<(), KernelError> {
        for (service, _) in self.state.io_services(Some(subcluster))? {
            for kpid in self.state.io_reads(&service)? {
                self.answer_read(&service, &kpid, Passable::Null)?;
            }
            self.state.unregister_io_service(&service)?;
        }
        self.io.close_subcluster(subcluster);
        Ok(())
    }

    /// Re-creates the channels of every persisted subcluster whose config has `io` (spec §9.1
    /// step 5), after answering every read still pending with `null`. A subcluster whose
    /// channels cannot all be opened is logged and left without them (as the reference does):
    /// messages to its services fail with the reason. Services of subclusters that no longer
    /// exist (a reference database after `terminateAllVats`) are forgotten.
    pub(in crate::kernel) fn restore_io(&mut self) -> Result<(), KernelError> {
        self.io.shut_all_now();
        self.atomically(|k| {
            for (service, reads) in k.state.all_io_reads()? {
                for kpid in reads {
                    k.answer_read(&service, &kpid, Passable::Null)?;
                }
            }
            let mut wanted = BTreeSet::new();
            for subcluster in k.state.subclusters()? {
                let io = ClusterConfig::from_validated(subcluster.config).io;
                wanted.extend(
                    io.iter()
                        .map(|(name, _)| service_name(&subcluster.id, name)),
                );
                if !io.is_empty() {
                    k.reopen_io(&subcluster.id, &io)?;
                }
            }
            for (service, _) in k.state.io_services(None)? {
                if !wanted.contains(&service) {
                    k.state.unregister_io_service(&service)?;
                }
            }
            k.collect_garbage()
        })?;
        self.commit()
    }

    /// Opens a persisted subcluster's channels, all or none.
    fn reopen_io(&mut self, subcluster: &str, io: &[(String, Value)]) -> Result<(), KernelError> {
        let why = match self.open_io(subcluster, io)? {
            Ok(_) => {
                tracing::info!("restored IO channels for persisted subcluster {subcluster}");
                return Ok(());
            }
            Err(why) => why,
        };
        tracing::error!("failed to restore IO channels for subcluster {subcluster}: {why}");
        self.io.close_subcluster(subcluster);
        for (name, raw) in io {
            let service = service_name(subcluster, name);
            let kref = self.state.register_io_service(&service)?;
            let direction = IoConfig::from_validated(raw).direction;
            self.io
                .mark_broken(&service, name, subcluster, &kref, direction, &why);
        }
        Ok(())
    }

    /// Answers a message to an IO channel's service; false if `kref` is none.
    pub(in crate::kernel) fn invoke_io(
        &mut self,
        kref: &str,
        message: &Message,
    ) -> Result<bool, KernelError> {
        let Some(channel) = self.io.by_kref(kref) else {
            return Ok(false);
        };
        let (method, args) = decode_methargs(&message.methargs).unwrap_or_default();
        let result = message.result.as_deref();
        let outcome = match method.as_str() {
            "read" => self.io_read(&channel, result)?,
            "write" => self.io_write(&channel, &args).map(Some),
            other => Err(format!(
                "IO channel \"{}\" has no method \"{other}\"",
                channel.service
            )),
        };
        let Some(result) = result else {
            if let Err(why) = outcome {
                tracing::warn!("{why}");
            }
            return Ok(true);
        };
        self.state.set_decider(result, Some("kernel"))?;
        match outcome {
            Ok(Some(value)) => self.settle(result, false, &value)?,
            // The read waits for input.
            Ok(None) => {}
            Err(why) => self.settle(result, true, &kernel_error("DELIVERY_FAILED", &why))?,
        }
        Ok(true)
    }

    /// `read()`: recorded, to be settled by a later crank; `Ok(Ok(None))` while it waits.
    fn io_read(
        &mut self,
        channel: &super::ChannelInfo,
        result: Option<&str>,
    ) -> Refusable<Option<CapData>> {
        let service = &channel.service;
        if channel.direction == Direction::Out {
            return Ok(Err(format!("IO channel \"{service}\" is write-only")));
        }
        if let Some(why) = &channel.broken {
            return Ok(Err(format!("IO channel \"{service}\" is not open: {why}")));
        }
        // A read nobody can hear the answer to takes no line: the line stays for a real one.
        let Some(kpid) = result else {
            return Ok(Ok(None));
        };
        if self.state.io_reads(service)?.len() >= MAX_PENDING_READS {
            return Ok(Err(format!(
                "IO channel \"{}\" already has {MAX_PENDING_READS} reads waiting",
                channel.name
            )));
        }
        self.state.add_io_read(service, kpid)?;
        Ok(Ok(None))
    }

    /// `write(text)`: `text` and a newline go to the connected client once the batch commits.
    fn io_write(
        &mut self,
        channel: &super::ChannelInfo,
        args: &[Passable],
    ) -> Result<CapData, String> {
        let (service, name) = (&channel.service, &channel.name);
        if channel.direction == Direction::In {
            return Err(format!("IO channel \"{service}\" is read-only"));
        }
        if let Some(why) = &channel.broken {
            return Err(format!("IO channel \"{service}\" is not open: {why}"));
        }
        let Some(Passable::String(text)) = args.first() else {
            return Err(format!("IO channel \"{name}\": write() takes a string"));
        };
        let Some(client) = self.io.client(service) else {
            return Err(format!("IO channel \"{name}\" has no connected client"));
        };
        let waiting = self.io.outgoing(service);
        if waiting + text.len() + 1 > MAX_OUTGOING {
            return Err(format!(
                "IO channel \"{name}\": its client has not read the {waiting} bytes written \
                 before; write refused"
            ));
        }
        self.io.write(service, client, text);
        Ok(encode(&Passable::Undefined))
    }

    /// Whether a channel has input that needs a crank (the kernel loop's idle check).
    pub(in crate::kernel) fn io_ready(&self) -> bool {
        self.io
            .with_input()
            .into_iter()
            .any(|(service, events, lines)| {
                events
                    || (lines
                        && self
                            .state
                            .io_reads(&service)
                            .is_ok_and(|reads| !reads.is_empty()))
            })
    }

    /// The next input that needs a crank, taken for the current one.
    pub(in crate::kernel) fn next_io_job(&mut self) -> Result<Option<IoJob>, KernelError> {
        for (service, _, _) in self.io.with_input() {
            let pending = !self.state.io_reads(&service)?.is_empty();
            if let Some(taken) = self.io.take(&service, pending) {
                return Ok(Some(IoJob { service, taken }));
            }
        }
        Ok(None)
    }

    /// Settles reads with taken input: a line answers the oldest read, a disconnect every one.
    pub(in crate::kernel) fn run_io_job(&mut self, job: &IoJob) -> Result<(), KernelError> {
        let reads = self.state.io_reads(&job.service)?;
        match &job.taken {
            Taken::Line(line) => {
                if let Some(kpid) = reads.first() {
                    self.answer_read(&job.service, kpid, Passable::String(line.clone()))?;
                }
            }
            Taken::Disconnected(_) => {
                for kpid in &reads {
                    self.answer_read(&job.service, kpid, Passable::Null)?;
                }
            }
        }
        Ok(())
    }

    /// Settles one pending read with `value` and lets go of it.
    fn answer_read(
        &mut self,
        service: &str,
        kpid: &str,
        value: Passable,
    ) -> Result<(), KernelError> {
        if matches!(
            self.state.promise_state(kpid)?,
            Some(PromiseState::Unresolved)
        ) {
            self.settle(kpid, false, &encode(&value))?;
        }
        self.state.remove_io_read(service, kpid)?;
        Ok(())
    }
}
