//! The `mcp_conductor` deno_core extension: our ops plus the glue in `js/conductor.js`.
//!
//! Self-contained (only deno_core) because `build.rs` includes this file to put the same
//! extension into the startup snapshot: op order and signatures must match at run time.
//! Later capabilities (`mcpFactory`, `importPlaybook`) add their ops here.

use std::borrow::Cow;

use deno_core::{ExtensionFileSource, OpState, op2};

/// Receives `console.*` output: `(is_stderr, text)`.
pub type PrintSink = Box<dyn Fn(bool, &str)>;

/// The extension's per-worker state.
pub struct GlueState {
    pub print: PrintSink,
}

/// JSON object of the globals `setup()` defines; put into the op state when the job arrives.
pub struct JobGlobals(pub String);

/// Processes the code spawned, killed when the execution ends (see `js/conductor.js`).
#[derive(Default)]
pub struct SpawnedChildren(pub Vec<u32>);

deno_core::extension!(
    mcp_conductor,
    ops = [op_conductor_globals, op_conductor_track_child],
    options = { state: GlueState },
    // Replaces deno_io's `op_print` (which writes to fd resources) so `console.*` lands in the
    // capture directly and in exact order. Runs after deno_io's middleware, so it wins.
    middleware = |op| match op.name {
        "op_print" => op_conductor_print(),
        _ => op,
    },
    state = |state, options| {
        state.put(options.state);
        state.put(SpawnedChildren::default());
    },
);

const GLUE_SPECIFIER: &str = "ext:mcp_conductor/conductor.js";

/// The extension. `with_js` embeds the glue JS in the binary (the `esm = [...]` form of the
/// macro would read it from the source tree at run time); a worker started from our snapshot
/// already has it evaluated and passes `false`.
pub fn extension(state: GlueState, with_js: bool) -> deno_core::Extension {
    let mut ext = mcp_conductor::init(state);
    if with_js {
        ext.esm_files = Cow::Owned(vec![ExtensionFileSource::new(
            GLUE_SPECIFIER,
            deno_core::ascii_str_include!("../../js/conductor.js"),
        )]);
        ext.esm_entry_point = Some(GLUE_SPECIFIER);
    }
    ext
}

#[op2]
#[string]
fn op_conductor_globals(state: &mut OpState) -> String {
    state.try_borrow::<JobGlobals>().map_or_else(|| "{}".to_string(), |g| g.0.clone())
}

#[op2(fast)]
fn op_conductor_track_child(state: &mut OpState, pid: u32) {
    state.borrow_mut::<SpawnedChildren>().0.push(pid);
}

#[op2(fast)]
fn op_conductor_print(state: &mut OpState, #[string] msg: &str, is_err: bool) {
    (state.borrow::<GlueState>().print)(is_err, msg);
}
