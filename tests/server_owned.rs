//! Files the server owns are out of reach whatever the grants: the upstream MCP config (its
//! `command`s are run by the server, its `env`/`headers` hold secrets), the other config names
//! next to it, the server's own /proc entries, the large results of every client (kept for a
//! TTL, within a quota), the playbooks directory (never writable), and over HTTP the server's own
//! listening addresses.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::http::HttpServer;
use common::{Run, Server};
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};

const EVERYTHING_BUT_RUN_AND_FFI: &str = "allow-read,allow-write,allow-env,allow-net,allow-sys,allow-import";

#[tokio::test]
async fn upstream_config_and_proc_self_are_denied_with_every_grant() {
    let s = Server::with_upstreams(EVERYTHING_BUT_RUN_AND_FFI, json!({}), &[]).await;
    let config = s.upstream_config.clone().unwrap();
    let before = std::fs::read_to_string(&config).unwrap();
    let sibling = config.parent().unwrap().join("mcp.json");
    let cases = [
        format!("Deno.readTextFileSync({:?})", config.display().to_string()),
        format!("Deno.writeTextFileSync({:?}, '{{\"mcpServers\":{{}}}}')", config.display().to_string()),
        format!("Deno.writeTextFileSync({:?}, '{{}}')", sibling.display().to_string()),
        format!("await import({:?}, {{ with: {{ type: 'json' }} }})", format!("file://{}", config.display())),
        "Deno.readFileSync('/proc/self/environ')".to_string(),
        "Deno.readFileSync('/proc/thread-self/environ')".to_string(),
        "Deno.openSync('/proc/self/mem', { write: true })".to_string(),
        "Deno.readTextFileSync(`/proc/${Deno.pid}/status`)".to_string(),
        "Deno.readDirSync('/proc/self/fd')".to_string(),
        "Deno.writeTextFileSync('/dev/fd/1', 'x')".to_string(),
    ];
    // Thread ids work as /proc entries too, though /proc does not list them.
    let tid = std::fs::read_dir(format!("/proc/{}/task", s.pid))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|t| *t != s.pid.to_string())
        .expect("the server has threads");
    let cases: Vec<String> = cases
        .into_iter()
        .chain([
            format!("Deno.readTextFileSync('/proc/{tid}/environ')"),
            format!("Deno.openSync('/proc/{tid}/mem', {{ write: true }})"),
            format!("Deno.statSync('/proc/{tid}')"),
        ])
        .collect();
    for code in &cases {
        let r = s.run(code).await;
        assert_eq!(r.error_type(), "permission", "{code}: {r:?}");
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before, "the config file was changed");
    assert!(!sibling.exists());
    // Everything else stays readable and writable.
    let r = s.run("Deno.writeTextFileSync('ok.txt', 'fine'); Deno.readTextFileSync('ok.txt')").await;
    assert_eq!(r.value(), &json!("fine"));
    let r = s.run("Deno.readTextFileSync('/etc/hostname').length > 0").await;
    assert_eq!(r.value(), &json!(true));
}

/// A config in a Kubernetes ConfigMap volume (`..data` → a timestamped directory the kubelet
/// swaps on update): the whole volume is denied, so a new copy is out of reach too.
#[tokio::test]
async fn a_projected_volume_is_denied_whole() {
    let volume = tempfile::tempdir().unwrap();
    let v = volume.path();
    std::fs::create_dir(v.join("..2026_12_01_00_00_00.1")).unwrap();
    std::fs::write(v.join("..2026_12_01_00_00_00.1/mcp.json"), r#"{"mcpServers":{}}"#).unwrap();
    std::os::unix::fs::symlink("..2026_12_01_00_00_00.1", v.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/mcp.json", v.join("mcp.json")).unwrap();
    let config = v.join("mcp.json").display().to_string();
    let s = Server::start_env(EVERYTHING_BUT_RUN_AND_FFI, &[("MCP_CONDUCTOR_MCP_CONFIG", config.as_str())]).await;
    // The kubelet's next update: a new directory, not known at startup.
    std::fs::create_dir(v.join("..2026_12_01_00_05_00.2")).unwrap();
    std::fs::write(v.join("..2026_12_01_00_05_00.2/mcp.json"), r#"{"mcpServers":{}}"#).unwrap();
    for path in ["..2026_12_01_00_05_00.2/mcp.json", "..2026_12_01_00_00_00.1/mcp.json", "mcp.json"] {
        let code = format!("Deno.readTextFileSync({:?})", v.join(path).display().to_string());
        let r = s.run(&code).await;
        assert_eq!(r.error_type(), "permission", "{code}: {r:?}");
    }
}

/// A return value of 1202 bytes as JSON: above the tests' MCP_CONDUCTOR_MAX_RETURN_BYTES (100).
const BIG: &str = "'x'.repeat(1200)";

/// Where a large return value was written (`returnValueFile.path`).
fn returned_file(r: &Run) -> PathBuf {
    PathBuf::from(r.text["returnValueFile"]["path"].as_str().unwrap_or_else(|| panic!("no returnValueFile: {r:#?}")))
}

#[tokio::test]
async fn large_results_are_out_of_code_reach_whatever_the_grants() {
    let root = tempfile::tempdir().unwrap();
    let root_s = root.path().canonicalize().unwrap().display().to_string();
    // Read access to the workspace and the base dir; then every grant but allow-run/allow-ffi.
    let grants = [format!("allow-read={{ws}},{root_s},allow-write={{ws}}"), EVERYTHING_BUT_RUN_AND_FFI.to_string()];
    for grant in &grants {
        let env = [("MCP_CONDUCTOR_ROOT", root_s.as_str()), ("MCP_CONDUCTOR_MAX_RETURN_BYTES", "100")];
        let s = Server::start_env(grant, &env).await;
        let r = s.run(BIG).await;
        let path = returned_file(&r);
        let results = format!("{root_s}/results");
        assert!(path.starts_with(format!("{results}/stdio")), "{path:?}");
        assert!(!path.starts_with(s.ws()), "{path:?} is outside the workspace");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), json!("x".repeat(1200)).to_string());
        let note = r.value().as_str().unwrap().to_string();
        assert!(note.contains(&path.display().to_string()) && note.contains("code cannot read it"), "{note}");
        let file = path.display().to_string();
        let name = path.file_name().unwrap().to_str().unwrap();
        let cases = [
            format!("Deno.readTextFileSync({file:?})"),
            format!("await Deno.readTextFile({file:?})"),
            format!("Deno.statSync({file:?})"),
            format!("Deno.readDirSync({results:?})"),
            format!("Deno.readDirSync({:?})", format!("{results}/stdio")),
            format!("Deno.readTextFileSync({:?})", format!("{results}/stdio/../stdio/{name}")),
            format!("Deno.readTextFileSync({:?})", format!("{root_s}/./results/stdio/{name}")),
            format!("Deno.removeSync({file:?})"),
            format!("Deno.renameSync({file:?}, 'stolen.json')"),
            format!("Deno.writeTextFileSync({:?}, '[]')", format!("{results}/stdio/planted.json")),
            format!("Deno.mkdirSync({:?})", format!("{results}/session-0")),
            format!("await import({:?}, {{ with: {{ type: 'json' }} }})", format!("file://{file}")),
            format!("mcp.file({file:?})"),
            format!("Deno.symlinkSync({results:?}, 'r'); Deno.readDirSync('r')"),
        ];
        for code in &cases {
            let r = s.run(code).await;
            assert_eq!(r.error_type(), "permission", "{grant}: {code}: {r:?}");
        }
        assert!(path.is_file(), "the result is still there");
        assert!(!Path::new(&results).join("stdio/planted.json").exists());
        // The grants themselves work: the base dir is readable (the results only are not).
        let r = s.run(&format!("Deno.readDirSync({root_s:?}).some((e) => e.name === 'playbooks')")).await;
        assert_eq!(r.value(), &json!(true), "{grant}");
    }
}

#[tokio::test]
async fn large_results_are_deleted_after_their_ttl() {
    let env = [("MCP_CONDUCTOR_MAX_RETURN_BYTES", "100"), ("MCP_CONDUCTOR_RESULTS_TTL", "1000")];
    let s = Server::start_env("", &env).await;
    let r = s.run(BIG).await;
    let path = returned_file(&r);
    assert!(path.is_file(), "{path:?}");
    assert!(r.value().as_str().unwrap().contains("deleted after 1 s (MCP_CONDUCTOR_RESULTS_TTL)"), "{r:?}");
    // The sweeper runs every half TTL (every 500 ms here), without a new result being written.
    let deadline = Instant::now() + Duration::from_secs(5);
    while path.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!path.exists(), "{path:?} outlived its TTL");
    assert!(!path.parent().unwrap().exists(), "the empty client directory went with it");
    s.assert_healthy().await;
}

#[tokio::test]
async fn large_results_stay_within_their_quota() {
    let env = [("MCP_CONDUCTOR_MAX_RETURN_BYTES", "100"), ("MCP_CONDUCTOR_RESULTS_MAX_BYTES", "3000")];
    let s = Server::start_env("", &env).await;
    let mut paths = Vec::new();
    for _ in 0..3 {
        paths.push(returned_file(&s.run(BIG).await));
        // Distinct modification times: the oldest goes first.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!paths[0].exists(), "the oldest result made room for the third (3 x 1202 > 3000)");
    assert!(paths[1].is_file() && paths[2].is_file());
    let kept: u64 = std::fs::read_dir(paths[2].parent().unwrap()).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    assert!(kept <= 3000, "{kept} bytes kept");
    // Larger than the whole quota: refused, naming the variable to raise; nothing deleted.
    let r = s.run("'y'.repeat(4000)").await;
    assert_eq!(r.error_type(), "limit", "{r:?}");
    assert!(r.error().contains("MCP_CONDUCTOR_RESULTS_MAX_BYTES"), "{r:?}");
    assert!(paths[1].is_file() && paths[2].is_file(), "a refused value deletes nothing");
}

#[tokio::test]
async fn playbooks_inside_the_workspace_are_never_writable() {
    // A workspace not named `workspace` is its own ROOT: PLAYBOOKS_DIR is <workspace>/playbooks.
    let ws = tempfile::tempdir().unwrap();
    let ws_path = ws.path().canonicalize().unwrap();
    let ws_s = ws_path.display().to_string();
    let s = Server::start_env(EVERYTHING_BUT_RUN_AND_FFI, &[("MCP_CONDUCTOR_WORKSPACE", ws_s.as_str())]).await;
    let playbooks = ws_path.join("playbooks");
    assert_eq!(s.run("PLAYBOOKS_DIR").await.value(), &json!(playbooks.display().to_string()));
    let target = playbooks.join("http-utilities/playbook.ts");
    let before = std::fs::read_to_string(&target).unwrap();
    let cases = [
        "Deno.writeTextFileSync(`${PLAYBOOKS_DIR}/http-utilities/playbook.ts`, 'export const pwned = 1;')",
        "Deno.writeTextFileSync('playbooks/http-utilities/playbook.md', 'x')",
        "Deno.writeTextFileSync('sub/../playbooks/http-utilities/playbook.ts', 'x')",
        "Deno.writeTextFileSync(`${WORKSPACE_DIR}/./playbooks/../playbooks/http-utilities/playbook.ts`, 'x')",
        "Deno.writeTextFileSync('playbooks/evil/playbook.md', 'x')",
        "Deno.mkdirSync('playbooks/evil')",
        "Deno.removeSync('playbooks/http-utilities/playbook.ts')",
        "Deno.removeSync('playbooks', { recursive: true })",
        "Deno.renameSync('playbooks', 'moved')",
        "Deno.renameSync('playbooks/http-utilities', 'moved')",
        "Deno.linkSync('playbooks/http-utilities/playbook.ts', 'hard.ts')",
        "Deno.chmodSync('playbooks', 0o777)",
        "Deno.truncateSync('playbooks/http-utilities/playbook.ts')",
        // Through a symlink made in the workspace.
        "Deno.symlinkSync(PLAYBOOKS_DIR, 'pb'); Deno.writeTextFileSync('pb/http-utilities/playbook.ts', 'x')",
        // The directory above: moving or deleting it would take the playbooks out of the deny lists.
        "Deno.renameSync(WORKSPACE_DIR, WORKSPACE_DIR + '-moved')",
        "Deno.removeSync(WORKSPACE_DIR, { recursive: true })",
        "Deno.chmodSync(WORKSPACE_DIR, 0o500)",
    ];
    for code in cases {
        let r = s.run(code).await;
        assert_eq!(r.error_type(), "permission", "{code}: {r:?}");
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), before, "a playbook was changed");
    assert!(ws_path.is_dir() && !ws_path.join("moved").exists() && !playbooks.join("evil").exists());
    assert!(!ws_path.join("hard.ts").exists());
    // Reading and importing playbooks, and everything else in the workspace, still work.
    let r = s.run("Deno.readTextFileSync('playbooks/http-utilities/playbook.md').length > 0").await;
    assert_eq!(r.value(), &json!(true));
    let r = s.run("typeof (await importPlaybook('http-utilities'))").await;
    assert_eq!(r.value(), &json!("object"));
    let r = s
        .run("Deno.writeTextFileSync('ok.txt', 'fine'); Deno.mkdirSync('d'); Deno.renameSync('d', 'e'); Deno.removeSync('e'); Deno.readTextFileSync('ok.txt')")
        .await;
    assert_eq!(r.value(), &json!("fine"));
}

/// The binary's stderr when it refuses to start with `env` (over a fresh HOME).
fn startup_error(env: &[(&str, &Path)]) -> String {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.env_clear().env("HOME", home.path()).env("PATH", std::env::var("PATH").unwrap_or_default()).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run mcp-conductor");
    assert!(!out.status.success(), "the server started with {env:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn server_directories_overlapping_the_workspace_are_startup_errors() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path().canonicalize().unwrap();
    // The workspace inside (or equal to) the playbooks directory.
    for ws in [root.join("playbooks"), root.join("playbooks/ws")] {
        let stderr = startup_error(&[("MCP_CONDUCTOR_ROOT", root.as_path()), ("MCP_CONDUCTOR_WORKSPACE", ws.as_path())]);
        assert!(stderr.contains("MCP_CONDUCTOR_ROOT") && stderr.contains("MCP_CONDUCTOR_WORKSPACE"), "{stderr}");
    }
    // Large results inside the workspace.
    let ws = root.join("workspace");
    let inside = ws.join("results");
    let stderr = startup_error(&[("MCP_CONDUCTOR_WORKSPACE", ws.as_path()), ("MCP_CONDUCTOR_RESULTS_DIR", inside.as_path())]);
    assert!(stderr.contains("MCP_CONDUCTOR_RESULTS_DIR"), "{stderr}");
}

async fn run_over(client: &RunningService<RoleClient, ()>, code: &str) -> Run {
    let Value::Object(args) = json!({ "deno_code": code }) else { unreachable!() };
    let result = client.call_tool(CallToolRequestParams::new("run_deno_code").with_arguments(args)).await;
    Run::from(result.expect("tools/call"))
}

#[tokio::test]
async fn over_http_code_never_reaches_its_own_server() {
    let server = HttpServer::start(&[], &[("MCP_CONDUCTOR_RUN_ARGS", "allow-net,allow-import"), ("MCP_CONDUCTOR_MAX_RETURN_BYTES", "100")]);
    let client = server.client(None).await;
    let port = server.port();
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let post = |host: &str, path: &str| {
        format!(
            "await fetch('http://{host}:{port}{path}', {{ method: 'POST', headers: {{ 'content-type': 'application/json', \
             accept: 'application/json, text/event-stream' }}, body: {initialize:?} }})"
        )
    };
    let mut cases: Vec<String> = ["127.0.0.1", "localhost", "[::1]", "LocalHost", "127.0.0.2", "0.0.0.0", "[::]", "2130706433", "[::ffff:127.0.0.1]"]
        .into_iter()
        .map(|host| post(host, "/mcp"))
        .collect();
    cases.extend([
        format!("await fetch('http://127.0.0.1:{port}/metrics')"),
        format!("await fetch('http://localhost:{port}/health')"),
        format!("await Deno.connect({{ hostname: '127.0.0.1', port: {port} }})"),
        format!("await Deno.connect({{ hostname: 'localhost', port: {port} }})"),
        format!("await import('http://127.0.0.1:{port}/mcp')"),
    ]);
    for code in &cases {
        let r = run_over(&client, code).await;
        assert_eq!(r.error_type(), "permission", "{code}: {r:?}");
    }
    // Only the server's own port is denied: another loopback service stays reachable.
    let other = common::http_server(|_| ("200 OK", "text/plain", "hi".to_string()));
    let r = run_over(&client, &format!("await (await fetch('http://127.0.0.1:{other}/')).text()")).await;
    assert_eq!(r.value(), &json!("hi"));

    // Each session writes its large results to a directory of its own, outside the workspace.
    let second = server.client(None).await;
    let a = returned_file(&run_over(&client, BIG).await);
    let b = returned_file(&run_over(&second, BIG).await);
    let (da, db) = (a.parent().unwrap(), b.parent().unwrap());
    assert_ne!(da, db, "two sessions, two directories");
    for d in [da, db] {
        assert!(d.file_name().unwrap().to_str().unwrap().starts_with("session-"), "{d:?}");
        assert_eq!(d.parent().unwrap().file_name().unwrap(), "results", "{d:?}");
    }
}
