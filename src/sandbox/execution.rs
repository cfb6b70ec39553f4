//! The execution thread's side: a worker bootstrapped ahead of its job (see `pool.rs`), then
//! one job run on it, then the thread ends. Nothing survives an execution.

use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deno_core::error::{CoreError, CoreErrorKind, JsError};
use deno_core::futures::FutureExt;
use deno_core::{ModuleSpecifier, PollEventLoopOptions, v8};
use deno_runtime::worker::MainWorker;
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use super::code::{SyntaxError, prepare_execution};
use super::children;
use super::control::{Control, StopReason};
use super::glue::{Attachment, Attachments, JobGlobals, JobProgress, SpawnedChildren};
use super::usage::{Meter, Usage};
use super::loader::SandboxLoader;
use super::output::{Captured, OutputLog};
use super::result::{ErrorType, Failure};
use super::worker::{self, WorkerSetup};
use super::{ExecRequest, SandboxConfig};

/// How long collecting the last pipe output may take (it is normally immediate).
const DRAIN_GRACE: Duration = Duration::from_millis(50);

/// Name of the module the user's code runs as (shows up in stack traces).
const MAIN_MODULE_NAME: &str = "$code.ts";

pub struct Job {
    pub request: ExecRequest,
    pub deadline: Instant,
    pub reply: oneshot::Sender<Execution>,
}

/// What the execution thread hands back; timing is added by the caller.
pub struct Execution {
    pub captured: Captured,
    pub result: Result<Value, Failure>,
    pub exit_code: Option<i32>,
    /// (path, bytes) of a return value written to a file for being too large.
    pub return_file: Option<(String, usize)>,
    /// What `mcp.image/audio/file` added.
    pub attachments: Vec<Attachment>,
    /// CPU, memory and wall time of the job (absent when no code ran).
    pub usage: Option<Usage>,
}

impl Execution {
    pub fn failed(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self {
            captured: Captured::default(),
            result: Err(Failure::new(error_type, message)),
            exit_code: None,
            return_file: None,
            attachments: Vec::new(),
            usage: None,
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::failed(ErrorType::Runtime, format!("Internal error: {message}"))
    }
}

/// Body of an execution thread: bootstrap a worker, wait for the job, run it, reply.
pub fn thread_main(config: Arc<SandboxConfig>, control: Arc<Control>, jobs: oneshot::Receiver<Job>) {
    control.set_thread(children::current_thread());
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            if let Ok(job) = jobs.blocking_recv() {
                let _ = job.reply.send(Execution::internal(format!("tokio runtime: {e}")));
            }
            return;
        }
    };
    runtime.block_on(async {
        let main_url = ModuleSpecifier::from_file_path(config.workspace.join(MAIN_MODULE_NAME))
            .expect("workspace is absolute");
        let log = Arc::new(OutputLog::new(config.limits.max_output_bytes));
        let permissions = config.permissions.container();
        let packages_rule = config.permissions.packages_rule().clone();
        let loader = Rc::new(SandboxLoader::new(
            permissions.clone(),
            config.no_remote,
            config.playbooks.clone(),
            Some(config.packages.clone()),
            packages_rule.clone(),
        ));
        let setup = WorkerSetup {
            max_heap_bytes: config.limits.max_memory_bytes,
            main_url: main_url.clone(),
            permissions,
            loader: loader.clone(),
            log: log.clone(),
            host: config.host.clone(),
            root_certs: config.root_certs.clone(),
            packages: config.packages.shared_resolver(),
            packages_rule,
        };
        let bootstrap = Instant::now();
        let mut built = worker::build(setup, &control);
        if let Ok(ready) = &mut built
            && let Err(e) = warm_up(&mut ready.worker, &config.base_globals).await
        {
            // Never run code in a worker the glue could not harden.
            tracing::error!("worker warm-up failed: {e}");
            built = Err(std::io::Error::other(format!("the sandbox could not be prepared: {e}")));
        }
        tracing::debug!(ready_us = bootstrap.elapsed().as_micros() as u64, "worker ready");

        let Ok(job) = jobs.await else {
            return; // the pool was dropped: the server is shutting down
        };
        let built = match built {
            Ok(built) => built,
            // Stopped while it was still warming up (a very short timeout, a cancel): that is
            // the result, not the interrupted warm-up.
            Err(_) if control.reason().is_some() => {
                let mb = config.limits.max_memory_bytes >> 20;
                let result = classify(Err(Ended::Stopped), None, None, control.reason(), job.request.timeout, mb);
                let _ = job.reply.send(Execution {
                    captured: log.finish(),
                    result,
                    exit_code: None,
                    return_file: None,
                    attachments: Vec::new(),
                    usage: None,
                });
                return;
            }
            Err(e) => {
                let _ = job.reply.send(Execution::internal(format!("worker: {e}")));
                return;
            }
        };
        let mut worker = built.worker;
        let mut job = job;
        if let Some(sink) = job.request.lines.take() {
            log.set_line_sink(sink);
        }
        let max_bytes = config.limits.max_content_bytes;
        worker.js_runtime.op_state().borrow_mut().put(Attachments { max_bytes, ..Default::default() });
        let heap = config.limits.max_memory_bytes;
        let meter = Meter::start();
        let run = run_job(&mut worker, &control, &loader, &main_url, job.request, job.deadline, heap);
        let (result, exit_code) = AssertUnwindSafe(run)
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| (Err(Failure::new(ErrorType::Runtime, panic_message(&*panic))), None));
        // A syntax error ran no code: no usage.
        let ran = !matches!(&result, Err(f) if f.error_type == ErrorType::Syntax);
        let usage = meter.finish();
        let usage = ran.then_some(usage);
        for drain in built.drains {
            drain.flush(DRAIN_GRACE);
        }
        let attached = worker.js_runtime.op_state().borrow_mut().try_take::<Attachments>().unwrap_or_default();
        // Past the cap the call is an error, never a partial set of images.
        let (result, attachments) = match attached.overflow {
            Some(message) => (Err(Failure::new(ErrorType::Limit, message)), Vec::new()),
            None => (result, attached.items),
        };
        let (result, return_file) = spill_large_value(result, &config);
        // Reply first: tearing the isolate down takes milliseconds nobody should wait for.
        let _ = job.reply.send(Execution { captured: log.finish(), result, exit_code, return_file, attachments, usage });
        let spawned = std::mem::take(&mut worker.js_runtime.op_state().borrow_mut().borrow_mut::<SpawnedChildren>().0);
        drop(worker);
        children::kill(&spawned);
        // Processes this thread started that nobody tracked (outputSync(), output()...).
        children::kill_thread_children(children::current_thread());
    });
}

/// A return value above `MCP_CONDUCTOR_MAX_RETURN_BYTES` is written to
/// `<workspace>/mcp-conductor-results/` and replaced by a note naming the file.
fn spill_large_value(
    result: Result<Value, Failure>,
    config: &SandboxConfig,
) -> (Result<Value, Failure>, Option<(String, usize)>) {
    let Ok(value) = result else { return (result, None) };
    let text = value.to_string();
    if text.len() <= config.limits.max_return_bytes {
        return (Ok(value), None);
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let dir = config.workspace.join("mcp-conductor-results");
    let path = dir.join(format!("result-{stamp}-{}.json", crate::unique::unique_suffix()));
    let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &text));
    match written {
        Ok(()) => {
            let shown = path.display().to_string();
            let note = format!(
                "[return value of {} bytes written to {shown}: larger than MCP_CONDUCTOR_MAX_RETURN_BYTES ({})]",
                text.len(),
                config.limits.max_return_bytes
            );
            (Ok(Value::String(note)), Some((shown, text.len())))
        }
        Err(e) => (
            Err(Failure::new(
                ErrorType::Runtime,
                format!("The return value ({} bytes) is too large to send and could not be written to {}: {e}", text.len(), path.display()),
            )),
            None,
        ),
    }
}

pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    format!("Internal error: panic in execution: {text}")
}

async fn run_job(
    worker: &mut MainWorker,
    control: &Control,
    loader: &SandboxLoader,
    main_url: &ModuleSpecifier,
    request: ExecRequest,
    deadline: Instant,
    max_heap_bytes: usize,
) -> (Result<Value, Failure>, Option<i32>) {
    let job_started = Instant::now();
    let emitted = match prepare_execution(&request.code, main_url) {
        Ok(emitted) => emitted,
        Err(SyntaxError(message)) => return (Err(Failure::new(ErrorType::Syntax, message)), None),
    };
    loader.register(main_url, request.code.into(), emitted.source_map);
    if let Some(sink) = request.progress {
        worker.js_runtime.op_state().borrow_mut().put(JobProgress(sink));
    }
    if !request.globals.is_empty()
        && let Err(e) = define_globals(worker, &request.globals)
    {
        return (Err(core_failure(CoreErrorKind::Js(e).into_box(), true)), None);
    }
    let prepared = Instant::now();

    let mut value = None;
    let ended = tokio::select! {
        biased;
        ended = run_module(worker, main_url, emitted.code, &mut value) => ended,
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
    tracing::debug!(
        prepare_us = prepared.duration_since(job_started).as_micros() as u64,
        run_us = prepared.elapsed().as_micros() as u64,
        "execution phases"
    );
    (classify(ended, value, exit_code, control.reason(), request.timeout, max_heap_bytes >> 20), exit_code)
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

/// Work every execution needs, done while the worker waits for its job: the glue's hardening
/// (once per worker), the server's globals,
/// the first use of the module-loading path (about 1.5 ms on QuickJS, most of a small call), and
/// collecting the bootstrap's garbage. The module loaded is an empty `data:` URL: importing it
/// again yields the same empty module, so no state a job could observe differs.
async fn warm_up(worker: &mut MainWorker, base_globals: &Map<String, Value>) -> Result<(), CoreError> {
    worker
        .execute_script(
            "[mcp-conductor:harden]",
            deno_core::ascii_str!(r#"globalThis[Symbol.for("mcp-conductor")].harden()"#).into(),
        )
        .map_err(|e| CoreErrorKind::Js(e).into_box())?;
    define_globals(worker, base_globals).map_err(|e| CoreErrorKind::Js(e).into_box())?;
    let empty = ModuleSpecifier::parse("data:text/javascript,export%20default%200").expect("valid url");
    let id = worker.js_runtime.load_side_es_module_from_code(&empty, deno_core::ascii_str!("export default 0;")).await?;
    worker.evaluate_module(id).await?;
    worker.js_runtime.v8_isolate().low_memory_notification();
    Ok(())
}

/// Defines `globals` on globalThis through the glue's `setup()`.
fn define_globals(worker: &mut MainWorker, globals: &Map<String, Value>) -> Result<(), Box<JsError>> {
    let json = Value::Object(globals.clone()).to_string();
    worker.js_runtime.op_state().borrow_mut().put(JobGlobals(json));
    worker
        .execute_script(
            "[mcp-conductor:setup]",
            deno_core::ascii_str!(r#"globalThis[Symbol.for("mcp-conductor")].setup()"#).into(),
        )
        .map(drop)
}

/// Loads and evaluates the wrapped module, awaits its result (stored in
/// `value` as soon as it settles), then runs the event loop until nothing is left (pending
/// timers and I/O finish, as under `deno run`).
async fn run_module(
    worker: &mut MainWorker,
    main_url: &ModuleSpecifier,
    code: String,
    value: &mut Option<Value>,
) -> Result<(), Ended> {
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
    limits_mb: usize,
) -> Result<Value, Failure> {
    let timeout_ms = timeout.as_millis();
    if let Some(code) = exit_code {
        return if code == 0 {
            Ok(value.unwrap_or(Value::Null))
        } else {
            Err(Failure::new(
                ErrorType::Exit,
                format!("Deno.exit({code}) was called: the execution ended with exit code {code}"),
            ))
        };
    }
    match stop {
        Some(StopReason::Unstable { feature, api }) => {
            return Err(Failure::new(
                ErrorType::Runtime,
                format!(
                    "'{api}' is an unstable Deno API (feature '{feature}'); unstable APIs are not enabled in this sandbox"
                ),
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
        Some(StopReason::Memory) => {
            return Err(Failure::new(
                ErrorType::Memory,
                format!("Execution ran out of memory: it reached the limit of {} MB (MCP_CONDUCTOR_MAX_MEMORY_MB)", limits_mb),
            ));
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
    } else if is_memory_error(&message) {
        ErrorType::Memory
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

/// Drops the frames of our glue: everything from its `run` (the glue's call of the user's code
/// and the module body that made it) down, and glue wrappers elsewhere (e.g. of `Deno.umask`).
/// What remains is the user's frames and Deno's; callbacks (timers, I/O) never pass `run`.
fn trim_glue_frames(error: &mut JsError) {
    let is_glue = |f: &deno_core::error::JsStackFrame| {
        f.file_name.as_deref().is_some_and(|n| n.starts_with("ext:mcp_conductor/"))
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
    matches!(name, "NotCapable" | "PermissionDenied") || (message.contains("Requires ") && message.contains(" access to "))
}
