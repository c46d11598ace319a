//! OCAP URLs and capability records (spec §2.6 and the ocap extension), through kernel calls,
//! and the URL services from real JavaScript vats.

use super::Harness;
use super::quickjs::{harness as quickjs, test_vat};
use crate::kernel::{Call, IssueOptions, Redeemable};
use serde_json::{Value, json};

fn issue(h: &mut Harness, kref: &str) -> String {
    let url = h.call(Call::IssueOcapUrl(kref.into())).unwrap();
    url.as_str().unwrap().to_string()
}

fn issue_with(h: &mut Harness, kref: &str, options: IssueOptions) -> Value {
    h.call(Call::IssueCapability {
        kref: kref.into(),
        options,
    })
    .unwrap()
}

fn redeem(h: &mut Harness, url: &str) -> Result<Value, String> {
    h.call(Call::RedeemOcapUrl(Redeemable::Unopened(url.into())))
}

#[test]
fn issued_urls_have_the_reference_shape_and_redeem_locally_spec_2_6() {
    let mut h = Harness::new();
    let peer_id = h.kv("peerId").unwrap();
    assert!(peer_id.starts_with("12D3KooW"), "{peer_id}");
    let a = issue(&mut h, "ko4");
    let b = issue(&mut h, "ko4");
    assert_ne!(a, b, "issuing is randomized");
    let oid = a
        .strip_prefix("ocap:")
        .and_then(|rest| rest.strip_suffix(&format!("@{peer_id}")))
        .unwrap_or_else(|| panic!("{a}"));
    assert!(oid.starts_with('z'));
    assert_eq!(redeem(&mut h, &a), Ok(json!("ko4")));
    assert_eq!(redeem(&mut h, &b), Ok(json!("ko4")));
    let promise = issue(&mut h, "kp7");
    assert_eq!(
        redeem(&mut h, &promise),
        Ok(json!("kp7")),
        "promises too, as the reference"
    );
    h.restart();
    assert_eq!(h.kv("peerId").unwrap(), peer_id, "the identity persists");
    assert_eq!(redeem(&mut h, &a), Ok(json!("ko4")), "so do the URLs");
}

#[test]
fn bad_urls_get_the_reference_errors_and_never_quote_the_url() {
    let mut h = Harness::new();
    let good = issue(&mut h, "ko4");
    let peer_id = h.kv("peerId").unwrap();
    let tampered = good.replacen("ocap:z", "ocap:z2", 1);
    for (url, error) in [
        ("nonsense", "unparseable URL"),
        ("https://example.com/", "not an ocap URL"),
        ("ocap:zabc", "bad ocap URL"),
        (
            &format!("ocap:zabc@{peer_id}"),
            "ocapURL has bad object reference",
        ),
        (&tampered, "ocapURL has bad object reference"),
        (
            "ocap:zabc@12D3KooWSomeoneElse",
            "Remote comms not initialized",
        ),
    ] {
        assert_eq!(redeem(&mut h, url), Err(error.to_string()), "{url}");
    }
}

#[test]
fn revoking_one_url_leaves_the_others_and_the_object_alone() {
    let mut h = Harness::new();
    let kept = issue_with(&mut h, "ko4", IssueOptions::default());
    let gone = issue_with(
        &mut h,
        "ko4",
        IssueOptions {
            label: Some("for bob".into()),
            expires: None,
        },
    );
    let id = gone["id"].as_str().unwrap();
    assert!(id.starts_with("cap-") && id.len() == 20, "{id}");
    assert_eq!(gone["label"], "for bob");
    assert_eq!(h.call(Call::RevokeCapability(id.into())), Ok(Value::Null));
    assert_eq!(
        redeem(&mut h, gone["url"].as_str().unwrap()),
        Err(format!("Capability {id} has been revoked"))
    );
    assert_eq!(
        redeem(&mut h, kept["url"].as_str().unwrap()),
        Ok(json!("ko4"))
    );
    assert_eq!(
        h.kv("ko4.revoked"),
        None,
        "the object itself is not revoked"
    );
    assert_eq!(
        h.call(Call::RevokeCapability("cap-0000000000000000".into())),
        Err("No capability cap-0000000000000000".into())
    );
    let list = h.call(Call::ListCapabilities).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let revoked = list.iter().find(|c| c["id"] == id).unwrap();
    assert!(revoked["revoked"].is_u64() && revoked["lastUsed"].is_null());
    let used = list.iter().find(|c| c["id"] == kept["id"]).unwrap();
    assert!(used["lastUsed"].is_u64(), "{used}");
    assert!(
        list.iter().all(|c| c.get("url").is_none()),
        "URLs are never stored"
    );
}

#[test]
fn an_expired_capability_no_longer_redeems() {
    let mut h = Harness::new();
    let past = issue_with(
        &mut h,
        "ko4",
        IssueOptions {
            label: None,
            expires: Some(1),
        },
    );
    let err = redeem(&mut h, past["url"].as_str().unwrap()).unwrap_err();
    let id = past["id"].as_str().unwrap();
    assert!(
        err.starts_with(&format!("Capability {id} expired")),
        "{err}"
    );
}

#[test]
fn clear_state_keeps_the_identity_but_forgets_the_capabilities() {
    let mut h = Harness::new();
    let peer_id = h.kv("peerId").unwrap();
    let url = issue(&mut h, "ko4");
    h.call(Call::ClearState).unwrap();
    assert_eq!(h.kv("peerId").unwrap(), peer_id);
    // ko4 will be some other object now: the old URL must not reach it.
    let err = redeem(&mut h, &url).unwrap_err();
    assert!(
        err.contains("not a capability this kernel has on record"),
        "{err}"
    );
}

fn url_holder() -> String {
    test_vat("url-holder")
}

#[test]
fn vats_issue_and_redeem_through_the_kernel_services_spec_2_5() {
    let mut h = quickjs();
    let services = ["ocapURLIssuerService", "ocapURLRedemptionService"];
    h.launch("holder", &[("holder", &url_holder())], &services)
        .unwrap();
    let issued = h.send("ko4", "issueCounter", json!([])).unwrap();
    let body = issued["body"].as_str().unwrap();
    let url: String = serde_json::from_str(&body[1..]).unwrap();
    let kref = redeem(&mut h, &url).unwrap();
    assert_eq!(
        h.send(kref.as_str().unwrap(), "inc", json!([])).unwrap()["body"],
        "#1"
    );
    assert_eq!(
        h.send("ko4", "redeemAndInc", json!([url])).unwrap()["body"],
        "#2",
        "the vat redeemed its own URL and called the counter"
    );
    let err = h.send("ko4", "issueText", json!([])).unwrap_err();
    assert_eq!(err, "[KERNEL:DELIVERY_FAILED] Argument must be a remotable");
    let daemon_url = issue(&mut h, kref.as_str().unwrap());
    assert_eq!(
        h.send("ko4", "redeemAndInc", json!([daemon_url])).unwrap()["body"],
        "#3"
    );
    let list = h.call(Call::ListCapabilities).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|c| c["label"] == "issued by a vat through ocapURLIssuerService"),
        "{list}"
    );
}

#[test]
fn invoking_by_url_hands_back_urls_not_krefs() {
    let mut h = quickjs();
    h.launch("holder", &[("holder", &url_holder())], &[])
        .unwrap();
    let root = issue_with(
        &mut h,
        "ko4",
        IssueOptions {
            label: None,
            expires: Some(u64::MAX),
        },
    );
    let invoke = |h: &mut Harness, url: &str, method: &str| {
        h.call(Call::InvokeCapability {
            url: Redeemable::Unopened(url.into()),
            method: method.into(),
            args: vec![],
        })
    };
    let made = invoke(&mut h, root["url"].as_str().unwrap(), "makeCounter").unwrap();
    assert_eq!(made["body"], "#\"$0.Alleged: Counter\"");
    let counter = made["slots"][0].as_str().unwrap().to_string();
    assert!(counter.starts_with("ocap:z"), "{made}");
    assert_eq!(invoke(&mut h, &counter, "inc").unwrap()["body"], "#1");
    let list = h.call(Call::ListCapabilities).unwrap();
    let child = &list.as_array().unwrap()[1];
    let root_id = root["id"].as_str().unwrap();
    assert_eq!(child["label"], format!("returned by {root_id} makeCounter"));
    assert_eq!(
        child["expires"],
        json!(u64::MAX),
        "children expire with their parent"
    );
    h.call(Call::RevokeCapability(child["id"].as_str().unwrap().into()))
        .unwrap();
    let err = invoke(&mut h, &counter, "inc").unwrap_err();
    assert!(err.ends_with("has been revoked"), "{err}");
    let facet = issue(&mut h, "ko3");
    let err = invoke(&mut h, &facet, "ping").unwrap_err();
    assert!(err.ends_with("names a system-only service"), "{err}");
}

/// URLs handed back by invocations draw on the budget of the capability the chain started from,
/// so a holder cannot mint records without bound; past it, invocations that would hand back
/// more are refused and change nothing.
#[test]
fn invocations_hand_back_capabilities_on_one_bounded_budget() {
    use crate::kernel::invoke::MINT_LIMIT;
    let mut h = quickjs();
    h.launch("holder", &[("holder", &url_holder())], &[])
        .unwrap();
    let root = issue_with(&mut h, "ko4", IssueOptions::default());
    let (root_url, root_id) = (root["url"].as_str().unwrap(), root["id"].as_str().unwrap());
    let invoke = |h: &mut Harness, url: &str, method: &str| {
        h.call(Call::InvokeCapability {
            url: Redeemable::Unopened(url.into()),
            method: method.into(),
            args: vec![],
        })
    };
    let made = invoke(&mut h, root_url, "makeCounter").unwrap();
    let child = made["slots"][0].as_str().unwrap().to_string();
    let record_of = |h: &mut Harness, id: &str| -> Value {
        serde_json::from_str(&h.kv(&format!("capability.{id}")).unwrap()).unwrap()
    };
    assert_eq!(record_of(&mut h, root_id)["minted"], 1);
    let list = h.call(Call::ListCapabilities).unwrap();
    let child_record = &list.as_array().unwrap()[1];
    // What the child hands back draws on the root's budget, not on a fresh one of its own.
    assert_eq!(child_record["root"], root_id, "{list}");

    // Nearly spent: one more may be handed back, then none.
    let mut record = record_of(&mut h, root_id);
    record["minted"] = json!(MINT_LIMIT - 1);
    h.kernel()
        .state()
        .store()
        .set(&format!("capability.{root_id}"), &record.to_string())
        .unwrap();
    invoke(&mut h, root_url, "makeCounter").unwrap();
    let records = h
        .call(Call::ListCapabilities)
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    let err = invoke(&mut h, root_url, "makeCounter").unwrap_err();
    assert!(
        err.contains("has handed back its limit of 10000 capabilities"),
        "{err}"
    );
    assert_eq!(
        h.call(Call::ListCapabilities)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        records,
        "a refused invocation leaves no record"
    );
    // A URL handed back still works when it hands back nothing.
    assert_eq!(invoke(&mut h, &child, "inc").unwrap()["body"], "#1");
    h.assert_invariants();
}
