//! OpenTelemetry: with the standard OTLP variables set, the server exports a span tree per tool
//! call to a real OTLP/HTTP receiver started here (hyper; the protobuf is decoded with the
//! official opentelemetry-proto types), continues the caller's trace from `_meta`, hands it on to
//! upstream MCP servers, and keeps code, values and the collector's headers out of everything
//! code or the collector can see.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use common::{Server, upstream_entry};
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind, status::StatusCode};
use prost::Message;
use rmcp::model::{CallToolRequestParams, RequestMetaObject};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// What the receiver got: each export's decoded spans, its raw bytes and its headers.
struct Export {
    spans: Vec<Span>,
    raw: Vec<u8>,
    headers: http::HeaderMap,
}

/// An OTLP/HTTP receiver on a free port: `POST /v1/traces` with a protobuf body.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Export>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (sender, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let sender = sender.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let sender = sender.clone();
                    async move {
                        assert_eq!(request.uri().path(), "/v1/traces");
                        assert_eq!(request.headers()["content-type"], "application/x-protobuf");
                        let headers = request.headers().clone();
                        let raw = request.into_body().collect().await.unwrap().to_bytes();
                        let decoded = ExportTraceServiceRequest::decode(raw.clone()).expect("an OTLP trace export");
                        let spans = decoded
                            .resource_spans
                            .into_iter()
                            .flat_map(|r| r.scope_spans)
                            .flat_map(|s| s.spans)
                            .collect();
                        let _ = sender.send(Export { spans, raw: raw.to_vec(), headers });
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (endpoint, received)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<AnyValue> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.clone()).and_then(|v| v.value)
}

fn string_attribute(span: &Span, key: &str) -> Option<String> {
    match attribute(span, key) {
        Some(AnyValue::StringValue(s)) => Some(s),
        _ => None,
    }
}

#[tokio::test]
async fn spans_form_a_tree_continue_the_callers_trace_and_reach_upstream() {
    let (endpoint, mut received) = receiver().await;
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=collector-s3cret"),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("OTEL_SERVICE_NAME", "conductor-under-test"),
    ];
    let s = Server::with_upstreams("allow-env", json!({ "up": upstream_entry() }), &env).await;
    let code = "const up = await mcpFactory.load('up');\n\
                const seen = await up.trace_context({});\n\
                let failed = null;\n\
                try { await up.fail({ text: 'no-such-thing' }); } catch (e) { failed = e.message; }\n\
                ({ seen, failed, headers: Deno.env.get('OTEL_EXPORTER_OTLP_HEADERS') ?? null,\n\
                   leaked: JSON.stringify(Deno.env.toObject()).includes('collector-s3cret') })";
    let mut meta = RequestMetaObject::default();
    meta.0.set_traceparent(format!("00-{TRACE_ID}-{CALLER_SPAN}-01"));
    meta.0.set_tracestate("vendor=opaque");
    let mut params = CallToolRequestParams::new("run_deno_code").with_arguments(
        json!({ "deno_code": code }).as_object().unwrap().clone(),
    );
    params.meta = Some(meta);
    let result = s.client.call_tool(params).await.unwrap();
    let structured = result.structured_content.expect("structuredContent");
    assert_eq!(structured["status"], "success", "{structured}");
    let value = &structured["returnValue"];
    // The collector's headers are gone from the environment code sees, even with allow-env.
    assert_eq!(value["headers"], Value::Null, "{value}");
    assert_eq!(value["leaked"], false, "{value}");
    // Not even in the process's initial environment block: the server re-executed itself without it.
    let environ = std::fs::read(format!("/proc/{}/environ", s.pid)).unwrap();
    assert!(!String::from_utf8_lossy(&environ).contains("collector-s3cret"), "the header is in /proc/<pid>/environ");
    assert!(value["failed"].as_str().unwrap().contains("no-such-thing"), "{value}");
    // The upstream server got the caller's trace, under a span of ours, and its tracestate.
    let upstream_traceparent = value["seen"]["traceparent"].as_str().expect("traceparent reached upstream").to_string();
    assert!(upstream_traceparent.starts_with(&format!("00-{TRACE_ID}-")), "{upstream_traceparent}");
    assert!(!upstream_traceparent.contains(CALLER_SPAN), "upstream should see our span, not the caller's");
    assert_eq!(value["seen"]["tracestate"], "vendor=opaque");

    // Collect spans until the tool call's span (exported last, when the call ends) is in.
    let mut spans: Vec<Span> = Vec::new();
    let mut raw = Vec::new();
    let mut collector_headers = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !spans.iter().any(|s| s.name == "tools/call run_deno_code") {
        let export = tokio::time::timeout_at(deadline, received.recv())
            .await
            .expect("the tool call's span within 20 s")
            .expect("receiver open");
        raw.extend(export.raw);
        collector_headers.push(export.headers);
        spans.extend(export.spans);
    }
    let by_name: HashMap<&str, &Span> = spans.iter().map(|s| (s.name.as_str(), s)).collect();
    let call = by_name["tools/call run_deno_code"];
    let execution = by_name["execution"];
    let traced = by_name["tools/call trace_context"];
    let failed = by_name["tools/call fail"];
    let listed = by_name["tools/list"];
    for span in [call, execution, traced, failed, listed] {
        assert_eq!(hex(&span.trace_id), TRACE_ID, "{} is in the caller's trace", span.name);
    }
    assert_eq!(hex(&call.parent_span_id), CALLER_SPAN, "the call continues the caller's span");
    assert_eq!(call.kind, SpanKind::Server as i32);
    assert_eq!(execution.parent_span_id, call.span_id);
    for upstream in [traced, failed, listed] {
        assert_eq!(upstream.parent_span_id, execution.span_id, "{} hangs below the execution", upstream.name);
        assert_eq!(upstream.kind, SpanKind::Client as i32);
        assert_eq!(string_attribute(upstream, "mcp_conductor.upstream").as_deref(), Some("up"));
    }
    // What upstream received is the span of its call.
    assert_eq!(upstream_traceparent, format!("00-{TRACE_ID}-{}-01", hex(&traced.span_id)));
    assert_eq!(string_attribute(call, "gen_ai.tool.name").as_deref(), Some("run_deno_code"));
    assert_eq!(string_attribute(execution, "mcp_conductor.status").as_deref(), Some("success"));
    assert!(matches!(attribute(execution, "mcp_conductor.execution_ms"), Some(AnyValue::DoubleValue(ms)) if ms > 0.0));
    assert_eq!(string_attribute(failed, "error.type").as_deref(), Some("tool_error"));
    assert_eq!(failed.status.as_ref().map(|s| s.code), Some(StatusCode::Error as i32));
    assert_eq!(traced.status.as_ref().map(|s| s.code).unwrap_or(0), StatusCode::Unset as i32);
    // The resource names the service; the exports carry the collector's header.
    assert!(collector_headers.iter().all(|h| h.get("x-collector-key").is_some_and(|v| v == "collector-s3cret")));
    // Never code or values: neither the source nor the tool's argument is in any export.
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.contains("conductor-under-test"), "service name from OTEL_SERVICE_NAME");
    for secret in ["mcpFactory.load", "no-such-thing", "collector-s3cret"] {
        assert!(!raw.contains(secret), "the export contains {secret:?}");
    }

    // A failing execution marks its spans failed with the error type.
    let r = s.run("throw new Error('boom')").await;
    assert_eq!(r.error_type(), "runtime");
    let mut failed_execution = None;
    while failed_execution.is_none() {
        let export = tokio::time::timeout(Duration::from_secs(20), received.recv()).await.expect("spans").expect("open");
        failed_execution = export.spans.into_iter().find(|s| s.name == "execution");
    }
    let failed_execution = failed_execution.unwrap();
    assert_eq!(string_attribute(&failed_execution, "error.type").as_deref(), Some("runtime"));
    assert_eq!(string_attribute(&failed_execution, "mcp_conductor.status").as_deref(), Some("error"));
}

/// Without the variables nothing is exported, and the caller's trace still reaches upstream.
#[tokio::test]
async fn without_an_endpoint_the_trace_is_still_handed_on() {
    let s = Server::with_upstreams("", json!({ "up": upstream_entry() }), &[]).await;
    let mut meta = RequestMetaObject::default();
    meta.0.set_traceparent(format!("00-{TRACE_ID}-{CALLER_SPAN}-01"));
    let code = "(await (await mcpFactory.load('up')).trace_context({})).traceparent";
    let mut params = CallToolRequestParams::new("run_deno_code").with_arguments(json!({ "deno_code": code }).as_object().unwrap().clone());
    params.meta = Some(meta);
    let result = s.client.call_tool(params).await.unwrap();
    let structured = result.structured_content.unwrap();
    assert_eq!(structured["returnValue"], format!("00-{TRACE_ID}-{CALLER_SPAN}-01"), "{structured}");
    // And a call without a trace sends none.
    let r = s.run("(await (await mcpFactory.load('up')).trace_context({})).traceparent").await;
    assert_eq!(r.value(), &Value::Null);
}

#[test]
fn a_grpc_protocol_is_a_clear_startup_error() {
    let out = std::process::Command::new(common::BIN)
        .arg("stdio")
        .env("HOME", std::env::temp_dir())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && stderr.contains("http/protobuf"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// Over HTTP, a `traceparent` header (no `_meta` one) is the trace the call continues.
#[tokio::test]
async fn an_http_traceparent_header_is_continued() {
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), json!({ "mcpServers": { "up": upstream_entry() } }).to_string()).unwrap();
    let config_path = config.path().display().to_string();
    let server = common::http::HttpServer::start(&[], &[("MCP_CONDUCTOR_MCP_CONFIG", config_path.as_str())]);
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "run_deno_code",
            "arguments": { "deno_code": "(await (await mcpFactory.load('up')).trace_context({})).traceparent" },
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }
    });
    let reply = reqwest::Client::new()
        .post(&server.url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "run_deno_code")
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let data = reply.lines().find_map(|l| l.strip_prefix("data:")).expect("an SSE data line");
    let message: Value = serde_json::from_str(data.trim()).unwrap();
    assert_eq!(
        message["result"]["structuredContent"]["returnValue"],
        format!("00-{TRACE_ID}-{CALLER_SPAN}-01"),
        "{message}"
    );
}
