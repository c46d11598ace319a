//! What vats write to the daemon's log: `vatPowers.logger` (the reference's logger shape, its
//! tags on every line), the vat's `console` and liveslots' own lines, each under its own target
//! with the vat id; and a vat cannot flood the log.

use crate::common::Cleanup;
use crate::reference_vats::{daemon_log, launch, send, started};
use serde_json::json;

/// The lines of `log` whose text contains `marker`.
fn lines_with<'a>(log: &'a str, marker: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(marker)).collect()
}

#[test]
fn vat_powers_logger_writes_tagged_lines_apart_from_console_and_liveslots() {
    let home = started();
    let _stop = Cleanup(&home);
    let launched = launch(
        &home,
        "logger",
        &[("logger", "logger-vat", json!({"name": "L"}))],
    );
    let root = launched["rootKref"].as_str().unwrap();
    // Logging hardens what it is given, as the reference's logger does.
    assert_eq!(
        send(&home, root, "logEverything", json!(["M1"])),
        json!(true)
    );
    let log = daemon_log(&home);
    let find = |text: &str| -> String {
        let found = lines_with(&log, text);
        assert_eq!(found.len(), 1, "{text:?} in:\n{log}");
        let line = found[0];
        line.split_once("Z ")
            .map_or(line, |(_, rest)| rest)
            .trim_start()
            .to_string()
    };
    assert_eq!(
        find("built L"),
        r#"INFO ocap::vat::logger: built L vat="v1" tags="test""#
    );
    assert_eq!(
        find("M1 info"),
        r#"INFO ocap::vat::logger: M1 info vat="v1" tags="test, deeper""#
    );
    assert_eq!(
        find("M1 log"),
        r#"INFO ocap::vat::logger: M1 log {"n":1} 2n vat="v1" tags="test, deeper""#
    );
    assert_eq!(
        find("M1 warn"),
        r#"WARN ocap::vat::logger: M1 warn vat="v1" tags="test, deeper""#
    );
    assert_eq!(
        find("M1 error"),
        "ERROR ocap::vat::logger: M1 error Error: logged error"
    );
    assert_eq!(
        find("M1 string tag"),
        r#"INFO ocap::vat::logger: M1 string tag vat="v1" tags="bare""#
    );
    assert_eq!(
        find("M1 console"),
        r#"INFO ocap::vat::console: M1 console vat="v1""#
    );
    // Debug lines are below the default level.
    assert!(lines_with(&log, "M1 debug").is_empty(), "{log}");
    // The error's stack follows it, in the vat's own code.
    let error_at = log.find("M1 error").unwrap();
    let next = &log[error_at..];
    assert!(
        next.lines()
            .nth(1)
            .unwrap()
            .starts_with("  at logEverything (file://"),
        "{next}"
    );
    // Custom transports get the entries the reference's logger makes, and ours still logs them.
    assert_eq!(
        send(&home, root, "transports", json!(["M2"])),
        json!([{"level": "warn", "tags": ["test", "own"], "message": "M2 to both", "data": [7]}])
    );
    let log = daemon_log(&home);
    assert_eq!(lines_with(&log, "M2 to both").len(), 1, "{log}");
}

#[test]
fn liveslots_lines_have_a_target_of_their_own() {
    let home = started();
    let _stop = Cleanup(&home);
    let launched = launch(&home, "errors", &[("errors", "errors-vat", json!({}))]);
    let root = launched["rootKref"].as_str().unwrap();
    let response = crate::common::request(
        &home.socket(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "queueMessage",
            "params": [root, "fail", ["sent"]]})
        .to_string(),
    );
    assert_eq!(response["error"]["message"], "boom: sent");
    let log = daemon_log(&home);
    let sent = lines_with(&log, "Logging sent error stack");
    assert_eq!(sent.len(), 1, "{log}");
    assert!(
        sent[0].contains("WARN ocap::vat::liveslots: Logging sent error stack Error: boom: sent"),
        "{log}"
    );
    assert!(lines_with(&log, "ocap::vat::console").is_empty(), "{log}");
}

#[test]
fn a_vat_flooding_its_log_is_cut_off_for_the_rest_of_the_crank() {
    let home = started();
    let _stop = Cleanup(&home);
    let launched = launch(&home, "logger", &[("logger", "logger-vat", json!({}))]);
    let root = launched["rootKref"].as_str().unwrap();
    // 3,000 lines of 1,000 bytes: three times the budget of one crank.
    assert_eq!(send(&home, root, "flood", json!([3000])), json!(3000));
    let log = daemon_log(&home);
    let floods = lines_with(&log, &"x".repeat(1000)).len();
    assert!((1000..=1049).contains(&floods), "{floods} lines kept");
    assert_eq!(
        lines_with(&log, "the rest of this crank's output is dropped").len(),
        1,
        "said once"
    );
    // The next crank logs again.
    assert_eq!(
        send(&home, root, "logEverything", json!(["after"])),
        json!(true)
    );
    assert_eq!(lines_with(&daemon_log(&home), "after info").len(), 1);
}
