//! What `mcpFactory` in the sandbox can ask the proxy manager (see `js/conductor.js`).
//! Requests and replies are JSON text: `{"value": ...}` or `{"error": "...", "result"?: raw}`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::format::unwrap_result;
use super::manager::ProxyManager;
use crate::sandbox::{Host, HostReply};

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
    fn request(&self, method: &str, params: &str) -> HostReply {
        let manager = self.manager.clone();
        let (method, params) = (method.to_string(), params.to_string());
        let task = self.runtime.spawn(async move { handle(&manager, &method, &params).await });
        let abort = task.abort_handle();
        Box::pin(async move {
            let _abort_on_drop = AbortOnDrop(abort);
            match task.await {
                Ok(reply) => reply,
                Err(e) => error_reply(format!("the MCP proxy failed: {e}"), None),
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

#[derive(Deserialize)]
struct Params {
    #[serde(default)]
    server: String,
    #[serde(default)]
    tool: String,
    #[serde(default)]
    args: Option<Map<String, Value>>,
    /// `readResource`'s URI, `getPrompt`'s name.
    #[serde(default)]
    uri: String,
    #[serde(default)]
    name: String,
}

async fn handle(manager: &ProxyManager, method: &str, params: &str) -> String {
    let params: Params = match serde_json::from_str(params) {
        Ok(p) => p,
        Err(e) => return error_reply(format!("bad request from the glue: {e}"), None),
    };
    let (server, tool) = (params.server.as_str(), params.tool.as_str());
    let result = match method {
        "listServers" => Ok(list_servers(manager).await),
        "load" => manager.tools(server).await.map(|tools| {
            json!({ "name": server, "tools": tools.iter().map(|t| t.name.to_string()).collect::<Vec<_>>() })
        }),
        "listTools" => manager.tools(server).await.map(|tools| {
            Value::Array(tools.iter().map(|t| {
                json!({
                    "name": t.name,
                    "description": t.description,
                    "inputSchema": t.input_schema,
                    "outputSchema": t.output_schema,
                })
            }).collect())
        }),
        "callTool" | "callToolRaw" => {
            match manager.call(server, tool, params.args.unwrap_or_default()).await {
                Ok(result) => {
                    let raw = serde_json::to_value(&result).unwrap_or(Value::Null);
                    if method == "callToolRaw" {
                        Ok(raw)
                    } else {
                        match unwrap_result(&result) {
                            Ok(value) => Ok(value),
                            Err(message) => return error_reply(format!("{server}.{tool} failed: {message}"), Some(raw)),
                        }
                    }
                }
                Err(e) => Err(e),
            }
        }
        "listResources" => manager.on(server, |c, t| async move { c.resources(t).await }).await,
        "readResource" => {
            let uri = params.uri.clone();
            manager.on(server, |c, t| async move { c.read_resource(&uri, t).await }).await
        }
        "listPrompts" => manager.on(server, |c, t| async move { c.prompts(t).await }).await,
        "getPrompt" => {
            let (name, args) = (params.name.clone(), params.args.clone().unwrap_or_default());
            manager.on(server, |c, t| async move { c.get_prompt(&name, args, t).await }).await
        }
        other => Err(format!("unknown mcpFactory request '{other}'")),
    };
    match result {
        Ok(value) => json!({ "value": value }).to_string(),
        Err(message) => error_reply(message, None),
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

fn error_reply(message: String, raw: Option<Value>) -> String {
    let mut reply = json!({ "error": message });
    if let Some(raw) = raw {
        reply["result"] = raw;
    }
    reply.to_string()
}
