//! The kernel-control methods (spec §2): each parses its params with the reference's schema,
//! becomes a kernel [`Call`], and answers once the kernel has committed its effects.

use super::schemas;
use crate::daemon::shared::Shared;
use crate::jsonrpc::RpcError;
use crate::kernel::{Call, KernelError, LaunchPlan, Redeemable};
use serde_json::Value;

/// The kernel call for `method`, or `None` if `method` is not a kernel-control method.
pub fn parse(method: &str, params: &Value) -> Option<Result<Call, RpcError>> {
    let call = match method {
        "launchSubcluster" => {
            schemas::launch_subcluster(params).map(|config| Call::Launch(LaunchPlan::from(config)))
        }
        "queueMessage" => schemas::queue_message(params).map(|q| Call::QueueMessage {
            target: q.target,
            method: q.method,
            args: q.args,
        }),
        "pingVat" => schemas::vat_id(params).map(Call::PingVat),
        "restartVat" => schemas::vat_id(params).map(Call::RestartVat),
        "terminateVat" => schemas::vat_id(params).map(Call::TerminateVat),
        "terminateSubcluster" => schemas::subcluster_id(params).map(Call::TerminateSubcluster),
        "terminateAllVats" => schemas::no_params(params).map(|()| Call::TerminateAllVats),
        "collectGarbage" => schemas::no_params(params).map(|()| Call::CollectGarbage),
        "clearState" => schemas::no_params(params).map(|()| Call::ClearState),
        "revoke" => schemas::kref(params).map(Call::Revoke),
        "isRevoked" => schemas::kref(params).map(Call::IsRevoked),
        "issueOcapURL" => schemas::kref(params).map(Call::IssueOcapUrl),
        "redeemOcapURL" => {
            schemas::url(params).map(|url| Call::RedeemOcapUrl(Redeemable::Unopened(url)))
        }
        #[cfg(feature = "remote")]
        "initRemoteComms" => schemas::remote_comms_options(params).map(|o| {
            Call::InitRemoteComms(crate::kernel::RemoteOptions {
                relays: o.relays,
                direct_listen_addresses: o.direct_listen_addresses,
                max_retry_attempts: o.max_retry_attempts,
                max_queue: o.max_queue,
                max_url_relay_hints: o.max_url_relay_hints,
                max_known_relays: o.max_known_relays,
                allowed_ws_hosts: o.allowed_ws_hosts,
            })
        }),
        #[cfg(feature = "remote")]
        "registerLocationHints" => {
            schemas::location_hints(params).map(|h| Call::RegisterLocationHints {
                peer_id: h.peer_id,
                hints: h.hints,
            })
        }
        #[cfg(feature = "remote")]
        "listPeers" => schemas::no_params(params).map(|()| Call::ListPeers),
        _ => return None,
    };
    Some(call)
}

/// Runs a parsed call; kernel refusals are `-32603` with the kernel's message, as in the reference.
pub async fn call(shared: &Shared, call: Call) -> Result<Value, RpcError> {
    shared.kernel.call(call).await.map_err(rpc_error)
}

/// The RPC error for a kernel error: `-32603` with its message in every case (the reference
/// sends every handler error so); a failure of the kernel itself, unlike a refusal, is also
/// logged, since it is the operator's problem rather than the caller's.
pub fn rpc_error(e: KernelError) -> RpcError {
    if !e.is_refusal() {
        tracing::error!("kernel call failed: {e}");
    }
    RpcError::internal(e.to_string())
}
