//! Issuing and redeeming OCAP URLs, each one a recorded capability (spec §2.6 plus the ocap
//! extension: labels, expiry, last use and revocation of one URL at a time).
//!
//! Error texts never quote the URL: they reach the daemon's log, and a URL is a bearer token.

use super::clock::now_ms;
use super::error::KernelError;
use super::identity::Redeemable;
use super::ids::is_kref;
use super::machine::Kernel;
use super::ocap_url::{self, UrlError};
use super::state::Capability;

/// What the issuer says about a new capability.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueOptions {
    /// A description for `caps list`.
    pub label: Option<String>,
    /// When it stops redeeming, in milliseconds since the epoch.
    pub expires: Option<u64>,
}

/// A freshly issued capability: its record and the URL (shown once, never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The record.
    pub capability: Capability,
    /// The OCAP URL.
    pub url: String,
}

impl Kernel {
    /// Issues a new URL for `kref` and records it. Like the reference, the kref need not exist.
    pub(super) fn issue_capability(
        &mut self,
        kref: &str,
        options: IssueOptions,
    ) -> Result<Issued, KernelError> {
        self.issue_on_budget(kref, options, None)
    }

    /// [`Kernel::issue_capability`], for a URL handed back by invocations that draw on the
    /// budget of capability `root` (see `Kernel::draw_on`), when there is one.
    pub(super) fn issue_on_budget(
        &mut self,
        kref: &str,
        options: IssueOptions,
        root: Option<String>,
    ) -> Result<Issued, KernelError> {
        if !is_kref(kref) {
            return Err(refused(format!("{kref:?} is not a kernel reference")));
        }
        let sealed = loop {
            let sealed = self
                .identity
                .sealer
                .seal(kref)
                .map_err(|e| refused(format!("no randomness to issue a capability: {e}")))?;
            // Ids are 64 bits of a random salt's digest: a repeat is astronomically unlikely,
            // but would silently merge two capabilities, so draw again.
            if self.state.capability(&sealed.id)?.is_none() {
                break sealed;
            }
        };
        let created = now_ms();
        let capability = Capability {
            id: sealed.id,
            kref: kref.to_string(),
            label: options.label,
            created,
            last_used: None,
            expires: options.expires,
            revoked: None,
            root,
            minted: 0,
        };
        self.state.put_capability(&capability)?;
        #[cfg(feature = "remote")]
        self.keep_for_outside(&[kref.to_string()])?;
        #[cfg(feature = "remote")]
        let hints = self.url_hints()?;
        #[cfg(not(feature = "remote"))]
        let hints = Vec::new();
        let url = ocap_url::format(&sealed.oid, &self.identity.peer_id, &hints);
        Ok(Issued { capability, url })
    }

    /// The capability a URL names, if it still grants anything; records the use.
    pub(super) fn redeem_capability(
        &mut self,
        target: Redeemable,
    ) -> Result<Capability, KernelError> {
        let opened = match self.identity.open(target) {
            Redeemable::Here(opened) => opened,
            Redeemable::Elsewhere(_) => return Err(refused(self.elsewhere_refusal())),
            Redeemable::Refused(e) => return Err(url_refusal(e)),
            Redeemable::Unopened(_) => unreachable!("Identity::open opens every URL"),
        };
        let Some(mut capability) = self.state.capability(&opened.id)? else {
            return Err(refused(
                "ocapURL is not a capability this kernel has on record (issued before a clearState?)"
                    .into(),
            ));
        };
        let now = now_ms();
        check_usable(&capability, now)?;
        capability.last_used = Some(now);
        self.state.put_capability(&capability)?;
        Ok(capability)
    }

    /// Why another kernel's URL is refused where only this kernel's are redeemed: the
    /// reference's texts, without networking and with it.
    fn elsewhere_refusal(&self) -> String {
        #[cfg(feature = "remote")]
        if self.remotes.is_running() {
            return "ocapURL from a host that's not me".into();
        }
        "Remote comms not initialized".into()
    }

    /// Revokes the one capability `id`; the object and its other URLs are untouched.
    pub(super) fn revoke_capability(&mut self, id: &str) -> Result<Capability, KernelError> {
        let Some(mut capability) = self.state.capability(id)? else {
            return Err(refused(format!("No capability {id}")));
        };
        capability.revoked.get_or_insert_with(now_ms);
        self.state.put_capability(&capability)?;
        Ok(capability)
    }
}

/// Refuses a revoked or expired capability, naming it by id.
fn check_usable(capability: &Capability, now: u64) -> Result<(), KernelError> {
    let id = &capability.id;
    if capability.revoked.is_some() {
        return Err(refused(format!("Capability {id} has been revoked")));
    }
    match capability.expires {
        Some(expires) if now >= expires => Err(refused(format!(
            "Capability {id} expired {} s ago",
            (now - expires) / 1000
        ))),
        _ => Ok(()),
    }
}

fn url_refusal(e: UrlError) -> KernelError {
    refused(e.to_string())
}

fn refused(why: String) -> KernelError {
    KernelError::Refused(why)
}
