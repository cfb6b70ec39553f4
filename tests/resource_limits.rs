//! Limits that end one execution, never the server: memory, output, return size, concurrency.
mod common;

use common::Server;
use serde_json::json;

#[tokio::test]
async fn memory_bombs_end_the_execution_not_the_server() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_MEMORY_MB", "64")]).await;
    for bomb in [
        "const a = []; while (true) a.push(new Array(1000).fill(1))",
        "const b = []; for (;;) b.push(new Uint8Array(1 << 24))",
    ] {
        let r = s.run(bomb).await;
        assert_eq!(r.error_type(), "memory", "{bomb}: {r:?}");
        assert!(r.error().contains("MCP_CONDUCTOR_MAX_MEMORY_MB"), "{}", r.error());
        s.assert_healthy().await;
    }
    // Ordinary work fits comfortably under the cap.
    let r = s.run("new Array(100000).fill(0).map((_, i) => i).reduce((a, b) => a + b, 0)").await;
    assert_eq!(r.value(), &json!(4999950000u64));
}

/// Out-of-memory errors thrown from deep stacks, repeatedly: the engine builds each error's stack
/// trace with the heap at its cap, and V8 must never reach its fatal out-of-memory abort.
#[tokio::test]
async fn repeated_memory_bombs_from_deep_stacks_never_crash_the_server() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_MEMORY_MB", "64")]).await;
    let bombs = [
        "function f(d) { if (d) return f(d - 1); const a = []; for (;;) a.push(new Array(1000).fill(d)); } f(40)",
        "const grow = async (d) => d ? grow(d - 1) : (() => { const b = []; for (;;) b.push({ s: 'x'.repeat(64) }); })(); await grow(30)",
        "class E extends Error {} function g(d) { try { if (d) return g(d - 1); const a = []; for (;;) a.push([d, d]); } catch (e) { throw new E('again: ' + e); } } g(25)",
    ];
    for round in 0..4 {
        for bomb in bombs {
            let r = s.run(bomb).await;
            assert_eq!(r.error_type(), "memory", "round {round}, {bomb}: {r:?}");
        }
        s.assert_healthy().await;
    }
}

#[tokio::test]
async fn output_flood_is_truncated_and_keeps_the_start() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_OUTPUT_BYTES", "1000")]).await;
    let r = s.run("for (let i = 0; i < 100000; i++) console.log('line ' + i); 'done'").await;
    assert_eq!(r.value(), &json!("done"));
    assert_eq!(r.text["truncated"], json!(true));
    assert_eq!(r.output()[0], "line 0");
    assert!(r.structured["stdout"].as_str().unwrap().len() <= 1000);
    let r = s.run("console.log('small'); 1").await;
    assert!(r.text.get("truncated").is_none(), "{r:?}");
}

#[tokio::test]
async fn large_return_value_goes_to_a_server_owned_file() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_RETURN_BYTES", "100")]).await;
    let r = s.run("Array.from({ length: 50 }, (_, i) => ({ i }))").await;
    let file = &r.text["returnValueFile"];
    let path = std::path::PathBuf::from(file["path"].as_str().unwrap());
    // HOME = dir, workspace = dir/workspace, so ROOT = dir: <ROOT>/results/<client>/.
    let results = s.ws().parent().unwrap().join("results");
    assert!(path.starts_with(results.join("stdio")), "{path:?} is in <ROOT>/results/stdio");
    assert!(!path.starts_with(s.ws()), "{path:?} is outside the workspace");
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(written[49], json!({ "i": 49 }));
    assert_eq!(file["bytes"], json!(written.to_string().len()));
    assert!(r.value().as_str().unwrap().contains(&path.display().to_string()));
    assert_eq!(s.run("[1, 2]").await.value(), &json!([1, 2]), "small values stay inline");
}

#[tokio::test]
async fn calls_beyond_the_concurrency_limit_wait_and_say_so() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_CONCURRENCY", "1")]).await;
    let slow = "await new Promise(r => setTimeout(r, 300)); 'slow'";
    let (a, b) = tokio::join!(s.run(slow), s.run(slow));
    assert_eq!(a.value(), &json!("slow"));
    assert_eq!(b.value(), &json!("slow"));
    let waited = [&a, &b].iter().filter(|r| r.text.get("queueTime").is_some()).count();
    assert_eq!(waited, 1, "exactly one call queued: {a:?} {b:?}");

    // A call whose timeout runs out in the queue is a timeout.
    let (_, queued) = tokio::join!(s.run(slow), async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        s.run_timeout("1", 100).await
    });
    assert_eq!(queued.error_type(), "timeout");
    assert!(queued.error().contains("MCP_CONDUCTOR_MAX_CONCURRENCY"), "{}", queued.error());
}
