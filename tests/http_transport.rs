//! `mcp-conductor http`: the real binary on a free loopback port, driven by rmcp's streamable
//! HTTP client and by raw requests.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use common::http::HttpServer;
use serde_json::{Value, json};

async fn run(client: &RunningService<RoleClient, ()>, code: &str) -> Value {
    let args = json!({ "deno_code": code });
    let Value::Object(args) = args else { unreachable!() };
    let result = client.call_tool(CallToolRequestParams::new("run_deno_code").with_arguments(args)).await.expect("tools/call");
    result.structured_content.expect("structuredContent")
}

/// A legacy (2025-11-25) `initialize` request body.
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

fn token_file(dir: &Path, token: &str) -> PathBuf {
    let path = dir.join("token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path
}

#[tokio::test]
async fn serves_on_loopback_with_health_ready_and_404() {
    let server = HttpServer::start(&[], &[]);
    assert!(server.url.starts_with("http://127.0.0.1:"), "{}", server.url);
    let health = http().get(format!("{}/health", server.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap(), json!({ "status": "ok" }));
    let ready = http().get(format!("{}/ready", server.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(http().get(format!("{}/other", server.base)).send().await.unwrap().status(), 404);
    let client = server.client(None).await;
    assert_eq!(run(&client, "1+1").await["returnValue"], json!(2));
}

#[test]
fn refuses_a_public_address_without_a_token() {
    let Err(stderr) = HttpServer::try_start(&["--host", "0.0.0.0"], &[]) else {
        panic!("the server listened on 0.0.0.0 without a token");
    };
    assert!(stderr.contains("MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE"), "{stderr}");
    // Explicitly allowed, it starts.
    let server = HttpServer::start(&["--host", "0.0.0.0"], &[("MCP_CONDUCTOR_HTTP_ALLOW_UNAUTHENTICATED", "true")]);
    assert!(server.url.starts_with("http://0.0.0.0:"), "{}", server.url);
}

#[tokio::test]
async fn the_bearer_token_is_required_and_out_of_code_reach() {
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(dir.path(), "s3cret-token");
    let file_s = file.display().to_string();
    let server = HttpServer::start(
        &[],
        &[
            ("MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE", file_s.as_str()),
            ("MCP_CONDUCTOR_RUN_ARGS", "allow-env,allow-read"),
        ],
    );
    let init: Value = serde_json::from_str(INITIALIZE).unwrap();
    let refused = http()
        .post(&server.url)
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["www-authenticate"], "Bearer");
    let wrong = http().post(&server.url).bearer_auth("wrong").json(&init).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    // Health probes need no token.
    assert_eq!(http().get(format!("{}/health", server.base)).send().await.unwrap().status(), 200);

    let client = server.client(Some("s3cret-token")).await;
    let r = run(&client, &format!("Deno.readTextFileSync({file_s:?})")).await;
    assert_eq!(r["errorType"], "permission", "{r}");
    let r = run(&client, "JSON.stringify(Deno.env.toObject()).includes('s3cret')").await;
    assert_eq!(r["returnValue"], json!(false), "{r}");
}

#[tokio::test]
async fn a_token_given_by_variable_is_gone_from_the_environment() {
    let server = HttpServer::start(
        &[],
        &[("MCP_CONDUCTOR_HTTP_AUTH_TOKEN", "var-token-123"), ("MCP_CONDUCTOR_RUN_ARGS", "allow-env,allow-read")],
    );
    let client = server.client(Some("var-token-123")).await;
    let r = run(&client, "[Deno.env.get('MCP_CONDUCTOR_HTTP_AUTH_TOKEN') ?? null, JSON.stringify(Deno.env.toObject()).includes('var-token-123')]").await;
    assert_eq!(r["returnValue"], json!([null, false]), "{r}");
    let r = run(&client, "Deno.readTextFileSync('/proc/self/environ')").await;
    assert_eq!(r["errorType"], "permission", "{r}");
    // The process re-executed itself without it: not even the initial environment block has it.
    let environ = std::fs::read(format!("/proc/{}/environ", server.child.id())).unwrap();
    assert!(!String::from_utf8_lossy(&environ).contains("var-token-123"), "the token is in /proc/<pid>/environ");
}

#[tokio::test]
async fn origin_and_host_are_checked() {
    let server = HttpServer::start(&[], &[]);
    let post = |headers: &[(&str, &str)]| {
        let mut request = http()
            .post(&server.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send()
    };
    assert_eq!(post(&[("origin", "http://evil.example")]).await.unwrap().status(), 403);
    assert_eq!(post(&[("host", "evil.example")]).await.unwrap().status(), 403);
    // A loopback server accepts pages from the loopback names on any port (the conformance
    // suite's dns-rebinding-protection scenario), not a rebound name or a look-alike.
    for origin in ["http://localhost:5173", "http://127.0.0.1:6274", "https://[::1]:8443", "http://localhost"] {
        // (a ping without a session is refused, but not for its origin)
        let r = post(&[("origin", origin)]).await.unwrap();
        assert_ne!(r.status(), 403, "{origin}");
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
    }
    for origin in ["http://localhost.evil.example:5173", "http://127.0.0.2:80", "null", "file://"] {
        assert_eq!(post(&[("origin", origin)]).await.unwrap().status(), 403, "{origin}");
    }
    assert_eq!(post(&[("origin", "http://localhost:5173"), ("host", "evil.example:3001")]).await.unwrap().status(), 403);
    // Probes skip the Host check (kubelets send the pod IP).
    let probe = http().get(format!("{}/health", server.base)).header("host", "10.1.2.3").send().await.unwrap();
    assert_eq!(probe.status(), 200);
}

#[tokio::test]
async fn malformed_input_gets_4xx_and_the_server_keeps_serving() {
    let server = HttpServer::start(&[], &[("MCP_CONDUCTOR_HTTP_MAX_BODY_BYTES", "65536")]);
    let both = "application/json, text/event-stream";
    // (name, request, status, JSON-RPC error code)
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, i64)> = vec![
        ("malformed JSON", http().post(&server.url).header("content-type", "application/json").header("accept", both).body("{bad"), 400, -32700),
        ("empty body", http().post(&server.url).header("content-type", "application/json").header("accept", both).body(""), 400, -32700),
        ("wrong content type", http().post(&server.url).header("content-type", "text/plain").header("accept", both).body("{}"), 415, -32600),
        ("wrong accept", http().post(&server.url).header("content-type", "application/json").header("accept", "text/html").body("{}"), 406, -32600),
        ("oversized body", http().post(&server.url).header("content-type", "application/json").header("accept", both).body(vec![b' '; 1 << 20]), 413, -32600),
        (
            "unknown session id",
            http()
                .post(&server.url)
                .header("content-type", "application/json")
                .header("accept", both)
                .header("mcp-session-id", "no-such-session")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            404,
            -32600,
        ),
        ("DELETE of an unknown session", http().delete(&server.url).header("mcp-session-id", "no-such-session"), 404, -32600),
        (
            "a 2025-11-25 request without its session",
            http()
                .post(&server.url)
                .header("content-type", "application/json")
                .header("accept", both)
                .header("mcp-protocol-version", "2025-11-25")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            400,
            -32600,
        ),
        (
            "unsupported protocol version",
            http()
                .post(&server.url)
                .header("content-type", "application/json")
                .header("accept", both)
                .header("mcp-protocol-version", "1999-01-01")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            400,
            -32600,
        ),
    ];
    for (name, request, status, code) in cases {
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status().as_u16(), status, "{name}");
        assert_eq!(reply.headers()["content-type"], "application/json", "{name}");
        if status == 413 {
            // The rest of the body was never read: the connection ends, and the reply says so.
            assert_eq!(reply.headers()["connection"], "close", "{name}");
        }
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["jsonrpc"], "2.0", "{name}: {body}");
        assert_eq!(body["id"], Value::Null, "{name}: {body}");
        assert_eq!(body["error"]["code"], code, "{name}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty(), "{name}: {body}");
        assert_eq!(http().get(format!("{}/health", server.base)).send().await.unwrap().status(), 200, "after {name}");
    }
    let client = server.client(None).await;
    assert_eq!(run(&client, "1+1").await["returnValue"], json!(2));
}

#[tokio::test]
async fn sessions_are_isolated_and_capped() {
    let server = HttpServer::start(&[], &[("MCP_CONDUCTOR_HTTP_MAX_SESSIONS", "2")]);
    let a = server.client(None).await;
    let b = server.client(None).await;
    let calls_a = async {
        for i in 0..20 {
            assert_eq!(run(&a, &format!("{i} * 2")).await["returnValue"], json!(i * 2));
        }
    };
    let calls_b = async {
        for i in 0..20 {
            assert_eq!(run(&b, &format!("{i} + 1000")).await["returnValue"], json!(i + 1000));
        }
    };
    tokio::join!(calls_a, calls_b);
    // A third session is refused while two are open.
    let init: Value = serde_json::from_str(INITIALIZE).unwrap();
    let third = http().post(&server.url).header("accept", "application/json, text/event-stream").json(&init).send().await.unwrap();
    assert_eq!(third.status(), 503);
    assert!(third.headers().contains_key("retry-after"));
    // Closing one (DELETE) leaves the other working.
    a.cancel().await.unwrap();
    assert_eq!(run(&b, "'still here'").await["returnValue"], json!("still here"));
    let mut reopened = false;
    for _ in 0..50 {
        let status = http().post(&server.url).header("accept", "application/json, text/event-stream").json(&init).send().await.unwrap().status();
        if status == 200 {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reopened, "a session slot was not freed by DELETE");
}

/// `code` run by `client` in a task (which keeps the client alive until the result).
fn run_in_background(client: RunningService<RoleClient, ()>, code: &'static str) -> tokio::task::JoinHandle<(Value, RunningService<RoleClient, ()>)> {
    tokio::spawn(async move {
        let r = run(&client, code).await;
        (r, client)
    })
}

/// The server's exit code once it exits (within 10 s).
async fn exit_code(mut server: HttpServer) -> Option<Option<i32>> {
    tokio::task::spawn_blocking(move || server.wait_exit(Duration::from_secs(10)).map(|s| s.code())).await.unwrap()
}

#[tokio::test]
async fn sigterm_drains_then_exits_zero() {
    let server = HttpServer::start(&[], &[("MCP_CONDUCTOR_HTTP_SHUTDOWN_DELAY", "500")]);
    let base = server.base.clone();
    let slow = run_in_background(server.client(None).await, "await new Promise((r) => setTimeout(r, 2000)); 'finished'");
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal(libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ready = http().get(format!("{base}/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "/ready while draining");
    let (r, _client) = slow.await.unwrap();
    assert_eq!(r["returnValue"], json!("finished"), "the running execution finished: {r}");
    assert_eq!(exit_code(server).await, Some(Some(0)), "exit status after the drain");
}

/// Past `MCP_CONDUCTOR_HTTP_SHUTDOWN_TIMEOUT` a running execution ends with a result saying the
/// server shut down; until then the draining server refuses new sessions (503, `Connection:
/// close`) and keeps serving existing ones, new connections included.
#[tokio::test]
async fn drain_serves_sessions_refuses_new_ones_and_answers_overdue_calls() {
    let server = HttpServer::start(&[], &[("MCP_CONDUCTOR_HTTP_SHUTDOWN_TIMEOUT", "1500")]);
    let other = server.client(None).await;
    let stuck = run_in_background(server.client(None).await, "await new Promise((r) => setTimeout(r, 60000)); 'never'");
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.signal(libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let init: Value = serde_json::from_str(INITIALIZE).unwrap();
    let refused = http().post(&server.url).header("accept", "application/json, text/event-stream").json(&init).send().await.unwrap();
    assert_eq!(refused.status(), 503, "a new session while draining");
    assert_eq!(refused.headers()["connection"], "close");
    assert!(refused.headers().contains_key("retry-after"));
    // An existing session is still served (rmcp's client opens a connection per request here).
    assert_eq!(run(&other, "'served while draining'").await["returnValue"], json!("served while draining"));
    let (r, _client) = stuck.await.unwrap();
    assert_eq!(r["status"], "error", "{r}");
    assert!(r["error"].as_str().unwrap().contains("server shut down"), "{r}");
    assert!(r["error"].as_str().unwrap().contains("MCP_CONDUCTOR_HTTP_SHUTDOWN_TIMEOUT"), "{r}");
    assert_eq!(exit_code(server).await, Some(Some(0)), "exit status after the drain");
}

#[tokio::test]
async fn stateless_mode_needs_no_initialize() {
    let server = HttpServer::start(&["--stateless"], &[]);
    let call = json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"run_deno_code","arguments":{"deno_code":"6*7"}}});
    let response = http()
        .post(&server.url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(!response.headers().contains_key("mcp-session-id"));
    let body = response.text().await.unwrap();
    assert!(body.contains(r#"\"returnValue\":42"#) || body.contains(r#""returnValue":42"#), "{body}");
    let _ = &server.dir;
}

#[test]
fn healthcheck_reports_the_local_server() {
    let server = HttpServer::start(&[], &[]);
    let port = server.base.rsplit(':').next().unwrap().to_string();
    let check = |port: &str| {
        Command::new(common::BIN)
            .args(["healthcheck", "--port", port])
            .env_clear()
            .env("HOME", server.dir.path())
            .status()
            .unwrap()
            .success()
    };
    assert!(check(&port), "healthcheck against a running server");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    assert!(!check(&closed), "healthcheck against nothing");
}

#[tokio::test]
async fn metrics_count_requests_tools_executions_and_auth_failures() {
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(dir.path(), "metrics-token");
    let file_s = file.display().to_string();
    let server = HttpServer::start(&[], &[("MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE", file_s.as_str())]);
    let url = format!("{}/metrics", server.base);
    assert_eq!(http().get(&url).send().await.unwrap().status(), 401, "/metrics needs the token when one is set");
    let scrape = || async { http().get(&url).bearer_auth("metrics-token").send().await.unwrap().text().await.unwrap() };
    let before = scrape().await;
    assert!(before.contains("mcp_conductor_auth_failures_total 1"), "{before}");
    let client = server.client(Some("metrics-token")).await;
    run(&client, "1+1").await;
    run(&client, "throw new Error('x')").await;
    // Made-up tool names share one label: they must not grow the metrics without bound.
    for name in ["no_such_tool_1", "no_such_tool_2"] {
        let refused = client.call_tool(CallToolRequestParams::new(name)).await;
        assert!(refused.is_err() || refused.unwrap().is_error == Some(true));
    }
    let after = scrape().await;
    assert!(!after.contains("no_such_tool"), "{after}");
    assert!(after.contains(r#"mcp_conductor_tool_calls_total{tool="unknown",outcome="#), "{after}");
    for line in [
        r#"mcp_conductor_tool_calls_total{tool="run_deno_code",outcome="ok"} 1"#,
        r#"mcp_conductor_tool_calls_total{tool="run_deno_code",outcome="error"} 1"#,
        r#"mcp_conductor_executions_total{status="success",error_type=""} 1"#,
        r#"mcp_conductor_executions_total{status="error",error_type="runtime"} 1"#,
        "mcp_conductor_execution_duration_seconds_count 2",
        "mcp_conductor_sessions 1",
    ] {
        assert!(after.contains(line), "missing {line}:\n{after}");
    }
    assert!(after.contains(r#"mcp_conductor_http_requests_total{route="/mcp",status="200"}"#), "{after}");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(common::BIN)
        .args(["http", "--port", "0"])
        .env_clear()
        .env("HOME", dir.path())
        .env("MCP_CONDUCTOR_LOG", "info")
        .env("MCP_CONDUCTOR_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut url = None;
    let mut lines = Vec::new();
    for line in stderr.by_ref() {
        let line = line.unwrap();
        let value: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        lines.push(value.clone());
        if let Some(u) = value["message"].as_str().and_then(|m| m.strip_prefix("listening on ")) {
            url = Some(u.to_string());
            break;
        }
    }
    let url = url.expect("a listening line");
    let rest = std::thread::spawn(move || stderr.map(Result::unwrap).collect::<Vec<String>>());
    let health = http().get(url.replace("/mcp", "/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(lines.len() >= 2, "startup lines logged: {lines:?}");
    // SAFETY: signalling our own child; it drains and exits, closing stderr.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let rest = rest.join().unwrap();
    assert!(rest.iter().any(|l| l.contains("\"route\":\"/health\"")), "the request line: {rest:?}");
    for line in rest {
        serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
}

async fn in_flight(base: &str) -> u64 {
    let ready: Value = http().get(format!("{base}/ready")).send().await.unwrap().json().await.unwrap();
    ready["inFlight"].as_u64().unwrap()
}

/// Waits (up to 3 s) until `count` calls are in flight.
async fn wait_in_flight(base: &str, count: u64) -> bool {
    for _ in 0..150 {
        if in_flight(base).await == count {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn wait_running(base: &str) -> bool {
    wait_in_flight(base, 1).await
}

async fn wait_idle(base: &str) -> bool {
    wait_in_flight(base, 0).await
}

const SPIN: &str = r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"run_deno_code","arguments":{"deno_code":"while (true) {}","timeout":60000}}}"#;

/// Stateless requests (and every 2026-07-28 request): the client going away cancels the call.
#[tokio::test]
async fn a_dropped_stateless_request_ends_its_execution() {
    let server = HttpServer::start(&["--stateless"], &[]);
    let aborted = http()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .timeout(Duration::from_millis(500))
        .body(SPIN)
        .send()
        .await;
    assert!(aborted.is_err() || aborted.unwrap().text().await.is_err(), "the request was cut by the client");
    assert!(wait_idle(&server.base).await, "the execution still runs after its client left");
    // The call is gone and so is its thread: a `while (true)` left running would burn a core.
    let before = cpu_ms(server.child.id());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let burned = cpu_ms(server.child.id()) - before;
    assert!(burned < 300, "the server used {burned} ms of CPU in 600 ms: the execution was not stopped");
}

/// CPU time the process used so far (utime + stime from /proc), in ms.
fn cpu_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    (fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()) * 1000 / ticks
}

/// Sessions: `notifications/cancelled` ends the execution.
#[tokio::test]
async fn notifications_cancelled_ends_a_session_call() {
    let server = HttpServer::start(&[], &[]);
    let post = |session: Option<&str>, body: &str| {
        let mut r = http()
            .post(&server.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(id) = session {
            r = r.header("mcp-session-id", id).header("mcp-protocol-version", "2025-11-25");
        }
        r.send()
    };
    let init = post(None, INITIALIZE)
        .await
        .unwrap();
    let session = init.headers()["mcp-session-id"].to_str().unwrap().to_string();
    drop(init);
    post(Some(&session), r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).await.unwrap();
    let call = tokio::spawn({
        let request = post(Some(&session), SPIN);
        async move { request.await.unwrap().text().await }
    });
    assert!(wait_running(&server.base).await, "the call started");
    post(Some(&session), r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5,"reason":"test"}}"#)
        .await
        .unwrap();
    assert!(wait_idle(&server.base).await, "the execution still runs after notifications/cancelled");
    call.abort();
}

#[tokio::test]
async fn cors_preflight_for_allowed_origins_only() {
    let server = HttpServer::start(&[], &[("MCP_CONDUCTOR_HTTP_ALLOWED_ORIGINS", "http://localhost:6274")]);
    let preflight = |origin: &str| {
        http()
            .request(reqwest::Method::OPTIONS, &server.url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let ok = preflight("http://localhost:6274").await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], "http://localhost:6274");
    assert!(ok.headers()["access-control-expose-headers"].to_str().unwrap().contains("mcp-session-id"));
    assert_eq!(preflight("http://evil.example").await.unwrap().status(), 403);
    // A real request from the allowed origin works and carries the CORS headers.
    let init: Value = serde_json::from_str(INITIALIZE).unwrap();
    let r = http()
        .post(&server.url)
        .header("origin", "http://localhost:6274")
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "http://localhost:6274");
}

/// Two stateless replicas sharing one ROOT (playbooks on a shared volume): a playbook made
/// through one is imported through the other.
#[tokio::test]
async fn stateless_replicas_share_one_root() {
    let root = tempfile::tempdir().unwrap();
    let root_s = root.path().display().to_string();
    let replica = |n: &str| {
        let ws = root.path().join(format!("workspace-{n}"));
        std::fs::create_dir_all(&ws).unwrap();
        let ws = ws.display().to_string();
        HttpServer::start(&["--stateless"], &[("MCP_CONDUCTOR_ROOT", root_s.as_str()), ("MCP_CONDUCTOR_WORKSPACE", ws.as_str())])
    };
    let (a, b) = (replica("a"), replica("b"));
    let call = |server: &HttpServer, name: &str, arguments: Value| {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name": name, "arguments": arguments}});
        http()
            .post(&server.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body)
            .send()
    };
    let created = call(
        &a,
        "create_playbook",
        json!({"folder_name":"shared","name":"Shared","description":"d","content":"# d","code":"export const answer = 42;"}),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(created.contains("Saved playbook"), "{created}");
    let imported = call(&b, "run_deno_code", json!({"deno_code": "(await importPlaybook('shared')).answer"}))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(imported.contains(r#"\"returnValue\":42"#), "{imported}");
}

/// One client's stuck threads refuse that client only (`MCP_CONDUCTOR_MAX_ABANDONED_PER_CLIENT`):
/// another session keeps running, and `/ready` stays ready while reporting them.
#[tokio::test]
async fn stuck_threads_refuse_only_their_client() {
    let server = HttpServer::start(
        &[],
        &[
            ("MCP_CONDUCTOR_RUN_ARGS", "--allow-read,--allow-write"),
            ("MCP_CONDUCTOR_MAX_ABANDONED", "8"),
            ("MCP_CONDUCTOR_MAX_ABANDONED_PER_CLIENT", "2"),
        ],
    );
    // A blocking read of a FIFO nobody writes: termination cannot reach it.
    let fifo = server.dir.path().join("workspace").join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let block = format!("Deno.readTextFileSync({:?})", fifo.display().to_string());
    let (a, b) = (server.client(None).await, server.client(None).await);
    for _ in 0..2 {
        let args = json!({ "deno_code": block, "timeout": 200 });
        let Value::Object(args) = args else { unreachable!() };
        let r = a.call_tool(CallToolRequestParams::new("run_deno_code").with_arguments(args)).await.unwrap();
        assert_eq!(r.structured_content.unwrap()["errorType"], json!("timeout"));
    }
    let refused = run(&a, "1 + 1").await;
    assert!(refused["error"].as_str().unwrap().contains("MCP_CONDUCTOR_MAX_ABANDONED_PER_CLIENT"), "{refused}");
    assert_eq!(run(&b, "1 + 1").await["returnValue"], json!(2), "another client is not refused");
    let ready = http().get(format!("{}/ready", server.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!((body["abandoned"].clone(), body["clientsWithAbandoned"].clone()), (json!(2), json!(1)), "{body}");
    // Releasing the threads (a writer opens and closes the FIFO) lets the client in again.
    use std::os::unix::fs::OpenOptionsExt;
    drop(std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&fifo).expect("open the FIFO"));
    let mut back = false;
    for _ in 0..50 {
        if run(&a, "1 + 1").await["returnValue"] == json!(2) {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "released threads still refuse the client");
}

/// Attacks from one HTTP client end that client's executions only: another client's call in
/// flight meanwhile completes with its value.
#[tokio::test]
async fn attacks_from_one_client_leave_another_clients_call_alone() {
    let server = HttpServer::start(&[], &[]);
    let (attacker, bystander) = (server.client(None).await, server.client(None).await);
    let in_flight = async {
        run(&bystander, "let x = 0; const end = Date.now() + 3000; while (Date.now() < end) x++; 'done'").await
    };
    let attacks = async {
        let deep = format!("{}{}", "(".repeat(12_000), ")".repeat(12_000));
        for code in [
            deep.as_str(),
            "throw new Error('m'.repeat(1e8))",
            "const a = []; for (;;) a.push(new Uint8Array(16 << 20))",
            "const u = new Uint8Array(32 << 20); const a = []; for (let i = 0; i < 64; i++) a.push(new Blob([u]))",
            "const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); throw proxy",
            "const c = await import('node:crypto'); c.pbkdf2Sync('p', 's', 2 ** 31 - 1, 64, 'sha512')",
        ] {
            let r = run(&attacker, code).await;
            assert_eq!(r["status"], json!("error"), "{r}");
        }
    };
    let (value, ()) = tokio::join!(in_flight, attacks);
    assert_eq!(value["returnValue"], json!("done"), "{value}");
    assert_eq!(run(&attacker, "1 + 1").await["returnValue"], json!(2));
}

/// A protocol 2026-07-28 request: headers and `_meta` as the spec requires.
fn modern(server: &HttpServer, method: &str, name: Option<&str>, id: u64, params: Value) -> reqwest::RequestBuilder {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let mut request = http()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = name {
        request = request.header("mcp-name", name);
    }
    request.json(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
}

/// The JSON-RPC message of a reply (JSON, or the first SSE `data:` line).
async fn message(reply: reqwest::Response) -> Value {
    let text = reply.text().await.unwrap();
    let body = text.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim).unwrap_or(text.trim()).to_string();
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// What 2026-07-28 asks of a streamable-HTTP server, as rmcp and our door do it: `server/discover`,
/// `resultType` on every result, `ttlMs`/`cacheScope` on list results in a stable order, header
/// validation (`Mcp-Method`/`Mcp-Name`, -32020 with 400), `ping` gone.
#[tokio::test]
async fn the_2026_07_28_wire() {
    let server = HttpServer::start(&[], &[]);
    let discover = message(modern(&server, "server/discover", None, 1, json!({})).send().await.unwrap()).await;
    assert_eq!(discover["result"]["resultType"], "complete", "{discover}");
    assert!(discover["result"]["supportedVersions"].as_array().unwrap().contains(&json!("2026-07-28")), "{discover}");
    assert!(discover["result"]["capabilities"]["tools"].is_object(), "{discover}");
    let mut orders = Vec::new();
    for id in [2, 3] {
        let list = message(modern(&server, "tools/list", None, id, json!({})).send().await.unwrap()).await;
        let result = &list["result"];
        assert_eq!(result["resultType"], "complete", "{list}");
        assert!(result["ttlMs"].is_u64() && result["cacheScope"].is_string(), "{list}");
        orders.push(result["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect::<Vec<_>>());
    }
    assert_eq!(orders[0], orders[1], "tools/list order is stable");
    assert_eq!(orders[0].len(), 6);
    let args = json!({ "name": "run_deno_code", "arguments": { "deno_code": "6*7" } });
    let call = message(modern(&server, "tools/call", Some("run_deno_code"), 4, args.clone()).send().await.unwrap()).await;
    assert_eq!(call["result"]["resultType"], "complete", "{call}");
    assert_eq!(call["result"]["structuredContent"]["returnValue"], 42, "{call}");
    for (name, request) in [
        ("Mcp-Name differs from the body", modern(&server, "tools/call", Some("list_playbooks"), 5, args.clone())),
        ("Mcp-Name missing", modern(&server, "tools/call", None, 6, args.clone())),
    ] {
        let reply = request.send().await.unwrap();
        assert_eq!(reply.status(), 400, "{name}");
        assert_eq!(message(reply).await["error"]["code"], -32020, "{name}");
    }
    let ping = message(modern(&server, "ping", None, 7, json!({})).send().await.unwrap()).await;
    assert_eq!(ping["error"]["code"], -32601, "ping is gone in 2026-07-28: {ping}");
}

/// 2026-07-28 has no stream resumption: a response stream the client drops ends the execution,
/// on a server in session mode too (the stateless server's case is above).
#[tokio::test]
async fn a_dropped_response_stream_cancels_the_execution() {
    let server = HttpServer::start(&[], &[]);
    let args = json!({ "name": "run_deno_code", "arguments": { "deno_code": "await new Promise((r) => setTimeout(r, 60000)); 1" } });
    // The response's headers come with its first event (the result): the request runs in a task
    // that is aborted to drop the connection.
    let request = modern(&server, "tools/call", Some("run_deno_code"), 1, args);
    let call = tokio::spawn(async move {
        let reply = request.send().await.unwrap();
        reply.bytes().await
    });
    assert!(wait_running(&server.base).await, "the execution never showed in /ready");
    call.abort();
    assert!(wait_idle(&server.base).await, "the execution still runs after its stream was dropped");
}
