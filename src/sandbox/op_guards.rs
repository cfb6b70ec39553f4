//! Replacements for the ops whose effect is process-wide: shared by every execution and by the
//! server itself (see `op_audit.rs` for the whole table). deno_runtime's Node polyfills call
//! ops directly (`process.abort()`, `process.setuid()`, `process.kill()`...), past any patch on
//! `Deno.*`, so the ops themselves are swapped, through the glue extension's op middleware
//! (the replacement keeps the original's name; the JS that calls it is unchanged).
//!
//! Self-contained like `glue.rs` (build.rs includes both to record the snapshot with the same
//! ops).

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use deno_core::{CancelFuture, CancelHandle, OpDecl, OpState, RcRef, Resource, ResourceId, op2};
use deno_error::JsErrorBox;

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
/// runs as the server's user and reaches its descriptors anyway, README says so); "unknown"
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
