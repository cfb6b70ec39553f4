//! Bench report: drives the built `mcp-conductor` binary through rmcp's MCP client over stdio
//! and prints one table. Nothing is asserted; figures are printed, with the subprocess model
//! (`deno run` per execution, as the original product did) measured in the same run.
//!
//!     pip install deno    # optional: the subprocess baseline (or put `deno` on PATH)
//!     cargo bench --bench report

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::ServiceExt;
use serde_json::{Map, Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-conductor");
const UPSTREAM: &str = env!("CARGO_BIN_EXE_conductor-test-upstream");

struct Server {
    client: RunningService<RoleClient, ()>,
    pid: u32,
    started_to_initialized: Duration,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(pool_size: Option<usize>) -> Server {
        Server::start_env(pool_size, &[]).await
    }

    async fn start_env(pool_size: Option<usize>, env: &[(&str, &str)]) -> Server {
        Server::start_with_stderr(pool_size, env, Stdio::inherit()).await
    }

    async fn start_with_stderr(pool_size: Option<usize>, env: &[(&str, &str)], stderr: Stdio) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("workspace");
        // One upstream, our test server over stdio (connected on first use only).
        let upstreams = dir.path().join("mcp.json");
        std::fs::write(&upstreams, json!({ "mcpServers": { "up": { "command": UPSTREAM } } }).to_string()).unwrap();
        let command = tokio::process::Command::new(BIN).configure(|cmd| {
            cmd.env("MCP_CONDUCTOR_WORKSPACE", &workspace)
                .env("MCP_CONDUCTOR_MCP_CONFIG", &upstreams)
                .env("MCP_CONDUCTOR_LOG", "error");
            for (k, v) in env {
                cmd.env(k, v);
            }
            if let Some(size) = pool_size {
                cmd.env("MCP_CONDUCTOR_POOL_SIZE", size.to_string());
            }
        });
        let started = Instant::now();
        let (transport, _) = TokioChildProcess::builder(command).stderr(stderr).spawn().unwrap();
        let pid = transport.id().expect("child pid");
        let client = ().serve(transport).await.unwrap();
        Server { client, pid, started_to_initialized: started.elapsed(), _dir: dir }
    }

    async fn run(&self, code: &str) -> Value {
        let mut args = Map::new();
        args.insert("deno_code".into(), json!(code));
        let result = self
            .client
            .call_tool(CallToolRequestParams::new("run_deno_code").with_arguments(args))
            .await
            .unwrap();
        let value = result.structured_content.unwrap();
        assert_eq!(value["status"], "success", "bench call failed: {value}");
        value
    }

    /// Round trip of one call running `code`, in ms.
    async fn timed(&self, code: &str) -> f64 {
        let t = Instant::now();
        self.run(code).await;
        ms(t.elapsed())
    }

    /// Round trip of one `1+1` call, in ms.
    async fn one(&self) -> f64 {
        self.timed("1+1").await
    }

    fn rss_mb(&self) -> f64 {
        proc_status_kb(self.pid, "VmRSS:") / 1024.0
    }

    fn cpu_seconds(&self) -> f64 {
        proc_cpu_seconds(self.pid)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let idx = ((s.len() as f64 - 1.0) * p).round() as usize;
    s[idx]
}

fn proc_status_kb(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn proc_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime, stime are fields 14 and 15 of stat (1-based); after ')' they are at 11 and 12.
    let ticks: f64 = fields.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

struct Table(Vec<(String, String)>);

impl Table {
    fn row(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        println!("  {name:<58} {value}");
        self.0.push((name, value));
    }

    /// `samples` (p50, p99), then their p50 minus that of `baseline`, measured in the same run.
    fn against(&mut self, name: &str, samples: &[f64], minus: &str, baseline: &[f64]) {
        self.row(name, p50_p99(samples));
        self.row(minus, format!("{:.2} ms", percentile(samples, 0.5) - percentile(baseline, 0.5)));
    }
}

fn p50_p99(samples: &[f64]) -> String {
    format!("p50 {:.2} ms, p99 {:.2} ms", percentile(samples, 0.5), percentile(samples, 0.99))
}

async fn back_to_back(server: &Server, n: usize) -> Vec<f64> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        samples.push(server.one().await);
    }
    samples
}

async fn spaced(server: &Server, n: usize, gap: Duration) -> Vec<f64> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        tokio::time::sleep(gap).await;
        samples.push(server.one().await);
    }
    samples
}

/// Executions per second and CPU ms per execution with `concurrency` calls in flight.
async fn throughput(server: &Server, concurrency: usize, total: usize) -> (f64, f64) {
    let cpu0 = server.cpu_seconds();
    let t = Instant::now();
    let per_task = total / concurrency;
    let tasks = (0..concurrency).map(|_| async {
        for _ in 0..per_task {
            server.run("1+1").await;
        }
    });
    futures::future::join_all(tasks).await;
    let elapsed = t.elapsed().as_secs_f64();
    let done = (per_task * concurrency) as f64;
    (done / elapsed, (server.cpu_seconds() - cpu0) * 1000.0 / done)
}

/// The subprocess model: one `deno run` per execution, with the code in a file.
fn subprocess_round_trips(deno: &Path, n: usize) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("code.ts");
    std::fs::write(&file, "console.log(JSON.stringify(1+1))").unwrap();
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let out = std::process::Command::new(deno)
                .args(["run", "--quiet", "--no-prompt"])
                .arg(&file)
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .output()
                .expect("deno run");
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
            ms(t.elapsed())
        })
        .collect()
}

/// `deno run` of the same code, `concurrency` at a time: executions per second.
fn subprocess_throughput(deno: &Path, concurrency: usize, total: usize) -> f64 {
    let t = Instant::now();
    let per_thread = total / concurrency;
    std::thread::scope(|scope| {
        for _ in 0..concurrency {
            scope.spawn(|| subprocess_round_trips(deno, per_thread));
        }
    });
    (per_thread * concurrency) as f64 / t.elapsed().as_secs_f64()
}

fn find_deno() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("MCP_CONDUCTOR_BENCH_DENO") {
        return Some(p.into());
    }
    let ok = std::process::Command::new("deno").arg("--version").stdout(Stdio::null()).status();
    ok.ok().filter(|s| s.success()).map(|_| "deno".into())
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("mcp-conductor bench report ({} engine, {cores} CPUs)", mcp_conductor::engine::NAME);
    let mut table = Table(Vec::new());

    // Start-up and memory.
    let mut starts = Vec::new();
    for _ in 0..5 {
        let s = Server::start(None).await;
        starts.push(ms(s.started_to_initialized));
        s.client.cancel().await.ok();
    }
    table.row("process start -> initialize answered", format!("p50 {:.1} ms", percentile(&starts, 0.5)));

    let cold = Server::start(Some(0)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    table.row("RSS idle, no pool", format!("{:.1} MB", cold.rss_mb()));
    let cold_samples = spaced(&cold, 20, Duration::from_millis(50)).await;
    table.row("1+1 round trip, worker started on demand (no pool)", p50_p99(&cold_samples));
    let cold_exec: Vec<f64> = {
        let mut v = Vec::new();
        for _ in 0..20 {
            v.push(cold.run("1+1").await["executionTime"].as_f64().unwrap());
        }
        v
    };
    table.row("  executionTime reported (bootstrap + run)", format!("p50 {:.2} ms", percentile(&cold_exec, 0.5)));
    cold.client.cancel().await.ok();

    let server = Server::start(None).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let rss_pool = server.rss_mb();
    table.row(format!("RSS with the pool full ({cores} workers)"), format!("{rss_pool:.1} MB"));

    let spaced_samples = spaced(&server, 40, Duration::from_millis(50)).await;
    table.row("1+1 round trip, calls 50 ms apart (pool hand-off)", p50_p99(&spaced_samples));
    let b20 = back_to_back(&server, 20).await;
    table.row("1+1 round trip, 20 back-to-back", p50_p99(&b20));
    let b200 = back_to_back(&server, 200).await;
    table.row("1+1 round trip, 200 back-to-back", p50_p99(&b200));

    // The result serializer (linear, hijack-proof, written in JS by the glue) against V8's native
    // JSON.stringify of the same value inside the call, measured in the same run.
    let big = "Array.from({ length: 1e5 }, (_, i) => ({ i, s: `${i}`.padEnd(320, 'abcdefghij') }))";
    let (mut returned, mut native) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        returned.push(server.timed(big).await);
        native.push(server.timed(&format!("JSON.stringify({big}).length")).await);
    }
    let (returned, native) = (percentile(&returned, 0.5), percentile(&native, 0.5));
    table.row(
        "a ~35 MB return value (spilled to a file), round trip",
        format!("p50 {returned:.0} ms: {:.1}x a call returning V8's JSON.stringify length of it ({native:.0} ms)", returned / native),
    );

    for concurrency in [1, 2, 8] {
        let (rate, cpu) = throughput(&server, concurrency, 240).await;
        table.row(format!("throughput at concurrency {concurrency}"), format!("{rate:.0} exec/s, {cpu:.1} ms CPU/exec"));
    }
    let (ours_64, cpu_64) = throughput(&server, 64, 640).await;
    table.row("throughput at concurrency 64", format!("{ours_64:.0} exec/s, {cpu_64:.1} ms CPU/exec"));

    cpu_breakdown_rows(&mut table).await;

    let rss_before = server.rss_mb();
    for _ in 0..(1000usize.saturating_sub(40 + 20 + 200 + 3 * 240)) {
        server.run("1+1").await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = server.rss_mb();
    table.row(
        "RSS after 1,000 executions",
        format!("{rss_after:.1} MB (pool full: {rss_pool:.1} MB, growth {:+.1}%)", (rss_after / rss_pool - 1.0) * 100.0),
    );
    let _ = rss_before;
    server.client.cancel().await.ok();

    mcp_factory_rows(&mut table).await;
    state_rows(&mut table).await;
    task_rows(&mut table).await;
    package_rows(&mut table).await;

    match find_deno() {
        Some(deno) => {
            let version = std::process::Command::new(&deno).arg("--version").output().unwrap();
            let version = String::from_utf8_lossy(&version.stdout).lines().next().unwrap_or("").to_string();
            let sub = subprocess_round_trips(&deno, 20);
            table.row(format!("subprocess model: `deno run` per call ({version})"), p50_p99(&sub));
            let ours = percentile(&spaced_samples, 0.5);
            let theirs = percentile(&sub, 0.5);
            table.row("ratio subprocess / ours (p50, calls 50 ms apart)", format!("{:.1}x faster", theirs / ours));
            let b20p50 = percentile(&b20, 0.5);
            table.row("ratio subprocess / ours (p50, 20 back-to-back)", format!("{:.1}x faster", theirs / b20p50));
            let theirs_64 = subprocess_throughput(&deno, 64, 320);
            table.row("subprocess model at concurrency 64", format!("{theirs_64:.0} exec/s"));
            table.row("ratio ours / subprocess (executions/s at concurrency 64)", format!("{:.2}x", ours_64 / theirs_64));
            compute_rows(&mut table, &deno).await;
        }
        None => table.row("subprocess model", "skipped: no `deno` (pip install deno, or set MCP_CONDUCTOR_BENCH_DENO)"),
    }
}

/// CPU-heavy code: the engine's own speed (our embedded V8, V8 under `deno run`), timed inside the
/// code with `performance.now()`, median of 5.
async fn compute_rows(table: &mut Table, deno: &Path) {
    let cases = [
        ("5-million-iteration loop", "let s = 0; for (let i = 0; i < 5e6; i++) s += i;"),
        ("sorting 100,000 numbers", "Array.from({ length: 1e5 }, (_, i) => (i * 7919) % 100003).sort((a, b) => a - b);"),
    ];
    let server = Server::start(None).await;
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in cases {
        let code = format!("const t0 = performance.now(); {body} performance.now() - t0");
        let mut ours = Vec::new();
        for _ in 0..5 {
            ours.push(server.run(&code).await["returnValue"].as_f64().unwrap());
        }
        let file = dir.path().join("compute.ts");
        std::fs::write(&file, format!("const t0 = performance.now(); {body} console.log(performance.now() - t0)")).unwrap();
        let theirs: Vec<f64> = (0..5)
            .map(|_| {
                let out = std::process::Command::new(deno).args(["run", "--quiet"]).arg(&file).output().expect("deno run");
                String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(f64::NAN)
            })
            .collect();
        let (ours, theirs) = (percentile(&ours, 0.5), percentile(&theirs, 0.5));
        table.row(
            format!("CPU-heavy: {name}, ours vs `deno run` (V8)"),
            format!("{ours:.0} ms vs {theirs:.0} ms ({:.1}x slower)", ours / theirs),
        );
    }
    server.client.cancel().await.ok();
}

/// Thread CPU time of each phase of an execution's worker, summed over 1,000 back-to-back `1+1`
/// executions (the server logs each worker's figures: `mcp_conductor::cpu` at debug).
async fn cpu_breakdown_rows(table: &mut Table) {
    const RUNS: usize = 1000;
    let log = tempfile::NamedTempFile::new().unwrap();
    let env = [("MCP_CONDUCTOR_LOG", "error,mcp_conductor::cpu=debug"), ("MCP_CONDUCTOR_LOG_FORMAT", "json")];
    let server = Server::start_with_stderr(None, &env, Stdio::from(log.reopen().unwrap())).await;
    for _ in 0..RUNS {
        server.run("1+1").await;
    }
    server.client.cancel().await.ok();
    // The last worker logs after its reply; give it a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let phases = ["start_us", "warm_up_us", "job_us", "teardown_us"];
    let mut sums = [0u64; 4];
    let mut workers = 0u64;
    for line in std::fs::read_to_string(log.path()).unwrap().lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else { continue };
        let fields = &entry["fields"];
        if fields["message"] != "worker cpu" {
            continue;
        }
        workers += 1;
        for (sum, phase) in sums.iter_mut().zip(phases) {
            *sum += fields[phase].as_u64().unwrap_or(0);
        }
    }
    let per = |us: u64| us as f64 / 1000.0 / workers.max(1) as f64;
    let total: u64 = sums.iter().sum();
    table.row(
        format!("CPU per 1+1 execution, thread CPU time ({workers} workers of {RUNS} back-to-back calls)"),
        format!(
            "{:.2} ms: start {:.2} (worker from the snapshot), warm-up {:.2} (hardening, globals, first module load), \
             job {:.2}, teardown {:.2} (isolate disposal: finalizers and frees, no collection)",
            per(total),
            per(sums[0]),
            per(sums[1]),
            per(sums[2]),
            per(sums[3]),
        ),
    );
}

/// Packages: worker start with and without a packages directory (same run), and what the first
/// import of a module costs inside one execution (every execution is fresh, so every call pays
/// it): `executionTime` p50 of a call that only imports.
async fn package_rows(table: &mut Table) {
    let dir = tempfile::tempdir().unwrap();
    let packages = dir.path().join("packages");
    let status = std::process::Command::new(BIN)
        .args(["packages", "add", "zod@3.23.8", "lodash@4.17.21"])
        .env("MCP_CONDUCTOR_PACKAGES_DIR", &packages)
        .stdout(Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        table.row("packages", "skipped: `mcp-conductor packages add` failed (needs npm and the registry)");
        return;
    }
    let packages = packages.display().to_string();
    let without = Server::start(None).await;
    let with = Server::start_env(None, &[("MCP_CONDUCTOR_PACKAGES_DIR", &packages)]).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (a, b) = (back_to_back(&without, 100).await, back_to_back(&with, 100).await);
    table.row("1+1, 100 back-to-back, no packages directory", p50_p99(&a));
    table.row("1+1, 100 back-to-back, packages directory (zod, lodash)", p50_p99(&b));
    for (what, code) in [
        ("1+1 (baseline)", "1+1"),
        ("first import of node:path", "import path from 'node:path'; typeof path.join"),
        ("first import of npm:zod (ESM)", "import { z } from 'npm:zod'; typeof z.string"),
        ("first import of lodash (CommonJS)", "import _ from 'lodash'; typeof _.chunk"),
    ] {
        let mut times = Vec::new();
        for _ in 0..20 {
            times.push(with.run(code).await["executionTime"].as_f64().unwrap());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        table.row(format!("  executionTime, {what}"), format!("p50 {:.1} ms", percentile(&times, 0.5)));
    }
    without.client.cancel().await.ok();
    with.client.cancel().await.ok();
}

/// `mcpFactory.callTool` to a local stdio upstream (our test server's `add`), against the same
/// call made by a direct rmcp client: the difference is what the proxy adds.
async fn mcp_factory_rows(table: &mut Table) {
    const CALLS: usize = 200;
    let server = Server::start(None).await;
    server.run(r#"await (await mcpFactory.load("up")).callTool("add", { a: 1, b: 2 })"#).await; // connects
    let one_call = r#"await (await mcpFactory.load("up")).callTool("add", { a: 1, b: 2 })"#;
    let mut round_trips = Vec::new();
    let mut baseline = Vec::new();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        round_trips.push(server.timed(one_call).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
        baseline.push(server.one().await);
    }
    table.row("run_deno_code with one mcpFactory.callTool, 50 ms apart", p50_p99(&round_trips));
    let in_sandbox = server
        .run(&format!(
            r#"const up = await mcpFactory.load("up");
            const t = performance.now();
            for (let i = 0; i < {CALLS}; i++) await up.callTool("add", {{ a: i, b: 1 }});
            (performance.now() - t) / {CALLS}"#
        ))
        .await["returnValue"]
        .as_f64()
        .unwrap();
    server.client.cancel().await.ok();

    let direct = direct_call_ms(CALLS).await;
    table.row("  callTool inside the sandbox, sequential (mean)", format!("{in_sandbox:.3} ms"));
    table.row("  same tools/call from a direct rmcp client (mean)", format!("{direct:.3} ms"));
    table.row("  proxy overhead per call (sandbox - direct)", format!("{:.3} ms", in_sandbox - direct));
    table.row(
        "  round trip minus a 1+1 round trip (p50)",
        format!("{:.2} ms", percentile(&round_trips, 0.5) - percentile(&baseline, 0.5)),
    );
}

/// A call with a state handle (one `state.get`) against a `1+1` call without one, interleaved;
/// and `state.set`/`state.get` inside one execution.
async fn state_rows(table: &mut Table) {
    const OPS: usize = 1000;
    let server = Server::start(None).await;
    let args = |code: &str, state: &str| {
        let Value::Object(args) = json!({ "deno_code": code, "state": state }) else { unreachable!() };
        CallToolRequestParams::new("run_deno_code").with_arguments(args)
    };
    let minted = server.client.call_tool(args("await state.set('k', {n: 1}); 1", "new")).await.unwrap();
    let handle = minted.structured_content.unwrap()["stateHandle"].as_str().unwrap().to_string();
    let mut with_handle = Vec::new();
    let mut baseline = Vec::new();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = Instant::now();
        let r = server.client.call_tool(args("(await state.get('k')).n", &handle)).await.unwrap();
        with_handle.push(ms(t.elapsed()));
        assert_eq!(r.structured_content.unwrap()["returnValue"], json!(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
        baseline.push(server.one().await);
    }
    table.against(
        "run_deno_code with a state handle (one state.get), 50 ms apart",
        &with_handle,
        "  minus a 1+1 round trip without one (p50)",
        &baseline,
    );
    let code = format!(
        "const t = performance.now();
         for (let i = 0; i < {OPS}; i++) {{ await state.set('k' + (i % 10), {{ i }}); await state.get('k' + (i % 10)); }}
         (performance.now() - t) / {OPS}"
    );
    let r = server.client.call_tool(args(&code, &handle)).await.unwrap();
    let per_pair = r.structured_content.unwrap()["returnValue"].as_f64().unwrap();
    table.row("  state.set + state.get inside one execution (mean)", format!("{:.1} us", per_pair * 1000.0));
    server.client.cancel().await.ok();
}

/// `run_deno_code` as an MCP Task (created, then `tasks/get` every 2 ms until it completes)
/// against the same code as a direct call. The code runs past the second within which an
/// execution is answered directly (`server/tasks.rs`).
async fn task_rows(table: &mut Table) {
    const SLOW: &str = "await new Promise((r) => setTimeout(r, 1200)); 1";
    use rmcp::model::{CallToolResponse, ClientCapabilities, ClientConfig, GetTaskParams, Implementation};
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("workspace");
    let command = tokio::process::Command::new(BIN).configure(|cmd| {
        cmd.env("MCP_CONDUCTOR_WORKSPACE", &workspace).env("MCP_CONDUCTOR_LOG", "error");
    });
    let (transport, _) = TokioChildProcess::builder(command).stderr(Stdio::inherit()).spawn().unwrap();
    let config = ClientConfig::new(ClientCapabilities::builder().enable_tasks().build(), Implementation::new("bench", "0"));
    let modern = rmcp::service::ClientLifecycleMode::Discover { preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28] };
    let tasks_client = rmcp::service::ClientServiceExt::serve_with_lifecycle(config, transport, modern).await.unwrap();
    let plain = Server::start(None).await;
    let call = || {
        let Value::Object(args) = json!({ "deno_code": SLOW }) else { unreachable!() };
        CallToolRequestParams::new("run_deno_code").with_arguments(args)
    };
    let mut as_task = Vec::new();
    let mut direct = Vec::new();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = Instant::now();
        let CallToolResponse::Task(created) = tasks_client.call_tool_once(call()).await.unwrap() else {
            panic!("a task");
        };
        loop {
            let task = tasks_client.peer().get_task(GetTaskParams::new(created.task.task_id.clone())).await.unwrap();
            if task.task.status().is_terminal() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        as_task.push(ms(t.elapsed()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        direct.push(plain.timed(SLOW).await);
    }
    table.against(
        "run_deno_code of 1.2 s as a task, until tasks/get says completed",
        &as_task,
        "  minus the same call made directly (p50)",
        &direct,
    );
    tasks_client.cancel().await.ok();
    plain.client.cancel().await.ok();
}

async fn direct_call_ms(calls: usize) -> f64 {
    let command = tokio::process::Command::new(UPSTREAM);
    let (transport, _) = TokioChildProcess::builder(command).stderr(Stdio::inherit()).spawn().unwrap();
    let client = ().serve(transport).await.unwrap();
    let call = |i: usize| {
        let mut args = Map::new();
        args.insert("a".into(), json!(i));
        args.insert("b".into(), json!(1));
        client.call_tool(CallToolRequestParams::new("add").with_arguments(args))
    };
    call(0).await.unwrap();
    let t = Instant::now();
    for i in 0..calls {
        call(i).await.unwrap();
    }
    let mean = ms(t.elapsed()) / calls as f64;
    client.cancel().await.ok();
    mean
}
