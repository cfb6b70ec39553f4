//! Timeouts, Deno.exit, unstable APIs and concurrency: the server always survives.
mod common;

use std::time::{Duration, Instant};

use common::Server;
use serde_json::json;

#[tokio::test]
async fn busy_loop_times_out_and_server_recovers() {
    let s = Server::start("").await;
    let started = Instant::now();
    let r = s.run_timeout("while(true){}", 1000).await;
    let took = started.elapsed();
    assert_eq!(r.error_type(), "timeout");
    assert!(r.error().contains("1000 ms"), "{}", r.error());
    // Behaviour, not speed: the call comes back near the deadline instead of hanging.
    assert!(took < Duration::from_secs(4), "took {took:?}");
    s.assert_healthy().await;
}

#[tokio::test]
async fn never_settling_promise_ends_as_timeout() {
    let s = Server::start("").await;
    let r = s.run_timeout("await new Promise(() => {})", 500).await;
    assert_eq!(r.error_type(), "timeout");
    s.assert_healthy().await;
}

#[tokio::test]
async fn pending_interval_times_out_after_result() {
    let s = Server::start("").await;
    let r = s.run_timeout("setInterval(() => {}, 50); 1", 3000).await;
    assert_eq!(r.error_type(), "timeout");
    assert!(r.error().contains("result was ready"), "{}", r.error());
}

#[tokio::test]
async fn late_timers_finish_before_the_result() {
    let s = Server::start("").await;
    let r = s.run("setTimeout(() => console.log('late'), 30); 'now'").await;
    assert_eq!(r.value(), &json!("now"));
    assert_eq!(r.output(), vec!["late"]);
}

#[tokio::test]
async fn deno_exit_ends_only_the_execution() {
    let s = Server::start("").await;
    let r = s.run("console.log('bye'); Deno.exit(3); console.log('never')").await;
    assert_eq!(r.error_type(), "exit");
    assert_eq!(r.text["exitCode"], json!(3));
    assert!(r.error().contains('3'));
    assert_eq!(r.output(), vec!["bye"]);
    let r = s.run("Deno.exit(0)").await;
    assert_eq!(r.value(), &json!(null));
    s.assert_healthy().await;
}

#[tokio::test]
async fn unstable_api_does_not_exit_the_process() {
    let s = Server::start("").await;
    let r = s.run("await Deno.openKv(':memory:')").await;
    assert_eq!(r.error_type(), "runtime");
    assert!(r.error().contains("unstable"), "{}", r.error());
    s.assert_healthy().await;
}

#[tokio::test]
async fn timeout_parameter_is_validated() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_TIMEOUT", "5000")]).await;
    for bad in [json!(0), json!(-1), json!(5001)] {
        let err = s.call("run_deno_code", json!({ "deno_code": "1", "timeout": bad })).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("timeout must be between 1 and 5000"), "{text}");
    }
    let err = s.call("run_deno_code", json!({ "timeout": 5 })).await.unwrap_err();
    assert!(err.to_string().contains("deno_code"), "{err}");
    let err = s.call("run_deno_code", json!({ "deno_code": "1", "globals": { "not valid": 1 } })).await.unwrap_err();
    assert!(err.to_string().contains("not valid"), "{err}");
    s.assert_healthy().await;
}

#[tokio::test]
async fn eight_concurrent_calls_are_all_correct() {
    let s = Server::start("").await;
    let calls = (0..8).map(|i| {
        let s = &s;
        async move {
            let r = s.run(&format!("await new Promise(r => setTimeout(r, 20)); console.log('call {i}'); {i} * 10")).await;
            (i, r)
        }
    });
    for (i, r) in futures::future::join_all(calls).await {
        assert_eq!(r.value(), &json!(i * 10));
        assert_eq!(r.output(), vec![format!("call {i}")]);
    }
}

#[tokio::test]
async fn state_never_leaks_between_executions() {
    let s = Server::start("").await;
    s.run("globalThis.leak = 1; (Object.prototype as any).polluted = 2; 0").await;
    let r = s.run("[typeof (globalThis as any).leak, ({} as any).polluted ?? null]").await;
    assert_eq!(r.value(), &json!(["undefined", null]));
}

#[tokio::test]
async fn thread_stuck_in_a_blocking_call_is_abandoned() {
    // A read of a FIFO nobody writes blocks the thread where termination cannot reach it.
    let s = Server::start("allow-read").await;
    let fifo = s.ws().join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let started = Instant::now();
    let r = s.run_timeout(&format!("Deno.readTextFileSync({:?})", fifo.display().to_string()), 500).await;
    assert_eq!(r.error_type(), "timeout");
    assert!(r.error().contains("abandoned"), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "the server never waits for a stuck thread");
    s.assert_healthy().await;
}

#[tokio::test]
async fn atomics_wait_throws_instead_of_blocking() {
    let s = Server::start("").await;
    let started = Instant::now();
    let r = s.run_timeout("Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000)", 5000).await;
    assert_eq!(r.error_type(), "runtime", "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "Atomics.wait blocked: {r:?}");
    s.assert_healthy().await;
}

#[tokio::test]
async fn process_wide_apis_are_refused_even_when_permitted() {
    let s = Server::start("allow-read,allow-env,allow-sys").await;
    for code in [
        "Deno.chdir('/')",
        "Deno.umask(0o777)",
        "Deno.env.set('X', '1')",
        "Deno.env.delete('PATH')",
    ] {
        let r = s.run(code).await;
        assert_eq!(r.error_type(), "runtime", "{code}: {r:?}");
        assert!(r.error().contains("not available in the mcp-conductor sandbox"), "{}", r.error());
        assert!(r.error().contains("$code.ts:1:"), "the user's frame is kept: {}", r.error());
        assert!(!r.error().contains("mcp_conductor/"), "glue frames are hidden: {}", r.error());
    }
    // Per-call globals do not re-run (or undo) the hardening.
    let r = s.run_args(json!({ "deno_code": "Deno.chdir(dir)", "globals": { "dir": "/" } })).await;
    assert!(r.error().contains("not available in the mcp-conductor sandbox"), "{}", r.error());
    let r = s.run("[Deno.cwd() === WORKSPACE_DIR, typeof Deno.umask(), Deno.env.get('PATH') !== undefined]").await;
    assert_eq!(r.value(), &json!([true, "number", true]));

    // SIGTERM still ends the server.
    unsafe { libc::kill(s.pid as i32, libc::SIGTERM) };
    assert!(common::wait_gone(s.pid).await, "server ignored SIGTERM");
}

#[tokio::test]
async fn deep_recursion_is_a_catchable_error() {
    let s = Server::start("").await;
    let r = s.run("function f(n: number): number { return f(n + 1) + 1 }\nlet name = ''\ntry { f(0) } catch (e) { name = (e as Error).name }\nname").await;
    assert!(["RangeError", "InternalError"].contains(&r.value().as_str().unwrap()), "{r:?}");
    s.assert_healthy().await;
}

#[tokio::test]
async fn spawned_processes_die_with_their_execution() {
    let s = Server::start("allow-run=sleep,sh").await;
    let marker = format!("{}", 40_000 + std::process::id() % 10_000);
    let alive = |m: &str| {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(m))
        })
    };
    // Left running after the result (unref'd), and running at the timeout.
    let r = s.run(&format!("const c = new Deno.Command('sleep', {{ args: ['{marker}'] }}).spawn(); c.unref(); c.pid > 0")).await;
    assert_eq!(r.value(), &json!(true));
    let r = s.run_timeout(&format!("new Deno.Command('sleep', {{ args: ['{marker}.5'] }}).spawn(); 1"), 500).await;
    assert_eq!(r.error_type(), "timeout");
    // A synchronous outputSync() holding the thread at the timeout.
    let r = s.run_timeout(&format!("new Deno.Command('sleep', {{ args: ['{marker}.125'] }}).outputSync(); 1"), 500).await;
    assert_eq!(r.error_type(), "timeout");
    // Grandchildren: a shell's background jobs.
    let shell = format!("sleep {marker}.25 & sleep {marker}.75 & wait");
    let r = s.run(&format!("const c = new Deno.Command('sh', {{ args: ['-c', '{shell}'] }}).spawn(); c.unref(); 1")).await;
    assert_eq!(r.value(), &json!(1));
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(&marker) {
        assert!(Instant::now() < deadline, "a spawned `sleep {marker}` outlived its execution");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
