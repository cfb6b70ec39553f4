// mcp-conductor addition (see vendor/README.md): one process-wide check that every network
// permission check (`check_net`, `check_net_url`) passes before the permission state is
// consulted, told what is reached and which API reaches it. mcp-conductor's egress policy uses
// it to hold raw connections (Deno.connect, Deno.connectTls, node:net, node:tls, node:http(s),
// node:dgram, a proxy) to what a connection can honour; fetch and WebSocket are checked request
// by request in deno_fetch's request hook.

use std::sync::OnceLock;

use url::Url;

use crate::PermissionDeniedError;
use crate::PermissionState;

/// What a network permission check is about.
#[derive(Debug, Clone, Copy)]
pub enum NetTarget<'a> {
  /// `check_net_url`: fetch, WebSocket, a `Deno.createHttpClient` proxy URL.
  Url(&'a Url),
  /// `check_net`: a host (as the API was given it) and port.
  Host { host: &'a str, port: Option<u16> },
}

/// The check: `Err(message)` refuses with `message` as the whole error text (`NotCapable`).
pub type NetHook = fn(target: NetTarget<'_>, api_name: &str) -> Result<(), String>;

static HOOK: OnceLock<NetHook> = OnceLock::new();

/// Installs the hook for the life of the process; a second call is ignored (returns false).
pub fn set(hook: NetHook) -> bool {
  HOOK.set(hook).is_ok()
}

pub(crate) fn check(
  target: NetTarget<'_>,
  api_name: &str,
) -> Result<(), PermissionDeniedError> {
  let Some(hook) = HOOK.get() else {
    return Ok(());
  };
  hook(target, api_name).map_err(|message| PermissionDeniedError {
    access: "net access".to_string(),
    name: "net",
    custom_message: Some(message),
    state: PermissionState::Denied,
  })
}
