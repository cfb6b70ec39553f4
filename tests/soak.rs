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
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
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
