//! V8's own hazards for a server that runs one isolate per execution, many at once: each test
//! names the hazard and proves the server contains it (the execution ends, the process lives).
mod common;

use std::time::{Duration, Instant};

use common::Server;
use futures::future::join_all;
use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};

/// `(module (func (export "spin") (loop (br 0))))`: a WebAssembly function that never returns.
const WASM_SPIN: &str = "new Uint8Array([0,97,115,109,1,0,0,0,1,4,1,96,0,0,3,2,1,0,7,8,1,4,115,112,105,110,0,0,10,9,1,7,0,3,64,12,0,11,11])";

/// Calls `run_deno_code` and cancels the request (`notifications/cancelled`) after `after`.
async fn run_and_cancel(s: &Server, code: &str, after: Duration) {
    let Value::Object(args) = json!({ "deno_code": code, "timeout": 60000 }) else { unreachable!() };
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(CallToolRequestParams::new("run_deno_code").with_arguments(args)));
    let handle = s.client.peer().send_cancellable_request(request, PeerRequestOptions::no_options()).await.expect("sent");
    tokio::time::sleep(after).await;
    handle.cancel(Some("test".into())).await.expect("cancel sent");
}

/// Termination reaches code that never returns to a loop of ours: a busy loop, a WebAssembly
/// loop, catastrophic regex backtracking, one long sort with a comparator; each is a timeout
/// and the server answers the next call.
#[tokio::test]
async fn termination_reaches_every_kind_of_long_running_code() {
    let s = Server::start("").await;
    let cases = [
        ("busy loop", "let i = 0; while (true) { i++ }".to_string()),
        // Turboshaft's loop unrolling dropped this loop's interrupt check (engine::init).
        ("allocating loop", "let x; while (true) { x = new Array(1000).fill(1) }".to_string()),
        ("WebAssembly loop", format!("const {{ instance }} = await WebAssembly.instantiate({WASM_SPIN}); instance.exports.spin();")),
        ("regex backtracking", "/^(a+)+$/.test('a'.repeat(64) + '!')".to_string()),
        ("sort with a comparator", "const a = Array.from({ length: 3e6 }, (_, i) => (i * 7919) % 3e6); for (;;) a.sort((x, y) => y - x);".to_string()),
        ("JSON round trips", "const big = JSON.stringify(Array.from({ length: 2e5 }, (_, i) => ({ i, s: 'x' + i }))); for (;;) JSON.parse(big);".to_string()),
    ];
    for (name, code) in cases {
        let started = Instant::now();
        let r = s.run_timeout(&code, 1000).await;
        assert_eq!(r.error_type(), "timeout", "{name}: {r:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "{name}: the call took {:?}", started.elapsed());
    }
    s.assert_healthy().await;
}

/// Deep recursion, in JS and through the engine's own recursive builtins, is a catchable
/// `RangeError` (V8's stack limit sits well inside the execution thread's native stack), never
/// a segfault of the server. Builtins V8 implements without recursion (`JSON.stringify`,
/// `structuredClone` of deep arrays) may simply succeed; what matters is that none crashes.
#[tokio::test]
async fn deep_recursion_is_a_range_error_in_every_form() {
    let s = Server::start("").await;
    // (code, whether V8 must throw)
    let forms = [
        ("function f(n) { return f(n + 1) + 1 } f(0)", true),
        ("const o = {}; o.toString = function () { return String(this) }; String(o)", true),
        ("let a = []; for (let i = 0; i < 1e6; i++) a = [a]; JSON.stringify(a)", false),
        ("let a = []; for (let i = 0; i < 1e6; i++) a = [a]; structuredClone(a)", false),
        ("let a = []; for (let i = 0; i < 1e5; i++) a = [a]; console.log(a)", false),
        ("let p = {}; for (let i = 0; i < 1e5; i++) p = new Proxy(p, {}); p.x", true),
        ("new Function('return ' + '('.repeat(1e6) + '1' + ')'.repeat(1e6))()", true),
    ];
    for (code, must_throw) in forms {
        let wrapped = format!("let outcome = 'no error'; try {{ (() => {{ {code} }})() }} catch (e) {{ outcome = e.name + ': ' + e.message }} outcome");
        let r = s.run(&wrapped).await;
        let text = r.value().as_str().unwrap_or_default().to_string();
        let threw = text.starts_with("RangeError") || text.starts_with("SyntaxError");
        assert!(threw || (!must_throw && text == "no error"), "{code}: {r:?}");
    }
    // A recursion 5,000 deep is ordinary code and works, as under `deno run`.
    let r = s.run("function depth(n) { return n === 0 ? 0 : 1 + depth(n - 1) } depth(5000)").await;
    assert_eq!(r.value(), &json!(5000));
    s.assert_healthy().await;
}

/// Timeouts that land while Deno's lazily loaded modules (node: polyfills, a large import) are
/// being loaded and evaluated: deno_core's lazy-load path calls into JS, and a termination there
/// used to abort the whole process on V8. Deadlines are spread over the import's duration.
#[tokio::test]
async fn timeouts_during_lazy_module_loading_never_abort_the_server() {
    let s = Server::start("").await;
    let imports = [
        "await import('node:http'); await import('node:crypto'); await import('node:zlib'); 1",
        "const { Buffer } = await import('node:buffer'); Buffer.from('x'); await import('node:stream'); 1",
        "Deno.Command; process.version; await import('node:util'); 1",
    ];
    for timeout in [1, 3, 5, 8, 12, 20, 30, 50, 80] {
        for code in imports {
            let r = s.run_timeout(code, timeout).await;
            assert!(matches!(r.status(), "success" | "error"), "{r:?}");
            if r.status() == "error" {
                assert_eq!(r.error_type(), "timeout", "{code} at {timeout} ms: {r:?}");
            }
        }
    }
    s.assert_healthy().await;
}

/// Many isolates on many threads, created and destroyed continuously, far beyond the pool:
/// ordinary calls, timeouts, cancellations, heap exhaustion and WebAssembly at the same time.
/// Every ordinary call must still give its own correct answer, and the server must live.
#[tokio::test]
async fn isolates_created_and_destroyed_concurrently_under_every_kind_of_ending() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_MEMORY_MB", "64"), ("MCP_CONDUCTOR_MAX_CONCURRENCY", "16")]).await;
    for round in 0..4 {
        let mut calls = Vec::new();
        for i in 0..48u64 {
            let s = &s;
            calls.push(async move {
                match i % 6 {
                    0 | 1 => {
                        let r = s.run(&format!("let t = 0; for (let k = 0; k < 1e5; k++) t += k % 7; t + {i}")).await;
                        let expected: u64 = (0..100_000u64).map(|k| k % 7).sum::<u64>() + i;
                        assert_eq!(r.value(), &json!(expected), "round {round}, call {i}");
                    }
                    2 => {
                        let r = s.run_timeout("while (true) {}", 50 + i * 3).await;
                        assert_eq!(r.error_type(), "timeout");
                    }
                    3 => run_and_cancel(s, "while (true) {}", Duration::from_millis(20 + i)).await,
                    4 => {
                        let r = s.run("const a = []; for (;;) a.push(new Array(1e4).fill(1.5));").await;
                        assert_eq!(r.error_type(), "memory", "{r:?}");
                    }
                    _ => {
                        let code = format!("const {{ instance }} = await WebAssembly.instantiate({WASM_SPIN}); instance.exports.spin();");
                        let r = s.run_timeout(&code, 100).await;
                        assert_eq!(r.error_type(), "timeout");
                    }
                }
            });
        }
        join_all(calls).await;
    }
    s.assert_healthy().await;
}

/// Memory outside the JS heap is held to the cap, whatever holds it: each bomb ends with a
/// memory result, and the server answers the next call.
#[tokio::test]
async fn memory_outside_the_heap_is_held_to_the_cap() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_MEMORY_MB", "64")]).await;
    let bombs = [
        ("typed arrays kept", "const keep = []; for (;;) keep.push(new Uint8Array(8 << 20));"),
        ("one huge ArrayBuffer", "new ArrayBuffer(1 << 30).byteLength"),
        ("TextEncoder output kept", "const s = 'x'.repeat(4 << 20); const keep = []; for (;;) keep.push(new TextEncoder().encode(s));"),
        ("WebAssembly memory growth", "const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 }); for (;;) { m.grow(16); new Uint8Array(m.buffer).fill(1); }"),
        ("many WebAssembly memories", "const keep = []; for (;;) { const m = new WebAssembly.Memory({ initial: 160 }); new Uint8Array(m.buffer).fill(1); keep.push(m); }"),
        ("resizable ArrayBuffers kept", "const keep = []; for (;;) { const b = new ArrayBuffer(0, { maxByteLength: 32 << 20 }); b.resize(32 << 20); new Uint8Array(b).fill(1); keep.push(b); }"),
        ("Blob contents read back", "const keep = []; const part = new Uint8Array(8 << 20); for (;;) keep.push(await new Blob([part]).arrayBuffer());"),
    ];
    for (name, code) in bombs {
        let r = s.run_timeout(code, 30000).await;
        if name == "WebAssembly memory growth" {
            // One memory cannot grow past the cap (engine::init): V8's own RangeError, as at
            // its maximum.
            assert!(r.error().contains("Unable to grow instance memory"), "{name}: {r:?}");
        } else {
            assert_eq!(r.error_type(), "memory", "{name}: {r:?}");
        }
        let peak = r.text["usage"]["peakMemory"].as_u64().unwrap_or_default();
        assert!(peak < 1 << 30, "{name}: peakMemory {peak} is far past the cap");
    }
    // Address space reserved up front (`maxByteLength`) is bounded where it is asked for.
    let r = s.run("new ArrayBuffer(0, { maxByteLength: 2 ** 40 })").await;
    assert!(r.error().contains("MCP_CONDUCTOR_MAX_MEMORY_MB"), "{r:?}");
    let r = s.run("new SharedArrayBuffer(0, { maxByteLength: 1024 })").await;
    assert!(r.error().contains("growable SharedArrayBuffer"), "{r:?}");
    let r = s.run("new ImageData(100000, 100000)").await;
    assert!(r.error().contains("memory limit"), "{r:?}");
    // The guarded constructors are still the constructors.
    let r = s.run("const b = new ArrayBuffer(8, { maxByteLength: 16 }); b.resize(16); [b instanceof ArrayBuffer, b.constructor === ArrayBuffer, b.byteLength, new ImageData(2, 2).data.length]").await;
    assert_eq!(r.value(), &json!([true, true, 16, 16]));
    s.assert_healthy().await;
}

/// Buffers that become garbage do not count against the cap: allocating and dropping 1.6 GB
/// of buffers 8 MB at a time under a 64 MB cap succeeds, and the peak stays near the cap.
#[tokio::test]
async fn buffer_churn_is_not_a_memory_bomb() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_MEMORY_MB", "64")]).await;
    let r = s.run("let sum = 0; for (let i = 0; i < 200; i++) { const a = new Uint8Array(8 << 20); a[i] = 1; sum += a[i]; } sum").await;
    assert_eq!(r.value(), &json!(200));
    let peak = r.text["usage"]["peakMemory"].as_u64().unwrap();
    assert!(peak < 256 << 20, "peakMemory {peak}: garbage buffers were counted as held");
}

/// One buffer larger than the cap ends the execution with the memory result, even when the code
/// catches the allocation's `RangeError`; small buffers past the cap are never refused (Rust
/// callers would abort) and the memory check stops the execution instead.
#[tokio::test]
async fn a_buffer_past_the_cap_ends_the_execution() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_MEMORY_MB", "64")]).await;
    let r = s.run("try { new ArrayBuffer(512 << 20) } catch (e) { e.name }").await;
    assert_eq!(r.error_type(), "memory", "{r:?}");
    let r = s.run("const keep = []; for (;;) keep.push(new Uint8Array(512 << 10));").await;
    assert_eq!(r.error_type(), "memory", "{r:?}");
    s.assert_healthy().await;
}
