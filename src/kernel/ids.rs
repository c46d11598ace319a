//! Kernel and vat reference grammar (spec §4.1).

/// Whether `s` is `<prefix><digits>` with at least one digit.
fn numbered(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `^v\d+$`.
pub fn is_vat_id(s: &str) -> bool {
    numbered(s, "v")
}

/// `^r\d+$`: a remote endpoint.
pub fn is_remote_id(s: &str) -> bool {
    numbered(s, "r")
}

/// A remote ref in this kernel's frame (spec §4.1 `RRef`): `ro±N`, `rp±N`.
pub fn is_rref(s: &str) -> bool {
    ["ro+", "ro-", "rp+", "rp-"]
        .iter()
        .any(|p| s.strip_prefix(p).is_some_and(|n| numbered(n, "")))
}

/// Whether an endpoint's ref was allocated by the endpoint (its export, `o+…`/`p+…` of a vat,
/// `ro+…`/`rp+…` of a remote) rather than by this kernel.
pub fn is_endpoint_export(eref: &str) -> bool {
    match eref.strip_prefix('r') {
        Some(rest) => is_export(rest),
        None => is_export(eref),
    }
}

/// `^s\d+$`.
pub fn is_subcluster_id(s: &str) -> bool {
    numbered(s, "s")
}

/// `^k[op]\d+$`.
pub fn is_kref(s: &str) -> bool {
    numbered(s, "ko") || numbered(s, "kp")
}

/// Whether a kref names a promise (`kpN`).
pub fn is_promise(kref: &str) -> bool {
    kref.starts_with("kp")
}

/// A vat ref (spec §4.1 `VRef`): `o+N`, `o-N`, `p±N`, or liveslots' `o+d…`/`o+v…` virtual refs.
pub fn is_vref(s: &str) -> bool {
    if let Some(rest) = s
        .strip_prefix("p+")
        .or_else(|| s.strip_prefix("p-"))
        .or_else(|| s.strip_prefix("o-"))
    {
        return numbered(rest, "");
    }
    let Some(rest) = s.strip_prefix("o+") else {
        return false;
    };
    if numbered(rest, "") {
        return true;
    }
    let Some(virt) = rest.strip_prefix('d').or_else(|| rest.strip_prefix('v')) else {
        return false;
    };
    let (kind, instance) = match virt.split_once('/') {
        Some(parts) => parts,
        None => return false,
    };
    let (instance, facet) = match instance.split_once(':') {
        Some((i, f)) => (i, Some(f)),
        None => (instance, None),
    };
    numbered(kind, "") && numbered(instance, "") && facet.is_none_or(|f| numbered(f, ""))
}

/// Whether a vat ref was allocated by the vat (`+`), as opposed to imported from the kernel.
pub fn is_export(vref: &str) -> bool {
    vref.as_bytes().get(1) == Some(&b'+')
}

/// Whether a vat ref is an ephemeral export (`o+N`, not the root `o+0`): an object that lives
/// only in the vat's heap, unlike its root (remade by `buildRootObject`) and its virtual and
/// durable objects (`o+vN/…`, `o+dN/…`, kept in its vatstore).
pub fn is_ephemeral_export(vref: &str) -> bool {
    vref.strip_prefix("o+")
        .is_some_and(|n| numbered(n, "") && n != "0")
}

/// Whether a vat ref names a promise.
pub fn is_vpromise(vref: &str) -> bool {
    vref.starts_with('p')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_4_1_grammar() {
        for good in ["o+0", "o+10", "o-1", "p+5", "p-1", "o+d6/1", "o+v12/3:1"] {
            assert!(is_vref(good), "{good}");
        }
        for bad in [
            "o+", "o-d6/1", "p+d1/1", "o+d6", "o+x1/2", "ko4", "o+1a", "o+d6/1:",
        ] {
            assert!(!is_vref(bad), "{bad}");
        }
        assert!(
            is_kref("ko4")
                && is_kref("kp12")
                && !is_kref("k4")
                && !is_kref("kx1")
                && !is_kref("ko")
        );
        assert!(is_vat_id("v10") && !is_vat_id("v") && !is_vat_id("x1"));
        assert!(is_subcluster_id("s1") && !is_subcluster_id("s1a"));
        assert!(is_remote_id("r12") && !is_remote_id("r") && !is_remote_id("remote"));
        assert!(is_rref("ro+1") && is_rref("rp-12") && !is_rref("ro1") && !is_rref("o+1"));
        assert!(is_endpoint_export("ro+3") && !is_endpoint_export("rp-3"));
        assert!(is_endpoint_export("o+d6/1") && !is_endpoint_export("p-1"));
        assert!(is_export("o+d6/1") && !is_export("o-3") && is_vpromise("p+5"));
        for ephemeral in ["o+1", "o+10"] {
            assert!(is_ephemeral_export(ephemeral), "{ephemeral}");
        }
        for kept in ["o+0", "o+d6/1", "o+v12/3:1", "o-4", "p+5", "o+"] {
            assert!(!is_ephemeral_export(kept), "{kept}");
        }
    }
}
