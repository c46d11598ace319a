//! Remote references and their polarity (remote-comms.md §5.1): `ro±N` (objects) and `rp±N`
//! (promises). On the wire every ref is in the **receiver's** frame: the sender flips `+`↔`-`
//! (`translateRefKtoE`) and the receiver takes refs as they come. GC deliveries from the
//! reference arrive unflipped (§10.3); [`gc_candidates`] gives both readings for such refs.

use std::fmt;

/// Whether a remote ref names an object or a promise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `ro…`
    Object,
    /// `rp…`
    Promise,
}

/// A parsed `r[op][+-]N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RRef {
    /// Object or promise.
    pub kind: Kind,
    /// `+`: allocated by the side whose frame this is (its export); `-`: by the other side.
    pub plus: bool,
    /// The number.
    pub n: u64,
}

/// A string that is not a remote ref.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a remote reference: {0:?}")]
pub struct BadRef(pub String);

impl RRef {
    /// Parses `ro+1`, `rp-12`, …; refuses anything else (leading zeros, signs, spaces, overflow).
    pub fn parse(text: &str) -> Result<RRef, BadRef> {
        let bad = || BadRef(text.to_string());
        let rest = text.strip_prefix('r').ok_or_else(bad)?;
        let (kind, rest) = match rest.as_bytes().first() {
            Some(b'o') => (Kind::Object, &rest[1..]),
            Some(b'p') => (Kind::Promise, &rest[1..]),
            _ => return Err(bad()),
        };
        let (plus, digits) = match rest.as_bytes().first() {
            Some(b'+') => (true, &rest[1..]),
            Some(b'-') => (false, &rest[1..]),
            _ => return Err(bad()),
        };
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !canonical {
            return Err(bad());
        }
        let n = digits.parse().map_err(|_| bad())?;
        Ok(RRef { kind, plus, n })
    }

    /// The same ref seen from the other kernel.
    pub fn flipped(self) -> RRef {
        RRef {
            plus: !self.plus,
            ..self
        }
    }
}

impl fmt::Display for RRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Object => 'o',
            Kind::Promise => 'p',
        };
        let sign = if self.plus { '+' } else { '-' };
        write!(f, "r{kind}{sign}{}", self.n)
    }
}

/// `text` with its polarity flipped (what a sender writes for a ref in its own c-list).
pub fn flip(text: &str) -> Result<String, BadRef> {
    Ok(RRef::parse(text)?.flipped().to_string())
}

/// Every ref of `refs` flipped.
pub fn flip_all(refs: &[String]) -> Result<Vec<String>, BadRef> {
    refs.iter().map(|r| flip(r)).collect()
}

/// The readings of a ref received in a GC delivery, in the order to look them up in the c-list:
/// the receiver-frame form as sent by ocapd, then the inverted form the reference sends
/// (remote-comms.md §10.3). Neither may create an object: GC refs that match nothing are ignored.
pub fn gc_candidates(text: &str) -> Result<[String; 2], BadRef> {
    let rref = RRef::parse(text)?;
    Ok([rref.to_string(), rref.flipped().to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_parse_and_print() {
        for text in ["ro+1", "ro-1", "rp+0", "rp-123456789"] {
            assert_eq!(RRef::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            RRef::parse("rp-7").unwrap(),
            RRef {
                kind: Kind::Promise,
                plus: false,
                n: 7
            }
        );
    }

    #[test]
    fn flipping_swaps_the_sign_only() {
        assert_eq!(flip("ro+1").unwrap(), "ro-1");
        assert_eq!(flip("ro-1").unwrap(), "ro+1");
        assert_eq!(flip("rp+42").unwrap(), "rp-42");
        assert_eq!(flip(&flip("rp-9").unwrap()).unwrap(), "rp-9");
        assert_eq!(
            flip_all(&["ro+1".into(), "rp-2".into()]).unwrap(),
            vec!["ro-1", "rp+2"]
        );
    }

    #[test]
    fn the_captured_exchange_is_consistent() {
        // remote-comms.md §4.1: the requester sent `message ro-1 … result rp+1`; the issuer's
        // `notify` answered `rp-1`: each side's own ref, flipped for the other.
        assert_eq!(flip("rp+1").unwrap(), "rp-1");
        assert_eq!(gc_candidates("ro+5").unwrap(), ["ro+5", "ro-5"]);
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "r",
            "ro",
            "ro+",
            "ro1",
            "ko1",
            "rx+1",
            "ro+01",
            "ro+-1",
            "ro+1 ",
            " ro+1",
            "ro++1",
            "ro+1a",
            "ro+99999999999999999999999",
            "RO+1",
            "ro+１",
        ] {
            assert!(RRef::parse(bad).is_err(), "{bad:?}");
            assert!(flip(bad).is_err(), "{bad:?}");
        }
    }
}
