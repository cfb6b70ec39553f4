//! Drives the real `mcp-conductor` binary over stdio with rmcp's client.
#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::ServiceExt;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_mcp-conductor");
/// Our test upstream MCP server (tests/upstream/server.rs).
pub const UPSTREAM: &str = env!("CARGO_BIN_EXE_conductor-test-upstream");

pub struct Server {
    pub client: RunningService<RoleClient, ()>,
    /// Each tool's declared `outputSchema`, compiled: every result is checked against it.
    output_schemas: std::collections::HashMap<String, jsonschema::Validator>,
    pub pid: u32,
    pub workspace: PathBuf,
    pub dir: tempfile::TempDir,
    /// The upstream-server config file, for servers started by `with_upstreams`.
    pub upstream_config: Option<PathBuf>,
}

impl Server {
    /// A server with the given `MCP_CONDUCTOR_RUN_ARGS` (may mention `{ws}` for the workspace).
    pub async fn start(run_args: &str) -> Server {
        Server::start_env(run_args, &[]).await
    }

    pub async fn start_env(run_args: &str, env: &[(&str, &str)]) -> Server {
        let Launched { dir, workspace, transport } = launch(run_args, env);
        let pid = transport.id().expect("child pid");
        let client = ().serve(transport).await.expect("initialize");
        let output_schemas = output_validators(&client).await;
        Server { client, pid, workspace, dir, upstream_config: None, output_schemas }
    }

    /// A server whose upstream MCP servers are `servers` (the `mcpServers` object), written to a
    /// config file named by MCP_CONDUCTOR_MCP_CONFIG.
    pub async fn with_upstreams(run_args: &str, servers: Value, env: &[(&str, &str)]) -> Server {
        let config = tempfile::NamedTempFile::new().unwrap().into_temp_path().keep().unwrap();
        std::fs::write(&config, json!({ "mcpServers": servers }).to_string()).unwrap();
        let name = config.display().to_string();
        let mut all = vec![("MCP_CONDUCTOR_MCP_CONFIG", name.as_str())];
        all.extend_from_slice(env);
        let mut server = Server::start_env(run_args, &all).await;
        server.upstream_config = Some(config);
        server
    }

    pub fn ws(&self) -> &Path {
        &self.workspace
    }

    /// Calls a tool; its `structuredContent` must match the tool's `outputSchema` (the official
    /// SDKs reject the call otherwise).
    pub async fn call(&self, tool: &'static str, args: Value) -> Result<CallToolResult, ServiceError> {
        let Value::Object(args) = args else { panic!("arguments must be an object") };
        let result = self.client.call_tool(CallToolRequestParams::new(tool).with_arguments(args)).await?;
        if let Some(structured) = &result.structured_content {
            let validator = self
                .output_schemas
                .get(tool)
                .unwrap_or_else(|| panic!("{tool} sent structuredContent but declares no outputSchema"));
            let errors: Vec<String> = validator.iter_errors(structured).map(|e| format!("{e} at {}", e.instance_path())).collect();
            assert!(errors.is_empty(), "{tool}: structuredContent does not match its outputSchema: {errors:?}\n{structured:#}");
        } else if result.is_error != Some(true) {
            assert!(!self.output_schemas.contains_key(tool), "{tool} declares an outputSchema but sent no structuredContent");
        }
        Ok(result)
    }

    /// `run_deno_code` with arbitrary arguments.
    pub async fn run_args(&self, args: Value) -> Run {
        Run::from(self.call("run_deno_code", args).await.expect("tools/call succeeds"))
    }

    pub async fn run(&self, code: &str) -> Run {
        self.run_args(json!({ "deno_code": code })).await
    }

    pub async fn run_timeout(&self, code: &str, timeout_ms: u64) -> Run {
        self.run_args(json!({ "deno_code": code, "timeout": timeout_ms })).await
    }

    /// The server still answers correctly.
    pub async fn assert_healthy(&self) {
        let r = self.run("1+1").await;
        assert_eq!(r.value(), &json!(2), "server unhealthy: {r:?}");
    }
}

/// The binary started over stdio (not yet initialized), in a fresh temp HOME with its workspace.
pub struct Launched {
    pub dir: tempfile::TempDir,
    pub workspace: PathBuf,
    pub transport: TokioChildProcess,
}

/// Starts the binary with `MCP_CONDUCTOR_RUN_ARGS` = `run_args` (`{ws}` = the workspace) and a
/// cleared environment plus `env`; for tests that need their own client handler.
pub fn launch(run_args: &str, env: &[(&str, &str)]) -> Launched {
    let dir = tempfile::tempdir().expect("tempdir");
    let workspace = dir.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    let workspace = workspace.canonicalize().unwrap();
    let run_args = run_args.replace("{ws}", &workspace.display().to_string());
    let command = tokio::process::Command::new(BIN).configure(|cmd| {
        cmd.env_clear()
            .env("HOME", dir.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("MCP_CONDUCTOR_WORKSPACE", &workspace)
            .env("MCP_CONDUCTOR_RUN_ARGS", &run_args)
            .env("MCP_CONDUCTOR_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
    });
    let (transport, _stderr) =
        TokioChildProcess::builder(command).stderr(Stdio::inherit()).spawn().expect("spawn mcp-conductor");
    Launched { dir, workspace, transport }
}

/// The declared output schemas of the server's tools, compiled.
async fn output_validators(client: &RunningService<RoleClient, ()>) -> std::collections::HashMap<String, jsonschema::Validator> {
    let tools = client.list_all_tools().await.expect("tools/list");
    tools
        .into_iter()
        .filter_map(|t| {
            let schema = Value::Object(t.output_schema?.as_ref().clone());
            let validator = jsonschema::validator_for(&schema)
                .unwrap_or_else(|e| panic!("{}: outputSchema is not a valid JSON Schema: {e}", t.name));
            Some((t.name.to_string(), validator))
        })
        .collect()
}

/// An `mcpServers` entry starting our test upstream over stdio.
pub fn upstream_entry() -> Value {
    json!({ "command": UPSTREAM })
}

/// Our test upstream serving streamable HTTP on 127.0.0.1; killed on drop.
pub struct HttpUpstream {
    pub url: String,
    _child: tokio::process::Child,
}

impl HttpUpstream {
    pub async fn start() -> HttpUpstream {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(UPSTREAM)
            .arg("--http")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the HTTP upstream");
        let stdout = child.stdout.take().unwrap();
        let line = tokio::io::BufReader::new(stdout).lines().next_line().await.unwrap().expect("address line");
        let url = line.strip_prefix("listening on ").expect("listening line").to_string();
        HttpUpstream { url, _child: child }
    }
}

/// One `run_deno_code` result: the text item's JSON and the structured content.
#[derive(Debug)]
pub struct Run {
    pub is_error: bool,
    pub text: Value,
    pub structured: Value,
}

impl From<CallToolResult> for Run {
    fn from(result: CallToolResult) -> Self {
        let text = result.content[0].as_text().expect("text content").text.clone();
        let text: Value = serde_json::from_str(&text).expect("text item is JSON");
        Run {
            is_error: result.is_error == Some(true),
            text,
            structured: result.structured_content.expect("structuredContent"),
        }
    }
}

impl Run {
    pub fn status(&self) -> &str {
        self.text["status"].as_str().unwrap()
    }

    /// The return value; panics (with the whole result) when the run failed.
    pub fn value(&self) -> &Value {
        assert_eq!(self.status(), "success", "expected success: {self:#?}");
        assert!(!self.is_error);
        &self.text["returnValue"]
    }

    /// The error type; panics when the run succeeded.
    pub fn error_type(&self) -> &str {
        assert_eq!(self.status(), "error", "expected an error: {self:#?}");
        assert!(self.is_error, "isError must be set on errors");
        self.text["errorType"].as_str().unwrap()
    }

    pub fn error(&self) -> &str {
        self.text["error"].as_str().unwrap_or("")
    }

    pub fn output(&self) -> Vec<String> {
        self.text["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }
}

/// The process exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.split(") ").nth(1).is_some_and(|state| !state.starts_with('Z')))
}

/// Waits up to 5 s for the process to end.
pub async fn wait_gone(pid: u32) -> bool {
    for _ in 0..250 {
        if !process_alive(pid) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

/// A minimal HTTP/1.1 server on 127.0.0.1 (one thread, `connection: close`): `handler` maps a
/// request path to (status line, content type, body). Returns the port.
pub fn http_server(handler: impl Fn(&str) -> (&'static str, &'static str, String) + Send + 'static) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, content_type, body) = handler(&path);
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let mut stream = stream;
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

/// A process's resident set (VmRSS) in bytes, read from `/proc` by the test (0 once it is gone).
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    kb * 1024
}
