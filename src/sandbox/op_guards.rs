//! Replacements for the ops whose effect is process-wide: shared by every execution and by the
//! server itself (see `op_audit.rs` for the whole table). deno_runtime's Node polyfills call
//! ops directly (`process.abort()`, `process.setuid()`, `process.kill()`...), past any patch on
//! `Deno.*`, so the ops themselves are swapped, through the glue extension's op middleware
//! (the replacement keeps the original's name; the JS that calls it is unchanged).
//!
//! Besides the refusals, three families are reimplemented per execution (op2 keeps an op's body
//! private to its generated declaration, so a guard cannot call the original; it recomputes):
//! - `navigator.locks`: one lock manager per execution instead of deno_web's process-global one;
//! - resource figures (`process.memoryUsage()`, `process.cpuUsage()`, `process.resourceUsage()`,
//!   `Deno.memoryUsage()`): the execution's own isolate and thread, not the server process;
//! - PBKDF2 and scrypt (and `randomFill`'s buffer): cost bounded, one native job at a time per
//!   execution, stopped when the execution is gone.
//!
//! Self-contained like `glue.rs` (build.rs includes both to record the snapshot with the same
//! ops). Needs `deno_node_crypto` (=0.30.0, already in deno_runtime's graph) as a dependency and
//! a build-dependency, for its digests.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use deno_core::convert::Uint8Array;
use deno_core::futures::channel::oneshot;
use deno_core::unsync::TaskQueue;
use deno_core::{
    CancelFuture, CancelHandle, JsBuffer, OpDecl, OpState, RcRef, Resource, ResourceId, StringOrBuffer, op2, v8,
};
use deno_error::JsErrorBox;
use deno_node_crypto::digest::Hash as NodeHash;

/// Each process-wide op and the guard that replaces it (the guard keeps the original's name).
/// One table: [`replacement`] reads it, and the audit's test checks every harmful op is here or
/// mitigated.
pub const GUARDS: &[(&str, fn() -> OpDecl)] = &[
    ("op_process_abort", op_guard_abort),
    ("op_kill", op_guard_kill),
    ("op_node_process_kill", op_guard_node_process_kill),
    ("op_node_process_setuid", op_guard_setuid),
    ("op_node_process_setgid", op_guard_setgid),
    ("op_node_process_seteuid", op_guard_seteuid),
    ("op_node_process_setegid", op_guard_setegid),
    ("op_node_process_set_title", op_guard_set_title),
    ("op_node_os_set_priority", op_guard_set_priority),
    ("op_v8_set_flags_from_string", op_guard_v8_flags),
    ("op_set_env", op_guard_set_env),
    ("op_delete_env", op_guard_delete_env),
    ("op_node_load_env_file", op_guard_load_env_file),
    ("op_create_worker", op_guard_create_worker),
    ("op_signal_bind", op_guard_signal_bind),
    ("op_signal_poll", op_guard_signal_poll),
    ("op_signal_unbind", op_guard_signal_unbind),
    ("op_panic", op_guard_panic),
    ("op_read_line_prompt", op_guard_prompt),
    ("op_set_raw", op_guard_set_raw),
    ("op_v8_set_heap_snapshot_near_heap_limit", op_guard_heap_snapshot_limit),
    ("op_inspector_open", op_guard_inspector_open),
    ("op_inspector_close", op_guard_inspector_close),
    ("op_inspector_wait", op_guard_inspector_wait),
    ("op_require_break_on_next_statement", op_guard_break_on_next_statement),
    ("op_inspector_connect", op_guard_inspector_connect),
    ("op_node_repl_inspector_connect", op_guard_repl_inspector_connect),
    ("op_node_guess_handle_type", op_guard_guess_handle_type),
    ("op_tty_check_fd_permission", op_guard_tty_check_fd_permission),
    ("op_node_udp_open", op_guard_udp_open),
    ("op_node_create_pipe", op_guard_create_pipe),
    ("op_node_fd_set_blocking", op_guard_fd_set_blocking),
    ("op_node_worker_thread_register", op_guard_worker_thread_register),
    ("op_node_worker_thread_set_listener_count", op_guard_worker_thread_set_listener_count),
    ("op_node_worker_thread_post_message", op_guard_worker_thread_post_message),
    // navigator.locks: every op of deno_web's lock manager (they share its private resources).
    ("op_lock_manager_request", op_guard_lock_request),
    ("op_lock_manager_await_lock", op_guard_lock_await_lock),
    ("op_lock_manager_await_steal", op_guard_lock_await_steal),
    ("op_lock_manager_is_stolen", op_guard_lock_is_stolen),
    ("op_lock_manager_cancel", op_guard_lock_cancel),
    ("op_lock_manager_release", op_guard_lock_release),
    ("op_lock_manager_query", op_guard_lock_query),
    // Resource figures of the execution, not of the server process.
    ("op_runtime_memory_usage", op_guard_runtime_memory_usage),
    ("op_runtime_cpu_usage", op_guard_runtime_cpu_usage),
    ("op_node_process_resource_usage", op_guard_process_resource_usage),
    // Native crypto with a cost the code chooses.
    ("op_node_pbkdf2", op_guard_pbkdf2),
    ("op_node_pbkdf2_async", op_guard_pbkdf2_async),
    ("op_node_scrypt_sync", op_guard_scrypt_sync),
    ("op_node_scrypt_async", op_guard_scrypt_async),
    ("op_node_fill_random_async", op_guard_fill_random_async),
];

/// A Node built-in refused whatever the route: `import` (the loader), `require()` and
/// `process.getBuiltinModule()` (build.rs replaces its embedded sources with a `throw`, so every
/// internal loader of it fails too).
pub struct RefusedModule {
    /// The built-in's name (`node:<name>`).
    pub name: &'static str,
    /// The lazily loaded extension sources that implement it (build.rs stubs them).
    #[allow(dead_code)]
    pub sources: &'static [&'static str],
    pub why: &'static str,
}

const WHOLE_PROCESS_DEBUGGER: &str = "it controls the debugger of the whole server process";

pub const REFUSED_MODULES: &[RefusedModule] = &[
    RefusedModule {
        name: "inspector",
        sources: &["node:inspector", "ext:deno_node/inspector.js"],
        why: WHOLE_PROCESS_DEBUGGER,
    },
    RefusedModule {
        name: "inspector/promises",
        sources: &["node:inspector/promises", "ext:deno_node/inspector/promises.js"],
        why: WHOLE_PROCESS_DEBUGGER,
    },
    RefusedModule {
        name: "repl",
        sources: &["node:repl"],
        why: "a REPL evaluates input through a debugger session of the whole server process",
    },
    RefusedModule {
        name: "wasi",
        sources: &["node:wasi", "ext:deno_node/wasi.ts"],
        why: "WASI programs write to the server process's own stdout and stderr",
    },
    RefusedModule {
        name: "internal/test/binding",
        sources: &["ext:deno_node/internal/test/binding.ts"],
        why: "Node's internal bindings hand out raw file descriptors of the server process",
    },
];

/// Text replacements in embedded extension sources (build.rs applies them and fails when the
/// text is gone after an upgrade): `(specifier, original, replacement)`.
#[allow(dead_code)] // applied by build.rs
pub const SOURCE_PATCHES: &[(&str, &str, &str)] = &[(
    "node:process",
    "process.binding = (name)=>{",
    "process.binding = (name)=>{ throw new Error(`process.binding('${name}') is not available in the mcp-conductor \
     sandbox: Node's internal bindings hand out raw file descriptors of the server process`); }; \
     const __mcp_conductor_unused_binding = (name)=>{",
)];

/// The message of a refused module.
pub fn refused_module_message(module: &RefusedModule) -> String {
    format!("node:{} is not available in the mcp-conductor sandbox: {}", module.name, module.why)
}

/// The guard replacing the op named `name`, if it has one.
pub fn replacement(name: &str) -> Option<OpDecl> {
    GUARDS.iter().find(|(guarded, _)| *guarded == name).map(|(_, guard)| guard())
}

fn not_available(api: &str, why: &str) -> JsErrorBox {
    JsErrorBox::generic(format!("{api} is not available in the mcp-conductor sandbox: {why}"))
}

const SHARED_ENV: &str = "the environment is shared by all executions and the server; pass `env` to \
                          Deno.Command instead";
const SERVER_PROCESS: &str = "it would act on the server process, which every execution shares";

/// An op that always throws `api is not available ...: why`.
macro_rules! refusing_op {
    ($name:ident, $api:literal, $why:expr) => {
        #[op2(fast)]
        fn $name() -> Result<(), JsErrorBox> {
            Err(not_available($api, $why))
        }
    };
}

refusing_op!(op_guard_abort, "process.abort()", "it would end the server process");
refusing_op!(op_guard_setuid, "process.setuid()", SERVER_PROCESS);
refusing_op!(op_guard_setgid, "process.setgid()", SERVER_PROCESS);
refusing_op!(op_guard_seteuid, "process.seteuid()", SERVER_PROCESS);
refusing_op!(op_guard_setegid, "process.setegid()", SERVER_PROCESS);
refusing_op!(op_guard_set_priority, "os.setPriority()", SERVER_PROCESS);
refusing_op!(op_guard_v8_flags, "v8.setFlagsFromString()", "engine flags are process-wide");
refusing_op!(op_guard_set_env, "Setting an environment variable", SHARED_ENV);
refusing_op!(op_guard_delete_env, "Deleting an environment variable", SHARED_ENV);
refusing_op!(op_guard_load_env_file, "process.loadEnvFile()", SHARED_ENV);
refusing_op!(
    op_guard_create_worker,
    "Worker",
    "each execution is one isolate; run independent work with Promise.all"
);

refusing_op!(op_guard_panic, "op_panic", "a panic would end the server process");
refusing_op!(op_guard_set_raw, "Raw terminal mode", "there is no terminal: stdin is empty");
refusing_op!(
    op_guard_heap_snapshot_limit,
    "v8.setHeapSnapshotNearHeapLimit()",
    "the memory limit (MCP_CONDUCTOR_MAX_MEMORY_MB) is the server's"
);
refusing_op!(op_guard_inspector_open, "inspector.open()", "the inspector is process-wide");

refusing_op!(
    op_guard_inspector_connect,
    "inspector.Session.connect()",
    "a debugger session reaches the engine of the whole server process"
);
// The REPL's preview opens an inspector session with no permission check; it catches the error.
refusing_op!(
    op_guard_repl_inspector_connect,
    "The REPL's inspector session",
    "a debugger session reaches the engine of the whole server process"
);
// Raw file descriptors: the server's own (the MCP transport, its log, other executions'
// sockets) are numbers too. The fd-taking node APIs go through these (see op_audit.rs).
refusing_op!(
    op_guard_tty_check_fd_permission,
    "node:tty streams",
    "there is no terminal (the worker's stdio are pipes; use process.stdout)"
);
refusing_op!(
    op_guard_udp_open,
    "Adopting a file descriptor as a UDP socket",
    "descriptors belong to the server process; create a socket with dgram.createSocket()"
);
refusing_op!(
    op_guard_create_pipe,
    "Raw pipes",
    "their descriptors would outlive the execution"
);

/// Internal only: `fcntl(O_NONBLOCK)` on any descriptor number would change the server's own.
#[op2(fast)]
#[smi]
fn op_guard_fd_set_blocking(#[smi] _fd: i32, _blocking: bool) -> i32 {
    -libc::EBADF
}

/// `guessHandleType(fd)`, the gate `net.Socket({ fd })`, `server.listen({ fd })`, dgram and
/// stdin use before adopting a raw descriptor: the truth for fd 0 (the worker's stdin is
/// `/dev/null`) and for executions that may run programs (their children's pipes; a program
/// runs as the server's user and reaches its descriptors anyway, docs/security.md says so); "unknown"
/// otherwise, which those APIs refuse.
#[op2(fast)]
fn op_guard_guess_handle_type(state: &mut OpState, fd: u32) -> u32 {
    const TCP: u32 = 0;
    const TTY: u32 = 1;
    const FILE: u32 = 3;
    const PIPE: u32 = 4;
    const UNKNOWN: u32 = 5;
    if fd != 0 && !run_allowed(state) {
        return UNKNOWN;
    }
    use deno_core::uv_compat::{uv_guess_handle, uv_handle_type};
    match uv_guess_handle(fd as i32) {
        uv_handle_type::UV_TCP => TCP,
        uv_handle_type::UV_TTY => TTY,
        uv_handle_type::UV_FILE => FILE,
        uv_handle_type::UV_NAMED_PIPE => PIPE,
        _ => UNKNOWN,
    }
}

/// Whether this execution may run programs at all (`allow-run`, for every or some commands).
pub fn run_allowed(state: &OpState) -> bool {
    use deno_runtime::deno_permissions::{PermissionState, PermissionsContainer};
    matches!(
        state.borrow::<PermissionsContainer>().query_run(None),
        Ok(PermissionState::Granted | PermissionState::GrantedPartial)
    )
}

/// `worker_threads`' cross-thread messaging (`postMessageToThread`, `process.on("workerMessage")`)
/// uses one process-wide registry where every main worker is thread 0: one execution would get
/// another's messages. Registering gets a channel that never delivers (the receive op answers
/// "closed" for it); posting finds no thread.
struct InertThreadChannel;

impl Resource for InertThreadChannel {
    fn name(&self) -> Cow<'_, str> {
        "workerThreadChannel".into()
    }
}

#[op2(fast)]
#[smi]
fn op_guard_worker_thread_register(state: &mut OpState, _thread_id: u32) -> ResourceId {
    state.resource_table.add(InertThreadChannel)
}

#[op2(fast)]
fn op_guard_worker_thread_set_listener_count(_thread_id: u32, _count: u32) {}

/// 0: "no thread with that id".
#[op2(fast)]
fn op_guard_worker_thread_post_message() -> u32 {
    0
}

/// `inspector.close()`: there is nothing of this execution's to close.
#[op2(fast)]
fn op_guard_inspector_close() {}

/// `inspector.waitForDebugger()` would block the thread for good: "no inspector".
#[op2(fast)]
fn op_guard_inspector_wait() -> bool {
    false
}

/// Would block waiting for a debugger that never comes.
#[op2(fast)]
fn op_guard_break_on_next_statement() {}

/// `prompt()`, `confirm()`, `alert()` read the real terminal: there is none (stdin is empty),
/// so they answer as at the end of input.
#[op2]
#[string]
fn op_guard_prompt(#[string] _message: &str, #[string] _default: &str) -> Option<String> {
    None
}

/// `process.title = ...` renames the server's process (what `ps` shows): ignored.
#[op2(fast)]
fn op_guard_set_title(#[string] _title: &str) {}

/// Signals that must not reach the server: its own pid or one of its threads (`kill(tid)`
/// signals the whole process), pid 0 (its process group) and negative pids (groups).
fn check_pid(pid: i32, api: &str) -> Result<(), JsErrorBox> {
    let is_ours = pid <= 0
        || pid == std::process::id() as i32
        || std::path::Path::new(&format!("/proc/self/task/{pid}")).exists();
    if is_ours {
        return Err(not_available(
            &format!("{api}({pid})"),
            "it would signal the server process (its own pid, a thread, pid 0 or a process group)",
        ));
    }
    Ok(())
}

#[derive(deno_core::serde::Deserialize)]
#[serde(crate = "deno_core::serde", untagged)]
enum SignalArg {
    Name(String),
    Number(i32),
}

/// `Deno.kill(pid, signal)`. Other processes need `allow-run` (Deno's check, kept); the
/// original skipped the check for the server's own pid.
#[op2]
fn op_guard_kill(
    state: &mut OpState,
    #[smi] pid: i32,
    #[serde] signal: SignalArg,
    #[string] api_name: String,
) -> Result<(), JsErrorBox> {
    check_pid(pid, &api_name)?;
    state
        .borrow_mut::<deno_runtime::deno_permissions::PermissionsContainer>()
        .check_run_all(&api_name)
        .map_err(JsErrorBox::from_err)?;
    let signo = match signal {
        SignalArg::Number(n) => n,
        SignalArg::Name(name) => deno_signals::signal_str_to_int(&name).map_err(|e| JsErrorBox::type_error(e.to_string()))?,
    };
    // SAFETY: kill(2) with a pid checked above.
    if unsafe { libc::kill(pid, signo) } != 0 {
        return Err(JsErrorBox::from_err(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// `process.kill(pid, signal)`: as the original for other processes (needs `allow-run`; an
/// errno comes back as the result, Node's polyfill turns it into the error).
#[op2(fast)]
#[smi]
fn op_guard_node_process_kill(state: &mut OpState, #[smi] pid: i32, #[smi] sig: i32) -> Result<i32, JsErrorBox> {
    check_pid(pid, "process.kill")?;
    state
        .borrow_mut::<deno_runtime::deno_permissions::PermissionsContainer>()
        .check_run_all("process.kill")
        .map_err(JsErrorBox::from_err)?;
    // SAFETY: kill(2) with a pid checked above.
    if unsafe { libc::kill(pid, sig) } < 0 {
        return Ok(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EPERM));
    }
    Ok(0)
}

/// A signal subscription that never fires: `Deno.addSignalListener` and `process.on('SIGINT')`
/// work (npm packages register them at import) but install no process-wide handler.
struct InertSignal {
    closed: CancelHandle,
}

impl Resource for InertSignal {
    fn name(&self) -> Cow<'_, str> {
        "signal".into()
    }

    fn close(self: Rc<Self>) {
        self.closed.cancel();
    }
}

#[op2(fast)]
#[smi]
fn op_guard_signal_bind(state: &mut OpState, #[string] _signal: &str) -> ResourceId {
    state.resource_table.add(InertSignal { closed: CancelHandle::new() })
}

/// Pending until unbound; then `true` ("done"), as Deno's own poll answers a closed stream.
/// Deno unrefs this promise, so it never keeps an execution alive.
#[op2]
async fn op_guard_signal_poll(state: Rc<RefCell<OpState>>, #[smi] rid: ResourceId) -> Result<bool, JsErrorBox> {
    let resource = state.borrow().resource_table.get::<InertSignal>(rid).map_err(JsErrorBox::from_err)?;
    let _ = std::future::pending::<()>().or_cancel(RcRef::map(&resource, |r| &r.closed)).await;
    Ok(true)
}

#[op2(fast)]
fn op_guard_signal_unbind(state: &mut OpState, #[smi] rid: ResourceId) -> Result<(), JsErrorBox> {
    state.resource_table.take::<InertSignal>(rid).map_err(JsErrorBox::from_err)?.close();
    Ok(())
}

// ---- navigator.locks, one lock manager per execution ----
//
// deno_web keeps every lock in a process-global `LOCK_STATE` (deno_web locks.rs:54): in a server
// running many executions, `navigator.locks.query()` listed the names other executions held or
// waited for, `request(name, { steal: true })` took their locks (their callbacks rejected with an
// AbortError), and a held name made another execution's request wait. The ops below are deno_web's
// (same algorithm, same arguments and results, so `locks.js` is unchanged), over a state that lives
// in this worker's `OpState`: names are only ever compared within one execution. All seven ops are
// replaced because they share the manager's (private) resource types.

#[derive(deno_core::serde::Serialize, deno_core::serde::Deserialize, Debug, PartialEq, Clone, Copy)]
#[serde(crate = "deno_core::serde", rename_all = "camelCase")]
enum LockMode {
    Shared,
    Exclusive,
}

/// What `query()` reports as `clientId`: an execution is the only client of its lock manager
/// (Deno numbers clients process-wide, and the first one is "1").
const LOCK_CLIENT_ID: &str = "1";

struct HeldLock {
    name: String,
    mode: LockMode,
    id: u64,
    /// Fires when the lock is stolen; `None` until the holder waits for it.
    broken_tx: Option<oneshot::Sender<()>>,
}

struct PendingRequest {
    name: String,
    mode: LockMode,
    id: u64,
    tx: oneshot::Sender<bool>,
}

#[derive(Default)]
struct LockState {
    held: Vec<HeldLock>,
    queues: HashMap<String, VecDeque<PendingRequest>>,
    counter: u64,
}

type Locks = Rc<RefCell<LockState>>;

/// This execution's lock manager, in its op state.
struct ExecutionLocks(Locks);

fn execution_locks(state: &mut OpState) -> Locks {
    if let Some(locks) = state.try_borrow::<ExecutionLocks>() {
        return locks.0.clone();
    }
    let locks = Locks::default();
    state.put(ExecutionLocks(locks.clone()));
    locks
}

fn grantable(held: &[HeldLock], name: &str, mode: LockMode) -> bool {
    match mode {
        LockMode::Exclusive => !held.iter().any(|h| h.name == name),
        LockMode::Shared => !held.iter().any(|h| h.name == name && h.mode == LockMode::Exclusive),
    }
}

fn process_queue(state: &mut LockState, name: &str) {
    let Some(queue) = state.queues.get_mut(name) else {
        return;
    };
    while let Some(front) = queue.front() {
        if !grantable(&state.held, name, front.mode) {
            break;
        }
        let Some(request) = queue.pop_front() else {
            break;
        };
        if request.tx.send(true).is_ok() {
            state.held.push(HeldLock { name: request.name, mode: request.mode, id: request.id, broken_tx: None });
        }
        // A dropped receiver (a cancelled request) is skipped.
    }
}

fn release_lock(state: &mut LockState, id: u64) {
    if let Some(pos) = state.held.iter().position(|h| h.id == id) {
        let lock = state.held.remove(pos);
        process_queue(state, &lock.name);
    }
}

fn cancel_request(state: &mut LockState, id: u64) {
    for queue in state.queues.values_mut() {
        if let Some(pos) = queue.iter().position(|r| r.id == id) {
            if let Some(request) = queue.remove(pos) {
                let _ = request.tx.send(false);
            }
            return;
        }
    }
}

/// A held lock; released when the resource goes (released, or the worker torn down).
struct HeldLockResource {
    id: u64,
    locks: Locks,
    /// Resolves when the lock is stolen (see `op_guard_lock_await_steal`).
    broken_rx: RefCell<Option<oneshot::Receiver<()>>>,
}

/// Sets up the steal notification of a freshly granted lock.
fn make_held_lock_resource(state: &mut LockState, id: u64, locks: &Locks) -> HeldLockResource {
    let (tx, rx) = oneshot::channel();
    if let Some(held) = state.held.iter_mut().find(|h| h.id == id) {
        held.broken_tx = Some(tx);
    }
    HeldLockResource { id, locks: locks.clone(), broken_rx: RefCell::new(Some(rx)) }
}

impl Drop for HeldLockResource {
    fn drop(&mut self) {
        // Never borrowed while a resource is dropped (the ops drop resources after releasing
        // their borrow); `try_` so a mistake leaks a lock of this execution rather than panicking.
        if let Ok(mut state) = self.locks.try_borrow_mut() {
            release_lock(&mut state, self.id);
        }
    }
}

impl Resource for HeldLockResource {
    fn name(&self) -> Cow<'_, str> {
        "webLock".into()
    }
}

/// A pending request; cancelled when the resource goes.
struct PendingLockResource {
    rx: RefCell<Option<oneshot::Receiver<bool>>>,
    id: u64,
    locks: Locks,
}

impl Drop for PendingLockResource {
    fn drop(&mut self) {
        if let Ok(mut state) = self.locks.try_borrow_mut() {
            cancel_request(&mut state, self.id);
        }
    }
}

impl Resource for PendingLockResource {
    fn name(&self) -> Cow<'_, str> {
        "pendingWebLock".into()
    }
}

/// status: 0 = granted, 1 = pending, 2 = not available (`ifAvailable`).
#[derive(deno_core::serde::Serialize)]
#[serde(crate = "deno_core::serde")]
struct LockRequestResult {
    status: u8,
    rid: ResourceId,
}

/// `navigator.locks.request()`: registers a request (deno_web locks.rs:262, on this execution's
/// lock manager).
#[op2]
#[serde]
fn op_guard_lock_request(
    state: &mut OpState,
    #[string] name: String,
    #[serde] mode: LockMode,
    if_available: bool,
    steal: bool,
) -> LockRequestResult {
    let locks = execution_locks(state);
    let mut ls = locks.borrow_mut();
    ls.counter += 1;
    let id = ls.counter;

    if steal {
        // The holders' `request()` promises reject with an AbortError; pending requests stay
        // queued behind the stealing one.
        for held in ls.held.iter_mut().filter(|h| h.name == name) {
            if let Some(tx) = held.broken_tx.take() {
                let _ = tx.send(());
            }
        }
        ls.held.retain(|h| h.name != name);
    } else if if_available && !grantable(&ls.held, &name, mode) {
        return LockRequestResult { status: 2, rid: 0 };
    }

    let (tx, mut rx) = oneshot::channel();
    let request = PendingRequest { name: name.clone(), mode, id, tx };
    let queue = ls.queues.entry(name.clone()).or_default();
    if steal {
        queue.push_front(request);
    } else {
        queue.push_back(request);
    }
    process_queue(&mut ls, &name);

    // Granted now? (process_queue answers through the channel synchronously.)
    match rx.try_recv() {
        Ok(Some(true)) => {
            let resource = make_held_lock_resource(&mut ls, id, &locks);
            drop(ls);
            LockRequestResult { status: 0, rid: state.resource_table.add(resource) }
        }
        _ => {
            drop(ls);
            let pending = PendingLockResource { rx: RefCell::new(Some(rx)), id, locks: locks.clone() };
            LockRequestResult { status: 1, rid: state.resource_table.add(pending) }
        }
    }
}

/// Waits for a pending request: the held lock's rid, or null when it was cancelled.
#[op2]
#[smi]
async fn op_guard_lock_await_lock(state: Rc<RefCell<OpState>>, #[smi] rid: ResourceId) -> Option<ResourceId> {
    let (rx, lock_id, locks) = {
        let state = state.borrow();
        let pending = state.resource_table.get::<PendingLockResource>(rid).ok()?;
        let rx = pending.rx.borrow_mut().take()?;
        (rx, pending.id, pending.locks.clone())
    };
    let granted = rx.await.unwrap_or(false);
    // Already resolved or cancelled: dropping it changes nothing.
    let _ = state.borrow_mut().resource_table.take::<PendingLockResource>(rid);
    if !granted {
        return None;
    }
    let resource = make_held_lock_resource(&mut locks.borrow_mut(), lock_id, &locks);
    Some(state.borrow_mut().resource_table.add(resource))
}

/// Pending while a held lock is alive: `true` when it was stolen, `false` when released.
#[op2]
async fn op_guard_lock_await_steal(state: Rc<RefCell<OpState>>, #[smi] rid: ResourceId) -> bool {
    let rx = {
        let state = state.borrow();
        let Ok(held) = state.resource_table.get::<HeldLockResource>(rid) else {
            return false;
        };
        let Some(rx) = held.broken_rx.borrow_mut().take() else {
            return false;
        };
        rx
    };
    // `Ok(())`: stolen; `Err(Canceled)`: the sender went with a normal release.
    rx.await.is_ok()
}

/// Whether a held lock was stolen (a steal removes it from `held` at once).
#[op2(fast)]
fn op_guard_lock_is_stolen(state: &mut OpState, #[smi] rid: ResourceId) -> bool {
    let Ok(held) = state.resource_table.get::<HeldLockResource>(rid) else {
        return false;
    };
    let id = held.id;
    held.locks.try_borrow().is_ok_and(|ls| !ls.held.iter().any(|h| h.id == id))
}

/// Cancels a pending request (an aborted `signal`).
#[op2(fast)]
fn op_guard_lock_cancel(state: &mut OpState, #[smi] rid: ResourceId) {
    if let Ok(pending) = state.resource_table.get::<PendingLockResource>(rid) {
        let (id, locks) = (pending.id, pending.locks.clone());
        drop(pending);
        cancel_request(&mut locks.borrow_mut(), id);
    }
}

/// Releases a held lock (dropping the resource releases it).
#[op2(fast)]
fn op_guard_lock_release(state: &mut OpState, #[smi] rid: ResourceId) {
    let _ = state.resource_table.take::<HeldLockResource>(rid);
}

#[derive(deno_core::serde::Serialize)]
#[serde(crate = "deno_core::serde", rename_all = "camelCase")]
struct QueryLock {
    name: String,
    mode: LockMode,
    client_id: String,
}

#[derive(deno_core::serde::Serialize)]
#[serde(crate = "deno_core::serde")]
struct LockQuery {
    held: Vec<QueryLock>,
    pending: Vec<QueryLock>,
}

/// `navigator.locks.query()`: this execution's held and pending locks.
#[op2]
#[serde]
fn op_guard_lock_query(state: &mut OpState) -> LockQuery {
    let locks = execution_locks(state);
    let ls = locks.borrow();
    let entry = |name: &str, mode: LockMode| QueryLock { name: name.to_string(), mode, client_id: LOCK_CLIENT_ID.to_string() };
    let held: Vec<QueryLock> = ls.held.iter().map(|h| entry(&h.name, h.mode)).collect();
    let pending: Vec<QueryLock> = ls.queues.values().flatten().map(|p| entry(&p.name, p.mode)).collect();
    LockQuery { held, pending }
}

// ---- Resource figures of the execution ----
//
// `process.memoryUsage()` (and `.rss()`), `Deno.memoryUsage()`, `process.cpuUsage()` and
// `process.resourceUsage()` report, in Deno, the whole process: `getrusage(RUSAGE_SELF)` and
// `/proc/self/statm`. One server process runs many executions (many tenants in HTTP mode), so
// those figures move with everybody else's work: a side channel on other executions (when they
// run, how much memory and CPU they take, even what data size they process). Each execution has
// its own isolate on its own thread, so the replacements report that isolate's memory and that
// thread's CPU time, in the same shapes (the same `Float64Array` slots the JS reads).

/// This execution's memory as `rss` reports it: the isolate's heap (reserved), the memory outside
/// it that V8 accounts to it (`ArrayBuffer`s and other external memory) and V8's own allocations
/// for it (compiler zones...). The second figure is the largest the execution reported so far
/// (`resourceUsage().maxRSS`).
fn execution_memory(stats: &v8::HeapStatistics, state: &mut OpState) -> (u64, u64) {
    let now = (stats.total_heap_size() as u64)
        .saturating_add(stats.external_memory() as u64)
        .saturating_add(stats.malloced_memory() as u64);
    let peak = match state.try_borrow_mut::<MemoryPeak>() {
        Some(peak) => {
            peak.0 = peak.0.max(now);
            peak.0
        }
        None => {
            state.put(MemoryPeak(now));
            now
        }
    };
    (now, peak)
}

/// The largest `execution_memory` seen by this execution.
struct MemoryPeak(u64);

/// `Deno.memoryUsage()` (and so `process.memoryUsage()`): `[rss, heapTotal, heapUsed, external]`,
/// with `rss` this execution's footprint (see `execution_memory`) instead of the server process's
/// resident set (Deno reads `/proc/self/statm`: every execution's memory).
#[op2(fast)]
fn op_guard_runtime_memory_usage(scope: &mut v8::PinScope<'_, '_>, state: &mut OpState, #[buffer] out: &mut [f64]) {
    if out.len() < 4 {
        return;
    }
    let stats = scope.get_heap_statistics();
    let (now, _) = execution_memory(&stats, state);
    out[0] = now as f64;
    out[1] = stats.total_heap_size() as f64;
    out[2] = stats.used_heap_size() as f64;
    out[3] = stats.external_memory() as f64;
}

/// CPU use of the calling thread (the execution's own: each runs on a thread of its own), in
/// microseconds, and the thread's other `getrusage` counters.
#[derive(Default)]
struct ThreadUsage {
    user_us: f64,
    system_us: f64,
    minor_faults: f64,
    major_faults: f64,
    fs_read: f64,
    fs_write: f64,
    voluntary_switches: f64,
    involuntary_switches: f64,
}

#[cfg(target_os = "linux")]
fn thread_usage() -> ThreadUsage {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes the rusage we own.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) } != 0 {
        return ThreadUsage::default();
    }
    // SAFETY: zeroed, then filled in by the successful call.
    let usage = unsafe { usage.assume_init() };
    let micros = |tv: libc::timeval| tv.tv_sec as f64 * 1_000_000.0 + tv.tv_usec as f64;
    ThreadUsage {
        user_us: micros(usage.ru_utime),
        system_us: micros(usage.ru_stime),
        minor_faults: usage.ru_minflt as f64,
        major_faults: usage.ru_majflt as f64,
        fs_read: usage.ru_inblock as f64,
        fs_write: usage.ru_oublock as f64,
        voluntary_switches: usage.ru_nvcsw as f64,
        involuntary_switches: usage.ru_nivcsw as f64,
    }
}

/// Without `RUSAGE_THREAD`: the thread's CPU clock, all counted as user time.
#[cfg(not(target_os = "linux"))]
fn thread_usage() -> ThreadUsage {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ThreadUsage { user_us: ts.tv_sec as f64 * 1_000_000.0 + ts.tv_nsec as f64 / 1_000.0, ..Default::default() }
}

/// `Deno.cpuUsage()` (and `process.cpuUsage()`): `[system, user]` microseconds of this
/// execution's thread, instead of the whole process's (`getrusage(RUSAGE_SELF)`).
#[op2(fast)]
fn op_guard_runtime_cpu_usage(#[buffer] out: &mut [f64]) {
    if out.len() < 2 {
        return;
    }
    let usage = thread_usage();
    out[0] = usage.system_us;
    out[1] = usage.user_us;
}

/// `process.resourceUsage()`: the 16 figures of deno_node (process.rs:465) for this execution's
/// thread (`RUSAGE_THREAD`), `maxRSS` (KiB) from this execution's peak footprint. The counters
/// Linux does not maintain (shared/unshared sizes, swaps, IPC, signals) stay 0, as in Deno.
#[op2(fast)]
fn op_guard_process_resource_usage(scope: &mut v8::PinScope<'_, '_>, state: &mut OpState, #[buffer] out: &mut [f64]) {
    if out.len() < 16 {
        return;
    }
    let stats = scope.get_heap_statistics();
    let (_, peak) = execution_memory(&stats, state);
    let t = thread_usage();
    let usage = [
        t.user_us,
        t.system_us,
        (peak / 1024) as f64,
        0.0,
        0.0,
        0.0,
        t.minor_faults,
        t.major_faults,
        0.0,
        t.fs_read,
        t.fs_write,
        0.0,
        0.0,
        0.0,
        t.voluntary_switches,
        t.involuntary_switches,
    ];
    out[..16].copy_from_slice(&usage);
}

// ---- Native crypto whose cost the code chooses ----
//
// A native op cannot be interrupted: `terminate_execution` takes effect when it returns to JS.
// `crypto.pbkdf2Sync('p', 's', 2 ** 31 - 1, 64, 'sha512')` ran for many minutes past the
// execution's deadline on its thread; `pbkdf2()` and `scrypt()` ran on tokio's blocking pool
// (shared by all executions and the server) and went on after the execution ended; `scryptSync`
// with N = 2^20, r = 8 allocated 1 GiB outside the execution's memory cap. The guards:
// - refuse a cost above the bounds below with a RangeError naming the bound;
// - otherwise compute as deno_node_crypto does: PBKDF2 (RFC 8018, as the `pbkdf2` crate) with
//   HMAC (RFC 2104) over deno_node_crypto's own digests (`digest::Hash`, the ones `createHash`
//   uses), and scrypt (RFC 7914) with the parameter checks of AWS-LC's `EVP_PBE_scrypt`;
// - run the async variants of one execution one at a time (a per-execution queue: one execution
//   cannot fill the blocking pool), and stop them between rounds once their promise is gone (the
//   execution ended: its op futures are dropped).

/// PBKDF2: HMAC computations in one call, `iterations × ceil(keylen / digest size)`. An HMAC is two
/// compression-function calls, about 1 µs with SHA-512 or SHA-256 on a slow core (2 GHz, no SHA
/// extensions): the bound keeps one call near 2 s there, well under a second on current cores.
/// OWASP's recommendations (600,000 iterations of PBKDF2-HMAC-SHA256, 210,000 of SHA-512, 1,300,000
/// of SHA-1, one output block) are within it.
pub const PBKDF2_MAX_HMACS: u64 = 2_000_000;

/// scrypt: `128 × N × r × p`, the bytes ROMix writes and reads back; the work grows with it. 256 MiB
/// is N = 2^18 with r = 8, p = 1: about a second of CPU on a slow core (Node's default, N = 2^14,
/// r = 8, is 16 MiB). The memory scrypt holds, `128 × r × (N + p + 1)` bytes, must also fit the
/// execution's memory cap (MCP_CONDUCTOR_MAX_MEMORY_MB), and the final PBKDF2 pass (one HMAC per
/// 32 bytes of key) the PBKDF2 bound.
pub const SCRYPT_MAX_COST_BYTES: u64 = 256 << 20;

const NOT_INTERRUPTIBLE: &str = "native key derivation cannot be stopped at the execution's deadline";

/// The execution's memory cap (`MCP_CONDUCTOR_MAX_MEMORY_MB`), when known.
fn memory_cap(state: &OpState) -> Option<usize> {
    state.try_borrow::<super::glue::GlueState>().map(|glue| glue.memory_cap).filter(|cap| *cap > 0)
}

/// `len` zeroed items, or an error instead of an allocation failure (which would abort).
fn zeroed<T: Copy + Default>(len: usize) -> Result<Vec<T>, String> {
    let mut items = Vec::new();
    items
        .try_reserve_exact(len)
        .map_err(|_| format!("could not allocate {len} x {} bytes", std::mem::size_of::<T>()))?;
    items.resize(len, T::default());
    Ok(items)
}

/// HMAC block size of each digest PBKDF2 accepts: deno_node_crypto's
/// `match_fixed_digest_with_eager_block_buffer` names (digest.rs:114), the others are refused as
/// there (blake2, shake).
fn hmac_block_size(digest: &str) -> Option<usize> {
    Some(match digest {
        "rsa-sm3" | "sm3" | "sm3withrsaencryption" | "rsa-md4" | "md4" | "md4withrsaencryption" | "md5-sha1"
        | "rsa-md5" | "md5" | "md5withrsaencryption" | "ssl3-md5" | "rsa-ripemd160" | "ripemd" | "ripemd160"
        | "ripemd160withrsa" | "rmd160" | "rsa-sha1" | "rsa-sha1-2" | "sha1" | "sha1-2" | "sha1withrsaencryption"
        | "ssl3-sha1" | "dss1" | "rsa-sha224" | "sha224" | "sha224withrsaencryption" | "rsa-sha256" | "sha256"
        | "sha256withrsaencryption" => 64,
        "rsa-sha384" | "sha384" | "sha384withrsaencryption" | "rsa-sha512" | "sha512" | "sha512withrsaencryption"
        | "rsa-sha512/224" | "sha512-224" | "sha512-224withrsaencryption" | "rsa-sha512/256" | "sha512-256"
        | "sha512-256withrsaencryption" => 128,
        "rsa-sha3-224" | "id-rsassa-pkcs1-v1_5-with-sha3-224" | "sha3-224" => 144,
        "rsa-sha3-256" | "id-rsassa-pkcs1-v1_5-with-sha3-256" | "sha3-256" => 136,
        "rsa-sha3-384" | "id-rsassa-pkcs1-v1_5-with-sha3-384" | "sha3-384" => 104,
        "rsa-sha3-512" | "id-rsassa-pkcs1-v1_5-with-sha3-512" | "sha3-512" => 72,
        _ => return None,
    })
}

/// The output size of a digest PBKDF2 accepts.
fn digest_output_len(digest: &str) -> Option<usize> {
    hmac_block_size(digest)?;
    Some(NodeHash::new(digest, None).ok()?.digest_and_drop().len())
}

/// HMAC with a key, over one of deno_node_crypto's digests: the padded key's inner and outer
/// states, cloned for every message.
struct NodeHmac {
    inner: NodeHash,
    outer: NodeHash,
    output_len: usize,
}

impl NodeHmac {
    /// `None` for a digest PBKDF2 does not accept.
    fn new(digest: &str, key: &[u8]) -> Option<NodeHmac> {
        let block = hmac_block_size(digest)?;
        let hash = || NodeHash::new(digest, None).ok();
        let mut padded = if key.len() > block {
            let mut h = hash()?;
            h.update(key);
            h.digest_and_drop().into_vec()
        } else {
            key.to_vec()
        };
        padded.resize(block, 0);
        let mut inner = hash()?;
        inner.update(&padded.iter().map(|b| b ^ 0x36).collect::<Vec<u8>>());
        let mut outer = hash()?;
        outer.update(&padded.iter().map(|b| b ^ 0x5c).collect::<Vec<u8>>());
        let output_len = hash()?.digest_and_drop().len();
        (output_len > 0).then_some(NodeHmac { inner, outer, output_len })
    }

    /// HMAC of the concatenated `parts`.
    fn mac(&self, parts: &[&[u8]]) -> Result<Box<[u8]>, String> {
        let mut inner = self.inner.clone_hash(None).map_err(|e| e.to_string())?;
        for part in parts {
            inner.update(part);
        }
        let mut outer = self.outer.clone_hash(None).map_err(|e| e.to_string())?;
        outer.update(&inner.digest_and_drop());
        Ok(outer.digest_and_drop())
    }

    /// PBKDF2 with this HMAC as the PRF into `out`, as `pbkdf2::pbkdf2_hmac` computes it (0
    /// iterations count as 1). Checks `stop` every 4096 rounds and every 1024 output blocks.
    fn pbkdf2(&self, salt: &[u8], iterations: u32, out: &mut [u8], stop: &AtomicBool) -> Result<(), String> {
        for (i, chunk) in out.chunks_mut(self.output_len).enumerate() {
            if i % 1024 == 1023 && stop.load(Ordering::Relaxed) {
                return Err(STOPPED.to_string());
            }
            let index = (i as u32).wrapping_add(1).to_be_bytes();
            let mut u = self.mac(&[salt, &index[..]])?;
            chunk.copy_from_slice(&u[..chunk.len()]);
            for round in 1..iterations {
                if round % 4096 == 0 && stop.load(Ordering::Relaxed) {
                    return Err(STOPPED.to_string());
                }
                u = self.mac(&[&u[..]])?;
                for (byte, x) in chunk.iter_mut().zip(u.iter()) {
                    *byte ^= x;
                }
            }
        }
        Ok(())
    }
}

/// What a job stopped by the end of its execution returns (nobody reads it).
const STOPPED: &str = "stopped: the execution ended";

/// PBKDF2's cost against [`PBKDF2_MAX_HMACS`].
fn check_pbkdf2_cost(iterations: u32, keylen: usize, output_len: usize) -> Result<(), JsErrorBox> {
    let blocks = keylen.div_ceil(output_len.max(1)) as u64;
    let cost = u64::from(iterations.max(1)).saturating_mul(blocks);
    if cost > PBKDF2_MAX_HMACS {
        return Err(JsErrorBox::range_error(format!(
            "PBKDF2 cost of {cost} HMAC computations ({iterations} iterations x {blocks} output block(s) of {output_len} \
             bytes) is over the mcp-conductor sandbox bound of {PBKDF2_MAX_HMACS}: {NOT_INTERRUPTIBLE}; use fewer \
             iterations or a shorter key"
        )));
    }
    Ok(())
}

/// Checked scrypt parameters: N (a power of two), r, p.
#[derive(Clone, Copy)]
struct ScryptParams {
    n: u64,
    r: u64,
    p: u64,
}

impl ScryptParams {
    /// The original's checks with its errors (deno_node_crypto lib.rs:1053): `cost` is log2(N);
    /// then those of AWS-LC's `EVP_PBE_scrypt` (RFC 7914's limits, and `maxmem`, 0 meaning 32 MiB),
    /// whose failure the original reports as "scrypt key derivation failed".
    fn check(cost: u64, r: u64, p: u64, maxmem: usize) -> Result<ScryptParams, JsErrorBox> {
        let log_n = u32::try_from(cost)
            .ok()
            .filter(|c| *c < 64)
            .ok_or_else(|| JsErrorBox::generic("Invalid scrypt param"))?;
        let n = 1u64 << log_n;
        let failed = || JsErrorBox::generic("scrypt key derivation failed");
        const PR_MAX: u64 = (1 << 30) - 1;
        // N < 2^(128 r / 8) only matters for r < 4.
        if r == 0 || p == 0 || p > PR_MAX / r || n < 2 || n > 1u64 << 32 || (r < 4 && n >= 1u64 << (16 * r)) {
            return Err(failed());
        }
        let max_mem = if maxmem == 0 { 32 << 20 } else { maxmem as u64 };
        let max_blocks = max_mem / (128 * r);
        if max_blocks < p + 1 || max_blocks - p - 1 < n {
            return Err(failed());
        }
        Ok(ScryptParams { n, r, p })
    }

    /// The sandbox's bounds: [`SCRYPT_MAX_COST_BYTES`], the memory cap, and the final PBKDF2 pass.
    fn check_bounds(&self, keylen: usize, memory_cap: Option<usize>) -> Result<(), JsErrorBox> {
        let ScryptParams { n, r, p } = *self;
        let work = 128u128 * u128::from(n) * u128::from(r) * u128::from(p);
        if work > u128::from(SCRYPT_MAX_COST_BYTES) {
            return Err(JsErrorBox::range_error(format!(
                "scrypt cost 128 x N x r x p = {work} bytes (N = {n}, r = {r}, p = {p}) is over the mcp-conductor \
                 sandbox bound of {SCRYPT_MAX_COST_BYTES} bytes (256 MiB): {NOT_INTERRUPTIBLE}; lower N, r or p"
            )));
        }
        let memory = 128u128 * u128::from(r) * (u128::from(n) + u128::from(p) + 1);
        if let Some(cap) = memory_cap {
            if memory > cap as u128 {
                return Err(JsErrorBox::range_error(format!(
                    "scrypt needs 128 x r x (N + p + 1) = {memory} bytes of memory (N = {n}, r = {r}, p = {p}), more \
                     than the execution's memory cap of {cap} bytes (MCP_CONDUCTOR_MAX_MEMORY_MB)"
                )));
            }
        }
        let blocks = keylen.div_ceil(32) as u64;
        if blocks > PBKDF2_MAX_HMACS {
            return Err(JsErrorBox::range_error(format!(
                "scrypt key length of {keylen} bytes ({blocks} HMAC computations) is over the mcp-conductor sandbox \
                 bound of {PBKDF2_MAX_HMACS} HMAC computations: {NOT_INTERRUPTIBLE}; ask for a shorter key"
            )));
        }
        Ok(())
    }
}

/// scrypt (RFC 7914) into `out`; checks `stop` every 1024 ROMix steps.
fn scrypt_derive(
    password: &[u8],
    salt: &[u8],
    params: &ScryptParams,
    out: &mut [u8],
    stop: &AtomicBool,
) -> Result<(), String> {
    let failed = || "scrypt key derivation failed".to_string();
    let prf = NodeHmac::new("sha256", password).ok_or_else(failed)?;
    let n = usize::try_from(params.n).map_err(|_| failed())?;
    let r = usize::try_from(params.r).map_err(|_| failed())?;
    let p = usize::try_from(params.p).map_err(|_| failed())?;
    let block_words = 32 * r;
    // B: p blocks of 128 r bytes, mixed one at a time as little-endian words in `x`.
    let mut bytes = zeroed::<u8>(p * block_words * 4)?;
    prf.pbkdf2(salt, 1, &mut bytes, stop)?;
    let mut v = zeroed::<u32>(n.checked_mul(block_words).ok_or_else(failed)?)?;
    let mut t = zeroed::<u32>(block_words)?;
    let mut x = zeroed::<u32>(block_words)?;
    for block in bytes.chunks_exact_mut(block_words * 4) {
        for (word, le) in x.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_le_bytes([le[0], le[1], le[2], le[3]]);
        }
        ro_mix(&mut x, &mut v, &mut t, n, r, stop)?;
        for (le, word) in block.chunks_exact_mut(4).zip(&x) {
            le.copy_from_slice(&word.to_le_bytes());
        }
    }
    drop(v);
    prf.pbkdf2(&bytes, 1, out, stop)
}

/// scryptROMix (RFC 7914 section 5) on one block `b` of `32 r` words; `v` holds N blocks, `t` one.
fn ro_mix(b: &mut [u32], v: &mut [u32], t: &mut [u32], n: usize, r: usize, stop: &AtomicBool) -> Result<(), String> {
    let len = 32 * r;
    v[..len].copy_from_slice(b);
    for i in 1..n {
        if i % 1024 == 0 && stop.load(Ordering::Relaxed) {
            return Err(STOPPED.to_string());
        }
        let (done, rest) = v.split_at_mut(i * len);
        block_mix(&done[(i - 1) * len..], &mut rest[..len], r);
    }
    block_mix(&v[(n - 1) * len..n * len], b, r);
    for i in 0..n {
        if i % 1024 == 1023 && stop.load(Ordering::Relaxed) {
            return Err(STOPPED.to_string());
        }
        // Integerify(B) mod N: the first word of the last 64-byte block (N <= 2^32).
        let j = (b[(2 * r - 1) * 16] as usize) & (n - 1);
        for (k, x) in t.iter_mut().enumerate() {
            *x = b[k] ^ v[j * len + k];
        }
        block_mix(t, b, r);
    }
    Ok(())
}

/// scryptBlockMix (RFC 7914 section 4): `output` = the 2r Salsa20/8 results, even ones first.
fn block_mix(input: &[u32], output: &mut [u32], r: usize) {
    let mut x = [0u32; 16];
    x.copy_from_slice(&input[(2 * r - 1) * 16..2 * r * 16]);
    for i in 0..2 * r {
        for (word, other) in x.iter_mut().zip(&input[i * 16..(i + 1) * 16]) {
            *word ^= other;
        }
        salsa20_8(&mut x);
        let at = (i / 2 + (i & 1) * r) * 16;
        output[at..at + 16].copy_from_slice(&x);
    }
}

/// The Salsa20/8 core (RFC 7914 section 3), in place.
fn salsa20_8(block: &mut [u32; 16]) {
    #[inline(always)]
    fn quarter(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
        x[b] ^= x[a].wrapping_add(x[d]).rotate_left(7);
        x[c] ^= x[b].wrapping_add(x[a]).rotate_left(9);
        x[d] ^= x[c].wrapping_add(x[b]).rotate_left(13);
        x[a] ^= x[d].wrapping_add(x[c]).rotate_left(18);
    }
    let mut x = *block;
    for _ in 0..4 {
        // Columns, then rows.
        quarter(&mut x, 0, 4, 8, 12);
        quarter(&mut x, 5, 9, 13, 1);
        quarter(&mut x, 10, 14, 2, 6);
        quarter(&mut x, 15, 3, 7, 11);
        quarter(&mut x, 0, 1, 2, 3);
        quarter(&mut x, 5, 6, 7, 4);
        quarter(&mut x, 10, 11, 8, 9);
        quarter(&mut x, 15, 12, 13, 14);
    }
    for (word, mixed) in block.iter_mut().zip(x) {
        *word = word.wrapping_add(mixed);
    }
}

/// The native crypto jobs of one execution, run one at a time.
#[derive(Default)]
struct CryptoJobs(Rc<TaskQueue>);

/// Raised when dropped: the op's future went (its execution ended), so its job stops.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `job` on the blocking pool after this execution's earlier jobs, with a stop flag raised if
/// the caller's future is dropped first. A job's `Err` is an `Error` with its text.
async fn run_crypto_job<T, F>(state: &Rc<RefCell<OpState>>, job: F) -> Result<T, JsErrorBox>
where
    T: Send + 'static,
    F: FnOnce(&AtomicBool) -> Result<T, String> + Send + 'static,
{
    let queue = {
        let mut state = state.borrow_mut();
        if !state.has::<CryptoJobs>() {
            state.put(CryptoJobs::default());
        }
        state.borrow::<CryptoJobs>().0.clone()
    };
    let _turn = queue.acquire().await;
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let flag = stop.0.clone();
    let done = deno_core::unsync::spawn_blocking(move || job(&*flag)).await;
    drop(stop);
    match done {
        Ok(result) => result.map_err(JsErrorBox::generic),
        Err(e) => Err(JsErrorBox::generic(e.to_string())),
    }
}

/// `crypto.pbkdf2Sync()`: `false` for a digest PBKDF2 does not accept (the JS throws
/// ERR_CRYPTO_INVALID_DIGEST), a RangeError over [`PBKDF2_MAX_HMACS`].
#[op2]
fn op_guard_pbkdf2(
    #[anybuffer] password: &[u8],
    #[anybuffer] salt: &[u8],
    #[smi] iterations: u32,
    #[string] digest: &str,
    #[buffer] derived_key: &mut [u8],
) -> Result<bool, JsErrorBox> {
    let Some(prf) = NodeHmac::new(digest, password) else {
        return Ok(false);
    };
    check_pbkdf2_cost(iterations, derived_key.len(), prf.output_len)?;
    prf.pbkdf2(salt, iterations, derived_key, &AtomicBool::new(false)).map_err(JsErrorBox::generic)?;
    Ok(true)
}

/// `crypto.pbkdf2()` (the JS checked the digest with `op_node_pbkdf2_validate` first).
#[op2]
async fn op_guard_pbkdf2_async(
    state: Rc<RefCell<OpState>>,
    #[anybuffer] password: JsBuffer,
    #[anybuffer] salt: JsBuffer,
    #[smi] iterations: u32,
    #[string] digest: String,
    #[number] keylen: usize,
) -> Result<Uint8Array, JsErrorBox> {
    let Some(output_len) = digest_output_len(&digest) else {
        return Err(JsErrorBox::type_error(format!("Invalid digest: {digest}")));
    };
    check_pbkdf2_cost(iterations, keylen, output_len)?;
    let key = run_crypto_job(&state, move |stop: &AtomicBool| {
        let prf = NodeHmac::new(&digest, &password).ok_or_else(|| format!("Invalid digest: {digest}"))?;
        let mut key = zeroed::<u8>(keylen)?;
        prf.pbkdf2(&salt, iterations, &mut key, stop)?;
        Ok(key)
    })
    .await?;
    Ok(key.into())
}

/// `crypto.scryptSync()`: the original's checks, then the sandbox's bounds.
#[allow(clippy::too_many_arguments)]
#[op2]
fn op_guard_scrypt_sync(
    state: &mut OpState,
    #[serde] password: StringOrBuffer,
    #[serde] salt: StringOrBuffer,
    #[number] keylen: usize,
    #[number] cost: u64,
    #[number] block_size: u64,
    #[number] parallelization: u64,
    #[number] maxmem: usize,
    #[anybuffer] output_buffer: &mut [u8],
) -> Result<(), JsErrorBox> {
    let params = ScryptParams::check(cost, block_size, parallelization, maxmem)?;
    params.check_bounds(keylen, memory_cap(state))?;
    let Some(out) = output_buffer.get_mut(..keylen) else {
        return Err(JsErrorBox::type_error("scrypt: the output buffer is shorter than keylen"));
    };
    scrypt_derive(&password, &salt, &params, out, &AtomicBool::new(false)).map_err(JsErrorBox::generic)
}

/// `crypto.scrypt()`.
#[allow(clippy::too_many_arguments)]
#[op2]
async fn op_guard_scrypt_async(
    state: Rc<RefCell<OpState>>,
    #[serde] password: StringOrBuffer,
    #[serde] salt: StringOrBuffer,
    #[number] keylen: usize,
    #[number] cost: u64,
    #[number] block_size: u64,
    #[number] parallelization: u64,
    #[number] maxmem: usize,
) -> Result<Uint8Array, JsErrorBox> {
    let params = ScryptParams::check(cost, block_size, parallelization, maxmem)?;
    let cap = memory_cap(&state.borrow());
    params.check_bounds(keylen, cap)?;
    let key = run_crypto_job(&state, move |stop: &AtomicBool| {
        let mut key = zeroed::<u8>(keylen)?;
        scrypt_derive(&password, &salt, &params, &mut key, stop)?;
        Ok(key)
    })
    .await?;
    Ok(key.into())
}

/// `crypto.randomFill(buf, cb)`: the random bytes are made on the blocking pool, then copied into
/// `buf`. Each call held a second buffer of `buf`'s size outside the memory cap, so many calls at
/// once multiplied it; they now run one at a time (with the execution's other crypto jobs), each
/// at most the memory cap.
#[op2]
async fn op_guard_fill_random_async(state: Rc<RefCell<OpState>>, #[smi] len: i32) -> Result<Uint8Array, JsErrorBox> {
    let Ok(len) = usize::try_from(len) else {
        return Err(JsErrorBox::range_error(format!("randomFill: invalid size {len}")));
    };
    let cap = memory_cap(&state.borrow());
    if let Some(cap) = cap {
        if len > cap {
            return Err(JsErrorBox::range_error(format!(
                "randomFill of {len} bytes is over the execution's memory cap of {cap} bytes (MCP_CONDUCTOR_MAX_MEMORY_MB)"
            )));
        }
    }
    let bytes = run_crypto_job(&state, move |_: &AtomicBool| {
        use deno_runtime::deno_crypto::rand::RngCore;
        let mut bytes = zeroed::<u8>(len)?;
        deno_runtime::deno_crypto::rand::thread_rng().fill_bytes(bytes.as_mut_slice());
        Ok(bytes)
    })
    .await?;
    Ok(bytes.into())
}

#[cfg(test)]
mod tests {
    use deno_error::JsErrorClass;

    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn pbkdf2_hex(digest: &str, password: &[u8], salt: &[u8], iterations: u32, keylen: usize) -> String {
        let mut out = vec![0u8; keylen];
        NodeHmac::new(digest, password).unwrap().pbkdf2(salt, iterations, &mut out, &AtomicBool::new(false)).unwrap();
        hex(&out)
    }

    fn scrypt_hex(password: &[u8], salt: &[u8], log_n: u64, r: u64, p: u64, keylen: usize) -> String {
        let params = ScryptParams::check(log_n, r, p, 0).unwrap();
        let mut out = vec![0u8; keylen];
        scrypt_derive(password, salt, &params, &mut out, &AtomicBool::new(false)).unwrap();
        hex(&out)
    }

    #[test]
    fn pbkdf2_matches_known_vectors() {
        // RFC 6070 (SHA-1), and values from Python's hashlib.pbkdf2_hmac.
        assert_eq!(pbkdf2_hex("sha1", b"password", b"salt", 1, 20), "0c60c80f961f0e71f3a9b524af6012062fe037a6");
        assert_eq!(pbkdf2_hex("sha1", b"password", b"salt", 4096, 20), "4b007901b765489abead49d926f721d065a429c1");
        assert_eq!(
            pbkdf2_hex("sha256", b"password", b"salt", 4096, 32),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
        );
        assert_eq!(
            pbkdf2_hex("sha512", b"password", b"salt", 1000, 64),
            "afe6c5530785b6cc6b1c6453384731bd5ee432ee549fd42fb6695779ad8a1c5bf59de69c48f774efc4007d5298f9033c0241d5ab69305e7b64eceeb8d834cfec"
        );
        assert_eq!(
            pbkdf2_hex("sha3-256", b"password", b"salt", 100, 50),
            "3662b9455cde6979b1d5d866df806e1fe15954073e07c7c2acf2c80205074e46d2226ae0253297f80a7dc846471882a3d88e"
        );
        // A key longer than the block is hashed first; several output blocks.
        assert_eq!(
            pbkdf2_hex("md5", &b"password".repeat(20), b"salt", 10, 40),
            "a31c1f08e9803ebb0a3ee81cba146df2ac630bae514d2308e032961de865cbedc08624ff01c9d64e"
        );
    }

    #[test]
    fn every_pbkdf2_digest_exists_and_others_are_refused() {
        for name in [
            "rsa-sm3", "sm3", "md4", "md5-sha1", "md5", "ripemd160", "rmd160", "sha1", "dss1", "sha224", "sha256",
            "sha384", "sha512", "rsa-sha512/224", "sha512-256", "sha3-224", "sha3-256", "sha3-384", "sha3-512",
        ] {
            assert!(NodeHmac::new(name, b"k").is_some(), "{name}");
            assert!(digest_output_len(name).is_some(), "{name}");
        }
        for name in ["blake2b512", "shake256", "SHA256", "nope"] {
            assert!(NodeHmac::new(name, b"k").is_none(), "{name}");
        }
    }

    #[test]
    fn scrypt_matches_rfc_7914() {
        assert_eq!(
            scrypt_hex(b"", b"", 4, 1, 1, 64),
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"
        );
        assert_eq!(
            scrypt_hex(b"password", b"NaCl", 10, 8, 16, 64),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
        );
    }

    #[test]
    fn costs_over_the_bounds_are_refused_naming_them() {
        let e = check_pbkdf2_cost(i32::MAX as u32, 64, 64).unwrap_err();
        assert_eq!(e.get_class(), "RangeError");
        assert!(e.get_message().contains("2000000"), "{}", e.get_message());
        assert!(check_pbkdf2_cost(600_000, 32, 32).is_ok());
        assert!(check_pbkdf2_cost(1_000_000, 64, 32).is_ok(), "2 blocks of 1,000,000");
        assert!(check_pbkdf2_cost(1_000_001, 64, 32).is_err());

        // N = 2^20, r = 8: 1 GiB.
        let big = ScryptParams::check(20, 8, 1, 2 << 30).unwrap();
        let e = big.check_bounds(64, None).unwrap_err();
        assert!(e.get_message().contains("268435456"), "{}", e.get_message());
        // Node's default fits; more than the memory cap does not.
        let default = ScryptParams::check(14, 8, 1, 32 << 20).unwrap();
        assert!(default.check_bounds(64, Some(256 << 20)).is_ok());
        let e = default.check_bounds(64, Some(8 << 20)).unwrap_err();
        assert!(e.get_message().contains("MCP_CONDUCTOR_MAX_MEMORY_MB"), "{}", e.get_message());
        assert!(default.check_bounds(64_000_001, None).is_err(), "the final PBKDF2 pass is bounded too");
    }

    #[test]
    fn scrypt_parameter_errors_are_the_originals() {
        assert_eq!(ScryptParams::check(64, 8, 1, 0).err().unwrap().get_message(), "Invalid scrypt param");
        let failed = |e: Option<JsErrorBox>| e.unwrap().get_message().to_string();
        assert_eq!(failed(ScryptParams::check(14, 0, 1, 0).err()), "scrypt key derivation failed");
        assert_eq!(failed(ScryptParams::check(0, 8, 1, 0).err()), "scrypt key derivation failed", "N = 1");
        assert_eq!(failed(ScryptParams::check(16, 1, 1, 0).err()), "scrypt key derivation failed", "N >= 2^(16 r)");
        // 128 x r x (N + p + 1) over maxmem (0 = 32 MiB).
        assert_eq!(failed(ScryptParams::check(15, 8, 1, 0).err()), "scrypt key derivation failed");
        assert!(ScryptParams::check(14, 8, 1, 0).is_ok());
    }

    #[test]
    fn stopped_jobs_end_early() {
        let stop = AtomicBool::new(true);
        let mut out = [0u8; 20];
        let prf = NodeHmac::new("sha1", b"p").unwrap();
        assert_eq!(prf.pbkdf2(b"s", 1_000_000, &mut out, &stop).unwrap_err(), STOPPED);
        let params = ScryptParams::check(14, 8, 1, 0).unwrap();
        assert_eq!(scrypt_derive(b"p", b"s", &params, &mut out, &stop).unwrap_err(), STOPPED);
    }

    #[test]
    fn locks_follow_the_web_locks_rules() {
        let locks = Locks::default();
        let mut ls = locks.borrow_mut();
        let request = |ls: &mut LockState, id: u64, name: &str, mode: LockMode| {
            let (tx, rx) = oneshot::channel();
            ls.queues.entry(name.to_string()).or_default().push_back(PendingRequest { name: name.to_string(), mode, id, tx });
            process_queue(ls, name);
            rx
        };
        let mut a = request(&mut *ls, 1, "x", LockMode::Shared);
        let mut b = request(&mut *ls, 2, "x", LockMode::Shared);
        let mut c = request(&mut *ls, 3, "x", LockMode::Exclusive);
        assert_eq!(a.try_recv().unwrap(), Some(true));
        assert_eq!(b.try_recv().unwrap(), Some(true), "shared locks are held together");
        assert_eq!(c.try_recv().unwrap(), None, "exclusive waits for them");
        assert!(!grantable(&ls.held, "x", LockMode::Exclusive));
        release_lock(&mut ls, 1);
        assert_eq!(c.try_recv().unwrap(), None);
        release_lock(&mut ls, 2);
        assert_eq!(c.try_recv().unwrap(), Some(true));
        assert!(grantable(&ls.held, "y", LockMode::Exclusive), "names are independent");
    }
}
