//! One execution = one fresh OS thread with its own current-thread tokio runtime and a fresh
//! `MainWorker` built with a fresh permission container. Nothing survives an execution.
//! Workers are bootstrapped ahead of demand (`pool.rs`) and started from a snapshot
//! (`snapshot.rs`) so a call pays only for running its code.
//!
//! [`Sandbox::execute`] is the execution's only supervisor: it owns the one deadline, and it
//! alone decides that an execution is over. At the deadline, on cancellation, or when the call's
//! future is dropped, it stops the worker through its [`control::Control`] (the isolate is
//! terminated, which stops busy loops, and the event loop is woken, which stops idle waits). A
//! thread that still does not answer within [`ABANDON_GRACE`] (stuck in a blocking call) is
//! abandoned.

mod call_trace;
mod children;
mod code;
mod confined_fs;
pub mod contract;
mod control;
mod cost_bounds;
mod egress_gate;
mod execution;
mod failure;
mod fault;
mod glue;
mod host;
mod job;
mod loader;
mod memory;
pub mod nesting;
mod node_services;
mod op_audit;
mod op_guards;
mod output;
pub mod permissions;
mod pool;
mod result;
mod results;
pub mod root_certs;
mod snapshot;
pub mod state_slot;
mod usage;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, oneshot};
use tokio_util::sync::CancellationToken;

pub use code::{SyntaxError, check_nesting, prepare_execution, transpile_module};
pub use control::StopReason;
pub use glue::{Attachment, AttachmentKind, Progress, ProgressSink};
pub use host::{Host, HostError, HostReply, HostRequest};
pub use job::{ExecRequest, SandboxConfig};
pub use output::{Captured, LineSink, Stream};
pub use permissions::{PermissionSet, ServerOwned};
pub use result::{ErrorType, Failure, Outcome, RunResult, Status, StructuredRunResult};
pub use results::{ClientId, ResultStore, human_duration};
pub use usage::Usage;

use control::Control;
use job::Job;
use pool::Pool;

/// How long a terminated execution may take to hand back its result before it is abandoned.
pub const ABANDON_GRACE: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Sandbox {
    config: Arc<SandboxConfig>,
    pool: Arc<Pool>,
    /// One permit per execution allowed to run at once.
    slots: Arc<Semaphore>,
    /// Calls in flight (see [`Sandbox::hold`]).
    in_flight: Arc<AtomicUsize>,
    /// Abandoned threads still running, per client (`MCP_CONDUCTOR_MAX_ABANDONED_PER_CLIENT`).
    stuck_by_client: Arc<std::sync::Mutex<std::collections::HashMap<ClientId, Arc<AtomicUsize>>>>,
    /// Cancelled when the server shuts down ([`Sandbox::shut_down`]): running executions end with
    /// a result that says so, new ones are refused.
    shutdown: CancellationToken,
}

/// Counts one call in flight while it lives (see [`Sandbox::in_flight`]).
pub struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Stops the worker if the supervising future is dropped before the execution ended (a client
/// that went away, a cancelled HTTP request): nothing else would stop it.
struct StopOnDrop(Option<Arc<Control>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(control) = self.0.take() {
            control.stop(StopReason::Cancelled);
        }
    }
}

impl Sandbox {
    /// `pool_size` workers are kept bootstrapped ahead of demand (0: start each on demand).
    pub fn new(config: SandboxConfig, pool_size: usize) -> Self {
        let slots = Arc::new(Semaphore::new(config.limits.max_concurrency));
        let config = Arc::new(config);
        let thread_config = config.clone();
        let body: pool::ThreadBody =
            Arc::new(move |control, jobs| execution::thread_main(thread_config.clone(), control, jobs));
        Self {
            config,
            pool: Arc::new(Pool::new(body, pool_size)),
            slots,
            in_flight: Arc::default(),
            stuck_by_client: Arc::default(),
            shutdown: CancellationToken::new(),
        }
    }

    /// Counts one call as in flight while the guard lives (the HTTP drain waits for them): taken
    /// by the caller of [`Sandbox::execute`] for the whole call, since `run_deno_code` still sends
    /// its last notifications after `execute` returns.
    pub fn hold(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.in_flight.clone())
    }

    /// Calls in flight: waiting for a slot, running, or finishing ([`Sandbox::hold`]).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Ends every running execution with a result saying the server shut down, and refuses new
    /// ones the same way (the HTTP drain, at `MCP_CONDUCTOR_HTTP_SHUTDOWN_TIMEOUT`).
    pub fn shut_down(&self) {
        self.shutdown.cancel();
    }

    /// Abandoned execution threads that have not ended yet.
    pub fn stuck_threads(&self) -> usize {
        self.pool.stuck.load(Ordering::SeqCst)
    }

    pub fn pool_size(&self) -> usize {
        self.pool.size()
    }

    /// The count of `client`'s abandoned threads still running (clients with none are dropped
    /// from the table as it is looked up).
    fn client_stuck(&self, client: &ClientId) -> Arc<AtomicUsize> {
        let mut table = self.stuck_by_client.lock().unwrap_or_else(|e| e.into_inner());
        table.retain(|id, count| id == client || count.load(Ordering::SeqCst) > 0 || Arc::strong_count(count) > 1);
        table.entry(client.clone()).or_default().clone()
    }

    /// Clients with abandoned threads still running, and the most any one of them has.
    pub fn clients_with_stuck_threads(&self) -> (usize, usize) {
        let table = self.stuck_by_client.lock().unwrap_or_else(|e| e.into_inner());
        let counts = table.values().map(|c| c.load(Ordering::SeqCst)).filter(|&c| c > 0);
        counts.fold((0, 0), |(clients, most), c| (clients + 1, most.max(c)))
    }

    /// Whether `MCP_CONDUCTOR_MAX_ABANDONED` stuck threads refuse new executions now.
    pub fn saturated_by_stuck_threads(&self) -> bool {
        self.stuck_threads() >= self.config.limits.max_abandoned
    }

    /// Runs one request to its end: its result, or why it has none. The deadline
    /// (`request.timeout` from now) covers waiting for a slot too.
    pub async fn execute(&self, request: ExecRequest, cancel: CancellationToken) -> Outcome {
        let started = Instant::now();
        let timeout = request.timeout;
        let deadline = started + timeout;
        let ended = |outcome: Outcome, queued: Duration| outcome.timed(queued, started.elapsed());
        if self.shutdown.is_cancelled() {
            return ended(Outcome::failed(failure::shut_down()), Duration::ZERO);
        }
        // Waiting for a slot counts against the timeout.
        let (_slot, queued) = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => (slot, Duration::ZERO),
            Err(_) => tokio::select! {
                slot = self.slots.clone().acquire_owned() => (slot.expect("the semaphore is never closed"), started.elapsed()),
                _ = tokio::time::sleep_until(deadline.into()) => {
                    return ended(Outcome::failed(failure::timed_out_waiting_for_slot(timeout)), started.elapsed());
                }
                _ = cancel.cancelled() => return ended(Outcome::failed(failure::cancelled()), started.elapsed()),
                _ = self.shutdown.cancelled() => return ended(Outcome::failed(failure::shut_down()), started.elapsed()),
            },
        };
        if self.saturated_by_stuck_threads() {
            let refusal = failure::refused_for_stuck_threads(self.stuck_threads(), self.config.limits.max_abandoned);
            return ended(Outcome::failed(refusal), queued);
        }
        let client_stuck = self.client_stuck(&request.client);
        let stuck_for_client = client_stuck.load(Ordering::SeqCst);
        if stuck_for_client >= self.config.limits.max_abandoned_per_client {
            let refusal = failure::refused_for_stuck_threads_of_client(stuck_for_client, self.config.limits.max_abandoned_per_client);
            return ended(Outcome::failed(refusal), queued);
        }
        let (control, mut reply) = match self.start(request) {
            Ok(started) => started,
            Err(failure) => return ended(Outcome::failed(failure), queued),
        };
        control.count_for_client(client_stuck);
        let mut guard = StopOnDrop(Some(control.clone()));
        let mut memory_checks = tokio::time::interval(memory::CHECK_EVERY);
        memory_checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        loop {
            tokio::select! {
                outcome = &mut reply => {
                    guard.0 = None;
                    let outcome = outcome.unwrap_or_else(|_| Outcome::failed(failure::internal("the execution thread ended without a result")));
                    return ended(outcome, queued);
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    control.stop(StopReason::Timeout);
                    break;
                }
                _ = cancel.cancelled() => {
                    control.stop(StopReason::Cancelled);
                    break;
                }
                _ = self.shutdown.cancelled() => {
                    control.stop(StopReason::ShutDown);
                    break;
                }
                fault = control.faulted() => {
                    // The thread is parked for good (`fault.rs`): answer now, count it as stuck.
                    guard.0 = None;
                    let stuck = control.abandon();
                    tracing::error!(stuck, "the engine faulted on an execution thread: {fault:?}");
                    let limit_mb = self.config.limits.max_memory_bytes >> 20;
                    return ended(Outcome::failed(failure::engine_fault(&fault, limit_mb)), queued);
                }
                _ = memory_checks.tick() => control.check_memory(),
            }
        }
        guard.0 = None;
        match tokio::time::timeout(ABANDON_GRACE, reply).await {
            Ok(Ok(outcome)) => ended(outcome, queued),
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
                ended(Outcome::failed(failure::abandoned(timeout)), queued)
            }
        }
    }

    /// Hands the request to a warm worker; one whose thread died while bootstrapping gives the
    /// job back, and another is tried.
    fn start(&self, request: ExecRequest) -> Result<(Arc<Control>, oneshot::Receiver<Outcome>), Failure> {
        let (reply, receiver) = oneshot::channel();
        let mut job = Job { request, reply };
        for _ in 0..3 {
            let warm = self.pool.take().map_err(|e| failure::internal(format!("cannot start an execution thread: {e}")))?;
            let control = warm.control.clone();
            match warm.start(job) {
                Ok(()) => return Ok((control, receiver)),
                Err(returned) => job = returned,
            }
        }
        Err(failure::internal("execution threads keep failing to start"))
    }
}
