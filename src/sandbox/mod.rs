//! One execution = one fresh OS thread with its own current-thread tokio runtime and a fresh
//! `MainWorker` built with a fresh permission container. Nothing survives an execution.
//! Workers are bootstrapped ahead of demand (`pool.rs`) and started from a snapshot
//! (`snapshot.rs`) so a call pays only for running its code.
//!
//! Stopping: at the deadline (or on cancellation) the server terminates the isolate, which stops
//! busy loops, and wakes the worker's event loop, which stops idle waits. If the thread still
//! does not answer within [`ABANDON_GRACE`] (stuck in a blocking call), it is abandoned.

mod children;
mod code;
mod confined_fs;
mod control;
mod execution;
mod glue;
mod loader;
mod node_services;
mod op_audit;
mod op_guards;
mod output;
pub mod permissions;
mod pool;
mod result;
pub mod root_certs;
mod snapshot;
mod usage;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::sync::{Semaphore, oneshot};
use tokio_util::sync::CancellationToken;

pub use code::{SyntaxError, prepare_execution, transpile_module};
pub use control::StopReason;
pub use glue::{Attachment, AttachmentKind, Host, HostReply, Progress, ProgressSink};
pub use output::{Captured, LineSink, Stream};
pub use permissions::{PermissionSet, ServerOwned};
pub use usage::Usage;
pub use result::{ErrorType, Failure, Outcome, RunResult, Status, StructuredRunResult};

use crate::config::Limits;

use execution::{Execution, Job};
use pool::Pool;

/// How long a terminated execution may take to hand back its result before it is abandoned.
pub const ABANDON_GRACE: Duration = Duration::from_millis(200);

/// Everything an execution needs that is fixed for the server's lifetime.
pub struct SandboxConfig {
    pub workspace: PathBuf,
    pub permissions: PermissionSet,
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
}

#[derive(Clone)]
pub struct Sandbox {
    pool: Arc<Pool>,
    /// One permit per execution allowed to run at once.
    slots: Arc<Semaphore>,
    /// Calls of `execute` not yet returned (waiting for a slot or running).
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

/// Counts one call in flight while it lives (see [`Sandbox::in_flight`]).
pub struct InFlight(Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    fn new(counter: &Arc<std::sync::atomic::AtomicUsize>) -> InFlight {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        InFlight(counter.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Sandbox {
    /// `pool_size` workers are kept bootstrapped ahead of demand (0: start each on demand).
    pub fn new(config: SandboxConfig, pool_size: usize) -> Self {
        let slots = Arc::new(Semaphore::new(config.limits.max_concurrency));
        Self { pool: Arc::new(Pool::new(Arc::new(config), pool_size)), slots, in_flight: Arc::default() }
    }

    /// Counts one call as in flight while the guard lives (the HTTP drain waits for them): taken
    /// by the caller of [`Sandbox::execute`] for the whole call, since `run_deno_code` still sends
    /// its last notifications after `execute` returns.
    pub fn hold(&self) -> InFlight {
        InFlight::new(&self.in_flight)
    }

    /// Calls in flight: waiting for a slot, running, or finishing ([`Sandbox::hold`]).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Abandoned execution threads that have not ended yet.
    pub fn stuck_threads(&self) -> usize {
        self.pool.stuck.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn pool_size(&self) -> usize {
        self.pool.size()
    }

    /// Whether `MCP_CONDUCTOR_MAX_ABANDONED` stuck threads refuse new executions now.
    pub fn saturated_by_stuck_threads(&self) -> bool {
        self.stuck_threads() >= self.pool.config().limits.max_abandoned
    }

    pub async fn execute(&self, request: ExecRequest, cancel: CancellationToken) -> Outcome {
        let started = Instant::now();
        let deadline = started + request.timeout;
        let timeout_ms = request.timeout.as_millis();
        // Waiting for a slot counts against the timeout.
        let (_slot, waited) = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => (slot, false),
            Err(_) => tokio::select! {
                slot = self.slots.clone().acquire_owned() => (slot.expect("the semaphore is never closed"), true),
                _ = tokio::time::sleep_until(deadline.into()) => {
                    return Execution::failed(
                        ErrorType::Timeout,
                        format!("Execution timed out after {timeout_ms} ms while waiting for a free slot (MCP_CONDUCTOR_MAX_CONCURRENCY)"),
                    )
                    .finish(started, started.elapsed());
                }
                _ = cancel.cancelled() => {
                    return Execution::failed(ErrorType::Runtime, "Execution cancelled by the client")
                        .finish(started, started.elapsed());
                }
            },
        };
        let queued = if waited { started.elapsed() } else { Duration::ZERO };
        if self.saturated_by_stuck_threads() {
            let (stuck, max_stuck) = (self.stuck_threads(), self.pool.config().limits.max_abandoned);
            return Execution::failed(
                ErrorType::Runtime,
                format!(
                    "The server refuses new executions: {stuck} earlier executions are stuck in blocking \
                     calls and could not be stopped (limit MCP_CONDUCTOR_MAX_ABANDONED = {max_stuck}). They \
                     are released when their blocking call returns; raise the limit or restart the server."
                ),
            )
            .finish(started, queued);
        }
        let (reply, mut rx) = oneshot::channel();
        let mut job = Job { request, deadline, reply };
        // A warm worker whose thread died while bootstrapping gives the job back: try another.
        let mut control = None;
        for _ in 0..3 {
            let warm = match self.pool.take() {
                Ok(warm) => warm,
                Err(e) => return Execution::internal(format!("cannot start an execution thread: {e}")).finish(started, queued),
            };
            let warm_control = warm.control.clone();
            match warm.start(job) {
                Ok(()) => {
                    control = Some(warm_control);
                    break;
                }
                Err(returned) => job = returned,
            }
        }
        let Some(control) = control else {
            return Execution::internal("execution threads keep failing to start").finish(started, queued);
        };

        tokio::select! {
            result = &mut rx => {
                return result.unwrap_or_else(|_| Execution::internal("the execution thread ended without a result"))
                    .finish(started, queued);
            }
            _ = tokio::time::sleep_until(deadline.into()) => control.stop(StopReason::Timeout),
            _ = cancel.cancelled() => control.stop(StopReason::Cancelled),
        }
        match tokio::time::timeout(ABANDON_GRACE, rx).await {
            Ok(Ok(execution)) => execution.finish(started, queued),
            _ => {
                let stuck = control.abandon();
                tracing::warn!(
                    stuck,
                    "execution thread did not stop within {ABANDON_GRACE:?} of its deadline; abandoned \
                     (MCP_CONDUCTOR_MAX_ABANDONED)"
                );
                // A thread waiting on a child (`outputSync()`) is freed by ending the child.
                if let Some(tid) = control.thread() {
                    children::kill_thread_children(tid);
                }
                Execution::failed(
                    ErrorType::Timeout,
                    format!(
                        "Execution timed out after {timeout_ms} ms and did not stop (blocked in a \
                         synchronous call); it was abandoned"
                    ),
                )
                .finish(started, queued)
            }
        }
    }
}

impl Execution {
    fn finish(self, started: Instant, queued: Duration) -> Outcome {
        Outcome {
            captured: self.captured,
            result: self.result,
            exit_code: self.exit_code,
            return_file: self.return_file,
            attachments: self.attachments,
            usage: self.usage,
            queue_ms: queued.as_secs_f64() * 1000.0,
            execution_time_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    }
}
