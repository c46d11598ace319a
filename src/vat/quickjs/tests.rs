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
            "undefined"
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
            "TypeError",
            "TypeError"
        ])
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
