//! Why an execution failed, in words a user can act on: every "timed out", "cancelled",
//! "out of memory" message is built here, and engine errors are classified here.

use std::time::Duration;

use deno_core::error::{CoreError, CoreErrorKind, JsError};
use serde_json::Value;

use super::control::{Fault, StopReason};
use super::result::{ErrorType, Failure, cap_error_text};

/// How the job's module ended when it did not produce a value.
pub enum Ended {
    /// Stopped from outside (timeout, cancel, unstable API) or by `Deno.exit()`.
    Stopped,
    /// The module failed to load (imports, engine syntax errors).
    Load(CoreError),
    /// The code threw, or the event loop failed.
    Run(CoreError),
}

pub fn timed_out(timeout: Duration) -> Failure {
    Failure::new(ErrorType::Timeout, format!("Execution timed out after {} ms", timeout.as_millis()))
}

/// The result was ready but pending timers or I/O kept the event loop alive to the deadline.
pub fn timed_out_with_work_pending(timeout: Duration) -> Failure {
    Failure::new(
        ErrorType::Timeout,
        format!(
            "Execution timed out after {} ms: the result was ready, but the code left work pending \
             (timers, intervals, open connections); stop them before returning",
            timeout.as_millis()
        ),
    )
}

pub fn timed_out_waiting_for_slot(timeout: Duration) -> Failure {
    Failure::new(
        ErrorType::Timeout,
        format!(
            "Execution timed out after {} ms while waiting for a free slot (MCP_CONDUCTOR_MAX_CONCURRENCY)",
            timeout.as_millis()
        ),
    )
}

/// The thread did not stop within the grace period (a blocking call) and was left behind.
pub fn abandoned(timeout: Duration) -> Failure {
    Failure::new(
        ErrorType::Timeout,
        format!(
            "Execution timed out after {} ms and did not stop (blocked in a synchronous call); it was abandoned",
            timeout.as_millis()
        ),
    )
}

/// The engine faulted on the execution's thread (`fault.rs`); the server goes on.
pub fn engine_fault(fault: &Fault, limit_mb: usize) -> Failure {
    match fault {
        Fault::Panic(what) => Failure::new(
            ErrorType::Runtime,
            format!(
                "The execution ended on an internal engine fault ({what}); the server goes on. \
                 Please report this with the code that caused it."
            ),
        ),
        Fault::OutOfMemory(what) => Failure::new(
            ErrorType::Memory,
            format!(
                "Execution ran out of memory inside the engine ({what}) with the limit at {limit_mb} MB \
                 (MCP_CONDUCTOR_MAX_MEMORY_MB); the server goes on"
            ),
        ),
    }
}

pub fn shut_down() -> Failure {
    Failure::new(
        ErrorType::Runtime,
        "The server shut down before the execution finished (MCP_CONDUCTOR_HTTP_SHUTDOWN_TIMEOUT reached \
         while draining); nothing was kept: run it again, it will reach a server that is up",
    )
}

pub fn cancelled() -> Failure {
    Failure::new(ErrorType::Runtime, "Execution cancelled by the client")
}

pub fn refused_for_stuck_threads(stuck: usize, max_stuck: usize) -> Failure {
    Failure::new(
        ErrorType::Runtime,
        format!(
            "The server refuses new executions: {stuck} earlier executions are stuck in blocking \
             calls and could not be stopped (limit MCP_CONDUCTOR_MAX_ABANDONED = {max_stuck}). They \
             are released when their blocking call returns; raise the limit or restart the server."
        ),
    )
}

pub fn refused_for_stuck_threads_of_client(stuck: usize, max_stuck: usize) -> Failure {
    Failure::new(
        ErrorType::Runtime,
        format!(
            "This client's new executions are refused: {stuck} of its earlier executions are stuck in \
             blocking calls and could not be stopped (limit MCP_CONDUCTOR_MAX_ABANDONED_PER_CLIENT = \
             {max_stuck}). They are released when their blocking call returns; other clients are not \
             affected."
        ),
    )
}

pub fn out_of_memory(limit_mb: usize) -> Failure {
    Failure::new(
        ErrorType::Memory,
        format!("Execution ran out of memory: it reached the limit of {limit_mb} MB (MCP_CONDUCTOR_MAX_MEMORY_MB)"),
    )
}

pub fn internal(message: impl std::fmt::Display) -> Failure {
    Failure::new(ErrorType::Runtime, format!("Internal error: {message}"))
}

pub fn panicked(panic: &(dyn std::any::Any + Send)) -> Failure {
    let text = panic_text(panic).unwrap_or("unknown panic");
    internal(format!("panic in execution: {text}"))
}

/// A panic's message, when its payload is text.
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> Option<&str> {
    panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied())
}

/// The result of a stop by `reason` (the first one recorded wins).
pub fn stopped(reason: StopReason, timeout: Duration, limit_mb: usize, value_was_ready: bool) -> Failure {
    match reason {
        StopReason::Timeout if value_was_ready => timed_out_with_work_pending(timeout),
        StopReason::Timeout => timed_out(timeout),
        StopReason::Cancelled => cancelled(),
        StopReason::ShutDown => shut_down(),
        StopReason::Memory => out_of_memory(limit_mb),
        StopReason::Unstable { feature, api } => Failure::new(
            ErrorType::Runtime,
            format!("'{api}' is an unstable Deno API (feature '{feature}'); unstable APIs are not enabled in this sandbox"),
        ),
    }
}

/// The job's result from how its module ended, the value it produced, `Deno.exit()`, and the
/// reason it was stopped (which wins over what the interrupted code reported).
pub fn classify(
    ended: Result<(), Ended>,
    value: Option<Value>,
    exit_code: Option<i32>,
    stop: Option<StopReason>,
    timeout: Duration,
    limit_mb: usize,
) -> Result<Value, Failure> {
    if let Some(code) = exit_code {
        return if code == 0 {
            Ok(value.unwrap_or(Value::Null))
        } else {
            Err(Failure::new(
                ErrorType::Exit,
                format!("exit({code}) was called (Deno.exit or process.exit): the execution ended with exit code {code}"),
            ))
        };
    }
    if let Some(reason) = stop {
        return Err(stopped(reason, timeout, limit_mb, value.is_some()));
    }
    match ended {
        Ok(()) => Ok(value.unwrap_or(Value::Null)),
        Err(Ended::Stopped) => Err(Failure::new(ErrorType::Runtime, "Execution stopped")),
        Err(Ended::Load(e)) => Err(core_failure(e, true)),
        Err(Ended::Run(e)) => Err(core_failure(e, false)),
    }
}

pub fn core_failure(error: CoreError, loading: bool) -> Failure {
    if matches!(error.as_kind(), CoreErrorKind::PendingPromiseResolution) {
        return Failure::new(
            ErrorType::Timeout,
            "The code awaits a promise that can never settle (nothing is left in the event loop to \
             settle it); ended early instead of waiting for the timeout",
        );
    }
    let (name, message) = match error.as_kind() {
        CoreErrorKind::Js(js) => (js.name.clone().unwrap_or_default(), format_js_error(js)),
        _ => (deno_error::JsErrorClass::get_class(&error).to_string(), error.to_string()),
    };
    let error_type = if is_permission_error(&name, &message) {
        ErrorType::Permission
    } else if is_memory_error(&message) {
        ErrorType::Memory
    } else if loading && name == "SyntaxError" {
        ErrorType::Syntax
    } else {
        ErrorType::Runtime
    };
    let message = if error_type == ErrorType::Permission && message.contains(crate::egress::policy::REFUSED) {
        format!(
            "{message}\n(The egress policy is the server administrator's (MCP_CONDUCTOR_EGRESS); code cannot \
             change it.)"
        )
    } else if error_type == ErrorType::Permission {
        format!(
            "{message}\n(Permissions are fixed by the server's administrator through \
             MCP_CONDUCTOR_RUN_ARGS; the PERMISSIONS global lists what this sandbox allows.)"
        )
    } else {
        message
    };
    Failure::new(error_type, message)
}

fn format_js_error(error: &JsError) -> String {
    let mut error = error.clone();
    trim_glue_frames(&mut error);
    // Formatting copies the text several times: cut a huge thrown message first.
    cap_error_text(&mut error.exception_message);
    if let Some(message) = error.message.as_mut() {
        cap_error_text(message);
    }
    if let Some(stack) = error.stack.as_mut() {
        cap_error_text(stack);
    }
    let text = deno_runtime::fmt_errors::format_js_error(&error, None);
    // Deno's hint names a `deno run` flag; no setting of this server enables unstable APIs.
    text.lines()
        .map(|line| match line.trim_start().strip_prefix("hint: Run again with `--unstable-") {
            Some(_) => "    hint: unstable Deno APIs are not available in this sandbox (no server setting enables them).",
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Drops the frames of our glue: everything from its `run` (the glue's call of the user's code
/// and the module body that made it) down, and glue wrappers elsewhere (e.g. of `Deno.umask`).
/// What remains is the user's frames and Deno's; callbacks (timers, I/O) never pass `run`.
fn trim_glue_frames(error: &mut JsError) {
    let is_glue = |f: &deno_core::error::JsStackFrame| {
        f.file_name.as_deref().is_some_and(|n| n.starts_with(super::contract::GLUE_PREFIX))
    };
    let end = error
        .frames
        .iter()
        .position(|f| is_glue(f) && f.function_name.as_deref().is_some_and(|n| n == "run" || n.ends_with(".run")))
        .unwrap_or(error.frames.len());
    let source_frame = error.source_line_frame_index;
    let mut kept = Vec::with_capacity(end);
    let mut new_source_frame = None;
    for (i, frame) in error.frames.drain(..).enumerate().take(end) {
        if is_glue(&frame) {
            continue;
        }
        if source_frame == Some(i) {
            new_source_frame = Some(kept.len());
        }
        kept.push(frame);
    }
    error.frames = kept;
    error.source_line_frame_index = new_source_frame;
    if new_source_frame.is_none() {
        error.source_line = None;
    }
    if let Some(cause) = error.cause.as_deref_mut() {
        trim_glue_frames(cause);
    }
}

/// Allocation failures the engine reports as exceptions before the heap-limit callback fires.
fn is_memory_error(message: &str) -> bool {
    message.contains("out of memory") || message.contains("Array buffer allocation failed")
}

fn is_permission_error(name: &str, message: &str) -> bool {
    // A refusal can arrive re-wrapped (a failed dynamic import is a TypeError): its text decides.
    matches!(name, "NotCapable" | "PermissionDenied")
        || (message.contains("Requires ") && message.contains(" access to "))
        || message.contains(crate::egress::policy::REFUSED)
}
