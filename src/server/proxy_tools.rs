//! `list_mcp_servers` and `get_tools`: what the upstream MCP servers offer to `mcpFactory`.

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool};
use rmcp::{ErrorData, tool, tool_router};
use serde::{Deserialize, Serialize};

use super::{Conductor, parse_arguments, schema, with_structured};
use crate::proxy::config::ServerSpec;
use crate::proxy::format::signature;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetToolsParams {
    /// Upstream server name, as listed by `list_mcp_servers`.
    pub server: String,
    /// Only these tools (default: all).
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// `json` (default): the schemas. `typescript`: TypeScript declarations of the tools' inputs, outputs and the methods of `await mcpFactory.load(server)`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Typescript,
}

/// `structuredContent` of `list_mcp_servers`.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerList {
    pub servers: Vec<ServerEntry>,
    /// The upstream config file read, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_file: Option<String>,
    /// Why the config file is unusable, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_error: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerEntry {
    pub name: String,
    /// connected | not connected | failed
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Number of tools, once connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_count: Option<usize>,
    /// Number of resources (`listResources()`), once connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_count: Option<usize>,
    /// Number of prompts (`listPrompts()`), once connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_count: Option<usize>,
    /// One signature line per tool.
    pub tools: Vec<String>,
    /// stdio | http | sse (absent when the entry is invalid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `structuredContent` of `get_tools`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct ToolList {
    pub server: String,
    pub tools: Vec<ToolView>,
    /// With `format: "typescript"`: the declarations (also the text content).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typescript: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolView {
    pub name: String,
    pub signature: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub input_schema: JsonObject,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<JsonObject>,
}

fn entry(name: &str, status: &str, error: Option<String>, tools: Option<&[Tool]>, spec: Option<&ServerSpec>) -> ServerEntry {
    let mut entry = ServerEntry {
        name: name.to_string(),
        status: status.to_string(),
        error,
        tool_count: tools.map(<[Tool]>::len),
        resource_count: None,
        prompt_count: None,
        tools: tools.unwrap_or_default().iter().map(signature).collect(),
        transport: None,
        command: None,
        args: None,
        url: None,
    };
    match spec {
        Some(ServerSpec::Stdio { command, args, .. }) => {
            entry.transport = Some("stdio".into());
            entry.command = Some(command.clone());
            entry.args = Some(args.clone());
        }
        Some(ServerSpec::Http { url, .. }) => {
            entry.transport = Some("http".into());
            entry.url = Some(url.clone());
        }
        Some(ServerSpec::Sse { url, .. }) => {
            entry.transport = Some("sse".into());
            entry.url = Some(url.clone());
        }
        None => {}
    }
    entry
}

#[tool_router(router = proxy_router, vis = "pub(super)")]
impl Conductor {
    #[tool(
        name = "list_mcp_servers",
        description = "List the upstream MCP servers that code can use through `mcpFactory`: each \
            server's status (connected | not connected | failed), error, and one signature line per \
            tool. Connects to servers not yet connected. Use get_tools for full schemas, or \
            get_tools with format \"typescript\" for TypeScript declarations to write code against.",
        output_schema = schema::output::<ServerList>()
    )]
    async fn list_mcp_servers(&self) -> Result<CallToolResult, ErrorData> {
        let statuses = self.proxy.statuses().await;
        let view = self.proxy.config_view();
        let mut text = String::new();
        let mut servers = Vec::new();
        for s in &statuses {
            let tools = s.tools.as_deref().map(Vec::as_slice);
            let mut entry = entry(&s.name, s.status, s.error.clone(), tools, s.spec.as_ref().ok());
            entry.resource_count = s.resources;
            entry.prompt_count = s.prompts;
            text.push_str(&format!("{}: {}", s.name, s.status));
            let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            match (&s.error, entry.tool_count) {
                (Some(error), _) => text.push_str(&format!(" - {error}\n")),
                (None, Some(n)) => {
                    text.push_str(&format!(", {}", plural(n, "tool")));
                    for (count, what) in [(s.resources, "resource"), (s.prompts, "prompt")] {
                        if let Some(count) = count.filter(|c| *c > 0) {
                            text.push_str(&format!(", {}", plural(count, what)));
                        }
                    }
                    text.push('\n');
                }
                (None, None) => text.push('\n'),
            }
            for line in &entry.tools {
                text.push_str(&format!("  {line}\n"));
            }
            servers.push(entry);
        }
        if statuses.is_empty() {
            text.push_str(&format!("No upstream MCP servers configured (looked at {}).\n", view.described));
        }
        if let Some(error) = &view.file_error {
            text.push_str(&format!("The config file is unusable: {error}\n"));
        }
        text.push_str(
            "Use from code: const s = await mcpFactory.load(\"<name>\"); await s.<tool>({...}) (or s.callTool(\"<tool>\", {...})); \
             get_tools {server, format: \"typescript\"} declares the types",
        );
        let list = ServerList { servers, config_file: view.path.map(|p| p.display().to_string()), config_error: view.file_error };
        Ok(with_structured(text, &list))
    }

    #[tool(
        name = "get_tools",
        description = "Full description, input schema and output schema of tools of one upstream MCP \
            server (all of them, or those named in `tools`), to call them from code with \
            `(await mcpFactory.load(server)).callTool(name, args)`, or as methods: \
            `(await mcpFactory.load(server)).tool_name(args)`. `format: \"typescript\"` returns \
            TypeScript declarations of the inputs, outputs and methods instead: ask for them before \
            writing code against a server.",
        input_schema = schema::input::<GetToolsParams>(),
        output_schema = schema::output::<ToolList>()
    )]
    async fn get_tools(&self, arguments: JsonObject) -> Result<CallToolResult, ErrorData> {
        let params: GetToolsParams = parse_arguments("get_tools", arguments)?;
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
        let typescript = (params.format == Format::Typescript)
            .then(|| crate::proxy::typescript::declarations(&params.server, &selected));
        let tools = selected
            .iter()
            .map(|t| ToolView {
                name: t.name.to_string(),
                signature: signature(t),
                description: t.description.as_ref().map(|d| d.to_string()),
                input_schema: t.input_schema.as_ref().clone(),
                output_schema: t.output_schema.as_ref().map(|s| s.as_ref().clone()),
            })
            .collect();
        let list = ToolList { server: params.server, tools, typescript };
        let text = match &list.typescript {
            Some(declarations) => declarations.clone(),
            None => serde_json::to_string_pretty(&list).unwrap_or_default(),
        };
        Ok(with_structured(text, &list))
    }
}
