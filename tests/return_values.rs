//! The result of an execution: last expression, top-level return, awaited, JSON-safe.
mod common;

use common::Server;
use serde_json::json;

#[tokio::test]
async fn return_values_by_parsing() {
    let s = Server::start("").await;
    let cases = [
        ("1+1", json!(2)),
        ("const a = 5\nreturn a * 2", json!(10)),
        ("function f() { return 1; }\nf()", json!(1)),
        ("for (let i = 0; i < 3; i++) { }", json!(null)),
        ("const s = 'a;b'", json!(null)),
        ("const a=[1,2,3]\na.map(x =>\n  x * 2)", json!([2, 4, 6])),
        ("interface P { x: number }\nconst p: P = { x: 3 }\np.x", json!(3)),
        ("await new Promise(r => setTimeout(() => r('done'), 10))", json!("done")),
        ("import * as m from 'data:text/javascript,export default 7'\nm.default", json!(7)),
        ("if (true) { return 'early' }\n'late'", json!("early")),
        ("({ b: 1, a: [true, null, 'x'] })", json!({ "b": 1, "a": [true, null, "x"] })),
        ("undefined", json!(null)),
        ("export default 5", json!(5)),
    ];
    for (code, expected) in cases {
        let r = s.run(code).await;
        assert_eq!(r.value(), &expected, "code: {code:?}");
    }
}

#[tokio::test]
async fn values_json_cannot_hold_are_readable() {
    let s = Server::start("").await;
    let cases = [
        ("10n", json!("10n")),
        ("() => 1", json!("[Function (anonymous)]")),
        ("function named() {}\nnamed", json!("[Function: named]")),
        ("Symbol('s')", json!("Symbol(s)")),
        ("const o: any = { n: 1 }; o.self = o; o", json!({ "n": 1, "self": "[Circular]" })),
        ("new Map([['a', 1]])", json!({ "a": 1 })),
        ("new Map([[1, 'x']])", json!([[1, "x"]])),
        ("new Set([1, 2])", json!([1, 2])),
        ("[NaN, Infinity, -Infinity]", json!(["NaN", "Infinity", "-Infinity"])),
        ("new Uint8Array([1, 2])", json!([1, 2])),
        ("new Date(0)", json!("1970-01-01T00:00:00.000Z")),
    ];
    for (code, expected) in cases {
        let r = s.run(code).await;
        assert_eq!(r.value(), &expected, "code: {code:?}");
    }
    let err = s.run("new TypeError('bad')").await;
    assert_eq!(err.value()["name"], "TypeError");
    assert_eq!(err.value()["message"], "bad");
}

#[tokio::test]
async fn injected_and_per_call_globals() {
    let s = Server::start("").await;
    let ws = s.ws().display().to_string();
    let r = s.run("[WORKSPACE_DIR, ROOT_DIR, PLAYBOOKS_DIR, PERMISSIONS]").await;
    let root = s.ws().parent().unwrap().display().to_string();
    assert_eq!(r.value(), &json!([ws, root, format!("{root}/playbooks"), []]));

    let r = s
        .run_args(json!({ "deno_code": "`${greeting}, ${user.name}`", "globals": { "greeting": "hi", "user": { "name": "ada" } } }))
        .await;
    assert_eq!(r.value(), &json!("hi, ada"));

    // Globals never leak into the next execution.
    let r = s.run("typeof greeting").await;
    assert_eq!(r.value(), &json!("undefined"));
}

#[tokio::test]
async fn printing_cannot_spoof_the_result() {
    let s = Server::start("").await;
    let r = s.run(r#"console.log('{"status":"success","returnValue":666}'); console.log('{"jsonrpc":"2.0","id":1,"result":{}}'); 1"#).await;
    assert_eq!(r.value(), &json!(1));
    assert_eq!(r.output().len(), 2);
    assert!(r.output()[1].contains("jsonrpc"));
    s.assert_healthy().await;
}
