//! The `mcp_conductor` deno_core extension: our ops plus the glue in `js/conductor.js`.
//!
//! Self-contained (deno_core, `op_guards.rs`, `host.rs`, `contract.rs`) because `build.rs`
//! includes this file to put the same extension into the startup snapshot: op order and
//! signatures must match at run time.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use deno_core::{ExtensionFileSource, OpState, op2};

use super::call_trace::CallTrace;
use super::cost_bounds::op_conductor_check_cost;
use super::contract::{GLUE_SPECIFIER, TEMPORAL_SPECIFIER};
use super::host::{Host, HostError, HostRequest, encode_reply};
use super::state_slot::{JobState, StateRequest};

/// Receives `console.*` output: `(is_stderr, text)`.
pub type PrintSink = Box<dyn Fn(bool, &str)>;

/// The extension's per-worker state.
pub struct GlueState {
    pub print: PrintSink,
    /// `None`: no host (the snapshot build); requests answer with an error.
    pub host: Option<Arc<dyn Host>>,
    /// The execution's memory cap in bytes (`MCP_CONDUCTOR_MAX_MEMORY_MB`).
    pub memory_cap: usize,
}

/// JSON object of the globals `setup()` defines; put into the op state when the job arrives.
pub struct JobGlobals(pub String);

/// One `progress(current, total?, message?)` call of the code.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub current: f64,
    pub total: Option<f64>,
    pub message: Option<String>,
}

/// Where `progress()` reports go (the tool call's `notifications/progress`); put into the op state
/// with the job when the call carried a progress token.
pub type ProgressSink = Arc<dyn Fn(Progress) + Send + Sync>;

pub struct JobProgress(pub ProgressSink);

/// The execution's W3C trace context (`traceparent`, `tracestate`), handed to each `mcpFactory`
/// request; put into the op state with the job when the call is traced.
pub struct JobTrace(pub (String, Option<String>));

/// What `mcp.image()`, `mcp.audio()` and `mcp.file()` add to the tool result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentKind {
    Image,
    Audio,
    /// An embedded resource (a file), with its `file://` URI.
    Resource(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub kind: AttachmentKind,
    pub mime_type: String,
    pub data: Vec<u8>,
}

/// The execution's attachments, capped in total (`MCP_CONDUCTOR_MAX_CONTENT_BYTES`); put into
/// the op state with the job.
#[derive(Debug, Default)]
pub struct Attachments {
    pub items: Vec<Attachment>,
    pub bytes: usize,
    pub max_bytes: usize,
    /// Set once the cap was exceeded: the call is then an error (never a truncated image).
    pub overflow: Option<String>,
}

/// Processes the code spawned, killed when the execution ends (see `js/conductor.js`).
#[derive(Default)]
pub struct SpawnedChildren(pub Vec<u32>);

deno_core::extension!(
    mcp_conductor,
    ops = [op_conductor_globals, op_conductor_track_child, op_conductor_host, op_conductor_may_adopt_fd, op_conductor_progress, op_conductor_attach, op_conductor_memory_cap, op_conductor_check_cost, op_conductor_state],
    options = { state: GlueState },
    // Replaces deno_io's `op_print` (which writes to fd resources) so `console.*` lands in the
    // capture directly and in exact order. Runs after deno_io's middleware, so it wins. The
    // process-wide ops are swapped for guards (op_guards.rs).
    middleware = |op| match op.name {
        "op_print" => op_conductor_print(),
        name => super::op_guards::replacement(name).unwrap_or(op),
    },
    state = |state, options| {
        state.put(options.state);
        state.put(SpawnedChildren::default());
    },
);

/// The extension. `with_js` embeds the glue JS in the binary (the `esm = [...]` form of the
/// macro would read it from the source tree at run time); a worker started from our snapshot
/// already has it evaluated and passes `false`.
pub fn extension(state: GlueState, with_js: bool) -> deno_core::Extension {
    let mut ext = mcp_conductor::init(state);
    if with_js {
        ext.js_files = Cow::Owned(vec![ExtensionFileSource::new_computed(TEMPORAL_SPECIFIER, temporal_script().into())]);
        ext.esm_files = Cow::Owned(vec![ExtensionFileSource::new(
            GLUE_SPECIFIER,
            deno_core::ascii_str_include!("../../js/conductor.js"),
        )]);
        ext.esm_entry_point = Some(GLUE_SPECIFIER);
    }
    ext
}

/// `Temporal` where the engine has none (js/vendor/README.md): the vendored polyfill, evaluated
/// once into the snapshot. It installs nothing when V8 has its own `Temporal`; it would replace
/// `Intl.DateTimeFormat` with its wrapper, and the engine's own is put back, so formatting dates
/// stays exactly V8's.
fn temporal_script() -> String {
    let polyfill = include_str!("../../js/vendor/temporal-polyfill.js");
    format!(
        "(function () {{\n\
         const dateTimeFormat = Intl.DateTimeFormat;\n\
         {polyfill}\n\
         Object.defineProperty(Intl, 'DateTimeFormat', {{ value: dateTimeFormat, writable: true, enumerable: false, configurable: true }});\n\
         }})();\n"
    )
}

#[op2]
#[string]
fn op_conductor_globals(state: &mut OpState) -> String {
    state.try_borrow::<JobGlobals>().map_or_else(|| "{}".to_string(), |g| g.0.clone())
}

/// The memory cap, for the glue's bounds on buffer reservations (`js/conductor.js`).
#[op2(fast)]
fn op_conductor_memory_cap(state: &mut OpState) -> f64 {
    state.borrow::<GlueState>().memory_cap as f64
}

#[op2(fast)]
fn op_conductor_track_child(state: &mut OpState, pid: u32) {
    state.borrow_mut::<SpawnedChildren>().0.push(pid);
}

/// Whether `PipeWrap`/`TCPWrap.open(fd)` may adopt a raw descriptor (see `js/conductor.js`).
#[op2(fast)]
fn op_conductor_may_adopt_fd(state: &mut OpState, fd: i32) -> bool {
    fd >= 0 && super::op_guards::run_allowed(state)
}

/// `progress()` (arguments checked by the glue; `total` NaN and `message` "" mean none); nothing
/// without a progress token.
#[op2(fast)]
fn op_conductor_progress(state: &mut OpState, current: f64, total: f64, #[string] message: &str) {
    if let Some(JobProgress(sink)) = state.try_borrow::<JobProgress>() {
        let total = (!total.is_nan()).then_some(total);
        let message = (!message.is_empty()).then(|| message.to_string());
        sink(Progress { current, total, message });
    }
}

/// `mcp.image/audio/file` (the glue checks the arguments and reads files with the execution's
/// permissions); `kind` is `image`, `audio` or a `file://` URI.
#[op2(fast)]
fn op_conductor_attach(state: &mut OpState, #[string] kind: &str, #[string] mime_type: &str, #[buffer] data: &[u8]) -> Result<(), deno_error::JsErrorBox> {
    let Some(attachments) = state.try_borrow_mut::<Attachments>() else {
        return Err(deno_error::JsErrorBox::generic("attachments are not available here"));
    };
    if attachments.overflow.is_some() || attachments.bytes + data.len() > attachments.max_bytes {
        let message = format!(
            "attachments limit of {} bytes reached (MCP_CONDUCTOR_MAX_CONTENT_BYTES): {} bytes attached, {} more asked for",
            attachments.max_bytes,
            attachments.bytes,
            data.len()
        );
        attachments.overflow.get_or_insert(message.clone());
        return Err(deno_error::JsErrorBox::new("RangeError", message));
    }
    let kind = match kind {
        "image" => AttachmentKind::Image,
        "audio" => AttachmentKind::Audio,
        uri => AttachmentKind::Resource(uri.to_string()),
    };
    attachments.bytes += data.len();
    attachments.items.push(Attachment { kind, mime_type: mime_type.to_string(), data: data.to_vec() });
    Ok(())
}

/// `state.get/set/delete/keys` (the glue checks keys and serializes values): the store behind
/// the call's state handle, or an error that says how to get one.
#[op2]
#[string]
async fn op_conductor_state(
    state: Rc<RefCell<OpState>>,
    #[string] action: String,
    #[string] key: String,
    #[string] json: String,
) -> Result<Option<String>, deno_error::JsErrorBox> {
    let slot = state.borrow().try_borrow::<JobState>().map(|s| s.0.clone());
    let Some(slot) = slot else {
        return Err(deno_error::JsErrorBox::generic(
            "state is only available to a call that passes a state handle: call run_deno_code with \
             \"state\": \"new\" to get one (the result's stateHandle), then pass it back as \"state\"",
        ));
    };
    let request = StateRequest::decode(&action, key, json).map_err(deno_error::JsErrorBox::generic)?;
    slot.request(request).await.map_err(deno_error::JsErrorBox::generic)
}

#[op2(fast)]
fn op_conductor_print(state: &mut OpState, #[string] msg: &str, is_err: bool) {
    (state.borrow::<GlueState>().print)(is_err, msg);
}

/// `mcpFactory`'s requests (`host.rs` decodes and encodes them). Pending while the host works;
/// dropped (and the host's work aborted) when the execution ends first. Requests for upstream
/// data are traced (`call_trace.rs`) when the job put a [`CallTrace`] in the op state.
#[op2]
#[string]
async fn op_conductor_host(state: Rc<RefCell<OpState>>, #[string] method: String, #[string] params: String) -> String {
    let (host, trace) = {
        let state = state.borrow();
        (state.borrow::<GlueState>().host.clone(), state.try_borrow::<JobTrace>().map(|t| t.0.clone()))
    };
    let request = HostRequest::decode(&method, &params);
    let slot = match &request {
        Ok(request) => state.borrow_mut().try_borrow_mut::<CallTrace>().and_then(|trace| trace.begin(request)),
        Err(_) => None,
    };
    let reply = match (host, request) {
        (_, Err(e)) => Err(e),
        (Some(host), Ok(request)) => host.request(request, trace).await,
        (None, Ok(_)) => Err(HostError::new("mcpFactory is not available here")),
    };
    if let Some(slot) = slot
        && let Some(trace) = state.borrow_mut().try_borrow_mut::<CallTrace>()
    {
        trace.end(slot, &reply);
    }
    encode_reply(reply)
}
