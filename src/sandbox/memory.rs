//! Memory outside V8's JS heap, held to the execution's cap.
//!
//! The heap limit (`engine::create_params`) bounds JS objects only. `ArrayBuffer` backing stores
//! (every typed array, `Blob` and `Buffer` contents read into JS, `TextEncoder` output...) are
//! allocated through the isolate's `ArrayBuffer::Allocator`: each worker gets its own counting
//! allocator, which refuses an allocation that would take the execution's backing stores past
//! `MCP_CONDUCTOR_MAX_MEMORY_MB` and stops the execution with a memory result. V8 turns the
//! refusal into a `RangeError` at the allocation site, never into a process abort.

use std::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use deno_core::v8;

use super::control::{Control, StopReason};

/// The backing-store bytes of one execution.
pub struct Budget {
    used: AtomicUsize,
    limit: usize,
    control: Arc<Control>,
}

impl Budget {
    pub fn new(limit: usize, control: Arc<Control>) -> Arc<Budget> {
        Arc::new(Budget { used: AtomicUsize::new(0), limit, control })
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `len` bytes from the budget, or stops the execution and refuses.
    fn reserve(&self, len: usize) -> bool {
        let taken = self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(len).filter(|total| *total <= self.limit)
        });
        if taken.is_err() {
            self.control.stop(StopReason::Memory);
        }
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

unsafe extern "C" fn allocate(budget: &Budget, len: usize) -> *mut c_void {
    if !budget.reserve(len) {
        return std::ptr::null_mut();
    }
    // SAFETY: plain C allocation; V8 frees it through `free` below with the same length.
    let data = unsafe { libc::calloc(len.max(1), 1) };
    if data.is_null() {
        budget.release(len);
    }
    data
}

unsafe extern "C" fn allocate_uninitialized(budget: &Budget, len: usize) -> *mut c_void {
    if !budget.reserve(len) {
        return std::ptr::null_mut();
    }
    // SAFETY: as above.
    let data = unsafe { libc::malloc(len.max(1)) };
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
    fn an_allocation_past_the_budget_is_refused_and_stops_the_execution() {
        let b = budget(1000);
        let p = unsafe { allocate_uninitialized(&b, 800) };
        assert!(!p.is_null());
        assert!(unsafe { allocate(&b, 300) }.is_null(), "past the budget");
        assert_eq!(b.used(), 800, "a refusal takes nothing");
        assert_eq!(b.control.reason(), Some(StopReason::Memory));
        unsafe { free(&b, p, 800) };
        assert!(unsafe { allocate(&b, usize::MAX) }.is_null(), "too large is a refusal");
    }
}
