//! Everything that differs between the two JavaScript engines lives here.
//!
//! - `v8` (default): real V8 through the `v8` crate; JIT, heap snapshots.
//! - `quickjs`: QuickJS-ng through the `v8x` facade (same rusty_v8 API), builds offline.

#[cfg(all(feature = "v8", feature = "quickjs"))]
compile_error!(
    "features `v8` and `quickjs` are mutually exclusive: for QuickJS build with \
     `--no-default-features --features quickjs`"
);
#[cfg(not(any(feature = "v8", feature = "quickjs")))]
compile_error!("enable exactly one engine feature: `v8` (the default) or `quickjs`");

use deno_core::v8;

/// The engine this binary was built with.
pub const NAME: &str = if cfg!(feature = "v8") { "v8" } else { "quickjs" };

/// Initializes the engine's process-wide platform. Call once, early in `main`.
pub fn init() {
    deno_core::JsRuntime::init_platform(None);
}

/// Isolate parameters for each worker: the heap cap. On QuickJS the cap covers the whole
/// runtime (Deno's restored snapshot included, ~20 MB) and ArrayBuffer memory; on V8 it covers
/// the JS heap, and ArrayBuffer backing stores are outside it.
pub fn create_params(max_heap_bytes: usize) -> Option<v8::CreateParams> {
    Some(v8::CreateParams::default().heap_limits(0, max_heap_bytes))
}

/// The heap limit the near-heap-limit callback returns once it has stopped the execution.
/// V8 aborts the process unless the limit is raised, so it gets room to unwind. QuickJS
/// (v8x) keeps its limit: raised, the runaway code keeps allocating until the next interrupt
/// poll (up to 10,000 loop iterations later); kept, the next allocation fails at once and the
/// termination unwinds it. (Unwinding at the cap used to hit a double free in QuickJS's stack
/// trace builder: fixed in vendor/, patch 0001.)
pub fn heap_limit_after_stop(current: usize) -> usize {
    if cfg!(feature = "v8") { current * 2 } else { current }
}
