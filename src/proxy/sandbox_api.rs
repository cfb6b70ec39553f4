//! What `mcpFactory` in the sandbox can ask the proxy manager: each [`HostRequest`] answered
//! with a value or a [`HostError`] (the JSON shapes live in `src/sandbox/host.rs`).

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use serde_json::{Value, json};

use super::format::unwrap_result;
use super::manager::ProxyManager;
use crate::sandbox::{Host, HostError, HostReply, HostRequest};
use crate::telemetry;

/// The sandbox's handle on the manager: requests run on the server's runtime (where the
/// connections live) and are aborted when the execution ends first.
pub struct ProxyHost {
    manager: Arc<ProxyManager>,
    runtime: tokio::runtime::Handle,
}

impl ProxyHost {
    pub fn new(manager: Arc<ProxyManager>, runtime: tokio::runtime::Handle) -> ProxyHost {
        ProxyHost { manager, runtime }
    }
}

impl Host for ProxyHost {
    fn request(&self, request: HostRequest, trace: Option<(String, Option<String>)>) -> HostReply {
        let manager = self.manager.clone();
        let task = self.runtime.spawn(async move { traced(&manager, request, trace).await });
        let abort = task.abort_handle();
        Box::pin(async move {
            let _abort_on_drop = AbortOnDrop(abort);
            match task.await {
                Ok(reply) => reply,
                Err(e) => Err(HostError::new(format!("the MCP proxy failed: {e}"))),
            }
        })
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// [`handle`] in a span (kind client) when the request reaches an upstream server, child of the
/// execution's; its context is what the upstream server receives. Names and outcomes only.
async fn traced(manager: &ProxyManager, request: HostRequest, trace: Option<(String, Option<String>)>) -> Result<Value, HostError> {
    let Some((method, server, name)) = upstream_method(&request) else {
        return handle(manager, request, None).await;
    };
    let parent = match &trace {
        Some((traceparent, tracestate)) => telemetry::from_headers(traceparent, tracestate.as_deref()),
        None => opentelemetry::Context::new(),
    };
    let mut attributes = vec![
        KeyValue::new("mcp.method.name", method),
        KeyValue::new("mcp_conductor.upstream", server.to_string()),
    ];
    if let Some(name) = name {
        let key = if method == "tools/call" { "gen_ai.tool.name" } else { "mcp.prompt.name" };
        attributes.push(KeyValue::new(key, name.to_string()));
    }
    let span_name = match name {
        Some(name) => format!("{method} {name}"),
        None => method.to_string(),
    };
    let cx = telemetry::start(span_name, SpanKind::Client, &parent, attributes);
    let reply = handle(manager, request, telemetry::headers_of(&cx)).await;
    let error = match &reply {
        Ok(_) => None,
        // A tool that answered with isError, or a call that failed on the way.
        Err(HostError { result: Some(_), .. }) => Some("tool_error"),
        Err(_) => Some("call_failed"),
    };
    telemetry::end(&cx, error, Vec::new());
    reply
}

/// The MCP method a request sends upstream, its server, and the tool or prompt it names.
fn upstream_method(request: &HostRequest) -> Option<(&'static str, &str, Option<&str>)> {
    Some(match request {
        HostRequest::ListServers {} => return None,
        HostRequest::Load { server } | HostRequest::ListTools { server } => ("tools/list", server, None),
        HostRequest::CallTool { server, tool, .. } | HostRequest::CallToolRaw { server, tool, .. } => {
            ("tools/call", server, Some(tool.as_str()))
        }
        HostRequest::ListResources { server } => ("resources/list", server, None),
        HostRequest::ReadResource { server, .. } => ("resources/read", server, None),
        HostRequest::ListPrompts { server } => ("prompts/list", server, None),
        HostRequest::GetPrompt { server, name, .. } => ("prompts/get", server, Some(name.as_str())),
    })
}

async fn handle(
    manager: &ProxyManager,
    request: HostRequest,
    trace: Option<(String, Option<String>)>,
) -> Result<Value, HostError> {
    match request {
        HostRequest::ListServers {} => {
            // A broken file is an error, not an empty list: code (and its author) would take `[]`
            // for "no servers configured".
            let view = manager.config_view();
            if let Some(error) = view.file_error {
                return Err(HostError {
                    message: format!("the upstream server config is unusable: {error} (file: {})", view.described),
                    result: None,
                });
            }
            Ok(list_servers(manager).await)
        }
        HostRequest::Load { server } => {
            let tools = manager.tools(&server).await?;
            let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
            Ok(json!({ "name": server, "tools": names }))
        }
        HostRequest::ListTools { server } => {
            let tools = manager.tools(&server).await?;
            Ok(Value::Array(
                tools
                    .iter()
                    .map(|t| {
                        json!({
                            "name": t.name,
                            "description": t.description,
                            "inputSchema": t.input_schema,
                            "outputSchema": t.output_schema,
                        })
                    })
                    .collect(),
            ))
        }
        HostRequest::CallToolRaw { server, tool, args } => {
            let result = manager.call(&server, &tool, args, trace).await?;
            Ok(serde_json::to_value(&result).unwrap_or(Value::Null))
        }
        HostRequest::CallTool { server, tool, args } => {
            let result = manager.call(&server, &tool, args, trace).await?;
            unwrap_result(&result).map_err(|message| HostError {
                message: format!("{server}.{tool} failed: {message}"),
                result: Some(serde_json::to_value(&result).unwrap_or(Value::Null)),
            })
        }
        HostRequest::ListResources { server } => Ok(manager.on(&server, |c, t| async move { c.resources(t).await }).await?),
        HostRequest::ReadResource { server, uri } => {
            Ok(manager.on(&server, |c, t| async move { c.read_resource(&uri, t).await }).await?)
        }
        HostRequest::ListPrompts { server } => Ok(manager.on(&server, |c, t| async move { c.prompts(t).await }).await?),
        HostRequest::GetPrompt { server, name, args } => {
            Ok(manager.on(&server, |c, t| async move { c.get_prompt(&name, args, t).await }).await?)
        }
    }
}

async fn list_servers(manager: &ProxyManager) -> Value {
    let statuses = manager.statuses().await;
    Value::Array(
        statuses
            .into_iter()
            .map(|s| {
                let tools: Option<Vec<String>> = s.tools.map(|t| t.iter().map(|t| t.name.to_string()).collect());
                json!({
                    "name": s.name,
                    "status": s.status,
                    "tools": tools.unwrap_or_default(),
                    "resources": s.resources,
                    "prompts": s.prompts,
                    "error": s.error,
                })
            })
            .collect(),
    )
}
