//! The MCP surface: our tools over rmcp, one file per group.
//! - [`run_code`]: `run_deno_code`
//! - [`proxy_tools`]: `list_mcp_servers`, `get_tools`
//! - [`playbook_tools`]: `list_playbooks`, `get_playbook`, `create_playbook`
//! - [`schema`]: input/output schemas derived from the (de)serialized types

mod logging;
mod playbook_tools;
mod progress;
mod proxy_tools;
mod run_code;
pub mod schema;
mod tasks;

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool_handler};

pub use run_code::{RunDenoCodeParams, validate_global_name};

use crate::metrics::Metrics;
use crate::playbooks::Store;
use crate::proxy::ProxyManager;
use crate::sandbox::{ClientId, Sandbox};
use crate::state::{StateOwner, StateStore};

/// The span of the tool call being handled (`src/telemetry.rs`), for the tool's own spans.
#[derive(Clone)]
pub struct CallTrace(pub opentelemetry::Context);

#[derive(Clone)]
pub struct Conductor {
    sandbox: Sandbox,
    proxy: Arc<ProxyManager>,
    playbooks: Store,
    default_timeout: Duration,
    max_timeout: Duration,
    instructions: String,
    metrics: Arc<Metrics>,
    tool_router: ToolRouter<Self>,
    /// `logging/setLevel` of this session.
    log_level: logging::SessionLevel,
    /// Whose large results these calls write (`sandbox/results.rs`): `stdio`, or one per HTTP
    /// session ([`Conductor::for_new_client`]).
    client: ClientId,
    /// State handles (`src/state/`), shared by every client of this process.
    state: Arc<StateStore>,
    /// `run_deno_code` calls run as MCP Tasks ([`tasks`]), shared by every client.
    tasks: Arc<tasks::Tasks>,
}

impl Conductor {
    pub fn new(
        sandbox: Sandbox,
        proxy: Arc<ProxyManager>,
        playbooks: Store,
        default_timeout: Duration,
        max_timeout: Duration,
        flags: &[String],
        metrics: Arc<Metrics>,
        state: Arc<StateStore>,
        task_ttl: Duration,
        task_max: usize,
    ) -> Self {
        let permissions = if flags.is_empty() { "none".to_string() } else { flags.join(" ") };
        let instructions = format!(
            "mcp-conductor runs TypeScript/JavaScript in an isolated Deno sandbox with \
             `run_deno_code`. Batch work into one call: loop, transform and aggregate in code, \
             return only what matters as the last expression. Code can call tools of other MCP \
             servers through `mcpFactory` (see `list_mcp_servers` and `get_tools`), without any \
             sandbox permission, and import saved playbooks (reusable code + docs: \
             `list_playbooks`, `get_playbook`, `create_playbook`) with `await importPlaybook(folder)`. Sandbox permissions (fixed): {permissions}. \
             Default timeout {} ms, maximum {} ms.",
            default_timeout.as_millis(),
            max_timeout.as_millis()
        );
        let tool_router = Self::run_code_router() + Self::proxy_router() + Self::playbook_router();
        Self {
            sandbox,
            proxy,
            playbooks,
            default_timeout,
            max_timeout,
            instructions,
            metrics,
            tool_router,
            log_level: Default::default(),
            client: ClientId::stdio(),
            state,
            tasks: tasks::Tasks::new(task_ttl, task_max),
        }
    }

    /// The same server for a new client (an HTTP session, or a stateless HTTP request): its
    /// large results go to a directory of their own.
    pub fn for_new_client(&self) -> Conductor {
        Conductor { client: ClientId::fresh(), ..self.clone() }
    }

    /// Who the state handles of this call belong to (`src/state/`): the stdio client, this HTTP
    /// session, or, for a stateless HTTP request (no session to bind to), whoever holds the
    /// server's bearer token.
    fn state_owner(&self, headers: Option<&http::HeaderMap>) -> StateOwner {
        match headers {
            None => StateOwner(self.client.as_str().to_string()),
            Some(headers) if headers.contains_key("mcp-session-id") => StateOwner(self.client.as_str().to_string()),
            Some(_) => StateOwner("http-stateless".into()),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Conductor {
    /// The router's dispatch, counted by tool and outcome for `/metrics`.
    async fn call_tool(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, rmcp::ErrorData> {
        // A name the client made up is "unknown" in metrics labels, spans and logs: each new label
        // value would be a series kept for the life of the process (and any size the client likes).
        let tool = if self.tool_router.has_route(&request.name) { request.name.to_string() } else { "unknown".to_string() };
        let started = std::time::Instant::now();
        // The span of this call (kind server): it continues the caller's trace (`_meta`, then HTTP
        // headers); the tool's own work (the execution) hangs below it through `CallTrace`.
        let headers = context.extensions.get::<http::request::Parts>().map(|parts| &parts.headers);
        // (rmcp has moved the request's `_meta` into the context by now)
        let parent = crate::telemetry::parent(context.meta.0.get_traceparent(), context.meta.0.get_tracestate(), headers);
        let span = crate::telemetry::start(
            format!("tools/call {tool}"),
            opentelemetry::trace::SpanKind::Server,
            &parent,
            vec![
                opentelemetry::KeyValue::new("mcp.method.name", "tools/call"),
                opentelemetry::KeyValue::new("gen_ai.tool.name", tool.clone()),
                opentelemetry::KeyValue::new("gen_ai.operation.name", "execute_tool"),
            ],
        );
        let owner = self.state_owner(headers);
        let mut context = context;
        context.extensions.insert(CallTrace(span.clone()));
        context.extensions.insert(owner.clone());
        // Only a request that declares the tasks extension itself (2026-07-28: per-request client
        // capabilities in `_meta`) gets a task. A 2025-11-25 session that listed it at
        // `initialize` is answered directly: clients advertise it there by default expecting
        // it to be ignored on that protocol (the Inspector does, and cannot read a task there),
        // and the extension lets the server answer any call directly.
        let as_task = tool == "run_deno_code" && context.meta.client_capabilities().is_some_and(|c| c.supports_tasks());
        let response = if as_task {
            // The request is answered now; the progress token it carried would point at nothing
            // (progress becomes the task's status message instead).
            context.meta.0.remove("progressToken");
            let conductor = self.clone();
            let request_cancelled = context.ct.clone();
            self.tasks
                .run(owner, request_cancelled, move |status, stop| {
                    Box::pin(async move {
                        let mut context = context;
                        context.ct = stop;
                        context.extensions.insert(status);
                        let call = rmcp::handler::server::tool::ToolCallContext::new(&conductor, request, context);
                        conductor.tool_router.call(call).await
                    })
                })
                .await
        } else {
            let call = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
            self.tool_router.call(call).await
        };
        let outcome = match &response {
            Ok(rmcp::model::CallToolResponse::Complete(result)) if result.is_error == Some(true) => "error",
            Ok(_) => "ok",
            Err(_) => "invalid",
        };
        let error = match outcome {
            "error" => Some("tool_error"),
            "invalid" => Some("invalid_request"),
            _ => None,
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        crate::telemetry::end(&span, error, vec![opentelemetry::KeyValue::new("mcp_conductor.duration_ms", ms)]);
        self.metrics.tool_call(&tool, outcome);
        tracing::info!(target: "mcp_conductor::tools", tool, outcome, ms = started.elapsed().as_secs_f64() * 1000.0, "tool call");
        response
    }

    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, rmcp::ErrorData> {
        self.tasks.get(&request.task_id, &self.state_owner(request_headers(&context)))
    }

    async fn update_task(
        &self,
        request: rmcp::model::UpdateTaskParams,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<(), rmcp::ErrorData> {
        self.tasks.update(&request.task_id, &self.state_owner(request_headers(&context)), request.input_responses)
    }

    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<(), rmcp::ErrorData> {
        self.tasks.cancel(&request.task_id, &self.state_owner(request_headers(&context)))
    }

    /// Printed lines become logging notifications at this level and above (`logging.rs`).
    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        _context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<(), rmcp::ErrorData> {
        self.log_level.set(request.level);
        Ok(())
    }

    // The logging capability is deprecated (SEP-2577) but still in the deprecation window.
    #[allow(deprecated)]
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_logging().enable_tasks().build())
            .with_server_info(Implementation::new("mcp-conductor", env!("CARGO_PKG_VERSION")))
            .with_instructions(self.instructions.clone())
    }
}

/// The HTTP request's headers (none on stdio).
fn request_headers(context: &rmcp::service::RequestContext<rmcp::RoleServer>) -> Option<&http::HeaderMap> {
    context.extensions.get::<http::request::Parts>().map(|parts| &parts.headers)
}

/// A successful result: `text` for the model, `structured` (whose type is the tool's declared
/// `outputSchema`) as `structuredContent`.
fn with_structured(text: String, structured: &impl serde::Serialize) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(serde_json::to_value(structured).expect("a result serializes"));
    result
}

/// A tool's arguments as `T`. Taken as a raw object (not through rmcp's `Parameters`, which
/// turns bad input into a tool result) so that invalid input is a JSON-RPC invalid-params
/// error for every tool, as for `run_deno_code`.
fn parse_arguments<T: serde::de::DeserializeOwned>(tool: &str, arguments: rmcp::model::JsonObject) -> Result<T, rmcp::ErrorData> {
    serde_json::from_value(serde_json::Value::Object(arguments))
        .map_err(|e| rmcp::ErrorData::invalid_params(format!("{tool}: invalid arguments: {e}"), None))
}
