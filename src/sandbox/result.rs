//! The result of one execution and its JSON form (the original product's shape, plus `isError`
//! semantics and separate streams in `structuredContent`).

use serde::Serialize;
use serde_json::{Map, Value};

use super::output::Captured;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErrorType {
    Syntax,
    Runtime,
    Timeout,
    Permission,
    Exit,
    Memory,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub error_type: ErrorType,
    pub message: String,
}

impl Failure {
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self { error_type, message: message.into() }
    }
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
    /// Time spent waiting for a free execution slot (`MCP_CONDUCTOR_MAX_CONCURRENCY`).
    pub queue_ms: f64,
    pub execution_time_ms: f64,
}

impl Outcome {
    pub fn is_error(&self) -> bool {
        self.result.is_err()
    }

    /// Key order: status, output, returnValue | error, errorType, [exitCode], executionTime,
    /// then (structured form only) stdout, stderr.
    pub fn to_json(&self, with_streams: bool) -> Value {
        let mut obj = Map::new();
        let status = if self.is_error() { "error" } else { "success" };
        obj.insert("status".into(), status.into());
        obj.insert("output".into(), self.captured.output.clone().into());
        if self.captured.truncated {
            obj.insert("truncated".into(), true.into());
        }
        match &self.result {
            Ok(value) => {
                obj.insert("returnValue".into(), value.clone());
            }
            Err(failure) => {
                obj.insert("error".into(), failure.message.clone().into());
                obj.insert("errorType".into(), serde_json::to_value(failure.error_type).expect("enum"));
            }
        }
        if let Some((path, bytes)) = &self.return_file {
            obj.insert("returnValueFile".into(), serde_json::json!({ "path": path, "bytes": bytes }));
        }
        if let Some(code) = self.exit_code {
            obj.insert("exitCode".into(), code.into());
        }
        let round = |ms: f64| (ms * 100.0).round() / 100.0;
        if self.queue_ms > 0.0 {
            obj.insert("queueTime".into(), round(self.queue_ms).into());
        }
        obj.insert("executionTime".into(), round(self.execution_time_ms).into());
        if with_streams {
            obj.insert("stdout".into(), self.captured.stdout.clone().into());
            obj.insert("stderr".into(), self.captured.stderr.clone().into());
        }
        Value::Object(obj)
    }
}

/// The declared `outputSchema` of `run_deno_code` (documentation only; never instantiated).
#[allow(dead_code)]
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunResultSchema {
    /// "success" or "error".
    pub status: String,
    /// Lines printed to stdout and stderr, in order.
    pub output: Vec<String>,
    /// The value of the last expression statement (or top-level `return`), JSON-safe.
    pub return_value: Option<Value>,
    /// Error message (status "error" only).
    pub error: Option<String>,
    pub error_type: Option<ErrorType>,
    /// Present (true) when output beyond `MCP_CONDUCTOR_MAX_OUTPUT_BYTES` was dropped.
    pub truncated: Option<bool>,
    /// Where a return value above `MCP_CONDUCTOR_MAX_RETURN_BYTES` was written instead.
    pub return_value_file: Option<ReturnValueFile>,
    /// The code passed to `Deno.exit()`, when it called it.
    pub exit_code: Option<i32>,
    /// Milliseconds spent waiting for a free slot (`MCP_CONDUCTOR_MAX_CONCURRENCY`), when any.
    pub queue_time: Option<f64>,
    /// Wall time of the execution in milliseconds.
    pub execution_time: f64,
    /// Raw captured stdout.
    pub stdout: String,
    /// Raw captured stderr.
    pub stderr: String,
}

#[allow(dead_code)]
#[derive(schemars::JsonSchema)]
pub struct ReturnValueFile {
    pub path: String,
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(result: Result<Value, Failure>) -> Outcome {
        Outcome {
            captured: Captured { output: vec!["hi".into()], stdout: "hi\n".into(), stderr: String::new(), truncated: false },
            result,
            exit_code: None,
            return_file: None,
            queue_ms: 0.0,
            execution_time_ms: 0.916,
        }
    }

    #[test]
    fn success_key_order() {
        let text = outcome(Ok(2.into())).to_json(false).to_string();
        assert_eq!(text, r#"{"status":"success","output":["hi"],"returnValue":2,"executionTime":0.92}"#);
    }

    #[test]
    fn error_key_order_and_streams() {
        let o = outcome(Err(Failure::new(ErrorType::Timeout, "late")));
        assert_eq!(
            o.to_json(true).to_string(),
            r#"{"status":"error","output":["hi"],"error":"late","errorType":"timeout","executionTime":0.92,"stdout":"hi\n","stderr":""}"#
        );
    }
}
