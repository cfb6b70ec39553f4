//! A drop-in for the original Deno product: its default playbooks and their README examples
//! (unchanged except for the URL, served by a local HTTP server), its environment variable
//! names (`MCP_CONDUCTOR_BASE_DIR`, `MCP_CONDUCTOR_MAX_RETURN_SIZE`, `MCP_CONDUCTOR_PROXY_CONFIG`)
//! and its config file location (`<base dir>/mcp.json`).

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Server, http_server, upstream_entry};
use serde_json::json;

fn counter() -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    (hits.clone(), hits)
}

/// The server with network access to exactly this port.
async fn server_for(port: u16) -> Server {
    Server::start(&format!("allow-net=127.0.0.1:{port}")).await
}

#[tokio::test]
async fn the_originals_default_playbooks_are_shipped() {
    let s = Server::start("").await;
    let listed = s.call("list_playbooks", json!({})).await.unwrap().structured_content.unwrap();
    let system: Vec<&str> = listed["playbooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["source"] == "system")
        .map(|p| p["folder"].as_str().unwrap())
        .collect();
    for folder in ["http-utilities", "mcp-conductor-guide", "playbook-creator", "http-helper"] {
        assert!(system.contains(&folder), "{folder} missing from {system:?}");
    }
    let r = s
        .run(
            r#"const { fetchJSON, fetchWithRetry } = await importPlaybook('http-utilities')
            const pc = await importPlaybook('playbook-creator')
            ;[typeof fetchJSON, typeof fetchWithRetry, typeof pc.createPlaybookArgs, typeof pc.inspectPlaybook]"#,
        )
        .await;
    assert_eq!(r.value(), &json!(["function", "function", "function", "function"]));
}

/// The original README's example, as written there (only the URL is ours).
#[tokio::test]
async fn fetch_json_as_in_the_originals_readme() {
    let port = http_server(|path| match path {
        "/users/1" => ("200 OK", "application/json", r#"{"id":1,"name":"Ada"}"#.into()),
        _ => ("404 Not Found", "text/plain", "no".into()),
    });
    let s = server_for(port).await;
    let code = format!(
        r#"const {{ fetchJSON, fetchWithRetry }} = await importPlaybook('http-utilities')
const data = await fetchJSON('http://127.0.0.1:{port}/users/1', {{ retries: 3, timeout: 10000 }})
data"#
    );
    // Within a short timeout: the per-attempt timeout timer does not keep the execution alive.
    let r = s.run_timeout(&code, 5000).await;
    assert_eq!(r.value(), &json!({ "id": 1, "name": "Ada" }));
    assert!(r.output().is_empty(), "no retry happened: {r:?}");
}

#[tokio::test]
async fn fetch_with_retry_retries_failures_then_succeeds() {
    let (hits, seen) = counter();
    let port = http_server(move |_| match hits.fetch_add(1, Ordering::SeqCst) {
        0 | 1 => ("500 Internal Server Error", "text/plain", "down".into()),
        _ => ("200 OK", "application/json", r#"{"ok":true}"#.into()),
    });
    let s = server_for(port).await;
    let code = format!(
        r#"const {{ fetchWithRetry }} = await importPlaybook('http-utilities')
const res = await fetchWithRetry('http://127.0.0.1:{port}/flaky', {{ retries: 3, retryDelay: 10 }})
;[res.ok, res.status, await res.json()]"#
    );
    let r = s.run_timeout(&code, 5000).await;
    assert_eq!(r.value(), &json!([true, 200, { "ok": true }]));
    assert_eq!(seen.load(Ordering::SeqCst), 3, "two failures, then the answer");
    let output = r.output();
    assert_eq!(output.len(), 2, "one line per retry: {output:?}");
    assert!(output[0].contains("attempt 1 of 4 failed (HTTP 500") && output[0].contains("retrying in 10 ms"), "{output:?}");
    assert!(output[1].contains("attempt 2 of 4") && output[1].contains("retrying in 20 ms"), "the delay doubles: {output:?}");
}

#[tokio::test]
async fn fetch_with_retry_returns_the_last_response_when_retries_run_out() {
    let (hits, seen) = counter();
    let port = http_server(move |_| {
        hits.fetch_add(1, Ordering::SeqCst);
        ("500 Internal Server Error", "application/json", r#"{"error":"down"}"#.into())
    });
    let s = server_for(port).await;
    let code = format!(
        r#"const {{ fetchJSON, fetchWithRetry }} = await importPlaybook('http-utilities')
const res = await fetchWithRetry('http://127.0.0.1:{port}/', {{ retries: 2, retryDelay: 5 }})
// fetchJSON does not check the status: the error body comes back parsed.
const body = await fetchJSON('http://127.0.0.1:{port}/', {{ retries: 0 }})
;[res.ok, res.status, await res.text(), body]"#
    );
    let r = s.run_timeout(&code, 5000).await;
    assert_eq!(r.value(), &json!([false, 500, r#"{"error":"down"}"#, { "error": "down" }]));
    assert_eq!(seen.load(Ordering::SeqCst), 4, "3 attempts, then 1 for fetchJSON");
}

#[tokio::test]
async fn fetch_with_retry_throws_the_network_error_when_retries_run_out() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = server_for(port).await;
    let code = format!(
        r#"const {{ fetchWithRetry }} = await importPlaybook('http-utilities')
let caught = null
try {{
  await fetchWithRetry('http://127.0.0.1:{port}/', {{ retries: 2, retryDelay: 5 }})
}} catch (e) {{
  caught = {{ isError: e instanceof Error, permission: e instanceof Deno.errors.NotCapable, message: String(e) }}
}}
caught"#
    );
    let r = s.run_timeout(&code, 5000).await;
    let caught = r.value();
    assert_eq!(caught["isError"], json!(true), "{r:?}");
    assert_eq!(caught["permission"], json!(false), "a network error, not a permission error: {r:?}");
    assert_eq!(r.output().len(), 2, "retried twice before throwing: {r:?}");

    // Without allow-net for the host the permission error is thrown at once, not retried.
    let r = s
        .run_timeout(
            r#"const { fetchWithRetry } = await importPlaybook('http-utilities')
await fetchWithRetry('http://127.0.0.2:8080/', { retries: 3, retryDelay: 1000 })"#,
            5000,
        )
        .await;
    assert_eq!(r.error_type(), "permission", "{r:?}");
    assert!(r.output().is_empty(), "{r:?}");
}

#[tokio::test]
async fn fetch_with_retry_times_out_each_attempt() {
    // Answers after 2 s; one thread, so a second request waits behind the first.
    let port = http_server(|_| {
        std::thread::sleep(std::time::Duration::from_secs(2));
        ("200 OK", "text/plain", "late".into())
    });
    let s = server_for(port).await;
    let code = format!(
        r#"const {{ fetchWithRetry }} = await importPlaybook('http-utilities')
const start = performance.now()
let error = null
try {{ await fetchWithRetry('http://127.0.0.1:{port}/', {{ retries: 1, retryDelay: 5, timeout: 200 }}) }}
catch (e) {{ error = String(e) }}
;({{ error, ms: performance.now() - start }})"#
    );
    let r = s.run_timeout(&code, 5000).await;
    let v = r.value();
    assert!(v["error"].is_string(), "both attempts timed out: {r:?}");
    assert!(v["ms"].as_f64().unwrap() < 1500.0, "two 200 ms attempts, not the server's 2 s: {r:?}");
    assert_eq!(r.output().len(), 1, "{r:?}");
}

#[tokio::test]
async fn playbook_creator_prepares_create_playbook_arguments() {
    let s = Server::start("").await;
    let r = s
        .run(
            r#"const pc = await importPlaybook('playbook-creator')
let bad = null
try { pc.createPlaybookArgs({ folder_name: '../x', name: '', description: 'd', code: 'const x = 1' }) } catch (e) { bad = e.message }
const args = pc.createPlaybookArgs({
  name: 'Geo Tools',
  description: 'Euclidean norms',
  code: 'export const norm = (p: { x: number; y: number }) => Math.hypot(p.x, p.y);',
  tags: ['math'],
})
;({ args, bad })"#,
        )
        .await;
    let v = r.value().clone();
    let bad = v["bad"].as_str().unwrap();
    assert!(bad.contains("invalid folder_name") && bad.contains("name must be") && bad.contains("exports nothing"), "{bad}");
    let args = &v["args"];
    assert_eq!(args["folder_name"], json!("geo-tools"));
    assert!(args["content"].as_str().unwrap().contains("await importPlaybook(\"geo-tools\")"), "{args}");

    // The agent passes them to create_playbook as they are.
    let created = s.call("create_playbook", args.clone()).await.unwrap();
    assert_ne!(created.is_error, Some(true), "{created:?}");
    let r = s
        .run(
            r#"const pc = await importPlaybook('playbook-creator')
const info = await pc.inspectPlaybook('geo-tools')
;[info, (await importPlaybook('geo-tools')).norm({ x: 3, y: 4 })]"#,
        )
        .await;
    assert_eq!(
        r.value(),
        &json!([{ "folder": "geo-tools", "exports": [{ "name": "norm", "type": "function", "arity": 1 }] }, 5])
    );
}

/// Starts the binary without a client; it must fail before reading stdin.
fn startup(env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(common::BIN);
    cmd.env_clear()
        .env("HOME", dir.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MCP_CONDUCTOR_WORKSPACE", dir.path().join("workspace"))
        .env("MCP_CONDUCTOR_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("run the binary");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn both_names_with_different_values_stop_the_server_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a").display().to_string(), dir.path().join("b").display().to_string());
    for (name, alias, one, other) in [
        ("MCP_CONDUCTOR_ROOT", "MCP_CONDUCTOR_BASE_DIR", a.as_str(), b.as_str()),
        ("MCP_CONDUCTOR_MAX_RETURN_BYTES", "MCP_CONDUCTOR_MAX_RETURN_SIZE", "1000", "2000"),
        ("MCP_CONDUCTOR_MCP_CONFIG", "MCP_CONDUCTOR_PROXY_CONFIG", a.as_str(), b.as_str()),
    ] {
        let (code, stdout, stderr) = startup(&[(name, one), (alias, other)]);
        assert_ne!(code, Some(0), "{name} + {alias}: {stderr}");
        assert!(stderr.contains(name) && stderr.contains(alias), "{name} + {alias}: {stderr}");
        assert!(stderr.contains("different values"), "{stderr}");
        assert!(stdout.is_empty(), "stdout is the protocol's: {stdout:?}");
    }
    assert!(!dir.path().join("a").exists() && !dir.path().join("b").exists(), "nothing was created");
}

#[tokio::test]
async fn both_names_with_the_same_value_are_fine() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path().canonicalize().unwrap();
    let root_s = root.display().to_string();
    let s = Server::start_env("", &[("MCP_CONDUCTOR_ROOT", root_s.as_str()), ("MCP_CONDUCTOR_BASE_DIR", root_s.as_str())]).await;
    assert_eq!(s.run("[ROOT_DIR, PLAYBOOKS_DIR]").await.value(), &json!([root_s, format!("{root_s}/playbooks")]));
    assert!(root.join("playbooks/http-utilities/playbook.ts").is_file(), "defaults installed under the root");
}

#[tokio::test]
async fn max_return_size_is_an_alias_of_max_return_bytes() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_RETURN_SIZE", "100")]).await;
    let r = s.run("Array.from({ length: 50 }, (_, i) => ({ i }))").await;
    assert!(r.text["returnValueFile"]["path"].is_string(), "a value over 100 bytes goes to a file: {r:?}");
    assert_eq!(s.run("[1, 2]").await.value(), &json!([1, 2]), "small values stay inline");
}

fn write_mcp_json(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("mcp.json"), json!({ "mcpServers": { "up": upstream_entry() } }).to_string()).unwrap();
}

const USE_UP: &str = r#"const names = (await mcpFactory.listServers()).map((s) => s.name)
names.length ? [names, await (await mcpFactory.load("up")).callTool("add", { a: 2, b: 3 })] : [names]"#;

#[tokio::test]
async fn mcp_json_in_the_base_dir_is_found() {
    let base = tempfile::tempdir().unwrap();
    write_mcp_json(base.path());
    let base_s = base.path().display().to_string();
    let s = Server::start_env("", &[("MCP_CONDUCTOR_BASE_DIR", base_s.as_str())]).await;
    assert_eq!(s.run(USE_UP).await.value(), &json!([["up"], 5]));
}

#[tokio::test]
async fn mcp_json_in_the_default_root_is_found_once_created() {
    // HOME = dir, workspace = dir/workspace, so ROOT = dir.
    let s = Server::start("").await;
    assert_eq!(s.run(USE_UP).await.value(), &json!([[]]));
    write_mcp_json(s.dir.path());
    assert_eq!(s.run(USE_UP).await.value(), &json!([["up"], 5]), "created after startup: noticed on the next use");
}

#[tokio::test]
async fn mcp_json_inside_the_workspace_is_never_used() {
    // A workspace dir not named `workspace` is its own ROOT; code may write there, so its
    // mcp.json (which decides what commands the server starts) is not read.
    let ws = tempfile::tempdir().unwrap();
    let ws_s = ws.path().canonicalize().unwrap().display().to_string();
    let s = Server::start_env(&format!("allow-write={ws_s}"), &[("MCP_CONDUCTOR_WORKSPACE", ws_s.as_str())]).await;
    assert_eq!(s.run("ROOT_DIR").await.value(), &json!(ws_s));
    let r = s
        .run(&format!(
            r#"Deno.writeTextFileSync("mcp.json", JSON.stringify({{ mcpServers: {{ evil: {{ command: {cmd} }} }} }}));
(await mcpFactory.listServers()).map((s) => s.name)"#,
            cmd = serde_json::to_string(common::UPSTREAM).unwrap()
        ))
        .await;
    assert_eq!(r.value(), &json!([]));
    assert!(ws.path().join("mcp.json").is_file());
}
