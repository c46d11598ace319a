//! Kernel identifiers as `ocapctl` takes them on the command line, checked against the
//! daemon's own grammars (spec §2, §4.1) before anything is sent: `VatId = ^v\d+$`,
//! `SubclusterId = ^s\d+$`, `KRef = ^k[op]\d+$` (ASCII digits, as in JavaScript).
//!
//! Each type parses with [`FromStr`], so `clap` rejects a malformed id as a usage error (exit 2)
//! with the message below.

use std::fmt;
use std::str::FromStr;

const VAT_FORM: &str = "expected a vat id: 'v' and a number, e.g. v1";
const KREF_FORM: &str = "expected a kernel reference: 'ko' or 'kp' and a number, e.g. ko4 or kp1";
const VAT_OR_SUBCLUSTER_FORM: &str =
    "expected a vat id ('v' and a number, e.g. v1) or a subcluster id ('s' and a number, e.g. s1)";

/// Whether `text` is `prefix` followed by one or more ASCII digits.
fn prefixed_number(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix)
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// A vat id, `v1`, `v2`, ….
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VatId(String);

/// A subcluster id, `s1`, `s2`, ….
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubclusterId(String);

/// A kernel object or promise reference, `ko4`, `kp1`, ….
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KRef(String);

/// What `ocapctl terminate` takes: a vat or a whole subcluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VatOrSubcluster {
    /// `vN`: `terminateVat`.
    Vat(VatId),
    /// `sN`: `terminateSubcluster`.
    Subcluster(SubclusterId),
}

impl FromStr for VatId {
    type Err = String;
    fn from_str(text: &str) -> Result<VatId, String> {
        if prefixed_number(text, "v") {
            Ok(VatId(text.to_string()))
        } else {
            Err(VAT_FORM.into())
        }
    }
}

impl FromStr for KRef {
    type Err = String;
    fn from_str(text: &str) -> Result<KRef, String> {
        if prefixed_number(text, "ko") || prefixed_number(text, "kp") {
            Ok(KRef(text.to_string()))
        } else {
            Err(KREF_FORM.into())
        }
    }
}

impl FromStr for VatOrSubcluster {
    type Err = String;
    fn from_str(text: &str) -> Result<VatOrSubcluster, String> {
        if prefixed_number(text, "v") {
            Ok(VatOrSubcluster::Vat(VatId(text.to_string())))
        } else if prefixed_number(text, "s") {
            Ok(VatOrSubcluster::Subcluster(SubclusterId(text.to_string())))
        } else {
            Err(VAT_OR_SUBCLUSTER_FORM.into())
        }
    }
}

macro_rules! as_str {
    ($($name:ident),*) => {$(
        impl $name {
            /// The id as sent to the daemon.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

as_str!(VatId, SubclusterId, KRef);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vat_ids() {
        for good in ["v1", "v0", "v10", "v007"] {
            assert_eq!(good.parse::<VatId>().unwrap().as_str(), good);
        }
        for bad in [
            "", "v", "V1", "v1a", "v-1", "v+1", " v1", "v1 ", "s1", "ko1", "v١",
        ] {
            assert_eq!(bad.parse::<VatId>().unwrap_err(), VAT_FORM, "{bad:?}");
        }
    }

    #[test]
    fn krefs() {
        for good in ["ko1", "kp1", "ko4", "kp123"] {
            assert_eq!(good.parse::<KRef>().unwrap().to_string(), good);
        }
        for bad in [
            "", "k1", "ko", "kp", "kx1", "KO1", "o+1", "p-1", "ko1.", "v1", "ko٣",
        ] {
            assert_eq!(bad.parse::<KRef>().unwrap_err(), KREF_FORM, "{bad:?}");
        }
    }

    #[test]
    fn terminate_takes_a_vat_or_a_subcluster() {
        assert_eq!(
            "v3".parse::<VatOrSubcluster>().unwrap(),
            VatOrSubcluster::Vat(VatId("v3".into()))
        );
        assert_eq!(
            "s12".parse::<VatOrSubcluster>().unwrap(),
            VatOrSubcluster::Subcluster(SubclusterId("s12".into()))
        );
        for bad in ["", "x1", "s", "v", "ko4", "1", "sv1"] {
            let err = bad.parse::<VatOrSubcluster>().unwrap_err();
            assert!(err.contains("v1") && err.contains("s1"), "{bad:?}: {err}");
        }
    }
}
