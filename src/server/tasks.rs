//! MCP Tasks (the `io.modelcontextprotocol/tasks` extension, SEP-2663) for `run_deno_code`: a
//! client that declared the extension gets a task for each call instead of waiting on the
//! request; the execution runs as it would for a direct call, `tasks/get` reports `working` and
//! then the same result a direct call returns, `tasks/cancel` stops the execution (the path a
//! `notifications/cancelled` takes). rmcp's `TaskManager` keeps the lifecycle; this file adds
//! what a shared server needs:
//!
//! - a task belongs to the caller that created it ([`StateOwner`], as state handles do): another
//!   client asking for it gets "unknown task", as for an id that never existed;
//! - an execution that ends within [`ANSWER_DIRECTLY_WITHIN`] is answered directly, no task, and
//!   so is every call while `MCP_CONDUCTOR_TASK_MAX` tasks are kept (results stay in memory);
//! - `progress()` of the code becomes the task's `statusMessage` (the request that carried a
//!   progress token has already been answered);
//! - a task's result is kept `MCP_CONDUCTOR_TASK_TTL` after it ends, then dropped (`tasks/get`
//!   says it is unknown); rmcp also fails a task still running that long after its start, which
//!   no execution does (a startup check keeps the TTL above `MCP_CONDUCTOR_MAX_TIMEOUT`).
//!
//! Clients that did not declare the extension see no change. Tasks are kept in this process's
//! memory: a `tasks/get` that reaches another replica does not find them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, CreateTaskResult, GetTaskResult};
use rmcp::task_manager::{TaskContext, TaskExit, TaskManager, TaskOptions};

use crate::sandbox::{Progress, ProgressSink};
use crate::state::StateOwner;

/// How often clients are asked to poll (`pollIntervalMs`).
const POLL_INTERVAL_MS: u64 = 500;

/// An execution that ends within this long is answered directly, as the extension allows ("a
/// task-supporting tool MAY skip task creation" for a fast operation): no polling for the many
/// short calls, and clients that declare the extension without handling tasks for every tool
/// keep working for them.
pub const ANSWER_DIRECTLY_WITHIN: Duration = Duration::from_secs(1);

/// The longest status message kept (characters; `progress()`'s message is the code's).
const MAX_STATUS_CHARS: usize = 500;

/// Where the execution's `progress()` goes when it runs as a task: the task's status message
/// (the latest one is kept until the task exists). An extension of the call's context.
#[derive(Clone, Default)]
pub struct TaskStatus(Arc<Mutex<StatusTarget>>);

#[derive(Default)]
struct StatusTarget {
    task: Option<TaskContext>,
    latest: Option<String>,
}

impl TaskStatus {
    fn attach(&self, task: TaskContext) {
        let mut target = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(message) = target.latest.take() {
            task.set_status_message(message);
        }
        target.task = Some(task);
    }

    /// `progress(current, total?, message?)` as the task's status message: `3/10: page 3`.
    pub fn progress_sink(&self) -> ProgressSink {
        let target = self.0.clone();
        Arc::new(move |p: Progress| {
            let mut text = match p.total {
                Some(total) => format!("{}/{}", p.current, total),
                None => p.current.to_string(),
            };
            if let Some(message) = p.message {
                text = format!("{text}: {message}");
            }
            // Kept for the task's life, outside the execution's memory cap.
            let text = crate::text::cut_chars(&text, MAX_STATUS_CHARS);
            let mut target = target.lock().unwrap_or_else(|e| e.into_inner());
            match &target.task {
                Some(task) => task.set_status_message(text),
                None => target.latest = Some(text),
            }
        })
    }
}

pub struct Tasks {
    manager: TaskManager,
    /// Each task's owner and start. Forgotten two TTLs after the start, by when rmcp has dropped
    /// the task (it ends within a TTL of its start and is kept a TTL after its end).
    owners: Mutex<HashMap<String, (StateOwner, std::time::Instant)>>,
    ttl: Duration,
    /// `MCP_CONDUCTOR_TASK_MAX`: tasks kept at once (running, or finished and within the TTL).
    max: usize,
}

/// A tool call turned into a task's work: resolves to the call's result, or to how it ended.
pub type TaskWork = std::pin::Pin<Box<dyn std::future::Future<Output = Result<CallToolResponse, ErrorData>> + Send>>;

impl Tasks {
    pub fn new(ttl: Duration, max: usize) -> Arc<Tasks> {
        Arc::new(Tasks { manager: TaskManager::new(), owners: Mutex::default(), ttl, max })
    }

    /// The owners map, without the tasks rmcp has certainly dropped.
    fn owners(&self) -> std::sync::MutexGuard<'_, HashMap<String, (StateOwner, std::time::Instant)>> {
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        owners.retain(|_, (_, started)| started.elapsed() < self.ttl * 2);
        owners
    }

    /// Runs `work` (which gets the status its `progress()` goes to and a token that stops it)
    /// and answers directly when it ends within [`ANSWER_DIRECTLY_WITHIN`]; otherwise it goes on
    /// as a task of `owner`, which `tasks/cancel` stops. `request_cancelled` is the request's own
    /// cancellation, which stops it while the request is still open.
    pub async fn run(
        &self,
        owner: StateOwner,
        request_cancelled: tokio_util::sync::CancellationToken,
        work: impl FnOnce(TaskStatus, tokio_util::sync::CancellationToken) -> TaskWork,
    ) -> Result<CallToolResponse, ErrorData> {
        let stop = tokio_util::sync::CancellationToken::new();
        let status = TaskStatus::default();
        let mut running = tokio::spawn(work(status.clone(), stop.clone()));
        // Until a task holds it, the execution ends with this request (a client that goes away).
        let unheld = stop.clone().drop_guard();
        let joined = |joined: Result<Result<CallToolResponse, ErrorData>, tokio::task::JoinError>| {
            joined.unwrap_or_else(|e| Err(ErrorData::internal_error(format!("the execution's task ended: {e}"), None)))
        };
        tokio::select! {
            done = &mut running => return joined(done),
            () = request_cancelled.cancelled() => {
                stop.cancel();
                return joined(running.await);
            }
            () = tokio::time::sleep(ANSWER_DIRECTLY_WITHIN) => {}
        }
        let kept = self.owners().len();
        if kept >= self.max {
            // No room for another task: the call is answered when it ends, as a direct one.
            tracing::info!(kept, "task not created: MCP_CONDUCTOR_TASK_MAX reached, answering directly");
            let done = tokio::select! {
                done = &mut running => done,
                () = request_cancelled.cancelled() => {
                    stop.cancel();
                    running.await
                }
            };
            return joined(done);
        }
        unheld.disarm();
        let options = TaskOptions::new().with_ttl_ms(self.ttl.as_millis() as u64).with_poll_interval_ms(POLL_INTERVAL_MS);
        let task = self.manager.spawn(options, move |context| {
            Box::pin(async move {
                status.attach(context.clone());
                let response = tokio::select! {
                    done = &mut running => joined(done),
                    () = context.cancelled() => {
                        // The execution stops as for a cancelled request; its result is not kept.
                        stop.cancel();
                        let _ = running.await;
                        return Err(TaskExit::Cancelled);
                    }
                };
                match response {
                    Ok(CallToolResponse::Complete(result)) => Ok(result),
                    Ok(_) => Err(TaskExit::Error(ErrorData::internal_error("the tool did not complete", None))),
                    Err(error) => Err(TaskExit::Error(error)),
                }
            })
        });
        self.owners().insert(task.task_id.clone(), (owner, std::time::Instant::now()));
        Ok(CallToolResponse::Task(CreateTaskResult::new(task)))
    }

    /// Refuses a task id that is not `owner`'s exactly as one that does not exist.
    fn check(&self, task_id: &str, owner: &StateOwner) -> Result<(), ErrorData> {
        match self.owners().get(task_id) {
            Some((o, _)) if o == owner => Ok(()),
            _ => Err(self.unknown(task_id)),
        }
    }

    /// -32602, as the extension asks, saying how long tasks are kept.
    fn unknown(&self, task_id: &str) -> ErrorData {
        ErrorData::invalid_params(
            format!(
                "unknown task: {task_id} (a task's result is kept for {} after it ends, MCP_CONDUCTOR_TASK_TTL, and only \
                 for the client that started it)",
                crate::sandbox::human_duration(self.ttl)
            ),
            None,
        )
    }

    /// The manager's own "unknown task" (an expired one) in the words of [`Tasks::unknown`].
    fn known<T>(&self, task_id: &str, result: Result<T, ErrorData>) -> Result<T, ErrorData> {
        result.map_err(|e| if e.code == rmcp::model::ErrorCode::INVALID_PARAMS { self.unknown(task_id) } else { e })
    }

    pub fn get(&self, task_id: &str, owner: &StateOwner) -> Result<GetTaskResult, ErrorData> {
        self.check(task_id, owner)?;
        self.known(task_id, self.manager.get_task(task_id)).map(GetTaskResult::new)
    }

    pub fn cancel(&self, task_id: &str, owner: &StateOwner) -> Result<(), ErrorData> {
        self.check(task_id, owner)?;
        self.known(task_id, self.manager.cancel_task(task_id))
    }

    pub fn update(
        &self,
        task_id: &str,
        owner: &StateOwner,
        responses: impl IntoIterator<Item = (String, serde_json::Value)>,
    ) -> Result<(), ErrorData> {
        self.check(task_id, owner)?;
        self.known(task_id, self.manager.update_task(task_id, responses))
    }
}
