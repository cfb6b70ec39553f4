//! Memory outside V8's JS heap, held to the execution's cap, and the execution's peak.
//!
//! The heap limit (`engine::create_params`) bounds JS objects only. Memory outside the heap is
//! held to the same cap (`MCP_CONDUCTOR_MAX_MEMORY_MB`, counted separately) two ways:
//! - `ArrayBuffer` backing stores V8 allocates itself (`new ArrayBuffer`, typed arrays,
//!   `SharedArrayBuffer`s) go through the isolate's allocator: each worker gets a counting one,
//!   which refuses an allocation of [`SOFT_BYTES`] or more past the cap. V8 then collects
//!   garbage and retries (buffers that are garbage but not yet freed do not count against the
//!   code), and when it is still refused throws a `RangeError` at the allocation site; the
//!   execution ends with the memory result (measured: also when the code catches the error, a
//!   512 MiB buffer under a 64 MiB cap). Smaller requests are never refused: Rust code in Deno's
//!   ops that makes buffers through `v8::ArrayBuffer::new` (HTTP parsing, IPC) would abort the
//!   process on a refusal; the periodic check below stops such an execution instead.
//! - WebAssembly memories and resizable `ArrayBuffer`s are reserved and grown through V8's page
//!   allocator, and buffers Deno's ops hand to JS (`TextEncoder` output, file contents, `Blob`
//!   reads) are made from Rust memory: none of them passes the allocator, but all are counted
//!   in the heap's external memory. (One WebAssembly memory is also bounded by a V8 flag, see
//!   `engine::init`; resizable buffers' reservations by the glue, see `js/conductor.js`.) The
//!   supervisor has the isolate check that count every [`CHECK_EVERY`] (an interrupt, served at
//!   the next loop back-edge or call in JS or wasm); past the cap the isolate collects garbage
//!   and counts again, and if it is still past the cap the execution is stopped.
//!
//! - `Blob` parts are copies held in Rust, in the worker's own Blob store ([`BudgetedBlobs`]):
//!   each new part's bytes count until its last reference drops (a slice or a clone still
//!   holding a part keeps it counted; a slice's own length counts too, which can only over-count),
//!   and a part that takes the execution past the cap stops it at once.
//!
//! The same checks record the execution's peak (JS heap in use plus backing stores), which
//! `usage.peakMemory` reports.

use std::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use std::collections::HashSet;
use std::sync::Mutex;

use deno_core::url::Url;
use deno_core::v8;
use deno_runtime::deno_web::{Blob, BlobPart, BlobStore, BlobStoreTrait};
use uuid::Uuid;

use super::control::{Control, StopReason};

/// Allocations below this are never refused (see the module comment).
pub const SOFT_BYTES: usize = 1 << 20;

/// How often a running execution counts its memory outside the heap.
pub const CHECK_EVERY: Duration = Duration::from_millis(10);

/// The memory of one execution outside the JS heap, and its peak.
pub struct Budget {
    /// Bytes our allocator handed out and V8 has not freed yet.
    used: AtomicUsize,
    limit: usize,
    /// The largest JS heap + backing stores seen by a check.
    peak: AtomicU64,
    /// The allocator's last decision was a refusal (a later success clears it: V8's retry after
    /// a GC, or code that caught the `RangeError` and went on with less).
    refused: AtomicBool,
    /// Bytes held by the worker's Blob parts ([`BudgetedBlobs`]).
    blobs: AtomicUsize,
    control: Arc<Control>,
}

impl Budget {
    pub fn new(limit: usize, control: Arc<Control>) -> Arc<Budget> {
        Arc::new(Budget {
            used: AtomicUsize::new(0),
            limit,
            peak: AtomicU64::new(0),
            refused: AtomicBool::new(false),
            blobs: AtomicUsize::new(0),
            control,
        })
    }

    /// The largest JS heap in use plus backing-store bytes any check saw.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Whether a refusal stands.
    pub fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    /// Counts the isolate's memory now (on its thread) and records the peak. Past the cap it
    /// collects garbage first (buffers dropped but not yet freed count until then), and stops the
    /// execution if the live backing stores are still past it.
    pub fn check(&self, isolate: &mut v8::Isolate) {
        if self.count(isolate) > self.limit {
            isolate.low_memory_notification();
            if self.count(isolate) > self.limit {
                self.control.stop(StopReason::Memory);
            }
        }
    }

    /// Records the peak; returns the bytes held outside the heap.
    fn count(&self, isolate: &mut v8::Isolate) -> usize {
        // The heap's external memory: ArrayBuffers (resizable and op-made ones too), WebAssembly
        // memories, external strings. (HeapStatistics' `external_memory` leaves WebAssembly out;
        // a zero adjustment only reads the total.) SharedArrayBuffers are counted only by our
        // allocator.
        let external = isolate.adjust_amount_of_external_allocated_memory(0).max(0) as usize;
        let outside = external.max(self.used()) + self.blobs.load(Ordering::Relaxed);
        let heap = isolate.get_heap_statistics().used_heap_size();
        self.peak.fetch_max((heap + outside) as u64, Ordering::Relaxed);
        outside
    }

    /// Asks the isolate to run [`Budget::check`] at its next interrupt point. The budget lives as
    /// long as the isolate's allocator, so as long as any interrupt the isolate can still run.
    pub fn request_check(self: &Arc<Self>, isolate: &v8::IsolateHandle) {
        isolate.request_interrupt(check_on_interrupt, Arc::as_ptr(self) as *mut c_void);
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `len` bytes from the budget (small requests always), or records a refusal.
    fn reserve(&self, len: usize) -> bool {
        let taken = self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(len).filter(|total| *total <= self.limit || len < SOFT_BYTES)
        });
        self.refused.store(taken.is_err(), Ordering::Relaxed);
        taken.is_ok()
    }

    fn release(&self, len: usize) {
        self.used.fetch_sub(len, Ordering::AcqRel);
    }

    /// The isolate's ArrayBuffer allocator, drawing on this budget. V8 keeps the allocator
    /// (and so the budget) alive until the last backing store made by it is freed.
    pub fn allocator(self: &Arc<Self>) -> v8::UniqueRef<v8::Allocator> {
        static VTABLE: v8::RustAllocatorVtable<Budget> =
            v8::RustAllocatorVtable { allocate, allocate_uninitialized, free, drop: drop_budget };
        // SAFETY: the handle is a leaked `Arc<Budget>` that `drop_budget` takes back exactly once,
        // when V8 drops the allocator; the vtable's functions all expect a `Budget`.
        unsafe { v8::new_rust_allocator(Arc::into_raw(self.clone()), &VTABLE) }
    }
}

/// The worker's Blob store: deno_web's own, with every part it takes counted in the budget while
/// it lives (see the module docs).
#[derive(Debug)]
pub struct BudgetedBlobs {
    inner: BlobStore,
    budget: Arc<Budget>,
    /// Addresses of the live parts this store wrapped: a clone inserts the same part again.
    counted: Arc<Mutex<HashSet<usize>>>,
}

impl BudgetedBlobs {
    pub fn new(budget: Arc<Budget>) -> BudgetedBlobs {
        BudgetedBlobs { inner: BlobStore::default(), budget, counted: Arc::default() }
    }
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget").field("limit", &self.limit).finish_non_exhaustive()
    }
}

type Part = Arc<dyn BlobPart + Send + Sync>;

/// A Blob part whose bytes count in the budget until it drops.
#[derive(Debug)]
struct Counted {
    inner: Part,
    budget: Arc<Budget>,
    counted: Arc<Mutex<HashSet<usize>>>,
}

impl Counted {
    fn address(&self) -> usize {
        self as *const Counted as usize
    }
}

#[async_trait::async_trait]
impl BlobPart for Counted {
    async fn read<'a>(&'a self) -> &'a [u8] {
        self.inner.read().await
    }

    fn size(&self) -> usize {
        self.inner.size()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.budget.blobs.fetch_sub(self.inner.size(), Ordering::Relaxed);
        self.counted.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.address());
    }
}

impl BlobStoreTrait for BudgetedBlobs {
    fn insert_part(&self, part: Part) -> Uuid {
        let address = Arc::as_ptr(&part) as *const () as usize;
        let mut counted = self.counted.lock().unwrap_or_else(|e| e.into_inner());
        if counted.contains(&address) {
            drop(counted);
            return self.inner.insert_part(part);
        }
        let size = part.size();
        let held = self.budget.blobs.fetch_add(size, Ordering::Relaxed) + size;
        let wrapped = Arc::new(Counted { inner: part, budget: self.budget.clone(), counted: self.counted.clone() });
        counted.insert(wrapped.address());
        drop(counted);
        if held > self.budget.limit {
            self.budget.refused.store(true, Ordering::Relaxed);
            self.budget.control.stop(StopReason::Memory);
        }
        self.inner.insert_part(wrapped)
    }

    fn get_part(&self, id: &Uuid) -> Option<Part> {
        self.inner.get_part(id)
    }

    fn remove_part(&self, id: &Uuid) -> Option<Part> {
        self.inner.remove_part(id)
    }

    fn get_object_url(&self, url: Url) -> Option<Arc<Blob>> {
        self.inner.get_object_url(url)
    }

    fn insert_object_url(&self, blob: Blob, maybe_location: Option<Url>) -> Url {
        self.inner.insert_object_url(blob, maybe_location)
    }

    fn remove_object_url(&self, url: &Url) {
        self.inner.remove_object_url(url)
    }

    fn clear(&self) {
        self.inner.clear()
    }
}

unsafe extern "C" fn check_on_interrupt(isolate: v8::UnsafeRawIsolatePtr, budget: *mut c_void) {
    // SAFETY: V8 runs the interrupt on the isolate's thread, with the isolate alive and so the
    // budget its allocator holds (`request_check`).
    let (mut isolate, budget) = unsafe { (v8::Isolate::from_raw_isolate_ptr(isolate), &*(budget as *const Budget)) };
    budget.check(&mut isolate);
}

unsafe extern "C" fn allocate(budget: &Budget, len: usize) -> *mut c_void {
    // SAFETY: plain C allocation; V8 frees it through `free` below with the same length.
    reserved(budget, len, |size| unsafe { libc::calloc(size, 1) })
}

unsafe extern "C" fn allocate_uninitialized(budget: &Budget, len: usize) -> *mut c_void {
    // SAFETY: as above.
    reserved(budget, len, |size| unsafe { libc::malloc(size) })
}

/// `alloc`'s memory for `len` bytes taken from the budget (given back if `alloc` fails), or null.
fn reserved(budget: &Budget, len: usize, alloc: impl FnOnce(usize) -> *mut c_void) -> *mut c_void {
    if !budget.reserve(len) {
        return std::ptr::null_mut();
    }
    let data = alloc(len.max(1));
    if data.is_null() {
        budget.release(len);
    }
    data
}

unsafe extern "C" fn free(budget: &Budget, data: *mut c_void, len: usize) {
    // SAFETY: `data` came from `allocate`/`allocate_uninitialized` (V8 passes back their length).
    unsafe { libc::free(data) };
    budget.release(len);
}

unsafe extern "C" fn drop_budget(budget: *const Budget) {
    // SAFETY: the pointer is the one `Budget::allocator` leaked with `Arc::into_raw`.
    drop(unsafe { Arc::from_raw(budget) });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(limit: usize) -> Arc<Budget> {
        Budget::new(limit, Arc::new(Control::new(Arc::default())))
    }

    #[test]
    fn allocations_within_the_budget_are_counted_and_released() {
        let b = budget(1000);
        let p = unsafe { allocate(&b, 600) };
        assert!(!p.is_null());
        assert_eq!(b.used(), 600);
        unsafe { free(&b, p, 600) };
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn an_allocation_past_the_budget_is_refused_and_recorded() {
        let b = budget(4 * SOFT_BYTES);
        let p = unsafe { allocate_uninitialized(&b, 3 * SOFT_BYTES) };
        assert!(!p.is_null());
        assert!(unsafe { allocate(&b, 2 * SOFT_BYTES) }.is_null(), "past the budget");
        assert_eq!(b.used(), 3 * SOFT_BYTES, "a refusal takes nothing");
        assert!(b.refused());
        assert_eq!(b.control.reason(), None, "V8 retries after a GC: a refusal alone stops nothing");
        unsafe { free(&b, p, 3 * SOFT_BYTES) };
        assert!(unsafe { allocate(&b, usize::MAX) }.is_null(), "too large is a refusal");
        let q = unsafe { allocate(&b, SOFT_BYTES) };
        assert!(!b.refused(), "a later success clears the refusal");
        unsafe { free(&b, q, SOFT_BYTES) };
    }

    #[test]
    fn small_requests_are_never_refused() {
        let b = budget(1000);
        let p = unsafe { allocate(&b, 4096) };
        assert!(!p.is_null(), "Rust callers of ArrayBuffer::new abort on a refusal");
        assert!(!b.refused());
        unsafe { free(&b, p, 4096) };
    }
}
