//! Deliveries, syscalls and results with the reference's wire shapes (spec §7.3, §7.4):
//! tuples such as `["message", "o+0", {"methargs": …, "result": "p-1"}]`.

use crate::capdata::CapData;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

/// Element `i` of a delivery or syscall tuple, deserialized.
fn field<T: serde::de::DeserializeOwned>(
    items: &[Value],
    i: usize,
    kind: &str,
) -> Result<T, String> {
    let value = items
        .get(i)
        .ok_or_else(|| format!("{kind} needs argument {i}"))?;
    T::deserialize(value).map_err(|e| format!("{kind}: {e}"))
}

/// A message: method and arguments as CapData, and the promise for its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `[method, args]` encoded as smallcaps.
    pub methargs: CapData,
    /// The result promise's ref, if the sender wants one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// One promise resolution: `[ref, isRejected, value]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The promise.
    pub promise: String,
    /// Whether it is rejected rather than fulfilled.
    pub rejected: bool,
    /// The value or rejection reason.
    pub value: CapData,
}

impl Serialize for Resolution {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.promise, self.rejected, &self.value).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Resolution {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (promise, rejected, value) = <(String, bool, CapData)>::deserialize(d)?;
        Ok(Resolution {
            promise,
            rejected,
            value,
        })
    }
}

/// Kernel → vat (the params of a `deliver` request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// `["message", target, message]`.
    Message {
        /// The receiving object (a ref the vat exported).
        target: String,
        /// What to deliver.
        message: Message,
    },
    /// `["notify", [[vpid, isRejected, value], …]]`.
    Notify(Vec<Resolution>),
    /// `["dropExports", [vref, …]]`.
    DropExports(Vec<String>),
    /// `["retireExports", [vref, …]]`.
    RetireExports(Vec<String>),
    /// `["retireImports", [vref, …]]`.
    RetireImports(Vec<String>),
    /// `["bringOutYourDead"]`.
    BringOutYourDead,
}

impl Delivery {
    /// The JSON tuple of spec §7.3.
    pub fn to_json(&self) -> Value {
        match self {
            Delivery::Message { target, message } => json!(["message", target, message]),
            Delivery::Notify(resolutions) => json!(["notify", resolutions]),
            Delivery::DropExports(refs) => json!(["dropExports", refs]),
            Delivery::RetireExports(refs) => json!(["retireExports", refs]),
            Delivery::RetireImports(refs) => json!(["retireImports", refs]),
            Delivery::BringOutYourDead => json!(["bringOutYourDead"]),
        }
    }

    /// Parses the JSON tuple of spec §7.3.
    pub fn from_json(value: &Value) -> Result<Delivery, String> {
        let items = value.as_array().ok_or("a delivery is a JSON array")?;
        let kind = items
            .first()
            .and_then(Value::as_str)
            .ok_or("a delivery starts with its type")?;
        Ok(match kind {
            "message" => Delivery::Message {
                target: field(items, 1, kind)?,
                message: field(items, 2, kind)?,
            },
            "notify" => Delivery::Notify(field(items, 1, kind)?),
            "dropExports" => Delivery::DropExports(field(items, 1, kind)?),
            "retireExports" => Delivery::RetireExports(field(items, 1, kind)?),
            "retireImports" => Delivery::RetireImports(field(items, 1, kind)?),
            "bringOutYourDead" => Delivery::BringOutYourDead,
            other => return Err(format!("unknown delivery type {other:?}")),
        })
    }
}

/// Vat → kernel (the params of a `syscall` notification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Syscall {
    /// `["send", target, message]`.
    Send {
        /// The receiving object or promise, in the vat's refs.
        target: String,
        /// The message.
        message: Message,
    },
    /// `["subscribe", vpid]`.
    Subscribe(String),
    /// `["resolve", [[vpid, isRejected, value], …]]`.
    Resolve(Vec<Resolution>),
    /// `["exit", isFailure, info]`.
    Exit {
        /// Whether the vat exits because of a failure (its crank is then rolled back).
        failure: bool,
        /// Why.
        info: CapData,
    },
    /// `["dropImports", [vref, …]]`.
    DropImports(Vec<String>),
    /// `["retireImports", [vref, …]]`.
    RetireImports(Vec<String>),
    /// `["retireExports", [vref, …]]`.
    RetireExports(Vec<String>),
    /// `["abandonExports", [vref, …]]`.
    AbandonExports(Vec<String>),
}

impl Syscall {
    /// The JSON tuple of spec §7.4.
    pub fn to_json(&self) -> Value {
        match self {
            Syscall::Send { target, message } => json!(["send", target, message]),
            Syscall::Subscribe(vpid) => json!(["subscribe", vpid]),
            Syscall::Resolve(resolutions) => json!(["resolve", resolutions]),
            Syscall::Exit { failure, info } => json!(["exit", failure, info]),
            Syscall::DropImports(refs) => json!(["dropImports", refs]),
            Syscall::RetireImports(refs) => json!(["retireImports", refs]),
            Syscall::RetireExports(refs) => json!(["retireExports", refs]),
            Syscall::AbandonExports(refs) => json!(["abandonExports", refs]),
        }
    }

    /// Roughly how many bytes the syscall carries (bodies and refs), to bound what one delivery
    /// may leave for the kernel to hold.
    pub fn payload_size(&self) -> usize {
        let refs = |refs: &[String]| refs.iter().map(String::len).sum::<usize>() + 8 * refs.len();
        let capdata = |data: &CapData| data.body.len() + refs(&data.slots);
        16 + match self {
            Syscall::Send { target, message } => target.len() + capdata(&message.methargs),
            Syscall::Subscribe(vpid) => vpid.len(),
            Syscall::Resolve(resolutions) => resolutions
                .iter()
                .map(|r| r.promise.len() + capdata(&r.value))
                .sum(),
            Syscall::Exit { info, .. } => capdata(info),
            Syscall::DropImports(vrefs)
            | Syscall::RetireImports(vrefs)
            | Syscall::RetireExports(vrefs)
            | Syscall::AbandonExports(vrefs) => refs(vrefs),
        }
    }

    /// Parses the JSON tuple of spec §7.4; anything else is an illegal syscall.
    pub fn from_json(value: &Value) -> Result<Syscall, String> {
        let items = value.as_array().ok_or("a syscall is a JSON array")?;
        let kind = items
            .first()
            .and_then(Value::as_str)
            .ok_or("a syscall starts with its type")?;
        Ok(match kind {
            "send" => Syscall::Send {
                target: field(items, 1, kind)?,
                message: field(items, 2, kind)?,
            },
            "subscribe" => Syscall::Subscribe(field(items, 1, kind)?),
            "resolve" => Syscall::Resolve(field(items, 1, kind)?),
            "exit" => Syscall::Exit {
                failure: field(items, 1, kind)?,
                info: field(items, 2, kind)?,
            },
            "dropImports" => Syscall::DropImports(field(items, 1, kind)?),
            "retireImports" => Syscall::RetireImports(field(items, 1, kind)?),
            "retireExports" => Syscall::RetireExports(field(items, 1, kind)?),
            "abandonExports" => Syscall::AbandonExports(field(items, 1, kind)?),
            other => return Err(format!("unknown syscall {other:?}")),
        })
    }
}

/// The vatstore changes of one delivery: `[sets, deletes]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatstoreDelta(pub Vec<(String, String)>, pub Vec<String>);

/// A delivery's outcome as the vat reports it: `[[sets, deletes], errorOrNull]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryResult {
    /// Vatstore changes, applied only if the crank commits.
    pub delta: VatstoreDelta,
    /// A delivery error (liveslots' `dispatch` threw): fails the crank, terminates the vat.
    pub error: Option<String>,
}

impl Serialize for DeliveryResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.delta, &self.error).serialize(s)
    }
}

impl<'de> Deserialize<'de> for DeliveryResult {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let (delta, error) = serde_json::from_value(value).map_err(D::Error::custom)?;
        Ok(DeliveryResult { delta, error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capdata(body: &str, slots: &[&str]) -> CapData {
        CapData {
            body: body.into(),
            slots: slots.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn deliveries_have_the_spec_7_3_shapes() {
        let d = Delivery::Message {
            target: "o+0".into(),
            message: Message {
                methargs: capdata("#[\"bootstrap\",[]]", &["o+0"]),
                result: Some("p-1".into()),
            },
        };
        let json = d.to_json();
        assert_eq!(
            json.to_string(),
            r##"["message","o+0",{"methargs":{"body":"#[\"bootstrap\",[]]","slots":["o+0"]},"result":"p-1"}]"##
        );
        assert_eq!(Delivery::from_json(&json).unwrap(), d);
        let n = Delivery::Notify(vec![Resolution {
            promise: "p+5".into(),
            rejected: false,
            value: capdata("#\"pong\"", &[]),
        }]);
        assert_eq!(
            n.to_json().to_string(),
            r##"["notify",[["p+5",false,{"body":"#\"pong\"","slots":[]}]]]"##
        );
        assert_eq!(Delivery::from_json(&n.to_json()).unwrap(), n);
        assert_eq!(
            Delivery::BringOutYourDead.to_json().to_string(),
            r##"["bringOutYourDead"]"##
        );
    }

    #[test]
    fn syscalls_have_the_spec_7_4_shapes() {
        let text = r##"["send","o-1",{"methargs":{"body":"#[\"ping\",[\"x\"]]","slots":[]},"result":"p+5"}]"##;
        let s = Syscall::from_json(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(s.to_json().to_string(), text);
        let text = r##"["resolve",[["p-1",false,{"body":"#\"hello alice\"","slots":[]}]]]"##;
        assert_eq!(
            Syscall::from_json(&serde_json::from_str(text).unwrap())
                .unwrap()
                .to_json()
                .to_string(),
            text
        );
        for bad in [
            r##"["vatstoreGet","k"]"##,
            r##"["send","o-1"]"##,
            r##"{"a":1}"##,
            r#"["resolve",[["p-1","no",{}]]]"#,
        ] {
            assert!(
                Syscall::from_json(&serde_json::from_str(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn delivery_results_are_pairs() {
        let r: DeliveryResult = serde_json::from_str(r##"[[[["k","v"]],["d"]],null]"##).unwrap();
        assert_eq!(
            r.delta,
            VatstoreDelta(vec![("k".into(), "v".into())], vec!["d".into()])
        );
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r##"[[[["k","v"]],["d"]],null]"##
        );
        let r: DeliveryResult = serde_json::from_str(r##"[[[],[]],"boom"]"##).unwrap();
        assert_eq!(r.error.as_deref(), Some("boom"));
    }
}
