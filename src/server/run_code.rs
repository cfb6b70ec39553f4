//! `run_deno_code`: the tool that runs code.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use rmcp::handler::server::tool::Extension;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, RequestMetaObject, ResourceContents};
use rmcp::{ErrorData, Peer, RoleServer, tool, tool_router};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::{Conductor, schema};
use crate::sandbox::contract::{GLUE_GLOBALS, SERVER_GLOBALS};
use crate::sandbox::{Attachment, AttachmentKind, ErrorType, ExecRequest, Failure, Outcome, StructuredRunResult};
use crate::state::StateOwner;

/// Globals every execution already has; a call may not replace them.
fn is_injected_global(name: &str) -> bool {
    SERVER_GLOBALS.contains(&name) || GLUE_GLOBALS.contains(&name)
}

const RUN_DENO_CODE: &str = "\
Run TypeScript or JavaScript in a fresh Deno sandbox (an ES module: top-level await, imports of \
data: URLs, and of remote URLs or files when permitted). The value of the last expression \
statement (or of a top-level `return`) is the result, awaited and converted to JSON \
(BigInt -> \"10n\", functions -> \"[Function: f]\", cycles -> \"[Circular]\", Map -> object, Set -> array). \
console output is captured in order. Globals: WORKSPACE_DIR (the cwd), ROOT_DIR, PLAYBOOKS_DIR, \
PERMISSIONS (the sandbox's fixed Deno flags), EGRESS (the egress policy's rules, or null), plus any `globals` passed here. `mcpFactory` calls \
tools of the upstream MCP servers listed by `list_mcp_servers`: \
`const s = await mcpFactory.load(\"name\"); await s.tool_name({..})` (or `s.callTool(\"tool\", {..})`) returns \
the tool's result (structuredContent or parsed JSON text) and throws when the tool fails; \
`get_tools` with `format: \"typescript\"` gives typed declarations of a server's tools: ask for them first. \
Imports: `node:` built-ins, and npm packages the administrator installed (`npm:name`, bare `name`). \
`await importPlaybook(\"folder\")` returns a saved playbook's exports (see `list_playbooks`). \
`progress(current, total?, message?)` sends MCP progress notifications while the code runs (when the call has a progressToken). \
State between calls: pass `state: \"new\"` and the result has a `stateHandle`; pass it back as `state` in later calls, \
whose code keeps JSON values with `await state.set(key, value)`, `await state.get(key)`, `state.delete(key)`, `state.keys()` \
(nothing else survives a call; a handle expires when unused for a while). \
`mcp.image(data, mimeType)`, `mcp.audio(data, mimeType)` (Uint8Array, ArrayBuffer or base64) and `mcp.file(path, mimeType?)` add \
image, audio and embedded-file content to this tool's result. Permissions are set \
by the administrator and cannot be changed by code; when an egress policy is set, `fetch` to an API it covers gets \
the credentials added by the server (send none) and a request outside it throws NotCapable naming the rule. Result: {status, output, returnValue | error, \
errorType (syntax|runtime|timeout|permission|exit|memory|limit|state), executionTime}; `truncated` when \
output exceeded the cap, `returnValueFile` when a large result was written to a file on the server (out of code's reach).";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RunDenoCodeParams {
    /// TypeScript or JavaScript source to run.
    pub deno_code: String,
    /// Timeout in milliseconds (1 to the server's maximum). Defaults to the server's default.
    #[serde(default)]
    pub timeout: Option<i64>,
    /// Extra global variables for this execution: each key (a JavaScript identifier) becomes a
    /// global holding the JSON value.
    #[serde(default)]
    pub globals: Option<Map<String, Value>>,
    /// State kept between calls: "new" for a new state handle, or the `stateHandle` an earlier
    /// result returned. The code then reads and writes JSON values with `await state.get(key)`,
    /// `state.set(key, value)`, `state.delete(key)` and `state.keys()`.
    #[serde(default)]
    pub state: Option<String>,
}

#[tool_router(router = run_code_router, vis = "pub(super)")]
impl Conductor {
    #[tool(
        name = "run_deno_code",
        description = RUN_DENO_CODE,
        input_schema = schema::input::<RunDenoCodeParams>(),
        output_schema = schema::output::<StructuredRunResult>()
    )]
    async fn run_deno_code(
        &self,
        arguments: JsonObject,
        cancel: CancellationToken,
        peer: Peer<RoleServer>,
        meta: RequestMetaObject,
        Extension(call_trace): Extension<super::CallTrace>,
        extensions: rmcp::model::Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        // Deserialized here (not through rmcp's `Parameters`, which turns bad input into a tool
        // result) so that invalid input is an invalid-params error, like every other check below.
        let params: RunDenoCodeParams = serde_json::from_value(Value::Object(arguments))
            .map_err(|e| ErrorData::invalid_params(format!("run_deno_code: invalid arguments: {e}"), None))?;
        let timeout = self.timeout(params.timeout)?;
        let globals = params.globals.unwrap_or_default();
        for key in globals.keys() {
            validate_global_name(key).map_err(|e| ErrorData::invalid_params(e, None))?;
        }
        let code_bytes = params.deno_code.len();
        // Put in by `call_tool` with the call's trace.
        let owner = extensions
            .get::<StateOwner>()
            .cloned()
            .ok_or_else(|| ErrorData::internal_error("run_deno_code: the caller is not known", None))?;
        let (state_handle, state) = match params.state.as_deref() {
            None => (None, None),
            Some(requested) => {
                let opened = if crate::state::is_new(requested) {
                    self.state.mint(&owner)
                } else {
                    self.state.open(requested, &owner).map(|slot| (requested.to_string(), slot))
                };
                match opened {
                    Ok((handle, slot)) => (Some(handle), Some(slot)),
                    // A tool error (the model can act on it), not a protocol error.
                    Err(message) => return Ok(tool_result(&Outcome::failed(Failure::new(ErrorType::State, message)))),
                }
            }
        };
        // Until the result is returned: a drain must not end the session while the last
        // notifications are still being sent.
        let _in_flight = self.sandbox.hold();
        let forwarder = meta.get_progress_token().map(|token| super::progress::Forwarder::start(peer.clone(), token));
        let progress = match extensions.get::<super::tasks::TaskStatus>() {
            Some(task) => Some(task.progress_sink()),
            None => forwarder.as_ref().map(super::progress::Forwarder::sink),
        };
        let log_level = self.log_level.for_request(&meta);
        let log_forwarder = log_level.map(|_| super::logging::Forwarder::start(peer));
        let lines = log_forwarder.as_ref().zip(log_level).map(|(f, level)| f.sink(level));
        let client = self.client.clone();
        // The execution's span: `mcpFactory` requests are its children.
        let span = crate::telemetry::start("execution".into(), SpanKind::Internal, &call_trace.0, Vec::new());
        let trace = crate::telemetry::headers_of(&span);
        let request = ExecRequest { code: params.deno_code, timeout, globals, progress, lines, client, trace, state };
        let outcome = self.sandbox.execute(request, cancel).await;
        let outcome = Outcome { state_handle, ..outcome };
        end_execution_span(&span, &outcome);
        if let Some(forwarder) = forwarder {
            forwarder.finish().await;
        }
        if let Some(forwarder) = log_forwarder {
            forwarder.finish().await;
        }
        self.metrics.execution(&outcome);
        // Never the code or its globals: their size only.
        tracing::info!(
            target: "mcp_conductor::tools",
            tool = "run_deno_code",
            status = if outcome.is_error() { "error" } else { "success" },
            error_type = outcome.result.as_ref().err().map(|f| f.error_type.name()),
            ms = outcome.execution_time_ms,
            code_bytes,
            "execution"
        );
        Ok(tool_result(&outcome))
    }

    fn timeout(&self, requested: Option<i64>) -> Result<Duration, ErrorData> {
        let max = self.max_timeout.as_millis() as i64;
        match requested {
            None => Ok(self.default_timeout),
            Some(ms) if (1..=max).contains(&ms) => Ok(Duration::from_millis(ms as u64)),
            Some(ms) => Err(ErrorData::invalid_params(
                format!("timeout must be between 1 and {max} ms (MCP_CONDUCTOR_MAX_TIMEOUT), got {ms}"),
                None,
            )),
        }
    }
}

/// How the execution went, as span attributes: status, error type and times; never code or values.
fn end_execution_span(span: &opentelemetry::Context, outcome: &Outcome) {
    let mut attributes = vec![
        KeyValue::new("mcp_conductor.status", if outcome.is_error() { "error" } else { "success" }),
        KeyValue::new("mcp_conductor.execution_ms", outcome.execution_time_ms),
        KeyValue::new("mcp_conductor.queue_ms", outcome.queue_ms),
    ];
    if let Some(usage) = &outcome.usage {
        attributes.push(KeyValue::new("mcp_conductor.cpu_ms", usage.cpu_time_ms));
        attributes.push(KeyValue::new("mcp_conductor.peak_memory_bytes", usage.peak_memory as i64));
    }
    let error = outcome.result.as_ref().err().map(|f| f.error_type.name());
    crate::telemetry::end(span, error.as_deref(), attributes);
}

/// Text item: the original product's JSON. `structuredContent`: the same plus raw streams.
fn tool_result(outcome: &Outcome) -> CallToolResult {
    let structured = outcome.to_structured();
    let text = serde_json::to_string(&structured.result).expect("a result serializes");
    let mut content = vec![ContentBlock::text(text)];
    content.extend(outcome.attachments.iter().map(attachment_content));
    let mut result = if outcome.is_error() { CallToolResult::error(content) } else { CallToolResult::success(content) };
    result.structured_content = Some(serde_json::to_value(&structured).expect("a result serializes"));
    result
}

/// An `ImageContent`, `AudioContent` or `EmbeddedResource` (text for text/* and JSON types, a
/// base64 blob otherwise).
fn attachment_content(attachment: &Attachment) -> ContentBlock {
    use base64::Engine;
    let base64 = || base64::engine::general_purpose::STANDARD.encode(&attachment.data);
    let mime = attachment.mime_type.as_str();
    match &attachment.kind {
        AttachmentKind::Image => ContentBlock::image(base64(), mime),
        AttachmentKind::Audio => ContentBlock::audio(base64(), mime),
        AttachmentKind::Resource(uri) => {
            let textual = mime.starts_with("text/") || mime == "application/json" || mime.ends_with("+json");
            let contents = match std::str::from_utf8(&attachment.data) {
                Ok(text) if textual => ResourceContents::text(text, uri.as_str()),
                _ => ResourceContents::blob(base64(), uri.as_str()),
            };
            ContentBlock::resource(contents.with_mime_type(mime))
        }
    }
}

/// JavaScript reserved words and the global values that cannot be redefined.
const NOT_ALLOWED: &[&str] = &[
    "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete",
    "do", "else", "enum", "export", "extends", "false", "finally", "for", "function", "if",
    "implements", "import", "in", "instanceof", "interface", "let", "new", "null", "package",
    "private", "protected", "public", "return", "static", "super", "switch", "this", "throw", "true",
    "try", "typeof", "var", "void", "while", "with", "yield", "undefined", "NaN", "Infinity",
    "globalThis",
];

pub fn validate_global_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$');
    let valid_rest = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if !valid_start || !valid_rest {
        return Err(format!(
            "globals: '{name}' is not a valid JavaScript identifier (letters, digits, _ and $; not starting with a digit)"
        ));
    }
    if NOT_ALLOWED.contains(&name) {
        return Err(format!("globals: '{name}' is a reserved word or a non-replaceable global"));
    }
    if is_injected_global(name) {
        return Err(format!("globals: '{name}' is set by the server and cannot be replaced"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_global_name;

    #[test]
    fn global_names() {
        assert!(validate_global_name("apiKey").is_ok());
        assert!(validate_global_name("_x$1").is_ok());
        assert!(validate_global_name("1abc").is_err());
        assert!(validate_global_name("a-b").is_err());
        assert!(validate_global_name("").is_err());
        assert!(validate_global_name("class").is_err());
        assert!(validate_global_name("undefined").is_err());
        assert!(validate_global_name("WORKSPACE_DIR").is_err());
    }
}
