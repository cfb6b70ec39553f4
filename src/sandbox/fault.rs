//! A fault inside the engine ends one execution, never the process.
//!
//! deno_core and V8 call back into Rust through `extern "C"` functions (ops, module and
//! promise hooks). A Rust panic there cannot unwind past the C frame: the language turns it
//! into a second, non-unwinding panic ("panic in a function that cannot unwind") and then aborts
//! the process, so one execution's bad luck (deno_core unwrapping a V8 result that is empty
//! because the isolate is being terminated, an op that assumes state we did not provide) would
//! end every client's work. The panic hook runs before that abort: on an execution thread it
//! reports the fault to the execution's [`Control`] and parks the thread for good instead of
//! returning. The supervisor answers the call at once and counts the thread as abandoned
//! (`MCP_CONDUCTOR_MAX_ABANDONED`); the isolate it holds is never touched again. (A parked hook
//! keeps std's hook lock for reading: nothing may call `std::panic::set_hook`/`take_hook` after
//! startup, or it waits forever.)
//!
//! V8's fatal out-of-memory handler is the same kind of exit: V8 aborts the process when it
//! returns (a Rust caller of `v8::ArrayBuffer::new` refused memory, an allocation V8 cannot
//! fail). [`on_v8_out_of_memory`], installed on every execution isolate, parks the thread the
//! same way.
//!
//! Panics that can unwind are left alone: the execution thread catches them
//! (`execution.rs`, `pool.rs`) and reports them as its result.

use std::cell::RefCell;
use std::sync::{Arc, Once};

use deno_core::v8;

use super::control::{Control, Fault};

/// The messages of Rust's non-unwinding panics (`core::panicking::panic_cannot_unwind` and
/// `panic_in_cleanup`): after the hook returns, the process aborts.
const NON_UNWINDING: [&str; 2] = ["panic in a function that cannot unwind", "panic in a destructor during cleanup"];

thread_local! {
    /// The control of the execution running on this thread, if it is an execution thread.
    static EXECUTION: RefCell<Option<Arc<Control>>> = const { RefCell::new(None) };
}

/// Marks the current thread as the execution thread `control` supervises.
pub fn enter(control: Arc<Control>) {
    install_hook();
    EXECUTION.with(|e| *e.borrow_mut() = Some(control));
}

fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The usual report first (to stderr, the log stream).
            previous(info);
            let message = super::failure::panic_text(info.payload()).unwrap_or_default();
            if !is_non_unwinding(message) {
                return;
            }
            let Some(control) = EXECUTION.with(|e| e.borrow().clone()) else { return };
            let at = info.location().map_or_else(String::new, |l| l.to_string());
            park_for_good(&control, Fault::Panic(format!("{message} at {at}")));
        }));
    });
}

/// V8's out-of-memory handler for execution isolates (`worker.rs`). On another thread (none of
/// ours) it returns, and V8 aborts as it would without it.
pub unsafe extern "C" fn on_v8_out_of_memory(location: *const std::ffi::c_char, details: &v8::OomDetails) {
    let Some(control) = EXECUTION.with(|e| e.borrow().clone()) else { return };
    let at = if location.is_null() {
        String::from("?")
    } else {
        // SAFETY: V8 passes a NUL-terminated C string.
        unsafe { std::ffi::CStr::from_ptr(location) }.to_string_lossy().into_owned()
    };
    let what = if details.is_heap_oom { "heap" } else { "process memory" };
    park_for_good(&control, Fault::OutOfMemory(format!("{what}, in {at}")));
}

/// Reports the fault and never returns: returning would abort the process.
fn park_for_good(control: &Control, fault: Fault) -> ! {
    control.fault(fault);
    loop {
        std::thread::park();
    }
}

fn is_non_unwinding(message: &str) -> bool {
    NON_UNWINDING.iter().any(|m| message.starts_with(m))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    // The hook itself is proven end to end by tests/v8_hazards.rs (timeouts during lazy module
    // loading make deno_core panic inside an op; the server answers and goes on). It cannot run
    // under libtest: libtest's own hook locks stdout for good on a non-unwinding panic, and its
    // final `take_hook` waits for the parked thread's hold on the hook.

    #[test]
    fn only_non_unwinding_panics_are_engine_faults() {
        assert!(is_non_unwinding("panic in a function that cannot unwind"));
        assert!(is_non_unwinding("panic in a destructor during cleanup"));
        assert!(!is_non_unwinding("called `Option::unwrap()` on a `None` value"));
    }

    #[test]
    fn a_fault_reaches_the_supervisor_even_if_reported_first() {
        let control = Control::new(Arc::new(AtomicUsize::new(0)));
        control.fault(Fault::OutOfMemory("heap".into()));
        control.fault(Fault::Panic("later".into()));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let fault = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(5), control.faulted()).await }).unwrap();
        assert_eq!(fault, Fault::OutOfMemory("heap".into()), "the first fault wins");
    }
}
