//! One live connection to an upstream MCP server, over rmcp's client: a child process on stdio
//! or streamable HTTP. Requests from many executions share it (rmcp multiplexes them).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use process_wrap::tokio::{CommandWrap, KillOnDrop, ProcessGroup};
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, GetPromptRequestParams, Implementation,
    JsonObject, ReadResourceRequestParams, Tool,
};
use serde_json::Value;
use rmcp::service::{NotificationContext, RoleClient, RunningService, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::config::ServerSpec;

/// How long a `tools/list` answer is reused without a change notification.
const TOOLS_TTL: Duration = Duration::from_secs(60);

/// Our side of the connection: identifies us and notices `tools/list_changed`.
struct Handler {
    tools_generation: Arc<AtomicU64>,
}

impl ClientHandler for Handler {
    fn on_tool_list_changed(
        &self,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.tools_generation.fetch_add(1, Ordering::Relaxed);
        std::future::ready(())
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("mcp-conductor", env!("CARGO_PKG_VERSION")),
        )
    }
}

pub struct Connection {
    service: RunningService<RoleClient, Handler>,
    tools_generation: Arc<AtomicU64>,
    /// `tools/list`, with the generation and time it was fetched at.
    tools: Mutex<Option<(u64, Instant, Arc<Vec<Tool>>)>>,
}

impl Connection {
    /// Connects and completes the MCP handshake within `timeout`.
    pub async fn connect(name: &str, spec: &ServerSpec, timeout: Duration) -> Result<Connection, String> {
        let tools_generation = Arc::new(AtomicU64::new(0));
        let handler = Handler { tools_generation: tools_generation.clone() };
        let handshake = async {
            match spec {
                ServerSpec::Stdio { command, args, env, cwd } => {
                    let child = spawn_child(name, command, args, env, cwd.as_deref())?;
                    handler.serve(child).await.map_err(|e| describe_handshake(e, Some(command)))
                }
                ServerSpec::Http { url, headers } => {
                    let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                        .custom_headers(header_map(headers)?);
                    handler
                        .serve(StreamableHttpClientTransport::from_config(config))
                        .await
                        .map_err(|e| describe_handshake(e, None))
                }
                ServerSpec::Sse { .. } => Err("the legacy SSE transport is not supported (rmcp 3 has no SSE client): \
                    use the server's streamable HTTP endpoint (\"transport\": \"http\")"
                    .to_string()),
            }
        };
        // A timed-out handshake drops the transport, which kills a child process.
        let service = tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| format!("no answer to initialize within {} ms", timeout.as_millis()))??;
        Ok(Connection { service, tools_generation, tools: Mutex::new(None) })
    }

    pub fn is_alive(&self) -> bool {
        !self.service.is_closed() && !self.service.peer().is_transport_closed()
    }

    /// `tools/list` (all pages), cached until the server says the list changed, or for
    /// [`TOOLS_TTL`] (servers on protocol 2026-07-28 only notify subscribers).
    pub async fn tools(&self, timeout: Duration) -> Result<Arc<Vec<Tool>>, String> {
        let generation = self.tools_generation.load(Ordering::Relaxed);
        if let Some((at, fetched, tools)) = &*self.tools.lock().unwrap()
            && *at == generation
            && fetched.elapsed() < TOOLS_TTL
        {
            return Ok(tools.clone());
        }
        let tools = tokio::time::timeout(timeout, self.service.peer().list_all_tools())
            .await
            .map_err(|_| format!("tools/list got no answer within {} ms", timeout.as_millis()))?
            .map_err(describe)?;
        let tools = Arc::new(tools);
        *self.tools.lock().unwrap() = Some((generation, Instant::now(), tools.clone()));
        Ok(tools)
    }

    /// `trace`: the W3C `(traceparent, tracestate)` handed on in the request's `_meta` (SEP-414).
    pub async fn call(
        &self,
        tool: &str,
        args: JsonObject,
        timeout: Duration,
        trace: Option<(String, Option<String>)>,
    ) -> Result<CallToolResult, String> {
        let mut params = CallToolRequestParams::new(tool.to_string()).with_arguments(args);
        if let Some((traceparent, tracestate)) = trace {
            let mut meta = rmcp::model::RequestMetaObject::default();
            meta.0.set_traceparent(traceparent);
            if let Some(tracestate) = tracestate {
                meta.0.set_tracestate(tracestate);
            }
            params.meta = Some(meta);
        }
        tokio::time::timeout(timeout, self.service.peer().call_tool(params))
            .await
            .map_err(|_| {
                format!(
                    "no answer within {} ms (MCP_CONDUCTOR_MCP_CALL_TIMEOUT)",
                    timeout.as_millis()
                )
            })?
            .map_err(describe)
    }
}

/// What an upstream offers besides tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Resources,
    Prompts,
}

impl Connection {
    /// Whether the server declared the capability in its `initialize` answer.
    pub fn offers(&self, feature: Feature) -> bool {
        let Some(info) = self.service.peer().peer_info() else { return false };
        match feature {
            Feature::Resources => info.capabilities.resources.is_some(),
            Feature::Prompts => info.capabilities.prompts.is_some(),
        }
    }

    /// `resources/list`, every page; `[]` from a server without resources.
    pub async fn resources(&self, timeout: Duration) -> Result<Value, String> {
        if !self.offers(Feature::Resources) {
            return Ok(Value::Array(Vec::new()));
        }
        let items = within(timeout, "resources/list", self.service.peer().list_all_resources()).await?;
        serde_json::to_value(items).map_err(|e| e.to_string())
    }

    /// `prompts/list`, every page; `[]` from a server without prompts.
    pub async fn prompts(&self, timeout: Duration) -> Result<Value, String> {
        if !self.offers(Feature::Prompts) {
            return Ok(Value::Array(Vec::new()));
        }
        let items = within(timeout, "prompts/list", self.service.peer().list_all_prompts()).await?;
        serde_json::to_value(items).map_err(|e| e.to_string())
    }

    pub async fn read_resource(&self, uri: &str, timeout: Duration) -> Result<Value, String> {
        if !self.offers(Feature::Resources) {
            return Err("it offers no resources (no `resources` capability)".into());
        }
        let params = ReadResourceRequestParams::new(uri);
        let result = within(timeout, "resources/read", self.service.peer().read_resource(params)).await?;
        serde_json::to_value(result).map_err(|e| e.to_string())
    }

    pub async fn get_prompt(&self, name: &str, args: JsonObject, timeout: Duration) -> Result<Value, String> {
        if !self.offers(Feature::Prompts) {
            return Err("it offers no prompts (no `prompts` capability)".into());
        }
        let mut params = GetPromptRequestParams::new(name);
        if !args.is_empty() {
            params = params.with_arguments(args);
        }
        let result = within(timeout, "prompts/get", self.service.peer().get_prompt(params)).await?;
        serde_json::to_value(result).map_err(|e| e.to_string())
    }
}

/// A request with the call timeout, its errors described.
async fn within<T>(
    timeout: Duration,
    what: &str,
    request: impl Future<Output = Result<T, ServiceError>>,
) -> Result<T, String> {
    tokio::time::timeout(timeout, request)
        .await
        .map_err(|_| format!("{what} got no answer within {} ms (MCP_CONDUCTOR_MCP_CALL_TIMEOUT)", timeout.as_millis()))?
        .map_err(describe)
}

/// A failed MCP handshake in words a user acts on: rmcp's own texts name Rust transport types.
fn describe_handshake(error: rmcp::service::ClientInitializeError, command: Option<&str>) -> String {
    use rmcp::service::ClientInitializeError as E;
    let exited = |detail: &str| match command {
        Some(command) => format!(
            "`{command}` ended before answering initialize ({detail}); its stderr is in this server's log \
             (target \"upstream\"): run the command by hand to see why"
        ),
        None => format!("the connection closed before initialize was answered ({detail})"),
    };
    match error {
        E::ConnectionClosed(detail) => exited(&detail),
        E::TransportError { error, context } => {
            let cause = chain(&*error.error);
            match command {
                Some(_) => exited(&format!("{context}: {cause}")),
                None => format!("the server could not be reached ({context}): {cause}"),
            }
        }
        E::JsonRpcError(e) => format!("the server refused initialize: {}", e.message),
        other => format!("the server's answer to initialize was not valid MCP: {other}"),
    }
}

/// An error and its sources, `: `-separated (reqwest's top-level text alone says only "error
/// sending request").
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

fn describe(error: ServiceError) -> String {
    match error {
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
            format!("the connection was lost ({error}); the next call reconnects")
        }
        ServiceError::McpError(e) => format!("the server answered with an error: {}", e.message),
        other => other.to_string(),
    }
}

/// Starts a stdio server in its own process group (so helpers it starts die with it), killed
/// when the connection is dropped and, via PDEATHSIG, if this process dies. Its stderr goes to
/// our log; its environment is ours plus the entry's `env`, which user code never sees.
fn spawn_child(
    name: &str,
    command: &str,
    args: &[String],
    env: &BTreeMap<String, String>,
    cwd: Option<&Path>,
) -> Result<TokioChildProcess, String> {
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(args).envs(env);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut wrapped = CommandWrap::from(cmd);
    wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
    let (child, stderr) = TokioChildProcess::builder(wrapped)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound if !command.contains('/') => format!(
                "cannot start `{command}`: not found on PATH ({}). Give its absolute path as \"command\", or set \
                 \"env\": {{\"PATH\": ...}} for this server (clients started from a desktop app do not read shell \
                 profiles)",
                std::env::var("PATH").unwrap_or_default()
            ),
            std::io::ErrorKind::NotFound => format!("cannot start `{command}`: no such file"),
            std::io::ErrorKind::PermissionDenied => {
                format!("cannot start `{command}`: permission denied (is it executable? chmod +x)")
            }
            _ => format!("cannot start `{command}`: {e}"),
        })?;
    if let Some(stderr) = stderr {
        let name = name.to_string();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::info!(target: "upstream", server = %name, "{line}");
            }
        });
    }
    Ok(child)
}

fn header_map(headers: &BTreeMap<String, String>) -> Result<HashMap<HeaderName, HeaderValue>, String> {
    headers
        .iter()
        .map(|(k, v)| {
            let name = HeaderName::try_from(k.as_str()).map_err(|_| format!("invalid header name '{k}'"))?;
            let value = HeaderValue::try_from(v.as_str()).map_err(|_| format!("invalid value for header '{k}'"))?;
            Ok((name, value))
        })
        .collect()
}
