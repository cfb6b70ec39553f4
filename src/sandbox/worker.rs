//! Building one `MainWorker` with every process-global footgun of deno_runtime turned off:
//! stdio never inherited, `Deno.exit()` ends only this isolate, unstable APIs never exit the
//! process, no prompts, no colors, node services present (ops that borrow them cannot panic),
//! no blocking `Atomics.wait`.

use std::fs::File;
use std::rc::Rc;
use std::sync::Arc;

use deno_core::ModuleSpecifier;
use deno_permissions::PermissionsContainer;
use deno_resolver::npm::{DenoInNpmPackageChecker, NpmResolver};
use deno_runtime::colors::ColorLevel;
use deno_runtime::deno_io::{Stdio, StdioPipe};
use deno_runtime::deno_os::WatcherExitHandle;
use deno_runtime::worker::{MainWorker, WorkerOptions, WorkerServiceOptions};
use deno_runtime::{BootstrapOptions, FeatureChecker};
use sys_traits::impls::RealSys;

use super::confined_fs::{ConfinedFs, PackagesRule};
use super::control::{Control, StopReason};
use super::glue::{self, GlueState};
use super::host::Host;
use super::loader::SandboxLoader;
use super::memory::{Budget, BudgetedBlobs};
use super::node_services;
use super::output::{Drain, OutputLog, Stream};
use super::snapshot;

pub struct WorkerSetup {
    pub max_heap_bytes: usize,
    pub main_url: ModuleSpecifier,
    pub permissions: PermissionsContainer,
    pub loader: Rc<SandboxLoader>,
    pub log: Arc<OutputLog>,
    pub host: Option<Arc<dyn Host>>,
    pub root_certs: Option<Arc<dyn deno_runtime::deno_tls::RootCertStoreProvider>>,
    /// Resolves `require()` in the packages directory.
    pub packages: Arc<crate::packages::resolver::Resolver>,
    pub packages_rule: PackagesRule,
}

/// The worker plus the threads draining its stdout/stderr pipes.
pub struct Built {
    pub worker: MainWorker,
    pub drains: [Drain; 2],
    /// Handed to the execution's `Control` once the worker is warm: a stop can terminate only
    /// the job's code, never the server's own warm-up (deno_core does not expect termination
    /// inside its lazy-loading paths and would panic).
    pub isolate: deno_core::v8::IsolateHandle,
    /// Memory outside the heap, and the peak (`memory.rs`).
    pub budget: Arc<Budget>,
}

pub fn build(setup: WorkerSetup, control: &Arc<Control>) -> std::io::Result<Built> {
    let (stdout_drain, stdout) = Drain::new(setup.log.clone(), Stream::Stdout)?;
    let (stderr_drain, stderr) = Drain::new(setup.log.clone(), Stream::Stderr)?;
    let stdio = Stdio {
        stdin: StdioPipe::file(File::open("/dev/null")?),
        stdout: StdioPipe::file(stdout),
        stderr: StdioPipe::file(stderr),
    };
    let drains = [stdout_drain, stderr_drain];

    let mut feature_checker = FeatureChecker::default();
    let on_unstable = control.clone();
    feature_checker.set_exit_cb(Box::new(move |feature, api| {
        on_unstable.stop(StopReason::Unstable { feature: feature.into(), api: api.into() });
    }));

    let budget = Budget::new(setup.max_heap_bytes, control.clone());
    control.watch_memory(Arc::downgrade(&budget));
    let services = WorkerServiceOptions::<DenoInNpmPackageChecker, NpmResolver<RealSys>, RealSys> {
        blob_store: Arc::new(BudgetedBlobs::new(budget.clone())),
        broadcast_channel: Default::default(),
        deno_rt_native_addon_loader: None,
        feature_checker: Arc::new(feature_checker),
        fs: Arc::new(ConfinedFs::new(setup.permissions.clone(), setup.packages_rule.clone(), setup.max_heap_bytes)),
        module_loader: setup.loader,
        node_services: Some(node_services::services(setup.permissions.clone(), setup.packages, setup.packages_rule)),
        npm_process_state_provider: None,
        permissions: setup.permissions,
        root_cert_store_provider: setup.root_certs,
        fetch_dns_resolver: Default::default(),
        // Without a store, deno_core does not detach transferred ArrayBuffers (postMessage,
        // structuredClone's transfer list), as `deno run` does.
        shared_array_buffer_store: Some(Default::default()),
        compiled_wasm_module_store: None,
        v8_code_cache: None,
        bundle_provider: None,
    };
    let log = setup.log;
    let print: glue::PrintSink = Box::new(move |is_err, text| {
        log.write(if is_err { Stream::Stderr } else { Stream::Stdout }, text)
    });
    let options = WorkerOptions {
        bootstrap: BootstrapOptions {
            color_level: ColorLevel::None,
            user_agent: concat!("mcp-conductor/", env!("CARGO_PKG_VERSION")).to_string(),
            // require() looks in a local node_modules (the packages directory's), never in
            // Deno's global npm cache.
            has_node_modules_dir: true,
            // `navigator.language`: ICU's default locale (from LANG), as `deno run` passes it.
            locale: deno_core::v8::icu::get_language_tag(),
            ..Default::default()
        },
        // The glue's JS is in the snapshot already.
        extensions: vec![glue::extension(GlueState { print, host: setup.host, memory_cap: setup.max_heap_bytes }, false)],
        startup_snapshot: Some(snapshot::SNAPSHOT),
        // The snapshot holds the same extensions, so their op functions already exist: binding
        // them again would only cost startup time.
        skip_op_registration: true,
        residual_lazy_js_sources: snapshot::RESIDUAL_LAZY_JS,
        residual_lazy_esm_sources: snapshot::RESIDUAL_LAZY_ESM,
        stdio,
        create_params: crate::engine::create_params(setup.max_heap_bytes, budget.allocator()),
        ..Default::default()
    };
    let mut worker = MainWorker::bootstrap_from_options(&setup.main_url, services, options);

    let on_limit = control.clone();
    worker.js_runtime.add_near_heap_limit_callback(move |current, initial| {
        tracing::debug!(current, initial, "execution at its heap limit: stopping it");
        on_limit.stop(StopReason::Memory);
        crate::engine::heap_limit_after_stop(current)
    });
    // V8's fatal out-of-memory exit parks this thread instead of aborting the process.
    worker.js_runtime.v8_isolate().set_oom_error_handler(super::fault::on_v8_out_of_memory);
    // `Atomics.wait` would block the thread where no termination can reach it: it throws instead.
    worker.js_runtime.v8_isolate().set_allow_atomics_wait(false);
    let isolate = worker.js_runtime.v8_isolate().thread_safe_handle();
    worker.js_runtime.op_state().borrow_mut().put(WatcherExitHandle(isolate.clone()));
    Ok(Built { worker, drains, isolate, budget })
}
