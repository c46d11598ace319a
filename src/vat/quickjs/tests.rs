//! The runtime against the real SES and liveslots, driven directly (no kernel).

use super::*;
use crate::capdata::CapData;
use crate::vat::{Message, Syscall};

/// Syscalls recorded in order.
#[derive(Default)]
struct Recorder(Vec<Syscall>);

impl Syscalls for Recorder {
    fn syscall(&mut self, syscall: Syscall) {
        self.0.push(syscall);
    }
}

const BUDGET: Duration = Duration::from_secs(10);

fn test_vat(name: &str) -> String {
    format!("file://{}/test-vats/{name}.bundle", env!("OUT_DIR"))
}

fn start(
    url: &str,
    name: &str,
    state: Vec<(String, String)>,
) -> (Box<dyn VatRuntime>, DeliveryResult) {
    let config = serde_json::json!({"bundleSpec": url, "parameters": {"name": name}});
    start_config(&config, state)
}

fn start_config(
    config: &serde_json::Value,
    state: Vec<(String, String)>,
) -> (Box<dyn VatRuntime>, DeliveryResult) {
    let mut vat = QuickJsFactory::default().create("v1", config).unwrap();
    let result = vat.init(state, &mut Recorder::default(), BUDGET).unwrap();
    (vat, result)
}

fn message(method_args: &str, slots: &[&str], result: &str) -> Delivery {
    Delivery::Message {
        target: "o+0".into(),
        message: Message {
            methargs: CapData {
                body: format!("#{method_args}"),
                slots: slots.iter().map(|s| s.to_string()).collect(),
            },
            result: Some(result.into()),
        },
    }
}

fn deliver(vat: &mut Box<dyn VatRuntime>, delivery: &Delivery) -> (DeliveryResult, Vec<String>) {
    let mut recorder = Recorder::default();
    let result = vat.deliver(delivery, &mut recorder, BUDGET).unwrap();
    let syscalls = recorder.0.iter().map(|s| s.to_json().to_string()).collect();
    (result, syscalls)
}

#[test]
fn ses_locks_down_in_quickjs() {
    let engine = Engine::new("v1", vec![], Limits::default()).unwrap();
    let frozen: Vec<bool> = engine.context.with(|ctx| {
        ctx.eval(
            "[Object.isFrozen(Array.prototype), Object.isFrozen(Object), typeof harden === 'function', \
              typeof Compartment === 'function', typeof HandledPromise === 'function', \
              (() => { try { Array.prototype.x = 1; return false } catch { return true } })()]",
        )
        .unwrap()
    });
    assert_eq!(
        frozen,
        vec![true; 6],
        "lockdown must have hardened the intrinsics"
    );
    // A compartment refuses the forbidden `import(` text, as SES does.
    let refused: bool = engine.context.with(|ctx| {
        ctx.eval("try { new Compartment().evaluate('1 /* import(x) */'); false } catch { true }")
            .unwrap()
    });
    assert!(refused);
}

fn counter() -> String {
    format!("file://{}/counter.bundle", env!("OUT_DIR"))
}

#[test]
fn counter_vat_runs_on_real_liveslots_and_keeps_its_count_in_the_vatstore() {
    let (mut vat, init) = start(&counter(), "counter", vec![]);
    assert_eq!(init.error, None);
    assert!(
        init.delta.0.iter().any(|(k, _)| k == "baggageID"),
        "liveslots set up baggage in the vatstore: {:?}",
        init.delta
    );
    let (result, syscalls) = deliver(
        &mut vat,
        &message(
            r#"["bootstrap",[{"counter":"$0.Alleged: vatRoot"},{}]]"#,
            &["o+0"],
            "p-1",
        ),
    );
    assert_eq!(result.error, None);
    assert_eq!(
        syscalls,
        vec![
            r##"["resolve",[["p-1",false,{"body":"#\"Counter initialized with count: 1\"","slots":[]}]]]"##
        ]
    );
    let (result, syscalls) = deliver(&mut vat, &message(r#"["resume",[]]"#, &[], "p-2"));
    assert_eq!(
        syscalls,
        vec![
            r##"["resolve",[["p-2",false,{"body":"#\"Counter incremented to: 2\"","slots":[]}]]]"##
        ]
    );
    assert!(
        result
            .delta
            .0
            .iter()
            .any(|(k, v)| k.contains("baggage") || v.contains('2')),
        "the new count is written: {:?}",
        result.delta
    );
    // A new runtime over the stored vatstore continues the count (a kernel restart).
    let mut state: std::collections::BTreeMap<String, String> = init.delta.0.into_iter().collect();
    state.extend(result.delta.0);
    for key in result.delta.1 {
        state.remove(&key);
    }
    let (mut vat, init) = start(&counter(), "counter", state.into_iter().collect());
    assert_eq!(init.error, None);
    let (_, syscalls) = deliver(&mut vat, &message(r#"["resume",[]]"#, &[], "p-3"));
    assert_eq!(
        syscalls,
        vec![
            r##"["resolve",[["p-3",false,{"body":"#\"Counter incremented to: 3\"","slots":[]}]]]"##
        ]
    );
}

#[test]
fn liveslots_syscalls_have_the_spec_7_7_shapes() {
    let (mut vat, _) = start(&test_vat("misbehaving"), "alice", vec![]);
    let (_, syscalls) = deliver(
        &mut vat,
        &message(
            r#"["hello",[{"alice":"$0.Alleged: vatRoot","bob":"$1.Alleged: vatRoot"},{}]]"#,
            &["o+0", "o-1"],
            "p-1",
        ),
    );
    assert_eq!(
        syscalls,
        vec![r##"["resolve",[["p-1",false,{"body":"#\"hello alice\"","slots":[]}]]]"##]
    );
    let (result, syscalls) = deliver(&mut vat, &message(r#"["boom",[]]"#, &[], "p-3"));
    assert_eq!(
        result.error, None,
        "a throwing method rejects its result, it does not fail the delivery"
    );
    assert_eq!(
        syscalls,
        vec![
            r##"["resolve",[["p-3",true,{"body":"#{\"#error\":\"boom\",\"errorId\":\"error:liveSlots:v1#70001\",\"name\":\"Error\"}","slots":[]}]]]"##
        ]
    );
    let (_, syscalls) = deliver(&mut vat, &message(r#"["makeThing",[]]"#, &[], "p-4"));
    assert_eq!(
        syscalls,
        vec![r##"["resolve",[["p-4",false,{"body":"#\"$0.Alleged: Thing\"","slots":["o+10"]}]]]"##]
    );
    let (_, syscalls) = deliver(
        &mut vat,
        &message(r#"["callOther",["$0.Alleged: Other"]]"#, &["o-1"], "p-5"),
    );
    assert_eq!(
        syscalls,
        vec![
            r##"["send","o-1",{"methargs":{"body":"#[\"ping\",[\"x\"]]","slots":[]},"result":"p+5"}]"##,
            r##"["subscribe","p+5"]"##
        ]
    );
    let notify = Delivery::from_json(
        &serde_json::json!(["notify", [["p+5", false, {"body": "#\"pong\"", "slots": []}]]]),
    )
    .unwrap();
    let (_, syscalls) = deliver(&mut vat, &notify);
    assert_eq!(
        syscalls,
        vec![r##"["resolve",[["p-5",false,{"body":"#\"pong\"","slots":[]}]]]"##]
    );
    let (_, syscalls) = deliver(&mut vat, &message(r#"["nope",[]]"#, &[], "p-6"));
    assert!(
        syscalls[0].starts_with(r##"["resolve",[["p-6",true,{"body":"#{\"#error\":\"target has no method \\\"nope\\\", has ["##),
        "{syscalls:?}"
    );
}

#[test]
fn a_vat_that_throws_in_build_root_object_fails_its_init() {
    let config = serde_json::json!({"bundleSpec": test_vat("throws")});
    let mut vat = QuickJsFactory::default().create("v1", &config).unwrap();
    let result = vat.init(vec![], &mut Recorder::default(), BUDGET).unwrap();
    let error = result.error.expect("init must report the failure");
    assert!(error.contains("buildRootObject exploded"), "{error}");
}

#[test]
fn loops_hit_the_budget() {
    for method in ["spin", "spinInJob"] {
        let (mut vat, _) = start(&test_vat("misbehaving"), "alice", vec![]);
        let budget = Duration::from_millis(200);
        let started = Instant::now();
        let fault = vat
            .deliver(
                &message(&format!(r#"["{method}",[]]"#), &[], "p-1"),
                &mut Recorder::default(),
                budget,
            )
            .unwrap_err();
        assert_eq!(fault, VatFault::Timeout(budget), "{method}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{method} stopped promptly"
        );
    }
}

#[test]
fn a_vat_memory_limit_comes_from_its_creation_options() {
    let factory = QuickJsFactory::default();
    let config = serde_json::json!({"creationOptions": {"memoryLimitMiB": 32}});
    assert_eq!(factory.limits_for(&config).unwrap().memory, 32 << 20);
    let default = factory.limits_for(&serde_json::json!({})).unwrap();
    assert_eq!(default.memory, Limits::default().memory);
    let config = serde_json::json!({"bundleSpec": test_vat("misbehaving"),
        "creationOptions": {"memoryLimitMiB": 32}});
    let mut vat = factory.create("v1", &config).unwrap();
    vat.init(vec![], &mut Recorder::default(), BUDGET).unwrap();
    let outcome = vat.deliver(
        &message(r#"["hog",[]]"#, &[], "p-1"),
        &mut Recorder::default(),
        BUDGET,
    );
    assert_eq!(outcome.unwrap_err(), VatFault::OutOfMemory);
}

#[test]
fn deep_recursion_is_stopped_by_the_stack_limit() {
    let (mut vat, _) = start(&test_vat("misbehaving"), "alice", vec![]);
    let (result, syscalls) = deliver(&mut vat, &message(r#"["recurse",[]]"#, &[], "p-1"));
    assert_eq!(
        result.error, None,
        "the vat survives: the error is catchable, as in Node"
    );
    assert_eq!(
        syscalls,
        vec![
            r##"["resolve",[["p-1",true,{"body":"#{\"#error\":\"Maximum call stack size exceeded\",\"errorId\":\"error:liveSlots:v1#70001\",\"name\":\"RangeError\"}","slots":[]}]]]"##
        ]
    );
}

#[test]
fn a_dropped_import_is_dropped_and_retired_after_bring_out_your_dead() {
    let (mut vat, _) = start(&test_vat("misbehaving"), "alice", vec![]);
    let (_, syscalls) = deliver(
        &mut vat,
        &message(r#"["hold",["$0.Alleged: Other"]]"#, &["o-7"], "p-1"),
    );
    assert_eq!(syscalls.len(), 1, "{syscalls:?}");
    let (_, syscalls) = deliver(&mut vat, &Delivery::BringOutYourDead);
    assert!(
        !syscalls.iter().any(|s| s.contains("o-7")),
        "a held import is kept: {syscalls:?}"
    );
    deliver(&mut vat, &message(r#"["drop",[]]"#, &[], "p-2"));
    let (result, syscalls) = deliver(&mut vat, &Delivery::BringOutYourDead);
    assert_eq!(result.error, None);
    assert_eq!(
        syscalls,
        vec![r#"["dropImports",["o-7"]]"#, r#"["retireImports",["o-7"]]"#],
        "QuickJS collected the presence and liveslots saw its finalizer"
    );
}

fn fixture(name: &str) -> String {
    format!(
        "file://{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn an_es_module_source_runs_with_every_provided_package() {
    let (mut vat, init) = start(&fixture("esm-vat.mjs"), "esm", vec![]);
    assert_eq!(init.error, None);
    let (_, syscalls) = deliver(&mut vat, &message(r#"["bootstrap",[]]"#, &[], "p-1"));
    assert_eq!(
        syscalls,
        vec![r##"["resolve",[["p-1",false,{"body":"#\"esm ready\"","slots":[]}]]]"##]
    );
    let (_, syscalls) = deliver(&mut vat, &message(r#"["check",[]]"#, &[], "p-2"));
    assert_eq!(
        syscalls,
        vec![
            r##"["resolve",[["p-2",false,{"body":"#[\"remotable\",\"function\",true,55]","slots":[]}]]]"##
        ]
    );
    let (_, syscalls) = deliver(&mut vat, &message(r#"["twice",[21]]"#, &[], "p-3"));
    assert_eq!(
        syscalls,
        vec![r##"["resolve",[["p-3",false,{"body":"#42","slots":[]}]]]"##]
    );
}

#[test]
fn every_package_vat_sources_may_import_is_provided() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.mjs");
    let mut source = String::new();
    for (n, package) in crate::vatsource::PACKAGES.iter().enumerate() {
        source.push_str(&format!("import * as p{n} from '{package}';\n"));
    }
    let counts: Vec<String> = (0..crate::vatsource::PACKAGES.len())
        .map(|n| format!("Object.keys(p{n}).length"))
        .collect();
    source.push_str(&format!(
        "import {{ Far }} from '@endo/far';\n\
         export const buildRootObject = () => Far('root', {{ counts: () => [{}] }});\n",
        counts.join(", ")
    ));
    std::fs::write(&path, source).unwrap();
    let (mut vat, init) = start(&format!("file://{}", path.display()), "all", vec![]);
    assert_eq!(init.error, None);
    let (_, syscalls) = deliver(&mut vat, &message(r#"["counts",[]]"#, &[], "p-1"));
    let counts: Vec<u32> = serde_json::from_str::<serde_json::Value>(&syscalls[0]).unwrap()[1][0]
        [2]["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(&b[1..]).ok())
        .unwrap();
    assert_eq!(counts.len(), crate::vatsource::PACKAGES.len());
    assert!(
        counts.iter().all(|&c| c > 0),
        "an empty namespace: {counts:?}"
    );

    std::fs::write(
        &path,
        "import { nothing } from '@endo/far';\nexport function buildRootObject() {}\n",
    )
    .unwrap();
    let config = serde_json::json!({"bundleSpec": format!("file://{}", path.display())});
    let mut vat = QuickJsFactory::default().create("v1", &config).unwrap();
    let error = vat
        .init(vec![], &mut Recorder::default(), BUDGET)
        .unwrap()
        .error
        .expect("a missing export fails the start");
    assert!(
        error.contains(
            "The requested module '@endo/far' does not provide an export named 'nothing'"
        ),
        "{error}"
    );
}

/// The result body of the only syscall of a delivery (a resolve), without its `#`.
fn answer(vat: &mut Box<dyn VatRuntime>, method_args: &str) -> serde_json::Value {
    let (_, syscalls) = deliver(vat, &message(method_args, &[], "p-1"));
    assert_eq!(syscalls.len(), 1, "{syscalls:?}");
    let syscall: serde_json::Value = serde_json::from_str(&syscalls[0]).unwrap();
    assert_eq!(syscall[1][0][1], false, "{syscall}");
    serde_json::from_str(&syscall[1][0][2]["body"].as_str().unwrap()[1..]).unwrap()
}

fn endowed(globals: &[&str]) -> Box<dyn VatRuntime> {
    let config = serde_json::json!({"bundleSpec": test_vat("endowments"), "globals": globals});
    let (vat, init) = start_config(&config, vec![]);
    assert_eq!(init.error, None);
    vat
}

#[test]
fn text_encoder_and_decoder_follow_the_encoding_standard() {
    let mut vat = endowed(&["TextEncoder", "TextDecoder"]);
    assert_eq!(
        answer(&mut vat, r#"["text",[]]"#),
        serde_json::json!([
            [0x61, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xef, 0xbf, 0xbd, 0x62],
            {"read": 1, "written": 1},
            "hi",
            2,
            "\u{fffd}\u{fffd}A",
            "\u{fffd}",
            "\u{fffd}A",
            "\u{20ac}",
            "TypeError",
            "RangeError",
            "utf-8"
        ])
    );
}

#[test]
fn base64_crypto_math_and_date_endowments_work() {
    let mut vat = endowed(&["atob", "btoa", "crypto", "Math", "Date"]);
    assert_eq!(
        answer(&mut vat, r#"["base64",[]]"#),
        serde_json::json!(["aGVsbG8=", "hello"])
    );
    assert_eq!(
        answer(&mut vat, r#"["random",[]]"#),
        serde_json::json!([
            32,
            true,
            2,
            "QuotaExceededError",
            "TypeMismatchError",
            true,
            true,
            100,
            7,
            true
        ])
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert_eq!(
        answer(&mut vat, &format!(r#"["clock",[{now}]]"#)),
        serde_json::json!([
            true,
            true,
            true,
            "string",
            "1970-01-01T00:00:00.000Z",
            946_684_800_000_u64
        ])
    );
}

#[test]
fn url_and_url_search_params_are_whatwg_urls() {
    let mut vat = endowed(&["URL", "URLSearchParams"]);
    assert_eq!(
        answer(&mut vat, r#"["url",[]]"#),
        serde_json::json!([
            "https://user:pw@xn--r8jz45g.jp:8080/b?x=1&y=two%20words#f",
            "xn--r8jz45g.jp",
            "8080",
            "two words",
            "https://h.example/a/c?q",
            ["1", "3"],
            "a=1&b=+&a=3&c=d%26e",
            "TypeError",
            true
        ])
    );
}

#[test]
fn abort_controllers_signal_their_listeners_once() {
    let mut vat = endowed(&["AbortController", "AbortSignal"]);
    assert_eq!(
        answer(&mut vat, r#"["abort",[]]"#),
        serde_json::json!([
            [false, false],
            true,
            "why",
            "why",
            ["once abort", "onabort", "listener"],
            "why",
            "AbortError",
            "TypeError",
            false,
            "function"
        ])
    );
}

#[test]
fn headers_sort_combine_validate_and_keep_set_cookie_apart() {
    let mut vat = endowed(&["Headers"]);
    let type_error = "TypeError";
    assert_eq!(
        answer(&mut vat, r#"["headers",[]]"#),
        serde_json::json!([
            [
                ["a", "1, 3"],
                ["b", "2"],
                ["c", "4"],
                ["set-cookie", "x=1"],
                ["set-cookie", "y=2"]
            ],
            ["b", "c", "set-cookie", "set-cookie"],
            ["1, 3", "2", "4", "x=1", "y=2"],
            ["1, 3", "x=1, y=2", null],
            true,
            ["x=1", "y=2"],
            [["a", "only"], ["set-cookie", "x=1"], ["set-cookie", "y=2"]],
            [["x-one", "v"]],
            [
                "a=1, 3",
                true,
                "b=2",
                true,
                "set-cookie=x=1",
                true,
                "set-cookie=y=2",
                true
            ],
            "[object Headers]",
            type_error,
            type_error,
            type_error,
            type_error,
            type_error,
            type_error
        ])
    );
}

#[test]
fn requests_parse_absolute_urls_normalize_methods_and_read_bodies_once() {
    let globals = [
        "Request",
        "Response",
        "URL",
        "URLSearchParams",
        "AbortController",
    ];
    let mut vat = endowed(&globals);
    let site = "https://example.org/";
    let mut expected = vec![
        serde_json::json!([
            "https://example.org/a?b#f",
            "POST",
            [["content-type", "text/plain;charset=UTF-8"], ["x-a", "1"]],
            false
        ]),
        serde_json::json!(["POST", [["x-b", "2"]], true, false]),
        serde_json::json!(["h\u{e9}", true, "TypeError"]),
        serde_json::json!("patch"),
        serde_json::json!([true, true, "stop"]),
        serde_json::json!({"x": [1]}),
        serde_json::json!([104, 105]),
        serde_json::json!([0, 104, 105, 0]),
        serde_json::json!([
            "application/x-www-form-urlencoded;charset=UTF-8",
            "a=1&b=2+3"
        ]),
        serde_json::json!([
            site,
            "GET",
            "cors",
            "same-origin",
            "default",
            "follow",
            "about:client"
        ]),
        serde_json::json!(["", false, "", null, false, false]),
        serde_json::json!(["", "", false]),
    ];
    // Relative URL, credentials, CONNECT, trace, a non-token method, GET and HEAD with a body,
    // a bad redirect, a signal that is not one, and cloning or remaking a used Request.
    expected.extend(std::iter::repeat_n(serde_json::json!("TypeError"), 11));
    expected.extend(std::iter::repeat_n(
        serde_json::json!("NotSupportedError"),
        2,
    ));
    assert_eq!(
        answer(&mut vat, r#"["request",[]]"#),
        serde_json::Value::Array(expected)
    );
}

#[test]
fn responses_check_statuses_and_make_errors_redirects_and_json() {
    let mut vat = endowed(&["Response"]);
    assert_eq!(
        answer(&mut vat, r#"["response",[]]"#),
        serde_json::json!([
            [201, "Made", true, "default", "", false],
            [["content-type", "text/plain;charset=UTF-8"], ["x-a", "1"]],
            ["hi", true, "TypeError"],
            ["hi", "TypeError"],
            [200, null, "", false],
            [202, "application/json", {"a": [1]}],
            [307, "https://example.org/next", null],
            ["error", 0, false, []],
            ["h", 204],
            "TypeError",
            "TypeError",
            "RangeError",
            "RangeError",
            "TypeError",
            "TypeError",
            "RangeError",
            "TypeError",
            "TypeError",
            "SyntaxError",
            "NotSupportedError"
        ])
    );
}

#[test]
fn fetch_classes_are_hardened() {
    let mut vat = endowed(&["Headers", "Request", "Response"]);
    assert_eq!(
        answer(&mut vat, r#"["fetchClassesAreHardened",[]]"#),
        serde_json::json!([[true, true, true, true, true, true], true, "TypeError"])
    );
}

#[test]
fn the_hosts_fetch_helpers_send_requests_and_make_immutable_responses() {
    let config = serde_json::json!({
        "bundleSpec": test_vat("http-host"),
        "globals": ["URL", "URLSearchParams"],
    });
    let (mut vat, init) = start_config(&config, vec![]);
    assert_eq!(init.error, None);
    assert_eq!(
        answer(&mut vat, r#"["requestParts",[]]"#),
        serde_json::json!([
            {
                "method": "POST",
                "url": "https://example.org/p?q=1",
                "headers": [["x-b", "2"], ["x-a", "1"], ["content-type", "text/plain;charset=UTF-8"]],
                "body": [104, 0xc3, 0xa9]
            },
            true,
            true,
            "TypeError",
            {"method": "GET", "url": "https://example.org/", "headers": [], "body": null},
            "TypeError"
        ])
    );
    assert_eq!(
        answer(&mut vat, r#"["makeResponse",[]]"#),
        serde_json::json!([
            true,
            ["basic", 404, "Not Found", false, "https://example.org/last"],
            [
                true,
                [
                    ["content-type", "text/plain"],
                    ["set-cookie", "a=1"],
                    ["set-cookie", "b=2"]
                ],
                ["a=1", "b=2"]
            ],
            "TypeError",
            "hi",
            "hi",
            ["", false, "", false],
            "RangeError",
            "TypeError"
        ])
    );
}

#[test]
fn without_asking_a_vat_gets_no_endowments_and_tamed_date_and_math() {
    let mut vat = endowed(&[]);
    assert_eq!(
        answer(&mut vat, r#"["withoutGlobals",[]]"#),
        serde_json::json!([
            "undefined",
            "undefined",
            "undefined",
            "undefined",
            "TypeError",
            "TypeError"
        ])
    );
}

/// A vat of the timers test vat, with the timer endowments.
fn timers_vat() -> Box<dyn VatRuntime> {
    let config = serde_json::json!({
        "bundleSpec": test_vat("timers"),
        "globals": ["setTimeout", "clearTimeout", "setInterval", "clearInterval"],
    });
    let (vat, init) = start_config(&config, vec![]);
    assert_eq!(init.error, None);
    vat
}

/// Wakes `vat` once the timers set `ms` from now are due; its syscalls as JSON text.
fn wake_after(vat: &mut Box<dyn VatRuntime>, ms: u64) -> (DeliveryResult, Vec<String>) {
    std::thread::sleep(Duration::from_millis(ms));
    let mut recorder = Recorder::default();
    let result = vat.wake(&mut recorder, BUDGET).unwrap();
    let syscalls = recorder.0.iter().map(|s| s.to_json().to_string()).collect();
    (result, syscalls)
}

#[test]
fn a_timer_fires_in_a_wake_of_its_own_and_resolves_the_result() {
    let mut vat = timers_vat();
    let (_, syscalls) = deliver(&mut vat, &message(r#"["later",[20,"hi"]]"#, &[], "p-1"));
    assert_eq!(syscalls, Vec::<String>::new(), "nothing before the timer");
    let (_, early) = wake_after(&mut vat, 0);
    assert_eq!(early, Vec::<String>::new(), "not due yet");
    let (_, syscalls) = wake_after(&mut vat, 30);
    assert_eq!(
        syscalls,
        vec![r##"["resolve",[["p-1",false,{"body":"#\"hi after 20 ms\"","slots":[]}]]]"##]
    );
}

#[test]
fn a_wake_ends_like_a_delivery_so_virtual_state_reaches_the_vatstore() {
    let mut vat = timers_vat();
    deliver(&mut vat, &message(r#"["tallyLater",[1]]"#, &[], "p-1"));
    let (woken, _) = wake_after(&mut vat, 10);
    assert_eq!(
        woken.delta.0,
        vec![(
            "vom.o+v10/1".to_string(),
            r##"{"count":{"body":"#1","slots":[]}}"##.to_string()
        )],
        "the handler's change to virtual state was flushed"
    );
    assert_eq!(answer(&mut vat, r#"["tally",[]]"#), 1);
}

#[test]
fn intervals_repeat_until_cleared_and_cleared_timeouts_never_fire() {
    let mut vat = timers_vat();
    deliver(&mut vat, &message(r#"["ticks",[1,3]]"#, &[], "p-1"));
    let mut resolved = Vec::new();
    for _ in 0..50 {
        let (_, syscalls) = wake_after(&mut vat, 2);
        resolved.extend(syscalls);
        if !resolved.is_empty() {
            break;
        }
    }
    assert_eq!(
        resolved,
        vec![r##"["resolve",[["p-1",false,{"body":"#3","slots":[]}]]]"##]
    );
    assert_eq!(answer(&mut vat, r#"["cancelled",[1]]"#), "cancelled");
    wake_after(&mut vat, 5);
    assert_eq!(answer(&mut vat, r#"["woken",[]]"#), 0);
}

#[test]
fn a_throwing_handler_is_logged_and_the_others_still_run() {
    let mut vat = timers_vat();
    deliver(&mut vat, &message(r#"["throwing",[1]]"#, &[], "p-1"));
    let (result, syscalls) = wake_after(&mut vat, 10);
    assert_eq!(result.error, None);
    assert_eq!(
        syscalls,
        vec![
            r##"["resolve",[["p-1",false,{"body":"#\"the next timer still ran\"","slots":[]}]]]"##
        ]
    );
}

#[test]
fn timers_refuse_a_string_handler_and_hand_out_opaque_frozen_handles() {
    let mut vat = timers_vat();
    assert_eq!(
        answer(&mut vat, r#"["refused",[]]"#),
        serde_json::json!(["TypeError", "object", true])
    );
}

#[test]
fn a_handler_that_loops_hits_the_budget() {
    let mut vat = timers_vat();
    deliver(&mut vat, &message(r#"["spinLater",[1]]"#, &[], "p-1"));
    std::thread::sleep(Duration::from_millis(5));
    let budget = Duration::from_millis(100);
    let fault = vat.wake(&mut Recorder::default(), budget).unwrap_err();
    assert_eq!(fault, VatFault::Timeout(budget));
}

#[test]
fn abort_signal_timeout_aborts_on_the_vats_timers() {
    let config = serde_json::json!({
        "bundleSpec": test_vat("timers"),
        "globals": ["AbortSignal", "setTimeout"],
    });
    let (mut vat, _) = start_config(&config, vec![]);
    let (_, syscalls) = deliver(&mut vat, &message(r#"["timeoutSignal",[1]]"#, &[], "p-1"));
    assert_eq!(syscalls, Vec::<String>::new());
    let (_, syscalls) = wake_after(&mut vat, 5);
    assert_eq!(
        syscalls,
        vec![r##"["resolve",[["p-1",false,{"body":"#[true,\"TimeoutError\"]","slots":[]}]]]"##]
    );
}

/// A vat of the fetch test vat, allowed to reach 127.0.0.1, woken through `wakeups`; and a
/// channel that hears each time it is rung.
fn fetcher_vat(
    wakeups: &crate::vat::Wakeups,
) -> (Box<dyn VatRuntime>, std::sync::mpsc::Receiver<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    wakeups.set_poke(move || {
        let _ = tx.lock().unwrap().send(());
    });
    let config = serde_json::json!({
        "bundleSpec": test_vat("fetcher"),
        "globals": ["fetch", "Request", "AbortController"],
        "network": {"allowedHosts": ["127.0.0.1"]},
    });
    let mut vat = QuickJsFactory::default().create("v1", &config).unwrap();
    vat.attach(wakeups.waker("v1"));
    let init = vat.init(vec![], &mut Recorder::default(), BUDGET).unwrap();
    assert_eq!(init.error, None);
    (vat, rx)
}

/// Delivers `method_args`, waits for the vat to be rung (its request finished), wakes it, and
/// returns the result it resolved.
fn fetched(
    vat: &mut Box<dyn VatRuntime>,
    rung: &std::sync::mpsc::Receiver<()>,
    method_args: &str,
) -> serde_json::Value {
    let (_, syscalls) = deliver(vat, &message(method_args, &[], "p-1"));
    assert_eq!(
        syscalls,
        Vec::<String>::new(),
        "nothing before the response"
    );
    rung.recv_timeout(Duration::from_secs(30)).unwrap();
    let mut recorder = Recorder::default();
    vat.wake(&mut recorder, BUDGET).unwrap();
    let syscalls: Vec<_> = recorder.0.iter().map(|s| s.to_json()).collect();
    assert_eq!(syscalls.len(), 1, "{syscalls:?}");
    serde_json::from_str(&syscalls[0][1][0][2]["body"].as_str().unwrap()[1..]).unwrap()
}

#[test]
fn fetch_gets_and_posts_through_the_host_and_the_response_arrives_in_a_wake() {
    let (port, seen) = crate::vat::http::test_server::server(|method, path| match path {
        "/moved" => ("301 Moved\r\nlocation: /text".into(), vec![]),
        _ if method == "POST" => (
            "200 OK\r\ncontent-type: application/json".into(),
            b"{\"n\":2}".to_vec(),
        ),
        _ => (
            "200 OK\r\nx-answer: 42".into(),
            "h\u{e9}llo".as_bytes().to_vec(),
        ),
    });
    let wakeups = crate::vat::Wakeups::default();
    let (mut vat, rung) = fetcher_vat(&wakeups);
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(
        fetched(&mut vat, &rung, &format!(r#"["get",["{base}/moved"]]"#)),
        serde_json::json!([200, true, "42", "h\u{e9}llo", format!("{base}/text"), true])
    );
    let head = seen.recv().unwrap().to_ascii_lowercase();
    assert!(head.contains("x-vat: fetcher"), "{head}");
    seen.recv().unwrap();
    assert_eq!(
        fetched(
            &mut vat,
            &rung,
            &format!(r#"["post",["{base}/json",{{"n":1}}]]"#)
        ),
        serde_json::json!({"n": 2})
    );
    assert!(seen.recv().unwrap().ends_with("\r\n\r\n{\"n\":1}"));
}

#[test]
fn fetch_refuses_unlisted_hosts_and_files_and_reports_network_failures() {
    let wakeups = crate::vat::Wakeups::default();
    let (mut vat, rung) = fetcher_vat(&wakeups);
    assert_eq!(
        answer(&mut vat, r#"["refused",["http://example.com/"]]"#),
        serde_json::json!(["Error", "Invalid host: example.com", null])
    );
    assert_eq!(
        answer(&mut vat, r#"["refused",["file:///etc/passwd"]]"#)[1]
            .as_str()
            .unwrap()
            .split('.')
            .next(),
        Some("fetch cannot target file:// URLs")
    );
    // Nothing listens on port 9 (discard) of loopback: the connection is refused.
    let failed = fetched(&mut vat, &rung, r#"["refused",["http://127.0.0.1:9/"]]"#);
    assert_eq!(
        (&failed[0], &failed[1]),
        (&"TypeError".into(), &"fetch failed".into())
    );
    assert!(failed[2].is_string(), "the cause says why: {failed}");
}

#[test]
fn an_aborted_fetch_rejects_at_once_and_its_late_response_is_dropped() {
    let (port, _seen) = crate::vat::http::test_server::server(|_, _| ("200 OK".into(), vec![]));
    let wakeups = crate::vat::Wakeups::default();
    let (mut vat, rung) = fetcher_vat(&wakeups);
    let url = format!("http://127.0.0.1:{port}/");
    assert_eq!(
        answer(&mut vat, &format!(r#"["aborted",["{url}"]]"#)),
        serde_json::json!(["AbortError", "This operation was aborted", null])
    );
    rung.recv_timeout(Duration::from_secs(30)).unwrap();
    let mut recorder = Recorder::default();
    let woken = vat.wake(&mut recorder, BUDGET).unwrap();
    assert_eq!((woken.error, recorder.0.len()), (None, 0));
}

#[test]
fn fetch_without_allowed_hosts_is_refused_before_the_vat_starts() {
    let config = serde_json::json!({"bundleSpec": test_vat("fetcher"), "globals": ["fetch"]});
    assert_eq!(
        QuickJsFactory::default().check(&config),
        Err(crate::vat::SetupError::Refused(
            r#"requested "fetch" but no network.allowedHosts was specified"#.into()
        ))
    );
}

#[test]
fn subtle_crypto_matches_the_standards_vectors() {
    let mut vat = endowed(&["crypto"]);
    assert_eq!(
        answer(&mut vat, r#"["subtleVectors",[]]"#),
        serde_json::json!([
            // FIPS 180-2 "abc", by names in any case.
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            // RFC 4231 case 2.
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            // RFC 8032 test 1: signature, public key, and the signature verified by it.
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            true,
            // The private key as a JWK signs alike; the public key as SPKI (RFC 8410); a JWK whose
            // "x" is not d's public key is refused.
            true,
            "302a300506032b6570032100d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "DataError",
            // GCM test case 4: ciphertext, then tag.
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091\
             5bc94fbc3221a5db94fae95ae7121a47",
            // RFC 6070 case 3, RFC 5869 case 1.
            "4b007901b765489abead49d926f721d065a429c1",
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        ])
    );
}

#[test]
fn subtle_crypto_round_trips_and_refuses_what_the_spec_refuses() {
    let mut vat = endowed(&["crypto", "SubtleCrypto"]);
    let sha = |name: &str| serde_json::json!({"name": name});
    assert_eq!(
        answer(&mut vat, r#"["subtleRoundTrips",[]]"#),
        serde_json::json!([
            {"name": "HMAC", "hash": sha("SHA-512"), "length": 1024},
            true,
            false,
            true,
            ["oct", "HS512", 171, ["sign", "verify"], true],
            {"name": "AES-GCM", "length": 256},
            9 + 16,
            ["oct", "A256GCM", true],
            "OperationError",
            "OperationError",
            ["public", true, ["verify"], ["sign"]],
            true,
            false,
            32,
            44,
            true,
            [
                {"name": "AES-GCM", "length": 128},
                {"name": "HMAC", "hash": sha("SHA-384"), "length": 1024},
                128
            ]
        ])
    );
    assert_eq!(
        answer(&mut vat, r#"["subtleErrors",[]]"#),
        serde_json::json!([
            "TypeError",
            true,
            true,
            "NotSupportedError",
            "NotSupportedError",
            "InvalidAccessError",
            "InvalidAccessError",
            "InvalidAccessError",
            "InvalidAccessError",
            "DataError",
            "SyntaxError",
            "SyntaxError",
            "SyntaxError",
            "NotSupportedError",
            "NotSupportedError",
            "NotSupportedError",
            "TypeError",
            "TypeError",
            "DataError",
            "NotSupportedError",
            "OperationError",
            "NotSupportedError",
            "OperationError",
            "InvalidAccessError",
            [0, "{}", true],
            ["secret", false, {"name": "HMAC", "hash": sha("SHA-1"), "length": 32}, ["verify"]],
            "TypeError"
        ])
    );
}

#[test]
fn the_platform_fs_reads_only_inside_its_root_and_only_what_the_config_allows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "h\u{e9}").unwrap();
    let config = serde_json::json!({
        "bundleSpec": test_vat("files"),
        "platformConfig": {"fs": {"rootDir": dir.path(), "existsSync": true,
            "promises": {"readFile": true}}},
    });
    let (mut vat, init) = start_config(&config, vec![]);
    assert_eq!(init.error, None);
    assert_eq!(
        answer(&mut vat, r#"["shape",[]]"#),
        serde_json::json!(["object", ["existsSync", "promises"], ["readFile"], true])
    );
    assert_eq!(answer(&mut vat, r#"["exists",["a.txt"]]"#), true);
    assert_eq!(answer(&mut vat, r#"["read",["a.txt","utf8"]]"#), "h\u{e9}");
    assert_eq!(
        answer(&mut vat, r#"["read",["a.txt"]]"#),
        serde_json::json!([0x68, 0xc3, 0xa9])
    );
    // More bytes than a JavaScript call takes arguments, in each string encoding.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("big"), &big).unwrap();
    let latin1: String = big.iter().map(|&b| char::from(b)).collect();
    assert_eq!(answer(&mut vat, r#"["read",["big","latin1"]]"#), latin1);
    let hex: String = big.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(answer(&mut vat, r#"["read",["big","hex"]]"#), hex);
    let base64 = answer(&mut vat, r#"["read",["big","base64"]]"#);
    assert_eq!(base64.as_str().unwrap().len(), 133_336);
    assert!(base64.as_str().unwrap().starts_with("AAECAwQFBgcICQ"));
    assert_eq!(
        answer(&mut vat, r#"["read",["none"]]"#),
        serde_json::json!(["ENOENT: no such file or directory, open 'none'", "ENOENT"])
    );
    let outside = answer(&mut vat, r#"["read",["/etc/passwd"]]"#);
    assert!(
        outside[0]
            .as_str()
            .unwrap()
            .starts_with("fs.readFile: Path /etc/passwd is outside allowed root"),
        "{outside}"
    );
    let outside = answer(&mut vat, r#"["exists",["../x"]]"#);
    assert!(
        outside[0]
            .as_str()
            .unwrap()
            .starts_with("fs.existsSync: Path ../x")
    );
}

#[test]
fn without_platform_config_a_vat_has_no_fs() {
    let config = serde_json::json!({"bundleSpec": test_vat("files")});
    let (mut vat, _) = start_config(&config, vec![]);
    assert_eq!(
        answer(&mut vat, r#"["shape",[]]"#),
        serde_json::json!(["undefined"])
    );
}

#[test]
fn stacks_have_v8_frames_and_common_type_errors_have_v8_words() {
    let engine = Engine::new("v1", vec![], Limits::default()).unwrap();
    let out: Vec<String> = engine.context.with(|ctx| {
        ctx.eval(
            "const c = new Compartment();
             const run = src => { try { c.evaluate(src); return 'no error'; } catch (e) { return e.stack; } };
             [run('function inner() { let u; return u.field; }\\nfunction outer() { return inner(); }\\nouter()'),
              run('const o = null; o.x = 1'),
              run('const o = {}; o.f()')]",
        )
        .unwrap()
    });
    let lines: Vec<&str> = out[0].lines().collect();
    assert_eq!(
        lines[0],
        "TypeError: Cannot read properties of undefined (reading 'field')"
    );
    assert!(lines[1].starts_with("  at inner (<input>:1:"), "{}", out[0]);
    assert!(lines[2].starts_with("  at outer (<input>:2:"), "{}", out[0]);
    assert!(
        !out[0].contains("CallSite") && !out[0].contains("node_modules"),
        "{}",
        out[0]
    );
    assert!(
        out[1].starts_with("TypeError: Cannot set properties of null (setting 'x')\n"),
        "{}",
        out[1]
    );
    assert!(
        out[2].starts_with("TypeError: not a function\n"),
        "{}",
        out[2]
    );
}
