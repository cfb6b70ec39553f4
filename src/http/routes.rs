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

use super::State;
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
    B::Error: std::fmt::Display,
{
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let route = match path.as_str() {
        "/health" | "/ready" | "/mcp" | "/metrics" => path.as_str(),
        _ => "other",
    };
    let reply = match path.as_str() {
        "/health" => json(StatusCode::OK, r#"{"status":"ok"}"#),
        "/ready" => ready(&state),
        "/metrics" => match unauthorized(&state, &request) {
            Some(refused) => refused,
            None => metrics(&state).await,
        },
        "/mcp" if request.method() == Method::OPTIONS => preflight(&state, &request),
        "/mcp" => {
            let origin = allowed_origin(&state, &request);
            let mut reply = match refusal(&state, &request).await {
                Some(refused) => refused,
                None => mcp.handle(request).await,
            };
            if let Some(origin) = origin {
                cors_headers(&mut reply, origin);
            }
            reply
        }
        _ => json(StatusCode::NOT_FOUND, r#"{"error":"not found: the MCP endpoint is /mcp"}"#),
    };
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
