//! One crank (spec §4.6): take the next item, deliver it, and commit or roll back as a unit.
//!
//! A crank is a savepoint inside the batch transaction. When the vat fails (illegal syscall,
//! delivery error, fault, time budget), everything it did is rolled back; then, in a fresh
//! savepoint, the item is taken off the queue for good, its result is rejected with the
//! `VAT_FATAL` reason, and the vat is terminated.

use super::error::KernelError;
use super::io::IoJob;
use super::lifecycle::StartError;
use super::machine::Kernel;
use super::router::Route;
use super::state::{PromiseState, RunItem};
use crate::capdata::CapData;
use crate::vat::{Delivery, Job, Message, Resolution, VatFault};

/// What one crank does.
enum Work {
    /// Deliver `bringOutYourDead` to this vat.
    Reap(String),
    /// Let this vat do what woke it (its timers, finished outside work).
    Wake(String),
    /// Settle IO channel reads with input that arrived.
    Io(IoJob),
    /// Process a run-queue item.
    Item(RunItem),
}

/// How a delivery to a vat went.
enum Delivered {
    /// Done; commit.
    Ok,
    /// The vat failed: roll back, then reject and terminate.
    VatFailed {
        vat: String,
        code: &'static str,
        detail: String,
    },
    /// The vat asked to exit.
    Exit {
        vat: String,
        failure: bool,
        info: CapData,
    },
}

impl Kernel {
    /// Runs one crank if there is work; returns whether there was. Vats due for
    /// `bringOutYourDead` go first, then the run queue.
    pub fn crank(&mut self) -> Result<bool, KernelError> {
        self.begin_savepoint()?;
        match self.take_work() {
            Ok(Some(Work::Reap(vat))) => {
                let delivered = self.perform_reap(&vat);
                self.conclude(delivered, None)?;
                Ok(true)
            }
            Ok(Some(Work::Wake(vat))) => {
                let delivered = self.run_vat(&vat, Job::Wake);
                self.conclude(delivered, None)?;
                Ok(true)
            }
            Ok(Some(Work::Io(job))) => {
                let settled = self.run_io_job(&job).map(|()| Delivered::Ok);
                self.conclude(settled, None)?;
                Ok(true)
            }
            Ok(Some(Work::Item(item))) => {
                let delivered = self.perform(&item);
                if let Err(e) = self.conclude(delivered, Some(&item)) {
                    self.skip_unprocessable(&e)?;
                    return Err(e);
                }
                Ok(true)
            }
            Ok(None) => {
                self.keep_savepoint()?;
                Ok(false)
            }
            Err(e) => {
                self.abandon_crank()?;
                self.skip_unprocessable(&e)?;
                Err(e)
            }
        }
    }

    /// The next thing to do: a vat due for `bringOutYourDead`, else a running vat that was
    /// woken or the run queue's head, taking turns while both wait; input that an IO channel's
    /// reads wait for goes before the run queue (a read is asked for through the queue, so it
    /// cannot take every turn).
    fn take_work(&mut self) -> Result<Option<Work>, KernelError> {
        if let Some(vat) = self.state.next_reap()? {
            return Ok(Some(Work::Reap(vat)));
        }
        let queue_waits = self.state.queue_length("run")? > 0;
        if let Some(vat) = self.warehouse.take_awake(queue_waits) {
            return Ok(Some(Work::Wake(vat)));
        }
        if let Some(job) = self.next_io_job()? {
            return Ok(Some(Work::Io(job)));
        }
        Ok(self.state.dequeue("run")?.map(Work::Item))
    }

    /// A run-queue item that the kernel cannot process (its state is unreadable) would fail
    /// every crank forever; it is set aside under `queue.run.unprocessable.<n>`, logged, and the
    /// kernel goes on. A failing store is not the item's fault: the batch is given up instead
    /// (see [`Kernel::lose_batch`]) and the item stays where it is.
    fn skip_unprocessable(&mut self, error: &KernelError) -> Result<(), KernelError> {
        self.note_failure(error);
        if self.store_failure().is_some() {
            return Ok(());
        }
        tracing::error!("setting aside the run queue's head, which cannot be processed: {error}");
        self.atomically(|k| k.state.set_aside_head("run"))
    }

    /// Commits or rolls back the crank by how the delivery went.
    fn conclude(
        &mut self,
        delivered: Result<Delivered, KernelError>,
        item: Option<&RunItem>,
    ) -> Result<(), KernelError> {
        match delivered {
            Ok(Delivered::Ok) => self.finish_crank(),
            Ok(Delivered::Exit { vat, failure, info }) => {
                let reason = exit_reason(&info);
                if failure {
                    self.abandon_crank()?;
                    self.atomically(|k| k.drop_failed_item(item, "VAT_FATAL:EXIT", &reason))?;
                } else {
                    self.finish_crank()?;
                }
                self.atomically(|k| k.terminate_vat(&vat, &reason))
            }
            Ok(Delivered::VatFailed { vat, code, detail }) => {
                tracing::warn!(vat, "crank failed: {code}: {detail}");
                self.abandon_crank()?;
                self.atomically(|k| {
                    k.drop_failed_item(item, code, &detail)?;
                    k.terminate_vat(&vat, &format!("{code}: {detail}"))
                })
            }
            Err(e) => {
                self.note_failure(&e);
                self.abandon_crank()?;
                Err(e)
            }
        }
    }

    fn perform_reap(&mut self, vat: &str) -> Result<Delivered, KernelError> {
        if self.state.vat_config(vat)?.is_none() || !self.warehouse.is_loaded(vat) {
            return Ok(Delivered::Ok);
        }
        self.deliver(vat, &Delivery::BringOutYourDead)
    }

    fn finish_crank(&mut self) -> Result<(), KernelError> {
        self.collect_garbage()?;
        self.keep_savepoint()?;
        self.fire_settled_waiters();
        Ok(())
    }

    fn abandon_crank(&mut self) -> Result<(), KernelError> {
        self.undo_savepoint()
    }

    /// After a rollback the item is back at the head of the queue: take it off for good and
    /// reject its result with the vat's failure.
    fn drop_failed_item(
        &mut self,
        item: Option<&RunItem>,
        code: &str,
        detail: &str,
    ) -> Result<(), KernelError> {
        let Some(item) = item else { return Ok(()) };
        let again = self.state.dequeue("run")?;
        if again.as_ref() != Some(item) {
            tracing::error!(
                "run queue changed under a failed crank; expected {item:?}, found {again:?}"
            );
            return Ok(());
        }
        if let RunItem::Send {
            message: Message {
                result: Some(kpid), ..
            },
            ..
        } = item
        {
            self.reject_with(kpid, code, detail)?;
        }
        self.state.decref_item(item)
    }

    fn perform(&mut self, item: &RunItem) -> Result<Delivered, KernelError> {
        match item {
            RunItem::Send { target, message } => self.perform_send(item, target, message),
            RunItem::Notify { endpoint, kpid } => self.perform_notify(item, endpoint, kpid),
        }
    }

    fn perform_send(
        &mut self,
        item: &RunItem,
        target: &str,
        message: &Message,
    ) -> Result<Delivered, KernelError> {
        match self.route(target)? {
            Route::Queue(kpid) => {
                // The item keeps its references while it waits on the promise.
                self.state.enqueue(&kpid, item)?;
                Ok(Delivered::Ok)
            }
            Route::Splat(reason) => {
                if let Some(result) = &message.result {
                    self.settle_if_unresolved(result, &reason)?;
                }
                self.state.decref_item(item)?;
                Ok(Delivered::Ok)
            }
            Route::Kernel(service) => {
                self.invoke_service(&service, message)?;
                self.state.decref_item(item)?;
                Ok(Delivered::Ok)
            }
            Route::Vat(vat, kref) => self.deliver_message(item, &vat, &kref, message),
            #[cfg(feature = "remote")]
            Route::Remote(remote, kref) => {
                self.deliver_to_remote(item, &remote, &kref, message)?;
                Ok(Delivered::Ok)
            }
        }
    }

    fn settle_if_unresolved(&mut self, kpid: &str, reason: &CapData) -> Result<(), KernelError> {
        if matches!(
            self.state.promise_state(kpid)?,
            Some(PromiseState::Unresolved)
        ) {
            self.settle(kpid, true, reason)?;
        }
        Ok(())
    }

    fn deliver_message(
        &mut self,
        item: &RunItem,
        vat: &str,
        kref: &str,
        message: &Message,
    ) -> Result<Delivered, KernelError> {
        if let Err(failed) = self.start_for_delivery(vat) {
            return failed;
        }
        if let Some(result) = &message.result {
            self.state.set_decider(result, Some(vat))?;
        }
        let Some((_, target)) = self.state.clist_eref(vat, kref)? else {
            return Ok(failed(
                vat,
                "VAT_FATAL:INTERNAL_ERROR",
                &format!("{vat} has no c-list entry for its object {kref}"),
            ));
        };
        let message = self.message_to_vat(vat, message)?;
        self.state.decref_item(item)?;
        self.deliver(vat, &Delivery::Message { target, message })
    }

    fn perform_notify(
        &mut self,
        item: &RunItem,
        vat: &str,
        kpid: &str,
    ) -> Result<Delivered, KernelError> {
        #[cfg(feature = "remote")]
        if super::ids::is_remote_id(vat) {
            self.notify_remote(item, vat, kpid)?;
            return Ok(Delivered::Ok);
        }
        let known =
            self.state.vat_config(vat)?.is_some() && self.state.clist_eref(vat, kpid)?.is_some();
        if !known {
            self.state.decref_item(item)?;
            return Ok(Delivered::Ok);
        }
        if let Err(failed) = self.start_for_delivery(vat) {
            return failed;
        }
        let settled = self.settled_closure(kpid)?;
        let mut resolutions = Vec::new();
        for (promise, rejected, value) in &settled {
            let vpid = self.kernel_to_vat(vat, promise)?;
            let value = self.capdata_to_vat(vat, value)?;
            resolutions.push(Resolution {
                promise: vpid,
                rejected: *rejected,
                value,
            });
        }
        self.state.decref_item(item)?;
        let delivered = self.deliver(vat, &Delivery::Notify(resolutions))?;
        // The vat forgets promises it has been told about: retire its entries (spec §14.3).
        for (promise, _, _) in &settled {
            self.state.clist_remove(vat, promise)?;
        }
        Ok(delivered)
    }

    /// `kpid` and every settled promise reachable from its value, each once.
    pub(super) fn settled_closure(
        &self,
        kpid: &str,
    ) -> Result<Vec<(String, bool, CapData)>, KernelError> {
        let mut found: Vec<(String, bool, CapData)> = Vec::new();
        let mut pending = vec![kpid.to_string()];
        while let Some(next) = pending.pop() {
            if found.iter().any(|(p, _, _)| *p == next) {
                continue;
            }
            let (rejected, value) = match self.state.promise_state(&next)? {
                Some(PromiseState::Fulfilled(v)) => (false, v),
                Some(PromiseState::Rejected(v)) => (true, v),
                _ => continue,
            };
            pending.extend(
                value
                    .slots
                    .iter()
                    .filter(|s| super::ids::is_promise(s))
                    .cloned(),
            );
            found.push((next, rejected, value));
        }
        Ok(found)
    }

    /// Starts the vat if needed; a vat that cannot start fails the crank.
    fn start_for_delivery(&mut self, vat: &str) -> Result<(), Result<Delivered, KernelError>> {
        match self.ensure_started(vat) {
            Ok(()) => Ok(()),
            Err(StartError::Kernel(e)) => Err(Err(e)),
            Err(StartError::Vat(why)) => Err(Ok(failed(
                vat,
                "VAT_FATAL:INTERNAL_ERROR",
                &format!("vat could not be started: {why}"),
            ))),
        }
    }

    /// Hands one delivery to a running vat and judges the outcome.
    fn deliver(&mut self, vat: &str, delivery: &Delivery) -> Result<Delivered, KernelError> {
        self.run_vat(vat, Job::Deliver(delivery.clone()))
    }

    /// Lets a running vat do one job (a delivery, or what woke it), applies the syscalls it
    /// made, and judges the outcome.
    fn run_vat(&mut self, vat: &str, job: Job) -> Result<Delivered, KernelError> {
        let Some(ran) = self.warehouse.run(vat, job) else {
            return Ok(failed(
                vat,
                "VAT_FATAL:INTERNAL_ERROR",
                "vat is not running",
            ));
        };
        let outcome = self.apply_syscalls(vat, ran.syscalls);
        if let Some(fault) = outcome.fault {
            return Err(fault);
        }
        if let Some(why) = outcome.illegal {
            tracing::warn!(vat, "illegal syscall: {why}");
            return Ok(failed(
                vat,
                "VAT_FATAL:ILLEGAL_SYSCALL",
                "Syscall translation error: prepare to die",
            ));
        }
        let result = match ran.result {
            Ok(result) => result,
            Err(fault) => return Ok(failed(vat, fault_code(&fault), &fault.to_string())),
        };
        if let Some(error) = result.error {
            return Ok(failed(vat, "VAT_FATAL:INTERNAL_ERROR", &error));
        }
        self.state.apply_vatstore(vat, &result.delta)?;
        self.count_delivery(vat)?;
        Ok(match outcome.exit {
            Some((failure, info)) => Delivered::Exit {
                vat: vat.to_string(),
                failure,
                info,
            },
            None => Delivered::Ok,
        })
    }
}

fn failed(vat: &str, code: &'static str, detail: &str) -> Delivered {
    Delivered::VatFailed {
        vat: vat.to_string(),
        code,
        detail: detail.to_string(),
    }
}

fn fault_code(fault: &VatFault) -> &'static str {
    match fault {
        VatFault::Timeout(_) => "VAT_FATAL:DELIVERY_TIMEOUT",
        VatFault::OutOfMemory => "VAT_FATAL:OUT_OF_MEMORY",
        VatFault::Crashed(_) => "VAT_FATAL:INTERNAL_ERROR",
    }
}

fn exit_reason(info: &CapData) -> String {
    crate::capdata::error_message(info).unwrap_or_else(|| format!("vat exited: {}", info.body))
}
