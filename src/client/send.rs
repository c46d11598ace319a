//! `ocapctl send TARGET METHOD [ARGS…]`: the reference's `ocap daemon queueMessage`, with a
//! friendlier way to give the arguments, and its output (spec §1.5, §2.3, §8.4).
//!
//! # The ARGS rule
//!
//! 1. No ARGS: the message has no arguments (`[]`).
//! 2. Exactly one ARG whose text starts with `[` (after white space) is the whole argument list,
//!    as the reference's `args-json`: `'["a",1]'` sends `"a"` and `1`. It must be valid JSON,
//!    else `args-json must be valid JSON.` To send one array as the only argument, wrap it:
//!    `'[[1,2]]'`.
//! 3. Otherwise each ARG is one argument:
//!    * valid JSON is that value: `5`, `-1.5`, `true`, `null`, `"x"`, `{"a":1}`, `[1,2]`;
//!    * text that looks like JSON but is not valid JSON is refused rather than sent as a
//!      string: it starts with `[`, `{` or `"`, or with a digit, possibly after a sign (`-`,
//!      `+`) and/or a decimal point (`{a:1}`, `"x`, `1.2.3`, `+1`, `-.5`, `007`);
//!    * anything else is sent as that text: `hello`, `ko4`, `a b`, the empty string.
//!
//!    So `ocapctl send ko4 add 5 '"x"' hello` sends `[5,"x","hello"]`. To send a word that is
//!    JSON (`true`, `null`, `12`) as a string, quote it: `'"true"'`.
//!
//! The arguments are plain JSON: the string `"ko4"` is a string, never a capability (§2.3).
//! The reference's other text, `args-json must be a JSON array.`, cannot arise here, because a
//! single argument that is not an array is taken as one argument (rule 3).

use super::ClientError;
use crate::capdata::{CapData, prettify, stringify_js};
use serde_json::Value;

/// The reference CLI's message for an `args-json` that does not parse.
pub const ARGS_NOT_JSON: &str = "args-json must be valid JSON.";

/// The message's arguments from the ARGS words (see the module documentation).
pub fn parse_args(words: &[String]) -> Result<Vec<Value>, ClientError> {
    if let [only] = words
        && only.trim_start().starts_with('[')
    {
        return match serde_json::from_str::<Value>(only) {
            Ok(Value::Array(items)) => Ok(items),
            _ => Err(ClientError::Usage(ARGS_NOT_JSON.into())),
        };
    }
    words
        .iter()
        .enumerate()
        .map(|(index, word)| parse_word(index + 1, word))
        .collect()
}

/// One ARG of the friendly form: JSON if it parses, an error if it only looks like JSON, else
/// the text itself.
fn parse_word(position: usize, word: &str) -> Result<Value, ClientError> {
    match serde_json::from_str::<Value>(word) {
        Ok(value) => Ok(value),
        Err(e) if looks_like_json(word) => Err(ClientError::Usage(format!(
            "argument {position} ({word}) looks like JSON but is not valid JSON: {e}\n\
             To send it as text, give it as a JSON string, in double quotes."
        ))),
        Err(_) => Ok(Value::String(word.to_string())),
    }
}

/// Starts like a JSON array, object or string, or like a number: a digit, possibly after a
/// sign and/or a decimal point.
fn looks_like_json(word: &str) -> bool {
    let word = word.trim_start();
    if word.starts_with(['[', '{', '"']) {
        return true;
    }
    let unsigned = word.strip_prefix(['-', '+']).unwrap_or(word);
    let digits = unsigned.strip_prefix('.').unwrap_or(unsigned);
    digits.starts_with(|c: char| c.is_ascii_digit())
}

/// Whether `value` is CapData as the reference's `isCapData` sees it: an object with exactly a
/// string `body` and an array of strings `slots`.
pub fn is_capdata(value: &Value) -> bool {
    let Some(object) = value.as_object() else {
        return false;
    };
    object.len() == 2
        && object.get("body").is_some_and(Value::is_string)
        && object
            .get("slots")
            .and_then(Value::as_array)
            .is_some_and(|slots| slots.iter().all(Value::is_string))
}

/// What `send` prints for a `queueMessage` result: the prettified CapData (§8.4), or the
/// result itself when `raw` or when it is not CapData; JSON as `JSON.stringify` writes it,
/// indented when `pretty`. The second part is a note for standard error, set when CapData
/// could not be prettified (then the CapData itself is printed).
pub fn render_result(result: &Value, raw: bool, pretty: bool) -> (String, Option<String>) {
    if raw || !is_capdata(result) {
        return (stringify_js(result, pretty), None);
    }
    let data: CapData =
        serde_json::from_value(result.clone()).expect("is_capdata checked the shape");
    match prettify(&data) {
        Ok(value) => (stringify_js(&value, pretty), None),
        Err(e) => (
            stringify_js(result, pretty),
            Some(format!(
                "the result could not be prettified ({e}); printed as is"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(words: &[&str]) -> Result<Vec<Value>, String> {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        parse_args(&words).map_err(|e| e.to_string())
    }

    #[test]
    fn no_args_is_an_empty_list() {
        assert_eq!(args(&[]).unwrap(), Vec::<Value>::new());
    }

    #[test]
    fn one_json_array_is_the_whole_list_as_in_the_reference() {
        assert_eq!(args(&[r#"["a",1]"#]).unwrap(), vec![json!("a"), json!(1)]);
        assert_eq!(args(&["[]"]).unwrap(), Vec::<Value>::new());
        assert_eq!(args(&[" [ 1 ] "]).unwrap(), vec![json!(1)]);
        assert_eq!(args(&["[[1,2]]"]).unwrap(), vec![json!([1, 2])]);
    }

    #[test]
    fn one_broken_array_gets_the_reference_text() {
        for bad in ["[", r#"["a",1"#, "[1,]", "[a]", "[1] x"] {
            assert_eq!(args(&[bad]).unwrap_err(), ARGS_NOT_JSON, "{bad:?}");
        }
    }

    #[test]
    fn several_args_are_json_if_they_parse_else_text() {
        assert_eq!(
            args(&["5", r#""x""#, "hello"]).unwrap(),
            vec![json!(5), json!("x"), json!("hello")]
        );
        assert_eq!(
            args(&[
                "true",
                "null",
                "-1.5",
                "1e3",
                r#"{"b":1,"a":[2]}"#,
                "[1,2]",
                "ko4"
            ])
            .unwrap(),
            vec![
                json!(true),
                json!(null),
                json!(-1.5),
                json!(1000.0),
                json!({"b":1,"a":[2]}),
                json!([1, 2]),
                json!("ko4"),
            ]
        );
        assert_eq!(
            args(&["[1]", "[2]"]).unwrap(),
            vec![json!([1]), json!([2])],
            "with several ARGS an array is one argument"
        );
    }

    #[test]
    fn one_non_array_arg_is_one_argument() {
        assert_eq!(args(&["5"]).unwrap(), vec![json!(5)]);
        assert_eq!(args(&["hello"]).unwrap(), vec![json!("hello")]);
        assert_eq!(args(&[r#"{"a":1}"#]).unwrap(), vec![json!({"a":1})]);
        assert_eq!(args(&[r#""[1]""#]).unwrap(), vec![json!("[1]")]);
    }

    #[test]
    fn plain_text_is_sent_as_is() {
        for word in [
            "",
            " ",
            "hello world",
            "True",
            "nul",
            "NaN",
            "Infinity",
            "-",
            "--raw",
            "-x",
            "a\"b",
            "'x'",
            "ko4",
            "é",
        ] {
            assert_eq!(args(&["1", word]).unwrap()[1], json!(word), "{word:?}");
        }
    }

    #[test]
    fn text_that_looks_like_json_but_is_not_is_refused() {
        for bad in [
            "{a:1}", "{", "\"x", "1.2.3", "007", "0x", "+1", "-.5", "+.5", ".5", "1e400", "1,",
            " [1",
        ] {
            let err = args(&["1", bad]).unwrap_err();
            assert!(
                err.starts_with(&format!("argument 2 ({bad}) looks like JSON")),
                "{bad:?}: {err}"
            );
            assert!(err.contains("double quotes"), "{err}");
        }
    }

    #[test]
    fn capdata_is_recognised_like_is_cap_data() {
        assert!(is_capdata(&json!({"body":"#1","slots":[]})));
        assert!(is_capdata(&json!({"slots":["ko1"],"body":"#1"})));
        assert!(!is_capdata(&json!({"body":"#1","slots":[],"x":1})));
        assert!(!is_capdata(&json!({"body":1,"slots":[]})));
        assert!(!is_capdata(&json!({"body":"#1","slots":[1]})));
        assert!(!is_capdata(&json!({"body":"#1"})));
        assert!(!is_capdata(&json!("pong")));
        assert!(!is_capdata(&json!(null)));
    }

    #[test]
    fn results_are_prettified_like_the_reference_cli() {
        let counter = json!({"body":"#\"Counter incremented to: 2\"","slots":[]});
        assert_eq!(
            render_result(&counter, false, false),
            ("\"Counter incremented to: 2\"".into(), None)
        );
        let object =
            json!({"body":"#{\"name\":\"$0.Alleged: MyObj\",\"count\":42}","slots":["ko12"]});
        assert_eq!(
            render_result(&object, false, false).0,
            r#"{"name":"<ko12> (Alleged: MyObj)","count":42}"#
        );
        assert_eq!(
            render_result(&object, false, true).0,
            "{\n  \"name\": \"<ko12> (Alleged: MyObj)\",\n  \"count\": 42\n}"
        );
        let undefined = json!({"body":"#\"#undefined\"","slots":[]});
        assert_eq!(render_result(&undefined, false, false).0, "\"[undefined]\"");
        let error = json!({"body":"#{\"#error\":\"boom\",\"name\":\"TypeError\"}","slots":[]});
        assert_eq!(
            render_result(&error, false, false).0,
            "\"[TypeError: boom]\""
        );
        let bigint = json!({"body":"#[\"+7\",\"-7\",\"&0\"]","slots":["kp3"]});
        assert_eq!(
            render_result(&bigint, false, false).0,
            r#"["7n","-7n","<kp3>"]"#
        );
    }

    #[test]
    fn raw_prints_the_capdata_itself() {
        let counter = json!({"body":"#\"Counter incremented to: 2\"","slots":[]});
        assert_eq!(
            render_result(&counter, true, false).0,
            r##"{"body":"#\"Counter incremented to: 2\"","slots":[]}"##
        );
        assert_eq!(
            render_result(&counter, true, true).0,
            "{\n  \"body\": \"#\\\"Counter incremented to: 2\\\"\",\n  \"slots\": []\n}"
        );
    }

    #[test]
    fn results_that_are_not_capdata_are_printed_as_json() {
        assert_eq!(render_result(&json!(null), false, false).0, "null");
        assert_eq!(
            render_result(&json!({"a":1e21,"2":0,"1":0}), false, false).0,
            r#"{"1":0,"2":0,"a":1e+21}"#,
            "numbers and key order as JSON.stringify prints them"
        );
    }

    #[test]
    fn capdata_that_cannot_be_prettified_is_printed_as_is_with_a_note() {
        let odd = json!({"body":"{\"x\":1}","slots":[]});
        let (text, note) = render_result(&odd, false, false);
        assert_eq!(text, r#"{"body":"{\"x\":1}","slots":[]}"#);
        assert_eq!(
            note.unwrap(),
            "the result could not be prettified (Expected body to start with '#', got: {\"x\":1}); printed as is"
        );
        let broken = json!({"body":"#{","slots":[]});
        assert!(render_result(&broken, false, false).1.is_some());
    }
}
