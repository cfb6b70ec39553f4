//! `mcp-conductor http`: MCP over streamable HTTP. rmcp's `StreamableHttpService` speaks the
//! protocol (sessions for clients up to 2025-11-25, stateless 2026-07-28); in front of it our own
//! door ([`routes`]) owns the bearer token, the session cap, `/health`, `/ready` and `/metrics`; this file
//! owns listening and the drain on SIGTERM/SIGINT.

mod bodies;
mod routes;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// Set once the drain's `shutdown_delay` has passed: requests that would open a session or
    /// stand alone (stateless) are refused; those of existing sessions are still served.
    pub refusing_new: AtomicBool,
    /// `/mcp` POST responses still streaming (see [`bodies::counted`]): a call's result is only
    /// delivered once its response stream ends, after the execution itself.
    pub open_responses: Arc<AtomicUsize>,
    /// [`HttpSettings::allowed_origins`], computed once (rmcp's check gets the same list).
    pub allowed_origins: Vec<String>,
}

/// Binds the listening socket: before the sandbox is built, whose permissions deny code the
/// address it gets (`own_addresses`; the port `--port 0` picks included).
pub async fn bind(settings: &HttpSettings) -> Result<tokio::net::TcpListener, Box<dyn std::error::Error>> {
    let addr: SocketAddr = match settings.host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, settings.port),
        Err(_) => tokio::net::lookup_host((settings.host.as_str(), settings.port))
            .await?
            .next()
            .ok_or_else(|| format!("MCP_CONDUCTOR_HTTP_HOST: '{}' resolves to no address", settings.host))?,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} (MCP_CONDUCTOR_HTTP_HOST / MCP_CONDUCTOR_HTTP_PORT): {e}"))?;
    Ok(listener)
}

/// Every form of the address the server listens on, as `host:port` entries for Deno's deny-net
/// list (`ServerOwned::deny_net`), so code never reaches `/mcp`, `/metrics`... of its own server
/// whatever `allow-net` says: the loopback names and addresses (`localhost`, `127.0.0.0/8`,
/// `[::1]`), the unspecified addresses (`0.0.0.0` and `[::]` connect to the local host), the bound
/// address, the configured host, and when the server listens on all interfaces, the address of
/// every interface (read once, at startup). Deno re-checks the address a name resolves to against
/// IP entries at connect time, so a DNS alias of any of these is refused too.
pub fn own_addresses(listening: SocketAddr, host: &str) -> Vec<String> {
    let port = listening.port();
    let form = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{v6}]"),
        },
    };
    let mut hosts: Vec<String> = vec![
        "localhost".into(),
        "127.0.0.0/8".into(),
        form(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        form(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        form(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        form(listening.ip()),
    ];
    if listening.ip().is_unspecified() {
        hosts.extend(interface_addresses().into_iter().map(form));
    }
    let configured = host.trim().trim_start_matches('[').trim_end_matches(']');
    match configured.parse::<IpAddr>() {
        Ok(ip) => hosts.push(form(ip)),
        Err(_) if !configured.is_empty() => hosts.push(configured.trim_end_matches('.').to_ascii_lowercase()),
        Err(_) => {}
    }
    let mut entries: Vec<String> = Vec::new();
    for host in hosts {
        let entry = format!("{host}:{port}");
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    entries
}

/// The IPv4 and IPv6 addresses of the machine's network interfaces (`getifaddrs`).
fn interface_addresses() -> Vec<IpAddr> {
    let mut found = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free with freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        tracing::warn!("cannot list the network interfaces: {}", std::io::Error::last_os_error());
        return found;
    }
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: a node of the list getifaddrs returned, valid until freeifaddrs.
        let entry = unsafe { &*cursor };
        let addr = entry.ifa_addr;
        if !addr.is_null() {
            // SAFETY: `addr` points to a sockaddr whose family says which struct it is.
            match i32::from(unsafe { (*addr).sa_family }) {
                libc::AF_INET => {
                    // SAFETY: an AF_INET address is a sockaddr_in.
                    let v4 = unsafe { &*(addr as *const libc::sockaddr_in) };
                    found.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))));
                }
                libc::AF_INET6 => {
                    // SAFETY: an AF_INET6 address is a sockaddr_in6.
                    let v6 = unsafe { &*(addr as *const libc::sockaddr_in6) };
                    found.push(IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)));
                }
                _ => {}
            }
        }
        cursor = entry.ifa_next;
    }
    // SAFETY: the list getifaddrs returned, freed once.
    unsafe { libc::freeifaddrs(list) };
    found
}

/// Serves on `listener` (from [`bind`]) until SIGTERM/SIGINT, then drains: `/ready` turns 503,
/// `shutdown_delay` passes (everything still served), then requests that would start a session
/// or stand alone are refused with 503 while existing sessions keep being served (their clients
/// may open new connections: a reconnecting stream, a response to the server) until their
/// executions have ended and their results have been sent, within `shutdown_timeout`; executions
/// still running then end with a result saying the server shut down. A second signal exits at once.
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: HttpSettings,
    server: Conductor,
    sandbox: Sandbox,
    metrics: Arc<Metrics>,
    log_format: LogFormat,
) -> Result<(), Box<dyn std::error::Error>> {
    let local = listener.local_addr()?;

    let stop_sessions = CancellationToken::new();
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(settings.session_idle_timeout);
    let sessions = Arc::new(sessions);
    let allowed_origins = settings.allowed_origins();
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!settings.stateless)
        .with_max_request_body_bytes(settings.max_body_bytes)
        .with_cancellation_token(stop_sessions.clone())
        .with_allowed_origins(allowed_origins.clone())
        .enforce_origin_validation();
    config = match &settings.allowed_hosts {
        Some(hosts) => config.with_allowed_hosts(hosts.clone()),
        None => config.disable_allowed_hosts(),
    };
    // One server value per session (or per stateless request): a client of its own, with its
    // own directory for large results.
    let mcp = StreamableHttpService::new(move || Ok(server.for_new_client()), sessions.clone(), config);
    let state = Arc::new(State {
        settings,
        sandbox,
        metrics,
        sessions,
        draining: AtomicBool::new(false),
        refusing_new: AtomicBool::new(false),
        open_responses: Arc::default(),
        allowed_origins,
    });

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
        () = drain(&state) => true,
        () = second_signal => {
            tracing::warn!("second signal: exiting at once");
            false
        }
    };
    stop_accepting.cancel();
    stop_sessions.cancel();
    if drained && let Ok(connections) = accept.await {
        // Responses already produced (a finished call's result) still reach their clients:
        // open connections finish what they are sending, idle ones close.
        let _ = tokio::time::timeout(Duration::from_secs(5), connections.shutdown()).await;
    }
    Ok(())
}

/// How long executions ended by the shutdown get to hand their results to their streams.
const SHUTDOWN_RESULTS_GRACE: Duration = Duration::from_secs(5);

async fn drain(state: &State) {
    state.draining.store(true, Ordering::SeqCst);
    tracing::info!(
        delay_ms = state.settings.shutdown_delay.as_millis() as u64,
        "shutting down: /ready answers 503 now"
    );
    tokio::time::sleep(state.settings.shutdown_delay).await;
    state.refusing_new.store(true, Ordering::SeqCst);
    // Busy: an execution runs, or a result is still on its way to its client.
    let busy = || state.sandbox.in_flight() + state.open_responses.load(Ordering::SeqCst);
    let settle = |deadline: Instant| async move {
        while busy() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    settle(Instant::now() + state.settings.shutdown_timeout).await;
    let cut = state.sandbox.in_flight();
    if cut > 0 {
        tracing::warn!(cut, "shutdown timeout reached: ending running executions (their clients are told)");
        state.sandbox.shut_down();
        settle(Instant::now() + SHUTDOWN_RESULTS_GRACE).await;
    } else {
        tracing::info!("all executions finished and their results sent; exiting");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_addresses_cover_every_form_and_parse() {
        let loopback: SocketAddr = "127.0.0.1:3001".parse().unwrap();
        let entries = own_addresses(loopback, "127.0.0.1");
        for expected in ["localhost:3001", "127.0.0.0/8:3001", "[::1]:3001", "0.0.0.0:3001", "[::]:3001", "127.0.0.1:3001"] {
            assert!(entries.iter().any(|e| e == expected), "{expected} missing from {entries:?}");
        }
        assert!(entries.iter().all(|e| e.ends_with(":3001")), "{entries:?}");
        for e in &entries {
            deno_permissions::NetDescriptor::parse_for_list(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        }
        // All interfaces: every interface address (loopback at least), a named host as given.
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let entries = own_addresses(any, "MyHost.example.");
        assert!(entries.iter().any(|e| e == "myhost.example:8080"), "{entries:?}");
        for e in &entries {
            deno_permissions::NetDescriptor::parse_for_list(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        }
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        assert!(own_addresses(v6, "::1").iter().any(|e| e == "[::1]:9"));
    }
}
