//! What `mcpFactory` in the sandbox can ask the proxy manager: each [`HostRequest`] answered
//! with a value or a [`HostError`] (the JSON shapes live in `src/sandbox/host.rs`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::format::unwrap_result;
use super::manager::ProxyManager;
use crate::sandbox::{Host, HostError, HostReply, HostRequest};

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
    fn request(&self, request: HostRequest) -> HostReply {
        let manager = self.manager.clone();
        let task = self.runtime.spawn(async move { handle(&manager, request).await });
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

async fn handle(manager: &ProxyManager, request: HostRequest) -> Result<Value, HostError> {
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
            let result = manager.call(&server, &tool, args).await?;
            Ok(serde_json::to_value(&result).unwrap_or(Value::Null))
        }
        HostRequest::CallTool { server, tool, args } => {
            let result = manager.call(&server, &tool, args).await?;
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
