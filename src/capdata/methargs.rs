//! A message's `methargs`: the CapData of `[method, args]` (spec §4.5, §7.3).

use super::{CapData, Passable, decode};

/// The method name and arguments of a message, if `methargs` is `[string, array]`.
pub fn decode_methargs(methargs: &CapData) -> Option<(String, Vec<Passable>)> {
    let Passable::Array(parts) = decode(methargs).ok()? else {
        return None;
    };
    let [Passable::String(method), Passable::Array(args)] =
        <[Passable; 2]>::try_from(parts).ok()?
    else {
        return None;
    };
    Some((method, args))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capdata::encode_json;
    use serde_json::json;

    #[test]
    fn method_and_args_come_apart() {
        let (method, args) = decode_methargs(&encode_json(&json!(["resume", [1, "x"]]))).unwrap();
        assert_eq!(method, "resume");
        assert_eq!(
            args,
            vec![Passable::Number(1.0), Passable::String("x".into())]
        );
        assert!(decode_methargs(&encode_json(&json!(["m"]))).is_none());
        assert!(decode_methargs(&encode_json(&json!([1, []]))).is_none());
        assert!(
            decode_methargs(&CapData {
                body: "nope".into(),
                slots: vec![]
            })
            .is_none()
        );
    }
}
