//! Smallcaps decoding (spec §8.2 "Decoding", Endo `decodeFromSmallcaps`).
//!
//! Decoding never panics: every index is checked, nesting is bounded by
//! [`MAX_DEPTH`], and malformed input becomes a [`DecodeError`].

use std::collections::{BTreeMap, HashMap};

use super::CapData;
use super::encode::starts_special;
use super::json_parse::{Json, ParseError, parse};
use super::value::Passable;

/// Maximum nesting of JSON arrays/objects accepted in a body.
pub const MAX_DEPTH: usize = 256;

/// Well-known symbol names usable as `%@@<name>`.
const WELL_KNOWN_SYMBOLS: [&str; 13] = [
    "asyncIterator",
    "hasInstance",
    "isConcatSpreadable",
    "iterator",
    "match",
    "matchAll",
    "replace",
    "search",
    "species",
    "split",
    "toPrimitive",
    "toStringTag",
    "unscopables",
];

/// Why a CapData body could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body lacks the smallcaps `#` prefix (legacy `@qclass` bodies included).
    #[error("not a smallcaps body: expected it to start with '#', got: {0}")]
    NotSmallcaps(String),
    /// The text after `#` is not valid JSON.
    #[error("invalid JSON in body at byte {offset}: {reason}")]
    Json {
        /// Byte offset within the body.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// Arrays/objects are nested too deeply.
    #[error("body nests deeper than {0} levels")]
    TooDeep(usize),
    /// A `#…` string that is not a known constant.
    #[error("unknown constant {0:?}")]
    UnknownConstant(String),
    /// A string starting with a reserved special character (`" ' ( ) * ,`).
    #[error("special character {0:?} is reserved for future use: {1:?}")]
    ReservedPrefix(char, String),
    /// A `+…`/`-…` string that is not a decimal bigint.
    #[error("invalid bigint {0:?}")]
    InvalidBigInt(String),
    /// A `%@@…` symbol that is not a well-known symbol.
    #[error("unrecognized well-known symbol {0:?}")]
    UnknownWellKnownSymbol(String),
    /// A `$…`/`&…` string whose index is not decimal digits.
    #[error("malformed slot reference {0:?}")]
    BadSlotReference(String),
    /// A slot reference past the end of `slots`.
    #[error("slot reference {reference:?} is out of range ({len} slots)")]
    SlotOutOfRange {
        /// The reference as written in the body.
        reference: String,
        /// Number of slots supplied.
        len: usize,
    },
    /// A record key beginning with `#` (only `#tag`/`#error` records exist).
    #[error("unrecognized record type {0:?}")]
    UnrecognizedRecordType(String),
    /// A record key that decodes to something other than a string.
    #[error("record key {0:?} does not decode to a string")]
    NonStringKey(String),
    /// A `#tag` record that is malformed.
    #[error("malformed tagged value: {0}")]
    BadTagged(&'static str),
    /// A `#error` record that is malformed.
    #[error("malformed error: {0}")]
    BadError(&'static str),
}

/// Decodes a smallcaps CapData body, resolving slot references.
///
/// Accepts both liveslots-style deduplicated slots and the kernel's duplicated
/// ones. A bare `$i` inherits the interface announced elsewhere for the same
/// slot string, since both denote one object.
pub fn decode(data: &CapData) -> Result<Passable, DecodeError> {
    let json = parse_body(&data.body)?;
    let mut decoder = Decoder {
        slots: &data.slots,
        ifaces: HashMap::new(),
    };
    let mut value = decoder.value(&json)?;
    fill_ifaces(&mut value, &decoder.ifaces);
    Ok(value)
}

fn parse_body(body: &str) -> Result<Json, DecodeError> {
    let Some(text) = body.strip_prefix('#') else {
        let head: String = body.chars().take(20).collect();
        return Err(DecodeError::NotSmallcaps(head));
    };
    parse(text, MAX_DEPTH).map_err(|e| match e {
        // +1: offsets count from the start of the body, including '#'.
        ParseError::Syntax { offset, reason } => DecodeError::Json {
            offset: offset + 1,
            reason,
        },
        ParseError::TooDeep { limit } => DecodeError::TooDeep(limit),
    })
}

struct Decoder<'a> {
    slots: &'a [String],
    /// First interface seen for each slot string.
    ifaces: HashMap<String, String>,
}

impl Decoder<'_> {
    fn value(&mut self, json: &Json) -> Result<Passable, DecodeError> {
        Ok(match json {
            Json::Null => Passable::Null,
            Json::Bool(b) => Passable::Bool(*b),
            Json::Number(x) => Passable::Number(*x),
            Json::String(s) => self.string(s)?,
            Json::Array(items) => Passable::Array(
                items
                    .iter()
                    .map(|v| self.value(v))
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(entries) => self.object(json, entries)?,
        })
    }

    fn string(&mut self, s: &str) -> Result<Passable, DecodeError> {
        if !starts_special(s) {
            return Ok(Passable::String(s.to_string()));
        }
        let rest = s.get(1..).unwrap_or_default();
        match s.as_bytes().first() {
            Some(b'!') => Ok(Passable::String(rest.to_string())),
            Some(b'%') => symbol(rest),
            Some(b'#') => constant(s),
            Some(b'+' | b'-') => bigint(s),
            Some(b'$') => self.remotable(s),
            Some(b'&') => self.promise(s),
            _ => {
                let c = s.chars().next().unwrap_or_default();
                Err(DecodeError::ReservedPrefix(c, s.to_string()))
            }
        }
    }

    fn object(&mut self, json: &Json, entries: &[(String, Json)]) -> Result<Passable, DecodeError> {
        if json.get("#tag").is_some() {
            return self.tagged(json, entries);
        }
        if json.get("#error").is_some() {
            return self.error(json, entries);
        }
        let mut record = BTreeMap::new();
        for (key, value) in entries {
            // Entries are in JS order, so on a key collision the last wins
            // exactly as with Object.fromEntries.
            record.insert(self.key(key)?, self.value(value)?);
        }
        Ok(Passable::Record(record))
    }

    fn key(&mut self, key: &str) -> Result<String, DecodeError> {
        if key.starts_with('#') {
            return Err(DecodeError::UnrecognizedRecordType(key.to_string()));
        }
        match self.string(key) {
            Ok(Passable::String(name)) => Ok(name),
            _ => Err(DecodeError::NonStringKey(key.to_string())),
        }
    }

    fn tagged(&mut self, json: &Json, entries: &[(String, Json)]) -> Result<Passable, DecodeError> {
        if entries.iter().any(|(k, _)| k != "#tag" && k != "payload") {
            return Err(DecodeError::BadTagged("unexpected properties"));
        }
        let Some(Json::String(tag)) = json.get("#tag") else {
            return Err(DecodeError::BadTagged("the tag must be a string"));
        };
        let Passable::String(tag) = self.string(tag)? else {
            return Err(DecodeError::BadTagged("the tag must decode to a string"));
        };
        let payload = json
            .get("payload")
            .ok_or(DecodeError::BadTagged("missing payload"))?;
        Ok(Passable::Tagged {
            tag,
            payload: Box::new(self.value(payload)?),
        })
    }

    /// Like Endo, extra properties (`cause`, …) are decoded for validity and
    /// then dropped; only `message` is forbidden.
    fn error(&mut self, json: &Json, entries: &[(String, Json)]) -> Result<Passable, DecodeError> {
        if json.get("message").is_some() {
            return Err(DecodeError::BadError("unexpected property \"message\""));
        }
        let message = self.error_text(json.get("#error"), "message must be a string")?;
        let name = self.error_text(json.get("name"), "name must be a string")?;
        let error_id = match json.get("errorId") {
            None => None,
            id => Some(self.error_text(id, "errorId must be a string")?),
        };
        for (key, value) in entries {
            if !matches!(key.as_str(), "#error" | "name" | "errorId") {
                self.value(value)?;
            }
        }
        Ok(Passable::Error {
            name,
            message,
            error_id,
        })
    }

    fn error_text(
        &mut self,
        field: Option<&Json>,
        problem: &'static str,
    ) -> Result<String, DecodeError> {
        match field {
            Some(Json::String(s)) => match self.string(s)? {
                Passable::String(text) => Ok(text),
                _ => Err(DecodeError::BadError(problem)),
            },
            _ => Err(DecodeError::BadError(problem)),
        }
    }

    fn remotable(&mut self, s: &str) -> Result<Passable, DecodeError> {
        let rest = s.get(1..).unwrap_or_default();
        let (index, iface) = match rest.split_once('.') {
            Some((index, iface)) => (index, Some(iface.to_string())),
            None => (rest, None),
        };
        let slot = self.slot(s, index)?;
        if let Some(iface) = &iface {
            self.ifaces
                .entry(slot.clone())
                .or_insert_with(|| iface.clone());
        }
        Ok(Passable::Remotable { slot, iface })
    }

    fn promise(&mut self, s: &str) -> Result<Passable, DecodeError> {
        let slot = self.slot(s, s.get(1..).unwrap_or_default())?;
        Ok(Passable::Promise { slot })
    }

    /// Looks up a slot by its decimal index text (leading zeros allowed, as
    /// JavaScript's `Number()` allows them).
    fn slot(&self, reference: &str, index: &str) -> Result<String, DecodeError> {
        if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DecodeError::BadSlotReference(reference.to_string()));
        }
        let out_of_range = || DecodeError::SlotOutOfRange {
            reference: reference.to_string(),
            len: self.slots.len(),
        };
        let index: usize = index.parse().map_err(|_| out_of_range())?;
        self.slots.get(index).cloned().ok_or_else(out_of_range)
    }
}

fn constant(s: &str) -> Result<Passable, DecodeError> {
    Ok(match s {
        "#undefined" => Passable::Undefined,
        "#NaN" => Passable::Number(f64::NAN),
        "#Infinity" => Passable::Number(f64::INFINITY),
        "#-Infinity" => Passable::Number(f64::NEG_INFINITY),
        _ => return Err(DecodeError::UnknownConstant(s.to_string())),
    })
}

/// `+digits` / `-digits`, normalised to canonical decimal (`-0` → `0`).
/// Stricter than JavaScript's `BigInt()`, which also trims whitespace.
fn bigint(s: &str) -> Result<Passable, DecodeError> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        _ => (false, s.get(1..).unwrap_or_default()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::InvalidBigInt(s.to_string()));
    }
    let trimmed = digits.trim_start_matches('0');
    Ok(Passable::BigInt(match (trimmed.is_empty(), negative) {
        (true, _) => "0".to_string(),
        (false, true) => format!("-{trimmed}"),
        (false, false) => trimmed.to_string(),
    }))
}

/// `@@name` must be a well-known symbol; `@@@x` escapes the registered
/// symbol `@@x`; anything else is a registered symbol name.
fn symbol(name: &str) -> Result<Passable, DecodeError> {
    if let Some(known) = name.strip_prefix("@@")
        && !known.starts_with('@')
        && !WELL_KNOWN_SYMBOLS.contains(&known)
    {
        return Err(DecodeError::UnknownWellKnownSymbol(name.to_string()));
    }
    Ok(Passable::Symbol(name.to_string()))
}

/// Gives bare `$i` references the interface announced for the same slot
/// elsewhere in the body (liveslots maps both to one presence). Done after
/// decoding because JS key order may print the bare reference first.
fn fill_ifaces(value: &mut Passable, ifaces: &HashMap<String, String>) {
    if ifaces.is_empty() {
        return;
    }
    match value {
        Passable::Remotable { slot, iface } if iface.is_none() => {
            *iface = ifaces.get(slot).cloned();
        }
        Passable::Array(items) => items.iter_mut().for_each(|v| fill_ifaces(v, ifaces)),
        Passable::Record(map) => map.values_mut().for_each(|v| fill_ifaces(v, ifaces)),
        Passable::Tagged { payload, .. } => fill_ifaces(payload, ifaces),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capdata::encode;

    fn data(body: &str, slots: &[&str]) -> CapData {
        CapData {
            body: body.into(),
            slots: slots.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn ok(body: &str) -> Passable {
        decode(&data(body, &[])).unwrap()
    }

    fn err(body: &str) -> DecodeError {
        decode(&data(body, &[])).unwrap_err()
    }

    fn s(text: &str) -> Passable {
        Passable::String(text.into())
    }

    fn foo(slot: &str) -> Passable {
        Passable::Remotable {
            slot: slot.into(),
            iface: Some("Alleged: Foo".into()),
        }
    }

    #[test]
    fn decodes_spec_table() {
        assert_eq!(ok(r#"#"hello""#), s("hello"));
        assert_eq!(ok(r#"#"!$not a slot""#), s("$not a slot"));
        assert_eq!(ok(r##"#"#undefined""##), Passable::Undefined);
        assert_eq!(ok("#null"), Passable::Null);
        assert_eq!(ok(r##"#"+10""##), Passable::BigInt("10".into()));
        assert_eq!(ok(r##"#"-7""##), Passable::BigInt("-7".into()));
        let record = ok(r##"#{"!#x":3,"a":2,"b":1}"##);
        let Passable::Record(map) = record else {
            panic!("not a record")
        };
        assert_eq!(map.keys().collect::<Vec<_>>(), ["#x", "a", "b"]);
        let error = ok(r##"#{"#error":"bad type","name":"TypeError"}"##);
        let expected = Passable::Error {
            name: "TypeError".into(),
            message: "bad type".into(),
            error_id: None,
        };
        assert_eq!(error, expected);
        let tagged = ok(r##"#{"#tag":"copySet","payload":["a","b"]}"##);
        let expected = Passable::Tagged {
            tag: "copySet".into(),
            payload: Box::new(Passable::Array(vec![s("a"), s("b")])),
        };
        assert_eq!(tagged, expected);
        let promise = decode(&data(r##"#"&0""##, &["kp12"])).unwrap();
        assert_eq!(
            promise,
            Passable::Promise {
                slot: "kp12".into()
            }
        );
    }

    #[test]
    fn decodes_special_values() {
        assert!(matches!(ok(r##"#"#NaN""##), Passable::Number(x) if x.is_nan()));
        assert_eq!(ok(r##"#"#Infinity""##), Passable::Number(f64::INFINITY));
        assert_eq!(
            ok(r##"#"#-Infinity""##),
            Passable::Number(f64::NEG_INFINITY)
        );
        assert_eq!(
            ok(r#"#"%@@asyncIterator""#),
            Passable::Symbol("@@asyncIterator".into())
        );
        assert_eq!(ok(r#"#"%@@@x""#), Passable::Symbol("@@@x".into()));
        assert_eq!(ok(r#"#"!!x""#), s("!x"));
        assert_eq!(ok(r#"#"!-3""#), s("-3"));
        assert_eq!(ok(r##"#"-007""##), Passable::BigInt("-7".into()));
        assert_eq!(ok(r##"#"-0""##), Passable::BigInt("0".into()));
        assert_eq!(ok("#1e400"), Passable::Number(f64::INFINITY));
    }

    #[test]
    fn accepts_duplicated_and_deduped_slots() {
        let kernel = data(r#"#["$0.Alleged: Foo","$1.Alleged: Foo"]"#, &["ko7", "ko7"]);
        let expected = Passable::Array(vec![foo("ko7"), foo("ko7")]);
        assert_eq!(decode(&kernel).unwrap(), expected);
        let liveslots = data(r#"#["$0.Alleged: Foo","$0"]"#, &["ko7"]);
        assert_eq!(decode(&liveslots).unwrap(), expected);
    }

    #[test]
    fn bare_reference_printed_first_inherits_iface() {
        let value = Passable::Record(BTreeMap::from([
            ("9".to_string(), foo("ko1")),
            ("10".to_string(), foo("ko1")),
        ]));
        let encoded = encode(&value);
        assert_eq!(encoded.body, r#"#{"9":"$0","10":"$0.Alleged: Foo"}"#);
        assert_eq!(decode(&encoded).unwrap(), value);
    }

    #[test]
    fn rejects_bad_strings() {
        assert_eq!(
            err(r##"#"#foo""##),
            DecodeError::UnknownConstant("#foo".into())
        );
        for prefix in ['"', '\'', '(', ')', '*', ','] {
            let text = format!("{prefix}x");
            let body = format!("#{}", serde_json::to_string(&text).unwrap());
            assert_eq!(err(&body), DecodeError::ReservedPrefix(prefix, text));
        }
        assert_eq!(err(r##"#"+""##), DecodeError::InvalidBigInt("+".into()));
        assert_eq!(
            err(r##"#"-Infinity""##),
            DecodeError::InvalidBigInt("-Infinity".into())
        );
        assert_eq!(
            err(r#"#"%@@bogus""#),
            DecodeError::UnknownWellKnownSymbol("@@bogus".into())
        );
    }

    #[test]
    fn rejects_bad_slot_references() {
        assert_eq!(err(r#"#"$""#), DecodeError::BadSlotReference("$".into()));
        assert_eq!(
            err(r#"#"&0.x""#),
            DecodeError::BadSlotReference("&0.x".into())
        );
        assert_eq!(
            err(r#"#"$x.y""#),
            DecodeError::BadSlotReference("$x.y".into())
        );
        let out = decode(&data(r#"#"$1""#, &["ko1"])).unwrap_err();
        assert_eq!(
            out,
            DecodeError::SlotOutOfRange {
                reference: "$1".into(),
                len: 1
            }
        );
        let huge = err(r#"#"&99999999999999999999999""#);
        assert!(matches!(huge, DecodeError::SlotOutOfRange { .. }));
    }

    #[test]
    fn rejects_bad_records() {
        assert_eq!(
            err(r##"#{"#x":1}"##),
            DecodeError::UnrecognizedRecordType("#x".into())
        );
        assert_eq!(
            err(r##"#{"$0":1}"##),
            DecodeError::NonStringKey("$0".into())
        );
        assert_eq!(
            err(r##"#{"+1":1}"##),
            DecodeError::NonStringKey("+1".into())
        );
        assert!(matches!(
            err(r##"#{"#tag":"t"}"##),
            DecodeError::BadTagged(_)
        ));
        assert!(matches!(
            err(r##"#{"#tag":1,"payload":1}"##),
            DecodeError::BadTagged(_)
        ));
        assert!(matches!(
            err(r##"#{"#tag":"t","payload":1,"x":1}"##),
            DecodeError::BadTagged(_)
        ));
        assert!(matches!(
            err(r##"#{"#error":"m"}"##),
            DecodeError::BadError(_)
        ));
        assert!(matches!(
            err(r##"#{"#error":1,"name":"Error"}"##),
            DecodeError::BadError(_)
        ));
        let with_message = r##"#{"#error":"m","message":"x","name":"Error"}"##;
        assert!(matches!(err(with_message), DecodeError::BadError(_)));
        let bad_extra = r##"#{"#error":"m","name":"Error","cause":"#bogus"}"##;
        assert_eq!(
            err(bad_extra),
            DecodeError::UnknownConstant("#bogus".into())
        );
    }

    #[test]
    fn error_fields_are_unescaped_and_extras_dropped() {
        let body = r##"#{"#error":"!!boom","cause":"x","errorId":"error:liveSlots:v1#70001","name":"Error"}"##;
        let expected = Passable::Error {
            name: "Error".into(),
            message: "!boom".into(),
            error_id: Some("error:liveSlots:v1#70001".into()),
        };
        assert_eq!(ok(body), expected);
    }

    #[test]
    fn rejects_bad_bodies() {
        let legacy = err(r#"{"@qclass":"undefined"}"#);
        assert_eq!(
            legacy,
            DecodeError::NotSmallcaps(r#"{"@qclass":"undefine"#.into())
        );
        assert_eq!(
            err("#"),
            DecodeError::Json {
                offset: 1,
                reason: "unexpected end of input"
            }
        );
        assert!(matches!(err("#[1,]"), DecodeError::Json { offset: 4, .. }));
        let deep = format!("#{}", "[".repeat(MAX_DEPTH + 1));
        assert_eq!(err(&deep), DecodeError::TooDeep(MAX_DEPTH));
        let fine = format!("#{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(decode(&data(&fine, &[])).is_ok());
    }

    /// Objects and arrays alternating up to the limit work in both walkers.
    #[test]
    fn mixed_nesting_at_the_limit() {
        let pairs = MAX_DEPTH / 2;
        let body = format!("#{}1{}", r#"{"a":["#.repeat(pairs), "]}".repeat(pairs));
        let data = CapData {
            body,
            slots: vec![],
        };
        assert!(decode(&data).is_ok());
        assert!(crate::capdata::prettify(&data).is_ok());
        let deeper = CapData {
            body: data.body.replacen('#', "#[", 1) + "]",
            slots: vec![],
        };
        assert_eq!(decode(&deeper), Err(DecodeError::TooDeep(MAX_DEPTH)));
    }

    #[test]
    fn error_messages_read_well() {
        let e = DecodeError::SlotOutOfRange {
            reference: "$3".into(),
            len: 1,
        };
        assert_eq!(
            e.to_string(),
            "slot reference \"$3\" is out of range (1 slots)"
        );
    }
}
