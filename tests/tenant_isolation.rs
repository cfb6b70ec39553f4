//! One server process runs many executions (many tenants in HTTP mode): what one execution can
//! see or do must not depend on the others. Three shared things of Deno's are made per execution
//! (src/sandbox/op_guards.rs): the `navigator.locks` registry, the resource figures
//! (`process.memoryUsage()`, `process.cpuUsage()`, `process.resourceUsage()`,
//! `Deno.memoryUsage()`), and native key derivation, whose cost is bounded so it cannot outlive
//! the execution's deadline or its memory cap.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use serde_json::json;

/// CPU time (user + system) the whole server process used so far, in seconds.
fn server_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz
}

#[tokio::test]
async fn locks_of_one_execution_are_invisible_and_unstealable_from_another() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_CONCURRENCY", "4")]).await;
    // A holds "tenant-lock" for 1.5 s; B starts while A holds it.
    let holder = r#"
        const got = await navigator.locks.request("tenant-lock", async (lock) => {
            await new Promise((r) => setTimeout(r, 1500));
            return "kept " + lock.name;
        }).catch((e) => "lost: " + e.name);
        got"#;
    let other = r#"
        const q = await navigator.locks.query();
        const seen = [...q.held, ...q.pending].map((l) => l.name);
        const available = await navigator.locks.request("tenant-lock", { ifAvailable: true }, (lock) => lock !== null);
        const stole = await navigator.locks.request("tenant-lock", { steal: true }, (lock) => lock.name);
        const t = Date.now();
        const waited = await navigator.locks.request("tenant-lock", () => Date.now() - t);
        ({ seen, available, stole, waitedLong: waited > 500 })"#;
    let (a, b) = tokio::join!(s.run_timeout(holder, 10_000), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.run_timeout(other, 10_000).await
    });
    assert_eq!(
        b.value(),
        &json!({ "seen": [], "available": true, "stole": "tenant-lock", "waitedLong": false }),
        "another execution's lock is not visible, not held against us, not ours to steal"
    );
    assert_eq!(a.value(), &json!("kept tenant-lock"), "the holder kept its lock: {a:?}");
    assert!(b.text["executionTime"].as_f64().unwrap() < 1000.0, "B never waited for A's lock: {}", b.text);
}

#[tokio::test]
async fn locks_keep_their_semantics_within_one_execution() {
    let s = Server::start("").await;
    let code = r#"
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        const log = [];
        const holder = navigator.locks.request("x", async () => { await sleep(300); return "done"; })
            .catch((e) => e.name);
        const q = await navigator.locks.query();
        log.push(q.held.map((l) => [l.name, l.mode, typeof l.clientId]));
        log.push(await navigator.locks.request("x", { ifAvailable: true }, (l) => l === null));
        log.push(await navigator.locks.request("x", { steal: true }, (l) => l.name));
        log.push(await holder);
        log.push(await Promise.all([
            navigator.locks.request("s", { mode: "shared" }, async () => {
                await sleep(50);
                return (await navigator.locks.query()).held.filter((h) => h.name === "s").length;
            }),
            navigator.locks.request("s", { mode: "shared" }, async (l) => { await sleep(100); return l.mode; }),
        ]));
        const first = navigator.locks.request("p", () => sleep(100));
        const second = navigator.locks.request("p", () => "second");
        log.push((await navigator.locks.query()).pending.map((l) => [l.name, l.mode]));
        await first;
        log.push(await second);
        const controller = new AbortController();
        const blocked = navigator.locks.request("q", () => sleep(200));
        const aborted = navigator.locks.request("q", { signal: controller.signal }, () => "ran").catch((e) => e.name);
        controller.abort();
        log.push(await aborted);
        await blocked;
        log.push((await navigator.locks.query()).held.length);
        log"#;
    assert_eq!(
        s.run_timeout(code, 10_000).await.value(),
        &json!([
            [["x", "exclusive", "string"]],
            true,
            "x",
            "AbortError",
            [2, "shared"],
            [["p", "exclusive"]],
            "second",
            "AbortError",
            0
        ])
    );
}

#[tokio::test]
async fn memory_figures_are_the_executions_own() {
    let s = Server::start("").await;
    // A previous execution held 150 MiB (the server's resident set grows with it).
    let r = s.run("const a = new Uint8Array(150 << 20); a.fill(1); a[a.length - 1]").await;
    assert_eq!(r.value(), &json!(1));
    let code = r#"
        const { default: process } = await import("node:process");
        const m = process.memoryUsage();
        const d = Deno.memoryUsage();
        const maxRSS = process.resourceUsage().maxRSS;
        const big = new Uint8Array(64 << 20);
        big.fill(1);
        const after = process.memoryUsage.rss();
        ({ keys: Object.keys(m), rss: m.rss, heapTotal: m.heapTotal, denoRss: d.rss, maxRSS, grew: after - m.rss, last: big[big.length - 1] })"#;
    let r = s.run(code).await;
    let v = r.value();
    let server = common::rss_bytes(s.pid);
    assert_eq!(v["keys"], json!(["rss", "heapTotal", "heapUsed", "external", "arrayBuffers"]));
    let rss = v["rss"].as_u64().unwrap();
    assert!(rss < 100 << 20, "rss is this execution's, not the server's {server} bytes: {v}");
    assert!(rss < server, "rss {rss} below the server's {server}: {v}");
    assert!(rss >= v["heapTotal"].as_u64().unwrap(), "{v}");
    assert!(v["denoRss"].as_u64().unwrap() < 100 << 20, "{v}");
    assert!(v["maxRSS"].as_u64().unwrap() < (100 << 20) / 1024, "maxRSS (KiB) is this execution's: {v}");
    assert!(v["grew"].as_u64().unwrap() >= 48 << 20, "the execution's own 64 MiB shows: {v}");
}

#[tokio::test]
async fn cpu_figures_are_the_executions_own() {
    let s = Server::start("").await;
    // A previous execution burned 2 s of CPU.
    let r = s.run_timeout("const end = Date.now() + 2000; while (Date.now() < end) {} 1", 10_000).await;
    assert_eq!(r.value(), &json!(1));
    let code = r#"
        const { default: process } = await import("node:process");
        const u = process.cpuUsage();
        const ru = process.resourceUsage();
        const start = process.cpuUsage();
        const end = Date.now() + 300;
        while (Date.now() < end) {}
        const burnt = process.cpuUsage(start);
        ({ total: u.user + u.system, ru: ru.userCPUTime + ru.systemCPUTime, burnt: burnt.user + burnt.system })"#;
    let r = s.run_timeout(code, 10_000).await;
    let v = r.value();
    assert!(v["total"].as_f64().unwrap() < 1_000_000.0, "a fresh execution's CPU, not the server's: {v}");
    assert!(v["ru"].as_f64().unwrap() < 1_000_000.0, "{v}");
    let burnt = v["burnt"].as_f64().unwrap();
    assert!((200_000.0..2_000_000.0).contains(&burnt), "the execution's own busy loop counts: {v}");
}

#[tokio::test]
async fn pbkdf2_over_the_bound_is_refused_quickly_and_correct_under_it() {
    let s = Server::start("").await;
    let code = r#"
        const crypto = await import("node:crypto");
        const t = performance.now();
        let refused;
        try { crypto.pbkdf2Sync("p", "s", 2 ** 31 - 1, 64, "sha512"); refused = "computed"; }
        catch (e) { refused = [e.name, e.message]; }
        const ms = performance.now() - t;
        const asyncRefused = await new Promise((res) =>
            crypto.pbkdf2("p", "s", 2 ** 31 - 1, 64, "sha512", (err) => res(err ? err.name : "computed")));
        const hex = (key) => key.toString("hex");
        const ok = [
            hex(crypto.pbkdf2Sync("password", "salt", 1, 20, "sha1")),
            hex(crypto.pbkdf2Sync("password", "salt", 4096, 32, "sha256")),
            await new Promise((res, rej) =>
                crypto.pbkdf2("password", "salt", 1000, 64, "sha512", (err, key) => err ? rej(err) : res(hex(key)))),
        ];
        ({ refused, fast: ms < 1000, asyncRefused, ok })"#;
    let started = Instant::now();
    let r = s.run_timeout(code, 20_000).await;
    let v = r.value();
    assert!(started.elapsed() < Duration::from_secs(10), "{v}");
    assert_eq!(v["refused"][0], json!("RangeError"), "{v}");
    let message = v["refused"][1].as_str().unwrap();
    assert!(message.contains("2000000"), "the message names the bound: {message}");
    assert_eq!(v["fast"], json!(true), "{v}");
    assert_eq!(v["asyncRefused"], json!("RangeError"), "{v}");
    assert_eq!(
        v["ok"],
        json!([
            "0c60c80f961f0e71f3a9b524af6012062fe037a6",
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a",
            "afe6c5530785b6cc6b1c6453384731bd5ee432ee549fd42fb6695779ad8a1c5bf59de69c48f774efc4007d5298f9033c0241d5ab69305e7b64eceeb8d834cfec"
        ])
    );
    s.assert_healthy().await;
}

#[tokio::test]
async fn scrypt_over_the_bound_is_refused_and_correct_under_it() {
    let s = Server::start("").await;
    let code = r#"
        const crypto = await import("node:crypto");
        const huge = { N: 2 ** 20, r: 8, maxmem: 2 ** 31 };
        const t = performance.now();
        let refused;
        try { crypto.scryptSync("p", "s", 64, huge); refused = "computed"; }
        catch (e) { refused = [e.name, e.message]; }
        const ms = performance.now() - t;
        const asyncRefused = await new Promise((res) =>
            crypto.scrypt("p", "s", 64, huge, (err) => res(err ? err.name : "computed")));
        const ok = [
            crypto.scryptSync("password", "NaCl", 64, { N: 1024, r: 8, p: 16 }).toString("hex"),
            await new Promise((res, rej) =>
                crypto.scrypt("", "", 64, { N: 16, r: 1, p: 1 }, (err, key) => err ? rej(err) : res(key.toString("hex")))),
        ];
        let nodeError;
        try { crypto.scryptSync("p", "s", 64, { N: 2 ** 15, r: 8 }); } catch (e) { nodeError = e.code; }
        ({ refused, fast: ms < 1000, asyncRefused, ok, nodeError })"#;
    let r = s.run_timeout(code, 20_000).await;
    let v = r.value();
    assert_eq!(v["refused"][0], json!("RangeError"), "{v}");
    let message = v["refused"][1].as_str().unwrap();
    assert!(message.contains("268435456"), "the message names the bound: {message}");
    assert_eq!(v["fast"], json!(true), "{v}");
    assert_eq!(v["asyncRefused"], json!("RangeError"), "{v}");
    // RFC 7914's vectors.
    assert_eq!(
        v["ok"],
        json!([
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"
        ])
    );
    // Node's own maxmem check (32 MiB by default) still comes first.
    assert_eq!(v["nodeError"], json!("ERR_CRYPTO_INVALID_SCRYPT_PARAMS"), "{v}");
}

#[tokio::test]
async fn scrypt_memory_is_held_to_the_execution_cap() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_MEMORY_MB", "64")]).await;
    let code = r#"
        const crypto = await import("node:crypto");
        let out;
        try { crypto.scryptSync("p", "s", 32, { N: 2 ** 17, r: 8, maxmem: 2 ** 30 }); out = "computed"; }
        catch (e) { out = [e.name, e.message]; }
        out"#;
    let r = s.run_timeout(code, 20_000).await;
    let v = r.value();
    assert_eq!(v[0], json!("RangeError"), "{v}");
    assert!(v[1].as_str().unwrap().contains("MCP_CONDUCTOR_MAX_MEMORY_MB"), "{v}");
}

#[tokio::test]
async fn key_derivation_stops_with_its_execution() {
    let s = Server::start("").await;
    // Sixteen derivations at the bound (2,000,000 SHA-512 HMACs each, near a second apiece), then
    // the execution times out: they run one at a time, and the running one stops with the
    // execution (before, all sixteen ran on tokio's blocking pool for seconds after it).
    let code = r#"
        const crypto = await import("node:crypto");
        for (let i = 0; i < 16; i++) crypto.pbkdf2("p", "s" + i, 2000000, 64, "sha512", () => {});
        await new Promise(() => {});"#;
    let r = s.run_timeout(code, 1500).await;
    assert_eq!(r.error_type(), "timeout");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server_cpu_seconds(s.pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = server_cpu_seconds(s.pid) - before;
    assert!(used < 0.8, "the server kept deriving keys for an ended execution: {used:.2} s of CPU in 2 s");
    s.assert_healthy().await;
}
