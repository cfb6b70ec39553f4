//! What an execution is given: the server's fixed configuration, the call's request, and the
//! job a worker thread receives (the request plus where its one result goes).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::oneshot;

use super::glue::ProgressSink;
use super::host::Host;
use super::output::LineSink;
use super::result::Outcome;
use super::permissions::PermissionSet;
use super::results::{ClientId, ResultStore};
use crate::config::Limits;

/// Everything an execution needs that is fixed for the server's lifetime.
pub struct SandboxConfig {
    pub workspace: PathBuf,
    pub permissions: PermissionSet,
    /// The egress policy (`MCP_CONDUCTOR_EGRESS`): when set, its permission set replaces
    /// `permissions` (net narrowed to the policy's hosts) and its rules gate every `fetch`.
    pub egress: Option<Arc<crate::egress::Egress>>,
    /// `no-remote` / `cached-only`.
    pub no_remote: bool,
    /// Globals every execution gets (`WORKSPACE_DIR`, `ROOT_DIR`, `PLAYBOOKS_DIR`, `PERMISSIONS`).
    pub base_globals: Map<String, Value>,
    pub limits: Limits,
    /// Answers `mcpFactory` (the MCP proxy); `None` leaves it without upstreams.
    pub host: Option<Arc<dyn Host>>,
    /// Where `importPlaybook` / `playbook://` imports read from.
    pub playbooks: crate::playbooks::Store,
    /// The npm packages code may import, and the import map.
    pub packages: Arc<crate::packages::Packages>,
    /// The certificate authorities code's TLS connections trust (`root_certs.rs`).
    pub root_certs: Option<Arc<dyn deno_runtime::deno_tls::RootCertStoreProvider>>,
    /// Where return values above `MCP_CONDUCTOR_MAX_RETURN_BYTES` go (`results.rs`).
    pub results: Arc<ResultStore>,
}

pub struct ExecRequest {
    pub code: String,
    pub timeout: Duration,
    /// Per-call globals (keys already validated as identifiers).
    pub globals: Map<String, Value>,
    /// Receives the code's `progress()` calls (when the tool call carried a progress token).
    pub progress: Option<ProgressSink>,
    /// Receives each printed line live (when the client asked for logging notifications).
    pub lines: Option<LineSink>,
    /// The client the call came from: a large return value goes to its results directory.
    pub client: ClientId,
    /// The W3C `traceparent` (and `tracestate`) of the execution's span: `mcpFactory` requests
    /// are its children and hand it on to upstream servers (`src/telemetry.rs`).
    pub trace: Option<(String, Option<String>)>,
    /// The store behind the call's state handle, when it passed one (`src/state/`).
    pub state: Option<std::sync::Arc<dyn super::state_slot::StateSlot>>,
}

/// A request on its way to a worker thread. The thread never looks at the clock: the
/// supervisor (`Sandbox::execute`) alone owns the deadline and stops the thread through its
/// `Control`.
pub struct Job {
    pub request: ExecRequest,
    pub reply: oneshot::Sender<Outcome>,
}
