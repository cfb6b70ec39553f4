//! Soak: many executions through one server, RSS reported at the start, middle and end.
//! Ignored by default (minutes of work); run with
//!
//!     cargo test --release --no-default-features --features quickjs,snapshot --test soak -- --ignored --nocapture
//!
//! `MCP_CONDUCTOR_SOAK_SEQUENTIAL` / `MCP_CONDUCTOR_SOAK_CONCURRENT` change the counts
//! (defaults 10,000 sequential, then 1,000 at concurrency 8). Every result is checked; the RSS
//! figures are printed, and growth above 10% after warm-up fails the run.

mod common;

use common::Server;
use serde_json::json;

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test]
#[ignore = "minutes long; run explicitly (see the file's docs)"]
async fn soak() {
    let sequential = count("MCP_CONDUCTOR_SOAK_SEQUENTIAL", 10_000);
    let concurrent = count("MCP_CONDUCTOR_SOAK_CONCURRENT", 1_000);
    let s = Server::start("").await;
    let code = |i: usize| format!("const xs = Array.from({{ length: 100 }}, (_, k) => k * {i}); console.log('n', {i}); xs.reduce((a, b) => a + b, 0)");
    let expected = |i: usize| json!(4950 * i);

    for i in 0..100 {
        assert_eq!(s.run(&code(i)).await.value(), &expected(i));
    }
    let warm = rss_mb(s.pid);
    println!("soak: RSS after 100 warm-up executions: {warm:.1} MB");
    for i in 0..sequential {
        assert_eq!(s.run(&code(i)).await.value(), &expected(i), "execution {i}");
        if i == sequential / 2 {
            println!("soak: RSS after {i} sequential executions: {:.1} MB", rss_mb(s.pid));
        }
    }
    let after_sequential = rss_mb(s.pid);
    println!("soak: RSS after {sequential} sequential executions: {after_sequential:.1} MB");

    let per_task = concurrent / 8;
    futures::future::join_all((0..8).map(|t| {
        let s = &s;
        async move {
            for j in 0..per_task {
                let i = t * per_task + j;
                assert_eq!(s.run(&code(i)).await.value(), &expected(i), "concurrent execution {i}");
            }
        }
    }))
    .await;
    let end = rss_mb(s.pid);
    println!("soak: RSS after {} more at concurrency 8: {end:.1} MB", per_task * 8);
    let growth = (end / warm - 1.0) * 100.0;
    println!("soak: growth after warm-up: {growth:+.1}%");
    s.assert_healthy().await;
    assert!(growth < 10.0, "RSS grew {growth:.1}% after warm-up ({warm:.1} -> {end:.1} MB)");
}
