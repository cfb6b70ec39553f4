//! `usage: {cpuTime, peakMemory, wallTime}` in every result of code that ran.

mod common;

use common::Server;
use serde_json::json;

#[tokio::test]
async fn busy_code_reports_its_cpu_time() {
    let s = Server::start("").await;
    let r = s.run("const end = Date.now() + 300; let n = 0; while (Date.now() < end) n++; n > 0").await;
    assert_eq!(r.value(), &json!(true));
    let usage = &r.text["usage"];
    let cpu = usage["cpuTime"].as_f64().unwrap();
    assert!((200.0..=600.0).contains(&cpu), "{usage}");
    let wall = usage["wallTime"].as_f64().unwrap();
    assert!(wall >= 290.0 && wall <= r.text["executionTime"].as_f64().unwrap() + 1.0, "{}", r.text);
    // Key order: right after executionTime (and in structuredContent too).
    let keys: Vec<&String> = r.text.as_object().unwrap().keys().collect();
    assert_eq!(keys[keys.len() - 2..], ["executionTime", "usage"], "{keys:?}");
    assert_eq!(r.structured["usage"], r.text["usage"]);
    // Sleeping is not CPU.
    let r = s.run("await new Promise((r) => setTimeout(r, 200)); 1").await;
    assert!(r.text["usage"]["cpuTime"].as_f64().unwrap() < 150.0, "{}", r.text);
}

#[tokio::test]
async fn a_large_buffer_shows_in_peak_memory() {
    let s = Server::start("").await;
    let r = s.run("const a = new Uint8Array(50 * 1024 * 1024); a.fill(7); a[a.length - 1]").await;
    assert_eq!(r.value(), &json!(7));
    let peak = r.text["usage"]["peakMemory"].as_u64().unwrap();
    assert!(peak >= 50 << 20, "peak {peak} bytes: {}", r.text);
    // Freed before the end of the job: still the peak.
    let r = s.run("{ const a = new Uint8Array(40 * 1024 * 1024); a.fill(1); } 1").await;
    assert!(r.text["usage"]["peakMemory"].as_u64().unwrap() >= 40 << 20, "{}", r.text);
}

#[tokio::test]
async fn code_that_never_ran_has_no_usage() {
    let s = Server::start("").await;
    let r = s.run("let = ;").await;
    assert_eq!(r.error_type(), "syntax");
    assert!(r.text.get("usage").is_none(), "{}", r.text);
    let r = s.run("throw new Error('x')").await;
    assert!(r.text["usage"]["cpuTime"].is_number(), "an error after running still reports: {}", r.text);
}
