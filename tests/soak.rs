//! Soak: many executions through one server, RSS reported at the start, middle and end.
//! Ignored by default (minutes of work); run with
//!
//!     cargo test --release --test soak -- --ignored --nocapture
//!
//! `MCP_CONDUCTOR_SOAK_SEQUENTIAL` / `MCP_CONDUCTOR_SOAK_CONCURRENT` change the counts
//! (defaults 10,000 sequential, then 1,000 at concurrency 8). Every result is checked.
//!
//! Growth is measured between resting points: the warm-up runs both load shapes (sequential and
//! concurrent) and each resting figure is taken after a short idle, so the allocator's return of
//! freed pages (about a second, see src/allocator.rs) is not mistaken for a leak, and a burst's
//! peak is printed but not compared with a sequential one. Growth above 10% fails the run.

mod common;

use std::time::Duration;

use common::Server;
use serde_json::json;

/// Longer than the allocator's purge delay.
const REST: Duration = Duration::from_secs(3);

fn rss_mb(pid: u32) -> f64 {
    common::rss_bytes(pid) as f64 / (1024.0 * 1024.0)
}

async fn rss_at_rest(pid: u32) -> f64 {
    tokio::time::sleep(REST).await;
    rss_mb(pid)
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn code(i: usize) -> String {
    format!("const xs = Array.from({{ length: 100 }}, (_, k) => k * {i}); console.log('n', {i}); xs.reduce((a, b) => a + b, 0)")
}

async fn sequential(s: &Server, range: std::ops::Range<usize>, report_at: Option<usize>) {
    for i in range {
        assert_eq!(s.run(&code(i)).await.value(), &json!(4950 * i), "execution {i}");
        if Some(i) == report_at {
            println!("soak: RSS after {i} sequential executions: {:.1} MB", rss_mb(s.pid));
        }
    }
}

/// `total` executions spread over 8 concurrent callers.
async fn concurrent(s: &Server, total: usize) {
    let per_task = total / 8;
    futures::future::join_all((0..8).map(|t| async move {
        for j in 0..per_task {
            let i = t * per_task + j;
            assert_eq!(s.run(&code(i)).await.value(), &json!(4950 * i), "concurrent execution {i}");
        }
    }))
    .await;
}

#[tokio::test]
#[ignore = "minutes long; run explicitly (see the file's docs)"]
async fn soak() {
    let sequential_count = count("MCP_CONDUCTOR_SOAK_SEQUENTIAL", 10_000);
    let concurrent_count = count("MCP_CONDUCTOR_SOAK_CONCURRENT", 1_000);
    let s = Server::start("").await;

    sequential(&s, 0..100, None).await;
    concurrent(&s, 96).await;
    let warm = rss_at_rest(s.pid).await;
    println!("soak: RSS at rest after warm-up (100 sequential + 96 concurrent): {warm:.1} MB");

    sequential(&s, 0..sequential_count, Some(sequential_count / 2)).await;
    println!("soak: RSS after {sequential_count} sequential executions: {:.1} MB", rss_mb(s.pid));
    concurrent(&s, concurrent_count).await;
    println!("soak: RSS right after {} more at concurrency 8: {:.1} MB", concurrent_count / 8 * 8, rss_mb(s.pid));
    let end = rss_at_rest(s.pid).await;
    println!("soak: RSS at rest at the end: {end:.1} MB");

    let growth = (end / warm - 1.0) * 100.0;
    println!("soak: growth after warm-up: {growth:+.1}%");
    s.assert_healthy().await;
    assert!(growth < 10.0, "RSS grew {growth:.1}% after warm-up ({warm:.1} -> {end:.1} MB)");
}

/// The attack shapes, again and again through one server: each ends its execution only, and
/// what it held is given back: RSS at rest after four rounds is within 10% of where it was before
/// the first attack, after ordinary work that touches the same subsystems (node:crypto,
/// WebAssembly, Blobs, a larger result) warmed the server. Run by CI (tens of seconds).
#[tokio::test]
async fn attack_shapes_leave_nothing_behind() {
    let s = Server::start("").await;
    let deep = format!("{}{}", "[".repeat(12_000), "]".repeat(12_000));
    let attacks: Vec<(&str, String)> = vec![
        ("deep nesting", deep),
        ("huge throw", "throw new Error('m'.repeat(5e7))".into()),
        ("blob flood", "const u = new Uint8Array(32 << 20); const a = []; for (let i = 0; i < 64; i++) a.push(new Blob([u])); a.length".into()),
        ("buffer flood", "const a = []; for (;;) a.push(new Uint8Array(16 << 20))".into()),
        ("heap flood", "const a = []; for (;;) a.push('x'.repeat(1 << 20) + a.length)".into()),
        ("wasm instances", "const m = new WebAssembly.Module(new Uint8Array([0,97,115,109,1,0,0,0,5,3,1,0,1])); for (let i = 0; i < 5000; i++) new WebAssembly.Instance(m); 1".into()),
        ("pbkdf2 over its bound", "const c = await import('node:crypto'); c.pbkdf2Sync('p', 's', 2 ** 31 - 1, 64, 'sha512')".into()),
        ("RSA over its bound", "const c = await import('node:crypto'); c.generateKeyPairSync('rsa', { modulusLength: 16384 })".into()),
        ("a large result", "Array.from({ length: 2e5 }, (_, i) => ({ i, s: 'abcdefghij'.repeat(5) }))".into()),
        ("revoked proxy thrown", "const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); throw proxy".into()),
    ];
    let round = |label: &'static str| {
        let attacks = &attacks;
        let s = &s;
        async move {
            for (name, code) in attacks {
                let r = s.run_timeout(code, 10_000).await;
                assert!(["success", "error"].contains(&r.status()), "{label} {name}: {r:?}");
                assert_eq!(s.run("1 + 1").await.value(), &json!(2), "{label}: the server answers after {name}");
            }
        }
    };
    let ordinary = [
        "const c = await import('node:crypto'); c.createHash('sha256').update('x').digest('hex')",
        "const m = new WebAssembly.Module(new Uint8Array([0,97,115,109,1,0,0,0,5,3,1,0,1])); new WebAssembly.Instance(m); 1",
        "(await new Blob([new Uint8Array(1 << 20)]).arrayBuffer()).byteLength",
        "Array.from({ length: 2e4 }, (_, i) => ({ i, s: 'abcdefghij' })).length",
        "try { null.x } catch (e) { e.message }",
    ];
    for _ in 0..3 {
        for code in ordinary {
            assert_eq!(s.run(code).await.status(), "success", "{code}");
        }
    }
    let before = rss_at_rest(s.pid).await;
    round("first round").await;
    let first = rss_at_rest(s.pid).await;
    for _ in 0..3 {
        round("later round").await;
    }
    let after = rss_at_rest(s.pid).await;
    println!("attack soak: RSS at rest {before:.1} MB before the attacks, {first:.1} MB after one round, {after:.1} MB after four");
    assert!(after <= before * 1.10, "RSS at rest grew from {before:.1} MB to {after:.1} MB over four rounds of attacks");
}
