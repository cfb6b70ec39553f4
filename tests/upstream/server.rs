//! A small upstream MCP server for the proxy tests and the bench, on rmcp's server side.
//! `conductor-test-upstream` serves stdio; `conductor-test-upstream --http` serves streamable
//! HTTP on 127.0.0.1 (a free port) and prints `listening on <url>` as its first stdout line.

use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation,
    ListPromptsResult, ListResourcesResult, PaginatedRequestParams, PromptMessage, Role,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ResourceContents, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::json;

#[derive(Clone)]
struct Upstream {
    tool_router: ToolRouter<Self>,
    /// Resources and prompts too (not with `--no-extras`).
    extras: bool,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct AddArgs {
    a: f64,
    b: f64,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct TextArgs {
    text: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct SlowArgs {
    /// Milliseconds to wait before answering.
    ms: u64,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct NameArgs {
    name: String,
}

fn text(s: impl Into<String>) -> Result<CallToolResult, ErrorData> {
    Ok(CallToolResult::success(vec![ContentBlock::text(s)]))
}

#[tool_router]
impl Upstream {
    #[tool(description = "Adds two numbers.")]
    async fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> Result<CallToolResult, ErrorData> {
        text((a + b).to_string())
    }

    #[tool(description = "Returns the text unchanged (as plain, non-JSON text).")]
    async fn echo(&self, Parameters(TextArgs { text: t }): Parameters<TextArgs>) -> Result<CallToolResult, ErrorData> {
        text(t)
    }

    #[tool(description = "Always fails with the given message (an isError result).")]
    async fn fail(&self, Parameters(TextArgs { text: t }): Parameters<TextArgs>) -> Result<CallToolResult, ErrorData> {
        Ok(CallToolResult::error(vec![ContentBlock::text(t)]))
    }

    #[tool(description = "Answers after `ms` milliseconds.")]
    async fn slow(&self, Parameters(SlowArgs { ms }): Parameters<SlowArgs>) -> Result<CallToolResult, ErrorData> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        text(format!("slept {ms} ms"))
    }

    #[tool(description = "Returns structuredContent {items, total} next to a text summary.")]
    async fn structured(&self) -> Result<CallToolResult, ErrorData> {
        let mut result = CallToolResult::success(vec![ContentBlock::text("3 items")]);
        result.structured_content = Some(json!({ "items": [1, 2, 3], "total": 6 }));
        Ok(result)
    }

    #[tool(description = "Exits the server process in the middle of the call.")]
    async fn crash(&self) -> Result<CallToolResult, ErrorData> {
        std::process::exit(3)
    }

    #[tool(description = "The value of an environment variable of this server process (null if unset).")]
    async fn env(&self, Parameters(NameArgs { name }): Parameters<NameArgs>) -> Result<CallToolResult, ErrorData> {
        text(json!(std::env::var(name).ok()).to_string())
    }

    #[tool(description = "This server's process id.")]
    async fn pid(&self) -> Result<CallToolResult, ErrorData> {
        text(std::process::id().to_string())
    }

    #[tool(description = "The W3C trace context this call's `_meta` carried: {traceparent, tracestate} (nulls if none).")]
    async fn trace_context(&self, meta: rmcp::model::RequestMetaObject) -> Result<CallToolResult, ErrorData> {
        let traceparent = meta.0.get_traceparent().map(str::to_string);
        let tracestate = meta.0.get_tracestate().map(str::to_string);
        text(json!({ "traceparent": traceparent, "tracestate": tracestate }).to_string())
    }
}

/// One resource and one prompt, for `mcpFactory`'s `listResources`/`readResource`/`listPrompts`/
/// `getPrompt` (with `--no-extras`: tools only, no such capabilities).
const NOTE_URI: &str = "memo://note";

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("a valid MCP value")
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Upstream {
    fn get_info(&self) -> ServerConfig {
        let capabilities = if self.extras {
            ServerCapabilities::builder().enable_tools().enable_resources().enable_prompts().build()
        } else {
            ServerCapabilities::builder().enable_tools().build()
        };
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("conductor-test-upstream", env!("CARGO_PKG_VERSION")))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let note = from_json(json!({ "uri": NOTE_URI, "name": "note", "mimeType": "text/plain" }));
        Ok(ListResourcesResult::with_all_items(vec![note]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != NOTE_URI {
            return Err(ErrorData::resource_not_found(format!("no resource {}", request.uri), None));
        }
        Ok(ReadResourceResult::new(vec![ResourceContents::text("remember the milk", NOTE_URI)]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let greet = from_json(json!({
            "name": "greet",
            "description": "Greets someone.",
            "arguments": [{ "name": "who", "required": true }]
        }));
        Ok(ListPromptsResult::with_all_items(vec![greet]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let who = request.arguments.as_ref().and_then(|a| a.get("who")).and_then(|v| v.as_str()).unwrap_or("nobody");
        let message = PromptMessage::new_text(Role::User, format!("Hello, {who}!"));
        Ok(GetPromptResult::new(vec![message]).into())
    }
}

fn upstream() -> Upstream {
    Upstream { tool_router: Upstream::tool_router(), extras: !std::env::args().any(|a| a == "--no-extras") }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--http") {
        return serve_http().await;
    }
    let service = upstream().serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}

async fn serve_http() -> Result<(), Box<dyn std::error::Error>> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
    use tower_service::Service;

    let service = StreamableHttpService::new(
        || Ok(upstream()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}/mcp", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let service = service.clone();
        tokio::spawn(async move {
            let handler = hyper::service::service_fn(move |request| service.clone().call(request));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), handler)
                .await;
        });
    }
}
