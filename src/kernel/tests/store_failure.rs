//! A store that fails to write (a full disk, simulated with SQLite's `max_page_count`): callers
//! are answered with the error instead of hanging, nothing acknowledged before is lost, and the
//! kernel goes on once writes fit again.

use super::scripted::ScriptedFactory;
use crate::kernel::store::open;
use crate::kernel::{Call, KernelHandle, KernelOptions, LaunchPlan, start};
use serde_json::{Value, json};

fn call(
    runtime: &tokio::runtime::Runtime,
    handle: &KernelHandle,
    call: Call,
) -> Result<Value, String> {
    let answer = runtime.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(20), handle.call(call)).await
    });
    answer
        .expect("answered, not left hanging")
        .map_err(|e| e.to_string())
}

fn counter_plan() -> Call {
    let vat = json!({"bundleSpec": "file:///c.bundle", "parameters": {"name": "c"}});
    Call::Launch(LaunchPlan {
        raw: json!({"bootstrap": "c", "vats": {"c": vat.clone()}}),
        bootstrap: "c".into(),
        vats: vec![("c".into(), vat)],
        services: vec![],
        io: Vec::new(),
    })
}

fn resume(arg: &str) -> Call {
    Call::QueueMessage {
        target: "ko4".into(),
        method: "resume".into(),
        args: vec![json!(arg)],
    }
}

#[test]
fn a_full_disk_answers_callers_with_the_error_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kernel.sqlite");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let options = KernelOptions::default();
    {
        let (handle, thread) = start(
            open(&path).unwrap(),
            &path,
            Box::new(ScriptedFactory),
            options,
        )
        .unwrap();
        call(&runtime, &handle, counter_plan()).unwrap();
        drop(handle);
        thread.join().unwrap();
    }
    let conn = open(&path).unwrap();
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    // Room for small writes, none for a message carrying 64 KiB.
    conn.pragma_update(None, "max_page_count", pages + 4)
        .unwrap();
    let (handle, thread) = start(conn, &path, Box::new(ScriptedFactory), options).unwrap();
    assert_eq!(
        call(&runtime, &handle, resume("")).unwrap()["body"],
        "#\"Counter incremented to: 2\""
    );
    let error = call(&runtime, &handle, resume(&"x".repeat(64 << 10))).unwrap_err();
    assert!(error.contains("full"), "{error}");
    // The kernel repaired itself (its own writes fit) and goes on from what was acknowledged.
    assert_eq!(
        call(&runtime, &handle, resume("")).unwrap()["body"],
        "#\"Counter incremented to: 3\""
    );
    drop(handle);
    thread.join().unwrap();
    let store = crate::kernel::store::Store::new(open(&path).unwrap());
    assert_eq!(
        crate::kernel::invariants::check(&store),
        Vec::<String>::new()
    );
}
