//! The egress policy below JavaScript (`crate::egress`): every `fetch` request, each redirect
//! hop included (Deno follows redirects in JS, calling `op_fetch` again per hop), passes
//! deno_fetch's request hook on the execution thread after Deno's permission check and before
//! anything is sent. There the policy refuses it (an error naming the rule) or adds the rule's
//! credentials, over any header of that name the code set. The credentials exist only in the
//! `http::Request` Rust sends: never in JS objects, error text, logs, metrics or spans.
//! WebSocket handshakes pass the same hook (`vendor/deno_websocket`).
//!
//! Every other connection (`Deno.connect`, `Deno.connectTls`, `node:net`, `node:tls`,
//! `node:http(s)`, `node:dgram`, a proxy, a DNS server) is a socket whose bytes the server does
//! not read as requests: deno_permissions' network check passes [`check_connection`] first
//! (`vendor/deno_permissions`), which lets such a socket reach only hosts whose rules check no
//! method, path or credential (`Policy::decide_connection`). Remote imports are requests the
//! loader makes itself: [`check_import`].
//!
//! Both hooks are plain `fn`s (no state): the policy of the execution running on this thread is
//! kept in a thread-local, set by [`install`] for the life of the worker.

use std::cell::RefCell;
use std::sync::Arc;

use deno_error::JsErrorBox;
use deno_runtime::deno_fetch;
use deno_permissions::net_hook::NetTarget;

use crate::egress::policy::REFUSED;
use crate::egress::{Decision, Policy};

thread_local! {
    static POLICY: RefCell<Option<Arc<Policy>>> = const { RefCell::new(None) };
}

/// Puts `policy` in force for the worker on this thread (its `fetch` requests go through
/// [`check_request`]). Without a policy, nothing changes.
pub fn install(worker: &mut deno_runtime::worker::MainWorker, policy: Option<Arc<Policy>>) {
    let Some(policy) = policy else { return };
    POLICY.with(|p| *p.borrow_mut() = Some(policy));
    deno_permissions::net_hook::set(check_connection);
    let state = worker.js_runtime.op_state();
    let mut state = state.borrow_mut();
    let mut options = state.take::<deno_fetch::Options>();
    options.request_builder_hook = Some(check_request);
    state.put(options);
}

/// The policy of the execution on this thread, if it runs under one.
fn current() -> Option<Arc<Policy>> {
    POLICY.with(|p| p.borrow().clone())
}

/// The policy in force when the job arrives, for a worker prepared before a change: fetch,
/// WebSocket, sockets ([`check_connection`]) and imports follow it at once; only the host list of
/// Deno's permission check keeps the policy the worker was built with.
pub fn refresh(policy: Arc<Policy>) {
    POLICY.with(|p| {
        if let Some(current) = p.borrow_mut().as_mut() {
            *current = policy;
        }
    });
}

/// deno_fetch's request hook (see the module docs).
fn check_request(request: &mut http::Request<deno_fetch::ReqBody>) -> Result<(), JsErrorBox> {
    // What deno_runtime's own hook does, which this one replaces: code may not send the header
    // Deno Deploy uses to recognize its own requests.
    request.headers_mut().remove("x-deno-fetch-token");
    let Some(policy) = current() else {
        return Err(JsErrorBox::new("NotCapable", "the egress policy is not available on this thread; request refused"));
    };
    let url = deno_core::url::Url::parse(&request.uri().to_string())
        .map_err(|e| JsErrorBox::new("NotCapable", format!("request URL not understood by the egress policy: {e}")))?;
    let method = request.method().as_str().to_string();
    let through_custom_client = request.extensions().get::<deno_fetch::ThroughCustomClient>().is_some();
    if through_custom_client && request.headers().contains_key(http::header::HOST) {
        // `allowHost`: a Host of the code's choosing would reach another site behind the same
        // address (a shared front end routes by Host) under the rule of this one.
        audit("refused (Host header)", None, &method, &url);
        return Err(JsErrorBox::new(
            "NotCapable",
            format!("{method} {url} {REFUSED}: a Host header chosen by the code is not sent (the rules are per host)"),
        ));
    }
    match policy.decide_http(&method, &url) {
        Decision::Allow(rule) if !rule.headers.is_empty() && through_custom_client => {
            // The code chose that client's proxy (a `tcp` proxy takes an https request in
            // plaintext to its own address), certificate authorities and `allowHost`: any of
            // them would hand the credential to someone else.
            audit("refused (custom client)", Some(&rule.name), &method, &url);
            Err(JsErrorBox::new(
                "NotCapable",
                format!(
                    "{method} {url} {REFUSED}: rule {} adds credentials, which are never sent through \
                     a client the code configured (Deno.createHttpClient, or a WebSocket with caCerts: its proxy, \
                     certificate authorities or Host could expose them); connect without them",
                    rule.label()
                ),
            ))
        }
        Decision::Allow(rule) => {
            for (name, value) in &rule.headers {
                request.headers_mut().insert(name.clone(), value.clone());
            }
            audit(if rule.headers.is_empty() { "allowed" } else { "allowed, credentials added" }, Some(&rule.name), &method, &url);
            Ok(())
        }
        Decision::Refuse(reason) => {
            audit("refused", None, &method, &url);
            Err(JsErrorBox::new("NotCapable", reason))
        }
    }
}

/// The APIs whose network check is about a name or a local address, not a connection out:
/// lookups send nothing to the host, a listener or a bound UDP socket receives (sending from it
/// is checked: `socket.send()`, `Deno.DatagramConn.send()`). Deno's permission check, narrowed
/// to the policy's hosts, still applies to them.
const NOT_OUTBOUND: &[&str] = &[
    "node:dns.lookup()",
    "node:dns.lookupService()",
    "Deno.listen()",
    "Deno.listenTls()",
    "Deno.listenDatagram()",
    "node:net.listen()",
    "dgram.createSocket()",
];

/// The APIs whose requests [`check_request`] sees whole (their `api_name`s in deno_fetch and
/// deno_websocket).
const SEEN_WHOLE: &[&str] = &["fetch()", "new WebSocket()", "WebSocket.abort()", "new WebSocketStream()", "WebSocketStream.abort()"];

/// deno_permissions' network hook (see the module docs). Installed for the process once a worker
/// runs under a policy; a thread without one (none should reach here) is refused.
fn check_connection(target: NetTarget<'_>, api: &str) -> Result<(), String> {
    let (host, port) = match target {
        NetTarget::Url(_) if SEEN_WHOLE.contains(&api) => return Ok(()),
        NetTarget::Host { .. } if NOT_OUTBOUND.contains(&api) => return Ok(()),
        NetTarget::Url(url) => (url.host_str().unwrap_or_default().to_string(), url.port_or_known_default()),
        NetTarget::Host { host, port } => (host.to_string(), port),
    };
    let Some(policy) = current() else {
        return Err(format!("{api} to {host}: the egress policy is not available on this thread; connection refused"));
    };
    let decision = policy.decide_connection(api, &host, port);
    tracing::info!(
        target: "mcp_conductor::egress",
        api,
        host = host.as_str(),
        port = port.unwrap_or(0),
        "egress connection {}",
        if decision.is_ok() { "allowed" } else { "refused" }
    );
    decision
}

/// A remote import (each redirect hop): a `GET` the policy must allow as it would a `fetch`.
/// It never carries credentials: the loader is the server's own client, so a rule that adds
/// some lets it through without them (a server that needs them answers 401, and the import
/// fails saying so). A `fetch` through a client the code configured is refused instead, because
/// there the code chose the proxy, CAs and Host that would receive them.
pub fn check_import(url: &deno_core::url::Url) -> Result<(), String> {
    let Some(policy) = current() else {
        return Ok(()); // no policy: the import permissions alone decide
    };
    match policy.decide_http("GET", url) {
        Decision::Allow(rule) => {
            audit(
                if rule.headers.is_empty() { "allowed (import)" } else { "allowed (import, without credentials)" },
                Some(&rule.name),
                "GET",
                url,
            );
            Ok(())
        }
        Decision::Refuse(reason) => {
            audit("refused (import)", None, "GET", url);
            Err(reason)
        }
    }
}

/// The audit line of one decision: never a header value, a query or a body.
fn audit(outcome: &str, rule: Option<&str>, method: &str, url: &deno_core::url::Url) {
    tracing::info!(
        target: "mcp_conductor::egress",
        rule = rule.unwrap_or("none"),
        method,
        host = url.host_str().unwrap_or(""),
        path = url.path(),
        "egress {outcome}"
    );
}
