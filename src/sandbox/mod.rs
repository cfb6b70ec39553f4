//! One execution = one fresh OS thread with its own current-thread tokio runtime and a fresh
//! `MainWorker` built with a fresh permission container. Nothing survives an execution.
//!
//! Stopping: at the deadline (or on cancellation) the server terminates the isolate, which stops
//! busy loops, and wakes the worker's event loop, which stops idle waits. If the thread still
//! does not answer within [`ABANDON_GRACE`] (stuck in a blocking call), it is abandoned.

mod code;
mod control;
mod glue;
mod loader;
mod output;
pub mod permissions;
mod result;
mod worker;

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deno_core::error::{CoreError, CoreErrorKind, JsError};
use deno_core::{ModuleSpecifier, PollEventLoopOptions, v8};
use deno_runtime::worker::MainWorker;
use serde_json::{Map, Value};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

pub use code::{SyntaxError, prepare_execution};
pub use control::StopReason;
pub use output::Captured;
pub use permissions::PermissionSet;
pub use result::{ErrorType, Failure, Outcome, RunResultSchema};

use control::Control;
use loader::SandboxLoader;
use output::OutputLog;

/// How long a terminated execution may take to hand back its result before it is abandoned.
pub const ABANDON_GRACE: Duration = Duration::from_millis(200);
/// How long output drains may wait for their pipe to close after the worker is gone.
const DRAIN_GRACE: Duration = Duration::from_millis(50);
/// Engine code plus deep user recursion needs more than Rust's 2 MiB default.
const WORKER_STACK: usize = 16 << 20;

/// Everything an execution needs that is fixed for the server's lifetime.
pub struct SandboxConfig {
    pub workspace: PathBuf,
    pub permissions: PermissionSet,
    /// `no-remote` / `cached-only`.
    pub no_remote: bool,
    /// Globals every execution gets (`WORKSPACE_DIR`, `ROOT_DIR`, `PLAYBOOKS_DIR`, `PERMISSIONS`).
    pub base_globals: Map<String, Value>,
}

pub struct ExecRequest {
    pub code: String,
    pub timeout: Duration,
    /// Per-call globals (keys already validated as identifiers).
    pub globals: Map<String, Value>,
}

#[derive(Clone)]
pub struct Sandbox {
    config: Arc<SandboxConfig>,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Self {
        Self { config: Arc::new(config) }
    }

    pub async fn execute(&self, request: ExecRequest, cancel: CancellationToken) -> Outcome {
        let started = Instant::now();
        let deadline = started + request.timeout;
        let timeout_ms = request.timeout.as_millis();
        let control = Arc::new(Control::default());
        let (tx, rx) = oneshot::channel();
        let config = self.config.clone();
        let thread_control = control.clone();
        let spawned = std::thread::Builder::new()
            .name("deno-execution".into())
            .stack_size(WORKER_STACK)
            .spawn(move || {
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    run_on_thread(&config, request, &thread_control, deadline)
                }))
                .unwrap_or_else(|panic| Execution::internal(panic_message(&panic)));
                let _ = tx.send(outcome);
            });
        if let Err(e) = spawned {
            return Execution::internal(format!("could not start an execution thread: {e}"))
                .finish(started);
        }

        let mut rx = rx;
        tokio::select! {
            result = &mut rx => {
                return result.unwrap_or_else(|_| Execution::internal("execution thread vanished".into()))
                    .finish(started);
            }
            _ = tokio::time::sleep_until(deadline.into()) => control.stop(StopReason::Timeout),
            _ = cancel.cancelled() => control.stop(StopReason::Cancelled),
        }
        match tokio::time::timeout(ABANDON_GRACE, rx).await {
            Ok(Ok(execution)) => execution.finish(started),
            _ => {
                tracing::warn!("execution thread did not stop within {ABANDON_GRACE:?}; abandoned");
                Execution {
                    captured: Captured::default(),
                    result: Err(Failure::new(
                        ErrorType::Timeout,
                        format!(
                            "Execution timed out after {timeout_ms} ms and did not stop (blocked in a \
                             synchronous call); it was abandoned"
                        ),
                    )),
                    exit_code: None,
                }
                .finish(started)
            }
        }
    }
}

/// What the execution thread hands back; timing is added by the caller.
struct Execution {
    captured: Captured,
    result: Result<Value, Failure>,
    exit_code: Option<i32>,
}

impl Execution {
    fn internal(message: String) -> Self {
        Self {
            captured: Captured::default(),
            result: Err(Failure::new(ErrorType::Runtime, format!("Internal error: {message}"))),
            exit_code: None,
        }
    }

    fn finish(self, started: Instant) -> Outcome {
        Outcome {
            captured: self.captured,
            result: self.result,
            exit_code: self.exit_code,
            execution_time_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    format!("panic in execution: {text}")
}

/// Name of the module the user's code runs as (shows up in stack traces).
const MAIN_MODULE_NAME: &str = "$code.ts";

fn run_on_thread(
    config: &SandboxConfig,
    request: ExecRequest,
    control: &Arc<Control>,
    deadline: Instant,
) -> Execution {
    let main_url = ModuleSpecifier::from_file_path(config.workspace.join(MAIN_MODULE_NAME))
        .expect("workspace is absolute");
    let emitted = match prepare_execution(&request.code, &main_url) {
        Ok(emitted) => emitted,
        Err(SyntaxError(message)) => {
            return Execution {
                captured: Captured::default(),
                result: Err(Failure::new(ErrorType::Syntax, message)),
                exit_code: None,
            };
        }
    };

    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Execution::internal(format!("tokio runtime: {e}")),
    };
    let log = Arc::new(OutputLog::default());
    let mut globals = config.base_globals.clone();
    globals.extend(request.globals);

    let (result, exit_code, drains) = runtime.block_on(async {
        let permissions = config.permissions.container();
        let loader = Rc::new(SandboxLoader::new(permissions.clone(), config.no_remote));
        loader.register(&main_url, request.code.into(), emitted.source_map);
        let setup = worker::WorkerSetup {
            main_url: main_url.clone(),
            permissions,
            loader,
            log: log.clone(),
            globals_json: Value::Object(globals).to_string(),
        };
        let built = match worker::build(setup, control) {
            Ok(built) => built,
            Err(e) => return (Err(Failure::new(ErrorType::Runtime, format!("Internal error: {e}"))), None, None),
        };
        let mut worker = built.worker;

        let mut value = None;
        let run = run_module(&mut worker, &main_url, emitted.code, &mut value);
        let ended = tokio::select! {
            biased;
            ended = run => ended,
            _ = tokio::time::sleep_until(deadline.into()) => {
                control.stop(StopReason::Timeout);
                Err(Ended::Stopped)
            }
            _ = control.stopped() => Err(Ended::Stopped),
        };
        let exited = worker
            .js_runtime
            .op_state()
            .borrow()
            .try_borrow::<deno_runtime::deno_os::WatcherExited>()
            .is_some();
        let exit_code = exited.then(|| worker.exit_code());
        let result = classify(ended, value, exit_code, control.reason(), request.timeout);
        drop(worker);
        (result, exit_code, Some(built.drains))
    });
    for drain in drains.into_iter().flatten() {
        drain.wait(DRAIN_GRACE);
    }
    Execution { captured: log.finish(), result, exit_code }
}

/// How `run_module` ended when it did not produce a value.
enum Ended {
    /// Stopped from outside (timeout, cancel, unstable API) or by `Deno.exit()`.
    Stopped,
    /// The module failed to load (imports, engine syntax errors).
    Load(CoreError),
    /// The code threw, or the event loop failed.
    Run(CoreError),
}

/// Loads and evaluates the wrapped module, awaits its result (stored in `value` as soon as it
/// settles), then runs the event loop until nothing is left (pending timers and I/O finish, as
/// under `deno run`).
async fn run_module(
    worker: &mut MainWorker,
    main_url: &ModuleSpecifier,
    code: String,
    value: &mut Option<Value>,
) -> Result<(), Ended> {
    worker
        .execute_script("[mcp-conductor:setup]", deno_core::ascii_str!(r#"globalThis[Symbol.for("mcp-conductor")].setup()"#).into())
        .map_err(|e| Ended::Load(CoreErrorKind::Js(e).into_box()))?;
    let id = worker
        .js_runtime
        .load_main_es_module_from_code(main_url, code)
        .await
        .map_err(Ended::Load)?;
    worker.evaluate_module(id).await.map_err(Ended::Run)?;

    let namespace = worker.js_runtime.get_module_namespace(id).map_err(Ended::Run)?;
    let promise = {
        deno_core::scope!(scope, &mut worker.js_runtime);
        let namespace = v8::Local::new(scope, namespace);
        let key = v8::String::new(scope, "default").expect("string");
        let promise = namespace.get(scope, key.into()).expect("default export");
        v8::Global::new(scope, promise)
    };
    let resolve = worker.js_runtime.resolve(promise);
    let json = worker
        .js_runtime
        .with_event_loop_promise(resolve, PollEventLoopOptions::default())
        .await
        .map_err(Ended::Run)?;
    let json = {
        deno_core::scope!(scope, &mut worker.js_runtime);
        v8::Local::new(scope, json).to_rust_string_lossy(scope)
    };
    *value = Some(serde_json::from_str(&json).unwrap_or(Value::String(json)));
    worker.run_event_loop(false).await.map_err(Ended::Run)
}

fn classify(
    ended: Result<(), Ended>,
    value: Option<Value>,
    exit_code: Option<i32>,
    stop: Option<StopReason>,
    timeout: Duration,
) -> Result<Value, Failure> {
    let timeout_ms = timeout.as_millis();
    if let Some(code) = exit_code {
        return if code == 0 {
            Ok(value.unwrap_or(Value::Null))
        } else {
            Err(Failure::new(ErrorType::Exit, format!("Deno.exit({code}) was called: the execution ended with exit code {code}")))
        };
    }
    match stop {
        Some(StopReason::Unstable { feature, api }) => {
            return Err(Failure::new(
                ErrorType::Runtime,
                format!("'{api}' is an unstable Deno API (feature '{feature}'); unstable APIs are not enabled in this sandbox"),
            ));
        }
        Some(StopReason::Timeout) => {
            let detail = if value.is_some() {
                ": the result was ready, but the code left work pending (timers, intervals, open \
                 connections); stop them before returning"
            } else {
                ""
            };
            return Err(Failure::new(ErrorType::Timeout, format!("Execution timed out after {timeout_ms} ms{detail}")));
        }
        Some(StopReason::Cancelled) => {
            return Err(Failure::new(ErrorType::Runtime, "Execution cancelled by the client"));
        }
        None => {}
    }
    match ended {
        Ok(()) => Ok(value.unwrap_or(Value::Null)),
        Err(Ended::Stopped) => Err(Failure::new(ErrorType::Runtime, "Execution stopped")),
        Err(Ended::Load(e)) => Err(core_failure(e, true)),
        Err(Ended::Run(e)) => Err(core_failure(e, false)),
    }
}

fn core_failure(error: CoreError, loading: bool) -> Failure {
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
    } else if loading && name == "SyntaxError" {
        ErrorType::Syntax
    } else {
        ErrorType::Runtime
    };
    let message = if error_type == ErrorType::Permission {
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
    deno_runtime::fmt_errors::format_js_error(&error, None)
}

/// Drops the frames of our wrapper: the glue's `run` and the module body that called it. Frames
/// above them are the user's (and Deno's); callbacks (timers, I/O) never pass through them.
fn trim_glue_frames(error: &mut JsError) {
    if let Some(glue) = error
        .frames
        .iter()
        .position(|f| f.file_name.as_deref().is_some_and(|n| n.starts_with("ext:mcp_conductor/")))
    {
        error.frames.truncate(glue);
        if error.source_line_frame_index.is_some_and(|i| i >= glue) {
            error.source_line_frame_index = None;
            error.source_line = None;
        }
    }
    if let Some(cause) = error.cause.as_deref_mut() {
        trim_glue_frames(cause);
    }
}

fn is_permission_error(name: &str, message: &str) -> bool {
    matches!(name, "NotCapable" | "PermissionDenied")
        || (message.contains("Requires ") && message.contains(" access to "))
}
