//! Stopping an execution from outside its thread: timeout, client cancellation, or an unstable
//! API. The isolate is terminated (busy loops included) and the worker's event loop is woken.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use deno_core::v8::IsolateHandle;
use tokio::sync::Notify;

use super::memory::Budget;

/// Why an execution thread will never answer (`fault.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A panic where Rust cannot unwind (an engine callback).
    Panic(String),
    /// V8's fatal out-of-memory handler ran.
    OutOfMemory(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    Timeout,
    Cancelled,
    /// The server shut down before the execution ended (the HTTP drain's timeout).
    ShutDown,
    /// The heap reached `MCP_CONDUCTOR_MAX_MEMORY_MB`.
    Memory,
    /// Code used an unstable API; deno_runtime's default would exit the whole process.
    Unstable { feature: String, api: String },
}

#[derive(Default)]
pub struct Control {
    state: Mutex<State>,
    wake: Notify,
    /// Woken when the engine faulted on the execution's thread (`fault.rs`).
    on_fault: Notify,
    /// The sandbox's count of abandoned threads still running (see [`Control::abandon`]).
    stuck: Arc<AtomicUsize>,
}

#[derive(Default)]
struct State {
    isolate: Option<IsolateHandle>,
    reason: Option<StopReason>,
    /// The execution's OS thread (its id), for killing the processes it started.
    thread: Option<i32>,
    /// The server gave up waiting for this thread (it is counted in `stuck`).
    abandoned: bool,
    /// The thread has ended.
    ended: bool,
    /// The engine faulted on the thread, which is parked for good (`fault.rs`).
    fault: Option<Fault>,
    /// The execution's memory outside the heap (`memory.rs`), once the worker exists.
    budget: Option<Weak<Budget>>,
    /// The count of abandoned threads of the client this execution runs for.
    client_stuck: Option<Arc<AtomicUsize>>,
}

impl Control {
    /// A control whose thread, if abandoned, counts in `stuck` until it ends.
    pub fn new(stuck: Arc<AtomicUsize>) -> Control {
        Control { stuck, ..Control::default() }
    }

    /// The server stops waiting for this thread: it counts as stuck until it ends. Returns the
    /// number of stuck threads (0 if the thread had ended meanwhile).
    pub fn abandon(&self) -> usize {
        let mut state = self.lock();
        if state.ended || state.abandoned {
            return 0;
        }
        state.abandoned = true;
        if let Some(client) = &state.client_stuck {
            client.fetch_add(1, Ordering::SeqCst);
        }
        self.stuck.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// If this execution's thread is abandoned, it also counts in `client_stuck` until it ends.
    pub fn count_for_client(&self, client_stuck: Arc<AtomicUsize>) {
        self.lock().client_stuck = Some(client_stuck);
    }

    /// Called by the thread as its very last step.
    pub fn thread_ended(&self) {
        let mut state = self.lock();
        state.ended = true;
        if state.abandoned {
            if let Some(client) = &state.client_stuck {
                client.fetch_sub(1, Ordering::SeqCst);
            }
            let left = self.stuck.fetch_sub(1, Ordering::SeqCst) - 1;
            tracing::info!(still_stuck = left, "an abandoned execution thread finally ended");
        }
    }

    /// Records the first reason, terminates the isolate if it exists, wakes the event loop.
    pub fn stop(&self, reason: StopReason) {
        let mut state = self.lock();
        state.reason.get_or_insert(reason);
        if let Some(isolate) = &state.isolate {
            isolate.terminate_execution();
        }
        drop(state);
        self.wake.notify_one();
    }

    /// The engine faulted on the execution's thread: the thread will never answer.
    pub fn fault(&self, fault: Fault) {
        self.lock().fault.get_or_insert(fault);
        self.on_fault.notify_one();
    }

    /// Resolves with the fault once the engine faulted (also if it did earlier).
    pub async fn faulted(&self) -> Fault {
        loop {
            if let Some(fault) = self.lock().fault.clone() {
                return fault;
            }
            self.on_fault.notified().await;
        }
    }

    /// Called once the isolate exists; a stop that came earlier takes effect now.
    pub fn attach(&self, isolate: IsolateHandle) {
        let mut state = self.lock();
        if state.reason.is_some() {
            isolate.terminate_execution();
        }
        state.isolate = Some(isolate);
    }

    /// The budget [`Control::check_memory`] has the isolate check.
    pub fn watch_memory(&self, budget: Weak<Budget>) {
        self.lock().budget = Some(budget);
    }

    /// Has the running isolate count its memory outside the heap (`memory.rs`); nothing before
    /// the worker is warm or after it is gone.
    pub fn check_memory(&self) {
        let state = self.lock();
        if let (Some(isolate), Some(budget)) = (&state.isolate, state.budget.as_ref().and_then(Weak::upgrade)) {
            budget.request_check(isolate);
        }
    }

    pub fn set_thread(&self, tid: i32) {
        self.lock().thread = Some(tid);
    }

    pub fn thread(&self) -> Option<i32> {
        self.lock().thread
    }

    #[cfg(test)]
    pub fn has_ended(&self) -> bool {
        self.lock().ended
    }

    pub fn reason(&self) -> Option<StopReason> {
        self.lock().reason.clone()
    }

    /// Resolves once `stop` has been called (also if it was called before this).
    pub async fn stopped(&self) {
        self.wake.notified().await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn control() -> (Control, Arc<AtomicUsize>) {
        let stuck = Arc::new(AtomicUsize::new(0));
        (Control::new(stuck.clone()), stuck)
    }

    #[test]
    fn the_first_stop_reason_wins() {
        let (control, _) = control();
        assert_eq!(control.reason(), None);
        control.stop(StopReason::Memory);
        control.stop(StopReason::Timeout);
        assert_eq!(control.reason(), Some(StopReason::Memory));
    }

    #[tokio::test]
    async fn a_stop_before_the_wait_still_wakes_it() {
        let (control, _) = control();
        control.stop(StopReason::Cancelled);
        tokio::time::timeout(Duration::from_secs(5), control.stopped()).await.expect("woken by the earlier stop");
    }

    #[tokio::test]
    async fn a_stop_wakes_a_waiting_thread() {
        let (control, _) = control();
        let control = Arc::new(control);
        let waiter = tokio::spawn({
            let control = control.clone();
            async move { control.stopped().await }
        });
        tokio::task::yield_now().await;
        control.stop(StopReason::Timeout);
        tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("woken").expect("no panic");
    }

    #[test]
    fn an_abandoned_thread_counts_as_stuck_until_it_ends() {
        let (control, stuck) = control();
        assert_eq!(control.abandon(), 1);
        assert_eq!(control.abandon(), 0, "abandoning twice counts once");
        assert_eq!(stuck.load(Ordering::SeqCst), 1);
        control.thread_ended();
        assert_eq!(stuck.load(Ordering::SeqCst), 0);
        assert!(control.has_ended());
    }

    #[test]
    fn a_thread_that_ended_is_never_counted_as_stuck() {
        let (control, stuck) = control();
        control.thread_ended();
        assert_eq!(control.abandon(), 0);
        assert_eq!(stuck.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn the_thread_id_is_kept_for_killing_its_children() {
        let (control, _) = control();
        assert_eq!(control.thread(), None);
        control.set_thread(42);
        assert_eq!(control.thread(), Some(42));
    }
}
