//! The `mcp_conductor` deno_core extension: our ops plus the glue in `js/conductor.js`.
//!
//! Later capabilities (`mcpFactory`, `importPlaybook`) add their ops here.

use std::borrow::Cow;
use std::sync::Arc;

use deno_core::{ExtensionFileSource, OpState, op2};

use super::output::{OutputLog, Stream};

/// Per-execution state the ops read.
pub struct ExecutionState {
    pub log: Arc<OutputLog>,
    /// JSON object of the globals `setup()` defines.
    pub globals_json: String,
}

deno_core::extension!(
    mcp_conductor,
    ops = [op_conductor_globals],
    options = { state: ExecutionState },
    // Replaces deno_io's `op_print` (which writes to fd resources) so `console.*` lands in the
    // capture directly and in exact order. Runs after deno_io's middleware, so it wins.
    middleware = |op| match op.name {
        "op_print" => op_conductor_print(),
        _ => op,
    },
    state = |state, options| {
        state.put(options.state);
    },
);

const GLUE_SPECIFIER: &str = "ext:mcp_conductor/conductor.js";

/// The extension with its JS embedded in the binary (the `esm = [...]` form of the macro
/// would read the file from the source tree at run time).
pub fn extension(state: ExecutionState) -> deno_core::Extension {
    let mut ext = mcp_conductor::init(state);
    ext.esm_files = Cow::Owned(vec![ExtensionFileSource::new(
        GLUE_SPECIFIER,
        deno_core::ascii_str_include!("../../js/conductor.js"),
    )]);
    ext.esm_entry_point = Some(GLUE_SPECIFIER);
    ext
}

#[op2]
#[string]
fn op_conductor_globals(state: &mut OpState) -> String {
    state.borrow::<ExecutionState>().globals_json.clone()
}

#[op2(fast)]
fn op_conductor_print(state: &mut OpState, #[string] msg: &str, is_err: bool) {
    let stream = if is_err { Stream::Stderr } else { Stream::Stdout };
    state.borrow::<ExecutionState>().log.write(stream, msg);
}
