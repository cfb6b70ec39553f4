//! The front door: `/health`, `/ready`, `/metrics` (token when set) and `/mcp` (bearer token,
//! session cap, then rmcp); every other path is 404. One log line per request, without bodies, tokens or session ids.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use super::{State, bodies};
use crate::server::Conductor;

type Reply = Response<BoxBody<Bytes, Infallible>>;

/// The first protocol version whose requests never open a session.
const STATELESS_PROTOCOL: &str = "2026-07-28";

pub async fn handle<B>(
    state: Arc<State>,
    mcp: StreamableHttpService<Conductor, LocalSessionManager>,
    request: Request<B>,
) -> Result<Reply, Infallible>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send + 'static,
    B::Error: std::fmt::Display + Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    // A refusal that leaves a body unread ends the connection: say so (`Connection: close`), or
    // a client that reuses the connection loses its next request.
    let carries_body = bodies::has_body(&request);
    let (request, body_read) = bodies::watch(request);
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let route = match path.as_str() {
        "/health" | "/ready" | "/mcp" | "/metrics" => path.as_str(),
        _ => "other",
    };
    let mut reply = match path.as_str() {
        "/health" => json(StatusCode::OK, r#"{"status":"ok"}"#),
        "/ready" => ready(&state),
        "/metrics" => match unauthorized(&state, &request) {
            Some(refused) => refused,
            None => metrics(&state).await,
        },
        "/mcp" if request.method() == Method::OPTIONS => preflight(&state, &request),
        "/mcp" => {
            let origin = allowed_origin(&state, &request);
            let post = request.method() == Method::POST;
            let mut reply = match refusal(&state, &request).await {
                Some(refused) => refused,
                None if post => match read_post(&state, request).await {
                    Ok(request) => mcp.handle(request).await,
                    Err(refused) => refused,
                },
                None => mcp.handle(request).await,
            };
            if method == Method::DELETE && reply.status() == StatusCode::ACCEPTED {
                // A session ended by DELETE: the official SDKs expect 200 (Python logs
                // "Session termination failed: 202" otherwise).
                *reply.status_mut() = StatusCode::OK;
            }
            if !reply.status().is_success() {
                reply = as_json_rpc_error(reply).await;
            }
            if post && reply.status().is_success() {
                // The drain waits for this stream: it carries the call's result.
                let open = &state.open_responses;
                reply = reply.map(|body| bodies::counted(body, open));
            }
            if let Some(origin) = origin {
                cors_headers(&mut reply, origin);
            }
            reply
        }
        _ => json(StatusCode::NOT_FOUND, r#"{"error":"not found: the MCP endpoint is /mcp"}"#),
    };
    if carries_body && !body_read.load(Ordering::SeqCst) {
        reply.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    tracing::info!(
        target: "mcp_conductor::http",
        %method,
        route,
        status = reply.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    state.metrics.request(route, reply.status().as_u16());
    Ok(reply)
}

/// The body of a POST to `/mcp`, read here so that its errors are JSON-RPC errors with the
/// status the spec gives: over `MCP_CONDUCTOR_HTTP_MAX_BODY_BYTES` is 413 (the rest is left unread
/// and the connection closed), JSON that does not parse is 400 with a parse error (-32700).
async fn read_post<B>(state: &State, request: Request<B>) -> Result<Request<Full<Bytes>>, Reply>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limit = state.settings.max_body_bytes;
    let (parts, body) = request.into_parts();
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            let message = format!("the request body is larger than MCP_CONDUCTOR_HTTP_MAX_BODY_BYTES ({limit} bytes)");
            return Err(json_rpc_error(StatusCode::PAYLOAD_TOO_LARGE, INVALID_REQUEST, &message));
        }
        Err(e) => {
            let message = format!("cannot read the request body: {e}");
            return Err(json_rpc_error(StatusCode::BAD_REQUEST, INVALID_REQUEST, &message));
        }
    };
    let json_body = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    if json_body && let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return Err(json_rpc_error(StatusCode::BAD_REQUEST, PARSE_ERROR, &format!("Parse error: {e}")));
    }
    Ok(Request::from_parts(parts, Full::new(bytes)))
}

const PARSE_ERROR: i32 = -32700;
const INVALID_REQUEST: i32 = -32600;

/// A JSON-RPC error response without an id (the request's could not be read), as the
/// streamable HTTP transport answers a request it refuses.
fn json_rpc_error(status: StatusCode, code: i32, message: &str) -> Reply {
    let body = serde_json::json!({ "jsonrpc": "2.0", "id": null, "error": { "code": code, "message": message } });
    json(status, &body.to_string())
}

/// An error reply of rmcp's in plain text (a missing session id, a wrong Accept header...) as a
/// JSON-RPC error with the same status and text, so every client reads it the same way; JSON
/// replies (rmcp's JSON-RPC errors, ours) pass unchanged.
async fn as_json_rpc_error(reply: Reply) -> Reply {
    let is_json = reply
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return reply;
    }
    let (mut parts, body) = reply.into_parts();
    let text = match body.collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).trim().to_string(),
        Err(never) => match never {},
    };
    let message = if text.is_empty() { parts.status.canonical_reason().unwrap_or("error").to_string() } else { text };
    let rewritten = json_rpc_error(parts.status, INVALID_REQUEST, &message);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, rewritten.into_body())
}

fn ready(state: &State) -> Reply {
    let running = state.sandbox.in_flight();
    if state.draining.load(Ordering::SeqCst) {
        return json(StatusCode::SERVICE_UNAVAILABLE, &format!(r#"{{"status":"draining","inFlight":{running}}}"#));
    }
    if state.sandbox.saturated_by_stuck_threads() {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                r#"{{"status":"unavailable","reason":"abandoned execution threads reached MCP_CONDUCTOR_MAX_ABANDONED","abandoned":{}}}"#,
                state.sandbox.stuck_threads()
            ),
        );
    }
    // Clients refused for their own stuck threads do not make the pod unready (others are served).
    let abandoned = state.sandbox.stuck_threads();
    let (clients, most) = state.sandbox.clients_with_stuck_threads();
    json(
        StatusCode::OK,
        &format!(
            r#"{{"status":"ready","inFlight":{running},"abandoned":{abandoned},"clientsWithAbandoned":{clients},"mostAbandonedByOneClient":{most}}}"#
        ),
    )
}

/// The request's `Origin` when it is one of `MCP_CONDUCTOR_HTTP_ALLOWED_ORIGINS` (rmcp refuses
/// the others with 403).
fn allowed_origin<B>(state: &State, request: &Request<B>) -> Option<HeaderValue> {
    let origin = request.headers().get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    state.allowed_origins.iter().any(|allowed| origin_matches(allowed, text)).then(|| origin.clone())
}

/// `scheme://host[:port]` against an entry `scheme://host[:port|:*]` (an entry without a port
/// matches the scheme's default port).
fn origin_matches(allowed: &str, origin: &str) -> bool {
    let split = |o: &str| -> Option<(String, String, Option<String>)> {
        let (scheme, rest) = o.split_once("://")?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (h.to_string(), Some(p.to_string())),
            _ => (rest.to_string(), None),
        };
        Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), port))
    };
    let default_port = |scheme: &str| if scheme == "https" { "443" } else { "80" }.to_string();
    let (Some((s1, h1, p1)), Some((s2, h2, p2))) = (split(allowed), split(origin)) else { return false };
    let p2 = p2.unwrap_or_else(|| default_port(&s2));
    s1 == s2 && h1 == h2 && (p1.as_deref() == Some("*") || p1.unwrap_or_else(|| default_port(&s1)) == p2)
}

/// CORS preflight for browser clients (the MCP Inspector's direct mode): allowed origins get the
/// methods and headers MCP uses; others 403.
fn preflight<B>(state: &State, request: &Request<B>) -> Reply {
    match allowed_origin(state, request) {
        Some(origin) => {
            let mut reply = Response::new(Full::new(Bytes::new()).boxed());
            *reply.status_mut() = StatusCode::NO_CONTENT;
            cors_headers(&mut reply, origin);
            let headers = reply.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, DELETE, OPTIONS"));
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id"),
            );
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            reply
        }
        None => json(StatusCode::FORBIDDEN, r#"{"error":"origin not allowed (MCP_CONDUCTOR_HTTP_ALLOWED_ORIGINS)"}"#),
    }
}

fn cors_headers(reply: &mut Reply, origin: HeaderValue) {
    let headers = reply.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("mcp-session-id, mcp-protocol-version"));
    headers.insert(header::VARY, HeaderValue::from_static("origin"));
}

async fn metrics(state: &State) -> Reply {
    let gauges = crate::metrics::Gauges {
        in_flight: state.sandbox.in_flight(),
        abandoned: state.sandbox.stuck_threads(),
        sessions: state.sessions.sessions.read().await.len(),
        pool_size: state.sandbox.pool_size(),
    };
    let mut reply = Response::new(Full::new(Bytes::from(state.metrics.render(gauges))).boxed());
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    reply
}

/// 401 when a token is configured and the request does not carry it.
fn unauthorized<B>(state: &State, request: &Request<B>) -> Option<Reply> {
    let token = state.settings.token.as_ref()?;
    if bearer_matches(request.headers().get(header::AUTHORIZATION), token) {
        return None;
    }
    tracing::warn!(target: "mcp_conductor::http", "request without a valid bearer token refused");
    state.metrics.auth_failure();
    let mut reply = json(StatusCode::UNAUTHORIZED, r#"{"error":"missing or invalid bearer token"}"#);
    reply.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(reply)
}

/// Why a request to `/mcp` is refused before rmcp sees it, if it is.
async fn refusal<B>(state: &State, request: &Request<B>) -> Option<Reply> {
    if let Some(refused) = unauthorized(state, request) {
        return Some(refused);
    }
    if request.method() == Method::DELETE
        && !state.settings.stateless
        && let Some(id) = request.headers().get("mcp-session-id").and_then(|v| v.to_str().ok())
        && !state.sessions.sessions.read().await.contains_key(id)
    {
        // rmcp answers 202 to any id; the spec wants 404 for one the server does not know.
        return Some(json_rpc_error(StatusCode::NOT_FOUND, INVALID_REQUEST, "Not Found: no session with this id"));
    }
    if state.refusing_new.load(Ordering::SeqCst) && !request.headers().contains_key("mcp-session-id") {
        // Draining: existing sessions finish their work here; anything new goes elsewhere.
        let mut reply = json(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error":"the server is shutting down: connect again (to another replica, or to this one once it has restarted)"}"#,
        );
        reply.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        reply.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Some(reply);
    }
    if opens_session(state, request) && state.sessions.sessions.read().await.len() >= state.settings.max_sessions {
        let mut reply = json(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error":"too many sessions (MCP_CONDUCTOR_HTTP_MAX_SESSIONS); retry later"}"#,
        );
        reply.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return Some(reply);
    }
    None
}

/// A POST without a session id from a client older than 2026-07-28, in session mode: an
/// `initialize`, which creates a session.
fn opens_session<B>(state: &State, request: &Request<B>) -> bool {
    let headers = request.headers();
    let modern = headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v >= STATELESS_PROTOCOL);
    !state.settings.stateless && request.method() == Method::POST && !headers.contains_key("mcp-session-id") && !modern
}

/// Constant-time comparison of `Authorization: Bearer <token>`.
fn bearer_matches(header: Option<&HeaderValue>, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(given) = header.and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    given.trim().as_bytes().ct_eq(token.as_bytes()).into()
}

fn json(status: StatusCode, body: &str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *reply.status_mut() = status;
    reply.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reply
}

/// Whether `host` names a loopback address (`localhost` included).
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.trim_matches(|c| c == '[' || c == ']').parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_and_loopback() {
        let ok = HeaderValue::from_static("Bearer s3cret");
        assert!(bearer_matches(Some(&ok), "s3cret"));
        assert!(!bearer_matches(Some(&HeaderValue::from_static("Bearer s3cre")), "s3cret"));
        assert!(!bearer_matches(Some(&HeaderValue::from_static("Basic s3cret")), "s3cret"));
        assert!(!bearer_matches(None, "s3cret"));
        assert!(is_loopback("127.0.0.1") && is_loopback("::1") && is_loopback("localhost") && is_loopback("[::1]"));
        assert!(!is_loopback("0.0.0.0") && !is_loopback("10.0.0.1") && !is_loopback("example.com"));
    }

    #[test]
    fn origins() {
        assert!(origin_matches("http://localhost:6274", "http://localhost:6274"));
        assert!(origin_matches("http://localhost:*", "http://localhost:1234"));
        assert!(origin_matches("https://app.example.com", "https://app.example.com"));
        assert!(origin_matches("https://app.example.com", "https://app.example.com:443"));
        assert!(!origin_matches("https://app.example.com", "http://app.example.com"));
        assert!(!origin_matches("http://localhost:6274", "http://localhost:6275"));
        assert!(!origin_matches("http://localhost:*", "http://evil.example:80"));
    }
}
