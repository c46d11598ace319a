//! The kernel channel's messages (remote-comms.md §3.2, §4.1), byte for byte as the reference's
//! `JSON.stringify` writes them: the handshake pair, the sequenced envelope
//! `{seq, ack, method, params}` (`ack` left out while nothing has been received), the standalone
//! `{"ack":M}`, and the payloads `deliver`, `redeemURL` and `redeemURLReply`.

use crate::capdata::{CapData, stringify_js};
use serde_json::{Map, Value, json};

/// One frame of the kernel channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// First frame of the dialer: `{"method":"handshake","params":{"incarnationId":…}}`.
    Handshake {
        /// The dialer's incarnation (a UUID kept in kv `incarnationId`).
        incarnation_id: String,
    },
    /// The listener's answer: `{"method":"handshakeAck","params":{"incarnationId":…}}`.
    HandshakeAck {
        /// The listener's incarnation.
        incarnation_id: String,
    },
    /// A standalone cumulative acknowledgement `{"ack":M}`.
    Ack(u64),
    /// A sequenced message.
    Message(Envelope),
}

/// `{"seq":N,"ack":M,"method":…,"params":…}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// This message's sequence number, from 1.
    pub seq: u64,
    /// The highest sequence number the sender has received and committed, if any.
    pub ack: Option<u64>,
    /// What the message carries.
    pub body: Body,
}

/// The methods of a sequenced message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `"deliver"`: a delivery to the receiving kernel.
    Deliver(Delivery),
    /// `"redeemURL"`: `[url, replyKey]`.
    RedeemUrl {
        /// The OCAP URL to redeem at the receiver.
        url: String,
        /// The requester's key for the reply.
        reply_key: String,
    },
    /// `"redeemURLReply"`: `[ok, replyKey, erefOrErrorText]`.
    RedeemUrlReply {
        /// Whether the redemption succeeded.
        ok: bool,
        /// The requester's key.
        reply_key: String,
        /// `ro+N` (in the requester's frame) when `ok`, else the error text.
        value: String,
    },
}

/// The payloads of `deliver` (`params[0]` names the kind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// `["message", target, {"methargs":…,"result":…}]`.
    Message {
        /// The object or promise the message is sent to (`ro±N`/`rp±N`).
        target: String,
        /// Method name and arguments, smallcaps with remote refs as slots.
        methargs: CapData,
        /// The result promise, if any (`null` or absent on the wire).
        result: Option<String>,
    },
    /// `["notify", [[rpref, rejected, data], …]]`.
    Notify(Vec<Resolution>),
    /// `["dropExports", [rrefs]]`.
    DropExports(Vec<String>),
    /// `["retireExports", [rrefs]]`.
    RetireExports(Vec<String>),
    /// `["retireImports", [rrefs]]`.
    RetireImports(Vec<String>),
    /// `["bringOutYourDead"]`.
    BringOutYourDead,
}

/// One resolved promise of a `notify`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The promise (`rp±N`).
    pub promise: String,
    /// Whether it was rejected.
    pub rejected: bool,
    /// The value or reason.
    pub data: CapData,
}

/// Why a frame's text is not a valid message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// Not UTF-8 or not JSON.
    #[error("frame is not JSON: {0}")]
    NotJson(String),
    /// JSON of the wrong shape.
    #[error("invalid message: {0}")]
    Shape(String),
    /// `seq` missing, not an integer, or below 1 (the reference's `invalid message seq`).
    #[error("invalid message seq")]
    BadSeq,
    /// A method this protocol does not have.
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
}

impl Frame {
    /// The frame as the reference writes it (`JSON.stringify`, key order as produced).
    pub fn encode(&self) -> String {
        stringify_js(&self.to_value(), false)
    }

    /// The frame as a JSON value with the reference's key order.
    pub fn to_value(&self) -> Value {
        match self {
            Frame::Handshake { incarnation_id } => {
                json!({"method": "handshake", "params": {"incarnationId": incarnation_id}})
            }
            Frame::HandshakeAck { incarnation_id } => {
                json!({"method": "handshakeAck", "params": {"incarnationId": incarnation_id}})
            }
            Frame::Ack(ack) => json!({ "ack": ack }),
            Frame::Message(envelope) => {
                let mut map = Map::new();
                map.insert("seq".into(), envelope.seq.into());
                if let Some(ack) = envelope.ack {
                    map.insert("ack".into(), ack.into());
                }
                let (method, params) = envelope.body.to_value();
                map.insert("method".into(), method.into());
                map.insert("params".into(), params);
                Value::Object(map)
            }
        }
    }

    /// Parses a frame's bytes. Unknown extra keys are ignored, as the reference ignores them.
    pub fn decode(bytes: &[u8]) -> Result<Frame, WireError> {
        let text = std::str::from_utf8(bytes).map_err(|e| WireError::NotJson(e.to_string()))?;
        let value: Value =
            serde_json::from_str(text).map_err(|e| WireError::NotJson(e.to_string()))?;
        Frame::from_value(&value)
    }

    /// Parses a frame from JSON.
    pub fn from_value(value: &Value) -> Result<Frame, WireError> {
        let object = value
            .as_object()
            .ok_or_else(|| shape("a frame is a JSON object"))?;
        let method = match object.get("method") {
            None => None,
            Some(Value::String(m)) => Some(m.as_str()),
            Some(_) => return Err(shape("method is not a string")),
        };
        match method {
            Some("handshake") => Ok(Frame::Handshake {
                incarnation_id: incarnation(object)?,
            }),
            Some("handshakeAck") => Ok(Frame::HandshakeAck {
                incarnation_id: incarnation(object)?,
            }),
            None if !object.contains_key("seq") => match object.get("ack") {
                Some(ack) => {
                    Ok(Frame::Ack(count(ack).ok_or_else(|| {
                        shape("ack is not a non-negative integer")
                    })?))
                }
                None => Err(shape("neither method, seq nor ack")),
            },
            None => Err(shape("sequenced message without a method")),
            Some(method) => {
                let seq = object
                    .get("seq")
                    .and_then(count)
                    .filter(|&s| s >= 1)
                    .ok_or(WireError::BadSeq)?;
                let ack = match object.get("ack") {
                    None => None,
                    Some(ack) => {
                        Some(count(ack).ok_or_else(|| shape("ack is not a non-negative integer"))?)
                    }
                };
                let params = object.get("params").unwrap_or(&Value::Null);
                Ok(Frame::Message(Envelope {
                    seq,
                    ack,
                    body: Body::from_value(method, params)?,
                }))
            }
        }
    }
}

impl Body {
    /// `(method, params)`.
    fn to_value(&self) -> (&'static str, Value) {
        match self {
            Body::Deliver(delivery) => ("deliver", delivery.to_value()),
            Body::RedeemUrl { url, reply_key } => ("redeemURL", json!([url, reply_key])),
            Body::RedeemUrlReply {
                ok,
                reply_key,
                value,
            } => ("redeemURLReply", json!([ok, reply_key, value])),
        }
    }

    fn from_value(method: &str, params: &Value) -> Result<Body, WireError> {
        match method {
            "deliver" => Ok(Body::Deliver(Delivery::from_value(params)?)),
            "redeemURL" => match params.as_array().map(Vec::as_slice) {
                Some([Value::String(url), Value::String(key)]) => Ok(Body::RedeemUrl {
                    url: url.clone(),
                    reply_key: key.clone(),
                }),
                _ => Err(shape("redeemURL params are [url, replyKey]")),
            },
            "redeemURLReply" => match params.as_array().map(Vec::as_slice) {
                Some([Value::Bool(ok), Value::String(key), Value::String(value)]) => {
                    Ok(Body::RedeemUrlReply {
                        ok: *ok,
                        reply_key: key.clone(),
                        value: value.clone(),
                    })
                }
                _ => Err(shape("redeemURLReply params are [ok, replyKey, value]")),
            },
            other => Err(WireError::UnknownMethod(other.into())),
        }
    }
}

impl Delivery {
    /// The `deliver` params.
    pub fn to_value(&self) -> Value {
        match self {
            Delivery::Message {
                target,
                methargs,
                result,
            } => json!(["message", target, {
                "methargs": {"body": methargs.body, "slots": methargs.slots},
                "result": result,
            }]),
            Delivery::Notify(resolutions) => {
                let list: Vec<Value> = resolutions
                    .iter()
                    .map(|r| {
                        json!([r.promise, r.rejected, {"body": r.data.body, "slots": r.data.slots}])
                    })
                    .collect();
                json!(["notify", list])
            }
            Delivery::DropExports(refs) => json!(["dropExports", refs]),
            Delivery::RetireExports(refs) => json!(["retireExports", refs]),
            Delivery::RetireImports(refs) => json!(["retireImports", refs]),
            Delivery::BringOutYourDead => json!(["bringOutYourDead"]),
        }
    }

    fn from_value(params: &Value) -> Result<Delivery, WireError> {
        let items = params
            .as_array()
            .ok_or_else(|| shape("deliver params are an array"))?;
        let kind = items
            .first()
            .and_then(Value::as_str)
            .ok_or_else(|| shape("deliver params start with the delivery kind"))?;
        let rest = &items[1..];
        let refs = |what: &str| -> Result<Vec<String>, WireError> {
            match rest {
                [Value::Array(list)] => list
                    .iter()
                    .map(|r| r.as_str().map(String::from))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| shape(&format!("{what} refs are strings"))),
                _ => Err(shape(&format!("{what} takes one array of refs"))),
            }
        };
        match kind {
            "message" => match rest {
                [Value::String(target), Value::Object(message)] => {
                    let methargs = message
                        .get("methargs")
                        .ok_or_else(|| shape("message without methargs"))
                        .and_then(capdata)?;
                    let result = match message.get("result") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(r)) => Some(r.clone()),
                        Some(_) => return Err(shape("message result is not a string")),
                    };
                    Ok(Delivery::Message {
                        target: target.clone(),
                        methargs,
                        result,
                    })
                }
                _ => Err(shape("message takes [target, {methargs, result}]")),
            },
            "notify" => match rest {
                [Value::Array(list)] => list
                    .iter()
                    .map(|entry| match entry.as_array().map(Vec::as_slice) {
                        Some([Value::String(promise), Value::Bool(rejected), data]) => {
                            Ok(Resolution {
                                promise: promise.clone(),
                                rejected: *rejected,
                                data: capdata(data)?,
                            })
                        }
                        _ => Err(shape("a resolution is [rpref, rejected, data]")),
                    })
                    .collect::<Result<_, _>>()
                    .map(Delivery::Notify),
                _ => Err(shape("notify takes one array of resolutions")),
            },
            "dropExports" => refs("dropExports").map(Delivery::DropExports),
            "retireExports" => refs("retireExports").map(Delivery::RetireExports),
            "retireImports" => refs("retireImports").map(Delivery::RetireImports),
            "bringOutYourDead" if rest.is_empty() => Ok(Delivery::BringOutYourDead),
            "bringOutYourDead" => Err(shape("bringOutYourDead takes nothing")),
            other => Err(shape(&format!("unknown delivery kind {other:?}"))),
        }
    }
}

fn shape(what: &str) -> WireError {
    WireError::Shape(what.into())
}

/// A non-negative integer as JavaScript numbers carry it (`1` or `1.0`, up to 2^53).
fn count(value: &Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return (n <= 1 << 53).then_some(n);
    }
    let f = value.as_f64()?;
    (f >= 0.0 && f.fract() == 0.0 && f <= (1u64 << 53) as f64).then_some(f as u64)
}

fn incarnation(object: &Map<String, Value>) -> Result<String, WireError> {
    object
        .get("params")
        .and_then(|p| p.get("incarnationId"))
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| shape("handshake without params.incarnationId"))
}

fn capdata(value: &Value) -> Result<CapData, WireError> {
    let body = value.get("body").and_then(Value::as_str);
    let slots = value.get("slots").and_then(Value::as_array);
    match (body, slots) {
        (Some(body), Some(slots)) => Ok(CapData {
            body: body.into(),
            slots: slots
                .iter()
                .map(|s| s.as_str().map(String::from))
                .collect::<Option<_>>()
                .ok_or_else(|| shape("slots are strings"))?,
        }),
        _ => Err(shape("capdata is {body, slots}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames captured from the reference kernel (remote-comms.md §4.1), exactly as they crossed.
    const CAPTURED: &[&str] = &[
        r##"{"method":"handshakeAck","params":{"incarnationId":"48f55308-9b52-414e-9b94-62afd177750b"}}"##,
        r##"{"seq":1,"method":"redeemURL","params":["ocap:zJP7…@12D3KooWCydy…,/ip4/127.0.0.1/tcp/9001/ws/p2p/12D3KooWJBDq…","1"]}"##,
        r##"{"seq":2,"method":"deliver","params":["message","ro-1",{"methargs":{"body":"#[\"ping\",[]]","slots":[]},"result":"rp+1"}]}"##,
        r##"{"seq":1,"ack":1,"method":"redeemURLReply","params":[true,"1","ro+1"]}"##,
        r##"{"ack":1}"##,
        r##"{"seq":2,"ack":2,"method":"deliver","params":["notify",[["rp-1",false,{"body":"#\"pong\"","slots":[]}]]]}"##,
    ];

    #[test]
    fn captured_reference_frames_round_trip_byte_for_byte() {
        for text in CAPTURED {
            let frame = Frame::decode(text.as_bytes()).unwrap();
            assert_eq!(&frame.encode(), text);
        }
    }

    #[test]
    fn captured_frames_mean_what_the_reference_meant() {
        assert_eq!(
            Frame::decode(CAPTURED[0].as_bytes()).unwrap(),
            Frame::HandshakeAck {
                incarnation_id: "48f55308-9b52-414e-9b94-62afd177750b".into()
            }
        );
        assert_eq!(
            Frame::decode(CAPTURED[2].as_bytes()).unwrap(),
            Frame::Message(Envelope {
                seq: 2,
                ack: None,
                body: Body::Deliver(Delivery::Message {
                    target: "ro-1".into(),
                    methargs: CapData {
                        body: "#[\"ping\",[]]".into(),
                        slots: vec![]
                    },
                    result: Some("rp+1".into()),
                }),
            })
        );
        assert_eq!(
            Frame::decode(CAPTURED[3].as_bytes()).unwrap(),
            Frame::Message(Envelope {
                seq: 1,
                ack: Some(1),
                body: Body::RedeemUrlReply {
                    ok: true,
                    reply_key: "1".into(),
                    value: "ro+1".into()
                },
            })
        );
        assert_eq!(Frame::decode(CAPTURED[4].as_bytes()), Ok(Frame::Ack(1)));
        let Frame::Message(notify) = Frame::decode(CAPTURED[5].as_bytes()).unwrap() else {
            panic!("notify")
        };
        assert_eq!(
            notify.body,
            Body::Deliver(Delivery::Notify(vec![Resolution {
                promise: "rp-1".into(),
                rejected: false,
                data: CapData {
                    body: "#\"pong\"".into(),
                    slots: vec![]
                },
            }]))
        );
    }

    #[test]
    fn every_delivery_kind_encodes_in_the_reference_shape() {
        let cases = [
            (
                Delivery::Message {
                    target: "ro+3".into(),
                    methargs: CapData {
                        body: "#[\"m\",[\"$0\"]]".into(),
                        slots: vec!["ro-2".into()],
                    },
                    result: None,
                },
                r##"["message","ro+3",{"methargs":{"body":"#[\"m\",[\"$0\"]]","slots":["ro-2"]},"result":null}]"##,
            ),
            (
                Delivery::DropExports(vec!["ro+1".into(), "ro+2".into()]),
                r##"["dropExports",["ro+1","ro+2"]]"##,
            ),
            (
                Delivery::RetireExports(vec!["ro+1".into()]),
                r##"["retireExports",["ro+1"]]"##,
            ),
            (
                Delivery::RetireImports(vec!["ro-4".into()]),
                r##"["retireImports",["ro-4"]]"##,
            ),
            (Delivery::BringOutYourDead, r##"["bringOutYourDead"]"##),
        ];
        for (delivery, params) in cases {
            let frame = Frame::Message(Envelope {
                seq: 7,
                ack: Some(3),
                body: Body::Deliver(delivery),
            });
            let text = frame.encode();
            assert_eq!(
                text,
                format!(r##"{{"seq":7,"ack":3,"method":"deliver","params":{params}}}"##)
            );
            assert_eq!(Frame::decode(text.as_bytes()).unwrap(), frame);
        }
    }

    #[test]
    fn handshake_and_strings_as_json_stringify_writes_them() {
        let hs = Frame::Handshake {
            incarnation_id: "a\u{1}\"é/".into(),
        };
        assert_eq!(
            hs.encode(),
            "{\"method\":\"handshake\",\"params\":{\"incarnationId\":\"a\\u0001\\\"é/\"}}"
        );
    }

    #[test]
    fn a_missing_result_and_extra_keys_are_accepted() {
        let text = r##"{"seq":3,"method":"deliver","params":["message","ro-1",{"methargs":{"body":"#1","slots":[]}}],"extra":1}"##;
        let Frame::Message(envelope) = Frame::decode(text.as_bytes()).unwrap() else {
            panic!()
        };
        assert!(matches!(
            envelope.body,
            Body::Deliver(Delivery::Message { result: None, .. })
        ));
    }

    #[test]
    fn malformed_frames_are_refused_with_a_reason() {
        for (text, want) in [
            ("", "not JSON"),
            ("[1]", "invalid message"),
            ("{}", "invalid message"),
            (r##"{"ack":-1}"##, "invalid message"),
            (r##"{"ack":1.5}"##, "invalid message"),
            (
                r##"{"seq":0,"method":"deliver","params":["bringOutYourDead"]}"##,
                "invalid message seq",
            ),
            (
                r##"{"seq":"1","method":"deliver","params":["bringOutYourDead"]}"##,
                "invalid message seq",
            ),
            (
                r##"{"method":"deliver","params":["bringOutYourDead"]}"##,
                "invalid message seq",
            ),
            (
                r##"{"seq":1,"method":"explode","params":[]}"##,
                "unknown method",
            ),
            (
                r##"{"seq":1,"method":"deliver","params":["teleport"]}"##,
                "unknown delivery kind",
            ),
            (
                r##"{"seq":1,"method":"deliver","params":["notify",[["rp-1",false]]]}"##,
                "resolution",
            ),
            (
                r##"{"seq":1,"method":"redeemURL","params":["u"]}"##,
                "redeemURL",
            ),
            (
                r##"{"seq":1,"method":"redeemURLReply","params":["yes","1","x"]}"##,
                "redeemURLReply",
            ),
            (r##"{"method":"handshake","params":{}}"##, "incarnationId"),
            (
                r##"{"seq":1,"ack":"2","method":"deliver","params":["bringOutYourDead"]}"##,
                "ack",
            ),
        ] {
            let error = Frame::decode(text.as_bytes()).unwrap_err().to_string();
            assert!(error.contains(want), "{text}: {error}");
        }
        assert!(matches!(
            Frame::decode(&[0xff, 0xfe]),
            Err(WireError::NotJson(_))
        ));
    }
}
