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
    let r = s.run("[WORKSPACE_DIR, ROOT_DIR, PLAYBOOKS_DIR, PERMISSIONS, EGRESS]").await;
    let root = s.ws().parent().unwrap().display().to_string();
    assert_eq!(r.value(), &json!([ws, root, format!("{root}/playbooks"), [], null]));

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

/// User code (or a library it imports) may replace any builtin; the result serializer uses
/// only what it captured at startup, so results stay correct.
#[tokio::test]
async fn results_survive_replaced_builtins() {
    let s = Server::start("").await;
    let sabotage = r#"
        const boom = () => { throw new Error("sabotaged"); };
        const def = Object.defineProperty, ownKeys = Reflect.ownKeys, protoOf = Object.getPrototypeOf;
        const value = {
            list: [1, "two", [3], { four: 4 }],
            map: new Map([["k", new Set([1, 2])]]),
            pairs: new Map([[1, "one"]]),
            bytes: new Uint8Array([7, 8]),
            date: new Date(0),
            error: new TypeError("bad"),
            parsed: JSON.parse('{"__proto__": 1, "x": 2}'),
            nested: { deep: { deeper: true } },
            big: 10n,
        };
        const replaceAll = (target) => {
            const keys = ownKeys(target);
            for (let i = 0; i < keys.length; i++) {
                if (keys[i] === "__proto__") continue;
                try { def(target, keys[i], { value: boom, writable: true, configurable: true }); } catch {}
            }
        };
        const targets = [
            Array.prototype, Object.prototype, Map.prototype, Set.prototype, String.prototype, Promise.prototype,
            Function.prototype, Symbol.prototype, Date.prototype, Uint8Array.prototype, protoOf(Uint8Array.prototype),
            Error.prototype, protoOf([][Symbol.iterator]()), protoOf(new Map().entries()), protoOf(new Set().values()),
            protoOf(protoOf([][Symbol.iterator]())), Array, Object, Map, Set, JSON, Symbol, Promise, String, Reflect,
        ];
        for (let i = 0; i < targets.length; i++) replaceAll(targets[i]);
        for (let i = 0; i < 8; i++) def(Array.prototype, i, { set: boom, get: boom, configurable: true });
        const names = ["name", "message", "stack", "list", "x", "k", "toJSON", "then", "constructor"];
        for (let i = 0; i < names.length; i++) def(Object.prototype, names[i], { set: boom, configurable: true });
        value
    "#;
    let r = s.run(sabotage).await;
    let v = r.value();
    assert_eq!(v["list"], json!([1, "two", [3], { "four": 4 }]), "{v:#}");
    assert_eq!(v["map"], json!({ "k": [1, 2] }));
    assert_eq!(v["pairs"], json!([[1, "one"]]));
    assert_eq!(v["bytes"], json!([7, 8]));
    assert_eq!(v["date"], json!("1970-01-01T00:00:00.000Z"));
    assert_eq!(v["error"]["message"], json!("bad"));
    assert_eq!(v["parsed"], json!({ "__proto__": 1, "x": 2 }));
    assert_eq!(v["nested"], json!({ "deep": { "deeper": true } }));
    assert_eq!(v["big"], json!("10n"));
    s.assert_healthy().await;
}

#[tokio::test]
async fn an_own_proto_key_is_kept_and_inherited_to_json_is_ignored() {
    let s = Server::start("").await;
    let r = s.run(r#"Object.prototype.toJSON = () => "hijacked"; Array.prototype.toJSON = () => "hijacked"; [JSON.parse('{"__proto__": {"a": 1}}'), [1]]"#).await;
    assert_eq!(r.value(), &json!([{ "__proto__": { "a": 1 } }, [1]]));
    let r = s.run("class Money { toJSON() { return '5 EUR'; } }\n({ price: new Money() })").await;
    assert_eq!(r.value(), &json!({ "price": "5 EUR" }), "a class's own toJSON is used");
}
