//! The typed contract between `mcpFactory` in the glue (`hostRequest(method, params)` in
//! `js/conductor.js`) and the server that answers it (`src/proxy/sandbox_api.rs`): one request
//! enum, one reply type. The JSON shapes are decoded and encoded here only.
//!
//! Self-contained (serde): `build.rs` includes this file with `glue.rs` for the startup snapshot.

use std::future::Future;
use std::pin::Pin;

use serde::Deserialize;
use serde_json::{Map, Value};

/// One `mcpFactory` request: the glue's method name is the variant (camelCase), its params the
/// fields.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "camelCase")]
pub enum HostRequest {
    /// `mcpFactory.listServers()`.
    ListServers {},
    /// `mcpFactory.load(server)`: the server's tool names.
    Load { server: String },
    ListTools { server: String },
    /// The tool's result, unwrapped (structuredContent, JSON text or text); a tool error fails.
    CallTool {
        server: String,
        tool: String,
        #[serde(default)]
        args: Map<String, Value>,
    },
    /// The tool's `CallToolResult` as sent, errors included.
    CallToolRaw {
        server: String,
        tool: String,
        #[serde(default)]
        args: Map<String, Value>,
    },
    ListResources { server: String },
    ReadResource { server: String, uri: String },
    ListPrompts { server: String },
    GetPrompt {
        server: String,
        name: String,
        #[serde(default)]
        args: Map<String, Value>,
    },
}

/// Why a request failed: the message the code's `Error` gets, and for a failed tool call the
/// raw result (`err.result`).
#[derive(Debug, Clone, PartialEq)]
pub struct HostError {
    pub message: String,
    pub result: Option<Value>,
}

impl HostError {
    pub fn new(message: impl Into<String>) -> HostError {
        HostError { message: message.into(), result: None }
    }
}

impl From<String> for HostError {
    fn from(message: String) -> HostError {
        HostError::new(message)
    }
}

pub type HostReply = Pin<Box<dyn Future<Output = Result<Value, HostError>> + Send>>;

/// The server side of `mcpFactory`.
pub trait Host: Send + Sync {
    /// `trace`: the execution's W3C `(traceparent, tracestate)` when the call is traced; the
    /// request's work is its child and upstream servers get it in `_meta`.
    fn request(&self, request: HostRequest, trace: Option<(String, Option<String>)>) -> HostReply;
}

impl HostRequest {
    /// The glue's `(method, JSON params)`.
    pub fn decode(method: &str, params: &str) -> Result<HostRequest, HostError> {
        let params: Value = serde_json::from_str(params)
            .map_err(|e| HostError::new(format!("bad mcpFactory request '{method}': {e}")))?;
        let mut envelope = Map::new();
        envelope.insert("method".into(), Value::String(method.into()));
        envelope.insert("params".into(), params);
        serde_json::from_value(Value::Object(envelope))
            .map_err(|e| HostError::new(format!("bad mcpFactory request '{method}': {e}")))
    }
}

/// The glue's reply JSON: `{"value": ...}` or `{"error": "...", "result"?: raw}`.
pub fn encode_reply(reply: Result<Value, HostError>) -> String {
    let mut object = Map::new();
    match reply {
        Ok(value) => {
            object.insert("value".into(), value);
        }
        Err(error) => {
            object.insert("error".into(), Value::String(error.message));
            if let Some(raw) = error.result {
                object.insert("result".into(), raw);
            }
        }
    }
    Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLUE: &str = include_str!("../../js/conductor.js");

/// Every method name the glue may send (the serde names above; a test checks both ways).
const METHODS: [&str; 9] = [
    "listServers",
    "load",
    "listTools",
    "callTool",
    "callToolRaw",
    "listResources",
    "readResource",
    "listPrompts",
    "getPrompt",
];

    fn sample(method: &str) -> &'static str {
        match method {
            "listServers" => "{}",
            "callTool" | "callToolRaw" => r#"{"server":"s","tool":"t","args":{"a":1}}"#,
            "readResource" => r#"{"server":"s","uri":"memo://x"}"#,
            "getPrompt" => r#"{"server":"s","name":"greet"}"#,
            _ => r#"{"server":"s"}"#,
        }
    }

    #[test]
    fn every_method_decodes_into_its_variant() {
        for method in METHODS {
            let request = HostRequest::decode(method, sample(method)).unwrap_or_else(|e| panic!("{method}: {e:?}"));
            let debug = format!("{request:?}").to_lowercase();
            assert!(debug.starts_with(&method.to_lowercase()), "{method} decoded as {debug}");
        }
        assert_eq!(
            HostRequest::decode("callTool", r#"{"server":"s","tool":"t"}"#).unwrap(),
            HostRequest::CallTool { server: "s".into(), tool: "t".into(), args: Map::new() }
        );
    }

    #[test]
    fn the_glue_sends_exactly_the_known_methods() {
        let mut used: Vec<&str> = ["hostRequest(\"", "call(\""]
            .iter()
            .flat_map(|prefix| GLUE.match_indices(prefix).filter_map(|(at, _)| GLUE[at + prefix.len()..].split('"').next()))
            .collect();
        used.sort_unstable();
        used.dedup();
        let mut known = METHODS.to_vec();
        known.sort_unstable();
        assert_eq!(used, known);
    }

    #[test]
    fn unknown_methods_and_bad_params_are_errors_naming_the_method() {
        assert!(HostRequest::decode("deleteEverything", "{}").unwrap_err().message.contains("'deleteEverything'"));
        assert!(HostRequest::decode("load", "{}").unwrap_err().message.contains("server"));
        assert!(HostRequest::decode("load", "not json").unwrap_err().message.contains("'load'"));
    }

    #[test]
    fn replies_have_the_shape_the_glue_reads() {
        assert_eq!(encode_reply(Ok(serde_json::json!([1]))), r#"{"value":[1]}"#);
        let failed = HostError { message: "no".into(), result: Some(serde_json::json!({"isError": true})) };
        assert_eq!(encode_reply(Err(failed)), r#"{"error":"no","result":{"isError":true}}"#);
        assert_eq!(encode_reply(Err(HostError::new("x"))), r#"{"error":"x"}"#);
    }
}
