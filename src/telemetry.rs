//! OpenTelemetry traces, off unless an OTLP endpoint is configured with the standard variables
//! (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; OTLP over HTTP,
//! protobuf or JSON). One span per tool call (kind server), the execution as its child, and each
//! `mcpFactory` request to an upstream server as the execution's child (kind client). Attributes
//! say what ran and how it ended (tool, status, error type, durations), never code, arguments or
//! values.
//!
//! The W3C trace context of a request (`traceparent`/`tracestate` in its `_meta`, SEP-414, or in the
//! HTTP headers) is continued, and handed on to upstream MCP calls in their `_meta`, whether or not
//! spans are exported here: a caller's trace stays whole across the conductor either way.

use std::collections::HashMap;
use std::sync::OnceLock;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The exporting provider, when tracing is on.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The instrumentation scope of every span.
const SCOPE: &str = "mcp-conductor";

/// Whether the variables ask for traces: an endpoint is set, and neither `OTEL_SDK_DISABLED=true`
/// nor `OTEL_TRACES_EXPORTER=none` says otherwise.
pub fn requested(var: impl Fn(&str) -> Option<String>) -> Result<bool, String> {
    let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
    if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return Ok(false);
    }
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(false);
    }
    match var("OTEL_TRACES_EXPORTER").map(|v| v.trim().to_ascii_lowercase()) {
        None => {}
        Some(v) if v.is_empty() || v == "otlp" => {}
        Some(v) if v == "none" => return Ok(false),
        Some(v) => return Err(format!("OTEL_TRACES_EXPORTER: '{v}' is not supported (otlp or none)")),
    }
    let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"));
    match protocol.as_deref().map(str::trim) {
        None | Some("http/protobuf") | Some("http/json") => Ok(true),
        Some(other) => Err(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL: '{other}' is not supported: mcp-conductor exports OTLP over HTTP \
             (http/protobuf, the default, or http/json; a collector's HTTP port is usually 4318)"
        )),
    }
}

/// Starts exporting when the variables ask for it (see [`requested`]); false when they do not.
/// The collector's headers come from [`crate::secret_env`] (they left the environment at startup).
pub fn init() -> Result<bool, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let on = requested(var)?;
    if on {
        // Set here: with both encodings built in, the crate's own default would be JSON.
        let json = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL")).as_deref().map(str::trim)
            == Some("http/json");
        let protocol = if json { Protocol::HttpJson } else { Protocol::HttpBinary };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_http_client(export::Client::new()?)
            .with_headers(collector_headers()?)
            .build()
            .map_err(|e| format!("OpenTelemetry: cannot build the OTLP exporter (OTEL_EXPORTER_OTLP_*): {e}"))?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name(SCOPE);
        }
        let resource = resource.with_attribute(KeyValue::new("service.version", crate::VERSION)).build();
        let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build();
        opentelemetry::global::set_tracer_provider(provider.clone());
        let _ = PROVIDER.set(provider);
    }
    Ok(on)
}

/// `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, else `OTEL_EXPORTER_OTLP_HEADERS`: `key=value` pairs
/// separated by commas, values percent-encoded (the OTLP exporter specification).
fn collector_headers() -> Result<HashMap<String, String>, String> {
    let Some(text) = crate::secret_env::taken("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        .or_else(|| crate::secret_env::taken("OTEL_EXPORTER_OTLP_HEADERS"))
    else {
        return Ok(HashMap::new());
    };
    parse_headers(&text)
}

fn parse_headers(text: &str) -> Result<HashMap<String, String>, String> {
    let mut headers = HashMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        // Never the value in the message: it is a credential.
        let Some((key, value)) = pair.split_once('=') else {
            return Err("OTEL_EXPORTER_OTLP_HEADERS: an entry is not key=value".into());
        };
        let value = percent_encoding::percent_decode_str(value.trim())
            .decode_utf8()
            .map_err(|_| format!("OTEL_EXPORTER_OTLP_HEADERS: the value of '{}' is not UTF-8 once decoded", key.trim()))?;
        headers.insert(key.trim().to_string(), value.into_owned());
    }
    Ok(headers)
}

/// Exports the spans still buffered (at exit).
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(e) = provider.shutdown()
    {
        tracing::warn!("OpenTelemetry: the last spans were not exported: {e}");
    }
}

/// The trace context a request continues: its `_meta` (SEP-414) first, then its HTTP headers.
pub fn parent(meta_traceparent: Option<&str>, meta_tracestate: Option<&str>, headers: Option<&http::HeaderMap>) -> Context {
    let mut carrier = HashMap::new();
    match meta_traceparent {
        Some(traceparent) => {
            carrier.insert("traceparent".to_string(), traceparent.to_string());
            if let Some(state) = meta_tracestate {
                carrier.insert("tracestate".to_string(), state.to_string());
            }
        }
        None => {
            for name in ["traceparent", "tracestate"] {
                if let Some(value) = headers.and_then(|h| h.get(name)).and_then(|v| v.to_str().ok()) {
                    carrier.insert(name.to_string(), value.to_string());
                }
            }
        }
    }
    TraceContextPropagator::new().extract(&carrier)
}

/// The context of a span started as a child of `parent`.
pub fn start(name: String, kind: SpanKind, parent: &Context, attributes: Vec<KeyValue>) -> Context {
    let tracer = opentelemetry::global::tracer(SCOPE);
    let span = tracer.span_builder(name).with_kind(kind).with_attributes(attributes).start_with_context(&tracer, parent);
    parent.with_span(span)
}

/// Ends the span of `cx` with its outcome: `error` (a short class, never a value) marks it failed.
pub fn end(cx: &Context, error: Option<&str>, attributes: Vec<KeyValue>) {
    let span = cx.span();
    span.set_attributes(attributes);
    if let Some(error) = error {
        span.set_attribute(KeyValue::new("error.type", error.to_string()));
        span.set_status(Status::error(error.to_string()));
    }
    span.end();
}

/// `(traceparent, tracestate)` of `cx`, to hand on (`None` without a valid trace).
pub fn headers_of(cx: &Context) -> Option<(String, Option<String>)> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut carrier);
    let traceparent = carrier.remove("traceparent")?;
    Some((traceparent, carrier.remove("tracestate").filter(|s| !s.is_empty())))
}

/// The context a `traceparent` (and `tracestate`) describes (the execution's, on its way to
/// `mcpFactory` requests).
pub fn from_headers(traceparent: &str, tracestate: Option<&str>) -> Context {
    parent(Some(traceparent), tracestate, None)
}

mod export {
    //! The exporter's HTTP client: reqwest on a runtime of its own (the batch processor exports
    //! from its own thread, outside the server's runtime).

    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use http::{Request, Response};
    use opentelemetry_http::HttpError;

    #[derive(Debug, Clone)]
    pub struct Client {
        runtime: Arc<tokio::runtime::Runtime>,
        client: reqwest::Client,
    }

    impl Client {
        pub fn new() -> Result<Client, String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("OpenTelemetry: cannot start the exporter's runtime: {e}"))?;
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| format!("OpenTelemetry: cannot build the exporter's HTTP client: {e}"))?;
            Ok(Client { runtime: Arc::new(runtime), client })
        }
    }

    #[async_trait::async_trait]
    impl opentelemetry_http::HttpClient for Client {
        async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
            let (parts, body) = request.into_parts();
            let request = self.client.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(body);
            self.runtime.block_on(async move {
                let response = request.send().await?;
                let status = response.status();
                let body = response.bytes().await?;
                if !status.is_success() {
                    return Err(format!("the collector answered {status}").into());
                }
                Ok(Response::builder().status(status).body(body)?)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_variables_turn_traces_on() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(requested(vars(&[])), Ok(false));
        assert_eq!(requested(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")])), Ok(true));
        assert_eq!(requested(vars(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces")])), Ok(true));
        assert_eq!(requested(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_SDK_DISABLED", "true")])), Ok(false));
        assert_eq!(requested(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_TRACES_EXPORTER", "none")])), Ok(false));
        let json = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")];
        assert_eq!(requested(vars(Box::leak(Box::new(json)))), Ok(true));
        let grpc = requested(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]));
        assert!(grpc.unwrap_err().contains("4318"));
        assert!(requested(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), ("OTEL_TRACES_EXPORTER", "zipkin")])).is_err());
    }

    #[test]
    fn collector_headers_are_key_values_percent_decoded() {
        let parsed = parse_headers(" authorization=Bearer%20abc , x-tenant=a%2Cb,").unwrap();
        assert_eq!(parsed["authorization"], "Bearer abc");
        assert_eq!(parsed["x-tenant"], "a,b");
        let error = parse_headers("authorization Bearer-s3cret").unwrap_err();
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn trace_context_is_continued_and_handed_on() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = parent(Some(traceparent), Some("vendor=x"), None);
        let child = start("t".into(), SpanKind::Internal, &cx, vec![]);
        let (handed, state) = headers_of(&child).unwrap();
        // Same trace; with no exporting provider the child keeps the parent's span id.
        assert!(handed.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{handed}");
        assert_eq!(state.as_deref(), Some("vendor=x"));
        // From HTTP headers when _meta has none; nothing without either.
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", traceparent.parse().unwrap());
        assert!(headers_of(&parent(None, None, Some(&headers))).is_some());
        assert!(headers_of(&parent(None, None, None)).is_none());
        assert!(headers_of(&from_headers("garbage", None)).is_none());
    }
}
