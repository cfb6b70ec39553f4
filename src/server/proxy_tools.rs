//! `list_mcp_servers` and `get_tools`: what the upstream MCP servers offer to `mcpFactory`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Tool};
use rmcp::{ErrorData, tool, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Conductor;
use crate::proxy::config::describe_spec;
use crate::proxy::format::signature;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetToolsParams {
    /// Upstream server name, as listed by `list_mcp_servers`.
    pub server: String,
    /// Only these tools (default: all).
    #[serde(default)]
    pub tools: Option<Vec<String>>,
}

#[tool_router(router = proxy_router, vis = "pub(super)")]
impl Conductor {
    #[tool(
        name = "list_mcp_servers",
        description = "List the upstream MCP servers that code can use through `mcpFactory`: each \
            server's status (connected | not connected | failed), error, and one signature line per \
            tool. Connects to servers not yet connected. Use get_tools for full schemas."
    )]
    async fn list_mcp_servers(&self) -> Result<CallToolResult, ErrorData> {
        let statuses = self.proxy.statuses().await;
        let view = self.proxy.config_view();
        let mut text = String::new();
        let mut servers = Vec::new();
        for s in &statuses {
            let signatures: Vec<String> = s.tools.iter().flat_map(|t| t.iter().map(signature)).collect();
            let count = s.tools.as_ref().map(|t| t.len());
            text.push_str(&format!("{}: {}", s.name, s.status));
            match (&s.error, count) {
                (Some(error), _) => text.push_str(&format!(" - {error}\n")),
                (None, Some(n)) => text.push_str(&format!(", {n} tool{}\n", if n == 1 { "" } else { "s" })),
                (None, None) => text.push('\n'),
            }
            for line in &signatures {
                text.push_str(&format!("  {line}\n"));
            }
            let mut entry = json!({
                "name": s.name,
                "status": s.status,
                "error": s.error,
                "toolCount": count,
                "tools": signatures,
            });
            if let Ok(spec) = &s.spec {
                entry.as_object_mut().unwrap().extend(describe_spec(spec));
            }
            servers.push(entry);
        }
        if statuses.is_empty() {
            text.push_str(&format!("No upstream MCP servers configured (looked at {}).\n", view.described));
        }
        if let Some(error) = &view.file_error {
            text.push_str(&format!("The config file is unusable: {error}\n"));
        }
        text.push_str("Use from code: const s = await mcpFactory.load(\"<name>\"); await s.callTool(\"<tool>\", {...})");
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(json!({
            "servers": servers,
            "configFile": view.path.map(|p| p.display().to_string()),
            "configError": view.file_error,
        }));
        Ok(result)
    }

    #[tool(
        name = "get_tools",
        description = "Full description, input schema and output schema of tools of one upstream MCP \
            server (all of them, or those named in `tools`), to call them from code with \
            `(await mcpFactory.load(server)).callTool(name, args)`."
    )]
    async fn get_tools(&self, Parameters(params): Parameters<GetToolsParams>) -> Result<CallToolResult, ErrorData> {
        let tools = match self.proxy.tools(&params.server).await {
            Ok(tools) => tools,
            Err(error) => return Ok(CallToolResult::error(vec![ContentBlock::text(error)])),
        };
        let selected: Vec<&Tool> = match &params.tools {
            None => tools.iter().collect(),
            Some(names) => {
                let unknown: Vec<&str> =
                    names.iter().filter(|n| !tools.iter().any(|t| t.name == n.as_str())).map(String::as_str).collect();
                if !unknown.is_empty() {
                    let known: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
                    let message = format!(
                        "{} has no tool {}; its tools: {}",
                        params.server,
                        unknown.join(", "),
                        known.join(", ")
                    );
                    return Ok(CallToolResult::error(vec![ContentBlock::text(message)]));
                }
                tools.iter().filter(|t| names.iter().any(|n| t.name == n.as_str())).collect()
            }
        };
        let described: Vec<Value> = selected
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "signature": signature(t),
                    "description": t.description,
                    "inputSchema": t.input_schema,
                    "outputSchema": t.output_schema,
                })
            })
            .collect();
        let structured = json!({ "server": params.server, "tools": described });
        let text = serde_json::to_string_pretty(&structured).unwrap_or_default();
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(structured);
        Ok(result)
    }
}
