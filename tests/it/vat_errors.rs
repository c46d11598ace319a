//! Errors in vats as their authors meet them: `error.stack` names the vat's functions, its
//! bundle, line and column (it was `at [object CallSite]`), and the commonest TypeErrors have
//! V8's words where QuickJS's message says enough to make them.

use crate::common::{Cleanup, request};
use crate::reference_vats::{bundle_url, bundles, launch, send, started};
use serde_json::{Value, json};

/// The line (1-based) of the errors vat's bundle code that holds `text`.
fn line_of(text: &str) -> usize {
    let bundle: Value = serde_json::from_str(
        &std::fs::read_to_string(bundles().join("errors-vat.bundle")).unwrap(),
    )
    .unwrap();
    let code = bundle["code"].as_str().unwrap();
    let lines: Vec<usize> = code
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(text))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "{text:?} on lines {lines:?}");
    lines[0]
}

/// `at NAME (URL:LINE:COLUMN)` of one frame: the name, the URL, the line and the column.
fn frame(line: &str) -> (String, String, usize, usize) {
    let rest = line
        .trim_start()
        .strip_prefix("at ")
        .unwrap_or_else(|| panic!("{line}"));
    let (name, place) = rest.rsplit_once(" (").unwrap_or_else(|| panic!("{line}"));
    let place = place.strip_suffix(')').unwrap();
    let mut parts = place.rsplitn(3, ':');
    let column = parts.next().unwrap().parse().unwrap();
    let number = parts.next().unwrap().parse().unwrap();
    (
        name.to_string(),
        parts.next().unwrap().to_string(),
        number,
        column,
    )
}

#[test]
fn error_stacks_name_the_vats_functions_bundle_line_and_column() {
    let home = started();
    let _stop = Cleanup(&home);
    let launched = launch(&home, "errors", &[("errors", "errors-vat", json!({}))]);
    let root = launched["rootKref"].as_str().unwrap();
    let stack = send(&home, root, "stack", json!([]));
    let stack = stack.as_str().unwrap();
    let lines: Vec<&str> = stack.lines().collect();
    assert_eq!(lines[0], "Error: boom: stack");
    let url = bundle_url("errors-vat");
    let expected = [
        ("deepestHelper", line_of("throw Error(`boom: ${what}`)")),
        ("middleHelper", line_of("return deepestHelper(what)")),
    ];
    for (i, (name, number)) in expected.into_iter().enumerate() {
        let (got_name, got_url, got_line, column) = frame(lines[i + 1]);
        assert_eq!(
            (got_name.as_str(), got_url.as_str(), got_line),
            (name, url.as_str(), number),
            "{stack}"
        );
        assert!(column > 1, "{stack}");
    }
    assert_eq!(frame(lines[3]).0, "stack", "{stack}");
    // No frame of our runtime (SES, liveslots, the supervisor), as on the reference.
    assert!(!stack.contains("node_modules"), "{stack}");
    assert!(!stack.contains("[object CallSite]"), "{stack}");
}

#[test]
fn common_type_errors_have_v8_wording() {
    let home = started();
    let _stop = Cleanup(&home);
    let launched = launch(&home, "errors", &[("errors", "errors-vat", json!({}))]);
    let root = launched["rootKref"].as_str().unwrap();
    assert_eq!(
        send(&home, root, "typeErrors", json!([])),
        json!([
            "TypeError: Cannot read properties of undefined (reading 'field')",
            "TypeError: Cannot read properties of null (reading 'field')",
            "TypeError: Cannot set properties of undefined (setting 'field')",
            "TypeError: Cannot read properties of undefined (reading 'deeper')",
            // QuickJS does not say which expression was not a function: V8's
            // "empty.notAFunction is not a function" cannot be made (docs/compatibility.md).
            "TypeError: not a function",
        ])
    );
    // A delivery's error reaches the caller with its message only, as on the reference.
    let response = request(
        &home.socket(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "queueMessage",
            "params": [root, "fail", ["caller"]]})
        .to_string(),
    );
    assert_eq!(response["error"]["message"], "boom: caller");
}

#[test]
fn a_vat_that_fails_to_start_leaves_its_stack_in_the_log() {
    let home = started();
    let _stop = Cleanup(&home);
    let url = format!("file://{}/test-vats/throws.bundle", env!("OUT_DIR"));
    let response = request(
        &home.socket(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "launchSubcluster",
            "params": {"config": {"bootstrap": "bad", "vats": {"bad": {"bundleSpec": url}}}}})
        .to_string(),
    );
    assert_eq!(
        response["error"]["message"],
        "Failed to launch vat v1 (bad)"
    );
    let log = crate::reference_vats::daemon_log(&home);
    let at = log
        .find("ERROR ocap::vat::runtime: Delivery error in vat v1: Error: buildRootObject exploded")
        .unwrap_or_else(|| panic!("{log}"));
    // The last line of an event ends with its fields.
    let frame_line = log[at..].lines().nth(1).unwrap();
    let frame_line = frame_line.split(" vat=").next().unwrap();
    assert_eq!(frame(frame_line).0, "buildRootObject", "{log}");
    assert_eq!(frame(frame_line).1, url, "{log}");
}
