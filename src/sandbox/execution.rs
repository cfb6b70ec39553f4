//! The execution thread's side: a worker bootstrapped ahead of its job (see `pool.rs`), then
//! one job run on it, then the thread ends. Nothing survives an execution. The thread runs until
//! its code ends or its `Control` stops it: deadlines are the supervisor's (`mod.rs`).

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
use super::control::Control;
use super::failure::{self, Ended, classify, core_failure};
use super::call_trace::CallTrace;
use super::state_slot::JobState;
use super::glue::{Attachments, JobGlobals, JobProgress, JobTrace, SpawnedChildren};
use super::job::{ExecRequest, Job, SandboxConfig};
use super::loader::SandboxLoader;
use super::output::OutputLog;
use super::result::{ErrorType, Failure, Outcome};
use super::results::{ClientId, human_duration};
use super::usage::{Meter, thread_cpu_ms};
use super::worker::{self, WorkerSetup};

/// How long collecting the last pipe output may take (it is normally immediate).
const DRAIN_GRACE: Duration = Duration::from_millis(50);

/// Name of the module the user's code runs as (shows up in stack traces).
const MAIN_MODULE_NAME: &str = "$code.ts";

/// Body of an execution thread: bootstrap a worker, wait for the job, run it, reply.
pub fn thread_main(config: Arc<SandboxConfig>, control: Arc<Control>, jobs: oneshot::Receiver<Job>) {
    let cpu_started = thread_cpu_ms();
    control.set_thread(children::current_thread());
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            if let Ok(job) = jobs.blocking_recv() {
                let _ = job.reply.send(Outcome::failed(failure::internal(format!("tokio runtime: {e}"))));
            }
            return;
        }
    };
    runtime.block_on(async {
        let main_url = ModuleSpecifier::from_file_path(config.workspace.join(MAIN_MODULE_NAME))
            .expect("workspace is absolute");
        let log = Arc::new(OutputLog::new(config.limits.max_output_bytes));
        let egress = config.egress.as_ref().map(|e| e.current());
        let permission_set = egress.as_ref().map_or(&config.permissions, |e| &e.permissions);
        let permissions = permission_set.container();
        let packages_rule = permission_set.packages_rule().clone();
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
        if let Ok(ready) = &mut built {
            super::egress_gate::install(&mut ready.worker, egress.as_ref().map(|e| e.policy.clone()));
        }
        let cpu_built = thread_cpu_ms();
        if let Ok(ready) = &mut built
            && let Err(e) = warm_up(&mut ready.worker, &globals_with(&config.base_globals, egress.as_deref())).await
        {
            // Never run code in a worker the glue could not harden.
            tracing::error!("worker warm-up failed: {e}");
            built = Err(std::io::Error::other(format!("the sandbox could not be prepared: {e}")));
        }
        if let Ok(ready) = &built {
            // From here on a stop terminates the isolate (one requested earlier takes effect now).
            control.attach(ready.isolate.clone());
        }
        tracing::debug!(ready_us = bootstrap.elapsed().as_micros() as u64, "worker ready");

        let cpu_ready = thread_cpu_ms();
        let Ok(job) = jobs.await else {
            return; // the pool was dropped: the server is shutting down
        };
        if let Some(now) = config.egress.as_ref().map(|e| e.current()) {
            super::egress_gate::refresh(now.policy.clone());
        }
        let built = match built {
            Ok(built) => built,
            // Stopped while it was still warming up (a very short timeout, a cancel): that is
            // the result, not the interrupted warm-up.
            Err(_) if control.reason().is_some() => {
                let mb = config.limits.max_memory_bytes >> 20;
                let result = classify(Err(Ended::Stopped), None, None, control.reason(), job.request.timeout, mb);
                let _ = job.reply.send(Outcome::new(log.finish(), result));
                return;
            }
            Err(e) => {
                let _ = job.reply.send(Outcome::failed(failure::internal(format!("worker: {e}"))));
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
        worker.js_runtime.op_state().borrow_mut().put(CallTrace::default());
        let heap = config.limits.max_memory_bytes;
        let meter = Meter::start();
        let client = job.request.client.clone();
        let run = run_job(&mut worker, &control, &loader, &main_url, job.request, heap);
        let (result, exit_code) =
            AssertUnwindSafe(run).catch_unwind().await.unwrap_or_else(|panic| (Err(failure::panicked(&*panic)), None));
        // An error after the allocator refused a buffer: the memory cap ended it (`memory.rs`).
        let result = match result {
            Err(f) if f.error_type == ErrorType::Runtime && built.budget.refused() => {
                Err(failure::out_of_memory(config.limits.max_memory_bytes >> 20))
            }
            other => other,
        };
        // A syntax error ran no code: no usage.
        let ran = !matches!(&result, Err(f) if f.error_type == ErrorType::Syntax);
        built.budget.check(worker.js_runtime.v8_isolate());
        let usage = meter.finish(built.budget.peak());
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
        let (calls, calls_omitted) =
            worker.js_runtime.op_state().borrow_mut().try_take::<CallTrace>().unwrap_or_default().finish();
        let (result, return_file) = spill_large_value(result, &config, &client);
        // Reply first: tearing the isolate down takes milliseconds nobody should wait for.
        let outcome = Outcome {
            exit_code,
            return_file,
            attachments,
            calls,
            calls_omitted,
            usage,
            ..Outcome::new(log.finish(), result)
        };
        let _ = job.reply.send(outcome);
        let cpu_replied = thread_cpu_ms();
        let spawned = std::mem::take(&mut worker.js_runtime.op_state().borrow_mut().borrow_mut::<SpawnedChildren>().0);
        drop(worker);
        // What a heavy execution held must not stay resident in V8's page pool (engine.rs).
        if built.budget.peak() > crate::engine::RELEASE_POOL_ABOVE_BYTES {
            crate::engine::release_pooled_pages();
        }
        children::kill(&spawned);
        // Processes this thread started that nobody tracked (outputSync(), output()...).
        children::kill_thread_children(children::current_thread());
        // The bench's CPU breakdown reads these (`MCP_CONDUCTOR_LOG=mcp_conductor::cpu=debug`).
        let us = |from: f64, to: f64| ((to - from) * 1000.0) as u64;
        tracing::debug!(
            target: "mcp_conductor::cpu",
            start_us = us(cpu_started, cpu_built),
            warm_up_us = us(cpu_built, cpu_ready),
            job_us = us(cpu_ready, cpu_replied),
            teardown_us = us(cpu_replied, thread_cpu_ms()),
            "worker cpu"
        );
    });
}

/// A return value above `MCP_CONDUCTOR_MAX_RETURN_BYTES` is kept in the server's results
/// directory (`results.rs`: one subdirectory per client, out of code's reach, deleted after
/// `MCP_CONDUCTOR_RESULTS_TTL`, within `MCP_CONDUCTOR_RESULTS_MAX_BYTES`) and replaced by a note
/// naming the file.
fn spill_large_value(
    result: Result<Value, Failure>,
    config: &SandboxConfig,
    client: &ClientId,
) -> (Result<Value, Failure>, Option<(String, usize)>) {
    let Ok(value) = result else { return (result, None) };
    let text = value.to_string();
    if text.len() <= config.limits.max_return_bytes {
        return (Ok(value), None);
    }
    match config.results.spill(client, &text) {
        Ok(path) => {
            let shown = path.display().to_string();
            let note = format!(
                "[return value of {} bytes written to {shown}: larger than MCP_CONDUCTOR_MAX_RETURN_BYTES ({}). The file \
                 is on the server, outside the sandbox (code cannot read it), and is deleted after {} \
                 (MCP_CONDUCTOR_RESULTS_TTL)]",
                text.len(),
                config.limits.max_return_bytes,
                human_duration(config.results.ttl())
            );
            (Ok(Value::String(note)), Some((shown, text.len())))
        }
        Err(failure) => (Err(failure), None),
    }
}

async fn run_job(
    worker: &mut MainWorker,
    control: &Control,
    loader: &SandboxLoader,
    main_url: &ModuleSpecifier,
    request: ExecRequest,
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
    if let Some(trace) = request.trace {
        worker.js_runtime.op_state().borrow_mut().put(JobTrace(trace));
    }
    if let Some(slot) = request.state {
        worker.js_runtime.op_state().borrow_mut().put(JobState(slot));
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

/// The server's globals, with `EGRESS` describing the policy in force (when there is one).
fn globals_with<'a>(base: &'a Map<String, Value>, egress: Option<&crate::egress::InForce>) -> std::borrow::Cow<'a, Map<String, Value>> {
    let Some(egress) = egress else { return std::borrow::Cow::Borrowed(base) };
    let rules: Vec<Value> = egress.policy.rules.iter().map(|r| Value::String(r.summary())).collect();
    let mut globals = base.clone();
    globals.insert(super::contract::EGRESS.into(), Value::Array(rules));
    // The flags as the policy narrowed them.
    globals.insert(super::contract::PERMISSIONS.into(), egress.run_args.flags().into());
    std::borrow::Cow::Owned(globals)
}

/// Work every execution needs, done while the worker waits for its job: the glue's hardening
/// (once per worker), the server's globals, and the first use of the module-loading path (most
/// of a small call's cost). The module loaded is an empty `data:` URL:
/// importing it again yields the same empty module, so no state a job could observe differs.
/// No GC here: it cost ~2 ms of CPU per execution (9% under load), the engine collects when
/// the job allocates enough, and the worker's whole heap is freed when the job ends.
async fn warm_up(worker: &mut MainWorker, base_globals: &Map<String, Value>) -> Result<(), CoreError> {
    worker
        .execute_script(
            "[mcp-conductor:harden]",
            deno_core::ascii_str!(crate::hook_call!("harden()")).into(),
        )
        .map_err(|e| CoreErrorKind::Js(e).into_box())?;
    define_globals(worker, base_globals).map_err(|e| CoreErrorKind::Js(e).into_box())?;
    let empty = ModuleSpecifier::parse("data:text/javascript,export%20default%200").expect("valid url");
    let id = worker.js_runtime.load_side_es_module_from_code(&empty, deno_core::ascii_str!("export default 0;")).await?;
    worker.evaluate_module(id).await?;
    Ok(())
}

/// Defines `globals` on globalThis through the glue's `setup()`.
fn define_globals(worker: &mut MainWorker, globals: &Map<String, Value>) -> Result<(), Box<JsError>> {
    let json = Value::Object(globals.clone()).to_string();
    worker.js_runtime.op_state().borrow_mut().put(JobGlobals(json));
    worker
        .execute_script(
            "[mcp-conductor:setup]",
            deno_core::ascii_str!(crate::hook_call!("setup()")).into(),
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
        // None only when the isolate is being terminated (the deadline hit right here).
        let Some(promise) = namespace.get(scope, key.into()) else { return Err(Ended::Stopped) };
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

