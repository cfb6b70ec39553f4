//! The result of one execution and its JSON form (the original product's shape, plus `isError`
//! semantics and separate streams in `structuredContent`).

use serde::Serialize;
use serde_json::Value;

use super::call_trace::{CallEnd, CallKind, CallRecord, Omitted};
use super::glue::{Attachment, AttachmentKind};
use super::output::Captured;
use super::usage::Usage;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErrorType {
    Syntax,
    Runtime,
    Timeout,
    Permission,
    Exit,
    Memory,
    /// A cap other than memory and time (`MCP_CONDUCTOR_MAX_CONTENT_BYTES`).
    Limit,
    /// The call's state handle is unknown, expired or another client's, or no new one can be
    /// made; no code ran.
    State,
}

impl ErrorType {
    /// The name results carry (`errorType`), from the same serde attributes.
    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub error_type: ErrorType,
    pub message: String,
}

/// The longest error text a result carries (message and stack): a thrown 100 MB message must
/// not become a 100 MB response. Longer text keeps its start and says how much was cut.
pub const MAX_ERROR_BYTES: usize = 64 << 10;

impl Failure {
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> Self {
        let mut message = message.into();
        cap_error_text(&mut message);
        Self { error_type, message }
    }
}

/// Cuts `text` to [`MAX_ERROR_BYTES`] (on a character boundary) with a note of the cut.
pub fn cap_error_text(text: &mut String) {
    if text.len() <= MAX_ERROR_BYTES {
        return;
    }
    let total = text.len();
    let mut end = MAX_ERROR_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("… [error text truncated: {total} bytes, the first {end} shown]"));
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub captured: Captured,
    /// The return value (already JSON-safe) or why there is none.
    pub result: Result<Value, Failure>,
    /// Set when the code called `Deno.exit()`.
    pub exit_code: Option<i32>,
    /// Where a return value too large to send inline was written: (path, bytes).
    pub return_file: Option<(String, usize)>,
    /// Images, audio and files for the tool result, after the JSON text item.
    pub attachments: Vec<Attachment>,
    /// The `mcpFactory` requests for upstream data, in order (`call_trace.rs`), and how many
    /// more were left out.
    pub calls: Vec<CallRecord>,
    pub calls_omitted: Omitted,
    /// The state handle the call used or got (`src/state/`).
    pub state_handle: Option<String>,
    /// The job's resources, when code ran.
    pub usage: Option<Usage>,
    /// Time spent waiting for a free execution slot (`MCP_CONDUCTOR_MAX_CONCURRENCY`).
    pub queue_ms: f64,
    pub execution_time_ms: f64,
}

impl Outcome {
    /// An execution that ended without running code to completion.
    pub fn failed(failure: Failure) -> Outcome {
        Outcome::new(Captured::default(), Err(failure))
    }

    /// What the code printed and its result; nothing attached, no timing yet.
    pub fn new(captured: Captured, result: Result<Value, Failure>) -> Outcome {
        Outcome {
            captured,
            result,
            exit_code: None,
            return_file: None,
            attachments: Vec::new(),
            calls: Vec::new(),
            calls_omitted: Omitted::default(),
            state_handle: None,
            usage: None,
            queue_ms: 0.0,
            execution_time_ms: 0.0,
        }
    }

    /// The supervisor's timing: time waiting for a slot, and the whole call.
    pub fn timed(self, queued: std::time::Duration, total: std::time::Duration) -> Outcome {
        Outcome { queue_ms: queued.as_secs_f64() * 1000.0, execution_time_ms: total.as_secs_f64() * 1000.0, ..self }
    }

    pub fn is_error(&self) -> bool {
        self.result.is_err()
    }

    /// The result as sent: the text item is `result`, `structuredContent` adds the streams.
    pub fn to_result(&self) -> RunResult {
        let round = |ms: f64| (ms * 100.0).round() / 100.0;
        let (return_value, error, error_type) = match &self.result {
            Ok(value) => (Some(value.clone()), None, None),
            Err(failure) => (None, Some(failure.message.clone()), Some(failure.error_type)),
        };
        RunResult {
            status: if self.is_error() { Status::Error } else { Status::Success },
            output: self.captured.output.clone(),
            truncated: self.captured.truncated,
            return_value,
            error,
            error_type,
            return_value_file: self.return_file.as_ref().map(|(path, bytes)| ReturnValueFile { path: path.clone(), bytes: *bytes as u64 }),
            exit_code: self.exit_code,
            attachments: self
                .attachments
                .iter()
                .map(|a| AttachmentView {
                    kind: match a.kind {
                        AttachmentKind::Image => "image",
                        AttachmentKind::Audio => "audio",
                        AttachmentKind::Resource(_) => "resource",
                    },
                    mime_type: a.mime_type.clone(),
                    uri: match &a.kind {
                        AttachmentKind::Resource(uri) => Some(uri.clone()),
                        _ => None,
                    },
                    bytes: a.data.len() as u64,
                })
                .collect(),
            calls: self
                .calls
                .iter()
                .map(|call| CallView {
                    kind: kind_name(call.kind),
                    server: call.server.clone(),
                    name: call.name.clone(),
                    status: match call.end {
                        CallEnd::Ok => "ok",
                        CallEnd::Error(_) => "error",
                        CallEnd::Unfinished => "unfinished",
                    },
                    duration: round(call.duration.as_secs_f64() * 1000.0),
                    error: match &call.end {
                        CallEnd::Error(message) => Some(message.clone()),
                        _ => None,
                    },
                })
                .collect(),
            calls_omitted: self
                .calls_omitted
                .by_name
                .iter()
                .map(|o| OmittedView {
                    kind: kind_name(o.kind),
                    server: o.server.clone(),
                    name: o.name.clone(),
                    count: o.count,
                    errors: o.errors,
                })
                .collect(),
            calls_omitted_others: (self.calls_omitted.others > 0).then_some(self.calls_omitted.others),
            state_handle: self.state_handle.clone(),
            queue_time: (self.queue_ms > 0.0).then(|| round(self.queue_ms)),
            execution_time: round(self.execution_time_ms),
            usage: self.usage.map(|u| UsageView {
                cpu_time: round(u.cpu_time_ms),
                peak_memory: u.peak_memory,
                wall_time: round(u.wall_time_ms),
            }),
        }
    }

    pub fn to_structured(&self) -> StructuredRunResult {
        StructuredRunResult {
            result: self.to_result(),
            stdout: self.captured.stdout.clone(),
            stderr: self.captured.stderr.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    Error,
}

/// A `run_deno_code` result: the JSON of its text item (the original product's shape). Its
/// serialization is its `outputSchema` (see `server/schema.rs`): fields that do not apply are
/// absent. Field order is key order.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    pub status: Status,
    /// Lines printed to stdout and stderr, in order.
    pub output: Vec<String>,
    /// Present (true) when output beyond `MCP_CONDUCTOR_MAX_OUTPUT_BYTES` was dropped.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The value of the last expression statement (or top-level `return`), JSON-safe; status
    /// "success" only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_value: Option<Value>,
    /// Error message; status "error" only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Kind of error; status "error" only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<ErrorType>,
    /// Where a return value above `MCP_CONDUCTOR_MAX_RETURN_BYTES` was written instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_value_file: Option<ReturnValueFile>,
    /// The code passed to `Deno.exit()` / `process.exit()`, when it called it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The content items `mcp.image()`, `mcp.audio()` and `mcp.file()` added after this one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentView>,
    /// The `mcpFactory` tool calls, resource reads and prompts the code made, in order (at most
    /// 100).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<CallView>,
    /// The requests past the first 100, summed up per server and name (at most 100 of those).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls_omitted: Vec<OmittedView>,
    /// How many requests are past those too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_omitted_others: Option<usize>,
    /// The state handle this call used or was given (`"state"` of the call): pass it back as
    /// `state` to keep the values its code stored with `state.set`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_handle: Option<String>,
    /// Milliseconds spent waiting for a free slot (`MCP_CONDUCTOR_MAX_CONCURRENCY`), when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_time: Option<f64>,
    /// Wall time of the execution in milliseconds.
    pub execution_time: f64,
    /// What the job used, when code ran (not for calls that timed out in the queue, were
    /// cancelled before running, or did not parse).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageView>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    /// CPU milliseconds of the execution's thread during the job.
    pub cpu_time: f64,
    /// Peak bytes the execution held during the job: its JS heap in use plus its ArrayBuffer and
    /// WebAssembly memory, sampled every few milliseconds and at the end.
    pub peak_memory: u64,
    /// Wall milliseconds of the job (`executionTime` also counts the worker hand-off).
    pub wall_time: f64,
}

/// `structuredContent` of a `run_deno_code` result: the text item's JSON plus the raw streams.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct StructuredRunResult {
    #[serde(flatten)]
    pub result: RunResult,
    /// Raw captured stdout.
    pub stdout: String,
    /// Raw captured stderr.
    pub stderr: String,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    /// image | audio | resource
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mime_type: String,
    /// The embedded file's `file://` URI (resources only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    pub bytes: u64,
}

/// One `mcpFactory` request for upstream data.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct CallView {
    /// tool | resource | prompt
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The upstream server's name.
    pub server: String,
    /// The tool, the resource URI or the prompt name.
    pub name: String,
    /// ok | error | unfinished (still pending when the execution ended)
    pub status: &'static str,
    /// Milliseconds from the request to its answer (or to the end of the execution).
    pub duration: f64,
    /// Why it failed (status "error").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `mcpFactory` requests of one kind, server and name that `calls` does not list.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct OmittedView {
    /// tool | resource | prompt
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub server: String,
    pub name: String,
    /// How many were made.
    pub count: usize,
    /// How many of them failed.
    pub errors: usize,
}

fn kind_name(kind: CallKind) -> &'static str {
    match kind {
        CallKind::Tool => "tool",
        CallKind::Resource => "resource",
        CallKind::Prompt => "prompt",
    }
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ReturnValueFile {
    pub path: String,
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(result: Result<Value, Failure>) -> Outcome {
        let captured = Captured { output: vec!["hi".into()], stdout: "hi\n".into(), stderr: String::new(), truncated: false };
        Outcome { execution_time_ms: 0.916, ..Outcome::new(captured, result) }
    }

    #[test]
    fn success_key_order() {
        let text = serde_json::to_string(&outcome(Ok(2.into())).to_result()).unwrap();
        assert_eq!(text, r#"{"status":"success","output":["hi"],"returnValue":2,"executionTime":0.92}"#);
    }

    #[test]
    fn error_key_order_and_streams() {
        let o = outcome(Err(Failure::new(ErrorType::Timeout, "late")));
        assert_eq!(
            serde_json::to_string(&o.to_structured()).unwrap(),
            r#"{"status":"error","output":["hi"],"error":"late","errorType":"timeout","executionTime":0.92,"stdout":"hi\n","stderr":""}"#
        );
    }
}
