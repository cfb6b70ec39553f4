//! V8, the one engine: its process-wide platform, each isolate's parameters, and what the
//! near-heap-limit callback answers. Every engine-specific choice lives here.

use deno_core::v8;

/// The engine this binary runs code on (logged at startup, shown by the bench).
pub const NAME: &str = "v8";

/// Initializes V8's process-wide platform. The server calls it before anything starts a thread
/// that could run V8 (only jemalloc's background thread, which never runs V8, exists by then).
///
/// Why first: deno_core builds V8's *protected* platform. On CPUs with memory protection keys
/// (`pku` in /proc/cpuinfo) V8 guards its JIT code pages with a key, and a thread inherits its
/// access rights from the thread that created it: a thread created before the platform was
/// initialized lacks them and crashes the first time it runs JIT code (rusty_v8's FAQ; deno
/// #20495). Initialized here, every later thread (tokio's, V8's own workers, each execution
/// thread) descends from an initialized main thread, whatever the CPU.
///
/// Its flags bound what V8 reserves outside the ArrayBuffer allocator (`sandbox/memory.rs`
/// bounds the rest), set before the platform because V8 freezes its flags when it starts:
/// - one WebAssembly memory never exceeds the execution's memory cap: a module declaring a
///   larger maximum still instantiates, and `grow` past the cap fails as it would past V8's own
///   maximum;
/// - V8's check that aborts the process on one external-memory change of 32 GiB or more is off:
///   the execution's memory check stops such an execution instead;
/// - Turboshaft's loop unrolling is off: in V8 15.0 it can drop a loop's interrupt check, and
///   such a loop can never be terminated (measured: `while (true) { x = new Array(100).fill(1) }`
///   ran on past its timeout and was abandoned, and so did array-growth memory bombs; with the
///   flag every termination test passes). Unrolling is a small optimization.
pub fn init(max_memory_bytes: usize) {
    let wasm_pages = max_memory_bytes.div_ceil(WASM_PAGE).max(1);
    v8::V8::set_flags_from_string(&format!(
        "--wasm-max-mem-pages={wasm_pages} --external-memory-max-reasonable-size=0 \
         --no-turboshaft-loop-unrolling"
    ));
    deno_core::JsRuntime::init_platform(None);
}

/// An execution that held more than this (its peak memory, `usage.peakMemory`) releases V8's
/// page pool after its isolate is disposed ([`release_pooled_pages`]).
pub const RELEASE_POOL_ABOVE_BYTES: u64 = 64 << 20;

/// Returns the heap pages V8 keeps in its process-wide memory pool to the allocator.
///
/// A disposed isolate's pages go into that pool for the next isolate to reuse, which makes
/// worker starts cheaper (measured: `--no-memory-pool-share-memory-on-teardown` cost ~30% of
/// throughput at 64 concurrent `1+1`). But the pool is trimmed only by tasks that heap activity
/// schedules, and pages moved there at teardown schedule none: after a heap flood to the 256 MB
/// cap the server held 304 MB resident for as long as it stayed idle. So after an execution that
/// held more than [`RELEASE_POOL_ABOVE_BYTES`], its thread creates a bare isolate (no snapshot,
/// about a millisecond) and signals critical memory pressure, the one V8 API whose collection
/// empties the pool (`FreeCachesOnMemoryPressure`); pages in use by other isolates are untouched.
pub fn release_pooled_pages() {
    let mut isolate = v8::Isolate::new(v8::CreateParams::default());
    isolate.memory_pressure_notification(v8::MemoryPressureLevel::Critical);
}

/// WebAssembly's page size.
const WASM_PAGE: usize = 64 << 10;

/// For unit tests, whose test threads are not the main thread: V8's unprotected platform has no
/// per-thread key state.
#[cfg(test)]
pub fn init_for_tests() {
    let platform = v8::new_unprotected_default_platform(0, false).make_shared();
    deno_core::JsRuntime::init_platform(Some(platform));
}

/// Isolate parameters for each worker: the JS heap cap, and the allocator of ArrayBuffer
/// backing stores, which live outside the JS heap (`sandbox/memory.rs` holds them to the cap).
pub fn create_params(max_heap_bytes: usize, array_buffers: v8::UniqueRef<v8::Allocator>) -> Option<v8::CreateParams> {
    Some(v8::CreateParams::default().heap_limits(0, max_heap_bytes).array_buffer_allocator(array_buffers))
}

/// The heap limit the near-heap-limit callback returns once it has stopped the execution.
/// V8 aborts the whole process (fatal OOM) unless the callback raises the limit, so the
/// terminating isolate gets room to unwind; the termination ends it soon after.
pub fn heap_limit_after_stop(current: usize) -> usize {
    current.saturating_mul(2)
}
