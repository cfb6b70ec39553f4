//! `mcp-conductor http`: MCP over streamable HTTP. rmcp's `StreamableHttpService` speaks the
//! protocol (sessions for clients up to 2025-11-25, stateless 2026-07-28); in front of it our own
//! door ([`routes`]) owns the bearer token, the session cap, `/health`, `/ready` and `/metrics`; this file
//! owns listening and the drain on SIGTERM/SIGINT.

mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::config::{HttpSettings, LogFormat};
use crate::metrics::Metrics;
use crate::sandbox::Sandbox;
use crate::server::Conductor;

pub use routes::is_loopback;

/// Refuses settings that would expose the server: a non-loopback address without a token.
pub fn check_exposure(settings: &HttpSettings) -> Result<(), String> {
    if settings.token.is_none() && !settings.allow_unauthenticated && !is_loopback(&settings.host) {
        return Err(format!(
            "refusing to listen on {} without authentication: set MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE to a file \
             holding a bearer token (or MCP_CONDUCTOR_HTTP_ALLOW_UNAUTHENTICATED=true if something in front \
             authenticates)",
            settings.host
        ));
    }
    Ok(())
}

/// What the front door needs to know while serving.
pub struct State {
    pub settings: HttpSettings,
    pub sandbox: Sandbox,
    pub metrics: Arc<Metrics>,
    pub sessions: Arc<LocalSessionManager>,
    pub draining: AtomicBool,
}

/// Serves until SIGTERM/SIGINT, then drains: `/ready` turns 503, `shutdown_delay` passes, new
/// connections are refused, running executions get `shutdown_timeout` to finish, the rest are
/// cancelled. A second signal exits at once.
pub async fn serve(
    settings: HttpSettings,
    server: Conductor,
    sandbox: Sandbox,
    metrics: Arc<Metrics>,
    log_format: LogFormat,
) -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = match settings.host.parse::<std::net::IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, settings.port),
        Err(_) => tokio::net::lookup_host((settings.host.as_str(), settings.port))
            .await?
            .next()
            .ok_or_else(|| format!("MCP_CONDUCTOR_HTTP_HOST: '{}' resolves to no address", settings.host))?,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} (MCP_CONDUCTOR_HTTP_HOST / MCP_CONDUCTOR_HTTP_PORT): {e}"))?;
    let local = listener.local_addr()?;

    let stop_sessions = CancellationToken::new();
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(settings.session_idle_timeout);
    let sessions = Arc::new(sessions);
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!settings.stateless)
        .with_max_request_body_bytes(settings.max_body_bytes)
        .with_cancellation_token(stop_sessions.clone())
        .with_allowed_origins(settings.allowed_origins.clone())
        .enforce_origin_validation();
    config = match &settings.allowed_hosts {
        Some(hosts) => config.with_allowed_hosts(hosts.clone()),
        None => config.disable_allowed_hosts(),
    };
    let mcp = StreamableHttpService::new(move || Ok(server.clone()), sessions.clone(), config);
    let state = Arc::new(State { settings, sandbox, metrics, sessions, draining: AtomicBool::new(false) });

    // The line tests and operators read (stderr; stdout stays silent in every mode), shown
    // whatever the log filter; a JSON object when the logs are JSON.
    match log_format {
        LogFormat::Json => {
            eprintln!("{}", serde_json::json!({ "level": "INFO", "message": format!("listening on http://{local}/mcp") }))
        }
        LogFormat::Text => eprintln!("listening on http://{local}/mcp"),
    }
    tracing::info!(
        stateless = state.settings.stateless,
        auth = state.settings.token.is_some(),
        "mcp-conductor {} serving MCP on http://{local}/mcp",
        env!("CARGO_PKG_VERSION")
    );

    let stop_accepting = CancellationToken::new();
    let accept = tokio::spawn(accept_loop(listener, state.clone(), mcp, stop_accepting.clone()));

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    tokio::select! {
        _ = sigterm.recv() => {}
        _ = sigint.recv() => {}
    }
    let second_signal = async {
        tokio::select! {
            _ = sigterm.recv() => {}
            _ = sigint.recv() => {}
        }
    };
    let drained = tokio::select! {
        () = drain(&state, &stop_accepting) => true,
        () = second_signal => {
            tracing::warn!("second signal: exiting at once");
            false
        }
    };
    stop_sessions.cancel();
    if drained && let Ok(connections) = accept.await {
        // Responses already produced (a finished call's result) still reach their clients:
        // open connections finish what they are sending, idle ones close.
        let _ = tokio::time::timeout(Duration::from_secs(5), connections.shutdown()).await;
    }
    Ok(())
}

async fn drain(state: &State, stop_accepting: &CancellationToken) {
    state.draining.store(true, Ordering::SeqCst);
    tracing::info!(
        delay_ms = state.settings.shutdown_delay.as_millis() as u64,
        "shutting down: /ready answers 503 now"
    );
    tokio::time::sleep(state.settings.shutdown_delay).await;
    stop_accepting.cancel();
    let deadline = Instant::now() + state.settings.shutdown_timeout;
    while state.sandbox.in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cut = state.sandbox.in_flight();
    if cut > 0 {
        tracing::warn!(cut, "shutdown timeout reached: cancelling running executions");
    } else {
        tracing::info!("all executions finished; exiting");
    }
}

/// Accepts until `stop`; returns the watcher of the connections still open.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    mcp: StreamableHttpService<Conductor, LocalSessionManager>,
    stop: CancellationToken,
) -> hyper_util::server::graceful::GracefulShutdown {
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return connections,
        };
        let (state, mcp) = (state.clone(), mcp.clone());
        let watcher = connections.watcher();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| routes::handle(state.clone(), mcp.clone(), request));
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(Duration::from_secs(30));
            if let Err(e) = watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
}

/// `mcp-conductor healthcheck`: GET /health of the local server; true when it answers 200.
pub async fn healthcheck(settings: &HttpSettings) -> bool {
    let host = if settings.host == "0.0.0.0" || settings.host == "::" { "127.0.0.1" } else { settings.host.as_str() };
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    let url = format!("http://{host}:{}/health", settings.port);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build();
    match client {
        Ok(client) => client.get(&url).send().await.is_ok_and(|r| r.status().is_success()),
        Err(_) => false,
    }
}
